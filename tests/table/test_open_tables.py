"""table.open_tables: full grids stay with the rules, the split model decides the rest."""

from __future__ import annotations

import numpy as np

from table.model import Cell, Table
from table.open_tables import full_grid, reconcile, to_table
from table.split_decode import DecodedCell, DecodedTable
from table.split_input import ModelInput
from table.split_model import PageTables

SCALE = 0.5  # model pixels per page pixel


def grid_table(rows: list[int], cols: list[int]) -> Table:
    cells = [Cell(r, c, 1, 1, (cols[c], rows[r], cols[c + 1], rows[r + 1]))
             for r in range(len(rows) - 1) for c in range(len(cols) - 1)]
    return Table(len(rows) - 1, len(cols) - 1, cells, (cols[0], rows[0], cols[-1], rows[-1]),
                 0, rows, cols)


def model_input(h_lines: list[int], v_lines: list[int], box) -> ModelInput:
    """A rule channel with the given page-pixel rules drawn across ``box``."""
    rules = np.zeros((300, 300), np.float32)
    x0, y0, x1, y1 = (round(v * SCALE) for v in box)
    for y in h_lines:
        rules[round(y * SCALE), x0:x1] = 1.0
    for x in v_lines:
        rules[y0:y1, round(x * SCALE)] = 1.0
    return ModelInput(np.stack([np.zeros_like(rules), rules]), SCALE, 16.0)


def found(rows: list[int], cols: list[int], drawn_rows=None) -> PageTables:
    nr, nc = len(rows) - 1, len(cols) - 1
    d = DecodedTable((0, 0, 1, 1), [r * SCALE for r in rows], [c * SCALE for c in cols],
                     drawn_rows or [False] * (nr + 1), [False] * (nc + 1),
                     [DecodedCell(r, c, 1, 1, 0.8) for r in range(nr) for c in range(nc)])
    return PageTables(d, rows, cols, (cols[0], rows[0], cols[-1], rows[-1]))


ROWS, COLS = [100, 140, 180, 220], [50, 200, 350]


def test_a_full_grid_stays_with_the_rules() -> None:
    ruled = grid_table(ROWS, COLS)
    mi = model_input(ROWS, COLS, ruled.bbox)
    assert full_grid(ruled, mi)
    out = reconcile([ruled], [found([100, 160, 220], COLS)], mi, 0)
    assert out == [ruled]
    # inner rules only (no frame): still a full grid
    assert full_grid(ruled, model_input(ROWS[1:-1], COLS[1:-1], ruled.bbox))
    # one inner row line missing: not
    assert not full_grid(ruled, model_input(ROWS[:2] + ROWS[3:], COLS, ruled.bbox))


def test_a_partly_ruled_table_is_replaced_by_the_models() -> None:
    ruled = grid_table([100, 220], COLS)  # booktabs-like: the rule path saw one row
    mi = model_input([100, 220], [], ruled.bbox)  # no column rules
    assert not full_grid(ruled, mi)
    out = reconcile([ruled], [found(ROWS, COLS, [True, False, False, True])], mi, 3)
    assert len(out) == 1 and out[0] is not ruled
    t = out[0]
    assert (t.n_rows, t.n_cols, t.page) == (3, 2, 3)
    assert t.row_inferred == [False, True, True, False] and all(t.col_inferred)
    assert {c.structure_confidence for c in t.cells} == {0.8}
    assert t.cells[0].bbox == (50, 100, 200, 140)


def test_model_tables_elsewhere_are_added_and_unseen_rule_tables_kept() -> None:
    ruled = grid_table([400, 440, 480], [50, 200])
    mi = model_input([], [], ruled.bbox)  # its lines are not in the evidence: not a full grid
    out = reconcile([ruled], [found(ROWS, COLS)], mi, 0)
    assert [t.bbox for t in out] == [(50, 100, 350, 220), ruled.bbox]


def test_a_rule_table_over_a_full_grid_gives_way_to_it() -> None:
    # Small print above and below a grid, read as three rules at low resolution: a
    # one-column "table" of the paragraphs around the grid (validation page
    # mixed-99-00006 at 96 dpi). The model's table over the grid yields to the grid, so
    # nothing else removed the paragraphs' table.
    grid = grid_table(ROWS, COLS)
    prose = grid_table([80, 160, 240], [40, 260])
    prose.row_ruled, prose.col_ruled = [True, True, True], [False, False]
    mi = model_input(ROWS, COLS, grid.bbox)
    assert full_grid(grid, mi) and not full_grid(prose, mi)
    assert reconcile([prose, grid], [found(ROWS, COLS)], mi, 0) == [grid]
    # a rule table beside the grid, not over it, stays
    beside = grid_table([400, 440, 480], [50, 200])
    assert reconcile([grid, beside], [], mi, 0) == [grid, beside]


def test_to_table_keeps_spans() -> None:
    f = found(ROWS, COLS)
    f.decoded.cells = [DecodedCell(0, 0, 1, 2, 0.5)] + [c for c in f.decoded.cells if c.row > 0]
    t = to_table(f, 0)
    assert t.cell_at(0, 1).bbox == (50, 100, 350, 140)
    assert len(t.cells) == 5


