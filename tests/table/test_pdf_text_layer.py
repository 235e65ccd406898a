"""Born-digital PDFs: tables and exact text from the file's characters and drawings."""

from __future__ import annotations

import openpyxl
import pypdfium2 as pdfium
import pytest
from openpyxl.styles import Alignment, Border, Side
from reportlab.lib.pagesizes import A4
from reportlab.pdfgen import canvas

from table.pages import load_pages
from table.pdf_layer import read_pdf_layer, text_matches_ink
from table.pdf_tables import layer_text, tables_from_layer
from tests.app.fakes import standard_scan
from tests.table.pdf_make import (
    SOFFICE,
    cells_of,
    draw_table,
    libreoffice_pdf,
    scanned_pdf,
    tricky_text_pdf,
    truth,
    vector_pdf,
)

SCALE = 150 / 72


def layer_of(path, index: int = 0):
    pdf = pdfium.PdfDocument(str(path))
    try:
        return read_pdf_layer(pdf[index])
    finally:
        pdf.close()


def test_ruled_and_open_tables_with_spans(tmp_path):
    expected = vector_pdf(tmp_path / "v.pdf")
    tables = tables_from_layer(layer_of(tmp_path / "v.pdf"), SCALE)
    assert [cells_of(t) for t in tables] == [expected["ruled"], expected["open"]]  # no title, no prose
    assert all(t.read_from == "text-layer" and t.pdf_scale == 1 / SCALE for t in tables)
    assert {c.confidence for t in tables for c in t.cells} == {1.0}
    ruled = tables[0]
    assert (ruled.n_rows, ruled.n_cols) == (4, 4)
    # Boxes in page pixels: the ruled table starts at 50 pt from the left, 80 pt from the top.
    assert abs(ruled.bbox[0] - 50 * SCALE) <= 2 and abs(ruled.bbox[1] - 80 * SCALE) <= 2
    # A cell's text read again from its box (after a grid edit in the GUI).
    north = next(c for c in ruled.cells if c.text == "North")
    assert layer_text(layer_of(tmp_path / "v.pdf"), north.bbox, SCALE) == "North"


def test_text_as_a_person_reads_it(tmp_path):
    expected = tricky_text_pdf(tmp_path / "t.pdf")
    [table] = tables_from_layer(layer_of(tmp_path / "t.pdf"), SCALE)
    assert cells_of(table) == expected


def test_pages_carry_their_layer_and_ink_check(tmp_path):
    vector_pdf(tmp_path / "v.pdf")
    [page] = load_pages(tmp_path / "v.pdf", dpi=100)
    assert page.layer is not None and page.layer.has_text
    assert text_matches_ink(page.layer, page.image, page.image.shape[1] / page.layer.width)
    assert load_pages(tmp_path / "v.pdf", dpi=100, text_layer=False)[0].layer is None
    scan = standard_scan(tmp_path / "scan.png")
    scanned_pdf(tmp_path / "s.pdf", [scan])
    [page] = load_pages(tmp_path / "s.pdf", dpi=100)
    assert not page.layer.has_text and page.layer.image_area > 0.1
    scanned_pdf(tmp_path / "ocr.pdf", [scan], ocr_text="Item 1,234.50\nsomething else")
    [page] = load_pages(tmp_path / "ocr.pdf", dpi=100)
    assert page.layer.has_text and not page.layer.visible_chars
    assert not text_matches_ink(page.layer, page.image, page.image.shape[1] / page.layer.width)


RULED = [["Region", "Sales", None, "Note"], [None, "Q1", "Q2", None],
         ["North", 1234.5, "final", "two\nlines"], ["South-East", -10, "15 Mar 2024", "ok"]]
OPEN = [["Name", "Qty", "Price"], ["Apples", 3, 1.5], ["Big pears", 12, 0.75], ["Plums", 450, 2.25]]


