"""The open scan: its pages, what conversion found on them, and the edit history.

Views never change tables themselves; they push commands (app.gui.commands) onto the
document's undo stack, and the commands call the two mutators here, which announce
the change with a signal so every view can refresh.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import QObject, Signal
from PySide6.QtGui import QUndoStack

from app.gui.grid_ops import restore_table
from table.model import PageResult, Table

if TYPE_CHECKING:
    from table.pages import Page
    from table.prepare import PageCorrection


class Document(QObject):
    # table, row, col of a cell whose text changed
    cellChanged = Signal(object, int, int)
    # a table whose grid (rows, columns, spans, cells) was replaced; row, col to show
    structureChanged = Signal(object, int, int)
    # page index whose conversion result arrived or was dropped
    resultChanged = Signal(int)

    def __init__(self, path: str | Path, pages: list[Page], parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.path = Path(path)
        self.pages = pages
        self.results: dict[int, PageResult] = {}
        # How a person squared up or turned a page (Straighten, Rotate): every
        # conversion of that page follows it.
        self.corrections: dict[int, PageCorrection] = {}
        self.undo_stack = QUndoStack(self)
        self.export_path: Path | None = None  # where "Export" writes again without asking

    # -- conversion results -------------------------------------------------------------
    @property
    def name(self) -> str:
        return self.path.name

    def set_result(self, page: int, result: PageResult) -> None:
        self.results[page] = result
        self.resultChanged.emit(page)

    def drop_results(self, pages: list[int]) -> None:
        for page in pages:
            if self.results.pop(page, None) is not None:
                self.resultChanged.emit(page)

    def tables(self) -> list[Table]:
        """Every table of every converted page, in page order: what gets exported."""
        return [t for page in sorted(self.results) for t in self.results[page].tables]

    def page_of(self, table: Table) -> int:
        for page, result in self.results.items():
            if any(t is table for t in result.tables):
                return page
        raise KeyError("table is not part of this document")

    def image_of(self, page: int):
        """The image cell boxes refer to: the deskewed one once converted."""
        result = self.results.get(page)
        if result is not None and result.image is not None:
            return result.image
        return self.pages[page].image

    @property
    def modified(self) -> bool:
        return not self.undo_stack.isClean()

    # -- mutators used by undo commands -------------------------------------------------
    def set_cell_text(self, table: Table, row: int, col: int, text: str, confidence: float) -> None:
        cell = table.cell_at(row, col)
        if cell is None:
            raise KeyError(f"no cell at row {row + 1}, column {col + 1}")
        cell.text = text
        cell.confidence = confidence
        self.cellChanged.emit(table, cell.row, cell.col)

    def set_page_geometry(self, page: int, correction: PageCorrection | None,
                          result: PageResult | None) -> None:
        """A page's correction and the conversion made with it, set together."""
        if correction is None or correction.is_empty:
            self.corrections.pop(page, None)
        else:
            self.corrections[page] = correction
        if result is None:
            self.drop_results([page])
        else:
            self.set_result(page, result)

    def replace_table(self, table: Table, snapshot: Table, focus: tuple[int, int] = (0, 0)) -> None:
        restore_table(table, snapshot)
        self.structureChanged.emit(table, *focus)
