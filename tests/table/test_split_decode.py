"""table.split_decode: probability maps -> grid lines, spans, drawn/inferred flags and
structure confidence, on maps drawn by the tests."""

from __future__ import annotations

import numpy as np

from table.split_decode import SPLIT_T, decode

TEXT_H = 8.0


def maps(rows: list[int], cols: list[int], missing_h=(), missing_v=(), p=0.9, shape=(200, 300),
         box=(20, 30, 280, 170)):
    """Perfect-ish maps: a table box, row separators at ``rows`` and column separators at
    ``cols`` (inner lines only), minus segments (i, c) / (r, j) listed as missing."""
    h, w = shape
    probs = np.zeros((3, h, w), np.float32)
    x0, y0, x1, y1 = box
    probs[0, y0:y1, x0:x1] = p
    ys, xs = [y0, *rows, y1], [x0, *cols, x1]
    for i, y in enumerate(rows, start=1):
        for c in range(len(xs) - 1):
            if (i, c) not in missing_h:
                probs[1, y - 1:y + 2, xs[c]:xs[c + 1]] = p
    for j, x in enumerate(cols, start=1):
        for r in range(len(ys) - 1):
            if (r, j) not in missing_v:
                probs[2, ys[r]:ys[r + 1], x - 1:x + 2] = p
    return probs


def test_grid_and_lines_are_found() -> None:
    probs = maps([60, 100, 140], [100, 200])
    (t,) = decode(probs, np.zeros(probs.shape[1:], np.float32), TEXT_H)
    assert (t.n_rows, t.n_cols) == (4, 3)
    assert [round(v) for v in t.row_lines] == [30, 60, 100, 140, 170]
    assert [round(v) for v in t.col_lines] == [20, 100, 200, 280]
    assert len(t.cells) == 12 and all(c.rowspan == c.colspan == 1 for c in t.cells)
    assert all(c.confidence > 0.5 for c in t.cells)


def test_missing_segments_make_spans_and_l_shapes_grow_to_rectangles() -> None:
    # a header over columns 1-2 (no column segment in row 0) and a row header over rows
    # 1-3 in column 0 (no row segments at lines 2 and 3 there)
    probs = maps([60, 100, 140], [100, 200], missing_h={(2, 0), (3, 0)}, missing_v={(0, 2)})
    (t,) = decode(probs, np.zeros(probs.shape[1:], np.float32), TEXT_H)
    spans = {(c.row, c.col, c.rowspan, c.colspan) for c in t.cells}
    assert (0, 1, 1, 2) in spans and (1, 0, 3, 1) in spans
    assert len(spans) == 12 - 1 - 2
    # an L: slots (0,0)-(0,1)-(1,1) joined -> the 2x2 block becomes one cell
    probs = maps([100], [150], missing_h={(1, 1)}, missing_v={(0, 1)})
    (t,) = decode(probs, np.zeros(probs.shape[1:], np.float32), TEXT_H)
    assert {(c.row, c.col, c.rowspan, c.colspan) for c in t.cells} == {(0, 0, 2, 2)}


def test_drawn_lines_are_told_from_inferred_ones() -> None:
    probs = maps([60, 100, 140], [100, 200])
    rules = np.zeros(probs.shape[1:], np.float32)
    rules[99:102, 20:280] = 1.0  # a rule under row 1 only
    (t,) = decode(probs, rules, TEXT_H)
    assert t.row_drawn == [False, False, True, False, False]
    assert not any(t.col_drawn)


def test_weak_evidence_lowers_the_structure_confidence() -> None:
    sure = decode(maps([60, 100, 140], [100, 200]), np.zeros((200, 300), np.float32), TEXT_H)
    probs = maps([60, 100, 140], [100, 200])
    probs[1, 99:102] = np.where(probs[1, 99:102] > 0, SPLIT_T + 0.05, 0)
    unsure = decode(probs, np.zeros((200, 300), np.float32), TEXT_H)
    assert unsure[0].n_rows == 4
    by = {(c.row, c.col): c.confidence for c in unsure[0].cells}
    assert by[(1, 0)] < 0.2 and by[(0, 0)] > 0.5
    assert min(c.confidence for c in sure[0].cells) > 0.5


def test_a_row_line_as_strong_as_row_maps_get_is_sure() -> None:
    # the row map's mean along a whole line rarely nears 1 (here it fades where the
    # column lines cross it: a mean of 0.83): its cells are not to check; a line just
    # over the threshold still makes its cells unsure
    probs = maps([60, 100, 140], [100, 200], p=0.95)
    for x in (100, 200):
        probs[1, :, x - 8:x + 8] = 0.0
    (t,) = decode(probs, np.zeros(probs.shape[1:], np.float32), TEXT_H)
    assert t.n_rows == 4 and min(c.confidence for c in t.cells) > 0.8
    probs[1, 99:102] = np.where(probs[1, 99:102] > 0, SPLIT_T + 0.05, 0)
    (t,) = decode(probs, np.zeros(probs.shape[1:], np.float32), TEXT_H)
    assert max(c.confidence for c in t.cells if c.row in (1, 2)) < 0.2


def test_a_clearly_absent_segment_makes_a_sure_span() -> None:
    # a header over columns 1-2: the map has no separator there at all (0)
    probs = maps([60, 100, 140], [100, 200], missing_v={(0, 2)})
    (t,) = decode(probs, np.zeros(probs.shape[1:], np.float32), TEXT_H)
    span = next(c for c in t.cells if c.colspan == 2)
    assert span.confidence > 0.8


