"""Structure fixes a person makes when detection got the grid wrong.

Every operation takes a Table and returns a *new* Table (the input is left untouched,
so the undo stack can keep both) plus the cells of the new table whose text must be
read again from the page because their region changed.

Grid positions follow the spreadsheet convention: a merged cell covers
``row .. row + rowspan - 1`` x ``col .. col + colspan - 1``. Cell bboxes stay the
truth for where a cell's text is on the page; ``row_lines`` / ``col_lines`` are kept
in step so that splitting later knows where the grid lines were.

"Insert row" means "there is a grid line detection missed": the current row is cut
in two at the widest blank gap between its text lines, and both halves are re-read.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass

import numpy as np

from table.model import Cell, Table


class GridEditError(ValueError):
    """The requested structure change does not make sense for this table."""


@dataclass(frozen=True)
class CellRange:
    """An inclusive rectangle of grid positions."""

    top: int
    left: int
    bottom: int
    right: int

    @property
    def rows(self) -> int:
        return self.bottom - self.top + 1

    @property
    def cols(self) -> int:
        return self.right - self.left + 1

    def covers(self, cell: Cell) -> bool:
        return (self.top <= cell.row and cell.row + cell.rowspan - 1 <= self.bottom
                and self.left <= cell.col and cell.col + cell.colspan - 1 <= self.right)

    def overlaps(self, cell: Cell) -> bool:
        return not (cell.row + cell.rowspan - 1 < self.top or cell.row > self.bottom
                    or cell.col + cell.colspan - 1 < self.left or cell.col > self.right)


def copy_table(table: Table) -> Table:
    """A deep copy, so edits to it never reach the original's cells."""
    return copy.deepcopy(table)


def restore_table(target: Table, source: Table) -> None:
    """Make ``target`` equal to ``source`` in place (other objects keep their reference)."""
    snapshot = copy.deepcopy(source)
    target.n_rows = snapshot.n_rows
    target.n_cols = snapshot.n_cols
    target.cells = snapshot.cells
    target.bbox = snapshot.bbox
    target.page = snapshot.page
    target.row_lines = snapshot.row_lines
    target.col_lines = snapshot.col_lines


def expand_to_whole_cells(table: Table, rng: CellRange) -> CellRange:
    """Grow ``rng`` until no merged cell sticks out of it (as spreadsheets do)."""
    top, left, bottom, right = rng.top, rng.left, rng.bottom, rng.right
    changed = True
    while changed:
        changed = False
        for c in table.cells:
            if CellRange(top, left, bottom, right).overlaps(c):
                nt, nl = min(top, c.row), min(left, c.col)
                nb = max(bottom, c.row + c.rowspan - 1)
                nr = max(right, c.col + c.colspan - 1)
                if (nt, nl, nb, nr) != (top, left, bottom, right):
                    top, left, bottom, right = nt, nl, nb, nr
                    changed = True
    return CellRange(top, left, bottom, right)


def _sorted(cells: list[Cell]) -> list[Cell]:
    return sorted(cells, key=lambda c: (c.row, c.col))


def _union_bbox(cells: list[Cell]) -> tuple[int, int, int, int]:
    return (min(c.bbox[0] for c in cells), min(c.bbox[1] for c in cells),
            max(c.bbox[2] for c in cells), max(c.bbox[3] for c in cells))


def merge_cells(table: Table, rng: CellRange) -> tuple[Table, list[Cell]]:
    """Merge every cell inside ``rng`` (grown to whole cells) into one cell."""
    _check_range(table, rng)
    rng = expand_to_whole_cells(table, rng)
    new = copy_table(table)
    inside = [c for c in new.cells if rng.covers(c)]
    if len(inside) < 2:
        raise GridEditError("select at least two cells to merge")
    text = " ".join(c.text for c in _sorted(inside) if c.text.strip())
    merged = Cell(row=rng.top, col=rng.left, rowspan=rng.rows, colspan=rng.cols,
                  bbox=_union_bbox(inside), text=text,
                  confidence=min(c.confidence for c in inside))
    new.cells = _sorted([c for c in new.cells if not rng.covers(c)] + [merged])
    return new, [merged]


def _band(lines: list[int], index: int, count: int, fallback: tuple[int, int]) -> tuple[int, int]:
    """Pixel extent of grid band ``index`` (0-based) of ``count`` bands."""
    if len(lines) == count + 1:
        return lines[index], lines[index + 1]
    lo, hi = fallback
    step = (hi - lo) / max(count, 1)
    return int(round(lo + index * step)), int(round(lo + (index + 1) * step))


