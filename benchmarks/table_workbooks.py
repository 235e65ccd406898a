"""Pages for the end-to-end table benchmark, with their truth.

Two generators, both printed by LibreOffice (openpyxl workbook -> soffice headless PDF
-> pypdfium2 raster -> scan damage), a route independent of the unit tests' Pillow
renderer:

- ``make_workbooks`` + ``print_to_pdf`` + ``scan``: the development pages the ruled
  detector was built against (``--split dev --style ruled``, seed 7), kept as they were
  so earlier figures stay comparable;
- ``synthetic_pages``: training.tables designs (ruled, open or mixed styles) for the
  validation split and for the held-out split (its own seed space, font families and
  layout families, never used while developing).
"""

from __future__ import annotations

import io
import random
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageFilter

from training.tables.truth import grid_html

# --------------------------------------------------------------------------- workbooks

FONTS = ["Liberation Sans", "DejaVu Sans", "Liberation Serif", "Carlito", "Arimo"]
WORDS = [
    "Revenue",
    "Costs",
    "Margin",
    "North",
    "South",
    "East",
    "West",
    "Region",
    "Total",
    "Units",
    "Price",
    "Stock",
    "Orders",
    "Returns",
    "Budget",
    "Actual",
    "Forecast",
    "Status",
    "Owner",
    "Alpha",
    "Beta",
    "Gamma",
    "Delta",
    "Open",
    "Closed",
    "Pending",
    "Paris",
    "Berlin",
    "Oslo",
]


@dataclass
class TrueTable:
    n_rows: int
    n_cols: int
    spans: set[tuple[int, int, int, int]]
    texts: dict[tuple[int, int], str]  # top-left (row, col) of each cell -> text
    bbox: tuple[int, int, int, int] | None = None  # page pixels before skew, where known

    @property
    def merges(self) -> set[tuple[int, int, int, int]]:
        return {s for s in self.spans if s[2] > 1 or s[3] > 1}

    def html(self, structure_only: bool = False) -> str:
        return grid_html(self.n_rows, self.spans, {} if structure_only else self.texts)


@dataclass
class BenchPage:
    name: str
    tables: list[TrueTable]
    image: np.ndarray | None = None
    dpi: int = 200
    angle: float = 0.0
    style: str = ""


def _value(rng: random.Random, kind: str) -> str:
    if kind == "int":
        return f"{rng.randint(0, 99999):,}"
    if kind == "dec":
        v = rng.uniform(-9999, 99999)
        return f"({abs(v):,.2f})" if v < 0 else f"{v:,.2f}"
    if kind == "pct":
        return f"{rng.uniform(-50, 150):.1f}%"
    if kind == "cur":
        return f"${rng.uniform(0, 50000):,.2f}"
    if kind == "date":
        return f"{rng.randint(2019, 2025)}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}"
    if kind == "code":
        return f"{rng.choice('ABCDEFGHK')}-{rng.randint(100, 9999)}"
    if kind == "digit":
        return str(rng.randint(0, 9))
    return " ".join(rng.choice(WORDS) for _ in range(rng.randint(1, 2)))