@pytest.mark.skipif(SOFFICE is None, reason="LibreOffice (soffice) not installed: .ci/run installs it")
def test_libreoffice_pdf_ruled_and_open(tmp_path):
    wb = openpyxl.Workbook()
    ws = wb.active
    thin = Side(style="thin")
    for r, row in enumerate(RULED, 1):
        for c, value in enumerate(row, 1):
            cell = ws.cell(r, c, value)
            cell.border = Border(thin, thin, thin, thin)
            if isinstance(value, str) and "\n" in value:
                cell.alignment = Alignment(wrap_text=True)
    for name in ("B1:C1", "A1:A2", "D1:D2"):
        ws.merge_cells(name)
    for col in "ABCD":
        ws.column_dimensions[col].width = 16
    ws.row_dimensions[3].height = 30
    sheet = wb.create_sheet("open")
    for r, row in enumerate(OPEN, 1):
        for c, value in enumerate(row, 1):
            sheet.cell(r, c, value)
    wb.save(tmp_path / "book.xlsx")
    pdf = libreoffice_pdf(tmp_path / "book.xlsx", tmp_path)
    [ruled] = tables_from_layer(layer_of(pdf, 0), SCALE)
    shown = [[("" if v is None else str(v)) for v in row] for row in RULED]
    assert cells_of(ruled) == truth(shown, [(0, 1, 1, 2), (0, 0, 2, 1), (0, 3, 2, 1)])
    [open_table] = tables_from_layer(layer_of(pdf, 1), SCALE)
    assert cells_of(open_table) == truth([[str(v) for v in row] for row in OPEN])


def test_region_text_from_characters():
    from table.pdf_layer import Char
    from table.pdf_text import region_text

    def word(text, x, baseline, size=10.0, start=0):
        out = []
        for i, ch in enumerate(text):
            out.append(Char(ch, x + 6 * i, baseline - 8, x + 6 * (i + 1), baseline + 2, baseline, size,
                            index=start + i))
        return out

    chars = word("\ufb01x", 0, 20) + word("re\u00ad", 0, 32, start=10) + word("run", 0, 44, start=20)
    assert region_text(chars) == "fix\nrerun"  # ligature split; the soft hyphen joins the lines
    assert region_text(word("H", 0, 20) + [Char("2", 6, 19, 10, 24, 23, 6.0, index=5)]
                       + word("O", 10, 20, start=6)) == "H₂O"


def test_centred_header_over_columns_of_one_width(tmp_path):
    # Body texts of one width per column do not show where columns end: "Price" is
    # centred over the digits and the amounts, so it starts just right of the digits,
    # as if set flush left over the amounts alone. Centred between the white strips of
    # the amounts alone it cannot be (the strips are too far apart); over both it is.
    head = [["Name", "Price", "", "Code"]]
    body = [["North", "5", "12,958.65", "K-5064"], ["South", "7", "23,483.15", "F-2150"],
            ["East", "1", "14,165.41", "K-4541"], ["West", "0", "10,331.07", "H-9806"]]
    widths = [80, 24, 70, 60]
    pdf = canvas.Canvas(str(tmp_path / "h.pdf"), pagesize=A4)
    draw_table(pdf, head, widths, [(0, 1, 1, 2)], top=100, ruled=False, align=dict.fromkeys(range(4), "center"))
    draw_table(pdf, body, widths, top=118, ruled=False)
    pdf.showPage()
    pdf.save()
    tables = tables_from_layer(layer_of(tmp_path / "h.pdf"), SCALE)
    assert [cells_of(t) for t in tables] == [truth(head + body, [(0, 1, 1, 2)])]


def _inked(image, bbox) -> bool:
    x0, y0, x1, y1 = bbox
    return bool((image[y0:y1, x0:x1].min(axis=2) < 128).any())


@pytest.mark.parametrize("rotation", [90, 180, 270])
def test_rotated_pages_read_as_displayed(tmp_path, rotation):
    """/Rotate: characters and rules are placed on the page as a viewer shows it, where
    the rendered page has their ink."""
    from tests.table.pdf_make import rotated_pdf

    expected = rotated_pdf(tmp_path / "r.pdf", rotation)
    [page] = load_pages(tmp_path / "r.pdf", dpi=100)
    scale = page.image.shape[1] / page.layer.width
    assert page.image.shape[0] > page.image.shape[1]  # shown upright: an A4 portrait
    assert text_matches_ink(page.layer, page.image, scale)
    tables = tables_from_layer(page.layer, scale)
    assert [cells_of(t) for t in tables] == [expected["ruled"], expected["open"]]
    north = next(c for c in tables[0].cells if c.text == "North")
    assert _inked(page.image, north.bbox)
    assert north.bbox[0] < page.image.shape[1] / 3 and north.bbox[1] < page.image.shape[0] / 3


