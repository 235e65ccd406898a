"""Tables to CSV: UTF-8 (optionally with a BOM for Excel), RFC 4180, one file per table.

The first table goes to the path asked for (``scan.csv``), the next ones beside it
(``scan_table2.csv``, ``scan_table3.csv``, ...). A merged cell's text sits in its
top-left position and the positions it covers are empty, as in ``Table.as_grid``.
Text a spreadsheet would run as a formula is escaped unless ``options.csv_raw``.
"""

from __future__ import annotations

import csv as _csv
from collections.abc import Iterable, Sequence
from pathlib import Path

from table.export.atomic import atomic_target, check_target
from table.export.options import ExportOptions
from table.export.safe import csv_safe
from table.model import Table


def csv_paths(path: str | Path, n_tables: int) -> list[Path]:
    """Where ``write_csv`` puts ``n_tables`` tables (at least one file)."""
    first = Path(path)
    return [first] + [first.with_name(f"{first.stem}_table{i}{first.suffix}")
                      for i in range(2, n_tables + 1)]


def write_csv(tables: Sequence[Table], path: str | Path, options: ExportOptions | None = None,
              *, inputs: Iterable[str | Path] = ()) -> list[Path]:
    """Write one CSV file per table, each atomically; return the paths written.

    With no tables, ``path`` is written empty so that the result of a conversion
    is always there. Raises ExportError naming the file that cannot be written.
    """
    options = options or ExportOptions()
    inputs = list(inputs)
    paths = csv_paths(path, len(tables))
    for target in paths:  # refuse before anything is written
        check_target(target, inputs)
    encoding = "utf-8-sig" if options.csv_bom else "utf-8"
    for target, table in zip(paths, list(tables) or [None]):
        with atomic_target(target, inputs) as tmp, open(tmp, "w", encoding=encoding, newline="") as fh:
            writer = _csv.writer(fh, lineterminator="\r\n", quoting=_csv.QUOTE_MINIMAL)
            if table is not None:
                grid = table.as_grid()
                if not options.csv_raw:
                    grid = [[csv_safe(text) for text in row] for row in grid]
                writer.writerows(grid)
    return paths