def _design_table(rng: random.Random) -> dict:
    n_cols = rng.randint(3, 8)
    n_rows = rng.randint(4, 16)
    kinds = ["word"] + [
        rng.choice(["int", "dec", "pct", "cur", "date", "code", "word", "digit"])
        for _ in range(n_cols - 1)
    ]
    texts = [[_value(rng, "word") for _ in range(n_cols)]]
    texts += [[_value(rng, kinds[c]) for c in range(n_cols)] for _ in range(n_rows - 1)]
    merges: list[tuple[int, int, int, int]] = []
    taken: set[tuple[int, int]] = set()

    def add(r, c, rs, cs):
        cells = {(rr, cc) for rr in range(r, r + rs) for cc in range(c, c + cs)}
        if r + rs > n_rows or c + cs > n_cols or cells & taken:
            return
        taken.update(cells)
        merges.append((r, c, rs, cs))
        for rr, cc in cells - {(r, c)}:
            texts[rr][cc] = ""

    # grid: every cell boxed; grid_medium: a heavier frame; no_frame: inner rules only;
    # hair: hairlines; columns: rules between columns only (rows from the text lines);
    # rows: rules between rows only (columns from the white space between them).
    style = rng.choices(
        ["grid", "grid_medium", "no_frame", "hair", "columns", "rows"],
        [0.45, 0.15, 0.12, 0.08, 0.1, 0.1],
    )[0]
    # A title row over the whole table. Not on frameless or column-ruled tables: there
    # a title cell is indistinguishable from a caption above the table.
    if rng.random() < 0.35 and style not in ("no_frame", "columns"):
        texts.insert(0, ["Summary " + rng.choice(WORDS)] + [""] * (n_cols - 1))
        n_rows += 1
        add(0, 0, 1, n_cols)
    if rng.random() < 0.4 and n_cols >= 4:  # a header group
        r0 = 1 if merges else 0
        c = rng.randint(1, n_cols - 2)
        add(r0, c, 1, 2)
    # Without row rules a cell spanning rows, or holding two lines, cannot be told
    # from separate rows; such tables (financial statements) have neither.
    row_ruled = style != "columns"
    if rng.random() < 0.4 and row_ruled:  # a label spanning rows
        r = rng.randint(2, max(2, n_rows - 3))
        add(r, 0, rng.randint(2, 3), 1)
    # A block spanning columns needs the column rules to show it: without them a
    # value centred on two columns reads as sitting in one of them.
    if rng.random() < 0.25 and n_cols >= 4 and n_rows >= 6 and style not in ("rows", "columns"):
        add(rng.randint(2, n_rows - 3), rng.randint(1, n_cols - 2), 2, 2)
    multiline = set()
    if rng.random() < 0.3 and row_ruled:
        r, c = rng.randint(1, n_rows - 1), 0
        if (r, c) not in taken:
            texts[r][c] = _value(rng, "word") + "\n" + _value(rng, "word")
            multiline.add((r, c))
    for _ in range(rng.randint(0, 3)):  # empty cells
        r, c = rng.randint(1, n_rows - 1), rng.randint(1, n_cols - 1)
        if (r, c) not in taken:
            texts[r][c] = ""
    return {
        "n_rows": n_rows,
        "n_cols": n_cols,
        "texts": texts,
        "merges": merges,
        "kinds": kinds,
        "multiline": multiline,
        "style": style,
        "header_fill": rng.choices([None, "1F4E78", "D9D9D9", "404040"], [0.5, 0.2, 0.2, 0.1])[0],
        "banded": rng.random() < 0.15,
        "font": rng.choice(FONTS),
        "size": rng.choice([9, 10, 11, 12]),
    }


_FONT_FILES = {"Liberation Sans": "LiberationSans", "DejaVu Sans": "DejaVuSans",
               "Liberation Serif": "LiberationSerif", "Carlito": "Carlito", "Arimo": "Arimo"}
_POINTS_PER_UNIT = 5.25  # a column width unit: Calibri 11's digit (7 px at 96 dpi)
_CLIP_ROOM = 1.5  # units beside the measured text: the cell's two paddings and some


def _text_units(text: str, font: str, size: float, bold: bool) -> float | None:
    """Column width units that ``text`` takes as printed (its widest line, in its own
    font); None where the font file is not installed."""
    from PIL import ImageFont

    stem = _FONT_FILES.get(font)
    if stem is None:
        return None
    names = [f"{stem}-Bold.ttf"] if bold else [f"{stem}-Regular.ttf", f"{stem}.ttf"]
    for name in names:
        try:
            face = ImageFont.truetype(name, 100)
        except OSError:
            continue
        points = max(face.getlength(line) for line in text.split("\n")) * size / 100
        return points / _POINTS_PER_UNIT
    return None


