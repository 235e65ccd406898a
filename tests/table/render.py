"""A page renderer for the table tests: draws tables whose structure we know and returns it.

Everything is drawn with PIL and a system TrueType font (DejaVu), at any resolution,
with the ruling styles the structure detector must understand:

- ``grid``: every cell boxed; a merged cell simply lacks the inner separators
- ``no_frame``: inner rules only, no outer border
- ``columns``: vertical rules between columns only (rows come from the text lines)
- ``rows``: horizontal rules above/below every row only (columns come from text gaps)

plus a dark header row (white text on a dark fill), faint and broken lines, skew,
noise and blur. The returned truth gives each table's grid, spans, texts and cell
bboxes in the page pixels *before* any skew.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFilter, ImageFont

FONT_DIR = Path("/usr/share/fonts/truetype/dejavu")
FONTS = {
    "sans": "DejaVuSans.ttf",
    "sans-bold": "DejaVuSans-Bold.ttf",
    "serif": "DejaVuSerif.ttf",
    "mono": "DejaVuSansMono.ttf",
}


@lru_cache(maxsize=64)
def font(name: str, size_px: int) -> ImageFont.FreeTypeFont:
    path = FONT_DIR / FONTS[name]
    if not path.exists():  # pragma: no cover - fonts-dejavu is a test dependency
        raise FileNotFoundError(f"test font {path} missing: apt-get install fonts-dejavu-core")
    return ImageFont.truetype(str(path), size_px)


@dataclass
class TableSpec:
    """A table to draw. Sizes are in points (1/72 inch) so one spec renders at any dpi."""

    texts: list[list[str]]  # n_rows x n_cols; a merged cell's text sits at its top-left slot
    col_widths: list[float]
    row_heights: list[float] | None = None  # default: from the number of text lines
    merges: list[tuple[int, int, int, int]] = field(
        default_factory=list
    )  # (row, col, rowspan, colspan)
    origin: tuple[float, float] = (36.0, 36.0)  # top-left corner on the page, points
    style: str = "grid"  # grid | no_frame | columns | rows
    line_width: float = 0.75
    line_color: tuple[int, int, int] = (0, 0, 0)
    broken_lines: float = 0.0  # share of each rule erased in short random gaps
    font_name: str = "sans"
    font_size: float = 10.0
    header_rows: int = 0  # rows drawn dark with white bold text when header_fill is set
    header_fill: tuple[int, int, int] | None = None
    header_separator: tuple[int, int, int] | None = None  # colour of rules inside the dark header
    shade_rows: dict[int, tuple[int, int, int]] = field(default_factory=dict)  # row -> fill
    halftone_rows: list[int] = field(default_factory=list)  # rows shaded with a dot screen
    align: str = "left"  # left | center | right (numbers look best right-aligned)
    padding: float = 4.0  # points between a rule and the text

    @property
    def n_rows(self) -> int:
        return len(self.texts)

    @property
    def n_cols(self) -> int:
        return len(self.col_widths)

    def heights(self) -> list[float]:
        if self.row_heights is not None:
            return list(self.row_heights)
        out = []
        for row in self.texts:
            lines = max((len(t.split("\n")) for t in row if t), default=1)
            out.append(self.font_size * (1.25 * lines + 0.6) + 2 * self.padding * 0.5)
        return out


@dataclass
class TruthCell:
    row: int
    col: int
    rowspan: int
    colspan: int
    text: str
    bbox: tuple[int, int, int, int]  # page pixels before skew, x1/y1 exclusive

    @property
    def n_lines(self) -> int:
        return len([t for t in self.text.split("\n") if t.strip()]) if self.text.strip() else 0


@dataclass
class TruthTable:
    n_rows: int
    n_cols: int
    cells: list[TruthCell]
    bbox: tuple[int, int, int, int]
    row_lines: list[int]
    col_lines: list[int]

    def spans(self) -> set[tuple[int, int, int, int]]:
        return {(c.row, c.col, c.rowspan, c.colspan) for c in self.cells}

    def cell(self, row: int, col: int) -> TruthCell:
        for c in self.cells:
            if c.row <= row < c.row + c.rowspan and c.col <= col < c.col + c.colspan:
                return c
        raise KeyError((row, col))


@dataclass
class RenderedPage:
    image: np.ndarray  # (H, W, 3) uint8 RGB
    tables: list[TruthTable]
    dpi: float
    angle: float  # degrees the page was rotated by (counter-clockwise positive, as PIL)


def _slots(spec: TableSpec) -> list[tuple[int, int, int, int]]:
    """Every cell of the table as (row, col, rowspan, colspan), merges included."""
    covered: dict[tuple[int, int], tuple[int, int, int, int]] = {}
    for r, c, rs, cs in spec.merges:
        for rr in range(r, r + rs):
            for cc in range(c, c + cs):
                if (rr, cc) in covered:
                    raise ValueError(f"merges overlap at {(rr, cc)}")
                covered[(rr, cc)] = (r, c, rs, cs)
    cells = []
    for r in range(spec.n_rows):
        for c in range(spec.n_cols):
            m = covered.get((r, c))
            if m is None:
                cells.append((r, c, 1, 1))
            elif (m[0], m[1]) == (r, c):
                cells.append(m)
    return cells


def _draw_rule(draw: ImageDraw.ImageDraw, x0, y0, x1, y1, width, color, broken: float, rng):
    """A straight rule; with ``broken`` > 0 pieces of it are left out, like a worn scan."""
    if broken <= 0:
        draw.rectangle([x0, y0, x1, y1], fill=color)
        return
    horizontal = (x1 - x0) >= (y1 - y0)
    length = (x1 - x0) if horizontal else (y1 - y0)
    pos = 0.0
    piece = max(6.0, length / 12)
    while pos < length:
        on = piece * rng.uniform(0.6, 1.4)
        gap = on * broken / (1 - broken) * rng.uniform(0.5, 1.5)
        a, b = pos, min(length, pos + on)
        if horizontal:
            draw.rectangle([x0 + a, y0, x0 + b, y1], fill=color)
        else:
            draw.rectangle([x0, y0 + a, x1, y0 + b], fill=color)
        pos += on + gap


def _halftone(img: Image.Image, box, scale: float):
    """A dot screen (about 85 lines per inch) like printed grey shading."""
    x0, y0, x1, y1 = box
    period = max(3, int(round(300 / 85 * scale * 1.0)))
    radius = max(1, period // 3)
    draw = ImageDraw.Draw(img)
    for yy in range(y0 + period // 2, y1, period):
        for xx in range(x0 + period // 2 + ((yy // period) % 2) * (period // 2), x1, period):
            draw.ellipse(
                [xx - radius / 2, yy - radius / 2, xx + radius / 2, yy + radius / 2],
                fill=(150, 150, 150),
            )


def draw_table(img: Image.Image, spec: TableSpec, dpi: float, seed: int = 0) -> TruthTable:
    """Draw ``spec`` onto ``img`` at ``dpi`` and return where everything went."""
    rng = random.Random(seed)
    px = dpi / 72.0
    ox, oy = spec.origin[0] * px, spec.origin[1] * px
    xs = [ox]
    for w in spec.col_widths:
        xs.append(xs[-1] + w * px)
    ys = [oy]
    for h in spec.heights():
        ys.append(ys[-1] + h * px)
    xi = [int(round(x)) for x in xs]
    yi = [int(round(y)) for y in ys]
    lw = max(1, int(round(spec.line_width * px)))
    draw = ImageDraw.Draw(img)
    slots = _slots(spec)

    # Fills first, so rules and text go on top.
    for r, c, rs, cs in slots:
        box = (xi[c], yi[r], xi[c + cs], yi[r + rs])
        if spec.header_fill is not None and r < spec.header_rows:
            draw.rectangle([box[0], box[1], box[2] - 1, box[3] - 1], fill=spec.header_fill)
        elif r in spec.shade_rows:
            draw.rectangle([box[0], box[1], box[2] - 1, box[3] - 1], fill=spec.shade_rows[r])
        elif r in spec.halftone_rows:
            _halftone(img, box, dpi / 300)

    # Rules: for every slot boundary decide whether this style draws it.
    def rule(x0, y0, x1, y1, color):  # a line of width lw centred on (x0, y0)-(x1, y1)
        half, rest = lw // 2, (lw - 1) // 2
        _draw_rule(draw, x0 - half, y0 - half, x1 + rest, y1 + rest, lw, color,
                   spec.broken_lines, rng)

    def h_rule(y, x0, x1, color):
        rule(x0, y, x1, y, color)

    def v_rule(x, y0, y1, color):
        rule(x, y0, x, y1, color)

    owner = {}
    for r, c, rs, cs in slots:
        for rr in range(r, r + rs):
            for cc in range(c, c + cs):
                owner[(rr, cc)] = (r, c)
    nr, nc = spec.n_rows, spec.n_cols

    def color_at(row: int) -> tuple[int, int, int]:
        if (
            spec.header_fill is not None
            and row < spec.header_rows
            and spec.header_separator is not None
        ):
            return spec.header_separator
        return spec.line_color

    for j in range(nc + 1):  # vertical rules, one segment per row
        outer = j in (0, nc)
        if spec.style == "rows" or (outer and spec.style in ("no_frame", "columns")):
            continue
        for r in range(nr):
            if not outer and owner[(r, j - 1)] == owner[(r, j)]:
                continue  # inside a merged cell
            v_rule(xi[j], yi[r], yi[r + 1], color_at(r))
    for i in range(nr + 1):  # horizontal rules, one segment per column
        outer = i in (0, nr)
        if spec.style == "columns" or (outer and spec.style == "no_frame"):
            continue
        for c in range(nc):
            if not outer and owner[(i - 1, c)] == owner[(i, c)]:
                continue
            color = color_at(i) if i > 0 and color_at(i - 1) == color_at(i) else spec.line_color
            h_rule(yi[i], xi[c], xi[c + 1], color)

    # Text: each line of a cell centred vertically as a block.
    size = max(4, int(round(spec.font_size * px)))
    line_h = spec.font_size * 1.25 * px
    pad = spec.padding * px
    cells = []
    for r, c, rs, cs in slots:
        text = spec.texts[r][c]
        x0, y0, x1, y1 = xi[c], yi[r], xi[c + cs], yi[r + rs]
        cells.append(TruthCell(r, c, rs, cs, text, (x0, y0, x1, y1)))
        if not text:
            continue
        dark = spec.header_fill is not None and r < spec.header_rows
        f = font("sans-bold" if dark else spec.font_name, size)
        color = (255, 255, 255) if dark else (0, 0, 0)
        lines = text.split("\n")
        block = line_h * len(lines)
        top = (y0 + y1) / 2 - block / 2
        for k, line in enumerate(lines):
            w = draw.textlength(line, font=f)
            if spec.align == "right":
                tx = x1 - pad - w
            elif spec.align == "center":
                tx = (x0 + x1) / 2 - w / 2
            else:
                tx = x0 + pad
            ty = top + k * line_h + line_h / 2
            draw.text((tx, ty), line, font=f, fill=color, anchor="lm")
    bbox = (xi[0], yi[0], xi[-1], yi[-1])
    return TruthTable(nr, nc, cells, bbox, yi, xi)


def render_page(
    specs: list[TableSpec],
    dpi: float = 200,
    size_pt: tuple[float, float] | None = None,
    angle: float = 0.0,
    noise: float = 0.0,
    blur: float = 0.0,
    extra_text: list[tuple[float, float, str]] = (),
    seed: int = 0,
) -> RenderedPage:
    """Draw the tables (and any loose text lines) on a white page.

    ``size_pt`` defaults to the tables' extent plus a margin, which keeps tests fast.
    ``angle`` rotates the finished page (degrees, counter-clockwise), ``noise`` adds
    Gaussian noise of that standard deviation (grey levels), ``blur`` a Gaussian blur
    of that radius (pixels).
    """
    px = dpi / 72.0
    if size_pt is None:
        right = max(s.origin[0] + sum(s.col_widths) for s in specs) if specs else 300
        bottom = max(s.origin[1] + sum(s.heights()) for s in specs) if specs else 300
        for x, y, _ in extra_text:
            right, bottom = max(right, x + 200), max(bottom, y + 20)
        size_pt = (right + 36, bottom + 36)
    w, h = int(round(size_pt[0] * px)), int(round(size_pt[1] * px))
    img = Image.new("RGB", (w, h), (255, 255, 255))
    truths = [draw_table(img, spec, dpi, seed=seed + k) for k, spec in enumerate(specs)]
    draw = ImageDraw.Draw(img)
    for x, y, text in extra_text:
        draw.text((x * px, y * px), text, font=font("serif", int(round(10 * px))), fill=(0, 0, 0))
    if angle:
        img = img.rotate(angle, resample=Image.BICUBIC, expand=False, fillcolor=(255, 255, 255))
    if blur:
        img = img.filter(ImageFilter.GaussianBlur(blur))
    arr = np.asarray(img, dtype=np.uint8).copy()
    if noise:
        rs = np.random.default_rng(seed)
        arr = np.clip(
            arr.astype(np.float32) + rs.normal(0, noise, arr.shape[:2])[:, :, None], 0, 255
        )
        arr = arr.astype(np.uint8)
    return RenderedPage(arr, truths, dpi, angle)


# ---------------------------------------------------------------------------
# Ready-made tables for the scenarios the tests cover.

WORDS = [
    "Alpha",
    "Bravo",
    "Delta",
    "Echo",
    "Kilo",
    "Lima",
    "Oscar",
    "Tango",
    "Zulu",
    "Omega",
    "North",
    "South",
    "East",
    "West",
    "Total",
    "Budget",
    "Actual",
    "Margin",
    "Units",
]


def sample_texts(
    n_rows: int,
    n_cols: int,
    seed: int = 0,
    header: bool = True,
    empty: set[tuple[int, int]] = frozenset(),
) -> list[list[str]]:
    """Plausible table content: a header row of words, then labels and numbers."""
    rng = random.Random(seed)
    rows = []
    for r in range(n_rows):
        row = []
        for c in range(n_cols):
            if (r, c) in empty:
                row.append("")
            elif r == 0 and header:
                row.append(rng.choice(WORDS) + (f" {c}" if c else ""))
            elif c == 0:
                row.append(f"{rng.choice(WORDS)} {r}")
            else:
                row.append(f"{rng.randint(1, 99999):,}")
        rows.append(row)
    return rows


def merged_spec(**kw) -> TableSpec:
    """A 6 x 5 bordered table with a column span, a row span and a 2 x 2 block."""
    texts = sample_texts(6, 5, seed=3)
    merges = [(0, 1, 1, 2), (1, 0, 2, 1), (3, 2, 2, 2)]
    texts[0][1] = "Quarter one"
    texts[1][0] = "Region"
    texts[3][2] = "Block"
    for r, c, rs, cs in merges:
        for rr in range(r, r + rs):
            for cc in range(c, c + cs):
                if (rr, cc) != (r, c):
                    texts[rr][cc] = ""
    return TableSpec(texts=texts, col_widths=[90, 70, 70, 70, 70], merges=merges, **kw)


def bordered_spec(n_rows: int = 8, n_cols: int = 5, seed: int = 1, **kw) -> TableSpec:
    texts = sample_texts(n_rows, n_cols, seed=seed, empty={(2, 3), (5, 1)})
    return TableSpec(texts=texts, col_widths=[100] + [70] * (n_cols - 1), **kw)


def columns_only_spec(n_rows: int = 9, seed: int = 2, **kw) -> TableSpec:
    """A financial statement: rules between the columns only; one text line per row."""
    texts = sample_texts(n_rows, 4, seed=seed)
    texts[0] = ["", "2023", "2024", "Change"]
    kw.setdefault("row_heights", [16.0] * n_rows)
    kw.setdefault("align", "right")
    return TableSpec(texts=texts, col_widths=[130, 70, 70, 70], style="columns", **kw)


def rows_only_spec(n_rows: int = 7, seed: int = 4, **kw) -> TableSpec:
    """Horizontal rules between rows, no vertical rules: columns come from the text gaps."""
    texts = sample_texts(n_rows, 4, seed=seed)
    return TableSpec(texts=texts, col_widths=[110, 80, 80, 80], style="rows", padding=8, **kw)


def tight_spec(seed: int = 5, **kw) -> TableSpec:
    """Many narrow columns holding single digits and characters, tight padding."""
    rng = random.Random(seed)
    n_rows, n_cols = 6, 12
    texts = [
        [str(rng.randint(0, 9)) if (r + c) % 5 else rng.choice("AXK%-+") for c in range(n_cols)]
        for r in range(n_rows)
    ]
    texts[0] = ["#"] + [chr(ord("A") + c) for c in range(n_cols - 1)]
    texts[3][4] = ""
    return TableSpec(texts=texts, col_widths=[18] * n_cols, padding=2, align="center", **kw)


def multiline_spec(seed: int = 6, **kw) -> TableSpec:
    """A bordered table where one cell holds three lines of text (it must stay one cell)."""
    texts = sample_texts(5, 4, seed=seed)
    texts[2][0] = "Notes on\nthe second\nquarter"
    texts[3][2] = "two\nlines"
    return TableSpec(texts=texts, col_widths=[110, 80, 80, 80], **kw)
