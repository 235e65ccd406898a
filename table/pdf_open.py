"""Open tables of a born-digital PDF page (no rules): rows from text lines, columns
from the vertical strips of white that no row's text crosses (``pdf_text.chunks``),
spanning headers from text that can only be centred over several columns (a header
row's texts read together: neighbours share their boundaries), header rows
from their face (bold) or from having fewer texts than the body.

``Grid`` is the skeleton of a table in points that ``pdf_tables`` turns into a
``table.model.Table``; ``pdf_tables`` also uses ``open_grid`` for the direction a
table ruled one way only leaves undrawn.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import pairwise, product

from table.pdf_layer import Char
from table.pdf_text import TextLine, chunks, region_text, text_lines

__all__ = ["Grid", "open_grid", "open_tables"]

_SUPPORT = 2
_NUMBER = re.compile(r"[-+(]?[$€£¥]?[\d.,]*\d[\d.,]*%?\)?")  # numbers: set flush right
_NEAR = 0.75  # lines closer than this share of the row pitch belong to one row (or a span)
_MIDWAY = 0.15  # a label spanning two rows sits this close (share of their distance) to midway
_LEADING = 1.45  # font sizes between the baselines of two lines of one cell, at most
_ROW_GAP = 2.6  # font sizes between baselines that still continue an open table
_MIN_GAP = 0.1  # font sizes: the narrowest white strip that separates two columns
_SPAN_COST = 0.1  # a text spanning one more column must sit that much better (font sizes)
_CUT = 5.0  # cost of a boundary through a text below the header rows
_MAX_LAYOUTS = 400  # column layouts tried when white strips are dropped
_KEEP = 0.05  # font sizes: a column boundary keeps this far from body text (cell padding)
_CTOL = 0.05  # font sizes a centred header may be off its column range's middle
_PAD = 0.25  # font sizes: the padding between a cell's text and its edge
_FLUSH_PAD = 0.75  # font sizes: the most padding between flush text and its column's edge


@dataclass
class Grid:
    """A table's skeleton in points: separators and the cells (slots joined by spans)."""

    rows: list[float]
    cols: list[float]
    cells: list[tuple[int, int, int, int]]  # row, col, rowspan, colspan
    texts: dict[tuple[int, int], str] | None = None  # (row, col) -> text; None: from chars


def _runs_cover(runs: Sequence[tuple[float, float]], a: float, b: float) -> bool:
    return any(x0 < b and x1 > a for x0, x1 in runs)


def open_grid(lines: list[TextLine], bounds: tuple[float, float, float, float] | None = None) -> Grid | None:
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
    gaps = _drop_unshared_gaps(gaps, runs, aligned, size, (x0, x1), lines)
    if not gaps:
        return None
    pad = 0.3 * size
    # Every text of a row of several texts lies inside the table: a header centred on
    # a column wider than its body text may reach past the body's outer edge.
    inner = [(a, b) for r in runs if len(r) > 1 for a, b, _ in r]
    ends = min([x0] + [a for a, _ in inner]), max([x1] + [b for _, b in inner])
    left, top, right, bottom = bounds or (ends[0] - pad, lines[0].top - pad, ends[1] + pad, lines[-1].bottom + pad)
    cols = [left] + _boundaries(gaps, aligned, size) + [right]
    # Header rows of one text (a title) say nothing about where columns end.
    headers = [r for r in runs[:first_body] if len(r) > 1]
    strips = _strips(gaps, aligned, size, (x0, x1))
    extents, reach = _unaligned_extents(gaps, aligned, size)
    cols = _fit_headers(cols, strips[1:-1], headers, runs[first_body:], size)
    groups, spanning = _row_groups(lines, [{_core(a, b, cols) for a, b, _ in r} for r in runs], size)
    rows = [top] + [(max(lines[i].bottom for i in g) + min(lines[j].top for j in h)) / 2
                    for g, h in pairwise(groups)] + [bottom]
    cells: list[tuple[int, int, int, int]] = []
    texts: dict[tuple[int, int], str] = {}
    taken: dict[int, set[int]] = {}
    for i, r in spanning.items():  # a label between two rows: it spans both
        for a, b, run in runs[i]:
            over, _ = _placement(a, b, cols, size)
            if over and not any(k in taken.get(r, ()) for k in over):
                cells.append((r, over[0], 2, len(over)))
                texts[(r, over[0])] = region_text(run)
                for rr in (r, r + 1):
                    taken.setdefault(rr, set()).update(over)
    for r, group in enumerate(groups):
        row_runs = [run for i in group for run in runs[i]]
        spans: list[list] = []  # [first col, last col, chars]
        centred = None  # a header row whose every text can be centred: only such spans
        if all(i < first_body for i in group):
            cores = [_core(a, b, cols) for a, b, _ in row_runs]
            ranges = [{(f, la) for f, la in _centred_ranges(a, b, strips, _CTOL * size)
                       if not any(f <= k <= la for j, k in enumerate(cores) if k != cores[i])
                       and (f != la or _body_sits(a, b, strips[f], strips[f + 1], extents[f], reach))}
                      for i, (a, b, _) in enumerate(row_runs)]
            centred = ranges if all(ranges) else None
            if centred:
                centred = _joint_ranges(row_runs, centred, strips, extents, reach, size) or centred
        for i, (a, b, run) in enumerate(row_runs):
            over, _ = _placement(a, b, cols, size, centred[i] if centred else None)
            over = [k for k in over if k not in taken.get(r, ())]
            if not over:
                continue
            first, last = over[0], over[-1]
            merged = [s for s in spans if s[0] <= last and first <= s[1]]
            for s in merged:
                first, last = min(first, s[0]), max(last, s[1])
                run = s[2] + run
                spans.remove(s)
            spans.append([first, last, run])
        mine = taken.setdefault(r, set())
        for first, last, run in spans:
            cells.append((r, first, 1, last - first + 1))
            texts[(r, first)] = region_text(run)
            mine.update(range(first, last + 1))
        cells.extend((r, k, 1, 1) for k in range(len(cols) - 1) if k not in mine)
    return Grid(rows, cols, cells, texts)


