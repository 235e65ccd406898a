"""The synthetic cell generator behind the embedded model (training/cells.py)."""

from pathlib import Path

import pytest

from training.cells import CellGenerator, _coverage, discover_fonts

LIBERTINE_ITALIC = Path("/usr/share/fonts/opentype/linux-libertine/LinLibertine_I.otf")


def test_same_seed_same_cells_and_heldout_fonts_never_train():
    a, b = CellGenerator(seed=3), CellGenerator(seed=3)
    for i in range(5):
        x, y = a.sample(i), b.sample(i)
        assert (x.text, x.font, x.image.tobytes()) == (y.text, y.font, y.image.tobytes())
    train = {Path(f.path).name for f in discover_fonts() if f.split == "train"}
    held = {Path(f.path).name for f in discover_fonts() if f.split == "heldout"}
    assert train and held and not train & held
    assert all(CellGenerator(seed=1, split="heldout").sample(i).font in held for i in range(10))


def test_rendered_text_only_uses_glyphs_the_font_draws():
    gen = CellGenerator(seed=5)
    for i in range(40):
        cell = gen.sample(i)
        font = next(f for f in gen.fonts if Path(f.path).name == cell.font)
        assert set(cell.text) <= font.charset


@pytest.mark.skipif(not LIBERTINE_ITALIC.exists(), reason="needs fonts-linuxlibertine")
def test_a_font_that_draws_punctuation_as_its_notdef_box_does_not_claim_it():
    # Linux Libertine Italic fills the private use area (U+E000) but, as Pillow draws
    # it, shows '.', '%', '$' and the lower case as .notdef boxes: one probe code
    # point alone was fooled, and the font trained the model on boxes.
    covered = _coverage(str(LIBERTINE_ITALIC))
    assert "A" in covered and not {".", "%", "$", "a"} & covered
    assert str(LIBERTINE_ITALIC) not in {f.path for f in discover_fonts()}