def _write_table(ws, d: dict, top: int, left: int, fit_text: bool = False) -> TrueTable:
    """``fit_text``: widen a column where its text as measured in its font would not
    fit (LibreOffice clips it: a page must show its truth), no more, so the design's
    white space stays; off for the pages earlier figures were measured on."""
    from openpyxl.styles import Alignment, Border, Font, PatternFill, Side
    from openpyxl.utils import get_column_letter

    style = d["style"]
    thin = "hair" if style == "hair" else "thin"
    outer = {"grid_medium": "medium", "no_frame": None, "hair": "hair", "columns": None,
             "open": None}.get(style, "thin")
    n_rows, n_cols = d["n_rows"], d["n_cols"]
    header_rows = 2 if d["merges"] and d["merges"][0][3] == n_cols and d["merges"][0][0] == 0 else 1
    owner = {}
    for r, c, rs, cs in d["merges"]:
        for rr in range(r, r + rs):
            for cc in range(c, c + cs):
                owner[(rr, cc)] = (r, c, rs, cs)
    for r in range(n_rows):
        for c in range(n_cols):
            cell = ws.cell(row=top + r, column=left + c)
            text = d["texts"][r][c]
            if text:
                cell.value = text  # strings: the page shows exactly this text
            head = r < header_rows
            dark = head and d["header_fill"] in ("1F4E78", "404040")
            cell.font = Font(
                name=d["font"], size=d["size"], bold=head, color="FFFFFF" if dark else "000000"
            )
            if head and d["header_fill"]:
                cell.fill = PatternFill("solid", fgColor=d["header_fill"])
            elif d["banded"] and r % 2 == 0:
                cell.fill = PatternFill("solid", fgColor="EDEDED")
            numeric = d["kinds"][c] not in ("word", "code") and not head
            # Without column rules, columns need white space between them: centred.
            across = "center" if head or style == "rows" else ("right" if numeric else "left")
            cell.alignment = Alignment(horizontal=across, vertical="center", wrap_text="\n" in text)
            # Inside a merged range only its outline is drawn.
            mr, mc, mrs, mcs = owner.get((r, c), (r, c, 1, 1))

            def edge(on: bool, outer_edge: bool) -> Side:
                if not on or (outer_edge and not outer):
                    return Side()
                return Side(style=outer if outer_edge else thin)

            vertical = style not in ("rows", "open")  # open: no rules at all (pdf_tables.py)
            horizontal = style not in ("columns", "open")
            cell.border = Border(
                left=edge(vertical and c == mc, c == 0),
                right=edge(vertical and c == mc + mcs - 1, c == n_cols - 1),
                top=edge(horizontal and r == mr, r == 0 and style != "rows"),
                bottom=edge(horizontal and r == mr + mrs - 1, r == n_rows - 1 and style != "rows"),
            )
    for r, c, rs, cs in d["merges"]:
        ws.merge_cells(
            start_row=top + r,
            start_column=left + c,
            end_row=top + r + rs - 1,
            end_column=left + c + cs - 1,
        )
        ws.cell(row=top + r, column=left + c).alignment = Alignment(
            horizontal="center", vertical="center"
        )
    # Widths that fit the text, so nothing spills over a rule.
    for c in range(n_cols):
        longest, fits = 4, 0.0
        for r in range(n_rows):
            span = next((m for m in d["merges"] if m[0] == r and m[1] == c), None)
            if span and span[3] > 1:
                continue
            for line in d["texts"][r][c].split("\n"):
                longest = max(longest, len(line) * (1.25 if r < header_rows else 1.1))
            measured = _text_units(d["texts"][r][c], d["font"], d["size"], r < header_rows) if fit_text else None
            fits = max(fits, (measured or 0) + _CLIP_ROOM)
        letter = get_column_letter(left + c)
        # Unruled columns are told apart by the white space between them.
        room = 7 if style == "rows" else 3
        ws.column_dimensions[letter].width = max(
            ws.column_dimensions[letter].width or 0, longest + room, fits
        )
    for r, c, rs, cs in d["merges"]:  # spanning titles: widen the last column when needed
        need = len(d["texts"][r][c]) * 1.3 + 3
        measured = _text_units(d["texts"][r][c], d["font"], d["size"], r < header_rows) if fit_text else None
        need = max(need, (measured or 0) + _CLIP_ROOM)
        have = sum(
            ws.column_dimensions[get_column_letter(left + cc)].width for cc in range(c, c + cs)
        )
        if have < need:
            letter = get_column_letter(left + c + cs - 1)
            ws.column_dimensions[letter].width += need - have
    for r in range(n_rows):
        lines = max(len(t.split("\n")) for t in d["texts"][r])
        ws.row_dimensions[top + r].height = d["size"] * 1.6 * lines + 4
    spans = {owner.get((r, c), (r, c, 1, 1)) for r in range(n_rows) for c in range(n_cols)}
    texts = {(r, c): d["texts"][r][c] for r, c, _, _ in spans}
    return TrueTable(n_rows, n_cols, spans, texts)