def test_tables_inside_nested_form_xobjects(tmp_path):
    """Rules drawn inside a form XObject drawn inside another: read through both
    matrices, so the ruled table keeps its spans."""
    from tests.table.pdf_make import form_pdf

    expected = form_pdf(tmp_path / "f.pdf")
    [page] = load_pages(tmp_path / "f.pdf", dpi=100)
    scale = page.image.shape[1] / page.layer.width
    tables = tables_from_layer(page.layer, scale)
    assert [cells_of(t) for t in tables] == [expected["ruled"], expected["open"]]
    ruled = tables[0]
    # The outer form moves the inner one 10 pt right and 20 pt up.
    assert abs(ruled.bbox[0] - 60 * scale) <= 2 and abs(ruled.bbox[1] - 100 * scale) <= 2


def test_open_table_with_a_label_over_two_rows_and_a_two_line_cell(tmp_path):
    """No rules: a label midway between two rows whose first column is empty spans
    both; a cell's two lines around its row's other texts are one cell of one row."""
    texts = [["Region", "Product", "Units", "Price"], ["North", "Apples", "3", "1.50"],
             ["South", "Pears", "12", "0.75"], ["", "Plums", "45", "2.10"],
             ["East\ncoast", "Figs", "8", "3.20"], ["West", "Kiwis", "120", "0.40"]]
    merges = [(2, 0, 2, 1)]
    pdf = canvas.Canvas(str(tmp_path / "o.pdf"), pagesize=A4)
    draw_table(pdf, texts, [80, 80, 50, 50], merges, top=100, row_h=24, ruled=False)
    pdf.showPage()
    pdf.save()
    [table] = tables_from_layer(layer_of(tmp_path / "o.pdf"), SCALE)
    assert cells_of(table) == truth(texts, merges)



def test_open_label_over_two_rows_that_leave_different_cells_empty(tmp_path):
    """No rules: the label's two rows have no column in common (the upper one fills
    only the last column, the lower one only the middle one); it still spans both and
    no row is lost."""
    texts = [["Name", "Amount", "Total"], ["North Alpha", "$42,968.72", "$37,311.75"],
             ["Stock", "", "$220.87"], ["", "$34,405.75", ""],
             ["Open", "$3,458.62", "$22,825.02"], ["Budget Actual", "$12,929.52", "$46,861.01"]]
    merges = [(2, 0, 2, 1)]
    pdf = canvas.Canvas(str(tmp_path / "o.pdf"), pagesize=A4)
    draw_table(pdf, texts, [110, 110, 110], merges, top=100, row_h=22, ruled=False)
    pdf.showPage()
    pdf.save()
    [table] = tables_from_layer(layer_of(tmp_path / "o.pdf"), SCALE)
    assert cells_of(table) == truth(texts, merges)


