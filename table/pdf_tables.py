"""Tables of a born-digital PDF page from its own text and drawings, with exact text.

Two kinds of evidence, the same as for scans but read from the file instead of
the pixels:

- **rules**: drawn lines and thin filled rectangles. Horizontal and vertical rules
  that cross make a ruled grid; a rule missing between two grid slots joins them
  into one spanning cell. A grid ruled in one direction only takes the other
  direction from the text.
- **text positions** (open tables, no rules; ``pdf_open``): rows from baselines, columns from the
  vertical strips of white that no row's text crosses (``pdf_text.chunks``), spanning
  headers from the text that does cross a strip.

Every result is a ``table.model.Table`` in page pixels (``scale`` = pixels per
point), cells with their exact text and confidence 1.0, ``read_from="text-layer"``.
"""

from __future__ import annotations

from collections.abc import Sequence
from itertools import pairwise

from table.model import Cell, Table
from table.pdf_layer import Char, PdfLayer, Rule
from table.pdf_open import Grid, open_grid, open_tables
from table.pdf_text import chunks, region_text, text_lines

__all__ = ["layer_text", "tables_from_layer"]

_TOL = 2.0  # points: rules this close are one, ends this close touch
_COVER = 0.7  # a separator is drawn where rules cover this share of a slot's side
_SPAN_REACH = 0.4  # font sizes a run must reach over a drawn rule's place to span it
_PARALLEL_GAP = 80.0  # points between parallel rules (rows apart) that still rule one table
_SIDE_REACH = 250.0  # points: how far an unframed outer column may reach


# --------------------------------------------------------------------------- rules


def _merge_rules(rules: Sequence[Rule]) -> list[Rule]:
    """Collinear rules that touch or overlap, as one."""
    out: list[Rule] = []
    for r in sorted(rules, key=lambda r: (r.horizontal, round(r.pos / _TOL), r.start)):
        last = out[-1] if out else None
        if last is not None and last.horizontal == r.horizontal and abs(last.pos - r.pos) <= _TOL \
                and r.start <= last.end + _TOL:
            out[-1] = Rule(r.horizontal, (last.pos + r.pos) / 2, last.start, max(last.end, r.end))
        else:
            out.append(r)
    return out


def _crosses(h: Rule, v: Rule) -> bool:
    return h.start - _TOL <= v.pos <= h.end + _TOL and v.start - _TOL <= h.pos <= v.end + _TOL


def _components(rules: list[Rule]) -> list[list[Rule]]:
    parent = list(range(len(rules)))

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    hs = [i for i, r in enumerate(rules) if r.horizontal]
    vs = [i for i, r in enumerate(rules) if not r.horizontal]
    for i in hs:
        for j in vs:
            if _crosses(rules[i], rules[j]):
                parent[find(i)] = find(j)
    groups: dict[int, list[Rule]] = {}
    for i in range(len(rules)):
        groups.setdefault(find(i), []).append(rules[i])
    return list(groups.values())


def _cluster(values: Sequence[float]) -> list[float]:
    out: list[list[float]] = []
    for v in sorted(values):
        if out and v - out[-1][-1] <= _TOL:
            out[-1].append(v)
        else:
            out.append([v])
    return [sum(g) / len(g) for g in out]


def _covered(rules: Sequence[Rule], horizontal: bool, pos: float, a: float, b: float) -> bool:
    length = 0.0
    for r in rules:
        if r.horizontal == horizontal and abs(r.pos - pos) <= _TOL:
            length += max(0.0, min(b, r.end) - max(a, r.start))
    return length >= _COVER * (b - a)


def _slot_cells(n_rows: int, n_cols: int, joined_right, joined_down) -> list[tuple[int, int, int, int]]:
    """Cells from grid slots: ``joined_right(r, c)`` / ``joined_down(r, c)`` say that no
    separator lies between (r, c) and its right / lower neighbour. Joined slots become
    one rectangular cell (an L-shaped group is completed to its bounding box)."""
    owner = [[-1] * n_cols for _ in range(n_rows)]
    cells: list[list[int]] = []
    for r in range(n_rows):
        for c in range(n_cols):
            if owner[r][c] >= 0:
                continue
            r1, c1 = r + 1, c + 1
            while c1 < n_cols and joined_right(r, c1 - 1) and owner[r][c1] < 0:
                c1 += 1
            while r1 < n_rows and all(joined_down(r1 - 1, k) for k in range(c, c1)) \
                    and all(owner[r1][k] < 0 for k in range(c, c1)):
                r1 += 1
            for rr in range(r, r1):
                for cc in range(c, c1):
                    owner[rr][cc] = len(cells)
            cells.append([r, c, r1 - r, c1 - c])
    return [tuple(c) for c in cells]


