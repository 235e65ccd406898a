"""What an export takes (ExportOptions) and how it fails (ExportError)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class ExportOptions:
    """Choices a person makes when exporting.

    highlight_below: cells recognised with a confidence below this value get a light
        fill in the workbook (and a comment with the confidence when ``comments``);
        None marks nothing.
    comments: add the confidence as a cell comment on highlighted cells.
    csv_bom: start CSV files with a UTF-8 byte-order mark, which Excel needs to
        read them as UTF-8.
    csv_raw: write CSV text untouched; by default text a spreadsheet would run as a
        formula gets a leading ``'`` (``table.export.safe``).
    """

    highlight_below: float | None = None
    comments: bool = True
    csv_bom: bool = False
    csv_raw: bool = False


class ExportError(Exception):
    """An export could not be written; ``str(e)`` names the target and the problem."""

    def __init__(self, path: str | Path, problem: str) -> None:
        self.path = Path(path)
        self.problem = problem
        super().__init__(f"{path}: {problem}")

    def __reduce__(self):  # picklable, for errors that cross process boundaries
        return (type(self), (str(self.path), self.problem))