def make_workbooks(n_pages: int, folder: Path, seed: int) -> list[BenchPage]:
    from openpyxl import Workbook

    rng = random.Random(seed)
    pages = []
    for k in range(n_pages):
        wb = Workbook()
        ws = wb.active
        ws.title = "Sheet1"
        first = _design_table(rng)
        truths = [_write_table(ws, first, 2, 2)]
        styles = [first["style"]]
        if rng.random() < 0.2:  # a second table further down the page
            second = _design_table(rng)
            second["n_rows"] = min(second["n_rows"], 8)
            second["texts"] = second["texts"][: second["n_rows"]]
            second["merges"] = [m for m in second["merges"] if m[0] + m[2] <= second["n_rows"]]
            truths.append(_write_table(ws, second, 2 + first["n_rows"] + 3, 2))
            styles.append(second["style"])
        ws.sheet_properties.pageSetUpPr.fitToPage = True
        ws.page_setup.fitToWidth = 1
        ws.page_setup.fitToHeight = 1
        ws.page_setup.orientation = "portrait"
        ws.print_options.gridLines = False
        name = f"page{k:03d}"
        wb.save(folder / f"{name}.xlsx")
        pages.append(BenchPage(name, truths, style="+".join(styles)))
    return pages


def print_to_pdf(folder: Path) -> None:
    soffice = shutil.which("soffice") or shutil.which("libreoffice")
    if soffice is None:
        sys.exit("soffice not found: apt-get install -y libreoffice-calc-nogui")
    profile = folder / "lo_profile"
    files = sorted(str(p) for p in folder.glob("*.xlsx"))
    subprocess.run(
        [
            soffice,
            f"-env:UserInstallation=file://{profile}",
            "--headless",
            "--convert-to",
            "pdf",
            "--outdir",
            str(folder),
            *files,
        ],
        check=True,
        capture_output=True,
        timeout=900,
    )


def scan(pages: list[BenchPage], folder: Path, seed: int) -> None:
    """Rasterise each printed page and make it look scanned."""
    import pypdfium2 as pdfium

    rng = random.Random(seed + 1)
    for p in pages:
        pdf = pdfium.PdfDocument(str(folder / f"{p.name}.pdf"))
        if len(pdf) != 1:
            raise RuntimeError(f"{p.name}: LibreOffice printed {len(pdf)} pages, expected 1")
        p.dpi = rng.choice([150, 200, 200, 300])
        img = pdf[0].render(scale=p.dpi / 72).to_pil().convert("RGB")
        pdf.close()
        p.angle = 0.0 if rng.random() < 0.25 else rng.uniform(-4, 4)
        if p.angle:
            img = img.rotate(
                p.angle, resample=Image.BICUBIC, expand=False, fillcolor=(255, 255, 255)
            )
        blur = rng.choice([0, 0, 0.5, 0.8])
        if blur:
            img = img.filter(ImageFilter.GaussianBlur(blur))
        arr = np.asarray(img, dtype=np.float32)
        sigma = rng.choice([0, 3, 6, 9])
        if sigma:
            arr = (
                arr
                + np.random.default_rng(rng.randint(0, 2**31)).normal(0, sigma, arr.shape[:2])[
                    :, :, None
                ]
            )
        img = Image.fromarray(np.clip(arr, 0, 255).astype(np.uint8))
        if rng.random() < 0.3:
            buf = io.BytesIO()
            img.save(buf, "JPEG", quality=rng.choice([70, 85]))
            img = Image.open(io.BytesIO(buf.getvalue())).convert("RGB")
        p.image = np.asarray(img, dtype=np.uint8)


def synthetic_pages(split: str, style: str, n_pages: int, seed: int, folder: Path
                    ) -> list[BenchPage]:
    """``n_pages`` training.tables pages of ``split`` in ``style``, printed by LibreOffice."""
    from training.tables.design import design_page
    from training.tables.office_page import render_office

    designs = [design_page(split, seed, k, style) for k in range(n_pages)]
    pages = []
    for d, p in zip(designs, render_office(designs, folder)):
        tables = [TrueTable(t.n_rows, t.n_cols, t.spans(), t.texts(), t.bbox) for t in p.tables]
        pages.append(BenchPage(p.name, tables, p.image, int(p.dpi), p.angle,
                               "+".join(t.layout for t in p.tables)))
    return pages
