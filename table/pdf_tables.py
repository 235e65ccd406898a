"""Tables of a born-digital PDF page from its own text and drawings, with exact text.

Two kinds of evidence, the same as for scans but read from the file instead of
the pixels:

- **rules**: drawn lines and thin filled rectangles. Horizontal and vertical rules
  that cross make a ruled grid; a rule missing between two grid slots joins them
  into one spanning cell. A grid ruled in one direction only takes the other
  direction from the text.
- **text positions** (open tables, no rules): rows from baselines, columns from the
  vertical strips of white that no row's text crosses (``pdf_text.chunks``), spanning
  headers from the text that does cross a strip.

Every result is a ``table.model.Table`` in page pixels (``scale`` = pixels per
point), cells with their exact text and confidence 1.0, ``read_from="text-layer"``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from itertools import pairwise

from table.model import Cell, Table
from table.pdf_layer import Char, PdfLayer, Rule
from table.pdf_text import TextLine, chunks, region_text, text_lines

__all__ = ["layer_text", "tables_from_layer"]

_TOL = 2.0  # points: rules this close are one, ends this close touch
_COVER = 0.7  # a separator is drawn where rules cover this share of a slot's side
_ROW_GAP = 2.6  # font sizes between baselines that still continue an open table
_MIN_GAP = 0.15  # font sizes: the narrowest white strip that separates two columns
_SPAN_REACH = 0.4  # font sizes a run must reach over a drawn rule's place to span it
_SPAN_COST = 0.1  # a text spanning one more column must sit that much better (font sizes)
_CUT = 5.0  # cost of a boundary through a text below the header rows
_MAX_LAYOUTS = 400  # column layouts tried when white strips are dropped
_KEEP = 0.05  # font sizes: a column boundary keeps this far from body text (cell padding)
_CTOL = 0.05  # font sizes a centred header may be off its column range's middle
_PAD = 0.25  # font sizes: the padding between a cell's text and its edge
_FLUSH_PAD = 0.75  # font sizes: the most padding between flush text and its column's edge
_PARALLEL_GAP = 80.0  # points between parallel rules (rows apart) that still rule one table
_SIDE_REACH = 250.0  # points: how far an unframed outer column may reach


@dataclass
class _Grid:
    """A table's skeleton in points: separators and the cells (slots joined by spans)."""

    rows: list[float]
    cols: list[float]
    cells: list[tuple[int, int, int, int]]  # row, col, rowspan, colspan
    texts: dict[tuple[int, int], str] | None = None  # (row, col) -> text; None: from chars


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


def _ruled_grid(group: list[Rule], chars: Sequence[Char]) -> _Grid | None:
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
        return _open_grid(lines, bounds=(cols[0], rows[0], cols[1], rows[1]))
    text_rows = len(rows) == 2  # ruled in one direction only: the other from the text
    text_cols = len(cols) == 2
    if text_rows and len(lines) > 1:
        rows = [rows[0]] + [(a.bottom + b.top) / 2 for a, b in pairwise(lines)] + [rows[-1]]
    runs: list[tuple[float, float, float]] = []  # text runs: x0, x1, middle y
    if text_cols:
        grid = _open_grid(lines, bounds=(cols[0], rows[0], cols[-1], rows[-1]))
        if grid is not None and len(grid.cols) > 2:
            cols = grid.cols
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
            return (r == 0 and title) or any(a < x - reach and x + reach < b and rows[r] <= y < rows[r + 1]
                                             for a, b, y in runs)
        return not _covered(vs, False, cols[c + 1], rows[r], rows[r + 1])

    def joined_down(r: int, c: int) -> bool:
        return not text_rows and not _covered(hs, True, rows[r + 1], cols[c], cols[c + 1])

    n_rows, n_cols = len(rows) - 1, len(cols) - 1
    if n_rows * n_cols < 2:
        return None
    return _Grid(rows, cols, _slot_cells(n_rows, n_cols, joined_right, joined_down))