def split_cells(table: Table, positions: list[tuple[int, int]]) -> tuple[Table, list[Cell]]:
    """Split the merged cells covering ``positions`` back into one cell per grid position."""
    new = copy_table(table)
    affected: list[Cell] = []
    for row, col in positions:
        target = new.cell_at(row, col)
        if target is None or not target.is_merged:
            if any(c is target for c in affected):
                continue  # already split through another of its positions
            raise GridEditError(f"cell {cell_name(row, col)} is not a merged cell")
        pieces = _split_in_place(new, target)
        affected += pieces
    return new, affected


def split_cell(table: Table, row: int, col: int) -> tuple[Table, list[Cell]]:
    return split_cells(table, [(row, col)])


def _split_in_place(new: Table, target: Cell) -> list[Cell]:
    x0, y0, x1, y1 = target.bbox
    grid_known = len(new.row_lines) == new.n_rows + 1 and len(new.col_lines) == new.n_cols + 1
    pieces = []
    for r in range(target.row, target.row + target.rowspan):
        for c in range(target.col, target.col + target.colspan):
            if grid_known:
                top, bottom = _band(new.row_lines, r, new.n_rows, (y0, y1))
                left, right = _band(new.col_lines, c, new.n_cols, (x0, x1))
                # Grid lines can lie a pixel outside the merged box; stay inside it.
                top, bottom = max(top, y0), min(bottom, y1)
                left, right = max(left, x0), min(right, x1)
            else:
                top, bottom = _band([], r - target.row, target.rowspan, (y0, y1))
                left, right = _band([], c - target.col, target.colspan, (x0, x1))
            is_origin = (r, c) == (target.row, target.col)
            pieces.append(Cell(row=r, col=c, bbox=(left, top, right, bottom),
                               text=target.text if is_origin else "",
                               confidence=target.confidence if is_origin else 1.0))
    new.cells = _sorted([c for c in new.cells if c is not target] + pieces)
    return pieces


# -- rows and columns -------------------------------------------------------------------
# One implementation for both axes: axis 0 works on rows, axis 1 on columns.

_START = ("row", "col")
_SPAN = ("rowspan", "colspan")
_COUNT = ("n_rows", "n_cols")
_LINES = ("row_lines", "col_lines")
# bbox indices of the low/high edge along each axis
_LO = (1, 0)
_HI = (3, 2)


Box = tuple[int, int, int, int]


def _with_edge(bbox: Box, index: int, value: int) -> Box:
    edges = list(bbox)
    edges[index] = int(value)
    return tuple(edges)  # type: ignore[return-value]


