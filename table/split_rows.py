"""Row lines of a table region read against the paper between its text lines.

The split model's row map sees a table through a few lines of context: it marks a line
break inside a multi-line cell as readily as a row, and two separators where one gap
holds one. The page's text (table.text_gaps) tells them apart: a table parts its rows
by more paper than a cell parts its own lines, a table that draws its row lines (rules,
fill edges) draws them all, and a row line goes through paper, where a cell's crop can
end. Used by table.split_decode; every threshold here was chosen on the validation
pages. Works in model pixels.
"""

from __future__ import annotations

import numpy as np

from table.text_gaps import text_lines

__all__ = ["DRAWN_T", "column_ink", "drawn_rows", "drawn_rows_mask", "rows_in_gaps", "rows_through_paper"]

DRAWN_T = 0.5  # rule evidence along a separator above this: drawn, not inferred
DRAWN_SHARE = 0.6  # a table drawing this share of its row lines draws all of them
FILL_EDGE = 0.04  # change of background darkness across a row line: a fill's edge
# Rows from the paper between text lines (rows_in_gaps), chosen on the validation pages
# (dev open and mixed, seeds 7 and 11: 80 pages, grids right 28 -> 30, with the
# reconcile change 32; tables with the right row count 45 -> 51 of 96):
TIGHT = 0.6  # a gap under this share of the table's usual row gap is a line break in a cell
ROW_SIZED = 0.75  # a gap this share of the usual row gap or more is one between rows...
GAP_T = 0.4  # ...and takes a separator where the row map rises above this in it
LINE_H = 0.8  # text lines (median height, text heights) too broken to read gaps from below this
MIN_GAP = 0.25  # text heights: a gap this narrow or less is inside a line (an accent's)
TALL = 1.6  # a text line this many times the median line's height is two lines run together...
THIN = 0.15  # ...where its sparsest row holds at most this share of its fullest row's ink
LEVEL_GAP = 1.5  # a column's gap between two header levels is under this many usual row gaps
LEVEL_CENTRED = 0.15  # a label spanning two levels is centred on that gap within this share of it


