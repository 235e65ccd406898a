"""Draw PageDesigns through LibreOffice: openpyxl workbook -> soffice headless PDF ->
pypdfium2 raster -> scan damage.

The grid's geometry is read, not guessed: each page is also printed as a *twin*
workbook with the same column widths, row heights and print area but every table cell
boxed and nothing merged, and the twin's vector rules (pdfium path objects) give every
row and column line in PDF points. Which separators are drawn, and the texts, come from
the design. Decimal-aligned columns are right-aligned here (a spreadsheet has no decimal
tab), so their points line up only where a column's numbers share their decimals.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from training.tables.damage import scan_damage
from training.tables.design import PAGE_SIZES, PageDesign, TableDesign
from training.tables.layout import column_widths_pt, row_heights_pt, wrap
from training.tables.truth import PageTruth, TextBlock, TruthCell, TruthTable, slots

PARA_SIZE = 10.0


def _hex(rgb) -> str:
    return "{:02X}{:02X}{:02X}".format(*tuple(rgb))


def _chars(width_pt: float) -> float:
    """openpyxl column width (characters of the default font) for ``width_pt`` points,
    with room to spare: LibreOffice's conversion differs slightly from Excel's."""
    return width_pt / 5.0 + 0.5


def _side(on: bool, d: TableDesign, heavy: bool = False):
    from openpyxl.styles import Side

    if not on:
        return Side()
    style = "medium" if heavy else ("hair" if d.rule_width < 0.5 else "thin")
    return Side(style=style, color="FF" + _hex(d.rule_color))  # alpha 00 is invisible in LibreOffice


def _write_table(ws, d: TableDesign, top: int, twin: bool) -> None:
    from openpyxl.styles import Alignment, Border, Font, PatternFill, Side

    h_drawn, v_drawn = d.separators()
    nr, nc, hr = d.n_rows, d.n_cols, d.header_rows
    thin = Side(style="thin")
    for r in range(nr):
        for c in range(nc):
            cell = ws.cell(row=top + r, column=2 + c)
            if twin:
                cell.border = Border(left=thin, right=thin, top=thin, bottom=thin)
                continue
            text = d.texts[r][c]
            align = d.align[c]
            if r < hr:
                align = "left" if c == 0 else "center"
            # LibreOffice has no cell padding and ignores indents on the right: figure
            # spaces keep right-aligned text off the column line, as the design's padding.
            if text and align in ("right", "decimal"):
                pad = "\u2007" * min(3, round(d.pad_x / (0.55 * d.size)))
                cell.value = "\n".join(line + pad for line in text.split("\n"))
            elif text:
                cell.value = text
            dark = d.band_dark and r < hr
            cell.font = Font(name=d.face.name, size=d.size, bold=r in d.bold_rows,
                             color="FFFFFF" if dark else "000000")
            fill = None
            if d.band is not None and r < hr:
                fill = d.band
            elif r == d.total_row and d.total_fill is not None:
                fill = d.total_fill
            elif d.zebra is not None and r >= hr and (r - hr) % 2 == 1 and r != d.total_row:
                fill = d.zebra
            if fill is not None:
                cell.fill = PatternFill("solid", fgColor=_hex(fill))
            across = {"decimal": "right"}.get(align, align)
            cell.alignment = Alignment(horizontal=across, vertical="center",
                                       wrap_text="\n" in text,
                                       indent=(2 * d.indent[r] if c == 0 and r >= hr else 0)
                                       + (align == "left" and d.pad_x >= 6))
            heavy = d.rules == "booktabs"
            cell.border = Border(
                left=_side(v_drawn[r][c], d), right=_side(v_drawn[r][c + 1], d),
                top=_side(h_drawn[r][c], d, heavy and r == 0),
                bottom=_side(h_drawn[r + 1][c], d, heavy and r + 1 == nr),
            )
    if not twin:
        for r, c, rs, cs in d.merges:
            ws.merge_cells(start_row=top + r, start_column=2 + c, end_row=top + r + rs - 1,
                           end_column=2 + c + cs - 1)
            anchor = ws.cell(row=top + r, column=2 + c)
            anchor.alignment = Alignment(horizontal="left" if c == 0 else "center",
                                         vertical="center")
            # LibreOffice draws a merged range's outline from its anchor cell alone.
            anchor.border = Border(
                left=_side(v_drawn[r][c], d), right=_side(v_drawn[r][c + cs], d),
                top=_side(h_drawn[r][c], d, d.rules == "booktabs" and r == 0),
                bottom=_side(h_drawn[r + rs][c], d, d.rules == "booktabs" and r + rs == nr),
            )


def write_workbook(page: PageDesign, path: Path, twin: bool = False) -> list[tuple[int, int]]:
    """Write the page (or its twin); returns each table's (first sheet row, n_rows)."""
    from openpyxl import Workbook
    from openpyxl.styles import Alignment, Font
    from openpyxl.utils import get_column_letter

    wb = Workbook()
    ws = wb.active
    tables = page.tables
    n_cols = max(t.n_cols for t in tables)
    widths = [0.0] * n_cols
    for t in tables:
        for c, w in enumerate(column_widths_pt(t)):
            widths[c] = max(widths[c], w * 1.06)
    ws.column_dimensions["A"].width = 2
    for c, w in enumerate(widths):
        ws.column_dimensions[get_column_letter(2 + c)].width = _chars(w)
    span = sum(widths)
    face = tables[0].face
    row = 2
    placed = []

    def text_block(text: str, path: str, size: float, bold: bool) -> None:
        nonlocal row
        lines = wrap(text, path, size, span * 0.95)
        ws.row_dimensions[row].height = len(lines) * size * 1.3 + 3
        if not twin:
            cell = ws.cell(row=row, column=2, value="\n".join(lines))
            cell.font = Font(name=face.name, size=size, bold=bold)
            cell.alignment = Alignment(wrap_text=True, vertical="top", horizontal="left")
            ws.merge_cells(start_row=row, start_column=2, end_row=row, end_column=1 + n_cols)
        row += 1

    for b in page.blocks:
        if isinstance(b, TableDesign):
            if b.caption:
                text_block(b.caption, b.face.bold, b.size, True)
            for r, h in enumerate(row_heights_pt(b)):  # LibreOffice's lines run taller
                ws.row_dimensions[row + r].height = h + 0.3 * b.size
            _write_table(ws, b, row, twin)
            placed.append((row, b.n_rows))
            row += b.n_rows
            for note in b.notes:
                text_block(note, b.face.regular, b.size * 0.85, False)
        else:
            text_block(b, face.regular, PARA_SIZE, False)
        ws.row_dimensions[row].height = 8
        row += 1
    ws.print_area = f"A1:{get_column_letter(2 + n_cols)}{row}"
    ws.sheet_properties.pageSetUpPr.fitToPage = True
    ws.page_setup.fitToWidth = 1
    ws.page_setup.fitToHeight = 1
    ws.page_setup.orientation = "portrait"
    ws.page_setup.paperSize = 9 if page.page_pt == PAGE_SIZES["A4"] else 1
    ws.print_options.gridLines = False
    wb.save(path)
    return placed


