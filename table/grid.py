"""From the ruling lines of one table to its grid and cells.

1. The grid: row and column positions are the rules, the table's outer edges where a
   frame is missing, and, where a direction is not ruled, the text lines (rows) or
   the white strips between the text (columns).
2. The cells: a separator segment that is missing on the page joins the two grid
   slots it would have split; the joined slots become one cell with a row/column span.

Which lines make up one table is ``table.groups``' business.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from table.lines import Line, LineMasks, coverage
from table.model import Cell, Table
from table.text import Blobs, column_gaps, crosses, text_lines, word_runs

__all__ = ["PageLayout", "build_table"]

RULE, EDGE, TEXT = "rule", "edge", "text"


@dataclass
class PageLayout:
    """Everything the grid builder reads about one (deskewed) page."""

    masks: LineMasks
    fill: np.ndarray  # dark filled areas, 255 inside
    gray: np.ndarray  # the page smoothed, dark fills inverted (``Ink.smooth``)
    blobs: Blobs
    text_h: float
    width: int
    height: int


@dataclass
class _Sep:
    """One grid line: a row or column boundary."""

    pos: float
    kind: str  # RULE: drawn on the page; EDGE: the table's outline where no frame is drawn;
    #            TEXT: found from the text layout
    thickness: float = 1.0


def _merge_positions(lines: list[Line], tol: float) -> list[tuple[float, float, float]]:
    """Positions of parallel lines, those closer than ``tol`` counted once:
    (pos, thickness, total length)."""
    out: list[list[float]] = []
    for line in sorted(lines, key=lambda ln: ln.pos):
        if out and line.pos - out[-1][0] <= tol:
            p, t, w = out[-1]
            nw = w + line.length
            out[-1] = [(p * w + line.pos * line.length) / nw, max(t, line.thickness), nw]
        else:
            out.append([line.pos, line.thickness, line.length])
    return [tuple(o) for o in out]


def _extend_by_text(
    blobs: Blobs, x0: float, x1: float, y0: float, y1: float, reach: float, left: bool
) -> float:
    """Move the open left (right) edge outwards over text that continues the table."""
    inside = blobs.inside(-1e9, y0, 1e9, y1).boxes
    # Letters only: specks of noise must not pull the edge out.
    inside = inside[(inside[:, 3] - inside[:, 1]) >= 0.4 * blobs.text_h]
    edge = x0 if left else x1
    while True:
        if left:
            near = inside[
                (inside[:, 2] <= edge + reach * 0.25)
                & (inside[:, 2] >= edge - reach)
                & (inside[:, 0] < edge)
            ]
            if len(near) == 0:
                return edge
            new = float(near[:, 0].min())
            if new >= edge:
                return edge
        else:
            near = inside[
                (inside[:, 0] >= edge - reach * 0.25)
                & (inside[:, 0] <= edge + reach)
                & (inside[:, 2] > edge)
            ]
            if len(near) == 0:
                return edge
            new = float(near[:, 2].max())
            if new <= edge:
                return edge
        edge = new


def _drop_thin(seps: list[_Sep], min_size: float) -> list[_Sep]:
    """Join grid lines closer than ``min_size`` (a double rule is one boundary)."""
    rank = {RULE: 2, EDGE: 1, TEXT: 0}
    out = [seps[0]]
    for s in seps[1:]:
        prev = out[-1]
        if s.pos - prev.pos < min_size:
            if rank[s.kind] > rank[prev.kind]:
                out[-1] = s
            elif rank[s.kind] == rank[prev.kind]:
                out[-1] = _Sep((s.pos + prev.pos) / 2, s.kind, max(s.thickness, prev.thickness))
        else:
            out.append(s)
    return out


SLIVER_ROW = 0.8  # text heights; tight low-resolution rows measure one (text_h runs high there)


def _drop_outer_slivers(rows: list[_Sep], text_h: float) -> list[_Sep]:
    """Drop a first or last row lower than a line of text beyond a rule: no row of a
    table is that low, but a caption or footnote printed right against the table is
    (its letters, bars at low resolution, pass for one more rule)."""
    low = SLIVER_ROW * text_h
    while len(rows) > 3 and rows[-1].pos - rows[-2].pos < low and rows[-2].kind == RULE:
        rows = rows[:-1]
    while len(rows) > 3 and rows[1].pos - rows[0].pos < low and rows[1].kind == RULE:
        rows = rows[1:]
    return rows


def _half_band(sep: _Sep, text_h: float) -> float:
    return sep.thickness / 2 + max(2.0, 0.2 * text_h)


def _segment_margin(a: _Sep, b: _Sep, text_h: float) -> tuple[float, float]:
    """Stretch of a separator between two crossing grid lines, clear of their ink."""
    return a.pos + a.thickness / 2 + 0.2 * text_h + 1, b.pos - b.thickness / 2 - 0.2 * text_h - 1


def _ruled_coverage(
    mask: np.ndarray, horizontal: bool, sep: _Sep, across: list[_Sep], text_h: float
) -> list[float]:
    """Coverage of a ruled separator in each interval of the crossing grid lines."""
    out = []
    for a, b in zip(across, across[1:]):
        lo, hi = _segment_margin(a, b, text_h)
        out.append(
            coverage(mask, horizontal, sep.pos, lo, hi, _half_band(sep, text_h)) if hi > lo else 1.0
        )
    return out


def _fill_share(
    fill: np.ndarray, horizontal: bool, pos: float, lo: float, hi: float, half: float
) -> float:
    a, b = int(max(0, lo)), int(max(0, hi))
    p0, p1 = int(max(0, pos - half)), int(pos + half) + 1
    region = fill[p0:p1, a:b] if horizontal else fill[a:b, p0:p1]
    return float((region > 0).mean()) if region.size else 0.0


_FAINT_RULE = 10  # grey levels a separator's stretch must average below both its sides


def _faint_rule(
    gray: np.ndarray, horizontal: bool, pos: float, lo: float, hi: float, half: float
) -> bool:
    """Whether a stretch of separator the rule mask missed is still drawn, faintly (a
    thin black rule on a dark header fill, a hairline at low resolution): averaged
    along every part of the stretch, the grey across it dips where the rule runs.
    Text of a merged cell over where the rule would be (a letter's stem right there)
    dips only where its letters are, not at the ends of the stretch."""
    a, b = int(max(0, lo)), int(max(0, hi))
    reach = int(half) + 3
    p0, p1 = int(pos) - reach, int(pos) + reach + 1
    limit = gray.shape[0] if horizontal else gray.shape[1]
    if b - a < 6 or p0 < 0 or p1 > limit:
        return False
    region = (gray[p0:p1, a:b] if horizontal else gray[a:b, p0:p1].T).astype(np.float32)
    parts = np.array_split(region, min(6, (b - a) // 3), axis=1)
    dips = 0
    for part in parts:
        profile = part.mean(axis=1)
        centre = profile[reach - int(half) : reach + int(half) + 1].min()
        sides = min(profile[:2].mean(), profile[-2:].mean())
        dips += sides - centre >= _FAINT_RULE
    return dips == len(parts)


def _coverage_beside_text(
    mask: np.ndarray,
    horizontal: bool,
    pos: float,
    lo: float,
    hi: float,
    half: float,
    blobs: Blobs,
    text_h: float,
) -> float:
    """Rule coverage of a separator stretch, leaving out where text runs across the
    line: a bold word centred in a two-row cell sits right on the hidden separator and
    its strokes fill the rule mask there. Where the text leaves less than a character
    of the stretch free, the whole stretch is measured as before."""
    b = blobs.boxes
    if len(b) == 0:
        return coverage(mask, horizontal, pos, lo, hi, half)
    m = 0.15 * text_h
    along0, along1, across0, across1 = (0, 2, 1, 3) if horizontal else (1, 3, 0, 2)
    hit = (b[:, across0] < pos - m) & (b[:, across1] > pos + m)
    hit &= (b[:, along1] > lo) & (b[:, along0] < hi)
    if not hit.any():
        return coverage(mask, horizontal, pos, lo, hi, half)
    pad = 0.1 * text_h
    free = []
    start = lo
    for a0, a1 in sorted(zip(b[hit, along0] - pad, b[hit, along1] + pad)):
        if a0 > start:
            free.append((start, min(a0, hi)))
        start = max(start, a1)
    if start < hi:
        free.append((start, hi))
    total = sum(e - a for a, e in free)
    if total < text_h:
        return coverage(mask, horizontal, pos, lo, hi, half)
    return sum((e - a) * coverage(mask, horizontal, pos, a, e, half) for a, e in free) / total


def _crosses_row_line(blobs: Blobs, y: float, x0: float, x1: float, text_h: float) -> bool:
    b = blobs.boxes
    if len(b) == 0:
        return False
    m = 0.15 * text_h
    cx = (b[:, 0] + b[:, 2]) / 2
    return bool(np.any((cx >= x0) & (cx < x1) & (b[:, 1] < y - m) & (b[:, 3] > y + m)))


def build_table(hs: list[Line], vs: list[Line], layout: PageLayout) -> Table | None:
    """The Table a group of lines describes, or None when it is not a table."""
    th = layout.text_h
    tol = max(4.0, 0.6 * th)
    xs0 = [h.start for h in hs] + [v.pos for v in vs]
    xs1 = [h.end for h in hs] + [v.pos for v in vs]
    ys0 = [v.start for v in vs] + [h.pos for h in hs]
    ys1 = [v.end for v in vs] + [h.pos for h in hs]
    x0, x1, y0, y1 = min(xs0), max(xs1), min(ys0), max(ys1)
    col_rules = _merge_positions(vs, tol)
    row_rules = _merge_positions(hs, tol)

    # Open sides take in the text that continues the table: the label column left of
    # the first column rule of a financial statement, the cells of a frameless grid.
    # With horizontal rules, a vertical rule at the end of them is a frame.
    if not hs or not any(abs(p - x0) <= tol for p, _, _ in col_rules):
        x0 = (
            _extend_by_text(layout.blobs, x0, x1, y0, y1, 3 * th if hs else 12 * th, left=True)
            - 0.3 * th
        )
    if not hs or not any(abs(p - x1) <= tol for p, _, _ in col_rules):
        x1 = (
            _extend_by_text(layout.blobs, x0, x1, y0, y1, 3 * th if hs else 12 * th, left=False)
            + 0.3 * th
        )
    x0, y0 = max(0.0, x0), max(0.0, y0)
    x1, y1 = min(float(layout.width), x1), min(float(layout.height), y1)
    if x1 - x0 < 2 * th or y1 - y0 < th:
        return None

    def seps(rules, lo, hi) -> list[_Sep]:
        out = [_Sep(lo, EDGE)]
        for p, t, _ in rules:
            if abs(p - lo) <= tol:
                out[0] = _Sep(p, RULE, t)
            elif abs(p - hi) <= tol:
                continue
            elif lo < p < hi:
                out.append(_Sep(p, RULE, t))
        end = [r for r in rules if abs(r[0] - hi) <= tol]
        out.append(_Sep(end[0][0], RULE, end[0][1]) if end else _Sep(hi, EDGE))
        return out

    cols = seps(col_rules, x0, x1)
    rows = seps(row_rules, y0, y1)

    # A rule that crosses no full interval of the other direction is not a grid line
    # (letters with long strokes, a rule under a word).
    def validated(
        lines_: list[_Sep], across: list[_Sep], mask: np.ndarray, horizontal: bool
    ) -> list[_Sep]:
        keep = [lines_[0]]
        for s in lines_[1:-1]:
            if (
                s.kind != RULE
                or max(_ruled_coverage(mask, horizontal, s, across, th), default=0) >= 0.7
            ):
                keep.append(s)
        keep.append(lines_[-1])
        return keep

    cols = validated(cols, rows, layout.masks.vertical, False)
    blobs = layout.blobs.inside(x0, y0, x1, y1)
    lines = text_lines(blobs, y0, y1)
    interior_cols = sum(1 for s in cols[1:-1] if s.kind == RULE)

    # Columns from the white strips in the text when no column rule is drawn.
    if interior_cols == 0:
        gaps = column_gaps(blobs, lines, cols[0].pos, cols[-1].pos, min_gap=1.0 * th)
        cols = [cols[0]] + [_Sep(g, TEXT) for g in gaps] + [cols[-1]]
        cols = _join_complementary(cols, blobs, lines)

    rows = validated(rows, cols, layout.masks.horizontal, True)
    interior_rows = sum(1 for s in rows[1:-1] if s.kind == RULE)
    if interior_cols == 0 and interior_rows == 0:
        return None  # a box around text is not a table

    rows = _rows_from_text(rows, cols, blobs, lines, interior_rows)

    cols = _drop_thin(cols, 0.5 * th)
    rows = _drop_outer_slivers(_drop_thin(rows, 0.5 * th), th)
    n_rows, n_cols = len(rows) - 1, len(cols) - 1
    if n_rows < 1 or n_cols < 1 or n_rows * n_cols < 2:
        return None

    # Which separator segments are really there. A ruled segment is there when its
    # rule is inked; a text-derived one unless a word runs across it.
    join = 0.9 * th
    h_present = np.ones((n_rows + 1, n_cols), bool)  # h_present[i, j]: row line i over column j
    v_present = np.ones((n_rows, n_cols + 1), bool)  # v_present[i, j]: column line j over row i
    in_fill: list[tuple[np.ndarray, int, int, bool]] = []  # unruled segments inside dark fills
    fill_rules_seen = False
    for i in range(1, n_rows):
        s = rows[i]
        if s.kind != RULE:
            continue
        half = _half_band(s, th)
        for j in range(n_cols):
            lo, hi = _segment_margin(cols[j], cols[j + 1], th)
            if hi <= lo:
                continue
            inked = (
                _coverage_beside_text(layout.masks.horizontal, True, s.pos, lo, hi, half, blobs, th)
                >= 0.5
            )
            inked = inked or _faint_rule(layout.gray, True, s.pos, lo, hi, half)
            filled = _fill_share(layout.fill, True, s.pos, lo, hi, half) >= 0.6
            fill_rules_seen |= inked and filled
            if not inked:
                h_present[i, j] = False
                if filled:
                    in_fill.append(
                        (h_present, i, j, not _crosses_row_line(blobs, s.pos, lo, hi, th))
                    )
    for j in range(1, n_cols):
        s = cols[j]
        half = _half_band(s, th)
        for i in range(n_rows):
            lo, hi = _segment_margin(rows[i], rows[i + 1], th)
            if s.kind == TEXT:
                v_present[i, j] = not crosses(blobs, s.pos, rows[i].pos, rows[i + 1].pos, join)
                continue
            if s.kind != RULE or hi <= lo:
                continue
            inked = (
                _coverage_beside_text(layout.masks.vertical, False, s.pos, lo, hi, half, blobs, th)
                >= 0.5
            )
            inked = inked or _faint_rule(layout.gray, False, s.pos, lo, hi, half)
            filled = _fill_share(layout.fill, False, s.pos, lo, hi, half) >= 0.6
            fill_rules_seen |= inked and filled
            if not inked:
                v_present[i, j] = False
                if filled:
                    in_fill.append(
                        (
                            v_present,
                            i,
                            j,
                            not crosses(blobs, s.pos, rows[i].pos, rows[i + 1].pos, join),
                        )
                    )
    if not fill_rules_seen:
        # Rules drawn in the fill's own colour vanish inside a dark band (a header row):
        # there, only text running across a separator joins two cells.
        for present, i, j, clear in in_fill:
            present[i, j] = clear
    if interior_cols == 0 and n_cols > 1:
        _title_rows(v_present, rows, cols, blobs, join)

    spans = _spans(h_present, v_present)
    row_pos = [int(round(s.pos)) for s in rows]
    col_pos = [int(round(s.pos)) for s in cols]
    cells = [
        Cell(
            row=r,
            col=c,
            rowspan=rs,
            colspan=cs,
            bbox=(col_pos[c], row_pos[r], col_pos[c + cs], row_pos[r + rs]),
        )
        for r, c, rs, cs in spans
    ]
    if len(cells) < 2:
        return None
    if not _has_enough_text(cells, blobs, interior_cols, interior_rows):
        return None
    return Table(
        n_rows=n_rows,
        n_cols=n_cols,
        cells=cells,
        bbox=(col_pos[0], row_pos[0], col_pos[-1], row_pos[-1]),
        row_lines=row_pos,
        col_lines=col_pos,
        row_ruled=[s.kind == RULE for s in rows],
        col_ruled=[s.kind == RULE for s in cols],
    )


def _line_sets(cols: list[_Sep], blobs: Blobs, lines: list[tuple[int, int]]) -> list[set[int]]:
    """For each column interval, the indices of the text lines with ink in it."""
    join = 0.5 * blobs.text_h
    out: list[set[int]] = [set() for _ in range(len(cols) - 1)]
    for k, (a, c) in enumerate(lines):
        for ra, rc in word_runs(blobs, a, c, cols[0].pos, cols[-1].pos, join):
            mid = (ra + rc) / 2
            for j in range(len(cols) - 1):
                if cols[j].pos <= mid < cols[j + 1].pos:
                    out[j].add(k)
    return out


def _join_complementary(cols: list[_Sep], blobs: Blobs, lines: list[tuple[int, int]]) -> list[_Sep]:
    """Join two text-gap columns that never share a text line when one of them holds
    hardly any text: a centred header over a right-aligned column of figures."""
    changed = True
    while changed and len(cols) > 2:
        changed = False
        sets = _line_sets(cols, blobs, lines)
        few = max(1, int(0.2 * len(lines)))
        for j in range(len(sets) - 1):
            a, b = sets[j], sets[j + 1]
            if a and b and not (a & b) and min(len(a), len(b)) <= few and cols[j + 1].kind == TEXT:
                del cols[j + 1]
                changed = True
                break
    return cols


def _rows_from_text(
    rows: list[_Sep],
    cols: list[_Sep],
    blobs: Blobs,
    lines: list[tuple[int, int]],
    interior_rows: int,
) -> list[_Sep]:
    """Split the bands between row rules at their text lines where the rules do not
    separate the rows (a financial statement's column rules, a header underline only).

    A band that holds several text lines is one row of multi-line cells when the rows
    are ruled elsewhere (most text lines sit alone between rules) or when its lines are
    not aligned across the columns (one cell wraps, its neighbours do not)."""
    bands = list(zip(rows, rows[1:]))
    per_band = [[ln for ln in lines if a.pos <= (ln[0] + ln[1]) / 2 < b.pos] for a, b in bands]
    in_multi = sum(len(p) for p in per_band if len(p) >= 2)
    mostly_multi = in_multi > 0.5 * max(1, len(lines))
    new_rows = [rows[0]]
    for (a, b), band_lines in zip(bands, per_band):
        split = len(band_lines) >= 2 and (
            interior_rows == 0 or (mostly_multi and _aligned(a.pos, b.pos, cols, blobs))
        )
        if split:
            for upper, lower in zip(band_lines, band_lines[1:]):
                new_rows.append(_Sep((upper[1] + lower[0]) / 2.0, TEXT))
        new_rows.append(b)
    return new_rows


def _aligned(y0: float, y1: float, cols: list[_Sep], blobs: Blobs) -> bool:
    """Whether the text lines of a band run across its columns: at least half of the
    columns with text hold several lines."""
    with_text = multi = 0
    for a, b in zip(cols, cols[1:]):
        sub = blobs.inside(a.pos, y0, b.pos, y1)
        n = len(text_lines(sub, y0, y1))
        with_text += n >= 1
        multi += n >= 2
    return with_text > 0 and multi >= 0.5 * with_text


def _title_rows(
    v_present: np.ndarray, rows: list[_Sep], cols: list[_Sep], blobs: Blobs, join: float
) -> None:
    """In a table without column rules, a row holding one phrase centred on the table is
    a title over all the columns, however short the phrase."""
    x0, x1 = cols[0].pos, cols[-1].pos
    for i in range(len(rows) - 1):
        runs = word_runs(blobs, rows[i].pos, rows[i + 1].pos, x0, x1, join)
        if len(runs) == 1:
            centre = (runs[0][0] + runs[0][1]) / 2.0
            if abs(centre - (x0 + x1) / 2.0) <= 0.08 * (x1 - x0):
                v_present[i, 1:-1] = False


def _has_enough_text(
    cells: list[Cell], blobs: Blobs, interior_cols: int, interior_rows: int
) -> bool:
    """A fully ruled grid is a table even when blank (a form); anything inferred from text
    needs text in at least two of its cells."""
    if interior_cols >= 1 and interior_rows >= 1 and len(cells) >= 4:
        return True
    b = blobs.boxes
    if len(b) == 0:
        return False
    cx = (b[:, 0] + b[:, 2]) / 2
    cy = (b[:, 1] + b[:, 3]) / 2
    filled = 0
    for c in cells:
        x0, y0, x1, y1 = c.bbox
        if np.any((cx >= x0) & (cx < x1) & (cy >= y0) & (cy < y1)):
            filled += 1
            if filled >= 2:
                return True
    return False


def _spans(h_present: np.ndarray, v_present: np.ndarray) -> list[tuple[int, int, int, int]]:
    """Cells as (row, col, rowspan, colspan): grid slots joined across missing separators,
    each joined group grown to a rectangle (and rectangles that then overlap merged)."""
    n_rows, n_cols = v_present.shape[0], h_present.shape[1]
    parent = list(range(n_rows * n_cols))

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    v_rows, h_rows = v_present.tolist(), h_present.tolist()  # (numpy scalars are slow here)
    for r in range(n_rows):
        for c in range(n_cols):
            if c + 1 < n_cols and not v_rows[r][c + 1]:
                parent[find(r * n_cols + c)] = find(r * n_cols + c + 1)
            if r + 1 < n_rows and not h_rows[r + 1][c]:
                parent[find(r * n_cols + c)] = find((r + 1) * n_cols + c)
    boxes: dict[int, list[int]] = {}
    for r in range(n_rows):
        for c in range(n_cols):
            b = boxes.setdefault(find(r * n_cols + c), [r, c, r, c])
            b[0], b[1], b[2], b[3] = min(b[0], r), min(b[1], c), max(b[2], r), max(b[3], c)
    rects = np.array(list(boxes.values())).reshape(-1, 4)  # r0, c0, r1, c1
    # A joined group that is not a rectangle (a detection slip) becomes its bounding box;
    # the first overlapping pair is merged until no two boxes overlap (all pairs tested
    # at once: one by one, it took a twentieth of the structure's time on large tables).
    while len(rects) > 1:
        a, b = rects[:, None, :], rects[None, :, :]
        overlap = np.triu((a[..., 0] <= b[..., 2]) & (b[..., 0] <= a[..., 2])
                          & (a[..., 1] <= b[..., 3]) & (b[..., 1] <= a[..., 3]), 1)
        if not overlap.any():
            break
        i, j = np.argwhere(overlap)[0]
        rects[i, :2] = np.minimum(rects[i, :2], rects[j, :2])
        rects[i, 2:] = np.maximum(rects[i, 2:], rects[j, 2:])
        rects = np.delete(rects, j, axis=0)
    return sorted((r0, c0, r1 - r0 + 1, c1 - c0 + 1) for r0, c0, r1, c1 in rects.tolist())
