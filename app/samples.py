"""Scanned-looking table pages with known content: the demo scans in resources/samples/.

    python -m app.samples [OUT_DIR]        # default: resources/samples

writes, for each sample, ``<name>.png`` (the page) and ``<name>.json`` (its truth:
every table's grid, spans and texts). The pages are drawn with PIL and a system
TrueType font (DejaVu Sans, Liberation Sans or Pillow's own), then made to look
scanned: a small rotation, uneven paper, blur, grain and dust, grey levels
quantised as a scanner's would be. Everything is seeded, so a run gives the same
pages on the same fonts and Pillow version.

``render_page`` is also what the app tests use to draw pages they know.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFilter, ImageFont

import resources

DEFAULT_DIR = resources.path(resources.SAMPLES)

_FONT_FILES = {
    False: ("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
            "/usr/share/fonts/truetype/liberation2/LiberationSans-Regular.ttf",
            "/usr/share/fonts/truetype/liberation/LiberationSans-Regular.ttf"),
    True: ("/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf",
           "/usr/share/fonts/truetype/liberation2/LiberationSans-Bold.ttf",
           "/usr/share/fonts/truetype/liberation/LiberationSans-Bold.ttf"),
}


@lru_cache(maxsize=32)
def _font(size_px: int, bold: bool = False) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    for path in _FONT_FILES[bold]:
        if Path(path).exists():
            return ImageFont.truetype(path, size_px)
    return ImageFont.load_default(size=size_px)  # Pillow's bundled font


@dataclass
class SampleTable:
    """A table to draw.

    rows: the text of every grid position (a merged cell's text at its top-left,
        "" in the positions it covers; "\\n" for several lines in one cell).
    col_widths: in points (1/72 inch), so a table renders at any resolution.
    merges: (row, col, rowspan, colspan) of every merged cell.
    header_rows: rows drawn bold, on ``header_style`` ("dark": white on dark grey,
        "shaded": light grey, "plain").
    align: one of "l", "r", "c" per column.
    rules: "grid" (every cell boxed) or "columns" (vertical rules between columns
        only; rows are given by the text lines).
    """

    rows: list[list[str]]
    col_widths: list[float]
    merges: list[tuple[int, int, int, int]] = field(default_factory=list)
    header_rows: int = 1
    header_style: str = "shaded"
    align: str = ""
    rules: str = "grid"

    @property
    def n_rows(self) -> int:
        return len(self.rows)

    @property
    def n_cols(self) -> int:
        return len(self.col_widths)

    def cells(self) -> list[tuple[int, int, int, int]]:
        """(row, col, rowspan, colspan) of every cell, merged ones once."""
        covered = set()
        span = {(r, c): (rs, cs) for r, c, rs, cs in self.merges}
        out = []
        for r in range(self.n_rows):
            for c in range(self.n_cols):
                if (r, c) in covered:
                    continue
                rs, cs = span.get((r, c), (1, 1))
                covered.update((r + i, c + j) for i in range(rs) for j in range(cs))
                out.append((r, c, rs, cs))
        return out

    def truth(self) -> dict:
        return {
            "n_rows": self.n_rows, "n_cols": self.n_cols,
            "cells": [{"row": r, "col": c, "rowspan": rs, "colspan": cs, "text": self.rows[r][c]}
                      for r, c, rs, cs in self.cells()],
        }


@dataclass
class Scan:
    """How scanned the page looks. All zero: a clean rendering."""

    skew_deg: float = 0.0
    blur: float = 0.0  # Gaussian radius in pixels
    grain: float = 0.0  # standard deviation of the paper grain, grey levels
    dust: int = 0  # specks per page
    shading: float = 0.0  # darkening towards one side, grey levels
    levels: int = 256  # grey levels kept (a scanner's and PNG's friend)


@dataclass
class Page:
    tables: list[SampleTable]
    lines_before: list[list[str]] = field(default_factory=list)  # text lines above each table
    font_pt: float = 10.0
    width_in: float = 8.27  # A4
    scan: Scan = field(default_factory=Scan)
    seed: int = 0


def _pt(points: float, dpi: float) -> int:
    return round(points * dpi / 72)


def render_page(page: Page, dpi: float = 150) -> tuple[Image.Image, list[dict]]:
    """The page as a grayscale image, and the truth of its tables, with each cell's
    bbox in the pixels of the unrotated page."""
    font_px = _pt(page.font_pt, dpi)
    line_h = int(font_px * 1.35)
    pad = max(3, int(font_px * 0.45))
    margin = _pt(48, dpi)
    width = _pt(page.width_in * 72, dpi)

    layouts = []
    y = margin
    for i, table in enumerate(page.tables):
        before = page.lines_before[i] if i < len(page.lines_before) else []
        y += len(before) * line_h + (line_h // 2 if before else 0)
        heights = [line_h * max(1, max(t.count("\n") + 1 for t in row)) + 2 * pad for row in table.rows]
        for r, c, rs, _ in table.cells():  # a tall merged cell grows its last row
            need = line_h * (table.rows[r][c].count("\n") + 1) + 2 * pad
            have = sum(heights[r:r + rs])
            if need > have:
                heights[r + rs - 1] += need - have
        xs = [margin]
        for w in table.col_widths:
            xs.append(xs[-1] + _pt(w, dpi))
        ys = [y]
        for h in heights:
            ys.append(ys[-1] + h)
        layouts.append((before, xs, ys))
        y = ys[-1] + 2 * line_h
    height = y - line_h + margin

    img = Image.new("L", (max(width, max(l[1][-1] for l in layouts) + margin), height), 255)
    draw = ImageDraw.Draw(img)
    truths = []
    for table, (before, xs, ys) in zip(page.tables, layouts):
        ty = ys[0] - len(before) * line_h - line_h // 2
        for k, text in enumerate(before):
            draw.text((xs[0], ty + k * line_h), text, fill=20, font=_font(font_px, bold=k == 0))
        truths.append(_draw_table(draw, table, xs, ys, font_px, line_h, pad, dpi))
    return _scanned(img, page.scan, page.seed), truths


def _draw_table(draw: ImageDraw.ImageDraw, table: SampleTable, xs: list[int], ys: list[int],
                font_px: int, line_h: int, pad: int, dpi: float) -> dict:
    rule = max(1, _pt(0.7, dpi))
    truth = table.truth()
    for cell in truth["cells"]:
        r, c, rs, cs = cell["row"], cell["col"], cell["rowspan"], cell["colspan"]
        x0, x1, y0, y1 = xs[c], xs[c + cs], ys[r], ys[r + rs]
        cell["bbox"] = [x0, y0, x1, y1]
        header = r < table.header_rows
        ink = 20
        if header and table.header_style == "dark":
            draw.rectangle([x0, y0, x1, y1], fill=60)
            ink = 250
        elif header and table.header_style == "shaded":
            draw.rectangle([x0, y0, x1, y1], fill=215)
        if table.rules == "grid":
            draw.rectangle([x0, y0, x1, y1], outline=25, width=rule)
        font = _font(font_px, bold=header)
        lines = cell["text"].split("\n") if cell["text"] else []
        top = (y0 + y1) // 2 - len(lines) * line_h // 2
        align = table.align[c] if c < len(table.align) else "l"
        for k, line in enumerate(lines):
            w = draw.textlength(line, font=font)
            if align == "r":
                tx = x1 - pad - w
            elif align == "c":
                tx = (x0 + x1 - w) / 2
            else:
                tx = x0 + pad
            draw.text((tx, top + k * line_h + (line_h - font_px) // 2), line, fill=ink, font=font)
    if table.rules == "columns":
        for x in xs[1:-1]:
            draw.line([(x, ys[0]), (x, ys[-1])], fill=25, width=rule)
    return truth


def _scanned(img: Image.Image, scan: Scan, seed: int) -> Image.Image:
    rng = np.random.default_rng(seed)
    if scan.skew_deg:
        img = img.rotate(scan.skew_deg, resample=Image.Resampling.BICUBIC, expand=True, fillcolor=255)
    if scan.blur:
        img = img.filter(ImageFilter.GaussianBlur(scan.blur))
    a = np.asarray(img, dtype=np.float32)
    clean = a.copy()
    h, w = a.shape
    if scan.shading:
        a = a - scan.shading * np.linspace(0.0, 1.0, w, dtype=np.float32)[None, :]
    if scan.grain:
        a = a + rng.normal(0.0, scan.grain, size=a.shape).astype(np.float32)
    for _ in range(scan.dust):
        # Specks on blank paper only: a speck on a glyph changes the page's text.
        for _try in range(50):
            y, x = int(rng.integers(8, h - 8)), int(rng.integers(8, w - 8))
            if clean[y - 8:y + 8, x - 8:x + 8].min() > 200:
                a[y - 1:y + 1, x - 1:x + 1] = float(rng.integers(40, 160))
                break
    if scan.levels < 256:
        step = 256 / scan.levels
        a = np.floor(a / step) * step + step / 2
    return Image.fromarray(np.clip(a, 0, 255).astype(np.uint8), mode="L")


# --------------------------------------------------------------------------- the samples

_SCANNED = {"blur": 0.5, "grain": 2.5, "dust": 12, "shading": 10.0, "levels": 16}


def _invoice() -> Page:
    rows = [
        ["Item", "Description", "Qty", "Unit price", "Amount"],
        ["A-1001", "Printer paper, A4 80 g", "12", "$4.50", "$54.00"],
        ["A-1002", "Toner cartridge\nblack, high yield", "2", "$89.90", "$179.80"],
        ["B-0040", "Desk lamp", "1", "$35.00", "$35.00"],
        ["C-2210", "USB-C cable 2 m", "5", "$7.25", "$36.25"],
        ["D-0007", "Service hours", "3.5", "$60.00", "$210.00"],
        ["Subtotal", "", "", "", "$515.05"],
        ["VAT", "", "", "20%", "$103.01"],
        ["Total due", "", "", "", "$618.06"],
    ]
    merges = [(6, 0, 1, 4), (7, 0, 1, 3), (8, 0, 1, 4)]
    table = SampleTable(rows, [70, 190, 40, 75, 80], merges, header_rows=1, header_style="dark",
                        align="llrrr")
    return Page([table], [["INVOICE 2024-0117", "Issued 15 Mar 2024, due 14 Apr 2024"]],
                scan=Scan(skew_deg=0.6, **_SCANNED), seed=117)


def _quarterly() -> Page:
    rows = [
        ["", "Q1 2024", "Q2 2024", "Change"],
        ["Revenue", "1,254,300", "1,318,750", "5.1%"],
        ["Cost of sales", "(702,410)", "(731,900)", "4.2%"],
        ["Gross profit", "551,890", "586,850", "6.3%"],
        ["Operating expenses", "(398,120)", "(377,460)", "(5.2%)"],
        ["Operating income", "153,770", "209,390", "36.2%"],
        ["Net margin", "9.8%", "12.1%", "2.3"],
    ]
    table = SampleTable(rows, [150, 80, 80, 60], header_rows=1, header_style="plain",
                        align="lrrr", rules="columns")
    return Page([table], [["Statement of income (USD)"]], scan=Scan(skew_deg=-0.8, **_SCANNED), seed=2024)


def _schedule() -> Page:
    rows = [
        ["Date", "Time", "Room", "Session", ""],
        ["", "", "", "Track A", "Track B"],
        ["15 Mar 2024", "09:00", "Hall 1", "Opening keynote", ""],
        ["", "10:30", "Hall 2", "Table detection", "Tensor kernels"],
        ["", "14:00", "Hall 2", "Beam search", "Layout analysis"],
        ["16 Mar 2024", "09:30", "Room 4", "Workshop: training a\ncell recogniser", ""],
        ["", "13:00", "Room 4", "Closing panel", ""],
    ]
    merges = [(0, 0, 2, 1), (0, 1, 2, 1), (0, 2, 2, 1), (0, 3, 1, 2), (2, 3, 1, 2),
              (2, 0, 3, 1), (5, 0, 2, 1), (5, 3, 1, 2), (6, 3, 1, 2)]
    table = SampleTable(rows, [80, 45, 55, 120, 120], merges, header_rows=2, header_style="shaded",
                        align="lcclll")
    return Page([table], [["Conference programme"]], scan=Scan(skew_deg=0.4, **_SCANNED), seed=316)


def _inventory_eu() -> Page:
    stock = SampleTable([
        ["Artikel", "Bezeichnung", "Bestand", "Preis"],
        ["000123", "Schrauben M4", "1.250", "0,08 €"],
        ["000124", "Muttern M4", "980", "0,05 €"],
        ["004410", "Winkel 40 mm", "75", "1,20 €"],
        ["020001", "Werkbank", "2", "1.249,00 €"],
    ], [60, 130, 60, 75], header_rows=1, header_style="shaded", align="llrr")
    moves = SampleTable([
        ["Datum", "Artikel", "Menge"],
        ["04.03.2024", "000123", "-200"],
        ["11.03.2024", "004410", "25"],
        ["18.03.2024", "020001", "-1"],
    ], [75, 60, 55], header_rows=1, header_style="shaded", align="llr")
    return Page([stock, moves], [["Lagerbestand"], ["Bewegungen März 2024"]],
                scan=Scan(skew_deg=-0.5, **_SCANNED), seed=4410)


SAMPLES = {"invoice": _invoice, "quarterly": _quarterly, "schedule": _schedule,
           "inventory_eu": _inventory_eu}
SAMPLE_DPI = 150


def write_samples(out_dir: str | Path = DEFAULT_DIR, names: Sequence[str] | None = None) -> list[Path]:
    """Render the samples into ``out_dir``: <name>.png and <name>.json each."""
    from table.export.atomic import atomic_target

    out = Path(out_dir)
    written = []
    for name in names or SAMPLES:
        image, truth = render_page(SAMPLES[name](), dpi=SAMPLE_DPI)
        png = out / f"{name}.png"
        with atomic_target(png, replace_scans=True) as tmp:
            image.save(tmp, format="PNG", optimize=True, dpi=(SAMPLE_DPI, SAMPLE_DPI))
        doc = {"image": png.name, "dpi": SAMPLE_DPI, "generator": "python -m app.samples",
               "note": "cell bboxes are in the pixels of the page before the scan rotation",
               "tables": truth}
        with atomic_target(out / f"{name}.json") as tmp:
            tmp.write_text(json.dumps(doc, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
        written += [png, out / f"{name}.json"]
    return written


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m app.samples", description=__doc__.split("\n")[0])
    parser.add_argument("out_dir", nargs="?", default=str(DEFAULT_DIR))
    parser.add_argument("--only", nargs="+", choices=sorted(SAMPLES), help="render only these")
    args = parser.parse_args(argv)
    for path in write_samples(args.out_dir, args.only):
        print(f"{path} ({path.stat().st_size // 1024} KB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
