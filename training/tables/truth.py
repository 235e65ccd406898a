"""What a rendered page truly holds, and the separator rules shared by every renderer."""

from __future__ import annotations

from dataclasses import dataclass, field
from html import escape

Span = tuple[int, int, int, int]  # (row, col, rowspan, colspan)


def slots(n_rows: int, n_cols: int, merges: list[Span]) -> list[Span]:
    """Every cell of a grid as (row, col, rowspan, colspan), merges included, in
    reading order."""
    covered: dict[tuple[int, int], Span] = {}
    for r, c, rs, cs in merges:
        if r + rs > n_rows or c + cs > n_cols:
            raise ValueError(f"merge {(r, c, rs, cs)} leaves the {n_rows}x{n_cols} grid")
        for rr in range(r, r + rs):
            for cc in range(c, c + cs):
                if (rr, cc) in covered:
                    raise ValueError(f"merges overlap at {(rr, cc)}")
                covered[(rr, cc)] = (r, c, rs, cs)
    out = []
    for r in range(n_rows):
        for c in range(n_cols):
            m = covered.get((r, c), (r, c, 1, 1))
            if (m[0], m[1]) == (r, c):
                out.append(m)
    return out


def owners(n_rows: int, n_cols: int, merges: list[Span]) -> dict[tuple[int, int], Span]:
    out = {}
    for s in slots(n_rows, n_cols, merges):
        r, c, rs, cs = s
        for rr in range(r, r + rs):
            for cc in range(c, c + cs):
                out[(rr, cc)] = s
    return out


def separator_segments(n_rows: int, n_cols: int, merges: list[Span]):
    """Which separator segments exist at all (a segment inside a merged cell does not).

    Returns (h, v): h[i][c] for the line above row i (i = 0..n_rows) over column c,
    v[r][j] for the line left of column j (j = 0..n_cols) beside row r."""
    own = owners(n_rows, n_cols, merges)
    h = [[i in (0, n_rows) or own[(i - 1, c)] != own[(i, c)] for c in range(n_cols)]
         for i in range(n_rows + 1)]
    v = [[j in (0, n_cols) or own[(r, j - 1)] != own[(r, j)] for j in range(n_cols + 1)]
         for r in range(n_rows)]
    return h, v


def drawn_separators(n_rows: int, n_cols: int, merges: list[Span], rules: str,
                     header_rows: int, total_row: int | None):
    """Which separator segments a ruling style draws (same shapes as separator_segments).

    grid: all; inner: all but the frame; rows: every horizontal one; columns: the
    vertical ones between columns; booktabs: top, under the header, bottom; header: under
    the header (and over a total row); none: nothing."""
    h, v = separator_segments(n_rows, n_cols, merges)
    full = {
        "grid": None, "rows": None, "inner": None,
        "booktabs": {0, header_rows, n_rows},
        "header": {header_rows} | ({total_row} if total_row else set()),
        "columns": set(), "none": set(),
    }
    if rules not in full:
        raise ValueError(f"unknown ruling style {rules!r}")
    hd = []
    for i, line in enumerate(h):
        if rules in ("grid", "rows"):
            keep = True
        elif rules == "inner":
            keep = 0 < i < n_rows
        else:
            keep = i in full[rules]
        # booktabs and header rules run the full width, through spanning cells too
        full_width = rules in ("booktabs", "header")
        hd.append([keep and (seg or full_width) for seg in line])
    vd = []
    for row in v:
        vd.append([seg and (rules == "grid" or (rules in ("inner", "columns") and 0 < j < n_cols))
                   for j, seg in enumerate(row)])
    return hd, vd


@dataclass
class TruthCell:
    row: int
    col: int
    rowspan: int
    colspan: int
    text: str  # lines joined by "\n"
    bbox: tuple[int, int, int, int]  # page pixels before skew, x1/y1 exclusive


@dataclass
class TruthTable:
    n_rows: int
    n_cols: int
    header_rows: int
    cells: list[TruthCell]
    bbox: tuple[int, int, int, int]
    row_lines: list[int]  # y of each horizontal separator, n_rows + 1
    col_lines: list[int]  # x of each vertical separator, n_cols + 1
    h_drawn: list[list[bool]]  # (n_rows + 1) x n_cols: the rule above row i over column c
    v_drawn: list[list[bool]]  # n_rows x (n_cols + 1): the rule left of column j beside row r
    rules: str = ""
    layout: str = ""
    font: str = ""

    def spans(self) -> set[Span]:
        return {(c.row, c.col, c.rowspan, c.colspan) for c in self.cells}

    def texts(self) -> dict[tuple[int, int], str]:
        return {(c.row, c.col): c.text for c in self.cells}

    def html(self, structure_only: bool = False) -> str:
        return grid_html(self.n_rows, self.spans(), {} if structure_only else self.texts())


@dataclass
class TextBlock:
    kind: str  # caption | footnote | paragraph
    text: str
    bbox: tuple[int, int, int, int] | None  # None where the renderer does not measure it


@dataclass
class PageTruth:
    image: object  # (H, W, 3) uint8 RGB numpy array
    tables: list[TruthTable]
    dpi: float
    angle: float = 0.0  # degrees the page was rotated by after drawing (PIL's sense)
    blocks: list[TextBlock] = field(default_factory=list)
    renderer: str = ""
    name: str = ""


def grid_html(n_rows: int, spans: set[Span], texts: dict[tuple[int, int], str]) -> str:
    """The table as HTML (rowspan/colspan), the form TEDS compares."""
    rows: list[list[str]] = [[] for _ in range(n_rows)]
    for r, c, rs, cs in sorted(spans, key=lambda s: (s[0], s[1])):
        attrs = (f' rowspan="{rs}"' if rs > 1 else "") + (f' colspan="{cs}"' if cs > 1 else "")
        text = " ".join((texts.get((r, c)) or "").split())
        if 0 <= r < n_rows:
            rows[r].append(f"<td{attrs}>{escape(text)}</td>")
    body = "".join(f"<tr>{''.join(cells)}</tr>" for cells in rows)
    return f"<html><body><table>{body}</table></body></html>"
