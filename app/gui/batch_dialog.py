"""Convert a whole folder from the window: app.batch.run_batch with per-file progress,
a Cancel that stops after recording what was finished, and the report as a table."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from PySide6.QtCore import QThreadPool, QUrl, Signal
from PySide6.QtGui import QDesktopServices
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QComboBox,
    QDialog,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QProgressBar,
    QPushButton,
    QSpinBox,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from app.errors import Cancelled
from app.gui.batch_model import COLUMNS, FILE, BatchFilesModel
from app.gui.settings import EXPORT_FORMATS, AppSettings
from app.gui.worker import Job, JobContext


class BatchStopped(KeyboardInterrupt):
    """Raised from the progress callback when Cancel was pressed.

    run_batch treats a KeyboardInterrupt as an interruption: it records the files
    already converted (so a resumed run skips them) and writes the report.
    """


class BatchDialog(QDialog):
    batchFinished = Signal(object)   # the BatchReport, or None when cancelled/failed
    fileDone = Signal(str, str)      # relative file name, status

    def __init__(self, settings: AppSettings, parent: QWidget | None = None, *,
                 folder: str | Path | None = None,
                 recognizer_factory: Callable[[str | None, str | None], Any] | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Batch convert a folder — tablescribe")
        self.settings = settings
        # None: run_batch loads the recogniser the settings name (also in worker processes).
        self.recognizer_factory = recognizer_factory
        self.pool = QThreadPool(self)
        self.pool.setMaxThreadCount(1)
        self.job: Job | None = None
        self.report = None

        self.in_edit = QLineEdit(str(folder) if folder else "")
        self.in_edit.setPlaceholderText("folder with scans")
        self.in_edit.textChanged.connect(self._suggest_output)
        self.out_edit = QLineEdit()
        self.out_edit.setPlaceholderText("where the spreadsheets and the report go")
        self.format = QComboBox()
        self.format.addItems(["Excel workbooks (.xlsx)", "CSV files (.csv)", "JSON (.json)",
                              "HTML (.html)", "Markdown (.md)"])
        self.format.setCurrentIndex(EXPORT_FORMATS.index(settings.export_format))
        self.recursive = QCheckBox("Include sub-folders")
        self.resume = QCheckBox("Skip files an earlier run already converted")
        self.workers = QSpinBox()
        self.workers.setRange(1, max(1, os.cpu_count() or 1))
        self.workers.setToolTip("Files converted at the same time, each in its own process")
        form = QFormLayout()
        form.addRow("Scans in:", self._with_browse(self.in_edit, "Folder with scans"))
        form.addRow("Write to:", self._with_browse(self.out_edit, "Output folder"))
        form.addRow("Format:", self.format)
        form.addRow("", self.recursive)
        form.addRow("", self.resume)
        form.addRow("Parallel files:", self.workers)

        # A model with a name -> row index: each event touches one row (see batch_model).
        self.model = BatchFilesModel(self)
        self.table = QTableView()
        self.table.setModel(self.model)
        self.table.setEditTriggers(QAbstractItemView.NoEditTriggers)
        self.table.setSelectionBehavior(QAbstractItemView.SelectRows)
        self.table.verticalHeader().hide()
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(0, QHeaderView.Interactive)
        header.setSectionResizeMode(len(COLUMNS) - 1, QHeaderView.Stretch)
        header.resizeSection(0, 220)
        self.files_bar = QProgressBar()
        self.files_bar.setFormat("%v / %m files")
        self.cells_bar = QProgressBar()
        self.cells_bar.setFormat("%v / %m cells")
        self.summary = QLabel()
        self.summary.setWordWrap(True)
        self.summary.setOpenExternalLinks(True)

        self.start_button = QPushButton("Start")
        self.start_button.setDefault(True)
        self.start_button.clicked.connect(self.start)
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.clicked.connect(self.cancel)
        self.cancel_button.setEnabled(False)
        self.open_button = QPushButton("Open Output Folder")
        self.open_button.clicked.connect(self._open_output)
        self.open_button.setEnabled(False)
        self.close_button = QPushButton("Close")
        self.close_button.clicked.connect(self.close)
        buttons = QHBoxLayout()
        buttons.addWidget(self.open_button)
        buttons.addStretch(1)
        buttons.addWidget(self.start_button)
        buttons.addWidget(self.cancel_button)
        buttons.addWidget(self.close_button)

        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(self.files_bar)
        layout.addWidget(self.cells_bar)
        layout.addWidget(self.table, 1)
        layout.addWidget(self.summary)
        layout.addLayout(buttons)
        self.resize(820, 560)
        self._suggest_output()

    def _with_browse(self, edit: QLineEdit, title: str) -> QWidget:
        row = QWidget()
        layout = QHBoxLayout(row)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(edit, 1)
        button = QPushButton("Browse…")
        button.clicked.connect(lambda: self._browse(edit, title))
        layout.addWidget(button)
        return row

    def _browse(self, edit: QLineEdit, title: str) -> None:
        start = edit.text() or self.settings.last_dir
        folder = QFileDialog.getExistingDirectory(self, title, start)
        if folder:
            edit.setText(folder)

    def _suggest_output(self) -> None:
        # Follow the input folder until the user types an output folder of their own.
        text = self.in_edit.text().strip()
        current = self.out_edit.text().strip()
        if text and (not current or current == getattr(self, "_suggested", None)):
            self._suggested = str(Path(text) / "tablescribe-output")
            self.out_edit.setText(self._suggested)

    # -- running ----------------------------------------------------------------------------
    @property
    def running(self) -> bool:
        return self.job is not None

    def start(self) -> bool:
        from app.inputs import find_inputs, scan_types_text

        in_dir = Path(self.in_edit.text().strip())
        out_dir = Path(self.out_edit.text().strip()) if self.out_edit.text().strip() else None
        if not in_dir.is_dir():
            self._show_summary(f"“{in_dir}” is not a folder.", error=True)
            return False
        if out_dir is None:
            self._show_summary("Choose where the spreadsheets should go.", error=True)
            return False
        recursive = self.recursive.isChecked()
        # The same list run_batch will plan: outputs inside the input folder are not inputs.
        exclude = [out_dir] if out_dir.resolve() != in_dir.resolve() else []
        files = find_inputs(in_dir, recursive, exclude=exclude)
        if not files:
            self._show_summary(f"No scans ({scan_types_text()}) in {in_dir}.", error=True)
            return False
        self._list_files([f.relative_to(in_dir).as_posix() for f in files])
        self.files_bar.setRange(0, len(files))
        self.files_bar.setValue(0)
        self.cells_bar.setRange(0, 1)
        self.cells_bar.setValue(0)
        self.summary.setText("")

        s = self.settings
        kwargs = dict(fmt=EXPORT_FORMATS[self.format.currentIndex()], recursive=recursive,
                      workers=self.workers.value(), resume=self.resume.isChecked(),
                      device=s.device_spec(), model=s.model_spec(), dpi=s.pdf_dpi,
                      options=s.export_options(), recognizer_factory=self.recognizer_factory)

        def run(ctx: JobContext):
            from app.batch import run_batch

            def file_done(row, done: int, total: int) -> None:
                ctx.partial((row, done, total))
                if ctx.cancel.is_set():
                    raise BatchStopped()

            def cells(done: int, total: int) -> None:
                ctx.progress(done, total)
                if ctx.cancel.is_set():
                    raise BatchStopped()

            try:
                return run_batch(in_dir, out_dir, progress=file_done, cell_progress=cells, **kwargs)
            except BatchStopped:
                raise Cancelled() from None

        job = Job(f"batch {in_dir}", run)
        job.signals.partial.connect(self._on_file_done)
        job.signals.progress.connect(self._on_cells)
        job.signals.finished.connect(self._on_finished)
        job.signals.failed.connect(self._on_failed)
        job.signals.cancelled.connect(self._on_cancelled)
        self.job = job
        self._out_dir = out_dir
        self._set_running(True)
        self.pool.start(job)
        return True

    def cancel(self) -> None:
        if self.job is not None:
            self.job.cancel()
            self.summary.setText("Stopping after recording the finished files…")

    def _set_running(self, running: bool) -> None:
        self.start_button.setEnabled(not running)
        self.cancel_button.setEnabled(running)
        for widget in (self.in_edit, self.out_edit, self.format, self.recursive, self.resume,
                       self.workers):
            widget.setEnabled(not running)
        self.open_button.setEnabled(not running and getattr(self, "_out_dir", None) is not None
                                    and self._out_dir.is_dir())

    def _list_files(self, names: list[str]) -> None:
        self.model.set_files(names)

    def _on_file_done(self, value) -> None:
        row, done, total = value
        self.files_bar.setRange(0, total)
        self.files_bar.setValue(done)
        self.cells_bar.setValue(0)  # the next file starts from nothing
        self.model.update(row)
        self.fileDone.emit(row.file, row.status)
        # The next file in the list (serial runs go in order) is the one now converting.
        if self.workers.value() == 1:
            nxt = self.model.mark_converting()
            if nxt is not None:
                self.table.scrollTo(self.model.index(nxt, FILE))

    def _on_cells(self, done: int, total: int, _what: str) -> None:
        if total > 0:
            self.cells_bar.setRange(0, total)
            self.cells_bar.setValue(done)
        if self.workers.value() == 1:
            self.model.mark_converting()

    def _on_finished(self, report) -> None:
        self.job = None
        self.report = report
        for row in report.rows:
            self.model.update(row)
        ok, failed, skipped = len(report.converted), len(report.failed), len(report.skipped)
        parts = [f"{ok} converted"]
        if failed:
            parts.append(f"{failed} failed")
        if skipped:
            parts.append(f"{skipped} skipped")
        if report.no_table:
            parts.append(f"{len(report.no_table)} without a table")
        link = QUrl.fromLocalFile(str(report.report_csv)).toString()
        self._show_summary(f"Done: {', '.join(parts)}. Report: <a href=\"{link}\">"
                           f"{report.report_csv.name}</a> in {report.report_csv.parent}",
                           error=bool(failed))
        self._set_running(False)
        self.batchFinished.emit(report)

    def _on_failed(self, reason: str) -> None:
        self.job = None
        self._show_summary(f"The batch stopped: {reason}", error=True)
        self._set_running(False)
        self.batchFinished.emit(None)

    def _on_cancelled(self) -> None:
        self.job = None
        self.model.mark_cancelled()
        report = Path(self._out_dir) / "tablescribe-report.json"
        done = ""
        try:
            data = json.loads(report.read_text(encoding="utf-8"))
            done = f" {data.get('ok', 0)} file(s) were converted; “Skip files an earlier run " \
                   "already converted” continues where this run stopped."
        except (OSError, ValueError):
            pass
        self._show_summary("Cancelled." + done)
        self._set_running(False)
        self.batchFinished.emit(None)

    def _show_summary(self, text: str, error: bool = False) -> None:
        self.summary.setText(text)
        self.summary.setStyleSheet("color: #d9413b;" if error else "")

    def _open_output(self) -> None:
        if getattr(self, "_out_dir", None) is not None:
            QDesktopServices.openUrl(QUrl.fromLocalFile(str(self._out_dir)))

    def closeEvent(self, event) -> None:
        if self.job is not None:
            self.cancel()
            self.pool.waitForDone(30000)
        super().closeEvent(event)
