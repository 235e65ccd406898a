"""From the split model's three probability maps to tables of cells with spans.

SPLERGE's split stage projects row and column separator evidence along the table:
here, per table region (table.split_regions), the row-separator map
is averaged along x and the column-separator map along y; each run of the profile above
SPLIT_T is one separator, placed at the run's probability-weighted centre. The merge
stage reads the same maps segment by segment: a separator segment between two grid
slots whose mean probability stays under MERGE_T does not exist, and the two slots join
(spans are grown to rectangles). Every separator knows whether rule ink backs it
(drawn) or only the model (inferred), and every cell gets a structure confidence: how
clearly its own boundaries were decided.

Where the page itself is given (the input's ink channel), its evidence corrects the
maps: captions, footnotes and running text leave the regions (table.split_regions),
columns follow the whitespace rivers (table.text_gaps), rows the paper between text
lines (table.split_rows: a cell's own line break is tighter than a row's, and a table
that draws its row lines, rules or fill edges, keeps its multi-line cells whole), and
a header centred over several columns, or a label over two rows, spans them.
Every threshold here was chosen on the validation pages (eval_structure).

Works in model pixels; the caller maps lines back to page pixels.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from table.split_regions import inside_prose, regions, without_captions
from table.split_rows import (
    DRAWN_T,
    column_ink,
    drawn_rows,
    drawn_rows_mask,
    rows_in_gaps,
    rows_through_paper,
)
from table.text import true_runs
from table.text_gaps import RIVER_MIN, crosses, line_cover, rivers, text_lines, text_mask

__all__ = ["DecodedCell", "DecodedTable", "decode"]

SPLIT_T = 0.35  # a profile run above this is a separator
MERGE_T = 0.25  # a segment whose mean probability is under this is absent
# Columns from whitespace rivers (table.text_gaps), chosen on validation pages:
RIVER_T = 0.45  # the column map's peak inside a river that makes it a separator
WIDE_RIVER = 2.5  # text heights: a river this wide is a separator whatever the map says
RIVER_LINES = 2  # text lines with text on both sides of a river, for it to part cells
LONE_T = 0.6  # a map separator with text across it (no river) is kept above this peak
# A row separator's strength is the row map's mean along the whole line, which spanning
# cells and gaps in the text dilute: one this strong is as sure as it gets. On the
# validation pages (dev open + mixed, seeds 7 and 11: 40 pages) the share of cells
# flagged in tables with a right grid fell 28 % -> 14 % (0.9) -> 11 % (0.85) -> 10 %
# (0.8); every table with a wrong grid that had a flagged cell kept one (24 of 33).
ROW_SURE = 0.85
CENTRED = 0.1  # a header text this near a centre (share of its column, at least a text height)


@dataclass
class DecodedCell:
    row: int
    col: int
    rowspan: int
    colspan: int
    confidence: float


@dataclass
class DecodedTable:
    bbox: tuple[int, int, int, int]  # model pixels, x1/y1 exclusive
    row_lines: list[float]  # n_rows + 1
    col_lines: list[float]  # n_cols + 1
    row_drawn: list[bool]  # per row line: rule ink along it
    col_drawn: list[bool]
    cells: list[DecodedCell] = field(default_factory=list)
    confidence: float = 1.0  # mean table-map probability inside the region

    @property
    def n_rows(self) -> int:
        return len(self.row_lines) - 1

    @property
    def n_cols(self) -> int:
        return len(self.col_lines) - 1


def _splits(profile: np.ndarray, lo: int, min_gap: float, split_t: float
            ) -> list[tuple[float, float]]:
    """(position, peak) of each run of ``profile`` above split_t, not touching the ends."""
    above = profile > split_t
    out = []
    i, n = 0, len(profile)
    while i < n:
        if not above[i]:
            i += 1
            continue
        j = i
        while j < n and above[j]:
            j += 1
        if i > 0 and j < n:
            w = profile[i:j]
            pos = float((np.arange(i, j) * w).sum() / w.sum())
            out.append((lo + pos, float(w.max())))
        i = j
    # runs closer than min_gap are one separator split by noise: keep the stronger
    kept: list[tuple[float, float]] = []
    for pos, peak in out:
        if kept and pos - kept[-1][0] < min_gap:
            if peak > kept[-1][1]:
                kept[-1] = (pos, peak)
            continue
        kept.append((pos, peak))
    return kept


def _segment(prob: np.ndarray, horizontal: bool, at: float, a: float, b: float, half: int) -> float:
    """Mean separator probability along one segment, at the best offset within ±half."""
    p = int(round(at))
    a_i, b_i = int(round(a)), int(round(b))
    inset = max(1, (b_i - a_i) // 6)  # ends touch the crossing separators
    a_i, b_i = a_i + inset, max(a_i + inset + 1, b_i - inset)
    lo = max(0, p - half)
    if horizontal:
        band = prob[lo:p + half + 1, a_i:b_i]
        return float(band.mean(axis=1).max()) if band.size else 0.0
    band = prob[a_i:b_i, lo:p + half + 1]
    return float(band.mean(axis=0).max()) if band.size else 0.0


def _rectangles(n_rows: int, n_cols: int, joined_h, joined_v) -> list[tuple[int, int, int, int]]:
    """Grid slots joined across absent segments, grown to rectangles: (r, c, rs, cs)."""
    parent = list(range(n_rows * n_cols))

    def find(a: int) -> int:
        while parent[a] != a:
            parent[a] = parent[parent[a]]
            a = parent[a]
        return a

    def union(a: int, b: int) -> None:
        parent[find(a)] = find(b)

    for i in range(1, n_rows):
        for c in range(n_cols):
            if joined_h[i][c]:
                union((i - 1) * n_cols + c, i * n_cols + c)
    for r in range(n_rows):
        for j in range(1, n_cols):
            if joined_v[r][j]:
                union(r * n_cols + j - 1, r * n_cols + j)
    changed = True
    while changed:  # a joined shape that is not a rectangle absorbs its bounding box
        changed = False
        boxes: dict[int, list[int]] = {}
        for r in range(n_rows):
            for c in range(n_cols):
                b = boxes.setdefault(find(r * n_cols + c), [r, c, r, c])
                b[0], b[1], b[2], b[3] = min(b[0], r), min(b[1], c), max(b[2], r), max(b[3], c)
        for root, (r0, c0, r1, c1) in boxes.items():
            for r in range(r0, r1 + 1):
                for c in range(c0, c1 + 1):
                    if find(r * n_cols + c) != find(root):
                        union(r * n_cols + c, root)
                        changed = True
    seen, out = set(), []
    for r in range(n_rows):
        for c in range(n_cols):
            root = find(r * n_cols + c)
            if root in seen:
                continue
            seen.add(root)
            rr = [q // n_cols for q in range(n_rows * n_cols) if find(q) == root]
            cc = [q % n_cols for q in range(n_rows * n_cols) if find(q) == root]
            out.append((min(rr), min(cc), max(rr) - min(rr) + 1, max(cc) - min(cc) + 1))
    return out


def _place(profile: np.ndarray, ruled: np.ndarray, cover: np.ndarray, a: int) -> float:
    """Where in a river (from x = a) its separator goes: where the fewest text lines
    cross it (a header wider than its column reaches into the river; the boundary is
    beside it, not through it), and among those places the nearest to a rule drawn
    there, else to the column map's peak where the map sees one, else to the middle.
    Without a rule, only stretches of the fewest crossings at least half as wide as the
    widest such stretch count: the gaps between a header's words and letters are as
    free, and narrow (validation page open-7-00015: a header cut in two)."""
    runs = true_runs(cover == cover.min())
    if ruled.max() > DRAWN_T:
        want = float(np.argmax(ruled))
    else:
        widest = max(b - c for c, b in runs)
        runs = [(c, b) for c, b in runs if 2 * (b - c) >= widest]
        if profile.max() > RIVER_T:
            w = np.where(profile > 0.5 * profile.max(), profile, 0.0)
            want = float((np.arange(len(w)) * w).sum() / w.sum())
        else:
            want = (len(profile) - 1) / 2.0
    free = np.concatenate([np.arange(c, b) for c, b in runs])
    return a + float(free[np.argmin(np.abs(free - want))])


def _within_text(seps: list, inked: np.ndarray, lo: int) -> list:
    """Separators (position first) strictly between the first and last text of a region
    (``inked``: whether each pixel row, or column, from ``lo`` on holds text). A region
    may overhang its text (the map's blur, rules longer than the table): a band at
    either end with no text at all is margin, not a row or column."""
    at = np.flatnonzero(inked)
    if not len(at):
        return seps
    return [s for s in seps if lo + at[0] < s[0] < lo + at[-1]]


def _without_spills(found: list, region: np.ndarray, lines: list[tuple[int, int]], x0: int,
                    text_h: float) -> list:
    """A column has text of its own: a band between two separators whose every text line
    runs in across one of them is the spill of a long cell into a wide gap, which the
    cell's tail splits into two rivers. The separator those lines cross goes (the weaker
    by the map, where they cross both). ``found``: (x, peak, river) sorted by x."""
    found = list(found)
    k = 1
    while k < len(found):
        a, b = found[k - 1][0] - x0, found[k][0] - x0
        inside = [ln for ln in lines if region[ln[0]:ln[1], int(a) + 1:int(b)].any()]
        cross_a = [crosses(region, a, *ln, 0.25 * text_h) for ln in inside]
        cross_b = [crosses(region, b, *ln, 0.25 * text_h) for ln in inside]
        if inside and all(ca or cb for ca, cb in zip(cross_a, cross_b)):
            if not any(cross_b) or (any(cross_a) and found[k - 1][1] < found[k][1]):
                del found[k - 1]
            else:
                del found[k]
            continue
        k += 1
    return found


def _between_text(region: np.ndarray, lines: list[tuple[int, int]], gap: tuple[int, int]) -> int:
    """How many text lines have text on both sides of a river (x0, x1): the lines that
    show it is a gap between cells, not the end of a short line."""
    a, b = gap
    return sum(bool(region[y0:y1, :a].any() and region[y0:y1, b:].any()) for y0, y1 in lines)


def _river_columns(p_col: np.ndarray, rules: np.ndarray, text: np.ndarray, box: tuple[int, int, int, int],
                   text_h: float, model_cols: list[tuple[float, float]]
                   ) -> tuple[list[tuple[float, float]], list[tuple[int, int] | None]]:
    """Column separators of one region from its whitespace rivers, confirmed by the
    column map, plus the map's own strong separators that no river explains (a column
    whose cells touch). Returns (position, peak) pairs and, per separator, the river
    it stands in (x0, x1), or None for a separator of the map alone."""
    x0, y0, x1, y1 = box
    profile = p_col[y0:y1, x0:x1].mean(axis=0)
    ruled = rules[y0:y1, x0:x1].mean(axis=0)
    region = text[y0:y1, x0:x1]
    lines = text_lines(region)
    cover = line_cover(region, lines)
    gaps = [g for g in rivers(cover, len(lines), RIVER_MIN * text_h)
            if _between_text(region, lines, g) >= RIVER_LINES]
    found = [(x0 + _place(profile[a:b], ruled[a:b], cover[a:b], a), float(profile[a:b].max()),
              (x0 + a, x0 + b))
             for a, b in gaps if profile[a:b].max() > RIVER_T or b - a >= WIDE_RIVER * text_h]
    near = [(x0 + a - 2, x0 + b + 2) for a, b in gaps]
    found += [(pos, peak, None) for pos, peak in model_cols
              if peak > LONE_T and not any(a <= pos <= b for a, b in near)
              and _between_text(region, lines, (int(pos) - x0, int(pos) - x0 + 1)) >= RIVER_LINES]
    found.sort(key=lambda f: f[0])
    found = _within_text(_without_spills(found, region, lines, x0, text_h), region.any(axis=0), x0)
    return [(p, k) for p, k, _ in found], [r for _, _, r in found]


def _sure(p: float, t: float, full: float = 1.0) -> float:
    """How clearly probability p is on its side of threshold t: 0 at t, 1 at 0 or at
    ``full`` (1 unless the evidence never gets that strong)."""
    return float(min(1.0, (t - p) / t if p < t else (p - t) / (max(full, t + 0.05) - t)))


def _centred_on_line(column: np.ndarray, row_lines: list[float], i: int, text_h: float) -> bool:
    """Whether a column's only text in rows i - 1 and i is one line (at most two text
    heights tall) centred on row line i, within half a text height: a label set across
    both rows. ``column``: its column_ink from the table's top, row_lines[0]."""
    y0 = int(row_lines[0])
    top = int(row_lines[i - 1]) + 1 - y0
    inked = np.flatnonzero(column[top:max(top + 1, int(row_lines[i + 1]) - 1 - y0)])
    if not len(inked) or inked[-1] + 1 - inked[0] > 2 * text_h:
        return False
    return abs(y0 + top + (inked[0] + inked[-1] + 1) / 2.0 - row_lines[i]) <= 0.5 * text_h


