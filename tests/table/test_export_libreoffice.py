"""Open exported workbooks in LibreOffice and check every cell shows the page's text.

LibreOffice converts the workbook to CSV with "save cell contents as shown", so the
CSV holds what a person sees in each cell: typed numbers and dates must display
exactly the recognised text. `.ci/run` installs libreoffice-calc-nogui.
"""

from __future__ import annotations

import csv
import shutil
import subprocess

import openpyxl
import pytest

from table.export import write_xlsx
from table.model import Cell, Table
from table.values import parse_value
from tests.table.test_values import TYPED

SOFFICE = shutil.which("soffice") or shutil.which("libreoffice")
pytestmark = pytest.mark.skipif(
    SOFFICE is None, reason="LibreOffice (soffice) not installed: apt-get install libreoffice-calc-nogui")

# CSV filter: comma, double quote, UTF-8 (76), from line 1, default formats, system
# language, quoted fields as text, detect special numbers, SAVE AS SHOWN, no
# formulas, keep spaces, every sheet (-1: one file per sheet, <name>-<sheet>.csv).
CSV_FILTER = 'csv:Text - txt - csv (StarCalc):44,34,76,1,,0,false,true,true,false,false,-1'


def as_displayed(xlsx, tmp_path) -> dict[str, list[list[str]]]:
    """Sheet name -> rows of displayed text, as LibreOffice shows the workbook."""
    out = tmp_path / "lo"
    profile = tmp_path / "lo-profile"
    subprocess.run(
        [SOFFICE, f"-env:UserInstallation=file://{profile}", "--headless", "--norestore",
         "--convert-to", CSV_FILTER, "--outdir", str(out), str(xlsx)],
        check=True, capture_output=True, timeout=240)
    sheets = {}
    for path in sorted(out.glob("*.csv")):
        sheet = path.stem[len(xlsx.stem) + 1:]
        with open(path, encoding="utf-8", newline="") as fh:
            sheets[sheet] = list(csv.reader(fh))
    return sheets


def column_table(texts: list[str]) -> Table:
    return Table(len(texts), 1, [Cell(i, 0, text=t) for i, t in enumerate(texts)])


def test_libreoffice_shows_every_cell_as_on_the_page(tmp_path):
    mixed = [t for t, *_ in TYPED] + ["007", "=SUM(A1:A3)", "#N/A", "03/04/2024", "two\nlines"]
    english = ["1,234", "1.234", "3/15/2024", "03/04/2024", "(2,500.75)", "$-5", "$ 12.00"]
    european = ["1.234,56 €", "1,234", "1.234", "15/03/2024", "03/04/2024", "-12,5 %"]
    merged = Table(2, 2, [Cell(0, 0, 1, 2, text="12.5%"), Cell(1, 0, text="A"), Cell(1, 1, text="2,000")])
    tables = [column_table(mixed), column_table(english), column_table(european), merged]
    xlsx = write_xlsx(tables, tmp_path / "scan.xlsx")

    wb = openpyxl.load_workbook(xlsx)
    typed = sum(1 for ws in wb for row in ws.iter_rows() for c in row if c.data_type in ("n", "d"))
    assert typed >= len(TYPED) + 10  # the check below is about typed cells, and they are there
    assert wb["Table 3"]["A2"].value == pytest.approx(1.234)  # European reading took effect

    shown = as_displayed(xlsx, tmp_path)
    assert sorted(shown) == ["Table 1", "Table 2", "Table 3", "Table 4"]
    for table, name in zip(tables, ["Table 1", "Table 2", "Table 3", "Table 4"]):
        assert shown[name] == table.as_grid(), name


def test_every_typed_value_kind_reaches_libreoffice(tmp_path):
    # The kinds parse_value promises; each must survive the round trip as displayed text.
    kinds = {parse_value(t).kind for t, *_ in TYPED}
    assert kinds == {"int", "decimal", "percent", "currency", "date"}
