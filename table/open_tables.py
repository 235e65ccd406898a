"""Rule-built tables and the split model's tables on one page, reconciled.

A table whose every inner row and column line is a rule (a full grid, framed or not) is
exact from the rules alone and stays as the rule path built it. Everywhere else the split model
decides: its tables replace the rule-built tables they overlap (a booktabs table, a
table with column rules only), and add the ones without any rule. A rule-built table
the model did not see stays as it is.
"""

from __future__ import annotations

import numpy as np

from table.model import Cell, Table
from table.split_input import MODEL_TEXT_H, ModelInput
from table.split_model import PageTables

__all__ = ["FULL_GRID_COVER", "full_grid", "reconcile", "to_table"]

FULL_GRID_COVER = 0.8  # share of a line's length with rule ink, for it to count as ruled
STEM_ROWS = 3  # a rule-built table of column rules alone this short is glyph stems (_stems)


def _line_cover(rules: np.ndarray, horizontal: bool, pos: float, a: float, b: float,
                half: int) -> float:
    p, a_i, b_i = int(round(pos)), int(round(a)), int(round(b))
    if b_i <= a_i:
        return 0.0
    if horizontal:
        band = rules[max(0, p - half):p + half + 1, a_i:b_i]
        return float((band.max(axis=0) > 0.3).mean()) if band.size else 0.0
    band = rules[a_i:b_i, max(0, p - half):p + half + 1]
    return float((band.max(axis=1) > 0.3).mean()) if band.size else 0.0


def _in_dark_band(t: Table, i: int, mi: ModelInput) -> bool:
    """Whether row line i runs through a dark fill (a header band), where a rule in the
    band's colour cannot show and the rule path set the line from the text instead."""
    s = mi.scale
    y = int(round(t.row_lines[i] * s))
    x0, x1 = int(round(t.col_lines[0] * s)), int(round(t.col_lines[-1] * s))
    band = mi.x[0][max(0, y - 1):y + 2, x0:x1]
    return bool(band.size and (band.min(axis=0) > 0.45).mean() >= FULL_GRID_COVER)


def full_grid(t: Table, mi: ModelInput) -> bool:
    """Whether rules draw every inner row and column line of the table (a frame is not
    needed: the text's extent closes an inner-ruled table). The rule path says so itself
    where it built the table (every inner line from a rule, but for row lines inside a
    dark header band, whose rules cannot show); zebra fills do not hide a rule. Otherwise the model input's
    rule channel is read along each line; where merged cells interrupt a line, the cover
    it needs shrinks by the share of the line they take."""
    if t.n_rows * t.n_cols < 2:
        return False  # a box is not a grid
    if min(t.n_rows, t.n_cols) < 2 and not (
            len(t.row_ruled) == t.n_rows + 1 and len(t.col_ruled) == t.n_cols + 1
            and all(t.row_ruled) and all(t.col_ruled)):
        return False  # a single row (column) of cells is a grid only when boxed all round
    if len(t.row_ruled) == t.n_rows + 1 and len(t.col_ruled) == t.n_cols + 1 \
            and all(t.col_ruled[1:-1]) \
            and all(ok or _in_dark_band(t, i, mi) for i, ok in enumerate(t.row_ruled) if 0 < i < t.n_rows):
        return True
    s = mi.scale
    rules = mi.x[1]
    half = 2
    x0, x1 = t.col_lines[0] * s, t.col_lines[-1] * s
    y0, y1 = t.row_lines[0] * s, t.row_lines[-1] * s
    for i in range(1, t.n_rows):
        spans = [c for c in t.cells if c.row < i < c.row + c.rowspan]
        cover = _line_cover(rules, True, t.row_lines[i] * s, x0, x1, half)
        if cover < FULL_GRID_COVER * (1 - sum(c.colspan for c in spans) / t.n_cols):
            return False
    for j in range(1, t.n_cols):
        spans = [c for c in t.cells if c.col < j < c.col + c.colspan]
        cover = _line_cover(rules, False, t.col_lines[j] * s, y0, y1, half)
        if cover < FULL_GRID_COVER * (1 - sum(c.rowspan for c in spans) / t.n_rows):
            return False
    return True