def _parallel_groups(groups: list[list[Rule]]) -> list[list[Rule]]:
    """Rules that cross nothing but run parallel, close and overlapping (a table ruled
    between rows only, or between columns only) join into one group."""
    mixed = [g for g in groups if {r.horizontal for r in g} == {True, False}]
    out = list(mixed)
    for horizontal in (True, False):
        single = sorted((g for g in groups if {r.horizontal for r in g} == {horizontal}),
                        key=lambda g: min(r.pos for r in g))
        reach = _PARALLEL_GAP if horizontal else 3 * _PARALLEL_GAP
        merged: list[list[Rule]] = []
        for g in single:
            a, b = min(r.start for r in g), max(r.end for r in g)
            last = merged[-1] if merged else None
            if last is not None:
                la, lb = min(r.start for r in last), max(r.end for r in last)
                overlap = min(b, lb) - max(a, la)
                near = min(r.pos for r in g) - max(r.pos for r in last) <= reach
                if near and overlap >= 0.5 * min(b - a, lb - la):
                    last.extend(g)
                    continue
            merged.append(list(g))
        out.extend(merged)
    return out


def _side_text(chars: Sequence[Char], top: float, bottom: float, left: float, right: float) -> tuple[float, float]:
    """A table ruled between its columns only has no frame: its outer columns reach
    as far as the text beside the outer rules does."""
    band = [c for c in chars if top <= (c.y0 + c.y1) / 2 <= bottom and not c.text.isspace()]
    outer_left = [c.x0 for c in band if c.x1 <= left + _TOL and c.x0 >= left - _SIDE_REACH]
    outer_right = [c.x1 for c in band if c.x0 >= right - _TOL and c.x1 <= right + _SIDE_REACH]
    pad = 2.0
    return (min(outer_left) - pad if outer_left else left, max(outer_right) + pad if outer_right else right)