# Neighbouring centred headers share a boundary: a header that alone could be centred
# on one column as well as on two is read from the boundaries its neighbours leave it.
# The texts stand where LibreOffice Calc printed them (Liberation Serif; x of each
# text's left end, in points), header bold and centred, words flush left, numbers
# flush right; (0, c, 1, 2): the header spanning two columns.
_JOINT_CASES = {
    # one-width dates: "Berlin Total" could be centred on the dates' column alone,
    # the dates set flush left in it, were that column's left edge free; "Forecast
    # Open", centred on the first column, puts that edge elsewhere
    "dates": (10.0, 19.5, (0, 1, 1, 2), [
        [(124.3, "Forecast Open"), (257.9, "Berlin Total"), None, (380.1, "Pending"), (457.2, "West Returns")],
        [(103.1, "Owner Oslo"), (239.0, "2021-02-28"), (352.8, "3"), (388.9, "2022-07-15"), (437.5, "H-906")],
        [(103.1, "Alpha Status"), (239.0, "2020-07-25"), (352.8, "5"), (388.9, "2019-09-11"), (437.5, "F-1601")],
        [(103.1, "Units West"), (239.0, "2025-05-27"), (352.8, "5"), (388.9, "2022-02-19"), (437.5, "E-2293")],
        [(103.1, "Pending Budget"), (239.0, "2022-02-10"), (352.8, "6"), (388.9, "2020-05-16"), (437.5, "K-5385")],
        [(103.1, "West"), (239.0, "2021-04-23"), (352.8, "7"), (388.9, "2020-01-07"), (437.5, "B-5211")]]),
    # an empty header cell; single digits: "Oslo" on the first digits' column alone
    # would leave them neither flush right nor centred where "Pending" puts its edge
    "digits": (5.9, 11.9, (0, 5, 1, 2), [
        [(102.2, "Beta Owner"), (179.0, "Berlin"), (241.1, "East Berlin"), None, (347.0, "Pending"),
         (423.0, "Oslo"), None, (495.0, "Forecast Margin")],
        [(86.4, "Total Open"), (149.7, "Returns Revenue"), (268.7, "89,384"), (319.3, "7,625"), (377.5, "5"),
         (425.1, "1"), (460.3, "77.7%"), (538.8, "20,149")],
        [(86.4, "Total"), None, (268.7, "72,967"), (316.3, "57,333"), (377.5, "0"), (425.1, "8"),
         (461.3, "-2.9%"), (538.8, "81,924")],
        [(86.4, "Stock Units"), (149.7, "Region"), (268.7, "90,930"), (316.3, "86,389"), (377.5, "2"),
         (425.1, "9"), (457.3, "113.2%"), (538.8, "55,765")],
        [(86.4, "Alpha Revenue"), (149.7, "Costs Costs"), (268.7, "48,206"), (316.3, "67,966"), (377.5, "0"),
         (425.1, "3"), (460.3, "86.4%"), (538.8, "52,500")],
        [(86.4, "North Delta"), (149.7, "Actual Alpha"), (276.2, "419"), (319.3, "7,965"), (377.5, "5"),
         (425.1, "3"), (460.3, "13.8%"), (538.8, "10,457")]]),
    # single digits under a wide header: on one digits' column it would leave the
    # digit 3 points off that column's middle (centred text is centred exactly)
    "off_centre": (9.3, 18.1, (0, 3, 1, 2), [
        [(124.3, "Oslo South"), (215.5, "Budget"), None, (376.4, "Alpha Paris"), None, (484.9, "West Budget")],
        [(99.6, "Berlin Revenue"), (221.2, "2020-01-08"), (327.4, "7"), (394.5, "8"), (461.5, "1"), (468.1, "D-3636")],
        [(99.6, "Region"), (221.2, "2025-12-08"), (327.4, "0"), (394.5, "4"), (461.5, "4"), (468.1, "F-6785")],
        [(99.6, "Delta North"), (221.2, "2021-05-08"), (327.4, "1"), (394.5, "6"), (461.5, "1"), (468.1, "B-1397")],
        [(99.6, "Orders"), None, (327.4, "1"), (394.5, "3"), (461.5, "6"), (468.1, "K-7293")]]),
}


def _placed_rows(path, rows, size: float, pitch: float, family: str = "LiberationSerif"):
    """Draw ``rows`` of (x, text) or None (an empty cell), the first row bold, as
    LibreOffice Calc placed them; the tables read back from the file."""
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.ttfonts import TTFont

    folder = "/usr/share/fonts/truetype/liberation2"
    for face in ("Regular", "Bold"):
        pdfmetrics.registerFont(TTFont(f"{family}-{face}", f"{folder}/{family}-{face}.ttf"))
    pdf = canvas.Canvas(str(path), pagesize=A4)
    for r, row in enumerate(rows):
        pdf.setFont(f"{family}-Bold" if r == 0 else f"{family}-Regular", size)
        for placed in row:
            if placed:
                pdf.drawString(placed[0], A4[1] - 100 - r * pitch, placed[1])
    pdf.showPage()
    pdf.save()
    return tables_from_layer(layer_of(path), SCALE)


@pytest.mark.parametrize("case", sorted(_JOINT_CASES))
def test_centred_headers_share_their_boundaries(tmp_path, case):
    size, pitch, merge, rows = _JOINT_CASES[case]
    tables = _placed_rows(tmp_path / "j.pdf", rows, size, pitch)
    texts = [[placed[1] if placed else "" for placed in row] for row in rows]
    assert [cells_of(t) for t in tables] == [truth(texts, [merge])]