def _parted_by_line(column: np.ndarray, row_lines: list[float], i: int) -> bool:
    """Whether row line i parts a column's text (its column_ink from row_lines[0]):
    text in the row above it and in the row below it, and paper on the line."""
    y0 = int(row_lines[0])
    y = int(round(row_lines[i])) - y0
    return bool(column[int(row_lines[i - 1]) + 1 - y0:y].any()
                and column[y + 1:int(row_lines[i + 1]) - 1 - y0].any() and not column[y])


def _row_text(text: np.ndarray, ya: float, yb: float, col_lines: list[float]
              ) -> list[tuple[float, float] | None]:
    """Per slot of one row, the x extent of its text (None where the slot is empty)."""
    band = text[int(ya) + 1:max(int(ya) + 2, int(yb) - 1)].any(axis=0)
    out: list[tuple[float, float] | None] = []
    for a, b in zip(col_lines, col_lines[1:]):
        xs = np.flatnonzero(band[int(a) + 1:max(int(a) + 2, int(b) - 1)])
        out.append((a + 1 + xs[0], a + 1 + xs[-1]) if len(xs) else None)
    return out


def _centred_spans(extent: list[tuple[float, float] | None], col_lines: list[float],
                   text_h: float) -> list[tuple[int, int]]:
    """Column ranges (c0, c1) that header texts span: a text centred over several
    columns whose other slots in its row are empty, and not centred on its own column
    (a spanning header is centred over what it heads; the model's column map, which
    sees 15 characters around, cannot tell)."""
    out = []
    for c, ext in enumerate(extent):
        if ext is None:
            continue
        mid = (ext[0] + ext[1]) / 2.0

        def off(a: int, b: int, mid: float = mid) -> float:
            return abs((col_lines[a] + col_lines[b]) / 2.0 - mid)

        tol = max(text_h, CENTRED * (col_lines[c + 1] - col_lines[c]))
        if off(c, c + 1) <= tol:
            continue
        lo, hi = c, c + 1
        while lo > 0 and extent[lo - 1] is None:
            lo -= 1
        while hi < len(extent) and extent[hi] is None:
            hi += 1
        spans = [(a, b) for a in range(lo, c + 1) for b in range(c + 1, hi + 1) if b - a > 1]
        best = min(spans, key=lambda ab: off(*ab), default=None)
        if best is not None and off(*best) <= tol:
            out.append(best)
    return out


