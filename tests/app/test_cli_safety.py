"""Output defects found with bad input: CSV injection in outputs and in the batch report,
and pages without a table counted as success."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import openpyxl
from PIL import Image

from app import cli
from app.report import REPORT_CSV, REPORT_JSON
from tests.app.fakes import TEXTS, standard_scan, table_of, write_scan


def run(capsys, *argv) -> tuple[int, str, str]:
    code = cli.main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def rows_of(path: Path) -> list[list[str]]:
    with open(path, encoding="utf-8", newline="") as fh:
        return list(csv.reader(fh))


def test_convert_csv_escapes_formula_text_unless_raw(tmp_path, capsys, fake_model):
    page = write_scan(tmp_path / "f.png", [table_of([["7", "8"]])])  # "=SUM(A1:A3)", "(2,500)"
    code, _, err = run(capsys, "convert", page, "-o", tmp_path / "safe.csv")
    assert code == 0, err
    assert rows_of(tmp_path / "safe.csv") == [["'" + TEXTS[7], TEXTS[8]]]
    code, _, err = run(capsys, "convert", page, "-o", tmp_path / "raw.csv", "--csv-raw")
    assert code == 0, err
    assert rows_of(tmp_path / "raw.csv") == [[TEXTS[7], TEXTS[8]]]


def test_batch_report_escapes_file_names(tmp_path, capsys, fake_model):
    src = tmp_path / "scans"
    standard_scan(src / "=1+1.png")
    (src / "@bad.png").write_bytes(b"\x89PNG\r\n\x1a\n broken")
    out = tmp_path / "out"
    code, _, _ = run(capsys, "batch", src, out)
    assert code == 1
    rows = {r[0]: r for r in rows_of(out / REPORT_CSV)[1:]}
    assert set(rows) == {"'=1+1.png", "'@bad.png"}
    assert rows["'=1+1.png"][1] == "ok" and rows["'@bad.png"][1] == "failed"
    # The JSON report is for programs: names as they are.
    files = [r["file"] for r in json.loads((out / REPORT_JSON).read_text())["rows"]]
    assert files == ["=1+1.png", "@bad.png"]


# --------------------------------------------------------------------------- no table


def blank_page(path: Path) -> Path:
    Image.new("RGB", (900, 700), "white").save(path)
    return path


def three_pages(path: Path, tmp_path: Path) -> Path:
    """A TIFF: a table, a blank page, a table."""
    first = Image.open(write_scan(tmp_path / "p1.png", [table_of([["1", "2"]])]))
    last = Image.open(write_scan(tmp_path / "p3.png", [table_of([["9", "1"]])]))
    blank = Image.new("RGB", first.size, "white")
    first.save(path, format="TIFF", save_all=True, append_images=[blank, last])
    return path


def test_convert_page_without_table_fails_with_a_reason(tmp_path, capsys, fake_model):
    page = blank_page(tmp_path / "blank.png")
    code, out, err = run(capsys, "convert", page, "-o", tmp_path / "blank.xlsx")
    assert code == cli.EXIT_NO_TABLE != 0
    assert f"{page}: no table found" in err and "wrote" not in out
    assert not (tmp_path / "blank.xlsx").exists()


def test_convert_multi_page_names_the_pages_without_table(tmp_path, capsys, fake_model):
    doc = three_pages(tmp_path / "doc.tiff", tmp_path)
    code, _, err = run(capsys, "convert", doc, "-o", tmp_path / "doc.xlsx")
    assert code == 0, err
    assert "no table found on page 2 (converted pages 1, 3)" in err
    wb = openpyxl.load_workbook(tmp_path / "doc.xlsx")
    assert wb.sheetnames == ["Page 1 Table 1", "Page 3 Table 1"]
    assert wb["Page 3 Table 1"]["A1"].value == TEXTS[9]
    blank = Image.new("RGB", (900, 700), "white")
    blank.save(tmp_path / "empty.tiff", format="TIFF", save_all=True, append_images=[blank])
    code, _, err = run(capsys, "convert", tmp_path / "empty.tiff", "-o", tmp_path / "empty.xlsx")
    assert code == cli.EXIT_NO_TABLE and "no table found on any of its 2 pages" in err


def test_batch_counts_files_without_table_apart(tmp_path, capsys, fake_model):
    src = tmp_path / "scans"
    src.mkdir()
    standard_scan(src / "a.png")
    blank_page(src / "b.png")
    three_pages(src / "c.tiff", tmp_path)
    out = tmp_path / "out"
    code, stdout, err = run(capsys, "batch", src, out)
    assert code == cli.EXIT_NO_TABLE
    assert "3 file(s): 2 converted, 1 without a table, 0 failed" in stdout
    assert "b.png: no table found" in err
    rows = {r[0]: r for r in rows_of(out / REPORT_CSV)[1:]}
    assert rows["b.png"][1] == "no_table" and rows["b.png"][6] == "b.png: no table found"
    assert rows["c.tiff"][1] == "ok" and "no table found on page 2" in rows["c.tiff"][6]
    assert not (out / "b.xlsx").exists() and (out / "c.xlsx").exists()
    report = json.loads((out / REPORT_JSON).read_text())
    assert (report["ok"], report["no_table"], report["failed"]) == (2, 1, 0)


# --------------------------------------------------------------------------- formats for programs


def test_convert_and_batch_write_json_html_markdown(tmp_path, capsys, fake_model):
    import jsonschema
    import lxml.html

    from table.export.json_doc import load_schema

    scan = standard_scan(tmp_path / "scans" / "scan.png")
    code, _, err = run(capsys, "convert", scan, "-o", tmp_path / "scan.json")
    assert code == 0, err
    document = json.loads((tmp_path / "scan.json").read_text(encoding="utf-8"))
    jsonschema.validate(document, load_schema())
    table = document["pages"][0]["tables"][0]
    assert table["read_from"] == "image" and table["grid"][0][0] == TEXTS[1]
    assert "bbox_pt" not in table  # a PNG has no PDF points
    code, _, err = run(capsys, "convert", scan, "-o", f"{tmp_path}/conv/", "--format", "html")
    assert code == 0, err
    cells = [td.text_content() for td in lxml.html.parse(str(tmp_path / "conv" / "scan.html")).iter("th")]
    assert cells[:2] == [TEXTS[1], TEXTS[2]]
    code, _, err = run(capsys, "batch", tmp_path / "scans", tmp_path / "out", "--format", "md")
    assert code == 0, err
    assert (tmp_path / "out" / "scan.md").read_text(encoding="utf-8").startswith("## Table 1\n\n| Item |")