def test_the_rule_paths_own_word_makes_a_full_grid_through_fills_and_bands() -> None:
    """A table the rule path built from rules on every inner line is a full grid even
    where the rule channel misses them (zebra fills, a header band); a row line it set
    from the text counts only inside a dark band, where a rule cannot show."""
    ruled = grid_table(ROWS, COLS)
    mi = model_input([], [], ruled.bbox)  # no rule evidence at all
    assert not full_grid(ruled, mi)
    ruled.row_ruled, ruled.col_ruled = [True] * 4, [False, True, False]
    assert full_grid(ruled, mi)
    ruled.row_ruled = [True, False, True, True]  # line 1 (y 140) from the text
    assert not full_grid(ruled, mi)
    x0, y0, x1, _ = (round(v * SCALE) for v in ruled.bbox)
    mi.x[0, y0:round(160 * SCALE), x0:x1] = 0.8  # a dark band over the first two rows
    assert full_grid(ruled, mi)
    ruled.col_ruled = [False, False, False]  # a column from the text: not a grid
    assert not full_grid(ruled, mi)


def test_a_single_row_of_cells_is_a_grid_only_when_boxed_all_round() -> None:
    row = grid_table([100, 140], COLS)  # one row, two cells
    mi = model_input([], [], row.bbox)
    row.row_ruled, row.col_ruled = [True, True], [True, True, True]
    assert full_grid(row, mi)
    row.col_ruled = [False, True, False]  # one rule between two texts: not a grid
    assert not full_grid(row, mi)
    box = grid_table([100, 140], [50, 350])  # a boxed note
    box.row_ruled, box.col_ruled = [True, True], [True, True]
    assert not full_grid(box, mi)


def test_the_models_lines_go_onto_the_rules_the_rule_path_drew() -> None:
    # Column rules only: the rule path's rows come from the text, so the model decides,
    # but its column line 3 px off the rule, and its top 12 px above the rules' top,
    # are moved onto them; a row line with no rule near stays the model's.
    ruled = grid_table(ROWS, COLS)
    ruled.row_ruled, ruled.col_ruled = [False] * 4, [False, True, False]
    mi = model_input([], [200], ruled.bbox)
    assert not full_grid(ruled, mi)
    [t] = reconcile([ruled], [found([88, 150, 220], [50, 203, 350])], mi, 0)
    assert t.col_lines == [50, 200, 350]
    assert t.row_lines == [100, 150, 220]
    assert t.cells[0].bbox == (50, 100, 200, 150)
    # Far from every rule (over half a text height: 8 px here), lines stay.
    [t] = reconcile([ruled], [found([70, 150, 220], [50, 215, 350])], mi, 0)
    assert t.col_lines == [50, 215, 350] and t.row_lines[0] == 70


def test_small_print_around_a_low_resolution_grid_is_not_a_table(tmp_path) -> None:
    # Validation page mixed-99-00006 (printed by LibreOffice, 96 dpi): a paragraph above
    # and one below a ruled grid with a dark header band. Their lines binarise into bars
    # the rule path took for three rules, a one-column table around the grid.
    from table.prepare import prepare_page
    from table.structure import find_tables
    from training.tables.design import design_page
    from training.tables.office_page import render_office

    [page] = render_office([design_page("validation", 99, 6, "mixed")], tmp_path)
    [truth] = page.tables
    found = find_tables(prepare_page(page.image).image).tables
    assert [(t.n_rows, t.n_cols) for t in found] == [(truth.n_rows, truth.n_cols)]
    assert {(c.row, c.col, c.rowspan, c.colspan) for c in found[0].cells} == truth.spans()


def test_column_rules_two_or_three_rows_tall_the_model_did_not_see_are_glyph_stems() -> None:
    # Validation page open-7-00006 (150 dpi): small print enlarged for the rule path, the
    # stems of letters stacked on two or three lines passed for column rules, and the
    # paragraphs above and below the table became tables of their own.
    mi = model_input([], [], (0, 0, 600, 600))
    stems = grid_table([400, 420, 440], [50, 200, 350])
    stems.row_ruled, stems.col_ruled = [False] * 3, [False, True, False]
    assert reconcile([stems], [], mi, 0) == []
    assert reconcile([stems], [found(ROWS, COLS)], mi, 0)[0].bbox == (50, 100, 350, 220)
    # A rule under its header, or four rows of them, is a table the model missed: kept.
    header_rule = grid_table([300, 320, 340, 360], [50, 200, 350])
    header_rule.row_ruled, header_rule.col_ruled = [False, True, False, False], [False, True, False]
    tall = grid_table([400, 420, 440, 460, 480], [50, 200, 350])
    tall.row_ruled, tall.col_ruled = [False] * 5, [False, True, False]
    assert not full_grid(header_rule, mi) and not full_grid(tall, mi)
    assert reconcile([header_rule, tall], [], mi, 0) == [header_rule, tall]
