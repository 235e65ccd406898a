"""xlsx and csv export: reopen what was written and check merges, types, formats, safety."""

from __future__ import annotations

import csv
import datetime as dt
import os

import openpyxl
import pytest

from table.export import (
    ExportError,
    ExportOptions,
    build_workbook,
    csv_paths,
    format_for_path,
    write_csv,
    write_tables,
    write_xlsx,
)
from table.export.xlsx import LOW_CONFIDENCE_FILL
from table.model import Cell, Table


def invoice_table(page: int = 0) -> Table:
    """3 x 4: a merged title row, typed values, formula-like and error-like text."""
    cells = [
        Cell(0, 0, 1, 4, text="Invoice 2024-0042"),
        Cell(1, 0, text="007"), Cell(1, 1, text="1,234.50", confidence=0.42),
        Cell(1, 2, text="15 Mar 2024"), Cell(1, 3, text="(5%)"),
        Cell(2, 0, text="=SUM(A1:A3)"), Cell(2, 1, text="#N/A"),
        Cell(2, 2, text="line one\nline two", confidence=0.9), Cell(2, 3, text="$1,000"),
    ]
    return Table(3, 4, cells, page=page)


def spanning_table() -> Table:
    """A cell spanning two rows and one spanning two columns."""
    cells = [
        Cell(0, 0, 2, 1, text="Region"), Cell(0, 1, 1, 2, text="Sales"),
        Cell(1, 1, text="Q1"), Cell(1, 2, text="Q2"),
        Cell(2, 0, text="North"), Cell(2, 1, text="10"), Cell(2, 2, text=""),
    ]
    return Table(3, 3, cells)


def test_xlsx_merges_types_and_formats(tmp_path):
    out = write_xlsx([invoice_table(), spanning_table()], tmp_path / "scan.xlsx")
    assert out == tmp_path / "scan.xlsx"
    wb = openpyxl.load_workbook(out)
    assert wb.sheetnames == ["Table 1", "Table 2"]
    ws = wb["Table 1"]
    assert [str(r) for r in ws.merged_cells.ranges] == ["A1:D1"]
    assert ws["A1"].value == "Invoice 2024-0042"
    assert (ws["A2"].value, ws["A2"].data_type) == ("007", "s")
    assert (ws["B2"].value, ws["B2"].number_format) == (1234.5, "#,##0.00")
    assert ws["C2"].is_date and ws["C2"].value.date() == dt.date(2024, 3, 15)
    assert ws["C2"].number_format == "[$-409]d mmm yyyy"
    assert (ws["D2"].value, ws["D2"].number_format) == (-0.05, "0%;(0%)")
    # Formula-like and error-like text stays text: nothing is computed.
    assert (ws["A3"].value, ws["A3"].data_type) == ("=SUM(A1:A3)", "s")
    assert (ws["B3"].value, ws["B3"].data_type) == ("#N/A", "s")
    assert ws["C3"].value == "line one\nline two" and ws["C3"].alignment.wrap_text
    assert (ws["D3"].value, ws["D3"].number_format) == (1000, '"$"#,##0')
    ws2 = wb["Table 2"]
    assert sorted(str(r) for r in ws2.merged_cells.ranges) == ["A1:A2", "B1:C1"]
    assert ws2["B3"].value == 10 and ws2["C3"].value is None


def test_formula_text_is_stored_as_a_string_in_the_file(tmp_path):
    write_xlsx([invoice_table()], tmp_path / "f.xlsx")
    import zipfile
    with zipfile.ZipFile(tmp_path / "f.xlsx") as z:
        sheet = z.read("xl/worksheets/sheet1.xml").decode()
    assert "<f>" not in sheet  # no formula element anywhere