# --------------------------------------------------------------------------- open tables


def _runs_cover(runs: Sequence[tuple[float, float]], a: float, b: float) -> bool:
    return any(x0 < b and x1 > a for x0, x1 in runs)


def _open_grid(lines: list[TextLine], bounds: tuple[float, float, float, float] | None = None) -> _Grid | None:
    """Rows from ``lines``, columns from the white strips between their text runs;
    None when the lines make no table of at least two columns and two rows."""
    if len(lines) < 2:
        return None
    runs = [[(min(c.x0 for c in run), max(c.x1 for c in run), run) for run in chunks(ln)] for ln in lines]
    counts = sorted(len(r) for r in runs if len(r) > 1)
    if not counts:
        return None
    mode = max(set(counts), key=lambda n: (counts.count(n), n))
    body = [r for r in runs if len(r) >= mode]
    size = sorted(ln.size for ln in lines)[len(lines) // 2]
    x0 = min(a for r in body for a, _, _ in r)
    x1 = max(b for r in body for _, b, _ in r)
    edges = sorted({a for r in body for a, _, _ in r} | {b for r in body for _, b, _ in r})
    gaps: list[tuple[float, float]] = []
    for a, b in pairwise(edges):
        if b - a > 0 and not any(_runs_cover([(p, q)], a, b) for r in body for p, q, _ in r):
            if gaps and abs(gaps[-1][1] - a) < 1e-6:
                gaps[-1] = (gaps[-1][0], b)
            else:
                gaps.append((a, b))
    gaps = [(a, b) for a, b in gaps if b - a >= _MIN_GAP * size and x0 < a and b < x1]
    gaps = sorted(gaps + _gaps_under_header(runs, body, size))
    first_body = _header_rows(lines) or next(i for i, r in enumerate(runs) if len(r) >= mode)
    # How columns align is seen in every row below the headers, those with empty
    # cells too (a column of numbers of one width but one shows nothing).
    aligned = runs[first_body:]
    gaps = _drop_unshared_gaps(gaps, runs, aligned, size, (x0, x1))
    if not gaps:
        return None
    pad = 0.3 * size
    left, top, right, bottom = bounds or (x0 - pad, lines[0].top - pad, x1 + pad, lines[-1].bottom + pad)
    cols = [left] + _boundaries(gaps, aligned, size) + [right]
    # Header rows of one text (a title) say nothing about where columns end.
    headers = [r for r in runs[:first_body] if len(r) > 1]
    strips = _strips(gaps, aligned, size, (x0, x1))
    cols = _fit_headers(cols, strips[1:-1], headers, runs[first_body:], size)
    rows = [top] + [(a.bottom + b.top) / 2 for a, b in pairwise(lines)] + [bottom]
    cells: list[tuple[int, int, int, int]] = []
    texts: dict[tuple[int, int], str] = {}
    for r, row_runs in enumerate(runs):
        spans: list[list] = []  # [first col, last col, chars]
        centred = None  # a header row whose every text can be centred: only such spans
        if r < first_body:
            cores = [_core(a, b, cols) for a, b, _ in row_runs]
            ranges = [{(f, la) for f, la in _centred_ranges(a, b, strips, _CTOL * size)
                       if not any(f <= k <= la for j, k in enumerate(cores) if j != i)}
                      for i, (a, b, _) in enumerate(row_runs)]
            centred = ranges if all(ranges) else None
        for i, (a, b, run) in enumerate(row_runs):
            over, _ = _placement(a, b, cols, size, centred[i] if centred else None)
            if not over:
                continue
            first, last = over[0], over[-1]
            merged = [s for s in spans if s[0] <= last and first <= s[1]]
            for s in merged:
                first, last = min(first, s[0]), max(last, s[1])
                run = s[2] + run
                spans.remove(s)
            spans.append([first, last, run])
        taken = set()
        for first, last, run in spans:
            cells.append((r, first, 1, last - first + 1))
            texts[(r, first)] = region_text(run)
            taken.update(range(first, last + 1))
        cells.extend((r, k, 1, 1) for k in range(len(cols) - 1) if k not in taken)
    return _Grid(rows, cols, cells, texts)


def _face(chars: Sequence[Char]) -> str:
    faces = [c.face for c in chars if not c.text.isspace()]
    return max(set(faces), key=faces.count) if faces else ""


def _header_rows(lines: list[TextLine]) -> int:
    """How many lines at the top are set in another face than the table's text (a
    bold header); 0 when none are, or when that leaves no body."""
    face = _face([c for ln in lines for c in ln.chars])
    n = 0
    while n < len(lines) and _face(lines[n].chars) != face:
        n += 1
    return n if n < len(lines) - 1 else 0


def _alignment(runs: list[tuple[float, float]], tol: float) -> str:
    """ "left" when a column's text starts at one x and ends at several, "right" the
    other way round, else "" (centred, or every text of one width: no evidence)."""
    if len(runs) < 2:
        return ""
    starts = max(a for a, _ in runs) - min(a for a, _ in runs) <= tol
    ends = max(b for _, b in runs) - min(b for _, b in runs) <= tol
    return "left" if starts and not ends else "right" if ends and not starts else ""


def _column_alignments(gaps: list[tuple[float, float]], body: list[list], size: float) -> list[str]:
    """How each column's body text is set (``_alignment``), columns split at ``gaps``."""
    tol = 0.05 * size
    edges = [float("-inf")] + [x for gap in gaps for x in gap] + [float("inf")]
    columns = []
    for k in range(len(gaps) + 1):
        lo, hi = edges[2 * k], edges[2 * k + 1]
        columns.append(_alignment([(a, b) for row in body for a, b, _ in row
                                   if a >= lo - tol and b <= hi + tol], tol))
    return columns


def _strips(gaps: list[tuple[float, float]], body: list[list], size: float,
            extent: tuple[float, float]) -> list[tuple[float, float]]:
    """Where each column boundary may lie: in its white strip, and within a cell
    padding of text set flush against it; the outer two within the widest strip of
    the body's outer text (a table's margin is no wider than its gutters)."""
    columns = _column_alignments(gaps, body, size)
    margin = max(b - a for a, b in gaps)
    reach = _FLUSH_PAD * size
    # Between text set flush right and text set flush left the strip is two paddings
    # wide: where the table shows that, flush text lies no farther from its edge.
    pairs = [b - a for k, (a, b) in enumerate(gaps) if columns[k] == "right" and columns[k + 1] == "left"]
    if pairs:
        reach = min(reach, 0.75 * min(pairs) + _KEEP * size)
    x0, x1 = extent
    keep = min(_KEEP * size, min(b - a for a, b in gaps) / 2)
    out = [(x0 - (reach if columns[0] == "left" else margin), x0 - keep)]
    for k, (a, b) in enumerate(gaps):
        lo = max(a, b - reach) if columns[k + 1] == "left" else a
        hi = min(b, a + reach) if columns[k] == "right" else b
        lo, hi = max(lo, a + keep), min(hi, b - keep)
        out.append((lo, hi) if lo <= hi else ((a + b) / 2, (a + b) / 2))
    out.append((x1 + keep, x1 + (reach if columns[-1] == "right" else margin)))
    return out


def _boundaries(gaps: list[tuple[float, float]], body: list[list], size: float) -> list[float]:
    """Where in each white strip (a, b) between two columns their boundary lies, from
    how the body rows align: numbers set flush right end at a, so the boundary is a
    cell padding after a; text set flush left starts at b, so a padding before b;
    both or neither: the middle. Headers do not vote (they are often centred)."""
    columns = _column_alignments(gaps, body, size)
    out = []
    for k, (a, b) in enumerate(gaps):
        pad = min(_PAD * size, (b - a) / 2)
        flush_right, flush_left = columns[k] == "right", columns[k + 1] == "left"
        if flush_right and not flush_left:
            out.append(a + pad)
        elif flush_left and not flush_right:
            out.append(b - pad)
        else:
            out.append((a + b) / 2)
    return out


def _gaps_under_header(runs: list[list], body: list[list], size: float) -> list[tuple[float, float]]:
    """White strips the first row hides: a header spanning two columns covers the strip
    between them. A strip under one of its texts counts when at least two rows below
    have text on both sides of it, inside that text's extent."""
    if not body or body[0] is not runs[0] or len(body) < 3:
        return []
    out = []
    for h0, h1, _ in runs[0]:
        inner = [[(a, b) for a, b, _ in row if h0 < b and a < h1] for row in body[1:]]
        edges = sorted({x for row in inner for a, b in row for x in (a, b) if h0 < x < h1})
        for a, b in pairwise(edges):
            if b - a < _MIN_GAP * size or any(p < b and q > a for row in inner for p, q in row):
                continue
            support = sum(1 for row in inner if any(q <= a + 1e-6 for _, q in row)
                          and any(p >= b - 1e-6 for p, _ in row))
            if support >= 2:
                out.append((a, b))
    return out


def _unshared(gaps: list[tuple[float, float]], runs: list[list]) -> list[int]:
    """The strips no row has text on both sides of (just beside them)."""
    bounds = [float("-inf")] + [(a + b) / 2 for a, b in gaps] + [float("inf")]
    shared = [False] * len(gaps)
    for row in runs:
        cols = set()
        for a, b, _ in row:
            over = [k for k in range(len(bounds) - 1) if a < bounds[k + 1] and b > bounds[k]]
            if len(over) == 1:
                cols.add(over[0])
        for g in range(len(gaps)):
            if g in cols and g + 1 in cols:
                shared[g] = True
    return [g for g in range(len(gaps)) if not shared[g]]


def _drop_unshared_gaps(gaps: list[tuple[float, float]], runs: list[list], body: list[list],
                        size: float, extent: tuple[float, float]) -> list[tuple[float, float]]:
    """A white strip separates two columns only if some row has text on both sides of
    it; else it lies inside one column, between texts that never share a row (a short
    header and numbers set flush right below it). Dropping one strip can make another
    shared, so the orders of dropping are searched: of the layouts where every strip is
    shared, one with as many columns as the fullest row has runs, where the texts sit
    best in their columns."""
    flat = [(a, b) for row in runs for a, b, _ in row]
    widest = max(len(row) for row in runs)
    pad = _PAD * size

    def cost(trial: tuple[tuple[float, float], ...]) -> float:
        cols = [extent[0] - pad] + _boundaries(list(trial), body, size) + [extent[1] + pad]
        return sum(_placement(a, b, cols, size)[1] for a, b in flat)

    finals: dict[tuple, float] = {}
    seen: set[tuple] = set()
    stack = [tuple(gaps)]
    while stack and len(seen) < _MAX_LAYOUTS:
        state = stack.pop()
        if state in seen:
            continue
        seen.add(state)
        drops = _unshared(list(state), runs)
        if not drops:
            finals[state] = cost(state)
            continue
        stack.extend(state[:g] + state[g + 1:] for g in drops)
    if not finals:  # the search was cut short: drop greedily
        state = tuple(gaps)
        while drops := _unshared(list(state), runs):
            state = state[:drops[0]] + state[drops[0] + 1:]
        return list(state)
    return list(min(finals, key=lambda st: (len(st) + 1 != widest, finals[st])))


def _core(a: float, b: float, cols: list[float]) -> int:
    """The column a run from a to b overlaps most."""
    return max(range(len(cols) - 1), key=lambda k: min(b, cols[k + 1]) - max(a, cols[k]))


def _centred_ranges(a: float, b: float, strips: list[tuple[float, float]], tol: float) -> dict[tuple[int, int], float]:
    """The column ranges (first, last) a header from a to b can be centred in, each
    with its slack: its centre must be the midpoint of two boundaries, each inside its
    white strip (where no body text is; ``strips``, one per boundary, from ``_strips``),
    with the text between them. Body text of one width hides where a column ends; this
    does not need to know. The slack is how far the boundaries may move with the text
    still centred (the distance of its centre, doubled, to the nearest end of where it
    could be; negative down to -tol: only just)."""
    out = {}
    for first in range(len(strips) - 1):
        lo_x, hi_x = strips[first][0], min(strips[first][1], a)
        for last in range(first, len(strips) - 1):
            lo_y, hi_y = max(strips[last + 1][0], b), strips[last + 1][1]
            slack = min(a + b - lo_x - lo_y, hi_x + hi_y - a - b)
            if lo_x <= hi_x + tol and lo_y <= hi_y + tol and slack >= -tol:
                out[(first, last)] = slack
    return out


def _placement(a: float, b: float, cols: list[float], size: float,
               allowed: set[tuple[int, int]] | None = None) -> tuple[list[int], float]:
    """The columns a run of text from a to b belongs to, and how well it sits there (in
    font sizes; 0 is perfect). A cell's text is centred, flush left or flush right in
    its column range, and does not reach far beyond it; of the ranges of columns the run
    touches, the one it sits best in wins, a single column when that is as good.
    ``allowed``: the only ranges to consider (a header row set centred), if any holds
    the column the run overlaps most."""
    overlaps = [min(b, cols[k + 1]) - max(a, cols[k]) for k in range(len(cols) - 1)]
    touched = [k for k, o in enumerate(overlaps) if o > 0]
    if not touched:
        return [], 0.0
    core = max(touched, key=overlaps.__getitem__)
    pad = _PAD * size
    best: tuple[float, list[int]] | None = None
    ranges = [(f, la) for f in range(touched[0], core + 1) for la in range(core, touched[-1] + 1)]
    centred = sorted(rg for rg in allowed or () if rg[0] <= core <= rg[1])
    if centred:  # a centred header may not reach the columns it spans
        ranges = centred
    for first, last in ranges:
        left, right = cols[first], cols[last + 1]
        fit = min(abs((a + b) / 2 - (left + right) / 2), abs(a - left - pad), abs(right - pad - b))
        overflow = max(0.0, left - a) + max(0.0, b - right)
        cost = (fit + 2 * overflow) / size + _SPAN_COST * (last - first)
        if best is None or cost < best[0]:
            best = (cost, list(range(first, last + 1)))
    return best[1], best[0]


def _fit_cost(a: float, b: float, cols: list[float], size: float) -> float:
    return _placement(a, b, cols, size)[1]


def _fit_headers(cols: list[float], gaps: list[tuple[float, float]], others: list[list],
                 below: list[list], size: float) -> list[float]:
    """Move each boundary within its strip (``_strips``: where body text lets it lie) to where the rows that are not body
    rows (headers, a spanning group title) sit best in their columns: a centred header
    bleeding over a guessed boundary is not a cell spanning two columns, and a title
    centred over two columns is one."""
    runs = [(a, b) for row in others for a, b, _ in row]
    if not runs:
        return cols
    cols = list(cols)
    for g, (a, b) in enumerate(gaps):
        k = g + 1
        near = [(x0, x1) for x0, x1 in runs if x1 > cols[k - 1] and x0 < cols[k + 1]]
        if not near:
            continue
        candidates = {cols[k], (a + b) / 2, a + min(_PAD * size, (b - a) / 2), b - min(_PAD * size, (b - a) / 2)}
        candidates |= {x0 - 0.01 * size for x0, _ in near if a < x0 < b}
        candidates |= {x1 + 0.01 * size for _, x1 in near if a < x1 < b}

        def cost(x: float, k: int = k, near: list = near) -> float:
            trial = cols[:k] + [x] + cols[k + 1:]
            cut = sum(1 for row in below for x0, x1, _ in row if x0 < x < x1)  # rows below: no spans
            return sum(_fit_cost(x0, x1, trial, size) for x0, x1 in near) + _CUT * cut

        current = cost(cols[k])
        best = min(sorted(candidates), key=cost)
        if cost(best) < current - 0.25 * len(near):  # only a clearly better fit moves it
            cols[k] = best
    return cols


def _is_prose(line: TextLine, x0: float, x1: float) -> bool:
    """A line of running text (a title, a paragraph) rather than a table row: one run
    of text starting at the table's left edge and reaching over most of its width."""
    runs = chunks(line)
    if len(runs) != 1:
        return False
    a, b = min(c.x0 for c in runs[0]), max(c.x1 for c in runs[0])
    return a <= x0 + line.size and b - a >= 0.5 * (x1 - x0) or b < x0 or a > x1


def _open_tables(chars: Sequence[Char]) -> list[_Grid]:
    lines = text_lines(chars)
    blocks: list[list[TextLine]] = []
    for line in lines:
        if blocks and line.baseline - blocks[-1][-1].baseline <= _ROW_GAP * max(line.size, blocks[-1][-1].size):
            blocks[-1].append(line)
        else:
            blocks.append([line])
    grids = []
    for block in blocks:
        multi = [ln for ln in block if len(chunks(ln)) > 1]
        if len(multi) < 2:
            continue
        x0, x1 = min(ln.x0 for ln in multi), max(ln.x1 for ln in multi)
        # Titles and paragraphs above, below or between tables are not rows.
        parts: list[list[TextLine]] = [[]]
        for line in block:
            if _is_prose(line, x0, x1):
                parts.append([])
            else:
                parts[-1].append(line)
        for part in parts:
            grid = _open_grid(part)
            if grid is not None and len(grid.rows) > 2:
                grids.append(grid)
    return grids


# --------------------------------------------------------------------------- tables


def _to_table(grid: _Grid, chars: Sequence[Char], scale: float, page: int) -> Table:
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


def _inside(c: Char, grid: _Grid) -> bool:
    cy = (c.y0 + c.y1) / 2
    return grid.cols[0] - _TOL <= c.cx <= grid.cols[-1] + _TOL and grid.rows[0] - _TOL <= cy <= grid.rows[-1] + _TOL


def tables_from_layer(layer: PdfLayer, scale: float, page: int = 0, *,
                      use_invisible: bool = False) -> list[Table]:
    """Every table of a PDF page from its text layer and drawings, top to bottom.

    ``scale``: pixels per point of the page image the tables are laid over.
    ``use_invisible``: also read text drawn invisibly (an OCR layer under a scan).
    """
    chars = [c for c in layer.chars if use_invisible or not c.invisible]
    grids: list[_Grid] = []
    for group in _parallel_groups(_components(_merge_rules(layer.rules))):
        grid = _ruled_grid(group, chars)
        if grid is not None and not any(_overlaps(grid, g) for g in grids):
            grids.append(grid)
    used = [g for g in grids]
    free = [c for c in chars if not any(_inside(c, g) for g in used)]
    grids.extend(_open_tables(free))
    tables = []
    for grid in grids:
        mine = [c for c in chars if _inside(c, grid)]
        if not any(not c.text.isspace() for c in mine):
            continue  # a drawn frame with nothing in it
        tables.append(_to_table(grid, mine, scale, page))
    tables.sort(key=lambda t: (t.bbox[1], t.bbox[0]))
    return tables


def _overlaps(a: _Grid, b: _Grid) -> bool:
    return a.cols[0] < b.cols[-1] and b.cols[0] < a.cols[-1] and a.rows[0] < b.rows[-1] and b.rows[0] < a.rows[-1]


def layer_text(layer: PdfLayer, bbox: tuple[int, int, int, int], scale: float) -> str:
    """The exact text inside a box of page pixels (a cell after an edit of the grid)."""
    x0, y0, x1, y1 = (v / scale for v in bbox)
    return region_text([c for c in layer.chars if not c.invisible and x0 <= c.cx < x1
                        and y0 <= (c.y0 + c.y1) / 2 < y1])