def to_table(found: PageTables, page: int) -> Table:
    d = found.decoded
    rows, cols = found.row_lines, found.col_lines
    cells = [Cell(c.row, c.col, c.rowspan, c.colspan,
                  (cols[c.col], rows[c.row], cols[c.col + c.colspan], rows[c.row + c.rowspan]),
                  structure_confidence=round(c.confidence, 4))
             for c in d.cells]
    return Table(d.n_rows, d.n_cols, cells, found.bbox, page, list(rows), list(cols),
                 row_inferred=[not v for v in d.row_drawn],
                 col_inferred=[not v for v in d.col_drawn])


def _overlap(a: tuple[int, int, int, int], b: tuple[int, int, int, int]) -> float:
    """Intersection over the smaller box."""
    w = max(0, min(a[2], b[2]) - max(a[0], b[0]))
    h = max(0, min(a[3], b[3]) - max(a[1], b[1]))
    small = min((a[2] - a[0]) * (a[3] - a[1]), (b[2] - b[0]) * (b[3] - b[1]))
    return w * h / max(1, small)


def _snap(v: int, targets: list[int], tol: float) -> int:
    """v moved onto the nearest target within tol pixels (else left where it is)."""
    near = [t for t in targets if abs(t - v) <= tol]
    return min(near, key=lambda t: abs(t - v)) if near else v


def _with_rules(f: PageTables, rule_tables: list[Table], mi: ModelInput) -> PageTables:
    """The model's table with its lines on the rules of the rule-built tables it overlaps."""
    tol = 0.5 * MODEL_TEXT_H / mi.scale  # half a text height, in page pixels
    near = [t for t in rule_tables if _overlap(f.bbox, t.bbox) > 0.3]
    if not near:
        return f
    # The model's lines are a model pixel (two or three page pixels) off the rules the
    # rule path drew, which would leave a rule's edge in a cell's crop.
    rules_h = [v for t in near for v, ok in zip(t.row_lines, t.row_ruled) if ok]
    rules_v = [v for t in near for v, ok in zip(t.col_lines, t.col_ruled) if ok]
    r = [_snap(v, rules_h, tol) for v in f.row_lines]
    c = [_snap(v, rules_v, tol) for v in f.col_lines]
    # The outer lines onto the rule-built table's extent, drawn or not: where column
    # rules stop, the rule path's top is exact, and a cell reaching above it would
    # carry a stub of the rule into its crop.
    r[0], r[-1] = (_snap(r[0], [t.bbox[1] for t in near], 2 * tol),
                   _snap(r[-1], [t.bbox[3] for t in near], 2 * tol))
    c[0], c[-1] = (_snap(c[0], [t.bbox[0] for t in near], 2 * tol),
                   _snap(c[-1], [t.bbox[2] for t in near], 2 * tol))
    if r != sorted(r) or c != sorted(c) or len(set(r)) < len(r) or len(set(c)) < len(c):
        return f  # two lines onto one rule: leave the model's as they are
    return PageTables(f.decoded, r, c, (c[0], r[0], c[-1], r[-1]))


def _stems(t: Table) -> bool:
    """Whether a rule-built table is glyph stems read as rules: no row line drawn (the
    rule path says so for each) and at most STEM_ROWS rows. In small print enlarged for
    the rule path, the stems of letters like l and d stacked on two or three lines pass
    for short column rules, and the rule path builds a table of them inside a paragraph
    (validation pages open-7-00006 and mixed-7-00012: three and five such "tables"). A real table
    of column rules that the model missed is taller, or has a rule under its header."""
    return t.n_rows <= STEM_ROWS and len(t.row_ruled) == t.n_rows + 1 and not any(t.row_ruled)


def reconcile(rule_tables: list[Table], found: list[PageTables], mi: ModelInput,
              page: int) -> list[Table]:
    grids = [t for t in rule_tables if full_grid(t, mi)]
    model = [to_table(_with_rules(f, rule_tables, mi), page) for f in found
             if not any(_overlap(f.bbox, g.bbox) > 0.5 for g in grids)]
    # A rule-built table that is not a grid gives way to the tables over it: the model's,
    # and a grid's (two tables do not share a page's area; the grid is exact, and the
    # other is small print over or under it read as rules).
    rest = [t for t in rule_tables if t not in grids and not _stems(t)
            and not any(_overlap(t.bbox, m.bbox) > 0.3 for m in model + grids)]
    out = grids + model + rest
    out.sort(key=lambda t: (t.bbox[1], t.bbox[0]))
    return out
