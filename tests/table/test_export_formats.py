"""JSON, HTML and Markdown export: read back with jsonschema, lxml and a Markdown renderer."""

from __future__ import annotations

import json

import jsonschema
import lxml.html
import pytest
from markdown_it import MarkdownIt

from table.export import format_for_path, write_tables
from table.export.json_doc import load_schema, read_json
from table.model import Cell, Table


def spanning_table(page: int = 0, scale: float | None = None) -> Table:
    """Rows: a header spanning two columns over a cell spanning two rows, typed values,
    text that must be escaped in every format."""
    cells = [
        Cell(0, 0, 2, 1, (10, 10, 60, 50), "Region"), Cell(0, 1, 1, 2, (60, 10, 160, 30), "Sales <2024>"),
        Cell(1, 1, 1, 1, (60, 30, 110, 50), "Q1"), Cell(1, 2, 1, 1, (110, 30, 160, 50), "Q2"),
        Cell(2, 0, 1, 1, (10, 50, 60, 70), "A & B | *c*", 0.5),
        Cell(2, 1, 1, 1, (60, 50, 110, 70), "1,234.50"), Cell(2, 2, 1, 1, (110, 50, 160, 70), "15 Mar 2024"),
        Cell(3, 0, 1, 1, (10, 70, 60, 90), "two\nlines"), Cell(3, 1, 1, 1, (60, 70, 110, 90), "-3.5%"),
        Cell(3, 2, 1, 1, (110, 70, 160, 90), ""),
    ]
    return Table(4, 3, cells, (10, 10, 160, 90), page, pdf_scale=scale, read_from="text-layer")


def plain_table(page: int = 0) -> Table:
    texts = [["Item", "Qty"], ["Paper `A4`", "12"], ["<b>Ink</b> \\ [x](y)", "=1+1"]]
    return Table(3, 2, [Cell(r, c, text=t) for r, row in enumerate(texts) for c, t in enumerate(row)],
                 page=page)


def spans(table: Table) -> set[tuple]:
    return {(c.row, c.col, c.rowspan, c.colspan, c.text) for c in table.cells}


def test_formats_from_extension():
    assert [format_for_path(f"x.{e}") for e in ("json", "html", "htm", "md", "markdown")] == \
        ["json", "html", "html", "md", "md"]


def test_json_validates_and_round_trips(tmp_path):
    tables = [spanning_table(0, 0.24), plain_table(2)]
    [path] = write_tables(tables, tmp_path / "t.json")
    document = json.loads(path.read_text(encoding="utf-8"))
    jsonschema.Draft202012Validator.check_schema(load_schema())
    jsonschema.validate(document, load_schema())
    assert [p["page"] for p in document["pages"]] == [1, 3]
    first = document["pages"][0]["tables"][0]
    assert first["name"] == "Page 1 Table 1" and first["read_from"] == "text-layer"
    assert first["grid"][0] == ["Region", "Sales <2024>", None]
    assert first["grid"][1] == [None, "Q1", "Q2"]
    cells = {(c["row"], c["col"]): c for c in first["cells"]}
    assert (cells[2, 1]["kind"], cells[2, 1]["value"], cells[2, 1]["number_format"]) == \
        ("decimal", 1234.5, "#,##0.00")
    assert (cells[2, 2]["kind"], cells[2, 2]["value"]) == ("date", "2024-03-15")
    assert (cells[3, 1]["kind"], cells[3, 1]["value"]) == ("percent", -0.035)
    assert (cells[3, 2]["kind"], cells[3, 2]["value"]) == ("empty", None)
    assert cells[2, 0]["confidence"] == 0.5
    assert cells[0, 0]["bbox_px"] == [10, 10, 60, 50] and cells[0, 0]["bbox_pt"] == [2.4, 2.4, 14.4, 12.0]
    assert "bbox_pt" not in document["pages"][1]["tables"][0]["cells"][0]  # not from a PDF
    back = read_json(path)
    assert [spans(t) for t in back] == [spans(t) for t in tables]
    assert [t.as_grid() for t in back] == [t.as_grid() for t in tables]
    assert [(t.page, t.n_rows, t.n_cols) for t in back] == [(0, 4, 3), (2, 3, 2)]


def test_schema_rejects_a_broken_document(tmp_path):
    [path] = write_tables([plain_table()], tmp_path / "t.json")
    document = json.loads(path.read_text(encoding="utf-8"))
    document["pages"][0]["tables"][0]["cells"][0]["rowspan"] = 0
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(document, load_schema())


def parse_html_tables(markup: str) -> list[set[tuple]]:
    """Each <table> as {(row, col, rowspan, colspan, text)}, positions worked out from the
    spans as a browser does."""
    root = lxml.html.fromstring(markup)
    out = []
    for table in root.iter("table"):
        taken: set[tuple[int, int]] = set()
        cells = set()
        for r, tr in enumerate(table.iter("tr")):
            c = 0
            for td in tr:
                while (r, c) in taken:
                    c += 1
                rs, cs = int(td.get("rowspan", 1)), int(td.get("colspan", 1))
                for dr in range(rs):
                    for dc in range(cs):
                        taken.add((r + dr, c + dc))
                lines = [td.text or ""] + [(br.tail or "") for br in td.iter("br")]
                cells.add((r, c, rs, cs, "\n".join(lines)))
                c += cs
        out.append(cells)
    return out


def test_html_gives_back_grid_and_spans(tmp_path):
    tables = [spanning_table(), plain_table()]
    [path] = write_tables(tables, tmp_path / "t.html")
    markup = path.read_text(encoding="utf-8")
    assert "<b>" not in markup and "&lt;b&gt;Ink&lt;/b&gt;" in markup
    assert parse_html_tables(markup) == [spans(t) for t in tables]
    captions = [c.text for c in lxml.html.fromstring(markup).iter("caption")]
    assert captions == ["Table 1", "Table 2"]


def test_markdown_pipe_table_or_html_when_spanning(tmp_path):
    tables = [plain_table(), spanning_table()]
    [path] = write_tables(tables, tmp_path / "t.md")
    text = path.read_text(encoding="utf-8")
    assert "| Item | Qty |" in text  # the unspanned table is a pipe table
    rendered = MarkdownIt("commonmark").enable("table").render(text)
    assert parse_html_tables(rendered) == [spans(t) for t in tables]