def test_low_confidence_cells_get_fill_and_comment(tmp_path):
    opts = ExportOptions(highlight_below=0.8)
    ws = openpyxl.load_workbook(write_xlsx([invoice_table()], tmp_path / "h.xlsx", opts)).active
    assert ws["B2"].fill.fgColor.rgb.endswith(LOW_CONFIDENCE_FILL.fgColor.rgb[-6:])
    assert "42%" in ws["B2"].comment.text
    assert ws["C3"].comment is None and ws["C3"].fill.fill_type is None  # 0.9 is above
    no_comments = ExportOptions(highlight_below=0.8, comments=False)
    ws = openpyxl.load_workbook(write_xlsx([invoice_table()], tmp_path / "n.xlsx", no_comments)).active
    assert ws["B2"].fill.fill_type == "solid" and ws["B2"].comment is None
    ws = openpyxl.load_workbook(write_xlsx([invoice_table()], tmp_path / "d.xlsx")).active
    assert ws["B2"].fill.fill_type is None and ws["B2"].comment is None


def test_sheet_names_per_page_and_custom(tmp_path):
    wb = build_workbook([invoice_table(0), invoice_table(1), invoice_table(1)])
    assert wb.sheetnames == ["Page 1 Table 1", "Page 2 Table 1", "Page 2 Table 2"]
    wb = build_workbook([invoice_table(), invoice_table()], sheet_names=["a/b: [x]", "A/B: [X]"])
    assert wb.sheetnames == ["a_b_ _x_", "A_B_ _X_ (2)"]
    wb = build_workbook([invoice_table()], sheet_names=["x" * 40])
    assert wb.sheetnames == ["x" * 31]


def test_no_tables_gives_one_empty_sheet(tmp_path):
    wb = openpyxl.load_workbook(write_xlsx([], tmp_path / "empty.xlsx"))
    assert len(wb.sheetnames) == 1 and wb.active.max_row == 1 and wb.active["A1"].value is None


def test_control_characters_are_dropped():
    wb = build_workbook([Table(1, 1, [Cell(0, 0, text="a\x00b\x07c")])])
    assert wb.active["A1"].value == "abc"


def test_overlapping_or_outside_cells_are_refused():
    with pytest.raises(ValueError, match="overlap"):
        build_workbook([Table(1, 2, [Cell(0, 0, 1, 2), Cell(0, 1)])])
    with pytest.raises(ValueError, match="leaves"):
        build_workbook([Table(1, 1, [Cell(0, 0, 1, 2)])])


def test_european_table_reads_ambiguous_cells_the_european_way(tmp_path):
    cells = [Cell(0, 0, text="1.234,56"), Cell(1, 0, text="1.234"), Cell(2, 0, text="03/04/2024"),
             Cell(3, 0, text="15/03/2024")]
    ws = build_workbook([Table(4, 1, cells)]).active
    assert ws["A2"].value == 1234 and ws["A2"].number_format == "[$-407]#,##0"
    assert ws["A3"].value == dt.date(2024, 4, 3)


# --------------------------------------------------------------------------- csv


def read_csv(path, encoding="utf-8"):
    with open(path, encoding=encoding, newline="") as fh:
        return list(csv.reader(fh))


def test_csv_one_file_per_table_rfc4180(tmp_path):
    tricky = Table(2, 3, [Cell(0, 0, text='say "hi"'), Cell(0, 1, text="a,b"), Cell(0, 2, text="x\ny"),
                          Cell(1, 0, 1, 3, text="Überschrift €")])
    paths = write_csv([tricky, spanning_table(), invoice_table()], tmp_path / "scan.csv")
    assert paths == [tmp_path / "scan.csv", tmp_path / "scan_table2.csv", tmp_path / "scan_table3.csv"]
    raw = paths[0].read_bytes()
    assert raw == '"say ""hi""","a,b","x\ny"\r\nÜberschrift €,,\r\n'.encode()
    assert read_csv(paths[1]) == [["Region", "Sales", ""], ["", "Q1", "Q2"], ["North", "10", ""]]
    expected = invoice_table().as_grid()
    expected[2][0] = "'" + expected[2][0]  # formula-like text escaped (test_export_safe_csv)
    assert read_csv(paths[2]) == expected