def _row_medians(values: np.ndarray, left_out: np.ndarray) -> np.ndarray:
    """Per row, the median of the values not left out (0 where all are): one sort of the
    rows with the left-out values last (np.ma.median's masked argsort took 4x longer)."""
    rows = np.sort(np.where(left_out, np.float32(np.inf), values.astype(np.float32)), axis=1)
    count = values.shape[1] - left_out.sum(axis=1)
    at = np.arange(len(rows))
    lo = rows[at, np.maximum(count - 1, 0) // 2]
    hi = rows[at, np.minimum(count // 2, values.shape[1] - 1)]
    return np.where(count > 0, (lo + np.where(count % 2 == 0, hi, lo)) / 2, 0.0).astype(np.float32)


def drawn_rows_mask(rules: np.ndarray, ink: np.ndarray, text: np.ndarray,
                     box: tuple[int, int, int, int]) -> np.ndarray:
    """Per pixel row of a region: whether a row line is drawn there, as a rule across
    the region or as a fill's edge (the paper's darkness, text strokes left out, changes
    between the two rows above and the two from it on)."""
    x0, y0, x1, y1 = box
    ruled = (rules[y0:y1, x0:x1] > 0.3).mean(axis=1) > DRAWN_T
    level = _row_medians(ink[y0:y1, x0:x1], text[y0:y1, x0:x1])
    edge = np.zeros(len(level), bool)
    if len(level) > 3:
        above = (level[:-3] + level[1:-2]) / 2.0  # rows q-2, q-1 for q = 2 .. n-2
        below = (level[2:-1] + level[3:]) / 2.0  # rows q, q+1
        edge[2:-1] = np.abs(above - below) > FILL_EDGE
    return ruled | edge


def rows_through_paper(rows: list[tuple[float, float]], marked: np.ndarray,
                        text: np.ndarray, box: tuple[int, int, int, int], text_h: float
                        ) -> tuple[list[tuple[float, float]], int, int]:
    """Row lines where a cell's crop can end: each separator on the rule or fill edge
    nearest to it within half a text height, else on the nearest pixel row without text
    (the map's line, a model pixel off, can cut the tops off a row's letters); the
    region's top and bottom close on its text, onto a rule or fill edge within a text
    height of it (a total row's fill, the bottom rule), else half a text height away.
    ``marked``: drawn_rows_mask. Returns the rows and the new top and bottom."""
    x0, y0, x1, y1 = box
    n = y1 - y0
    inked = text[y0:y1, x0:x1].any(axis=1)
    half = max(1, int(round(0.5 * text_h)))

    def nearest(p: int, ok: np.ndarray, lo: int, hi: int) -> int | None:
        at = np.flatnonzero(ok[max(0, lo):min(n, hi)]) + max(0, lo)
        return int(at[np.argmin(np.abs(at - p))]) if len(at) else None

    out = []
    for pos, peak in rows:
        p = int(round(pos)) - y0
        q = nearest(p, marked & ~inked, p - half, p + half + 1)
        if q is None:
            q = nearest(p, ~inked, p - half, p + half + 1)
        out.append((float(y0 + (p if q is None else q)), peak))
    at = np.flatnonzero(inked)
    if not len(at):
        return out, y0, y1
    first, last = int(at[0]), int(at[-1])
    reach = int(round(text_h))
    top = nearest(first, marked, first - reach, first)  # the closest above the text
    bottom = nearest(last, marked, last + 1, last + reach + 1)
    top = max(0, first - half) if top is None else top
    bottom = min(n, last + 1 + half) if bottom is None else bottom + 1
    inner = [r for r in out if y0 + top < r[0] < y0 + bottom]
    return inner, y0 + top, y0 + bottom


def drawn_rows(rows: list[tuple[float, float]], marked: np.ndarray, y0: int, text_h: float
                ) -> list[tuple[float, float]]:
    """A table that draws most of its row lines, as rules or as the edges of zebra or
    band fills, draws them all: between its first and last drawn line, a row separator
    of the map with neither is a line break inside a multi-line cell. Above the first
    and below the last (a header of several levels, a total row) the map decides.
    ``marked``: drawn_rows_mask of the region, whose top is y0."""
    if len(rows) < 3:
        return rows
    half = max(1, int(round(0.5 * text_h)))

    def drawn(pos: float) -> bool:
        p = int(round(pos)) - y0
        return bool(marked[max(0, p - half):p + half + 1].any())

    marks = [drawn(p) for p, _ in rows]
    if sum(marks) < 3 or sum(marks) < DRAWN_SHARE * len(rows):
        return rows
    first, last = marks.index(True), len(marks) - 1 - marks[::-1].index(True)
    return [r for i, (r, m) in enumerate(zip(rows, marks)) if m or not first < i < last]


def rows_in_gaps(rows: list[tuple[float, float]], p_row: np.ndarray, text: np.ndarray,
                  box: tuple[int, int, int, int], text_h: float, split_t: float,
                  marked: np.ndarray | None, col_x: list[float] | None = None
                  ) -> tuple[list[tuple[float, float]], list[tuple[float, int]]]:
    """Row separators read against the paper between the region's text lines. A table
    parts its rows by more paper than a cell parts its own lines, so the gaps the row
    map marks tell the table's usual row gap. A separator in a gap much tighter than
    that is a line break inside a multi-line cell and goes, unless a rule or a fill's
    edge is drawn there (``marked``: drawn_rows_mask). A gap as wide as a row gap that
    the map leaves without a separator (its profile's run went on through the text
    lines on either side, so one separator stood for two) gets one where the map
    rises in it. A tight gap between two levels of a header, where a label centred across
    both bridges the paper between them, keeps its separator (_bridged_header_gap; with
    ``col_x``, the column separators' x). Separators away from every gap (text that
    bridges it: a cell centred beside a multi-line one) stay as the map put them.
    Returns the separators and, for each bridged gap, (y, column of the label)."""
    x0, y0, x1, y1 = box
    lines = text_lines(text[y0:y1, x0:x1])
    if len(lines) < 3 or np.median([b - a for a, b in lines]) < LINE_H * text_h:
        return rows, []
    profile = p_row[y0:y1, x0:x1].mean(axis=1)
    gaps = [(a, b) for (_, a), (b, _) in zip(lines, lines[1:]) if b - a > MIN_GAP * text_h]
    peaks = [float(profile[a:b].max()) for a, b in gaps]
    marked_gaps = [b - a for (a, b), k in zip(gaps, peaks) if k > split_t]
    if len(marked_gaps) < 2:
        return rows, []
    row_gap = float(np.median(marked_gaps))
    gaps = sorted(gaps + _lines_run_together(text[y0:y1, x0:x1], lines))
    peaks = [float(profile[a:b].max()) for a, b in gaps]
    reach = 0.5 * text_h
    out, placed, bridged = [], set(), []
    written = None  # column_ink of the region, read once it is needed
    for (a, b), peak in zip(gaps, peaks):
        inside = [r for r in rows if a - reach <= r[0] - y0 <= b - 1 + reach]
        placed.update(inside)
        drawn = marked is not None and bool(marked[a:b].any())
        if b - a < TIGHT * row_gap and not drawn:
            found = None
            if inside and col_x:
                if written is None:
                    written = column_ink(text, [x0, *col_x, x1], y0, y1)
                found = _bridged_header_gap(written, (a, b), row_gap)
            if found is not None:
                # Through the label that spans the two levels, at their paper's middle.
                out.append((float(y0 + found[0]), max(r[1] for r in inside)))
                bridged.append((float(y0 + found[0]), found[1]))
            continue
        if len(inside) > 1 and b - a < 2 * row_gap + text_h:
            # Two separators in a gap with no room for an empty row between them: the
            # map's run broke in two, and the sliver between them is no row.
            out.append(max(inside, key=lambda r: r[1]))
        elif inside:
            out += inside
        elif b - a >= ROW_SIZED * row_gap and peak > GAP_T:
            out.append((float(y0 + a + int(np.argmax(profile[a:b]))), peak))
    out += [r for r in rows if r not in placed]
    return sorted(set(out)), bridged


def column_ink(text: np.ndarray, col_lines: list[float], y0: int, y1: int) -> list[np.ndarray]:
    """Per column between consecutive ``col_lines``, which pixel rows from y0 to y1
    hold text inside it (a pixel clear of each line)."""
    xs = [int(round(x)) for x in col_lines]
    return [text[y0:y1, a + 1:max(a + 2, b - 1)].any(axis=1) for a, b in zip(xs, xs[1:])]


def _bridged_header_gap(written: list[np.ndarray], gap: tuple[int, int], row_gap: float
                        ) -> tuple[int, int] | None:
    """(row between two levels of a header, column of the label that spans both) where
    a tight gap between text lines is the paper between two levels of a header,
    bridged by a label centred across both (validation page mixed-7-00012: a row label
    beside a two-level header); else None. The label sits between the two levels'
    lines, so across the table the paper between them is tight; yet in some column the
    text above and below is parted by about a row's gap (ROW_SIZED to LEVEL_GAP of the
    usual one), and text in another column is centred on that gap (within
    LEVEL_CENTRED of it), as a label spanning two rows is. Beside a line break inside a
    multi-line cell a column is written through, or empty over a whole row and more,
    or holds a line centred on the cell, a row's gap from the row above (validation
    page open-7-00015). ``written``: column_ink of the region; ``gap`` in its rows."""
    a, b = gap
    for k, col in enumerate(written):
        if col[a:b].any():
            continue
        top = a - (int(np.flatnonzero(col[a - 1::-1])[0]) if col[:a].any() else a)
        end = b + (int(np.flatnonzero(col[b:])[0]) if col[b:].any() else len(col) - b)
        if top == 0 or end == len(col) or not ROW_SIZED * row_gap <= end - top < LEVEL_GAP * row_gap:
            continue
        middle = (top + end) // 2
        for j, other in enumerate(written):
            if j == k or not other[middle]:
                continue
            lo = middle - int(np.flatnonzero(~other[middle::-1])[0]) + 1 if (~other[:middle]).any() else 0
            hi = middle + int(np.flatnonzero(~other[middle:])[0]) if (~other[middle:]).any() else len(other)
            if abs((lo + hi) / 2.0 - (top + end) / 2.0) <= LEVEL_CENTRED * (end - top):
                return middle, j
    return None


def _lines_run_together(region: np.ndarray, lines: list[tuple[int, int]]
                        ) -> list[tuple[int, int]]:
    """A gap of one pixel row inside each text line that is two lines of a cell run
    together: a descender of the upper line touches an accent or a capital of the
    lower one, so no paper row parts them (validation pages open-7-00013 and
    mixed-7-00013: a two-line cell cut into two rows). Such a line is TALL times the
    median line or more, and its sparsest row of ink, away from its ends, holds at most
    THIN of its fullest."""
    heights = [b - a for a, b in lines]
    median = float(np.median(heights))
    count = region.sum(axis=1)
    found = []
    for (a, b), h in zip(lines, heights):
        if h < TALL * median:
            continue
        q = max(1, h // 4)
        mid = a + q + int(np.argmin(count[a + q:b - q]))
        if count[mid] <= THIN * count[a:b].max():
            found.append((mid, mid + 1))
    return found
