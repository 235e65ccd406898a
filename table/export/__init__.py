"""Export recognised tables: .xlsx workbooks (typed, merged, highlighted) and CSV files.

``write_tables`` picks the format from the argument or the file extension; all
writers are atomic and never overwrite the file being converted.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path

from table.export.csv import csv_paths, write_csv
from table.export.options import ExportError, ExportOptions
from table.export.xlsx import build_workbook, write_xlsx
from table.model import Table

FORMATS = ("xlsx", "csv")

__all__ = [
    "FORMATS",
    "ExportError",
    "ExportOptions",
    "build_workbook",
    "csv_paths",
    "format_for_path",
    "write_csv",
    "write_tables",
    "write_xlsx",
]


def format_for_path(path: str | Path, default: str = "xlsx") -> str:
    """ "xlsx" or "csv" from the file extension, ``default`` when it says neither."""
    suffix = Path(path).suffix.lower().lstrip(".")
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
    raise ValueError(f"unknown export format {fmt!r}; expected one of {', '.join(FORMATS)}")