def _ruled_grid(group: list[Rule], chars: Sequence[Char]) -> Grid | None:
    hs = [r for r in group if r.horizontal]
    vs = [r for r in group if not r.horizontal]
    h_pos = _cluster([r.pos for r in hs])
    v_pos = _cluster([r.pos for r in vs])
    if vs and hs:
        rows = _cluster(h_pos + [min(v.start for v in vs), max(v.end for v in vs)])
        cols = _cluster(v_pos + [min(h.start for h in hs), max(h.end for h in hs)])
    elif hs:  # rules between rows only: the rules' extent is the table's
        if len(h_pos) < 2:
            return None
        rows, cols = h_pos, [min(h.start for h in hs), max(h.end for h in hs)]
    else:  # rules between columns only
        if len(v_pos) < 1:
            return None
        top, bottom = min(v.start for v in vs), max(v.end for v in vs)
        left, right = _side_text(chars, top, bottom, v_pos[0], v_pos[-1])
        rows, cols = [top, bottom], _cluster([left] + v_pos + [right])
    inside = [c for c in chars if cols[0] <= c.cx <= cols[-1] and rows[0] <= (c.y0 + c.y1) / 2 <= rows[-1]]
    if len(rows) < 2 or len(cols) < 2 or not inside:
        return None
    lines = text_lines(inside)
    if len(rows) == 2 and len(cols) == 2:  # a box: a table only if its text makes one
        return open_grid(lines, bounds=(cols[0], rows[0], cols[1], rows[1]))
    text_rows = len(rows) == 2  # ruled in one direction only: the other from the text
    text_cols = len(cols) == 2
    if text_rows and len(lines) > 1:
        rows = [rows[0]] + [(a.bottom + b.top) / 2 for a, b in pairwise(lines)] + [rows[-1]]
    runs: list[tuple[float, float, float]] = []  # text runs: x0, x1, middle y
    spanned: set[tuple[int, int]] = set()  # (row, col): joined to its right neighbour
    opened = False
    if text_cols:
        grid = open_grid(lines, bounds=(cols[0], rows[0], cols[-1], rows[-1]))
        if grid is not None and len(grid.cols) > 2:
            cols, opened = grid.cols, True
            # What the text says spans columns (a header centred over them) spans them
            # in the ruled row it lies in.
            for orow, c, _, cs in grid.cells:
                y = (grid.rows[orow] + grid.rows[orow + 1]) / 2
                r = next((i for i in range(len(rows) - 1) if rows[i] <= y < rows[i + 1]), None)
                if r is not None:
                    spanned.update((r, k) for k in range(c, c + cs - 1))
        runs = [(min(c.x0 for c in run), max(c.x1 for c in run), ln.baseline)
                for ln in lines for run in chunks(ln)]

    title = False  # a first row holding one text centred on the table: a title over it all
    size = sorted(ln.size for ln in lines)[len(lines) // 2] if lines else 10.0
    if text_cols and len(cols) > 2:
        first = [(a, b) for a, b, y in runs if rows[0] <= y < rows[1]]
        if len(first) == 1:
            middle, width = (cols[0] + cols[-1]) / 2, cols[-1] - cols[0]
            title = abs(sum(first[0]) / 2 - middle) <= max(size, 0.02 * width)

    def joined_right(r: int, c: int) -> bool:
        if text_cols:  # a run of text across the boundary: a cell spanning columns
            x = cols[c + 1]
            reach = _SPAN_REACH * size
            if opened:  # the open-table reading placed every text: its spans
                return (r == 0 and title) or (r, c) in spanned
            return (r == 0 and title) or any(
                a < x - reach and x + reach < b and rows[r] <= y < rows[r + 1] for a, b, y in runs)
        return not _covered(vs, False, cols[c + 1], rows[r], rows[r + 1])

    def joined_down(r: int, c: int) -> bool:
        return not text_rows and not _covered(hs, True, rows[r + 1], cols[c], cols[c + 1])

    n_rows, n_cols = len(rows) - 1, len(cols) - 1
    if n_rows * n_cols < 2:
        return None
    return Grid(rows, cols, _slot_cells(n_rows, n_cols, joined_right, joined_down))


# --------------------------------------------------------------------------- tables


def _to_table(grid: Grid, chars: Sequence[Char], scale: float, page: int) -> Table:
    px_rows = [round(v * scale) for v in grid.rows]
    px_cols = [round(v * scale) for v in grid.cols]
    by_cell: dict[tuple[int, int], list[Char]] = {}
    if grid.texts is None:
        # Whole runs of text go to the cell their middle is in: a word is never cut in
        # two by a boundary that was placed from the text (a table ruled one way only).
        for line in text_lines(chars):
            for run in chunks(line):
                cx = (min(c.x0 for c in run) + max(c.x1 for c in run)) / 2
                cy = sum(c.y0 + c.y1 for c in run) / (2 * len(run))
                r = next((i for i in range(len(grid.rows) - 1) if grid.rows[i] <= cy < grid.rows[i + 1]), None)
                k = next((i for i in range(len(grid.cols) - 1) if grid.cols[i] <= cx < grid.cols[i + 1]), None)
                if r is not None and k is not None:
                    by_cell.setdefault((r, k), []).extend(run)
    cells = []
    for r, k, rs, cs in grid.cells:
        if grid.texts is not None:
            text = grid.texts.get((r, k), "")
        else:
            text = region_text([c for rr in range(r, r + rs) for kk in range(k, k + cs)
                                for c in by_cell.get((rr, kk), [])])
        box = (px_cols[k], px_rows[r], px_cols[k + cs], px_rows[r + rs])
        cells.append(Cell(r, k, rs, cs, box, text, 1.0))
    return Table(len(grid.rows) - 1, len(grid.cols) - 1, cells,
                 (px_cols[0], px_rows[0], px_cols[-1], px_rows[-1]), page, px_rows, px_cols,
                 pdf_scale=1.0 / scale, read_from="text-layer")


def _inside(c: Char, grid: Grid) -> bool:
    cy = (c.y0 + c.y1) / 2
    return grid.cols[0] - _TOL <= c.cx <= grid.cols[-1] + _TOL and grid.rows[0] - _TOL <= cy <= grid.rows[-1] + _TOL


def tables_from_layer(layer: PdfLayer, scale: float, page: int = 0, *,
                      use_invisible: bool = False) -> list[Table]:
    """Every table of a PDF page from its text layer and drawings, top to bottom.

    ``scale``: pixels per point of the page image the tables are laid over.
    ``use_invisible``: also read text drawn invisibly (an OCR layer under a scan).
    """
    chars = [c for c in layer.chars if use_invisible or not c.invisible]
    grids: list[Grid] = []
    for group in _parallel_groups(_components(_merge_rules(layer.rules))):
        grid = _ruled_grid(group, chars)
        if grid is not None and not any(_overlaps(grid, g) for g in grids):
            grids.append(grid)
    used = [g for g in grids]
    free = [c for c in chars if not any(_inside(c, g) for g in used)]
    grids.extend(open_tables(free))
    tables = []
    for grid in grids:
        mine = [c for c in chars if _inside(c, grid)]
        if not any(not c.text.isspace() for c in mine):
            continue  # a drawn frame with nothing in it
        tables.append(_to_table(grid, mine, scale, page))
    tables.sort(key=lambda t: (t.bbox[1], t.bbox[0]))
    return tables


def _overlaps(a: Grid, b: Grid) -> bool:
    return a.cols[0] < b.cols[-1] and b.cols[0] < a.cols[-1] and a.rows[0] < b.rows[-1] and b.rows[0] < a.rows[-1]


def layer_text(layer: PdfLayer, bbox: tuple[int, int, int, int], scale: float) -> str:
    """The exact text inside a box of page pixels (a cell after an edit of the grid)."""
    x0, y0, x1, y1 = (v / scale for v in bbox)
    return region_text([c for c in layer.chars if not c.invisible and x0 <= c.cx < x1
                        and y0 <= (c.y0 + c.y1) / 2 < y1])
