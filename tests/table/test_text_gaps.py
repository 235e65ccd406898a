"""table.text_gaps and the decoder's columns from whitespace rivers, on pages the tests
draw at the model's scale (text about 8 px high) with real glyphs (cv2.putText)."""

from __future__ import annotations

import cv2
import numpy as np

from table.split_decode import decode
from table.text_gaps import crosses, line_cover, rivers, text_lines, text_mask

TEXT_H = 8.0
FONT = cv2.FONT_HERSHEY_PLAIN


def write(ink: np.ndarray, text: str, x: int, baseline: int, *, right: bool = False,
          value: float = 1.0) -> tuple[int, int]:
    """Draws text onto a darkness image; returns its (x0, x1)."""
    (w, _), _ = cv2.getTextSize(text, FONT, 0.6, 1)
    x0 = x - w if right else x
    glyphs = np.zeros(ink.shape, np.uint8)
    cv2.putText(glyphs, text, (x0, baseline), FONT, 0.6, 255, 1, cv2.LINE_8)
    ink[glyphs > 0] = value
    return x0, x0 + w


PITCH, TOP = 20, 30  # row height and the table's top, in model pixels
BODY = [("Apples", "12.50", "fresh"), ("Pears", "7.25", "ripe"), ("Plums", "103.00", "dried"),
        ("Figs", "9.10", "fresh"), ("Limes", "0.75", "sour"), ("Dates", "41.00", "sweet")]


def page(header=("Item", "Price", "State"), caption: str | None = None):
    """A three-column table without rules, 7 rows: left-aligned names, right-aligned
    prices; a header given as ((text, x), ...) is drawn where it says."""
    ink = np.zeros((200, 300), np.float32)
    for r, cells in enumerate([header, *BODY]):
        base = TOP + PITCH * r + 14
        if isinstance(cells[0], tuple):
            for text, x in cells:
                write(ink, text, x, base)
            continue
        write(ink, cells[0], 25, base)
        write(ink, cells[1], 180, base, right=True)
        write(ink, cells[2], 215, base)
    if caption:
        write(ink, caption, 25, TOP - 8)
    return ink


def maps(cols: list[int], p_col: float = 0.9, top: int = TOP, shape=(200, 300)):
    """The model's maps for the drawn table: its region from y = top, every row
    separator, and column separators at ``cols`` only."""
    h, w = shape
    x0, y0, x1, y1 = 20, top, 280, TOP + PITCH * (len(BODY) + 1)
    probs = np.zeros((3, h, w), np.float32)
    probs[0, y0:y1, x0:x1] = 0.9
    for r in range(1, len(BODY) + 1):
        y = TOP + PITCH * r
        probs[1, y - 1:y + 2, x0:x1] = 0.9
    for x in cols:
        probs[2, y0:y1, x - 1:x + 2] = p_col
    return probs


def test_text_mask_keeps_strokes_not_fills_or_rules() -> None:
    ink = np.zeros((60, 200), np.float32)
    ink[5:25, :100] = 0.15  # a zebra stripe
    ink[30:55, :] = 0.85  # a dark header band
    write(ink, "dark", 10, 20)
    write(ink, "light", 20, 48, value=0.0)  # white text on the band
    rules = np.zeros_like(ink)
    rules[27, :] = 1.0
    ink[27, :] = 1.0  # a rule
    mask = text_mask(ink, rules, TEXT_H)
    assert mask[5:25, :100].sum() > 20 and mask[30:55, 15:70].sum() > 20
    assert not mask[5:25, 60:100].any()  # the stripe beyond the word
    assert not mask[30:55, 100:].any()  # the band beyond the word
    assert not mask[26:29].any()  # the rule


def table_rivers(ink: np.ndarray) -> tuple[int, list[tuple[int, int]]]:
    """The drawn table's text lines and rivers, in page x."""
    region = text_mask(ink, np.zeros_like(ink), TEXT_H)[TOP:TOP + 7 * PITCH, 20:280]
    lines = text_lines(region)
    gaps = rivers(line_cover(region, lines), len(lines), 0.6 * TEXT_H)
    return len(lines), [(20 + a, 20 + b) for a, b in gaps]


def width(text: str) -> int:
    return cv2.getTextSize(text, FONT, 0.6, 1)[0][0]


