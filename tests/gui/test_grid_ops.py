"""Structure fixes on a Table: merge, split, cut a row/column in two, delete rows/columns."""

import numpy as np
import pytest

from app.gui.grid_ops import (
    CellRange,
    GridEditError,
    cell_name,
    column_name,
    copy_table,
    delete_lines,
    expand_to_whole_cells,
    find_gap,
    insert_line,
    merge_cells,
    restore_table,
    split_cell,
    split_cells,
)
from table.model import Cell, Table


def grid_table(n_rows=4, n_cols=3, cell_w=100, cell_h=40, x0=10, y0=20) -> Table:
    """A plain grid with known lines; every cell's text names its position."""
    row_lines = [y0 + r * cell_h for r in range(n_rows + 1)]
    col_lines = [x0 + c * cell_w for c in range(n_cols + 1)]
    cells = [Cell(row=r, col=c,
                  bbox=(col_lines[c], row_lines[r], col_lines[c + 1], row_lines[r + 1]),
                  text=cell_name(r, c), confidence=0.5 + 0.1 * c)
             for r in range(n_rows) for c in range(n_cols)]
    return Table(n_rows, n_cols, cells, bbox=(x0, y0, col_lines[-1], row_lines[-1]),
                 row_lines=row_lines, col_lines=col_lines)


def covered_once(table: Table) -> bool:
    """Every grid position is covered by exactly one cell."""
    seen = np.zeros((table.n_rows, table.n_cols), int)
    for c in table.cells:
        seen[c.row:c.row + c.rowspan, c.col:c.col + c.colspan] += 1
    return bool((seen == 1).all())


def test_column_names_follow_spreadsheets():
    assert [column_name(i) for i in (0, 1, 25, 26, 27, 51, 52, 701, 702)] == \
        ["A", "B", "Z", "AA", "AB", "AZ", "BA", "ZZ", "AAA"]
    assert cell_name(2, 1) == "B3"


def test_merge_joins_text_unions_boxes_and_leaves_the_input_alone():
    table = grid_table()
    before = copy_table(table)
    new, affected = merge_cells(table, CellRange(1, 0, 2, 1))
    assert table == before  # the original is untouched (the undo stack keeps it)
    merged = new.cell_at(2, 1)
    assert affected == [merged]
    assert (merged.row, merged.col, merged.rowspan, merged.colspan) == (1, 0, 2, 2)
    assert merged.text == "A2 B2 A3 B3"
    assert merged.bbox == (10, 60, 210, 140)
    assert merged.confidence == pytest.approx(0.5)
    assert len(new.cells) == 12 - 3 and covered_once(new)


def test_merge_grows_the_range_over_merged_cells_it_touches():
    table, _ = merge_cells(grid_table(), CellRange(0, 1, 1, 2))
    assert expand_to_whole_cells(table, CellRange(1, 0, 1, 1)) == CellRange(0, 0, 1, 2)
    new, _ = merge_cells(table, CellRange(1, 0, 1, 1))
    assert new.cell_at(0, 0).rowspan == 2 and new.cell_at(0, 0).colspan == 3
    assert covered_once(new)


def test_merge_needs_two_cells_and_a_range_inside_the_table():
    with pytest.raises(GridEditError):
        merge_cells(grid_table(), CellRange(1, 1, 1, 1))
    with pytest.raises(GridEditError):
        merge_cells(grid_table(), CellRange(0, 0, 9, 0))


def test_split_restores_grid_boxes_from_the_lines():
    merged, _ = merge_cells(grid_table(), CellRange(1, 0, 2, 1))
    new, pieces = split_cell(merged, 2, 1)  # any position of the merged cell works
    assert len(pieces) == 4 and covered_once(new)
    assert {(p.row, p.col) for p in pieces} == {(1, 0), (1, 1), (2, 0), (2, 1)}
    original = grid_table()
    for p in pieces:
        assert p.bbox == original.cell_at(p.row, p.col).bbox
    assert new.cell_at(1, 0).text == "A2 B2 A3 B3"  # kept at the top-left until re-read
    assert all(all(x is not p for x in merged.cells) for p in pieces)


