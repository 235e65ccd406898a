"""Export recognised tables: .xlsx workbooks (typed, merged, highlighted), CSV files, and
for programs JSON (with a published schema), HTML and Markdown.

``write_tables`` picks the format from the argument or the file extension; all
writers are atomic and never overwrite the file being converted.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path

from table.export.csv import csv_paths, write_csv
from table.export.html_doc import write_html, write_markdown
from table.export.json_doc import write_json
from table.export.options import ExportError, ExportOptions
from table.export.xlsx import build_workbook, check_table, default_sheet_names, write_xlsx
from table.model import Table

FORMATS = ("xlsx", "csv", "json", "html", "md")
_SUFFIXES = {"htm": "html", "markdown": "md"}

__all__ = [
    "FORMATS",
    "ExportError",
    "ExportOptions",
    "build_workbook",
    "csv_paths",
    "format_for_path",
    "write_csv",
    "write_html",
    "write_json",
    "write_markdown",
    "write_tables",
    "write_xlsx",
]


def format_for_path(path: str | Path, default: str = "xlsx") -> str:
    """One of FORMATS from the file extension, ``default`` when it names none."""
    suffix = Path(path).suffix.lower().lstrip(".")
    suffix = _SUFFIXES.get(suffix, suffix)
    return suffix if suffix in FORMATS else default


def write_tables(tables: Sequence[Table], path: str | Path, fmt: str | None = None,
                 options: ExportOptions | None = None, *,
                 sheet_names: Sequence[str] | None = None,
                 inputs: Iterable[str | Path] = ()) -> list[Path]:
    """Write ``tables`` as ``fmt`` (default: from the extension of ``path``); return the files."""
    fmt = fmt or format_for_path(path)
    if fmt == "xlsx":
        return [write_xlsx(tables, path, options, sheet_names=sheet_names, inputs=inputs)]
    if fmt == "csv":
        return write_csv(tables, path, options, inputs=inputs)
    if fmt in ("json", "html", "md"):
        if sheet_names is not None and len(sheet_names) != len(tables):
            raise ValueError(f"{len(sheet_names)} table names for {len(tables)} tables")
        for i, table in enumerate(tables):
            check_table(table, f"table {i + 1}")
        names = list(sheet_names) if sheet_names is not None else \
            (default_sheet_names(tables) if tables else [])
        writer = {"json": write_json, "html": write_html, "md": write_markdown}[fmt]
        return [writer(tables, path, names, inputs=inputs)]
    raise ValueError(f"unknown export format {fmt!r}; expected one of {', '.join(FORMATS)}")