def test_two_centred_headers_over_columns_without_alignment_evidence(tmp_path):
    # Every body column's texts are of one width (no flush edge to place a boundary
    # by): "Region" and "Revenue Costs" have the body's white strip between them and
    # are two cells, each centred on its column, not one text.
    rows = [
        [(119.5, "Delta"), (180.6, "West North"), (247.1, "Oslo Margin"), (318.2, "Region"),
         (377.6, "Revenue Costs"), (479.2, "Costs Units"), None],
        [(90.4, "Orders East"), (210.5, "15,000"), (294.3, "6"), (329.1, "$34,461.30"), (420.5, "28,446"),
         (488.6, "2"), (523.3, "$20,131.04")],
        [(90.4, "South Returns"), (213.5, "3,451"), (294.3, "4"), (329.1, "$22,785.39"), (420.5, "26,389"),
         (488.6, "4"), (523.3, "$38,136.93")],
        [(90.4, "Returns"), (210.5, "54,538"), (294.3, "8"), (329.1, "$44,136.10"), (420.5, "93,533"),
         (488.6, "7"), (523.3, "$36,631.41")],
        [(90.4, "Price"), (210.5, "76,289"), (294.3, "4"), (329.1, "$35,802.90"), (423.4, "6,051"),
         (488.6, "3"), (523.3, "$41,058.31")]]
    tables = _placed_rows(tmp_path / "h.pdf", rows, 5.41, 10.8, "LiberationSans")
    texts = [[placed[1] if placed else "" for placed in row] for row in rows]
    assert [cells_of(t) for t in tables] == [truth(texts, [(0, 5, 1, 2)])]


def test_header_centred_past_the_body_text_stays_in_the_table(tmp_path):
    # The last column is much wider than its short words (set flush left): its header,
    # centred, lies wholly to the right of every body text and is its cell's text.
    rows = [
        [(112.2, "Delta"), (168.2, "Status"), (216.8, "Oslo Total"), (274.9, "Orders"), (337.9, "South"),
         (416.8, "Owner Costs"), None, (510.4, "Price")],
        [(86.8, "Closed"), (182.8, "-45.9%"), (242.3, "56,359"), (304.9, "3"), (309.0, "Total"),
         (414.3, "79,834"), (459.7, "$9,584.25"), (484.8, "Costs")],
        [(86.8, "Forecast"), (184.8, "11.5%"), (242.3, "13,966"), (304.9, "9"), (309.0, "Units Delta"),
         (414.3, "72,765"), (456.7, "$12,962.90"), (484.8, "Returns")],
        [(86.8, "Costs Orders"), (181.8, "116.7%"), (242.3, "54,873"), (304.9, "8"), (309.0, "Revenue East"),
         (417.3, "4,986"), (456.7, "$22,989.12"), (484.8, "Orders")],
        [(86.8, "Berlin"), (184.8, "26.6%"), (242.3, "28,970"), (304.9, "2"), (309.0, "Forecast Actual"),
         (414.3, "21,639"), (456.7, "$15,981.67"), (484.8, "Gamma")]]
    tables = _placed_rows(tmp_path / "p.pdf", rows, 5.89, 11.3)
    texts = [[placed[1] if placed else "" for placed in row] for row in rows]
    assert [cells_of(t) for t in tables] == [truth(texts, [(0, 5, 1, 2)])]


def test_flush_right_and_flush_left_cells_set_tight_together(tmp_path):
    # Numbers flush right end 1 pt (an eighth of the font size, less than a word
    # space) before the codes flush left in the next column: each cell is its own
    # text object, as office programs draw them, and that parts them.
    texts = [["Name", "Amount", "Code"], ["North", "2024-05-20", "H-6729"], ["South", "12.5", "B-31"],
             ["East", "7,310.25", "K-9959"], ["West", "0", "A-1421"]]
    size = 8.0
    pdf = canvas.Canvas(str(tmp_path / "t.pdf"), pagesize=A4)
    for r, row in enumerate(texts):
        y = A4[1] - 100 - r * 14
        pdf.setFont("Helvetica-Bold" if r == 0 else "Helvetica", size)
        pdf.drawString(60, y, row[0])
        pdf.drawRightString(200, y, row[1])
        pdf.drawString(201, y, row[2])
    pdf.showPage()
    pdf.save()
    tables = tables_from_layer(layer_of(tmp_path / "t.pdf"), SCALE)
    assert [cells_of(t) for t in tables] == [truth(texts)]
