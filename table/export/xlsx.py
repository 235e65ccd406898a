"""Tables to an .xlsx workbook: one sheet per table, merged ranges, typed values.

Each cell's text goes through ``table.values.parse_value`` (with the conventions of
its table), so numbers, percentages, currency and dates become typed cells whose
number format displays the page's text. Everything else, formula-like text
included, is written as a string cell: the workbook shows the page and runs nothing.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from pathlib import Path

from openpyxl import Workbook
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
from openpyxl.comments import Comment
from openpyxl.styles import Alignment, PatternFill
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.worksheet import Worksheet

from table.export.atomic import atomic_target
from table.export.options import ExportOptions
from table.model import Table
from table.values import infer_conventions, parse_value, render

LOW_CONFIDENCE_FILL = PatternFill(fill_type="solid", fgColor="FFF4C7")  # light amber
_SHEET_NAME_FORBIDDEN = re.compile(r"[\[\]:*?/\\]")
_MAX_SHEET_NAME = 31  # Excel's limit
_MIN_WIDTH, _MAX_WIDTH = 6, 60  # column widths, in characters


def default_sheet_names(tables: Sequence[Table]) -> list[str]:
    """ "Table 1", "Table 2", ... or, when tables come from several pages,
    "Page 2 Table 1" (pages counted from 1)."""
    if all(t.page == tables[0].page for t in tables):
        return [f"Table {i + 1}" for i in range(len(tables))]
    names, per_page = [], {}
    for t in tables:
        per_page[t.page] = per_page.get(t.page, 0) + 1
        names.append(f"Page {t.page + 1} Table {per_page[t.page]}")
    return names


def _unique_sheet_names(names: Iterable[str]) -> list[str]:
    out: list[str] = []
    taken: set[str] = set()
    for name in names:
        base = _SHEET_NAME_FORBIDDEN.sub("_", name).strip("'") or "Sheet"
        candidate, n = base[:_MAX_SHEET_NAME], 1
        while candidate.lower() in taken:
            n += 1
            suffix = f" ({n})"
            candidate = base[: _MAX_SHEET_NAME - len(suffix)] + suffix
        taken.add(candidate.lower())
        out.append(candidate)
    return out


def check_table(table: Table, label: str = "table") -> None:
    """Raise ValueError when cells leave the grid or overlap (a caller's bug)."""
    covered: dict[tuple[int, int], tuple[int, int]] = {}
    for c in table.cells:
        if c.row < 0 or c.col < 0 or c.rowspan < 1 or c.colspan < 1 \
                or c.row + c.rowspan > table.n_rows or c.col + c.colspan > table.n_cols:
            raise ValueError(
                f"{label}: cell ({c.row}, {c.col}) spanning {c.rowspan}x{c.colspan} "
                f"leaves the {table.n_rows}x{table.n_cols} grid")
        for r in range(c.row, c.row + c.rowspan):
            for k in range(c.col, c.col + c.colspan):
                if (r, k) in covered:
                    other = covered[(r, k)]
                    raise ValueError(f"{label}: cells {other} and ({c.row}, {c.col}) overlap at ({r}, {k})")
                covered[(r, k)] = (c.row, c.col)


def _clean_text(text: str) -> str:
    # Control characters are not allowed in xlsx XML; they carry nothing on a page.
    return ILLEGAL_CHARACTERS_RE.sub("", text)


def _fill_sheet(ws: Worksheet, table: Table, options: ExportOptions) -> None:
    conventions = infer_conventions(c.text for c in table.cells)
    widths: dict[int, int] = {}
    for cell in sorted(table.cells, key=lambda c: (c.row, c.col)):
        text = _clean_text(cell.text)
        xl = ws.cell(row=cell.row + 1, column=cell.col + 1)
        typed = parse_value(text, conventions)
        if typed.is_text:
            xl.value = text
            # Set the type after the value: openpyxl makes "=..." a formula and
            # "#N/A" an error otherwise.
            xl.data_type = "s"
            shown = text
        else:
            xl.value = typed.value
            xl.number_format = typed.number_format
            shown = render(typed.value, typed.number_format)
        if "\n" in text:
            xl.alignment = Alignment(wrap_text=True, vertical="top")
        if cell.rowspan > 1 or cell.colspan > 1:
            ws.merge_cells(start_row=cell.row + 1, start_column=cell.col + 1,
                           end_row=cell.row + cell.rowspan, end_column=cell.col + cell.colspan)
        if (options.highlight_below is not None and text.strip()
                and cell.confidence < options.highlight_below):
            xl.fill = LOW_CONFIDENCE_FILL
            if options.comments:
                xl.comment = Comment(f"Recognised with {cell.confidence:.0%} confidence", "tablescribe")
        if cell.colspan == 1:
            longest = max((len(line) for line in shown.split("\n")), default=0)
            widths[cell.col] = max(widths.get(cell.col, 0), longest)
    for col in range(table.n_cols):
        # Wide enough that numbers never turn into "###" in a spreadsheet program.
        width = min(max(widths.get(col, 0) + 2, _MIN_WIDTH), _MAX_WIDTH)
        ws.column_dimensions[get_column_letter(col + 1)].width = width


def build_workbook(tables: Sequence[Table], options: ExportOptions | None = None,
                   sheet_names: Sequence[str] | None = None) -> Workbook:
    """The workbook ``write_xlsx`` saves (one sheet per table, or one empty sheet)."""
    options = options or ExportOptions()
    if sheet_names is not None and len(sheet_names) != len(tables):
        raise ValueError(f"{len(sheet_names)} sheet names for {len(tables)} tables")
    for i, table in enumerate(tables):
        check_table(table, f"table {i + 1}")
    wb = Workbook()
    if not tables:
        wb.active.title = "No tables found"
        return wb
    names = _unique_sheet_names(sheet_names or default_sheet_names(tables))
    wb.remove(wb.active)
    for table, name in zip(tables, names):
        _fill_sheet(wb.create_sheet(title=name), table, options)
    return wb


def write_xlsx(tables: Sequence[Table], path: str | Path, options: ExportOptions | None = None,
               *, sheet_names: Sequence[str] | None = None,
               inputs: Iterable[str | Path] = ()) -> Path:
    """Write ``tables`` to the workbook ``path`` atomically and return the path.

    ``inputs`` are the files the tables were read from; ``path`` must not be one of
    them. Raises ExportError naming ``path`` when it cannot be written.
    """
    wb = build_workbook(tables, options, sheet_names)
    with atomic_target(path, inputs) as tmp:
        wb.save(tmp)
    return Path(path)
