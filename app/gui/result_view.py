"""The recognised grid as an editable spreadsheet-like view.

ResultTableModel exposes one Table: each grid position shows the text of the cell that
starts there (the rest of a merged cell is covered by the view's span). Edits become
undo commands on the document instead of changing the table directly.
"""

from __future__ import annotations

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QPersistentModelIndex, Qt, Signal
from PySide6.QtGui import QBrush, QFont
from PySide6.QtWidgets import (
    QAbstractItemView,
    QApplication,
    QLineEdit,
    QStyledItemDelegate,
    QTableView,
    QWidget,
)

from app.gui.commands import EditCellCommand
from app.gui.document import Document
from app.gui.grid_ops import column_name
from app.gui.theme import low_confidence_background
from table.model import Cell, Table

ConfidenceRole = Qt.UserRole + 1
_ROOT = QModelIndex()  # the invisible root: a table model has no children
MAX_COLUMN_WIDTH = 280

# Line breaks inside a cell are edited on one line as this sign.
NEWLINE_MARK = " ⏎ "


class ResultTableModel(QAbstractTableModel):
    # A person typed a cell's text: (table, row, col, text before, text typed).
    cellTyped = Signal(object, int, int, str, str)

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.doc: Document | None = None
        self.table: Table | None = None
        self.threshold = 0.8
        self.read_only = False
        self._origin: dict[tuple[int, int], Cell] = {}

    # -- wiring --------------------------------------------------------------------------
    def set_document(self, doc: Document | None) -> None:
        if self.doc is not None:
            self.doc.cellChanged.disconnect(self._on_cell_changed)
            self.doc.structureChanged.disconnect(self._on_structure_changed)
        self.doc = doc
        if doc is not None:
            doc.cellChanged.connect(self._on_cell_changed)
            doc.structureChanged.connect(self._on_structure_changed)
        self.set_table(None)

    def set_table(self, table: Table | None) -> None:
        self.beginResetModel()
        self.table = table
        self._index_cells()
        self.endResetModel()

    def set_threshold(self, threshold: float) -> None:
        self.threshold = threshold
        if self.rowCount() and self.columnCount():
            self.dataChanged.emit(self.index(0, 0),
                                  self.index(self.rowCount() - 1, self.columnCount() - 1),
                                  [Qt.BackgroundRole, Qt.ToolTipRole])

    def set_read_only(self, read_only: bool) -> None:
        self.read_only = read_only

    def _index_cells(self) -> None:
        self._origin = {(c.row, c.col): c for c in self.table.cells} if self.table else {}

    def _on_cell_changed(self, table: Table, row: int, col: int) -> None:
        if table is self.table:
            self._index_cells()
            index = self.index(row, col)
            self.dataChanged.emit(index, index)

    def _on_structure_changed(self, table: Table, _row: int = 0, _col: int = 0) -> None:
        if table is self.table:
            self.set_table(table)

    # -- Qt model API --------------------------------------------------------------------
    def rowCount(self, parent: QModelIndex | QPersistentModelIndex = _ROOT) -> int:
        return 0 if parent.isValid() or self.table is None else self.table.n_rows

    def columnCount(self, parent: QModelIndex | QPersistentModelIndex = _ROOT) -> int:
        return 0 if parent.isValid() or self.table is None else self.table.n_cols

    def cell(self, row: int, col: int) -> Cell | None:
        """The cell covering (row, col), merged cells included."""
        if self.table is None:
            return None
        return self._origin.get((row, col)) or self.table.cell_at(row, col)

    def data(self, index: QModelIndex, role: int = Qt.DisplayRole):
        if not index.isValid() or self.table is None:
            return None
        cell = self._origin.get((index.row(), index.column()))
        if cell is None:
            return None
        if role == Qt.DisplayRole:
            return cell.text
        if role == Qt.EditRole:
            return cell.text.replace("\n", NEWLINE_MARK)
        low = bool(cell.text) and cell.confidence < self.threshold
        if role == Qt.BackgroundRole and low:
            return QBrush(low_confidence_background(QApplication.palette()))
        if role == Qt.ToolTipRole:
            if not cell.text:
                return "empty"
            note = "  — check this" if low else ""
            return f"{cell.text}\nconfidence {cell.confidence:.0%}{note}"
        if role == Qt.FontRole and low:
            font = QFont()
            font.setItalic(True)
            return font
        if role == ConfidenceRole:
            return cell.confidence
        if role == Qt.TextAlignmentRole:
            return int(Qt.AlignLeft | Qt.AlignVCenter)
        return None

    def flags(self, index: QModelIndex) -> Qt.ItemFlag:
        if not index.isValid():
            return Qt.NoItemFlags
        flags = Qt.ItemIsEnabled | Qt.ItemIsSelectable
        if not self.read_only and (index.row(), index.column()) in self._origin:
            flags |= Qt.ItemIsEditable
        return flags

    def setData(self, index: QModelIndex, value, role: int = Qt.EditRole) -> bool:
        if role != Qt.EditRole or self.doc is None or self.table is None or self.read_only:
            return False
        cell = self._origin.get((index.row(), index.column()))
        if cell is None:
            return False
        text = str(value).replace(NEWLINE_MARK.strip(), "\n")
        text = "\n".join(part.strip() for part in text.split("\n"))
        if text == cell.text:
            return False
        before = cell.text
        self.doc.undo_stack.push(EditCellCommand(self.doc, self.table, cell.row, cell.col, text))
        self.cellTyped.emit(self.table, cell.row, cell.col, before, text)
        return True

    def headerData(self, section: int, orientation: Qt.Orientation, role: int = Qt.DisplayRole):
        if role != Qt.DisplayRole:
            return None
        return column_name(section) if orientation == Qt.Horizontal else str(section + 1)