def _pitch(lines: list[TextLine]) -> float:
    """The distance between the baselines of two rows (most steps are whole rows)."""
    steps = sorted(b.baseline - a.baseline for a, b in pairwise(lines))
    return steps[3 * len(steps) // 4] if steps else 0.0


def _bands(runs: list[list], lines: list[TextLine]) -> list[list]:
    """The runs of lines closer than the row pitch, together."""
    pitch = _pitch(lines)
    out: list[list] = []
    for k, row in enumerate(runs):
        if k and lines[k].baseline - lines[k - 1].baseline < _NEAR * pitch:
            out[-1] = out[-1] + row
        else:
            out.append(list(row))
    return out


def _row_groups(lines: list[TextLine], occupied: list[set[int]],
                size: float) -> tuple[list[list[int]], dict[int, int]]:
    """The table's rows as groups of line indices, and the lines that span two rows
    (line index -> the upper row). Lines closer than the table's row pitch belong
    together: the lines of a multi-line cell (the row's other texts centred between
    them, or beside its first or last line) make one row; a line of texts in columns
    the lines above and below leave empty, midway between two rows, is a label
    spanning both."""
    base = [ln.baseline for ln in lines]
    pitch = _pitch(lines)
    near = [b - a < _NEAR * pitch for a, b in pairwise(base)]
    spanning: dict[int, int] = {}
    for i in range(1, len(lines) - 1):
        up, down = i - 1, i + 1
        apart = base[down] - base[up]
        # The rows above and below need not share a column: a label's neighbours may
        # each leave a different cell empty.
        if near[up] and near[i] and apart >= _NEAR * pitch \
                and not occupied[i] & (occupied[up] | occupied[down]) \
                and abs(base[i] - (base[up] + base[down]) / 2) <= _MIDWAY * apart and up not in spanning:
            spanning[i] = -1
    groups: list[list[int]] = []
    for i in range(len(lines)):
        if i in spanning:
            continue
        prev = groups[-1] if groups else None
        if prev is not None and base[i] - base[prev[-1]] < _NEAR * pitch:
            # Joins the row unless it holds text where the row has some already, other
            # than the next line of one cell (a line's leading below it).
            clash = [k for k in occupied[i] if any(k in occupied[j] for j in prev)]
            if all(base[i] - max(base[j] for j in prev if k in occupied[j]) <= _LEADING * size
                   for k in clash) and not any(j in spanning for j in range(prev[-1] + 1, i)):
                prev.append(i)
                continue
        groups.append([i])
    row_of = {i: r for r, g in enumerate(groups) for i in g}
    for i in spanning:
        spanning[i] = row_of[i - 1]
    return groups, spanning


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
    if len(runs) < 2 or max(b - a for a, b in runs) - min(b - a for a, b in runs) <= 4 * tol:
        return ""  # texts of (nearly) one width: no evidence
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


def _unaligned_extents(gaps: list[tuple[float, float]], body: list[list],
                       size: float) -> tuple[list[tuple[float, float, bool] | None], float]:
    """Per column whose body texts are all of one width (no alignment evidence): the
    extent of those texts and whether they are all numbers, else None; and how far
    flush text lies from its edge."""
    columns = _column_alignments(gaps, body, size)
    tol = 0.05 * size
    edges = [float("-inf")] + [x for gap in gaps for x in gap] + [float("inf")]
    out: list[tuple[float, float] | None] = []
    for k, how in enumerate(columns):
        lo, hi = edges[2 * k], edges[2 * k + 1]
        inside = [(a, b, run) for row in body for a, b, run in row if a >= lo - tol and b <= hi + tol]
        numeric = all(_NUMBER.fullmatch("".join(c.text for c in run).strip()) for _, _, run in inside)
        out.append((min(a for a, _, _ in inside), max(b for _, b, _ in inside), numeric)
                   if inside and not how else None)
    return out, _flush_reach(gaps, columns, size)


def _body_sits(a: float, b: float, left: tuple[float, float], right: tuple[float, float],
               extent: tuple[float, float, bool] | None, reach: float) -> bool:
    """Whether a header from a to b can be centred on one column (its boundaries in the
    strips ``left`` and ``right``) with the column's body text (``extent``: from, to,
    numbers?; of one width) set in it as body text is: flush left (not numbers) or flush
    right within ``reach`` of an edge, or centred."""
    if extent is None:
        return True
    p, q, numeric = extent
    if abs((a + b) / 2 - (p + q) / 2) <= reach / 2:
        return True
    # Left boundaries x that centre the header: x + y = a + b, y in the right strip.
    lo = max(left[0], a + b - right[1])
    hi = min(left[1], a, a + b - max(right[0], b))
    flush_left = lo <= p and hi >= p - reach and not numeric
    flush_right = lo <= a + b - q and hi >= a + b - q - reach
    return flush_left or flush_right


def _strips(gaps: list[tuple[float, float]], body: list[list], size: float,
            extent: tuple[float, float]) -> list[tuple[float, float]]:
    """Where each column boundary may lie: in its white strip, and within a cell
    padding of text set flush against it; the outer two within the widest strip of
    the body's outer text (a table's margin is no wider than its gutters)."""
    columns = _column_alignments(gaps, body, size)
    margin = max(b - a for a, b in gaps)
    reach = _flush_reach(gaps, columns, size)
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


def _flush_reach(gaps: list[tuple[float, float]], columns: list[str], size: float) -> float:
    """How far text set flush lies from its column's edge, at most. Between text set
    flush right and text set flush left the strip is two paddings wide: where the
    table shows that, flush text lies no farther from its edge."""
    pairs = [b - a for k, (a, b) in enumerate(gaps) if columns[k] == "right" and columns[k + 1] == "left"]
    return min(_FLUSH_PAD * size, 0.75 * min(pairs) + _KEEP * size) if pairs else _FLUSH_PAD * size


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
    """White strips the first row of several texts hides: a header spanning two columns
    covers the strip between them. A strip under one of its texts (or ending just past it) counts when
    no row below crosses it and one has text on both sides of it."""
    heading = next((row for row in runs if len(row) > 1), None)  # a title above says nothing
    if not body or body[0] is not heading or len(body) < 3:
        return []
    out = []
    reach = _MIN_GAP * size  # a header may end just where the text after the strip starts
    for h0, h1, _ in heading:
        h0, h1 = h0 - reach, h1 + reach
        inner = [[(a, b) for a, b, _ in row if h0 < b and a < h1] for row in body[1:]]
        edges = sorted({x for row in inner for a, b in row for x in (a, b) if h0 < x < h1})
        for a, b in pairwise(edges):
            if b - a < _MIN_GAP * size or any(p < b and q > a for row in inner for p, q in row):
                continue
            support = sum(1 for row in inner if any(q <= a + 1e-6 for _, q in row)
                          and any(p >= b - 1e-6 for p, _ in row))
            if support:
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
                        size: float, extent: tuple[float, float],
                        lines: list[TextLine]) -> list[tuple[float, float]]:
    """A white strip separates two columns only if some row has text on both sides of
    it; else it lies inside one column, between texts that never share a row (a short
    header and numbers set flush right below it). Lines closer than the row pitch
    count as one row here (a label between two rows, a two-line cell). Dropping one strip can make another
    shared, so the orders of dropping are searched: of the layouts where every strip is
    shared, one with as many columns as the fullest row has runs, where the texts sit
    best in their columns."""
    flat = [(a, b) for row in runs for a, b, _ in row]
    widest = max(len(row) for row in runs)
    pad = _PAD * size
    bands = _bands(runs, lines)

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
        drops = _unshared(list(state), bands)
        if not drops:
            finals[state] = cost(state)
            continue
        stack.extend(state[:g] + state[g + 1:] for g in drops)
    if not finals:  # the search was cut short: drop greedily
        state = tuple(gaps)
        while drops := _unshared(list(state), bands):
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


