"""CSV injection: text a spreadsheet would run gets a leading quote; numbers stay numbers."""

from __future__ import annotations

import csv

import openpyxl
import pytest

from table.export import ExportOptions, write_csv, write_xlsx
from table.export.safe import csv_safe
from table.model import Cell, Table

ATTACKS = ["=1+1", "+cmd|' /C calc'!A0", "-2+3+cmd|' /C calc'!A0", "@SUM(1,1)", "\t=1", "\r=1",
           "=HYPERLINK(\"http://x\",\"y\")", "+5", "--1"]
NUMBERS = ["-10", "-3.5%", "-1,234.50", "-$1,000", "-0.5", "(2,500)", "10", "-"]


@pytest.mark.parametrize("text", ATTACKS)
def test_formula_text_gets_a_leading_quote(text):
    assert csv_safe(text) == "'" + text


@pytest.mark.parametrize("text", NUMBERS + ["", "plain", "a=b", "x-1", "'quoted"])
def test_numbers_and_plain_text_stay(text):
    assert csv_safe(text) == text


def column(texts: list[str]) -> Table:
    return Table(len(texts), 1, [Cell(i, 0, text=t) for i, t in enumerate(texts)])


def read(path) -> list[str]:
    with open(path, encoding="utf-8", newline="") as fh:
        return [row[0] for row in csv.reader(fh)]


def test_csv_file_is_escaped_unless_raw(tmp_path):
    texts = ATTACKS + NUMBERS
    [safe] = write_csv([column(texts)], tmp_path / "safe.csv")
    assert read(safe) == ["'" + t for t in ATTACKS] + NUMBERS
    [raw] = write_csv([column(texts)], tmp_path / "raw.csv", ExportOptions(csv_raw=True))
    assert read(raw) == texts


def test_xlsx_keeps_formula_text_as_strings(tmp_path):
    path = write_xlsx([column(ATTACKS[:4])], tmp_path / "t.xlsx")
    ws = openpyxl.load_workbook(path).active
    assert [(ws.cell(i + 1, 1).value, ws.cell(i + 1, 1).data_type) for i in range(4)] == \
        [(t, "s") for t in ATTACKS[:4]]