def _first_full_row(text: np.ndarray, row_lines: list[float], col_lines: list[float]) -> int:
    """The first row with text in every column: the header's lowest level, which names
    them all; the rows above it are the header's upper levels, where spans are. With no
    such row there is no telling, and every row could be one (the row count)."""
    for r in range(len(row_lines) - 1):
        if all(e is not None for e in _row_text(text, row_lines[r], row_lines[r + 1], col_lines)):
            return r
    return len(row_lines) - 1


def _header_spans(text: np.ndarray, row_lines: list[float], col_lines: list[float],
                  text_h: float, upper: int) -> list[tuple[int, int, int]]:
    """(row, c0, c1) of the header's centred spanning texts, in its ``upper`` levels
    (the rows above _first_full_row)."""
    out = []
    for r in range(upper):
        extent = _row_text(text, row_lines[r], row_lines[r + 1], col_lines)
        out += [(r, c0, c1) for c0, c1 in _centred_spans(extent, col_lines, text_h)]
    return out


def decode_region(probs: np.ndarray, rules: np.ndarray, box: tuple[int, int, int, int],
                  text_h: float, split_t: float = SPLIT_T, merge_t: float = MERGE_T,
                  text: np.ndarray | None = None, ink: np.ndarray | None = None) -> DecodedTable:
    """One table region of the maps (3, h, w) -> its grid and cells. With ``text`` (the
    page's text mask, table.text_gaps), columns follow the whitespace rivers; with the
    ``ink`` channel too, a table that draws its row lines keeps its multi-line cells."""
    x0, y0, x1, y1 = box
    p_row, p_col = probs[1], probs[2]
    rows = _splits(p_row[y0:y1, x0:x1].mean(axis=1), y0, 0.8 * text_h, split_t)
    cols = _splits(p_col[y0:y1, x0:x1].mean(axis=0), x0, 1.0 * text_h, split_t)
    from_river: list[tuple[int, int] | None] = [None] * len(cols)
    bridged: list[tuple[float, int]] = []
    if text is not None:
        cols, from_river = _river_columns(p_col, rules, text, box, text_h, cols)
        marked = None if ink is None else drawn_rows_mask(rules, ink, text, box)
        rows, bridged = rows_in_gaps(rows, p_row, text, box, text_h, split_t, marked,
                                      [p for p, _ in cols])
        if marked is not None:
            rows = drawn_rows(rows, marked, y0, text_h)
        rows = _within_text(rows, text[y0:y1, x0:x1].any(axis=1), y0)
        if marked is not None:
            rows, y0, y1 = rows_through_paper(rows, marked, text, box, text_h)
            box = (x0, y0, x1, y1)
    row_lines = [float(y0)] + [p for p, _ in rows] + [float(y1)]
    col_lines = [float(x0)] + [p for p, _ in cols] + [float(x1)]
    row_peak = [1.0] + [k for _, k in rows] + [1.0]
    col_peak = [1.0] + [k for _, k in cols] + [1.0]
    nr, nc = len(row_lines) - 1, len(col_lines) - 1
    half = max(1, int(round(0.25 * text_h)))
    seg_h = [[1.0] * nc for _ in range(nr + 1)]
    seg_v = [[1.0] * (nc + 1) for _ in range(nr)]
    for i in range(1, nr):
        for c in range(nc):
            seg_h[i][c] = _segment(p_row, True, row_lines[i], col_lines[c], col_lines[c + 1], half)
    for r in range(nr):
        for j in range(1, nc):
            seg_v[r][j] = _segment(p_col, False, col_lines[j], row_lines[r], row_lines[r + 1], half)
    joined_h = [[s < merge_t for s in line] for line in seg_h]
    joined_v = [[s < merge_t for s in line] for line in seg_v]
    # How sure each line and segment is: by the map's margin from its threshold, but a
    # river's separator and its segments were decided by the page's whitespace.
    row_sure = [_sure(k, split_t, ROW_SURE) for k in row_peak]
    col_sure = [_sure(k, split_t) for k in col_peak]
    seg_h_sure = [[_sure(p, merge_t) for p in line] for line in seg_h]
    seg_v_sure = [[_sure(p, merge_t) for p in line] for line in seg_v]
    upper = nr if text is None else _first_full_row(text, row_lines, col_lines)
    for j, river in enumerate(from_river, start=1):
        if river is None:
            continue
        # A river splits a row unless text runs right across it there, or the map itself
        # saw a separator here and finds this segment absent (a short spanning header;
        # from the header's lowest level down, a label beside empty cells is no span:
        # a "Total" row).
        model_sees = col_peak[j] > split_t
        col_sure[j] = 1.0
        for r in range(nr):
            by_map = model_sees and seg_v[r][j] < merge_t and r < upper
            joined_v[r][j] = by_map or crosses(
                text, col_lines[j], row_lines[r] + 1, row_lines[r + 1] - 1, 0.5 * text_h)
            if not by_map:
                seg_v_sure[r][j] = 1.0
    if text is not None:
        for r, c0, c1 in _header_spans(text, row_lines, col_lines, text_h, upper):
            for j in range(c0 + 1, c1):
                joined_v[r][j] = True
        # A label centred on two header levels (_bridged_header_gap) spans both rows;
        # its row line may since have moved onto the paper beside it.
        for y, c in bridged:
            i = min(range(1, nr), key=lambda k: abs(row_lines[k] - y), default=None)
            if i is not None and abs(row_lines[i] - y) <= text_h:
                joined_h[i][c] = True
                seg_h_sure[i][c] = 1.0
        # So does a label that is the only text of its column in two rows, set on the
        # line between them, where another column's text is parted by that line
        # (validation page mixed-11-00005: two header levels and a label between them
        # touch, and the map drew the line right across the label).
        written = column_ink(text, col_lines, int(row_lines[0]), int(row_lines[-1]))
        for i in range(1, nr):
            centred = [_centred_on_line(column, row_lines, i, text_h) for column in written]
            if any(centred) and any(_parted_by_line(column, row_lines, i)
                                    for column, c in zip(written, centred) if not c):
                for c in np.flatnonzero(centred):
                    joined_h[i][c] = True
                    seg_h_sure[i][c] = 1.0

    cells = []
    for r, c, rs, cs in _rectangles(nr, nc, joined_h, joined_v):
        conf = [row_sure[i] for i in (r, r + rs)]
        conf += [col_sure[j] for j in (c, c + cs)]
        conf += [seg_h_sure[i][cc] for i in (r, r + rs) if 0 < i < nr for cc in range(c, c + cs)]
        conf += [seg_v_sure[rr][j] for j in (c, c + cs) if 0 < j < nc for rr in range(r, r + rs)]
        conf += [seg_h_sure[i][cc] for i in range(r + 1, r + rs) for cc in range(c, c + cs)]
        conf += [seg_v_sure[rr][j] for j in range(c + 1, c + cs) for rr in range(r, r + rs)]
        cells.append(DecodedCell(r, c, rs, cs, min(conf)))

    def drawn(pos: float, horizontal: bool) -> bool:
        p = int(round(pos))
        if horizontal:
            band = rules[max(0, p - half):p + half + 1, x0:x1]
            return bool(band.size and band.max(axis=0).mean() > DRAWN_T)
        band = rules[y0:y1, max(0, p - half):p + half + 1]
        return bool(band.size and band.max(axis=1).mean() > DRAWN_T)

    return DecodedTable(
        box, row_lines, col_lines, [drawn(y, True) for y in row_lines],
        [drawn(x, False) for x in col_lines], cells,
        float(probs[0][y0:y1, x0:x1].mean()))


