"""The page view draws separators the structure model inferred (no ink) dashed, and
drawn ones solid."""

from __future__ import annotations

import numpy as np
from PySide6.QtGui import QImage, QPainter

from app.gui.page_view import PageView
from table.model import Cell, Table


def _render(view: PageView, w: int, h: int) -> np.ndarray:
    img = QImage(w, h, QImage.Format_RGB888)
    img.fill(0xFFFFFF)
    painter = QPainter(img)
    view.scene().render(painter)
    painter.end()
    ptr = img.constBits()
    return np.frombuffer(ptr, np.uint8, img.sizeInBytes()).reshape(h, img.bytesPerLine())[:, : 3 * w]


def test_inferred_separators_are_dashed(qtbot) -> None:
    cells = [Cell(0, 0, bbox=(20, 20, 100, 60)), Cell(0, 1, bbox=(100, 20, 180, 60)),
             Cell(1, 0, bbox=(20, 60, 100, 100)), Cell(1, 1, bbox=(100, 60, 180, 100))]
    table = Table(2, 2, cells, (20, 20, 180, 100), 0, [20, 60, 100], [20, 100, 180],
                  row_inferred=[False, True, False], col_inferred=[False, True, False])
    assert table.inferred_edges(cells[0]) == (False, True, True, False)
    view = PageView()
    qtbot.addWidget(view)
    view.set_page(np.full((120, 200, 3), 255, np.uint8), [table], threshold=0.5)
    px = _render(view, 200, 120).reshape(120, 200, 3)
    inked = px.min(axis=2) < 200

    def run_gaps(line: np.ndarray) -> int:  # white gaps along a line
        return int(np.count_nonzero(np.diff(line.astype(np.int8)) == -1))

    top = inked[19:22, 25:95].any(axis=0)  # a drawn edge: continuous
    middle = inked[59:62, 25:95].any(axis=0)  # the inferred row separator: dashed
    assert top.all()
    assert run_gaps(middle) >= 5 and middle.mean() < 0.9
    # without the flags (a table from the rules) every edge is solid
    table.row_inferred, table.col_inferred = [], []
    view.set_tables([table])
    px = _render(view, 200, 120).reshape(120, 200, 3)
    assert (px.min(axis=2) < 200)[59:62, 25:95].any(axis=0).all()
    assert run_gaps(inked[19:22, 25:95].any(axis=0)) == 0