def test_csv_bom_and_empty(tmp_path):
    [p] = write_csv([spanning_table()], tmp_path / "b.csv", ExportOptions(csv_bom=True))
    assert p.read_bytes().startswith(b"\xef\xbb\xbfRegion,")
    assert read_csv(p, "utf-8-sig")[0] == ["Region", "Sales", ""]
    [p] = write_csv([], tmp_path / "none.csv")
    assert p.read_bytes() == b""
    assert csv_paths("out/x.csv", 0) == [csv_paths("out/x.csv", 1)[0]]


def test_write_tables_picks_the_format(tmp_path):
    assert format_for_path("a.CSV") == "csv" and format_for_path("a.xlsx") == "xlsx"
    assert format_for_path("a.txt") == "xlsx"
    [p] = write_tables([spanning_table()], tmp_path / "t.csv")
    assert p.read_text().startswith("Region")
    [p] = write_tables([spanning_table()], tmp_path / "t.out", fmt="xlsx")
    with open(p, "rb") as fh:
        assert openpyxl.load_workbook(fh).active["A1"].value == "Region"
    with pytest.raises(ValueError, match="ods"):
        write_tables([], tmp_path / "t.ods", fmt="ods")


# --------------------------------------------------------------------------- safety


def test_never_overwrites_the_input(tmp_path):
    scan = tmp_path / "scan.png"
    scan.write_bytes(b"\x89PNG\r\n\x1a\n" + b"\0" * 32)
    before = scan.read_bytes()
    with pytest.raises(ExportError, match="input") as err:
        write_xlsx([spanning_table()], scan, inputs=[scan])
    assert err.value.path == scan
    # Also through another spelling of the same path.
    with pytest.raises(ExportError, match="input"):
        write_csv([spanning_table()], tmp_path / "." / "scan.png", inputs=[str(scan)])
    # A target holding a scan is refused even when it is not named as the input.
    jpeg_as_xlsx = tmp_path / "photo.xlsx"
    jpeg_as_xlsx.write_bytes(b"\xff\xd8\xff\xe0" + b"\0" * 32)
    with pytest.raises(ExportError, match="image or PDF"):
        write_xlsx([spanning_table()], jpeg_as_xlsx)
    assert scan.read_bytes() == before
    assert jpeg_as_xlsx.read_bytes().startswith(b"\xff\xd8\xff")


def test_csv_refuses_before_writing_any_file(tmp_path):
    second = tmp_path / "scan_table2.csv"
    second.write_bytes(b"%PDF-1.7 not a table")
    with pytest.raises(ExportError, match="scan_table2.csv"):
        write_csv([spanning_table(), spanning_table()], tmp_path / "scan.csv")
    assert not (tmp_path / "scan.csv").exists()


def test_unwritable_targets_raise_export_error_naming_the_path(tmp_path):
    blocker = tmp_path / "notes.txt"
    blocker.write_text("a file, not a folder")
    target = blocker / "out" / "scan.xlsx"
    with pytest.raises(ExportError) as err:
        write_xlsx([spanning_table()], target)
    assert str(target) in str(err.value) and "notes.txt is a file" in str(err.value)
    with pytest.raises(ExportError, match="directory"):
        write_xlsx([spanning_table()], tmp_path)
    with pytest.raises(ExportError):
        write_csv([spanning_table()], blocker / "scan.csv")


def test_failed_write_keeps_the_old_file_and_leaves_no_temporary(tmp_path, monkeypatch):
    out = tmp_path / "scan.xlsx"
    write_xlsx([spanning_table()], out)
    before = out.read_bytes()

    def broken_save(self, filename):
        with open(filename, "wb") as fh:
            fh.write(b"half a workbook")
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(openpyxl.Workbook, "save", broken_save)
    with pytest.raises(ExportError, match="no space left"):
        write_xlsx([invoice_table()], out)
    assert out.read_bytes() == before
    assert sorted(os.listdir(tmp_path)) == ["scan.xlsx"]


def test_output_gets_normal_permissions(tmp_path):
    out = write_xlsx([spanning_table()], tmp_path / "p.xlsx")
    umask = os.umask(0o022)
    os.umask(umask)
    assert out.stat().st_mode & 0o777 == 0o666 & ~umask
