"""training.tables.eval_structure scores pages as the app decodes them: with the page's
whitespace rivers, so a column the map misses still counts as found."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("torch", reason="eval_structure loads checkpoints with torch")

from tests.table.test_text_gaps import BODY, maps, page
from training.tables.eval_structure import score


def test_score_decodes_with_the_ink_and_counts_each_table_once() -> None:
    ink = page()
    truth = {"n_rows": len(BODY) + 1, "n_cols": 3,
             "spans": [[r, c, 1, 1] for r in range(len(BODY) + 1) for c in range(3)]}
    pages = [(maps([195]), np.zeros_like(ink), ink, [truth])] * 2
    got = score(pages, 0.55, 0.15)
    assert got["grid_exact"] == 1.0 and got["cols_right"] == 1.0 and got["rows_right"] == 1.0
    assert got["tables_found"] == got["tables_true"] == 2