def _bounds_meet(domains: list[tuple[float, float]],
                 sums: list[tuple[int, int, float, float]]) -> bool:
    """Whether boundaries x_k, each in its domain, can meet every x_i + x_j in [lo, hi]
    (bounds propagated to a fixpoint: exact where the sums form no cycle)."""
    lo, hi = [d[0] for d in domains], [d[1] for d in domains]
    for _ in range(4 * len(domains)):
        changed = False
        for i, j, s0, s1 in sums:
            for p, q in ((i, j), (j, i)):
                nl, nh = max(lo[p], s0 - hi[q]), min(hi[p], s1 - lo[q])
                if nl > nh + 1e-9:
                    return False
                changed |= nl > lo[p] + 1e-9 or nh < hi[p] - 1e-9
                lo[p], hi[p] = nl, nh
        if not changed:
            break
    return True


def _joint_ranges(row_runs: list, ranges: list[set[tuple[int, int]]], strips: list[tuple[float, float]],
                  extents: list, reach: float, size: float) -> list[set[tuple[int, int]]] | None:
    """The column ranges of a centred header row's texts taken together: neighbouring
    headers share a boundary, so each text's range must be centred on boundaries that
    also centre the others, and leave each column of one-width body text set flush
    left (not numbers), flush right or centred in it. Of the readings that fit, the one
    spanning fewest columns; None when none fits, or two of them tie."""
    tol, keep = _CTOL * size, _KEEP * size
    domains = [(a - tol, b + tol) for a, b in strips]
    # What each column of one-width body text allows (one of: unary bound, or a sum).
    hyps = []
    for k, ext in enumerate(extents):
        if ext is None:
            continue
        p, q, numeric = ext
        opts = [("at", k + 1, q + keep, q + reach), ("sum", k, k + 1, p + q - 4 * tol, p + q + 4 * tol)]
        if not numeric:
            opts.append(("at", k, p - reach, p - keep))
        hyps.append(opts)
    picks = 1
    for opts in hyps:
        picks *= len(opts)
    limit = 10 * _MAX_LAYOUTS  # readings times body hypotheses checked, at most
    found: list[tuple[int, tuple]] = []
    tried = 0

    def fits(combo: tuple) -> bool:
        sums = [(f, la + 1, a + b - tol, a + b + tol) for (f, la), (a, b, _) in zip(combo, row_runs, strict=True)]
        inside = list(domains)  # each text lies between its range's boundaries
        for (f, la), (a, b, _) in zip(combo, row_runs, strict=True):
            inside[f] = (inside[f][0], min(inside[f][1], a + tol))
            inside[la + 1] = (max(inside[la + 1][0], b - tol), inside[la + 1][1])
        for pick in product(*hyps):
            dom, extra = list(inside), []
            for h in pick:
                if h[0] == "at":
                    dom[h[1]] = (max(dom[h[1]][0], h[2]), min(dom[h[1]][1], h[3]))
                else:
                    extra.append(h[1:])
            if all(a <= b for a, b in dom) and _bounds_meet(dom, sums + extra):
                return True
        return False

    def walk(i: int, combo: tuple) -> None:
        nonlocal tried
        if tried * picks > limit:
            return
        if i == len(ranges):
            tried += 1
            if fits(combo):
                found.append((sum(la - f for f, la in combo), combo))
            return
        for f, la in sorted(ranges[i]):
            if not combo or combo[-1][1] < f:
                walk(i + 1, combo + ((f, la),))

    walk(0, ())
    if not found or tried * picks > limit:
        return None
    found.sort()
    if len(found) > 1 and found[1][0] == found[0][0]:
        return None
    return [{rg} for rg in found[0][1]]


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
        pairs = [(q, u, p, v) for row in others
                 for (p, q, _), (u, v, _) in pairwise(sorted(row, key=lambda t: t[0])) if q < b and u > a]

        def cost(x: float, k: int = k, near: list = near, pairs: list = pairs) -> float:
            trial = cols[:k] + [x] + cols[k + 1:]
            cut = sum(1 for row in below for x0, x1, _ in row if x0 < x < x1)  # rows below: no spans
            # Two texts of one header row, with this strip's white between them, read
            # as one cell: the boundary that parts them is missed.
            shared = sum(1 for q, u, p, v in pairs if _core(p, q, trial) == _core(u, v, trial))
            return sum(_fit_cost(x0, x1, trial, size) for x0, x1 in near) + _CUT * (cut + shared)

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


def open_tables(chars: Sequence[Char]) -> list[Grid]:
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
            grid = open_grid(part)
            if grid is not None and len(grid.rows) > 2:
                grids.append(grid)
    return grids