def print_to_pdf(files: list[Path], folder: Path) -> None:
    soffice = shutil.which("soffice") or shutil.which("libreoffice")
    if soffice is None:
        raise RuntimeError("soffice not found: apt-get install -y libreoffice-calc-nogui")
    profile = folder / "lo_profile"
    subprocess.run(
        [soffice, f"-env:UserInstallation=file://{profile}", "--headless", "--convert-to", "pdf",
         "--outdir", str(folder), *map(str, files)],
        check=True, capture_output=True, timeout=1800,
    )


def _distinct(values: list[float], tol: float = 0.6) -> list[float]:
    out: list[float] = []
    for v in sorted(values):
        if not out or v - out[-1] > tol:
            out.append(v)
    return out


def twin_lines(pdf_path: Path, tables: list[TableDesign]):
    """Per table, its row lines (top down) and column lines (left to right) in points
    from the page's top-left corner, read from the twin's vector rules."""
    import pypdfium2 as pdfium
    from pypdfium2 import raw

    pdf = pdfium.PdfDocument(str(pdf_path))
    try:
        if len(pdf) != 1:
            raise RuntimeError(f"{pdf_path}: LibreOffice printed {len(pdf)} pages, expected 1")
        page = pdf[0]
        height = page.get_height()
        horiz, vert = [], []
        for obj in page.get_objects():
            if obj.type != raw.FPDF_PAGEOBJ_PATH:
                continue
            left, bottom, right, top = obj.get_bounds()
            if right - left > top - bottom:
                horiz.append(((bottom + top) / 2, left, right))
            else:
                vert.append(((left + right) / 2, bottom, top))
    finally:
        pdf.close()
    ys = _distinct([height - y for y, _, _ in horiz])
    out, k = [], 0
    for t in tables:
        rows = ys[k: k + t.n_rows + 1]
        k += t.n_rows + 1
        if len(rows) != t.n_rows + 1:
            raise RuntimeError(f"{pdf_path}: found {len(ys)} row lines, the tables need more")
        inside = [x for x, b, tp in vert if rows[0] - 1 <= height - (b + tp) / 2 <= rows[-1] + 1]
        cols = _distinct(inside)
        if len(cols) != t.n_cols + 1:
            raise RuntimeError(f"{pdf_path}: {len(cols)} column lines, expected {t.n_cols + 1}")
        out.append((rows, cols))
    return out


