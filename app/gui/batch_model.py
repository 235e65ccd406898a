"""The batch dialog's file list as a model: one row per file, found by name in a dict.

Every batch event (a file done, a cell progress tick) touches one row: the row is
looked up in ``_index`` (file name -> row) and only that row is announced changed.
The row being converted in a serial run is found by a cursor that only moves forward,
because statuses never go back to "waiting" within a run; so a run of n files costs
O(n) row visits in all, not O(n) per event. ``rows_visited`` counts those visits (the
tests read it to show the work is linear).
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QPersistentModelIndex, Qt
from PySide6.QtGui import QBrush, QColor

COLUMNS = ("File", "Status", "Tables", "Cells", "Confidence", "Result")
STATUS_TEXT = {"ok": "converted", "failed": "failed", "skipped": "skipped (done earlier)",
               "timeout": "timed out", "no_table": "no table found"}
WAITING, CONVERTING, CANCELLED = "waiting", "converting…", "not converted (cancelled)"
FILE, STATUS = 0, 1
_PENDING = (WAITING, CONVERTING)
_FAILED_COLOUR = QColor("#d9413b")
_ROOT = QModelIndex()


class BatchFilesModel(QAbstractTableModel):
    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self._rows: list[list[str]] = []  # one list of COLUMNS texts per file
        self._failed: list[bool] = []
        self._index: dict[str, int] = {}  # file name -> row
        self._cursor = 0  # no row before it is waiting or converting
        self.rows_visited = 0

    # -- Qt model interface ---------------------------------------------------------------
    def rowCount(self, parent: QModelIndex | QPersistentModelIndex = _ROOT) -> int:
        return 0 if parent.isValid() else len(self._rows)

    def columnCount(self, parent: QModelIndex | QPersistentModelIndex = _ROOT) -> int:
        return 0 if parent.isValid() else len(COLUMNS)

    def headerData(self, section: int, orientation: Qt.Orientation, role: int = Qt.DisplayRole):
        if role == Qt.DisplayRole and orientation == Qt.Horizontal and 0 <= section < len(COLUMNS):
            return COLUMNS[section]
        return None

    def data(self, index: QModelIndex | QPersistentModelIndex, role: int = Qt.DisplayRole):
        if not index.isValid():
            return None
        if role in (Qt.DisplayRole, Qt.ToolTipRole):
            return self._rows[index.row()][index.column()]
        if role == Qt.ForegroundRole and self._failed[index.row()]:
            return QBrush(_FAILED_COLOUR)
        return None

    # -- what the dialog calls ------------------------------------------------------------
    def set_files(self, names: list[str]) -> None:
        """A new run: every file waiting."""
        self.beginResetModel()
        self._rows = [[name, WAITING, "", "", "", ""] for name in names]
        self._failed = [False] * len(names)
        self._index = {name: i for i, name in enumerate(names)}
        self.endResetModel()

    def row_of(self, file: str) -> int | None:
        return self._index.get(file)

    def text(self, row: int, column: int) -> str:
        return self._rows[row][column]

    def status(self, row: int) -> str:
        return self._rows[row][STATUS]

    def update(self, report_row) -> int:
        """Show an app.batch ReportRow in its file's row (added if the file is new)."""
        i = self._index.get(report_row.file)
        if i is None:
            i = len(self._rows)
            self.beginInsertRows(_ROOT, i, i)
            self._rows.append([report_row.file, "", "", "", "", ""])
            self._failed.append(False)
            self._index[report_row.file] = i
            self.endInsertRows()
        confidence = "" if report_row.mean_confidence is None else f"{report_row.mean_confidence:.0%}"
        failed = report_row.status in ("failed", "timeout")
        says_why = failed or report_row.status == "no_table"
        result = report_row.error if says_why else ", ".join(Path(p).name for p in report_row.outputs)
        self._rows[i] = [report_row.file, STATUS_TEXT.get(report_row.status, report_row.status),
                         str(report_row.tables or ""), str(report_row.cells or ""), confidence,
                         result]
        self._failed[i] = failed
        self._changed(i, 0, len(COLUMNS) - 1)
        return i

    def current(self) -> int | None:
        """The first file still waiting or converting (in a serial run: the one converting)."""
        while self._cursor < len(self._rows):
            self.rows_visited += 1
            if self._rows[self._cursor][STATUS] in _PENDING:
                return self._cursor
            self._cursor += 1
        return None

    def mark_converting(self) -> int | None:
        """Mark the current file "converting…"; returns its row."""
        i = self.current()
        if i is not None and self._rows[i][STATUS] == WAITING:
            self._rows[i][STATUS] = CONVERTING
            self._changed(i, STATUS, STATUS)
        return i

    def mark_cancelled(self) -> None:
        """Every file not reached: "not converted (cancelled)" (once per run)."""
        for i in range(self._cursor, len(self._rows)):
            self.rows_visited += 1
            if self._rows[i][STATUS] in _PENDING:
                self._rows[i][STATUS] = CANCELLED
        if self._cursor < len(self._rows):
            self.dataChanged.emit(self.index(self._cursor, STATUS),
                                  self.index(len(self._rows) - 1, STATUS))
        self._cursor = len(self._rows)

    def _changed(self, row: int, first: int, last: int) -> None:
        self.dataChanged.emit(self.index(row, first), self.index(row, last))
