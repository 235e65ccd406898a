"""Born-digital PDFs for the tests, drawn with reportlab (and LibreOffice, from an xlsx).

Each builder returns the truth: per table the grid of texts (a spanning cell's text at
its top-left) and the spans, as ``{(row, col, rowspan, colspan, text)}``.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from reportlab.lib.pagesizes import A4
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.pdfgen import canvas

FONT = "DejaVuSans"
pdfmetrics.registerFont(TTFont(FONT, "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"))
SOFFICE = shutil.which("soffice") or shutil.which("libreoffice")
PAGE_W, PAGE_H = A4


def truth(texts: list[list[str]], merges=()) -> set[tuple]:
    """{(row, col, rowspan, colspan, text)} of a table; covered positions left out."""
    spans = {(r, c): (rs, cs) for r, c, rs, cs in merges}
    covered = {(r + i, c + j) for r, c, rs, cs in merges for i in range(rs) for j in range(cs)} - set(spans)
    return {(r, c, *spans.get((r, c), (1, 1)), text)
            for r, row in enumerate(texts) for c, text in enumerate(row) if (r, c) not in covered}


def cells_of(table) -> set[tuple]:
    return {(c.row, c.col, c.rowspan, c.colspan, c.text) for c in table.cells}


def draw_table(pdf: canvas.Canvas, texts, widths, merges=(), *, x=50.0, top=100.0, row_h=18.0,
               ruled=True, size=10.0, align=None, page_h: float = PAGE_H) -> None:
    """A table from the top-left corner (x, top), in points from the page's top
    (``page_h``: the height of the frame it is drawn in)."""
    n_rows = len(texts)
    xs = [x]
    for w in widths:
        xs.append(xs[-1] + w)
    ys = [top + i * row_h for i in range(n_rows + 1)]
    spans = {(r, c): (rs, cs) for r, c, rs, cs in merges}
    covered = {(r + i, c + j) for r, c, rs, cs in merges for i in range(rs) for j in range(cs)} - set(spans)
    pdf.setFont(FONT, size)
    pdf.setLineWidth(0.6)
    for r in range(n_rows):
        for c in range(len(widths)):
            if (r, c) in covered:
                continue
            rs, cs = spans.get((r, c), (1, 1))
            x0, x1, y0, y1 = xs[c], xs[c + cs], ys[r], ys[r + rs]
            if ruled:
                pdf.rect(x0, page_h - y1, x1 - x0, y1 - y0, stroke=1, fill=0)
            text = texts[r][c]
            lines = text.split("\n")
            base = (y0 + y1) / 2 - (len(lines) - 1) * size * 0.6 + size * 0.35
            for i, line in enumerate(lines):
                how = (align or {}).get(c, "right" if _numeric(line) else "left")
                if cs > 1:
                    how = "center"
                yb = page_h - (base + i * size * 1.2)
                if how == "right":
                    pdf.drawRightString(x1 - 4, yb, line)
                elif how == "center":
                    pdf.drawCentredString((x0 + x1) / 2, yb, line)
                else:
                    pdf.drawString(x0 + 4, yb, line)


def _numeric(text: str) -> bool:
    return bool(text) and all(ch in "0123456789.,-%$() " for ch in text)


RULED = [["Region", "Sales 2024", "", "Note"], ["", "Q1", "Q2", ""],
         ["North", "1,234.50", "-10", "two\nlines"], ["South-East", "15 Mar 2024", "0.5", "ok"]]
RULED_MERGES = [(0, 1, 1, 2), (0, 0, 2, 1), (0, 3, 2, 1)]
OPEN = [["Item", "Quantity sold", "", "Price"], ["", "North", "South", ""],
        ["Apples", "3", "12", "1.50"], ["Big pears", "120", "7", "0.75"], ["Plums", "45", "8", "2.10"]]
OPEN_MERGES = [(0, 1, 1, 2)]


def _vector_content(pdf: canvas.Canvas, page_h: float = PAGE_H) -> dict[str, set[tuple]]:
    pdf.setFont(FONT, 14)
    pdf.drawString(50, page_h - 60, "Quarterly report")
    draw_table(pdf, RULED, [90, 80, 60, 70], RULED_MERGES, top=80, row_h=30, page_h=page_h)
    pdf.setFont(FONT, 10)
    pdf.drawString(50, page_h - 230, "The table below has no rules at all; its columns are")
    pdf.drawString(50, page_h - 243, "found from the white space between the text.")
    draw_table(pdf, OPEN, [90, 70, 70, 60], OPEN_MERGES, top=270, ruled=False, page_h=page_h)
    return {"ruled": truth(RULED, RULED_MERGES), "open": truth(OPEN, OPEN_MERGES)}


def vector_pdf(path: Path) -> dict[str, set[tuple]]:
    """One page: a title, a ruled table with spans and a two-line cell, a paragraph, an
    open table with a spanning header."""
    pdf = canvas.Canvas(str(path), pagesize=A4)
    expected = _vector_content(pdf)
    pdf.showPage()
    pdf.save()
    return expected


def rotated_pdf(path: Path, rotation: int) -> dict[str, set[tuple]]:
    """``vector_pdf``'s page on a portrait sheet with ``/Rotate rotation`` (90, 180, 270),
    drawn turned the other way so that it reads upright as displayed (how landscape
    pages are exported): a viewer shows the tables the right way up."""
    pdf = canvas.Canvas(str(path), pagesize=A4)
    pdf.setPageRotation(rotation)  # reportlab lays the media box sideways for 90 and 270
    w, h = (PAGE_H, PAGE_W) if rotation in (90, 270) else (PAGE_W, PAGE_H)  # user space
    pdf.translate(*{0: (0, 0), 90: (w, 0), 180: (w, h), 270: (0, h)}[rotation])
    pdf.rotate(rotation)
    expected = _vector_content(pdf)  # as displayed: A4 upright
    pdf.showPage()
    pdf.save()
    return expected


def form_pdf(path: Path) -> dict[str, set[tuple]]:
    """``vector_pdf``'s tables drawn inside a form XObject that is itself drawn, moved,
    inside another form XObject (how some producers place reused content)."""
    pdf = canvas.Canvas(str(path), pagesize=A4)
    pdf.beginForm("inner")
    expected = _vector_content(pdf, PAGE_H - 40)
    pdf.endForm()
    pdf.beginForm("outer")
    pdf.saveState()
    pdf.translate(10, 20)
    pdf.doForm("inner")
    pdf.restoreState()
    pdf.endForm()
    pdf.doForm("outer")
    pdf.showPage()
    pdf.save()
    return expected


def tricky_text_pdf(path: Path) -> set[tuple]:
    """A ruled 3 x 2 table whose text is drawn the hard ways: a ligature glyph, a soft
    hyphen ending a line, a superscript, a word drawn in fragments out of order, a word
    drawn twice (fake bold)."""
    pdf = canvas.Canvas(str(path), pagesize=A4)
    widths, row_h, top, x = [120, 120], 34, 80, 50
    xs, ys = [x, x + widths[0], x + sum(widths)], [top + i * row_h for i in range(4)]
    pdf.setLineWidth(0.6)
    for r in range(3):
        for c in range(2):
            pdf.rect(xs[c], PAGE_H - ys[r + 1], widths[c], row_h, stroke=1, fill=0)
    pdf.setFont(FONT, 10)

    def at(r: int, c: int, line: int = 0) -> tuple[float, float]:
        return xs[c] + 4, PAGE_H - (ys[r] + 13 + 12 * line)

    pdf.drawString(*at(0, 0), "\ufb01nal o\ufb03ce")  # ligature glyphs ﬁ, ﬃ
    pdf.drawString(*at(0, 1), "Area")
    pdf.drawString(*at(1, 0), "hyphen\u00ad")  # a soft hyphen ending the first line
    pdf.drawString(*at(1, 0, 1), "ation")
    px, py = at(1, 1)
    pdf.drawString(px, py, "12 m")
    pdf.setFont(FONT, 6)
    pdf.drawString(px + pdfmetrics.stringWidth("12 m", FONT, 10), py + 4, "2")  # superscript
    pdf.setFont(FONT, 10)
    fx, fy = at(2, 0)
    for i in reversed(range(len("Fragments"))):  # one character at a time, right to left
        pdf.drawString(fx + pdfmetrics.stringWidth("Fragments"[:i], FONT, 10), fy, "Fragments"[i])
    bx, by = at(2, 1)
    pdf.drawString(bx, by, "Bold")
    pdf.drawString(bx + 0.3, by, "Bold")  # drawn again a hair to the right
    pdf.showPage()
    pdf.save()
    return {(0, 0, 1, 1, "final office"), (0, 1, 1, 1, "Area"), (1, 0, 1, 1, "hyphenation"),
            (1, 1, 1, 1, "12 m²"), (2, 0, 1, 1, "Fragments"), (2, 1, 1, 1, "Bold")}


def image_page(pdf: canvas.Canvas, image_path: Path, *, ocr_text: str | None = None) -> None:
    """A scanned page: the image over the whole width; optionally an invisible OCR layer."""
    from PIL import Image

    with Image.open(image_path) as im:
        w, h = im.size
    width = PAGE_W - 40
    height = width * h / w
    pdf.drawImage(str(image_path), 20, PAGE_H - 20 - height, width, height)
    if ocr_text is not None:
        text = pdf.beginText(60, PAGE_H - 80)
        text.setTextRenderMode(3)  # invisible, as OCR tools lay it under the scan
        text.setFont(FONT, 10)
        for line in ocr_text.split("\n"):
            text.textLine(line)
        pdf.drawText(text)
    pdf.showPage()


def scanned_pdf(path: Path, images: list[Path], ocr_text: str | None = None) -> Path:
    pdf = canvas.Canvas(str(path), pagesize=A4)
    for image in images:
        image_page(pdf, image, ocr_text=ocr_text)
    pdf.save()
    return path


def mixed_pdf(path: Path, image: Path) -> set[tuple]:
    """Page 1 born digital (the ruled table), page 2 a scan of ``image``."""
    pdf = canvas.Canvas(str(path), pagesize=A4)
    draw_table(pdf, RULED, [90, 80, 60, 70], RULED_MERGES, top=80, row_h=30)
    pdf.showPage()
    image_page(pdf, image)
    pdf.save()
    return truth(RULED, RULED_MERGES)


def libreoffice_pdf(xlsx: Path, out_dir: Path) -> Path:
    """``xlsx`` printed to PDF by LibreOffice (headless)."""
    profile = out_dir / "lo-profile"
    subprocess.run([SOFFICE, f"-env:UserInstallation=file://{profile}", "--headless", "--norestore",
                    "--convert-to", "pdf", "--outdir", str(out_dir), str(xlsx)],
                   check=True, capture_output=True, timeout=240)
    return out_dir / (xlsx.stem + ".pdf")