def test_rivers_run_between_columns_not_between_words() -> None:
    n_lines, gaps = table_rivers(page())
    assert n_lines == 7
    assert len(gaps) == 2
    (a1, b1), (a2, b2) = gaps
    # One line in five may cross a river: it starts after all names but the longest
    # (the header's are shorter) and ends before all prices but the longest.
    names_end = 25 + sorted(width(r[0]) for r in BODY)[-2] - 1
    prices_start = 180 - sorted(width(r[1]) for r in BODY)[-2]
    assert names_end <= a1 and b1 <= prices_start + 1  # names | prices, ±1 px
    assert 177 <= a2 and b2 <= 216  # between the prices (ending at 180) and the states
    # A word gap inside the first column's cells does not line up: no river there.
    ink2 = page()
    ink2[TOP + 3 * PITCH:TOP + 4 * PITCH, 20:150] = 0
    write(ink2, "Red plums", 25, TOP + 3 * PITCH + 14)
    assert len(table_rivers(ink2)[1]) == 2
    # Nor does a gap that lines up but is narrower than a river (a code like "AB 12").
    ink3 = page()
    ink3[TOP:TOP + 7 * PITCH, 20:140] = 0
    for r in range(7):
        write(ink3, "AB", 25, TOP + PITCH * r + 14)
        write(ink3, "12", 25 + width("AB") + 3, TOP + PITCH * r + 14)
    assert len(table_rivers(ink3)[1]) == 2


def test_crosses_tells_a_spanning_line_from_one_reaching_in() -> None:
    mask = np.zeros((10, 100), bool)
    mask[2:8, 10:40] = True
    mask[2:8, 44:70] = True  # a word gap of 3 px at 41..43
    assert crosses(mask, 42, 0, 10, 4)
    assert not crosses(mask, 55 + 20, 0, 10, 4)
    mask2 = np.zeros((10, 100), bool)
    mask2[2:8, 10:40] = True
    mask2[2:8, 60:90] = True  # a 20 px river
    assert not crosses(mask2, 50, 0, 10, 4)


def test_columns_the_map_misses_come_from_the_rivers() -> None:
    ink = page()
    probs = maps([195])  # the map sees only the second column boundary
    rules = np.zeros_like(ink)
    (without,) = decode(probs, rules, TEXT_H)
    assert without.n_cols == 2
    (t,) = decode(probs, rules, TEXT_H, ink=ink)
    assert (t.n_rows, t.n_cols) == (7, 3)
    assert all(c.rowspan == c.colspan == 1 for c in t.cells)
    assert 70 < t.col_lines[1] < 140 and 180 < t.col_lines[2] < 215


def test_a_river_joins_the_cells_a_header_runs_across() -> None:
    ink = page(header=(("Item", 25), ("Price and state of it", 140)))
    (t,) = decode(maps([195]), np.zeros_like(ink), TEXT_H, ink=ink)
    assert t.n_cols == 3
    spans = {(c.row, c.col, c.rowspan, c.colspan) for c in t.cells}
    assert (0, 1, 1, 2) in spans  # the header spans the two columns it runs across
    assert all(c.colspan == 1 for c in t.cells if c.row > 0)


def test_a_caption_taken_in_by_the_table_map_is_not_a_row() -> None:
    ink = page(caption="Table 3. Fruit prices at the market")
    probs = maps([195], top=12)  # the map's region reaches the caption
    probs[1, TOP - 1:TOP + 2, 20:280] = 0.9  # and sees a row separator under it
    (t,) = decode(probs, np.zeros_like(ink), TEXT_H, ink=ink)
    assert t.n_rows == 7 and t.row_lines[0] > TOP - 8
    (untrimmed,) = decode(probs, np.zeros_like(ink), TEXT_H)
    assert untrimmed.n_rows == 8


def test_a_header_wider_than_its_column_keeps_its_own_cell() -> None:
    (w, _), _ = cv2.getTextSize("Prices per kilogram", FONT, 0.6, 1)
    ink = page(header=(("Item", 25), ("Prices per kilogram", 180 - w), ("State", 215)))
    (t,) = decode(maps([195]), np.zeros_like(ink), TEXT_H, ink=ink)
    assert t.n_cols == 3
    assert t.col_lines[1] < 180 - w  # the separator passes left of the header, not through it
    assert all(c.colspan == 1 for c in t.cells)