def find_gap(image: np.ndarray | None, axis: int, lo: int, hi: int,
             across: tuple[int, int]) -> int:
    """Where to cut the band [lo, hi) along ``axis``: the middle of the widest blank run.

    ``across`` limits the other axis (the table's extent), so text in the page margin
    does not count. Without an image, or if the band is too thin, the midpoint is used.
    """
    mid = (lo + hi) // 2
    if image is None or hi - lo < 6:
        return mid
    gray = image if image.ndim == 2 else image[..., :3].mean(axis=2)
    a0, a1 = max(0, across[0]), min(gray.shape[1 - axis], across[1])
    lo_c, hi_c = max(0, lo), min(gray.shape[axis], hi)
    if a1 - a0 < 2 or hi_c - lo_c < 6:
        return mid
    region = gray[lo_c:hi_c, a0:a1] if axis == 0 else gray[a0:a1, lo_c:hi_c].T
    ink = (255.0 - region).sum(axis=1)
    # Ignore a margin at each end: the band's own border lines live there.
    margin = max(2, (hi_c - lo_c) // 8)
    inner = ink[margin:len(ink) - margin]
    if inner.size == 0:
        return mid
    blank = inner <= inner.min() + 0.02 * max(float(ink.max()), 1.0)
    best, best_key = mid, None
    start = None
    for i, is_blank in enumerate(list(blank) + [False]):
        if is_blank and start is None:
            start = i
        elif not is_blank and start is not None:
            centre = lo_c + margin + (start + i - 1) / 2
            key = (i - start, -abs(centre - mid))  # widest run first, then closest to middle
            if best_key is None or key > best_key:
                best, best_key = int(round(centre)), key
            start = None
    return best


def insert_line(table: Table, axis: int, index: int,
                image: np.ndarray | None = None) -> tuple[Table, list[Cell]]:
    """Cut row/column ``index`` in two at a new grid line (detection missed one).

    The new row/column is ``index + 1``. Cells lying only in the cut band are split in
    two and both halves are returned for re-reading; merged cells that cross the band
    simply grow by one.
    """
    count = getattr(table, _COUNT[axis])
    if not 0 <= index < count:
        raise GridEditError(f"{('row', 'column')[axis]} {index + 1} is outside the table")
    new = copy_table(table)
    lines = getattr(new, _LINES[axis])
    across_lo, across_hi = (new.bbox[0], new.bbox[2]) if axis == 0 else (new.bbox[1], new.bbox[3])
    band_cells = [c for c in new.cells
                  if getattr(c, _START[axis]) == index and getattr(c, _SPAN[axis]) == 1]
    if len(lines) == count + 1:
        lo, hi = lines[index], lines[index + 1]
    elif band_cells:
        lo = min(c.bbox[_LO[axis]] for c in band_cells)
        hi = max(c.bbox[_HI[axis]] for c in band_cells)
    else:
        raise GridEditError("no cell lies only in this band; split the merged cell first")
    cut = find_gap(image, axis, lo, hi, (across_lo, across_hi))
    affected: list[Cell] = []
    added: list[Cell] = []
    for c in new.cells:
        start, span = getattr(c, _START[axis]), getattr(c, _SPAN[axis])
        if start > index:
            setattr(c, _START[axis], start + 1)
        elif span > 1 and start <= index <= start + span - 1:
            setattr(c, _SPAN[axis], span + 1)  # crosses the cut: stays one cell
        elif start == index:
            second = copy.deepcopy(c)
            setattr(second, _START[axis], index + 1)
            second.bbox = _with_edge(c.bbox, _LO[axis], cut)
            c.bbox = _with_edge(c.bbox, _HI[axis], cut)
            affected += [c, second]
            added.append(second)
    new.cells = _sorted(new.cells + added)
    setattr(new, _COUNT[axis], count + 1)
    if len(lines) == count + 1:
        lines.insert(index + 1, cut)
    return new, affected


def delete_lines(table: Table, axis: int, first: int, last: int) -> tuple[Table, list[Cell]]:
    """Remove rows/columns ``first..last`` and every cell that lies only in them.

    Merged cells crossing them shrink; when a removed band was at their edge their box
    shrinks too and they are returned for re-reading.
    """
    count = getattr(table, _COUNT[axis])
    what = ("row", "column")[axis]
    if not 0 <= first <= last < count:
        raise GridEditError(f"{what}s {first + 1}–{last + 1} are outside the table")
    if last - first + 1 >= count:
        raise GridEditError(f"a table needs at least one {what}")
    new = copy_table(table)
    affected: list[Cell] = []
    for index in range(last, first - 1, -1):  # from the far end, so indices stay valid
        affected += _delete_in_place(new, axis, index)
    # A cell shrunk by one deletion may have gone with a later one.
    alive = {id(c) for c in new.cells}
    unique = {id(c): c for c in affected if id(c) in alive}
    _shrink_table_bbox(new)
    return new, list(unique.values())


def delete_line(table: Table, axis: int, index: int) -> tuple[Table, list[Cell]]:
    return delete_lines(table, axis, index, index)


def _delete_in_place(new: Table, axis: int, index: int) -> list[Cell]:
    count = getattr(new, _COUNT[axis])
    lines = getattr(new, _LINES[axis])
    have_lines = len(lines) == count + 1
    kept: list[Cell] = []
    affected: list[Cell] = []
    for c in new.cells:
        start, span = getattr(c, _START[axis]), getattr(c, _SPAN[axis])
        end = start + span - 1
        if start > index:
            setattr(c, _START[axis], start - 1)
        elif end < index:
            pass
        elif span == 1:
            continue  # lies only in the deleted band
        else:
            setattr(c, _SPAN[axis], span - 1)
            if have_lines and start == index:
                c.bbox = _with_edge(c.bbox, _LO[axis], max(c.bbox[_LO[axis]], lines[index + 1]))
                affected.append(c)
            elif have_lines and end == index:
                c.bbox = _with_edge(c.bbox, _HI[axis], min(c.bbox[_HI[axis]], lines[index]))
                affected.append(c)
        kept.append(c)
    new.cells = _sorted(kept)
    setattr(new, _COUNT[axis], count - 1)
    if have_lines:
        # Drop one edge of the deleted band: the outer one at the table's edges, else the
        # far one (the next band then reaches back over the gap).
        del lines[0 if index == 0 else index + 1]
    return affected


def _shrink_table_bbox(table: Table) -> None:
    if table.cells:
        table.bbox = _union_bbox(table.cells)


def _check_range(table: Table, rng: CellRange) -> None:
    rows_ok = 0 <= rng.top <= rng.bottom < table.n_rows
    if not (rows_ok and 0 <= rng.left <= rng.right < table.n_cols):
        raise GridEditError("the selection is outside the table")


def column_name(col: int) -> str:
    """Spreadsheet column letters: 0 -> A, 25 -> Z, 26 -> AA."""
    name = ""
    col += 1
    while col:
        col, rem = divmod(col - 1, 26)
        name = chr(ord("A") + rem) + name
    return name


def cell_name(row: int, col: int) -> str:
    return f"{column_name(col)}{row + 1}"