class CellEditor(QStyledItemDelegate):
    """Plain one-line editor; a line break in the cell is shown and typed as ⏎."""

    def createEditor(self, parent: QWidget, option, index: QModelIndex) -> QWidget:
        editor = QLineEdit(parent)
        editor.setFrame(False)
        editor.setToolTip("Type ⏎ (or paste a line break) to start a new line in the cell")
        return editor


class ResultView(QTableView):
    """QTableView that mirrors the model's merged cells with setSpan."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setSelectionMode(QAbstractItemView.ExtendedSelection)
        self.setSelectionBehavior(QAbstractItemView.SelectItems)
        self.setEditTriggers(QAbstractItemView.DoubleClicked | QAbstractItemView.EditKeyPressed
                             | QAbstractItemView.AnyKeyPressed)
        self.setItemDelegate(CellEditor(self))
        self.setAlternatingRowColors(False)
        self.setWordWrap(True)
        self.setAcceptDrops(False)  # files dropped here go to the main window
        self.setCornerButtonEnabled(True)
        self.horizontalHeader().setHighlightSections(True)
        self.verticalHeader().setDefaultSectionSize(self.fontMetrics().height() + 12)

    def setModel(self, model: ResultTableModel) -> None:  # type: ignore[override]
        super().setModel(model)
        model.modelReset.connect(self.apply_spans)

    def reveal(self, index) -> None:
        """Scroll ``index`` into view: centred when it was out of sight, else left alone."""
        if not self.viewport().rect().contains(self.visualRect(index)):
            self.scrollTo(index, QAbstractItemView.PositionAtCenter)

    def apply_spans(self) -> None:
        self.clearSpans()
        model = self.model()
        if not isinstance(model, ResultTableModel) or model.table is None:
            return
        for cell in model.table.cells:
            if cell.is_merged:
                self.setSpan(cell.row, cell.col, cell.rowspan, cell.colspan)
        self.fit_columns()

    def fit_columns(self) -> None:
        model = self.model()
        if model is None or model.columnCount() == 0:
            return
        # Measuring every row of a long table is slow; the first rows tell enough.
        header = self.horizontalHeader()
        metrics = self.fontMetrics()
        sample_rows = min(model.rowCount(), 200)
        for col in range(model.columnCount()):
            width = metrics.horizontalAdvance(str(model.headerData(col, Qt.Horizontal))) + 24
            for row in range(sample_rows):
                text = model.data(model.index(row, col), Qt.DisplayRole) or ""
                if text and self.columnSpan(row, col) == 1:
                    longest = max(text.split("\n"), key=len)
                    width = max(width, metrics.horizontalAdvance(longest) + 16)
            header.resizeSection(col, min(MAX_COLUMN_WIDTH, max(48, width)))
        if model.rowCount() <= 400:
            self.resizeRowsToContents()