def test_a_separator_goes_beside_a_wide_header_not_into_its_word_gap() -> None:
    # Validation page open-7-00015: a header wider than its column reached into the
    # river before it, the map's peak lay in the gap between the header's words, which
    # no text line crosses either, and the separator went there, cutting the header.
    ink = page(header=(("Item", 25), ("Price", 150), ("As", 197), ("sold", 216)))
    mask = text_mask(ink, np.zeros_like(ink), TEXT_H)
    assert not mask[TOP:TOP + PITCH, 211:215].any()  # the word space stays paper
    (t,) = decode(maps([120, 213]), np.zeros_like(ink), TEXT_H, ink=ink)
    assert t.n_cols == 3
    assert 180 < t.col_lines[2] < 197  # beside the header, not through it
    assert all(c.colspan == 1 for c in t.cells)


def tall_rows_page(fills: bool = False):
    """Five rows 28 px high with rules under every row (or, with ``fills``, zebra
    stripes and no rules); row 2's first cell holds two lines of text. Returns the ink,
    the rule channel, and the y between the two lines of that cell."""
    ink = np.zeros((220, 300), np.float32)
    rules = np.zeros_like(ink)
    top, pitch = 30, 28
    rows = [("Item", "Price", "State"), ("Apples", "12.50", "fresh"),
            (("Pears from", "the south"), "7.25", "ripe"), ("Plums", "103.00", "dried"),
            ("Figs", "9.10", "fresh")]
    for r, (name, price, state) in enumerate(rows):
        y = top + pitch * r
        if fills and r % 2:
            ink[y:y + pitch, 20:280] = 0.15
        if not fills and r:
            rules[y - 1:y + 1, 20:280] = 1.0
        if isinstance(name, tuple):
            write(ink, name[0], 25, y + 11)
            write(ink, name[1], 25, y + 23)
        else:
            write(ink, name, 25, y + 18)
        write(ink, price, 180, y + 18, right=True)
        write(ink, state, 215, y + 18)
    return ink, rules, top + 2 * pitch + 14


def tall_rows_maps(inside: int):
    """The maps of tall_rows_page, with a row separator at every row line and one more
    where the map mistakes the break inside row 2's first cell for a row line."""
    probs = np.zeros((3, 220, 300), np.float32)
    probs[0, 30:170, 20:280] = 0.9
    for y in (58, 86, 114, 142, inside):
        probs[1, y - 1:y + 2, 20:280] = 0.9
    for x in (110, 195):
        probs[2, 30:170, x - 1:x + 2] = 0.9
    return probs


def test_a_table_that_draws_its_row_lines_keeps_a_multi_line_cell_whole() -> None:
    for fills in (False, True):
        ink, rules, inside = tall_rows_page(fills)
        probs = tall_rows_maps(inside)
        (untold,) = decode(probs, rules, TEXT_H)
        assert untold.n_rows == 6
        (t,) = decode(probs, rules, TEXT_H, ink=ink)
        assert t.n_rows == 5, fills
        assert not any(abs(y - inside) < 4 for y in t.row_lines)


def test_an_undrawn_row_line_stays_where_the_table_draws_few() -> None:
    ink, rules, inside = tall_rows_page()
    rules[:] = 0.0
    rules[57:59, 20:280] = 1.0  # the header's rule and the last row's: two of five
    rules[141:143, 20:280] = 1.0
    (t,) = decode(tall_rows_maps(inside), rules, TEXT_H, ink=ink)
    assert t.n_rows == 6


def test_a_short_caption_over_a_table_ruled_by_columns_is_not_a_row() -> None:
    ink = page(caption="Table 3.")
    probs = maps([195], top=12)
    probs[1, TOP - 1:TOP + 2, 20:280] = 0.9
    rules = np.zeros_like(ink)
    (untrimmed,) = decode(probs, rules, TEXT_H, ink=ink)
    assert untrimmed.n_rows == 8  # it reaches no river: it could be a cell
    rules[TOP:TOP + PITCH * (len(BODY) + 1), 194:196] = 1.0  # a column rule below it
    (t,) = decode(probs, rules, TEXT_H, ink=ink)
    assert t.n_rows == 7 and t.row_lines[0] > TOP - 8


def test_a_band_holding_only_the_spill_of_long_cells_is_not_a_column() -> None:
    from table.split_decode import _without_spills

    region = np.zeros((60, 200), bool)
    lines = [(0, 8), (12, 20), (24, 32), (36, 44), (48, 56)]
    for y0, y1 in lines:
        region[y0:y1, 5:40] = True  # the first column
        region[y0:y1, 150:190] = True  # the last
    region[12:20, 40:95] = True  # two long first cells reach into the gap
    region[36:44, 40:80] = True
    found = [(70.0, 0.3, None), (120.0, 0.6, None)]  # a separator in the spill, one after
    assert [f[0] for f in _without_spills(found, region, lines, 0, TEXT_H)] == [120.0]
    region[0:8, 100:110] = True  # text of its own between them: a column after all
    assert len(_without_spills(found, region, lines, 0, TEXT_H)) == 2


