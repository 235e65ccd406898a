"""The synthetic cell generator behind the embedded model (training/cells.py)."""

from pathlib import Path

import numpy as np
import pytest

from training import cells
from training.cell_renders import LOWRES_CAP
from training.cells import APPENDED_CHARS, CellGenerator, _coverage, discover_fonts, fonts_for
from training.tables.fonts import RECOGNISER_SPLITS, family_of

# From Debian's fonts-linuxlibertine, which .ci/run installs.
LIBERTINE_ITALIC = Path("/usr/share/fonts/opentype/linux-libertine/LinLibertine_I.otf")


def _families_of(split: str) -> set[str]:
    return {f.family for f in discover_fonts() if f.split == split}


def test_same_seed_same_cells_and_heldout_families_never_train():
    a, b = CellGenerator(seed=3), CellGenerator(seed=3)
    for i in range(5):
        x, y = a.sample(i), b.sample(i)
        assert (x.text, x.font, x.image.tobytes()) == (y.text, y.font, y.image.tobytes())
    # Every family the split names is installed (.ci/run installs them), all of it in
    # its split: none of its weights or widths trains.
    for split in ("heldout", "validation"):
        assert _families_of(split) == {k for k, v in RECOGNISER_SPLITS.items() if v == split}
    train = _families_of("train")
    assert train and not train & (_families_of("heldout") | _families_of("validation"))
    # What the generators draw, not how the split is built: a training cell is never
    # rendered in a held-out or validation family, a held-out cell only in one of those.
    by_name = {Path(f.path).name: f.family for f in discover_fonts()}
    trained_on = {by_name[CellGenerator(seed=1).sample(i).font] for i in range(400)}
    assert trained_on and trained_on <= train
    held = {by_name[CellGenerator(seed=1, split="heldout").sample(i).font] for i in range(80)}
    assert held == _families_of("heldout")  # a family first: each of them is drawn
    assert {by_name[CellGenerator(1, "validation").sample(i).font] for i in range(40)} <= _families_of("validation")


@pytest.mark.parametrize("a, b", [
    ("Go", "Go Mono"), ("Go", "Go Medium"), ("CMU Serif", "CMU Typewriter Text"),
    ("Gentium Plus", "Gentium Book Plus"), ("Noto Mono", "Noto Sans Mono"),
])
def test_a_family_is_split_whole(a, b):
    assert family_of(a) == family_of(b)


def test_a_split_without_installed_fonts_is_an_error_not_another_split(monkeypatch):
    only_train = tuple(f for f in discover_fonts() if f.split == "train")
    monkeypatch.setattr(cells, "discover_fonts", lambda: only_train)
    with pytest.raises(RuntimeError, match="fonts-go"):
        fonts_for("heldout")
    from benchmarks import ocr_accuracy

    with pytest.raises(SystemExit, match="no font of the heldout families"):
        ocr_accuracy.heldout_families()


def test_texts_hold_the_new_symbols_and_spaced_dashes():
    gen = CellGenerator(seed=2)
    texts = [gen.sample(i).text for i in range(3000)]
    drawn = set("".join(texts))
    assert set(APPENDED_CHARS) <= drawn, set(APPENDED_CHARS) - drawn
    assert any(" - " in t for t in texts) and any(" – " in t for t in texts)


def test_low_resolution_cells_have_text_six_to_twelve_pixels_high():
    gen = CellGenerator(seed=4, split="heldout", mix="lowres")
    scans = CellGenerator(seed=4, split="heldout", mix="scan")
    for i in range(30):
        cell = gen.sample(i, "HEH")
        assert cell.text == scans.sample(i, "HEH").text
        assert LOWRES_CAP[0] - 2 <= _text_height(np.asarray(cell.image, np.float32)) <= LOWRES_CAP[1] + 2


def _text_height(a: np.ndarray) -> int:
    """Rows of the tallest run of inked rows (white-on-dark cells too; rule remnants
    at the crop's edges left out)."""
    ink = a < 0.5 * (a.max() + a.min())
    if ink.mean() > 0.5:
        ink = ~ink
    ink[:, ink.mean(0) > 0.8] = False
    ink[ink.mean(1) > 0.8, :] = False
    inked = ink.sum(1) >= 2
    best = run = 0
    for v in inked:
        run = run + 1 if v else 0
        best = max(best, run)
    return best


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
