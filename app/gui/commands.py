"""Undoable edits (QUndoCommand) on a Document's tables.

Commands remember a table and grid positions, never Cell objects: undoing a structure
change rebuilds the cells, and a later undo of a text edit must still find its cell.
"""

from __future__ import annotations

from PySide6.QtGui import QUndoCommand

from app.gui.document import Document
from app.gui.grid_ops import cell_name, copy_table
from table.model import PageResult, Table
from table.prepare import PageCorrection

TYPED_CONFIDENCE = 1.0  # text a person typed is certain


class EditCellCommand(QUndoCommand):
    def __init__(self, doc: Document, table: Table, row: int, col: int, text: str) -> None:
        cell = table.cell_at(row, col)
        if cell is None:
            raise KeyError(f"no cell at {cell_name(row, col)}")
        super().__init__(f"Edit {cell_name(cell.row, cell.col)}")
        self.doc, self.table = doc, table
        self.row, self.col = cell.row, cell.col
        self.old = (cell.text, cell.confidence)
        self.new = (text, TYPED_CONFIDENCE)

    def redo(self) -> None:
        self.doc.set_cell_text(self.table, self.row, self.col, *self.new)

    def undo(self) -> None:
        self.doc.set_cell_text(self.table, self.row, self.col, *self.old)


class StructureCommand(QUndoCommand):
    """Replace a table's whole grid; ``after`` already holds the re-read text."""

    def __init__(self, doc: Document, table: Table, after: Table, label: str,
                 focus: tuple[int, int] = (0, 0)) -> None:
        super().__init__(label)
        self.doc, self.table = doc, table
        self.before = copy_table(table)
        self.after = copy_table(after)
        self.focus = focus  # grid position to select after redo/undo

    def redo(self) -> None:
        self.doc.replace_table(self.table, self.after, self.focus)

    def undo(self) -> None:
        self.doc.replace_table(self.table, self.before, self.focus)


class PageGeometryCommand(QUndoCommand):
    """Rotate or straighten a page: its correction and the conversion made with it.

    Undo puts back the page's earlier correction and result, the same Table objects,
    so the text edits made on them before can still be undone after it.
    """

    def __init__(self, doc: Document, page: int, label: str,
                 before: tuple[PageCorrection | None, PageResult | None],
                 after: tuple[PageCorrection | None, PageResult | None]) -> None:
        super().__init__(label)
        self.doc, self.page = doc, page
        self.before, self.after = before, after

    def redo(self) -> None:
        self.doc.set_page_geometry(self.page, *self.after)

    def undo(self) -> None:
        self.doc.set_page_geometry(self.page, *self.before)