def test_a_map_separator_through_the_first_cells_is_not_a_column() -> None:
    ink = page()
    rules = np.zeros_like(ink)
    probs = maps([195, 45], p_col=0.9)  # x = 45 cuts through most names: they spill over it
    (t,) = decode(probs, rules, TEXT_H, ink=ink)
    assert t.n_cols == 3 and not any(abs(x - 45) < 3 for x in t.col_lines)


def test_a_band_of_the_region_beyond_all_text_is_margin_not_a_row_or_column() -> None:
    ink = page()
    # The map's region overhangs the table by 30 px left and 20 px below, and it sees
    # separators at the text's edges there.
    probs = np.zeros((3, 200, 300), np.float32)
    y1 = TOP + PITCH * (len(BODY) + 1)
    probs[0, TOP:y1 + 20, 0:280] = 0.9
    for r in range(1, len(BODY) + 2):
        probs[1, TOP + PITCH * r - 1:TOP + PITCH * r + 2, 0:280] = 0.9
    for x in (20, 195):
        probs[2, TOP:y1 + 20, x - 1:x + 2] = 0.9
    (t,) = decode(probs, np.zeros_like(ink), TEXT_H, ink=ink)
    assert (t.n_rows, t.n_cols) == (7, 3)
    (untold,) = decode(probs, np.zeros_like(ink), TEXT_H)
    assert (untold.n_rows, untold.n_cols) == (8, 3)