def test_two_tables_and_no_table() -> None:
    probs = np.concatenate([maps([60], [150]), maps([100, 120], [60, 120, 200])], axis=1)
    found = decode(probs, np.zeros(probs.shape[1:], np.float32), TEXT_H)
    assert [(t.n_rows, t.n_cols) for t in found] == [(2, 2), (3, 4)]
    assert found[1].bbox[1] >= 200
    assert decode(np.zeros((3, 100, 100), np.float32), np.zeros((100, 100), np.float32),
                  TEXT_H) == []


def test_two_stacked_tables_joined_by_the_map_are_cut_apart() -> None:
    # The map joins a 3 x 3 table and a 2 x 4 table below it through a thin bridge.
    probs = np.zeros((3, 260, 300), np.float32)
    probs[:, :130] = maps([60, 95], [100, 200], shape=(130, 300), box=(20, 30, 280, 125))
    probs[:, 130:] = maps([60], [80, 140, 200], shape=(130, 300), box=(40, 10, 260, 100))
    probs[0, 120:145, 40:60] = 0.9
    found = decode(probs, np.zeros(probs.shape[1:], np.float32), TEXT_H)
    assert [(t.n_rows, t.n_cols) for t in found] == [(3, 3), (2, 4)]
    assert found[0].bbox[3] <= 140 <= found[1].bbox[1]
    assert found[1].bbox[0] >= 38  # the lower table fitted to its own width


def test_a_region_of_one_row_or_one_column_is_not_a_table() -> None:
    probs = maps([60, 100, 140], [])  # rows, no column
    assert decode(probs, np.zeros(probs.shape[1:], np.float32), TEXT_H) == []
    probs = maps([], [100, 200])
    assert decode(probs, np.zeros(probs.shape[1:], np.float32), TEXT_H) == []


def _whole_page_regions(p_table: np.ndarray, text_h: float):
    """regions() by its definition: the opening and the connected areas of the whole page."""
    import cv2

    from table.split_regions import TABLE_T, _cut

    mask = (p_table > TABLE_T).astype(np.uint8)
    k = 2 * int(round(0.25 * text_h)) + 1
    mask = cv2.morphologyEx(mask, cv2.MORPH_OPEN, np.ones((k, k), np.uint8))
    n, labels, stats, _ = cv2.connectedComponentsWithStats(mask, connectivity=4)
    out = []
    for i in range(1, n):
        x, y, w, h, _ = stats[i]
        out += _cut(labels, i, p_table, (int(x), int(y), int(x + w), int(y + h)), text_h)
    return sorted(out, key=lambda b: (b[1], b[0]))


def test_regions_worked_out_around_the_map_are_the_whole_pages() -> None:
    """regions() opens and labels only the map's extent: ragged edges, specks, tables
    that touch the page's border and stacked tables joined by a bridge come out as
    they do over the whole page."""
    from table.split_regions import regions

    rng = np.random.default_rng(4)
    for trial in range(6):
        p = np.zeros((500, 700), np.float32)
        for _ in range(3):
            y0, x0 = rng.integers(0, 400), rng.integers(0, 550)
            y1, x1 = y0 + rng.integers(40, 160), x0 + rng.integers(60, 250)
            p[y0:y1, x0:x1] = rng.uniform(0.5, 1.0, (len(p[y0:y1]), len(p[0, x0:x1])))
        p[rng.random(p.shape) < 0.02] = 0.9  # specks the opening removes
        p[:, :3] *= trial % 2  # on even trials nothing touches the left border
        got, want = regions(p, TEXT_H), _whole_page_regions(p, TEXT_H)
        assert want, "the page has no region to compare"
        assert got == want
    # A table whose map ends in thin overhangs at the map's outer edge (thinner than the
    # opening): the whole page's opening removes them, so the region keeps its own width.
    p = np.zeros((400, 500), np.float32)
    p[63:250, 150:350] = 0.9
    p[60:63, 100:400] = 0.9
    assert regions(p, TEXT_H) == _whole_page_regions(p, TEXT_H) == [(150, 60, 350, 250)]


def test_the_text_mask_near_the_regions_is_the_whole_pages() -> None:
    from table.split_decode import _text_near
    from table.text_gaps import text_mask

    rng = np.random.default_rng(5)
    ink = np.zeros((300, 400), np.float32)
    for y in range(20, 280, 12):  # lines of "letters": dark blocks with gaps
        for x in range(10, 390, 7):
            if rng.random() < 0.7:
                ink[y:y + 7, x:x + 4] = rng.uniform(0.5, 1.0)
    ink[100:160, 150:260] = np.maximum(ink[100:160, 150:260], 0.6)  # a dark band
    rules = np.zeros_like(ink)
    rules[90, 100:300] = 1.0
    boxes = [(120, 80, 280, 180)]
    near = _text_near(boxes, ink, rules, TEXT_H)
    whole = text_mask(ink, rules, TEXT_H)
    reach = int(TEXT_H)
    np.testing.assert_array_equal(near[80 - reach:180 + reach, 120 - reach:280 + reach],
                                  whole[80 - reach:180 + reach, 120 - reach:280 + reach])
    assert whole[80:180, 120:280].any()


def test_row_medians_are_the_masked_medians() -> None:
    from table.split_rows import _row_medians

    rng = np.random.default_rng(6)
    for w in (1, 2, 7, 40):
        values = rng.random((30, w)).astype(np.float32)
        left_out = rng.random((30, w)) < 0.4
        left_out[0] = True  # a row of text only: 0
        left_out[1] = False
        want = np.ma.median(np.ma.masked_array(values, left_out), axis=1).filled(0.0)
        np.testing.assert_allclose(_row_medians(values, left_out), want, rtol=1e-6)