def _text_near(boxes: list[tuple[int, int, int, int]], ink: np.ndarray, rules: np.ndarray,
               text_h: float) -> np.ndarray:
    """text_mask of the page, worked out only around the table regions (everything the
    decoder reads lies within a few text heights of them; the rest stays False). The
    window's margin is wider than the mask's morphology reaches, so inside it the
    mask is the whole page's."""
    margin = int(round(4 * text_h)) + 2 * (max(3, int(round(0.6 * text_h))) | 1)
    h, w = ink.shape
    x0 = max(0, min(b[0] for b in boxes) - margin)
    y0 = max(0, min(b[1] for b in boxes) - margin)
    x1 = min(w, max(b[2] for b in boxes) + margin)
    y1 = min(h, max(b[3] for b in boxes) + margin)
    text = np.zeros((h, w), bool)
    text[y0:y1, x0:x1] = text_mask(ink[y0:y1, x0:x1], rules[y0:y1, x0:x1], text_h)
    return text


def decode(probs: np.ndarray, rules: np.ndarray, text_h: float, split_t: float = SPLIT_T,
           merge_t: float = MERGE_T, ink: np.ndarray | None = None) -> list[DecodedTable]:
    """All tables of a page's maps (3, h, w) in model pixels; rules is the input's rule
    channel (h, w) and text_h the character height in model pixels. The thresholds come
    from the model's config.json where it has them (chosen on validation pages). With
    ``ink`` (the input's darkness channel), columns follow the text's whitespace rivers."""
    boxes = regions(probs[0], text_h)
    text = None if ink is None or not boxes else _text_near(boxes, ink, rules, text_h)
    if text is not None:
        boxes = [without_captions(text, rules, box, text_h, ink) for box in boxes]
        boxes = [box for box in boxes if not inside_prose(text, box, text_h)]
    tables = [decode_region(probs, rules, box, text_h, split_t, merge_t, text, ink) for box in boxes]
    # A region with one row or one column is a stray patch of the table map (a
    # heading, a paragraph's fragment), not a table.
    return [t for t in tables if t.n_rows >= 2 and t.n_cols >= 2]