def render_office(pages: list[PageDesign], folder: Path, damage: bool = True) -> list[PageTruth]:
    """Print every page (one soffice run for all) and return images with their truth."""
    import pypdfium2 as pdfium

    names = [p.name for p in pages]
    if len(set(names)) != len(names):
        raise ValueError("pages to print need distinct names (their files share a folder)")
    folder.mkdir(parents=True, exist_ok=True)
    files = []
    for p in pages:
        write_workbook(p, folder / f"{p.name}.xlsx")
        write_workbook(p, folder / f"{p.name}.twin.xlsx", twin=True)
        files += [folder / f"{p.name}.xlsx", folder / f"{p.name}.twin.xlsx"]
    print_to_pdf(files, folder)
    out = []
    for p in pages:
        px = p.dpi / 72.0
        lines = twin_lines(folder / f"{p.name}.twin.pdf", p.tables)
        pdf = pdfium.PdfDocument(str(folder / f"{p.name}.pdf"))
        try:
            if len(pdf) != 1:
                raise RuntimeError(f"{p.name}: LibreOffice printed {len(pdf)} pages, expected 1")
            img = pdf[0].render(scale=px).to_pil().convert("RGB")
        finally:
            pdf.close()
        tables = []
        for d, (rows, cols) in zip(p.tables, lines):
            yi = [round(y * px) for y in rows]
            xi = [round(x * px) for x in cols]
            cells = [TruthCell(r, c, rs, cs, d.texts[r][c], (xi[c], yi[r], xi[c + cs], yi[r + rs]))
                     for r, c, rs, cs in slots(d.n_rows, d.n_cols, d.merges)]
            h_drawn, v_drawn = d.separators()
            tables.append(TruthTable(d.n_rows, d.n_cols, d.header_rows, cells,
                                     (xi[0], yi[0], xi[-1], yi[-1]), yi, xi, h_drawn, v_drawn,
                                     d.rules, d.layout, d.face.name))
        arr, angle = scan_damage(img, p.damage_seed, p.damage if damage else 0.0)
        blocks = [TextBlock("paragraph", b, None) for b in p.blocks if isinstance(b, str)]
        out.append(PageTruth(arr, tables, p.dpi, angle, blocks, "libreoffice", p.name))
    return out