def test_a_header_centred_over_two_columns_spans_them() -> None:
    # "Fresh fruit" centred over the price and state columns (x ~100..280), alone in
    # its row; the first body row below names every column. The map sees the boundary
    # between those columns as a broad band through every row.
    probs = maps([195])
    probs[2, TOP:TOP + PITCH * (len(BODY) + 1), 184:217] = 0.9
    ink = page(header=(("Fresh fruit", 190 - width("Fresh fruit") // 2),))
    (t,) = decode(probs, np.zeros_like(ink), TEXT_H, ink=ink)
    spans = {(c.row, c.col, c.rowspan, c.colspan) for c in t.cells}
    assert t.n_cols == 3 and (0, 1, 1, 2) in spans
    assert all(c.colspan == 1 for c in t.cells if c.row > 0)
    # A text centred on its own column stays its own cell, though it is as near the
    # centre of all three (its neighbours in the row are empty).
    ink = page(header=(("Price", 157 - width("Price") // 2),))
    (t,) = decode(probs, np.zeros_like(ink), TEXT_H, ink=ink)
    assert t.n_cols == 3 and all(c.colspan == 1 for c in t.cells), t.col_lines


def gap_centres(ink: np.ndarray, box: tuple[int, int, int, int]) -> list[int]:
    """The x centres of the white gaps every text line of ``box`` (x0, y0, x1, y1) has."""
    x0, y0, x1, y1 = box
    region = text_mask(ink, np.zeros_like(ink), TEXT_H)[y0:y1, x0:x1]
    lines = text_lines(region)
    return [x0 + (a + b) // 2 for a, b in rivers(line_cover(region, lines), len(lines), 4)]


def test_a_piece_of_running_text_is_not_a_table() -> None:
    # Six identical lines of prose, whose word gaps line up; the maps take their right
    # part for a table, with column separators in those gaps.
    ink = np.zeros((200, 300), np.float32)
    for k in range(6):
        x = 10
        for word in ["the", "lazy", "dog", "jumps", "over", "the", "big", "fox", "again"]:
            x = write(ink, word, x, 40 + 14 * k)[1] + 8  # wide word gaps, all in line
    probs = np.zeros((3, 200, 300), np.float32)
    probs[0, 28:120, 90:200] = 0.9
    for x in gap_centres(ink, (90, 28, 200, 120)):
        probs[2, 28:120, x - 1:x + 2] = 0.9
    probs[1, 54:57, 90:200] = probs[1, 82:85, 90:200] = 0.9
    [alone] = decode(probs, np.zeros_like(ink), TEXT_H)  # the maps alone: a table
    assert alone.n_cols >= 2
    assert decode(probs, np.zeros_like(ink), TEXT_H, ink=ink) == []


def test_the_word_gaps_of_one_line_are_not_columns() -> None:
    # A heading and one sentence under it, which the maps take for a table with
    # columns at the sentence's word gaps: no other line has text on both sides.
    ink = np.zeros((200, 300), np.float32)
    write(ink, "Summary", 25, 44)
    write(ink, "Please pay    within    30    days", 25, 74)
    probs = np.zeros((3, 200, 300), np.float32)
    probs[0, 28:90, 20:280] = 0.9
    probs[1, 56:59, 20:280] = 0.9
    for x in gap_centres(ink, (20, 60, 280, 90)):
        probs[2, 28:90, x - 1:x + 2] = 0.9
    assert decode(probs, np.zeros_like(ink), TEXT_H)[0].n_cols >= 3
    assert decode(probs, np.zeros_like(ink), TEXT_H, ink=ink) == []


def test_a_column_rule_with_a_kink_keeps_the_bottom_rows() -> None:
    # The rule under a caption steps 3 px right two thirds of the way down, as one
    # straightened from a bowed page can: the rows beside its lower part stay.
    ink = page(caption="Table 3.")
    probs = maps([195], top=12)
    probs[1, TOP - 1:TOP + 2, 20:280] = 0.9
    rules = np.zeros_like(ink)
    y1 = TOP + PITCH * (len(BODY) + 1)
    kink = TOP + (y1 - TOP) * 3 // 5
    rules[TOP:kink, 193:196] = 1.0
    rules[kink:y1, 196:199] = 1.0
    (t,) = decode(probs, rules, TEXT_H, ink=ink)
    assert t.n_rows == 7 and t.row_lines[0] > TOP - 8 and t.row_lines[-1] >= y1 - 2


def test_row_lines_go_through_paper_and_the_region_closes_on_its_rule() -> None:
    ink = page()
    rules = np.zeros_like(ink)
    y1 = TOP + PITCH * (len(BODY) + 1)
    rules[y1:y1 + 2, 20:280] = 1.0  # the bottom rule under the last row
    probs = maps([195])
    probs[0, y1:y1 + 16, 20:280] = 0.9  # the map's region overhangs the rule
    # The map's line between rows 1 and 2 lies 8 px low: on row 2's letters.
    probs[1, TOP + 2 * PITCH - 1:TOP + 2 * PITCH + 2] = 0.0
    probs[1, TOP + 2 * PITCH + 7:TOP + 2 * PITCH + 10, 20:280] = 0.9
    text = text_mask(ink, rules, TEXT_H)
    assert text[TOP + 2 * PITCH + 8, 20:280].any()
    (t,) = decode(probs, rules, TEXT_H, ink=ink)
    line = int(round(t.row_lines[2]))
    assert abs(line - (TOP + 2 * PITCH + 8)) <= 4  # the map's line, moved a little
    assert not text[line, 20:280].any()  # through paper, not letters
    assert abs(t.row_lines[-1] - (y1 + 1)) <= 1 and t.bbox[3] == t.row_lines[-1]
    (untold,) = decode(probs, rules, TEXT_H)
    assert untold.row_lines[-1] >= y1 + 15


def test_a_column_the_whitespace_decides_is_sure() -> None:
    # The map sees the second column boundary clearly and the first only faintly (0.5,
    # near its threshold); the first stands in a clear river of the page.
    ink = page()
    probs = maps([195])
    probs[2, TOP:TOP + PITCH * (len(BODY) + 1), 99:102] = 0.5
    (t,) = decode(probs, np.zeros_like(ink), TEXT_H, ink=ink)
    assert t.n_cols == 3
    assert min(c.confidence for c in t.cells) > 0.8  # as sure as the map's clear lines
    (maps_alone,) = decode(probs, np.zeros_like(ink), TEXT_H)
    assert maps_alone.n_cols == 3 and min(c.confidence for c in maps_alone.cells) < 0.5


def line_maps(lines: list[tuple[int, int]], seps: list[int]) -> np.ndarray:
    """The model's maps for a two-column page 220 x 300 with these text lines: the
    region around them, a row separator at each of ``seps``, a column one at x 110."""
    probs = np.zeros((3, 220, 300), np.float32)
    probs[0, lines[0][0] - 4:lines[-1][1] + 4, 20:280] = 0.9
    for y in seps:
        probs[1, y - 1:y + 2, 20:280] = 0.9
    probs[2, lines[0][0] - 4:lines[-1][1] + 4, 109:112] = 0.9
    return probs


def three_line_cell_page():
    """Five rows without rules; row 2's first cell holds three lines, the other cells of
    that row sit on its middle line. Returns the ink and the text lines' (y0, y1)."""
    ink = np.zeros((220, 300), np.float32)
    for name, price, base in (("Item", "Price", 44), ("Apples", "12.50", 70), ("Plums", "103.00", 152),
                              ("Figs", "9.10", 178)):
        write(ink, name, 25, base)
        write(ink, price, 180, base, right=True)
    for text, base in (("Pears from", 96), ("the south", 111), ("and west", 126)):
        write(ink, text, 25, base)
    write(ink, "7.25", 180, 111, right=True)
    return ink, text_lines(text_mask(ink, np.zeros_like(ink), TEXT_H))


def test_a_line_break_inside_a_cell_is_not_a_row() -> None:
    # Validation page open-7-00015: a three-line cell cut into three rows, where its
    # lines are parted by a third of the paper that parts the table's rows.
    ink, lines = three_line_cell_page()
    assert len(lines) == 7
    gaps = [(a, b) for (_, a), (b, _) in zip(lines, lines[1:])]
    # the map marks every gap, the cell's two as well
    probs = line_maps(lines, [(a + b) // 2 for a, b in gaps])
    rules = np.zeros_like(ink)
    (untold,) = decode(probs, rules, TEXT_H)
    assert untold.n_rows == 7
    (t,) = decode(probs, rules, TEXT_H, ink=ink)
    assert t.n_rows == 5
    tight = [(a, b) for a, b in gaps if b - a < 10]
    assert len(tight) == 2
    assert not any(a <= y <= b for y in t.row_lines for a, b in tight)
    # A rule drawn in such a gap keeps its row line: the table draws it.
    a, b = tight[0]
    rules[(a + b) // 2, 20:280] = 1.0
    (ruled,) = decode(probs, rules, TEXT_H, ink=ink)
    assert ruled.n_rows == 6


def test_a_row_gap_the_map_marks_weakly_still_parts_two_rows() -> None:
    # Validation page open-7-00019: the row map peaked just under the shipped model's
    # split threshold (0.55) in one gap as wide as the table's others.
    ink = page()
    rules = np.zeros_like(ink)
    probs = maps([195])
    weak = TOP + PITCH * 4
    probs[1, weak - 1:weak + 2, 20:280] = 0.5
    (untold,) = decode(probs, rules, TEXT_H, split_t=0.55)
    assert untold.n_rows == 6
    (t,) = decode(probs, rules, TEXT_H, split_t=0.55, ink=ink)
    assert t.n_rows == 7
    assert any(abs(y - weak) <= 4 for y in t.row_lines)
    probs[1, weak - 1:weak + 2, 20:280] = 0.3  # under GAP_T: the map does not see a row there
    (faint,) = decode(probs, rules, TEXT_H, split_t=0.55, ink=ink)
    assert faint.n_rows == 6


def test_soft_print_keeps_its_text_and_its_columns() -> None:
    # Validation page open-11-00006 (96 dpi, brought up to the model's scale): each
    # letter a grey blot wider than the usual kernel, so the mask kept no text and the
    # table's five columns joined into one.
    ink = cv2.GaussianBlur(page(), (0, 0), 2.0) * 0.6
    rules = np.zeros_like(ink)
    assert len(text_lines(text_mask(ink, rules, TEXT_H))) == 7
    (t,) = decode(maps([195]), rules, TEXT_H, ink=ink)
    assert (t.n_rows, t.n_cols) == (7, 3)


def test_soft_body_print_under_a_sharp_header_keeps_its_text() -> None:
    # Validation page open-11-00009 (150 dpi, blurred): the bold header's strokes kept
    # the usual reading's share of the soft one's over a tenth (0.198), the body's
    # letters were grey blots the usual kernel lost, and its rivers came out broken.
    ink = page()
    soft = cv2.GaussianBlur(ink, (0, 0), 2.0) * 0.6
    ink[TOP + PITCH:] = soft[TOP + PITCH:]
    rules = np.zeros_like(ink)
    assert len(text_lines(text_mask(ink, rules, TEXT_H))) == 7
    (t,) = decode(maps([195]), rules, TEXT_H, ink=ink)
    assert (t.n_rows, t.n_cols) == (7, 3)


def test_two_lines_of_a_cell_run_together_are_not_two_rows() -> None:
    # Validation page open-7-00013: the descender of a cell's first line touches its
    # second line, no paper row parts them, and the map's separator between them stood.
    ink = np.zeros((220, 300), np.float32)
    for name, price, base in (("Item", "Price", 44), ("Apples", "12.50", 70),
                              ("Plums", "103.00", 140), ("Figs", "9.10", 166)):
        write(ink, name, 25, base)
        write(ink, price, 180, base, right=True)
    write(ink, "Grapes", 25, 96)
    write(ink, "Jam", 25, 108)
    write(ink, "7.25", 180, 96, right=True)
    lines = text_lines(text_mask(ink, np.zeros_like(ink), TEXT_H))
    assert len(lines) == 5 and lines[2][1] - lines[2][0] > 2 * TEXT_H  # one line of two
    probs = line_maps(lines, [(a + b) // 2 for (_, a), (b, _) in zip(lines, lines[1:])] + [100])
    rules = np.zeros_like(ink)
    (untold,) = decode(probs, rules, TEXT_H)
    assert untold.n_rows == 6
    (t,) = decode(probs, rules, TEXT_H, ink=ink)
    assert t.n_rows == 5
    assert not any(lines[2][0] < y < lines[2][1] for y in t.row_lines)


def test_two_separators_in_one_row_gap_make_one_row_line() -> None:
    # Validation page open-7-00019: the row map's run in one gap broke in two, and the
    # sliver between its two separators came out as an empty row.
    ink = page()
    rules = np.zeros_like(ink)
    probs = maps([195])
    y = TOP + PITCH * 3
    probs[1, y - 1:y + 2] = 0.0
    probs[1, y - 4:y - 2, 20:280] = 0.9
    probs[1, y + 3:y + 5, 20:280] = 0.9
    (untold,) = decode(probs, rules, TEXT_H)
    assert untold.n_rows == 8
    (t,) = decode(probs, rules, TEXT_H, ink=ink)
    assert (t.n_rows, t.n_cols) == (7, 3)


def test_a_label_beside_empty_cells_is_a_span_only_in_the_header() -> None:
    # Validation page open-11-00013: the map found no column separator beside a "Total"
    # whose neighbours are empty, and the label spanned the table's three columns. Over
    # the header's lowest level, the map's word stands: a short spanning header.
    ink = page(header=(("Fruit", 25),))
    last = TOP + PITCH * 6
    ink[last:last + PITCH] = 0
    write(ink, "Total", 25, last + 14)
    rules = np.zeros_like(ink)
    probs = maps([120, 195])
    for y in (TOP, last):  # no separator beside the header's and the total's label
        probs[2, y + 2:y + PITCH - 2] = 0.0
    (untold,) = decode(probs, rules, TEXT_H)
    assert {(0, 0, 1, 3), (6, 0, 1, 3)} <= {(c.row, c.col, c.rowspan, c.colspan) for c in untold.cells}
    (t,) = decode(probs, rules, TEXT_H, ink=ink)
    assert (t.n_rows, t.n_cols) == (7, 3)
    spans = {(c.row, c.col, c.rowspan, c.colspan) for c in t.cells if c.rowspan > 1 or c.colspan > 1}
    assert spans == {(0, 0, 1, 3)}


def test_a_footnote_the_map_cuts_through_is_not_a_row() -> None:
    # The table map's edge runs through the first line of a footnote: the top of a line
    # of running text crosses no river, so it stayed, as a row.
    ink = page()
    end = TOP + PITCH * 7
    write(ink, "* Prices in euro per kilo, as sold at dawn", 25, end + 14)
    probs = maps([195])
    probs[0, end:end + 8, 20:280] = 0.9  # the region ends in the middle of the footnote
    probs[1, end - 1:end + 2, 20:280] = 0.9  # and sees a row separator over it
    (untrimmed,) = decode(probs, np.zeros_like(ink), TEXT_H)
    assert untrimmed.n_rows == 8
    (t,) = decode(probs, np.zeros_like(ink), TEXT_H, ink=ink)
    assert (t.n_rows, t.n_cols) == (7, 3) and t.row_lines[-1] < end + 4


def two_level_header_page(upper: int = 44, label: int = 56, lower: int = 68):
    """A three-column table without rules: a header of two levels over the price and
    state columns (baselines ``upper`` and ``lower``) and the row label "Item" set
    between them (baseline ``label``), so that it bridges the paper between the two
    levels; then the six body rows."""
    ink = np.zeros((220, 300), np.float32)
    write(ink, "Cost", 180, upper, right=True)
    write(ink, "Note", 215, upper)
    write(ink, "Item", 25, label)
    write(ink, "Price", 180, lower, right=True)
    write(ink, "State", 215, lower)
    for r, (name, price, state) in enumerate(BODY):
        base = 88 + PITCH * r
        write(ink, name, 25, base)
        write(ink, price, 180, base, right=True)
        write(ink, state, 215, base)
    return ink


def two_level_header_maps(between: int, under: int) -> np.ndarray:
    """The model's maps for two_level_header_page: its region, a row separator between
    the header's levels (at y ``between``), under the header (``under``) and between
    the body rows, each a run as wide as the model's, and the two column separators."""
    probs = np.zeros((3, 220, 300), np.float32)
    probs[0, 32:88 + PITCH * 5 + 6, 20:280] = 0.9
    for y in [between, under] + [94 + PITCH * r for r in range(5)]:
        probs[1, y - 4:y + 5, 20:280] = 0.9
    for x in (120, 195):
        probs[2, 32:88 + PITCH * 5 + 6, x - 1:x + 2] = 0.9
    return probs


def merged(t) -> set[tuple[int, int, int, int]]:
    """(row, col, rowspan, colspan) of a decoded table's cells that span."""
    return {(c.row, c.col, c.rowspan, c.colspan) for c in t.cells if c.rowspan > 1 or c.colspan > 1}


def test_a_label_centred_on_two_header_levels_keeps_both_and_spans_them() -> None:
    # Validation pages mixed-7-00012 and mixed-11-00017: across the table the paper
    # between the header's two levels is a tight gap either side of the label, so the
    # map's separator there was taken for a line break inside a cell.
    ink = two_level_header_page()
    rules = np.zeros_like(ink)
    lines = text_lines(text_mask(ink, rules, TEXT_H))
    assert len(lines) == 9  # the upper level, the label, the lower level, six rows
    assert max(b - a for (_, a), (b, _) in zip(lines[:3], lines[1:3])) < 6  # tight gaps
    probs = two_level_header_maps(53, 74)
    (t,) = decode(probs, rules, TEXT_H, ink=ink)
    assert (t.n_rows, t.n_cols) == (8, 3)
    assert merged(t) == {(0, 0, 2, 1)}
    # Where the other columns' lines are parted by more than a row gap and a half, as
    # a row's line and the single line centred on the next row's three-line cell are
    # (validation page open-7-00015), the tight gaps stay line breaks.
    ink[30:72, 150:280] = 0.0
    for text, x, base, right in (("Cost", 180, 42, True), ("Note", 215, 42, False),
                                 ("Price", 180, 70, True), ("State", 215, 70, False)):
        write(ink, text, x, base, right=right)
    (apart,) = decode(probs, rules, TEXT_H, ink=ink)
    assert apart.n_rows == 7


def test_a_header_band_over_column_rules_is_no_caption() -> None:
    # Validation page mixed-7-00011: the column rules stop at the dark header band, so
    # its line lay beside none of them and was trimmed off as a caption.
    ink = page()
    ink[TOP:TOP + PITCH] = 0.9
    for text, x, right in (("Item", 25, False), ("Price", 180, True), ("State", 215, False)):
        write(ink, text, x, TOP + 14, right=right, value=0.0)
    rules = np.zeros_like(ink)
    rules[TOP + PITCH:TOP + PITCH * (len(BODY) + 1), 194:196] = 1.0
    probs = maps([195])
    (t,) = decode(probs, rules, TEXT_H, ink=ink)
    assert (t.n_rows, t.n_cols) == (7, 3) and t.row_lines[0] < TOP + 8


def test_a_label_on_the_line_between_two_header_levels_spans_them() -> None:
    # Validation page mixed-11-00005: the levels and the label between them touch, no
    # paper is left to read, and the map drew the line between the levels right
    # across the label, which it saw as present there.
    ink = two_level_header_page(44, 51, 58)
    rules = np.zeros_like(ink)
    assert len(text_lines(text_mask(ink, rules, TEXT_H))) == 7  # the header one line
    probs = two_level_header_maps(48, 70)
    (t,) = decode(probs, rules, TEXT_H, ink=ink)
    assert (t.n_rows, t.n_cols) == (8, 3)
    assert merged(t) == {(0, 0, 2, 1)}
    # Off the line (a label of the upper level only), it is no span.
    own_row = two_level_header_page(44, 44, 64)
    (own,) = decode(probs, rules, TEXT_H, ink=own_row)
    assert own.n_rows == 8 and not merged(own)
