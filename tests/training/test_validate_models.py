"""The validation draw's office-printed set (training/validate_models.py): cells our own
pipeline cuts from a spreadsheet printed by LibreOffice, each with its true text."""

from __future__ import annotations

import numpy as np

from benchmarks.table_end_to_end import DEV_SEED
from ocr import Recognizer
from training.validate_models import PRINTED_SEED, printed_cells, score

MODEL = "resources/models/tablescribe-cells"


def test_printed_cells_come_with_their_own_text():
    cells = printed_cells(1)
    assert len(cells) >= 20
    assert all(isinstance(c.image, np.ndarray) and c.image.dtype == np.uint8 for c in cells)
    assert all(c.text and "\n" not in c.text and c.text == " ".join(c.text.split()) for c in cells)
    # The embedded model reads office print well: a crop paired with another cell's
    # text, or cut from another image than the one the grid refers to, would not be.
    got = [r.text for r in Recognizer.from_pretrained(MODEL).recognize([c.image for c in cells])]
    assert sum(g == c.text for g, c in zip(got, cells)) >= 0.9 * len(cells)


def test_the_printed_set_is_not_the_table_benchmarks_development_draw():
    assert PRINTED_SEED != DEV_SEED  # benchmarks/table_end_to_end.py --split dev


def test_score_reports_every_set_given():
    cells = printed_cells(1)[:10]
    out = score(MODEL, {"printed": cells}, second_look=False)
    assert set(out) == {"printed", "cer", "exact"}
    assert out["exact"] == out["printed"]["exact"] >= 0.7