def test_split_without_grid_lines_divides_the_box_evenly():
    table = Table(1, 2, [Cell(0, 0, 1, 2, bbox=(0, 0, 100, 30), text="ab")], bbox=(0, 0, 100, 30))
    new, pieces = split_cells(table, [(0, 0), (0, 1)])  # both positions of one cell: split once
    assert [p.bbox for p in pieces] == [(0, 0, 50, 30), (50, 0, 100, 30)]
    with pytest.raises(GridEditError):
        split_cell(new, 0, 0)


def test_insert_row_cuts_at_the_blank_gap_between_text_lines():
    table = grid_table(n_rows=2, n_cols=2, cell_h=60)
    image = np.full((200, 300, 3), 255, np.uint8)
    image[30:40, 20:190] = 0   # first text line of row 0 (band 20..80)
    image[56:66, 20:190] = 0   # second text line: blank run 40..55 -> cut near 48
    new, affected = insert_line(table, 0, 0, image)
    assert new.n_rows == 3 and covered_once(new)
    cut = new.row_lines[1]
    assert 41 <= cut <= 55
    assert new.row_lines == [20, cut, 80, 140]
    assert {(c.row, c.col) for c in affected} == {(0, 0), (0, 1), (1, 0), (1, 1)}
    assert new.cell_at(0, 0).bbox == (10, 20, 110, cut)
    assert new.cell_at(1, 0).bbox == (10, cut, 110, 80)
    assert new.cell_at(2, 1).text == "B2"  # rows below moved down


def test_insert_column_grows_merged_cells_that_cross_it():
    merged, _ = merge_cells(grid_table(), CellRange(0, 0, 0, 2))
    new, affected = insert_line(merged, 1, 1)  # no image: cut in the middle
    assert new.n_cols == 4 and covered_once(new)
    assert new.cell_at(0, 0).colspan == 4
    assert new.col_lines[2] == 160
    assert all(c.col in (1, 2) for c in affected) and len(affected) == 2 * 3


def test_delete_rows_shrinks_spans_and_rereads_cells_that_lost_an_edge():
    merged, _ = merge_cells(grid_table(), CellRange(1, 0, 3, 0))  # A2:A4
    new, affected = delete_lines(merged, 0, 2, 3)
    assert new.n_rows == 2 and covered_once(new)
    a2 = new.cell_at(1, 0)
    assert a2.rowspan == 1 and a2.bbox == (10, 60, 110, 100)
    assert affected == [a2]
    assert new.row_lines == [20, 60, 100]
    assert new.bbox == (10, 20, 310, 100)


def test_delete_first_column_moves_the_rest_left():
    new, affected = delete_lines(grid_table(), 1, 0, 0)
    assert new.n_cols == 2 and affected == [] and covered_once(new)
    assert new.cell_at(0, 0).text == "B1"
    assert new.col_lines == [110, 210, 310]


def test_a_table_keeps_at_least_one_row():
    with pytest.raises(GridEditError):
        delete_lines(grid_table(n_rows=2), 0, 0, 1)


def test_restore_table_keeps_the_object_identity():
    table = grid_table()
    other, _ = merge_cells(table, CellRange(0, 0, 1, 1))
    restore_table(table, other)
    assert table.cell_at(1, 1).rowspan == 2
    other.cells[0].text = "changed"
    assert table.cells[0].text != "changed"  # a deep copy, not shared cells


def test_find_gap_without_ink_or_image_takes_the_middle():
    assert find_gap(None, 0, 10, 50, (0, 100)) == 30
    blank = np.full((100, 100), 255, np.uint8)
    assert abs(find_gap(blank, 1, 10, 90, (0, 100)) - 50) <= 1
