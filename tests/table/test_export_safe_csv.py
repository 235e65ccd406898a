"""CSV injection: text a spreadsheet would run gets a leading quote; numbers stay numbers."""

from __future__ import annotations

import csv

import openpyxl
import pytest

from table.export import ExportOptions, write_csv, write_xlsx
from table.export.safe import csv_safe
from table.model import Cell, Table
from table.values import parse_value, render

ATTACKS = ["=1+1", "+cmd|' /C calc'!A0", "-2+3+cmd|' /C calc'!A0", "@SUM(1,1)", "\t=1", "\r=1",
           "=HYPERLINK(\"http://x\",\"y\")", "--1", "+-5", "++5", "+1e5", "+ 5"]
NUMBERS = ["-10", "-3.5%", "-1,234.50", "-$1,000", "-0.5", "(2,500)", "10", "-",
           "+8.8%", "+12", "+3.5", "+$1,000", "+1,234.50"]


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


@pytest.mark.parametrize(("text", "value", "kind"), [("+8.8%", 0.088, "percent"), ("+12", 12, "int"),
                                                    ("+1,234.50", 1234.5, "decimal")])
def test_signed_numbers_are_typed_numbers_shown_as_on_the_page(tmp_path, text, value, kind):
    typed = parse_value(text)
    assert (typed.value, typed.kind) == (pytest.approx(value), kind)
    assert render(typed.value, typed.number_format) == text
    ws = openpyxl.load_workbook(write_xlsx([column([text])], tmp_path / "t.xlsx")).active
    assert ws.cell(1, 1).value == pytest.approx(value)
    assert ws.cell(1, 1).number_format == typed.number_format


def test_xlsx_keeps_formula_text_as_strings(tmp_path):
    path = write_xlsx([column(ATTACKS[:4])], tmp_path / "t.xlsx")
    ws = openpyxl.load_workbook(path).active
    assert [(ws.cell(i + 1, 1).value, ws.cell(i + 1, 1).data_type) for i in range(4)] == \
        [(t, "s") for t in ATTACKS[:4]]
