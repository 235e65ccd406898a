"""The synthetic cell generator behind the embedded model (training/cells.py)."""

from pathlib import Path

from training.cells import CellGenerator, _coverage, discover_fonts

# From Debian's fonts-linuxlibertine, which .ci/run installs.
LIBERTINE_ITALIC = Path("/usr/share/fonts/opentype/linux-libertine/LinLibertine_I.otf")


def test_same_seed_same_cells_and_heldout_fonts_never_train():
    a, b = CellGenerator(seed=3), CellGenerator(seed=3)
    for i in range(5):
        x, y = a.sample(i), b.sample(i)
        assert (x.text, x.font, x.image.tobytes()) == (y.text, y.font, y.image.tobytes())
    held = {Path(f.path).name for f in discover_fonts() if f.split == "heldout"}
    train = {Path(f.path).name for f in discover_fonts() if f.split == "train"}
    assert held and train  # else a split borrows every font
    # What the generators draw, not how the split is built: a training cell is never
    # rendered in a held-out font, a held-out cell never in a training font.
    trained_on = {CellGenerator(seed=1).sample(i).font for i in range(300)}
    assert trained_on and not trained_on & held
    assert {CellGenerator(seed=1, split="heldout").sample(i).font for i in range(60)} <= held


def test_rendered_text_only_uses_glyphs_the_font_draws():
    gen = CellGenerator(seed=5)
    for i in range(40):
        cell = gen.sample(i)
        font = next(f for f in gen.fonts if Path(f.path).name == cell.font)
        assert set(cell.text) <= font.charset


def test_a_font_that_draws_punctuation_as_its_notdef_box_does_not_claim_it():
    assert LIBERTINE_ITALIC.exists(), "install fonts-linuxlibertine (.ci/run does)"
    # Linux Libertine Italic fills the private use area (U+E000) but, as Pillow draws
    # it, shows '.', '%', '$' and the lower case as .notdef boxes: one probe code
    # point alone was fooled, and the font trained the model on boxes.
    covered = _coverage(str(LIBERTINE_ITALIC))
    assert "A" in covered and not {".", "%", "$", "a"} & covered
    assert str(LIBERTINE_ITALIC) not in {f.path for f in discover_fonts()}
