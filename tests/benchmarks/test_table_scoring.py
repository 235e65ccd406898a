"""Scoring of the end-to-end table benchmark: the TEDS wrapper on known pairs, page
scores, and the HTML the peers answer with."""

import numpy as np
import pytest
from PIL import Image

from benchmarks.table_peers import found_from_html, rotated_box
from benchmarks.table_scoring import Found, Score, score_page, teds
from benchmarks.table_workbooks import TrueTable

SPANS = {(0, 0, 2, 1), (0, 1, 1, 2), (1, 1, 1, 1), (1, 2, 1, 1),
         (2, 0, 1, 1), (2, 1, 1, 1), (2, 2, 1, 1)}
TEXTS = {(0, 0): "Region", (0, 1): "Sales", (1, 1): "2023", (1, 2): "2024",
         (2, 0): "North", (2, 1): "1,200", (2, 2): "1,350"}


def truth() -> TrueTable:
    return TrueTable(3, 3, set(SPANS), dict(TEXTS))


def test_teds_is_one_on_the_same_table_and_lower_on_a_wrong_text():
    t = truth()
    assert teds(t.html(), Found(3, 3, set(SPANS), dict(TEXTS)).html()) == pytest.approx(1.0)
    wrong = dict(TEXTS)
    wrong[(2, 2)] = "1,305"
    f = Found(3, 3, set(SPANS), wrong)
    assert teds(t.html(), f.html()) < 1.0
    assert teds(t.html(True), f.html(True), structure_only=True) == pytest.approx(1.0)


def test_teds_struct_sees_a_lost_span():
    split = (SPANS - {(0, 1, 1, 2)}) | {(0, 1, 1, 1), (0, 2, 1, 1)}
    score = teds(truth().html(True), Found(3, 3, split).html(True), structure_only=True)
    assert 0.5 < score < 1.0


def test_score_page_counts_grids_merges_cells_and_teds():
    s = Score()
    assert score_page(s, [truth()], [Found(3, 3, set(SPANS), dict(TEXTS))], with_text=True)
    assert (s.grid_right, s.merges, s.merges_right, s.cells, s.cells_right) == (1, 2, 2, 7, 7)
    assert s.teds == pytest.approx(1.0) and s.teds_struct == pytest.approx(1.0)
    missed = Score()
    assert not score_page(missed, [truth(), truth()], [Found(3, 3, set(SPANS), dict(TEXTS))],
                          with_text=True)
    assert missed.tables == 2 and missed.teds == pytest.approx(1.0)  # the second scores 0
    assert missed.cells_right == 7 and missed.cells == 14


def test_peer_html_is_read_into_the_same_grid():
    f = found_from_html(truth().html())
    assert (f.n_rows, f.n_cols) == (3, 3)
    assert f.spans == SPANS
    assert f.texts == TEXTS
    th = found_from_html("<table><tr><th colspan='2'>a</th></tr><tr><td>b</td><td>c</td></tr>"
                         "</table>")
    assert th.spans == {(0, 0, 1, 2), (1, 0, 1, 1), (1, 1, 1, 1)}


def test_rotated_box_follows_pil_rotation():
    img = Image.new("L", (400, 300), 0)
    img.paste(255, (300, 40, 306, 46))
    for angle in (-4.0, 3.0, 30.0):
        turned = np.asarray(img.rotate(angle, resample=Image.BICUBIC))
        ys, xs = np.nonzero(turned > 128)
        x0, y0, x1, y1 = rotated_box((300, 40, 306, 46), angle, (400, 300), margin=1)
        assert x0 <= xs.min() and xs.max() < x1 and y0 <= ys.min() and ys.max() < y1
