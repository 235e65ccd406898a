"""The tablescribe main window: open a scan, convert it, review and correct the cells,
fix the grid, export.

Slow work (loading pages, loading the model, converting, re-reading cells) runs as Jobs
on a QThreadPool; this module only starts them and applies what they send back, so the
window keeps answering while a long PDF converts.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Callable

import numpy as np
from PIL import Image
from PySide6.QtCore import (
    QItemSelection,
    QItemSelectionModel,
    QSize,
    Qt,
    QThreadPool,
    QTimer,
    Signal,
)
from PySide6.QtGui import (
    QAction,
    QCloseEvent,
    QDragEnterEvent,
    QDropEvent,
    QGuiApplication,
    QKeySequence,
)
from PySide6.QtWidgets import (
    QApplication,
    QComboBox,
    QDockWidget,
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QMainWindow,
    QMessageBox,
    QProgressBar,
    QPushButton,
    QSplitter,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from app.gui.commands import EditCellCommand, StructureCommand
from app.gui.document import Document
from app.gui.grid_ops import (
    CellRange,
    GridEditError,
    cell_name,
    column_name,
    delete_lines,
    insert_line,
    merge_cells,
    split_cells,
)
from app.gui.icon import app_icon
from app.gui.page_view import PageView
from app.gui.result_view import ResultTableModel, ResultView
from app.gui.settings import AppSettings
from app.gui.theme import apply_theme, confidence_color
from app.gui.widgets import MessageBanner, PageList, WelcomePanel
from app.gui.worker import Job, JobContext
from app.inputs import SCAN_TYPES
from app.recognizers import RecognizerCache, RecognizerFactory
from app.recognizers import load_recognizer as _default_recognizer_factory
from table.model import Cell, PageResult, Table

log = logging.getLogger(__name__)

APP_NAME = "tablescribe"
_IMAGES = " ".join(f"*{ext}" for kind, exts in SCAN_TYPES.items() if kind != "PDF" for ext in exts)
OPEN_FILTER = f"Scans ({_IMAGES} *.pdf);;PDF documents (*.pdf);;Images ({_IMAGES});;All files (*)"
EXPORT_FILTERS = {"xlsx": "Excel workbook (*.xlsx)", "csv": "CSV, one file per table (*.csv)"}
THUMBNAIL_SIZE = (96, 128)
LOADING = "Loading the text recogniser…"


def _thumbnail(image: np.ndarray) -> np.ndarray:
    thumb = Image.fromarray(image)
    thumb.thumbnail(THUMBNAIL_SIZE, Image.Resampling.BILINEAR)
    return np.asarray(thumb.convert("RGB"))


def _page_status(result: PageResult | None) -> str:
    if result is None:
        return ""
    if not result.tables:
        return "no table"
    n = len(result.tables)
    return f"✓ {n} table" + ("s" if n > 1 else "")


class MainWindow(QMainWindow):
    documentOpened = Signal(str)
    conversionFinished = Signal()
    conversionCancelled = Signal()
    conversionFailed = Signal(str)
    rereadFinished = Signal()
    messageShown = Signal(str, str)  # level, text
    busyChanged = Signal(bool)

    def __init__(self, settings: AppSettings | None = None,
                 recognizer_factory: RecognizerFactory | None = None,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.settings = settings or AppSettings()
        self.recognizers = RecognizerCache(recognizer_factory or _default_recognizer_factory)
        self.pool = QThreadPool(self)
        # One job at a time: the recogniser is used by one conversion or re-read at once.
        self.pool.setMaxThreadCount(1)
        self.doc: Document | None = None
        self.current_page = 0
        self.current_table = 0
        self._jobs: dict[str, Job] = {}
        self._converting: set[int] = set()  # pages queued or being converted
        self._closing = False
        # None follows the "convert on open" setting; --screenshot forces its own order.
        self.auto_convert: bool | None = None
        # Cancel is checked between recogniser batches: smaller batches answer sooner.
        self.batch_size = 32
        self._anchor: tuple[int, int] | None = None  # where a Shift+click range starts

        self.setWindowIcon(app_icon())
        self.setAcceptDrops(True)
        self.resize(1280, 800)
        self._build_views()
        self._build_actions()
        self._build_menus_and_toolbar()
        self._build_status_bar()
        self._restore_window_state()
        self._refresh_recent()
        self._update_title()
        self._update_actions()

    # ======================================================================================
    # construction
    # ======================================================================================
    def _build_views(self) -> None:
        self.banner = MessageBanner()

        self.page_view = PageView()
        self.page_view.cellClicked.connect(self._on_page_cell_clicked)
        self.page_view.zoomChanged.connect(self._on_zoom_changed)
        self.welcome = WelcomePanel(app_icon())
        self.welcome.openRequested.connect(self.open_dialog)
        self.welcome.recentRequested.connect(self.open_file)

        self.model = ResultTableModel(self)
        self.model.threshold = self.settings.threshold
        self.result_view = ResultView()
        self.result_view.setModel(self.model)
        self.result_view.selectionModel().selectionChanged.connect(self._on_table_selection)
        self.result_view.selectionModel().currentChanged.connect(self._on_table_selection)
        self.table_picker = QComboBox()
        self.table_picker.currentIndexChanged.connect(self._on_table_picked)
        self.table_info = QLabel()
        picker_row = QHBoxLayout()
        picker_row.setContentsMargins(0, 0, 0, 0)
        picker_row.addWidget(self.table_picker)
        picker_row.addWidget(self.table_info, 1)
        self.result_placeholder = QLabel()
        self.result_placeholder.setAlignment(Qt.AlignCenter)
        self.result_placeholder.setWordWrap(True)
        self.result_stack = QStackedWidget()
        self.result_stack.addWidget(self.result_placeholder)
        self.result_stack.addWidget(self.result_view)
        result_panel = QWidget()
        result_layout = QVBoxLayout(result_panel)
        result_layout.setContentsMargins(0, 0, 0, 0)
        result_layout.addLayout(picker_row)
        result_layout.addWidget(self.result_stack, 1)

        self.splitter = QSplitter(Qt.Horizontal)
        self.splitter.addWidget(self.page_view)
        self.splitter.addWidget(result_panel)
        self.splitter.setStretchFactor(0, 3)
        self.splitter.setStretchFactor(1, 2)
        self.splitter.setChildrenCollapsible(False)
        self.splitter.setSizes([720, 540])  # the page a little wider than the table
        central = QWidget()
        layout = QVBoxLayout(central)
        layout.setContentsMargins(6, 6, 6, 0)
        # Before a file is open the welcome panel takes the whole window.
        self.workspace = QStackedWidget()
        self.workspace.addWidget(self.welcome)
        self.workspace.addWidget(self.splitter)
        layout.addWidget(self.banner)
        layout.addWidget(self.workspace, 1)
        self.setCentralWidget(central)

        self.page_list = PageList()
        self.page_list.currentRowChanged.connect(self._on_page_picked)
        self.page_dock = QDockWidget("Pages", self)
        self.page_dock.setObjectName("PagesDock")
        self.page_dock.setWidget(self.page_list)
        self.page_dock.setFeatures(QDockWidget.DockWidgetMovable | QDockWidget.DockWidgetClosable)
        self.addDockWidget(Qt.LeftDockWidgetArea, self.page_dock)
        self.page_dock.hide()

    def _action(self, text: str, slot, shortcut=None, tip: str = "", icon=None,
                checkable: bool = False) -> QAction:
        action = QAction(text, self)
        if shortcut is not None:
            if isinstance(shortcut, (list, tuple)):
                action.setShortcuts([QKeySequence(s) for s in shortcut])
            else:
                action.setShortcut(QKeySequence(shortcut))
        if tip:
            action.setStatusTip(tip)
            action.setToolTip(tip)
        if icon is not None:
            action.setIcon(self.style().standardIcon(icon))
        action.setCheckable(checkable)
        action.triggered.connect(slot)
        self.addAction(action)
        return action

    def _build_actions(self) -> None:
        from PySide6.QtWidgets import QStyle as S

        a = self._action
        self.act_open = a("&Open…", self.open_dialog, QKeySequence.Open,
                          "Open a scan (PNG, JPEG, TIFF, PDF)", S.SP_DialogOpenButton)
        self.act_export = a("&Export", lambda: self.export(ask=False), QKeySequence.Save,
                            "Write the tables to the last export file (asks the first time)",
                            S.SP_DialogSaveButton)
        self.act_export_as = a("Export &As…", lambda: self.export(ask=True), QKeySequence.SaveAs,
                               "Write the tables to a new .xlsx or .csv file")
        self.act_batch = a("&Batch Convert Folder…", self.open_batch_dialog, "Ctrl+B",
                           "Convert every scan in a folder")
        self.act_close = a("&Close File", self.close_document, QKeySequence.Close)
        self.act_quit = a("&Quit", self.close, QKeySequence.Quit)
        self.act_settings = a("Se&ttings…", self.open_settings, QKeySequence.Preferences,
                              "Model, device, review threshold, export options, PDF resolution")
        if self.act_settings.shortcut().isEmpty():
            self.act_settings.setShortcut(QKeySequence("Ctrl+,"))

        self.act_undo = a("&Undo", self.undo, QKeySequence.Undo, "Undo the last edit",
                          S.SP_ArrowBack)
        self.act_redo = a("&Redo", self.redo, [QKeySequence.Redo, "Ctrl+Y"], "Redo",
                          S.SP_ArrowForward)
        self.act_copy = a("&Copy", self.copy_selection, QKeySequence.Copy,
                          "Copy the selected cells as tab-separated text")
        self.act_clear = a("C&lear Cells", self.clear_selection, QKeySequence.Delete,
                           "Empty the selected cells")
        self.act_clear.setShortcutContext(Qt.WidgetWithChildrenShortcut)
        self.removeAction(self.act_clear)
        self.result_view.addAction(self.act_clear)
        self.act_merge = a("&Merge Cells", self.merge_selection, "Ctrl+M",
                           "Merge the selected cells into one and read it again")
        self.act_split = a("&Split Cell", self.split_selection, "Ctrl+Shift+M",
                           "Split the selected merged cells and read the pieces again")
        self.act_insert_row = a("Insert &Row", lambda: self.insert_line(0), "Ctrl+I",
                                "Cut the current row in two where a grid line was missed; "
                                "both halves are read again")
        self.act_insert_col = a("Insert C&olumn", lambda: self.insert_line(1), "Ctrl+Shift+I",
                                "Cut the current column in two where a grid line was missed; "
                                "both halves are read again")
        self.act_delete_row = a("&Delete Row", lambda: self.delete_lines(0), "Ctrl+D",
                                "Delete the selected rows")
        self.act_delete_col = a("Delete Colum&n", lambda: self.delete_lines(1), "Ctrl+Shift+D",
                                "Delete the selected columns")
        self.act_next_unsure = a("&Next Cell to Check", lambda: self.goto_unsure(+1), "F8",
                                 "Select the next cell read with low confidence")
        self.act_prev_unsure = a("&Previous Cell to Check", lambda: self.goto_unsure(-1),
                                 "Shift+F8", "Select the previous cell read with low confidence")

        self.act_convert = a("&Convert", lambda: self.convert(), "F5",
                             "Find the tables and read every cell", S.SP_MediaPlay)
        self.act_convert_page = a("Convert This &Page", lambda: self.convert([self.current_page]),
                                  "Shift+F5", "Convert (again) only the page on screen")
        self.act_cancel = a("C&ancel", self.cancel_work, "Esc", "Stop the conversion",
                            S.SP_BrowserStop)
        self.act_cancel.setShortcutContext(Qt.WindowShortcut)

        self.act_zoom_in = a("Zoom &In", self.page_view.zoom_in, [QKeySequence.ZoomIn, "Ctrl+="])
        self.act_zoom_out = a("Zoom &Out", self.page_view.zoom_out, QKeySequence.ZoomOut)
        self.act_fit = a("&Fit Page", self.page_view.fit, "Ctrl+0", "Show the whole page")
        self.act_fit_width = a("Fit &Width", self.page_view.fit_width, "Ctrl+9")
        self.act_actual = a("&Actual Size", self.page_view.actual_size, "Ctrl+1")
        self.act_overlay = a("Show &Cell Boxes", self.page_view.set_overlay_visible, "Ctrl+H",
                             "Draw the detected cells over the page", checkable=True)
        self.act_overlay.setChecked(True)
        self.act_prev_page = a("Pre&vious Page", lambda: self.goto_page(self.current_page - 1),
                               [QKeySequence.MoveToPreviousPage, "Alt+Up"])
        self.act_next_page = a("Ne&xt Page", lambda: self.goto_page(self.current_page + 1),
                               [QKeySequence.MoveToNextPage, "Alt+Down"])
        # Page Up/Down belong to the table view while it has focus.
        for act in (self.act_prev_page, self.act_next_page):
            act.setShortcutContext(Qt.WidgetWithChildrenShortcut)
            self.removeAction(act)
            self.page_view.addAction(act)
            self.page_list.addAction(act)
        self.act_pages = self.page_dock.toggleViewAction()
        self.act_pages.setText("Page &List")
        self.act_about = a("&About tablescribe", self.show_about)

    def _build_menus_and_toolbar(self) -> None:
        bar = self.menuBar()
        file_menu = bar.addMenu("&File")
        file_menu.addAction(self.act_open)
        self.recent_menu = file_menu.addMenu("Open &Recent")
        file_menu.addSeparator()
        file_menu.addAction(self.act_export)
        file_menu.addAction(self.act_export_as)
        file_menu.addSeparator()
        file_menu.addAction(self.act_batch)
        file_menu.addSeparator()
        file_menu.addAction(self.act_close)
        file_menu.addAction(self.act_quit)

        edit_menu = bar.addMenu("&Edit")
        for act in (self.act_undo, self.act_redo, None, self.act_copy, self.act_clear, None,
                    self.act_next_unsure, self.act_prev_unsure, None, self.act_settings):
            edit_menu.addSeparator() if act is None else edit_menu.addAction(act)
        table_menu = bar.addMenu("&Table")
        for act in (self.act_merge, self.act_split, None, self.act_insert_row,
                    self.act_insert_col, None, self.act_delete_row, self.act_delete_col):
            table_menu.addSeparator() if act is None else table_menu.addAction(act)
        view_menu = bar.addMenu("&View")
        for act in (self.act_zoom_in, self.act_zoom_out, self.act_fit, self.act_fit_width,
                    self.act_actual, self.act_overlay, None, self.act_prev_page,
                    self.act_next_page,
                    self.act_pages):
            view_menu.addSeparator() if act is None else view_menu.addAction(act)
        convert_menu = bar.addMenu("&Convert")
        for act in (self.act_convert, self.act_convert_page, self.act_cancel):
            convert_menu.addAction(act)
        help_menu = bar.addMenu("&Help")
        help_menu.addAction(self.act_about)

        tools = self.addToolBar("Main")
        tools.setObjectName("MainToolBar")
        tools.setToolButtonStyle(Qt.ToolButtonTextBesideIcon)
        tools.setIconSize(QSize(18, 18))
        for act in (self.act_open, self.act_convert, self.act_export, None, self.act_undo,
                    self.act_redo, None, self.act_merge, self.act_split, self.act_insert_row,
                    self.act_insert_col, self.act_delete_row, self.act_delete_col, None,
                    self.act_next_unsure, None, self.act_fit):
            tools.addSeparator() if act is None else tools.addAction(act)
        for act in (self.act_merge, self.act_split, self.act_insert_row, self.act_insert_col,
                    self.act_delete_row, self.act_delete_col, self.act_next_unsure, self.act_fit):
            button = tools.widgetForAction(act)
            if button is not None:
                button.setToolButtonStyle(Qt.ToolButtonTextOnly)

        # The table view's context menu offers the structure fixes where the cells are.
        self.result_view.setContextMenuPolicy(Qt.ActionsContextMenu)
        for act in (self.act_copy, self.act_clear, self.act_merge, self.act_split,
                    self.act_insert_row, self.act_insert_col, self.act_delete_row,
                    self.act_delete_col):
            self.result_view.addAction(act)

    def _build_status_bar(self) -> None:
        status = self.statusBar()
        self.selection_label = QLabel()
        self.progress_label = QLabel()
        self.progress = QProgressBar()
        self.progress.setFixedWidth(220)
        self.progress.setTextVisible(True)
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.clicked.connect(self.cancel_work)
        self.zoom_label = QLabel()
        self.legend = QLabel(self._legend_html())
        self.legend.setToolTip("Box colours on the page: how sure the recogniser was")
        status.addWidget(self.selection_label, 1)
        status.addPermanentWidget(self.legend)
        status.addPermanentWidget(self.progress_label)
        status.addPermanentWidget(self.progress)
        status.addPermanentWidget(self.cancel_button)
        status.addPermanentWidget(self.zoom_label)
        self._show_progress(False)

    def _legend_html(self) -> str:
        threshold = self.settings.threshold
        sure = confidence_color(1.0, threshold).name()
        unsure = confidence_color(threshold * 0.99, threshold).name()
        doubtful = confidence_color(0.0, threshold).name()
        return (f"<span style='color:{sure}'>■</span> sure "
                f"<span style='color:{unsure}'>■</span> check "
                f"<span style='color:{doubtful}'>■</span> doubtful "
                f"(below {threshold:.0%})")

    def _restore_window_state(self) -> None:
        geometry, state = self.settings.window_state()
        if geometry is not None:
            self.restoreGeometry(geometry)
        if state is not None:
            self.restoreState(state)
        if self.settings.splitter_state is not None:
            self.splitter.restoreState(self.settings.splitter_state)
        self.page_dock.hide()  # shown again only for documents with several pages

    # ======================================================================================
    # messages, title, enabled actions
    # ======================================================================================
    def show_message(self, level: str, text: str) -> None:
        """Errors and warnings stay in the window until dismissed; notes fade."""
        self.banner.show_message(level, text, timeout_ms=8000 if level == "info" else 0)
        if level == "error":
            log.warning("%s", text)
        self.messageShown.emit(level, text)

    def _update_title(self) -> None:
        if self.doc is None:
            self.setWindowTitle(APP_NAME)
            self.setWindowModified(False)
            return
        self.setWindowTitle(f"{self.doc.name}[*] — {APP_NAME}")
        self.setWindowFilePath(str(self.doc.path))
        self.setWindowModified(self.doc.modified)

    @property
    def busy(self) -> bool:
        return bool(self._jobs)

    def _table(self) -> Table | None:
        tables = self._page_tables()
        return tables[self.current_table] if 0 <= self.current_table < len(tables) else None

    def _page_tables(self) -> list[Table]:
        if self.doc is None:
            return []
        result = self.doc.results.get(self.current_page)
        return result.tables if result else []

    def _editable(self) -> bool:
        """Cells of the page on screen may change: not being converted or re-read."""
        return (self._table() is not None and "reread" not in self._jobs
                and self.current_page not in self._converting)

    def _update_actions(self) -> None:
        has_doc = self.doc is not None
        has_tables = bool(self.doc and self.doc.tables())
        editable = self._editable()
        structure_ok = editable and not self.busy
        rng = self._selection_range()
        table = self._table()
        self.act_export.setEnabled(has_tables)
        self.act_export_as.setEnabled(has_tables)
        self.act_close.setEnabled(has_doc)
        self.act_convert.setEnabled(has_doc and "convert" not in self._jobs)
        self.act_convert_page.setEnabled(has_doc and "convert" not in self._jobs)
        self.act_cancel.setEnabled(self.busy)
        self.act_undo.setEnabled(has_doc and self.doc.undo_stack.canUndo() and not self.busy)
        self.act_redo.setEnabled(has_doc and self.doc.undo_stack.canRedo() and not self.busy)
        if has_doc:
            # What would be undone goes in the tip: a changing label makes the toolbar jump.
            self.act_undo.setToolTip(f"Undo {self.doc.undo_stack.undoText()}".rstrip())
            self.act_redo.setToolTip(f"Redo {self.doc.undo_stack.redoText()}".rstrip())
            self.act_undo.setStatusTip(self.act_undo.toolTip())
            self.act_redo.setStatusTip(self.act_redo.toolTip())
        self.act_copy.setEnabled(rng is not None)
        self.act_clear.setEnabled(editable and rng is not None)
        selected = self._selected_cells()
        self.act_merge.setEnabled(structure_ok and len(selected) > 1)
        self.act_split.setEnabled(structure_ok and any(c.is_merged for c in selected))
        self.act_insert_row.setEnabled(structure_ok and rng is not None)
        self.act_insert_col.setEnabled(structure_ok and rng is not None)
        self.act_delete_row.setEnabled(structure_ok and rng is not None and table.n_rows > rng.rows)
        self.act_delete_col.setEnabled(structure_ok and rng is not None and table.n_cols > rng.cols)
        self.act_next_unsure.setEnabled(has_tables)
        self.act_prev_unsure.setEnabled(has_tables)
        n_pages = len(self.doc.pages) if has_doc else 0
        self.act_prev_page.setEnabled(self.current_page > 0)
        self.act_next_page.setEnabled(self.current_page < n_pages - 1)
        for act in (self.act_zoom_in, self.act_zoom_out, self.act_fit, self.act_fit_width,
                    self.act_actual):
            act.setEnabled(has_doc)
        self.model.set_read_only(not editable)

    def _show_progress(self, visible: bool) -> None:
        for widget in (self.progress_label, self.progress, self.cancel_button):
            widget.setVisible(visible)

    # ======================================================================================
    # jobs
    # ======================================================================================
    def _start_job(self, kind: str, job: Job, *, on_finished=None, on_partial=None,
                   on_failed=None, on_cancelled=None) -> Job:
        doc = self.doc

        def alive() -> bool:  # results for a document that was closed meanwhile are dropped
            return not self._closing and self.doc is doc

        def done(handler, *args) -> None:
            # A job replaced by a newer one of its kind (a second Open) reports nothing.
            current = self._jobs.get(kind) is job
            if current:
                del self._jobs[kind]
                if kind == "convert":
                    self._converting.clear()
            self._job_ended()
            if handler is not None and current and (alive() or kind == "load"):
                handler(*args)

        job.signals.progress.connect(self._on_progress)
        if on_partial is not None:
            job.signals.partial.connect(lambda value: on_partial(value) if alive() else None)
        job.signals.finished.connect(lambda result: done(on_finished, result))
        job.signals.failed.connect(lambda reason: done(on_failed, reason))
        job.signals.cancelled.connect(lambda: done(on_cancelled))
        self._jobs[kind] = job
        self._show_progress(True)
        self.progress.setRange(0, 0)
        self.progress_label.setText("")
        self._update_actions()
        self.busyChanged.emit(True)
        self.pool.start(job)
        return job

    def _job_ended(self) -> None:
        if not self._jobs:
            self._show_progress(False)
            self.busyChanged.emit(False)
        self._update_actions()

    def _on_progress(self, done: int, total: int, what: str) -> None:
        if total > 0:
            self.progress.setRange(0, total)
            self.progress.setValue(done)
            self.progress.setFormat("%v / %m cells")
        else:
            self.progress.setRange(0, 0)  # busy indicator while the amount is unknown
        self.progress_label.setText(what)

    def cancel_work(self) -> None:
        """Ask every running job to stop; each reports back as cancelled."""
        if not self._jobs:
            return
        for job in self._jobs.values():
            job.cancel()
        self.progress_label.setText("Cancelling…")

    def wait_for_jobs(self, timeout_ms: int = 30000) -> bool:
        return self.pool.waitForDone(timeout_ms)

    # ======================================================================================
    # opening files
    # ======================================================================================
    def open_dialog(self) -> None:
        start = self.settings.last_dir or str(Path.home())
        path, _ = QFileDialog.getOpenFileName(self, "Open a scan", start, OPEN_FILTER)
        if path:
            self.open_file(path)

    def open_file(self, path: str | Path) -> bool:
        """Start loading ``path``; False when it was refused before any work began."""
        path = Path(path)
        if not self.confirm_discard("open another file"):
            return False
        if not path.exists():
            self.settings.remove_recent(path)
            self._refresh_recent()
            self.show_message("error", f"Cannot open {path}: the file does not exist.")
            return False
        if path.is_dir():
            self.show_message("warning", f"{path.name} is a folder. Use File ▸ Batch Convert "
                                         "Folder to convert every scan in it.")
            return False
        self.cancel_work()
        dpi = self.settings.pdf_dpi

        def load(ctx: JobContext):
            from table.pages import load_pages

            ctx.progress(0, 0, f"Opening {path.name}…")
            pages = load_pages(path, dpi=dpi)
            if not pages:
                raise ValueError(f"{path}: the file holds no pages")
            return pages, [_thumbnail(p.image) for p in pages]

        def failed(reason: str) -> None:
            self.show_message("error", self._name_file(path, reason, "Could not open"))

        self._start_job("load", Job(f"open {path}", load),
                        on_finished=lambda res: self._document_loaded(path, *res),
                        on_failed=failed)
        return True

    @staticmethod
    def _name_file(path: Path, reason: str, verb: str) -> str:
        # Our modules' errors read "<path>: <problem>"; say "<verb> <name>: <problem>".
        prefix = f"{path}: "
        if reason.startswith(prefix):
            reason = reason[len(prefix):]
        return f"{verb} {path.name}: {reason}"

    def _document_loaded(self, path: Path, pages: list, thumbnails: list[np.ndarray]) -> None:
        self._set_document(Document(path, pages, self))
        self.page_list.set_pages(thumbnails)
        self.page_dock.setVisible(len(pages) > 1)
        self.settings.add_recent(path)
        self.settings.last_dir = str(path.parent)
        self._refresh_recent()
        self.banner.dismiss()
        self.statusBar().showMessage(
            f"Opened {path.name}" + (f" ({len(pages)} pages)" if len(pages) > 1 else ""), 5000)
        self.goto_page(0)
        self.documentOpened.emit(str(path))
        if self.settings.convert_on_open if self.auto_convert is None else self.auto_convert:
            self.convert()

    def _set_document(self, doc: Document | None) -> None:
        old = self.doc
        self.doc = doc
        self.current_page, self.current_table = 0, 0
        self.model.set_document(doc)
        if old is not None:
            old.deleteLater()
        if doc is not None:
            doc.cellChanged.connect(self._on_cell_changed)
            doc.structureChanged.connect(self._on_structure_changed)
            doc.resultChanged.connect(self._on_result_changed)
            doc.undo_stack.cleanChanged.connect(self._update_title)
            doc.undo_stack.indexChanged.connect(self._update_actions)
            self.workspace.setCurrentWidget(self.splitter)
        else:
            self.page_list.clear()
            self.page_dock.hide()
            self.page_view.set_page(None, [], self.settings.threshold)
            self.workspace.setCurrentWidget(self.welcome)
            self._show_result_placeholder("")
        self._update_title()
        self._update_actions()

    def close_document(self) -> bool:
        if self.doc is None or not self.confirm_discard("close it"):
            return False
        self.cancel_work()
        self._set_document(None)
        return True

    def _refresh_recent(self) -> None:
        self.recent_menu.clear()
        files = self.settings.recent_files
        for path in files:
            act = self.recent_menu.addAction(Path(path).name)
            act.setToolTip(path)
            act.setStatusTip(path)
            act.triggered.connect(lambda _=False, p=path: self.open_file(p))
        if files:
            self.recent_menu.addSeparator()
            self.recent_menu.addAction("Clear List", self._clear_recent)
        self.recent_menu.setEnabled(bool(files))
        self.welcome.set_recent(files)

    def _clear_recent(self) -> None:
        self.settings.clear_recent()
        self._refresh_recent()

    # -- drag and drop ----------------------------------------------------------------------
    @staticmethod
    def _dropped_paths(event) -> list[Path]:
        mime = event.mimeData()
        if not mime.hasUrls():
            return []
        return [Path(url.toLocalFile()) for url in mime.urls() if url.isLocalFile()]

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:
        if self._dropped_paths(event):
            event.acceptProposedAction()
        else:
            event.ignore()

    def dragMoveEvent(self, event) -> None:
        if self._dropped_paths(event):
            event.acceptProposedAction()

    def dropEvent(self, event: QDropEvent) -> None:
        paths = self._dropped_paths(event)
        if not paths:
            event.ignore()
            return
        event.acceptProposedAction()
        first = paths[0]
        if first.is_dir():
            QTimer.singleShot(0, lambda: self.open_batch_dialog(first))
            return
        # Opening may ask about unexported edits: do it after the drop has finished.
        QTimer.singleShot(0, lambda: self.open_file(first))
        if len(paths) > 1:
            self.statusBar().showMessage(
                f"Opened the first of {len(paths)} dropped files; Batch Convert handles many.",
                8000)

    # ======================================================================================
    # pages and tables on screen
    # ======================================================================================
    def goto_page(self, page: int) -> None:
        if self.doc is None or not 0 <= page < len(self.doc.pages):
            return
        self.current_page = page
        if self.page_list.currentRow() != page:
            self.page_list.blockSignals(True)
            self.page_list.setCurrentRow(page)
            self.page_list.blockSignals(False)
        self.current_table = 0
        self._show_page(keep_view=False)

    def _on_page_picked(self, row: int) -> None:
        if row >= 0 and row != self.current_page:
            self.goto_page(row)

    def _show_page(self, keep_view: bool) -> None:
        doc = self.doc
        if doc is None:
            return
        tables = self._page_tables()
        self.current_table = min(self.current_table, max(0, len(tables) - 1))
        self.page_view.set_page(doc.image_of(self.current_page), tables, self.settings.threshold,
                                active=self.current_table, keep_view=keep_view)
        self._fill_table_picker()
        self._show_table()

    def _fill_table_picker(self) -> None:
        tables = self._page_tables()
        self.table_picker.blockSignals(True)
        self.table_picker.clear()
        for i, t in enumerate(tables):
            self.table_picker.addItem(f"Table {i + 1} — {t.n_rows} × {t.n_cols}")
        self.table_picker.setCurrentIndex(self.current_table)
        self.table_picker.blockSignals(False)
        self.table_picker.setVisible(len(tables) > 1)

    def _on_table_picked(self, index: int) -> None:
        if index >= 0 and index != self.current_table:
            self.current_table = index
            self.page_view.set_active_table(index)
            self._show_table()

    def _show_table(self) -> None:
        table = self._table()
        self._anchor = None
        self.model.set_table(table)
        if table is None:
            self._show_result_placeholder(self._placeholder_text())
        else:
            self.result_stack.setCurrentWidget(self.result_view)
            self._update_table_info()
        self.page_view.set_selection(self.current_table, [])
        self._on_table_selection()
        self._update_actions()

    def _placeholder_text(self) -> str:
        if self.doc is None:
            return ""
        page = self.current_page
        if page in self._converting:
            return "Converting this page…"
        result = self.doc.results.get(page)
        if result is None:
            return "This page is not converted yet.\nPress Convert (F5) to find its table."
        return ("No table was found on this page.\nA table needs visible ruling lines; "
                "try a sharper scan or a higher PDF resolution in Settings.")

    def _show_result_placeholder(self, text: str) -> None:
        self.result_placeholder.setText(text)
        self.result_stack.setCurrentWidget(self.result_placeholder)
        self.table_info.setText("")
        self.table_picker.setVisible(False)

    def _update_table_info(self) -> None:
        table = self._table()
        if table is None:
            self.table_info.setText("")
            return
        threshold = self.settings.threshold
        unsure = sum(1 for c in table.cells if c.text and c.confidence < threshold)
        text = f"{table.n_rows} rows × {table.n_cols} columns"
        if unsure:
            text += f" · {unsure} cell{'s' if unsure > 1 else ''} to check (F8)"
        self.table_info.setText(text)

    # ======================================================================================
    # selection in both views
    # ======================================================================================
    def _selection_range(self) -> CellRange | None:
        """Bounding range of the table view's selection, or of its current cell."""
        cells = self._selected_cells()
        if not cells:
            current = self.result_view.currentIndex()
            cell = self.model.cell(current.row(), current.column()) if current.isValid() else None
            if cell is None:
                return None
            cells = [cell]
        return CellRange(min(c.row for c in cells), min(c.col for c in cells),
                         max(c.row + c.rowspan - 1 for c in cells),
                         max(c.col + c.colspan - 1 for c in cells))

    def _selected_cells(self) -> list[Cell]:
        """The distinct cells under the selection (a merged cell once)."""
        if self._table() is None:
            return []
        seen: dict[int, Cell] = {}
        for index in self.result_view.selectionModel().selectedIndexes():
            cell = self.model.cell(index.row(), index.column())
            if cell is not None:
                seen[id(cell)] = cell
        return sorted(seen.values(), key=lambda c: (c.row, c.col))

    def _on_table_selection(self, *_args) -> None:
        cells = self._selected_cells()
        self.page_view.set_selection(self.current_table, cells)
        current = self.result_view.currentIndex()
        cell = self.model.cell(current.row(), current.column()) if current.isValid() else None
        if cell is not None and any(c is cell for c in cells):
            self.page_view.ensure_cell_visible(self.current_table, cell.row, cell.col)
        if cell is not None:
            self.selection_label.setText(
                f"{cell_name(cell.row, cell.col)}"
                + (f":{cell_name(cell.row + cell.rowspan - 1, cell.col + cell.colspan - 1)}"
                   if cell.is_merged else "")
                + (f" · confidence {cell.confidence:.0%}" if cell.text else " · empty"))
        else:
            self.selection_label.setText("")
        self._update_actions()

    def _on_page_cell_clicked(self, table_index: int, row: int, col: int, modifiers) -> None:
        if table_index != self.current_table:
            self.current_table = table_index
            self.table_picker.setCurrentIndex(table_index)
            self.page_view.set_active_table(table_index)
            self._show_table()
        self.select_cell(row, col, modifiers)

    def select_cell(self, row: int, col: int, modifiers=Qt.NoModifier) -> None:
        """Select a grid position in the table view (which then marks it on the page).

        Ctrl adds or removes the cell, Shift selects the rectangle from the last plain
        click, as in a spreadsheet.
        """
        index = self.model.index(row, col)
        if not index.isValid():
            return
        selection = self.result_view.selectionModel()
        anchor = self._anchor
        if modifiers & Qt.ControlModifier:
            selection.setCurrentIndex(index, QItemSelectionModel.Toggle)
            self._anchor = (row, col)
        elif modifiers & Qt.ShiftModifier and anchor is not None:
            corner = self.model.index(*anchor)
            selection.select(QItemSelection(corner, index), QItemSelectionModel.ClearAndSelect)
            selection.setCurrentIndex(index, QItemSelectionModel.NoUpdate)
        else:
            selection.setCurrentIndex(index, QItemSelectionModel.ClearAndSelect)
            self._anchor = (row, col)
        self.result_view.reveal(index)

    def select_range(self, rng: CellRange) -> None:
        selection = self.result_view.selectionModel()
        top_left = self.model.index(rng.top, rng.left)
        selection.setCurrentIndex(top_left, QItemSelectionModel.ClearAndSelect)
        selection.select(QItemSelection(top_left, self.model.index(rng.bottom, rng.right)),
                         QItemSelectionModel.Select)
        self.result_view.reveal(top_left)

    def goto_unsure(self, direction: int) -> None:
        """Jump to the next (or previous) low-confidence cell, across tables and pages."""
        if self.doc is None:
            return
        threshold = self.settings.threshold
        order: list[tuple[int, int, Cell]] = []
        for page in sorted(self.doc.results):
            for t_index, table in enumerate(self.doc.results[page].tables):
                for cell in sorted(table.cells, key=lambda c: (c.row, c.col)):
                    if cell.text and cell.confidence < threshold:
                        order.append((page, t_index, cell))
        if not order:
            self.statusBar().showMessage("No cell below the review threshold.", 5000)
            return
        current = self.result_view.currentIndex()
        here = (self.current_page, self.current_table,
                current.row() if current.isValid() else -1,
                current.column() if current.isValid() else -1)
        keys = [(p, t, c.row, c.col) for p, t, c in order]
        if direction > 0:
            target = next((k for k in keys if k > here), keys[0])
        else:
            target = next((k for k in reversed(keys) if k < here), keys[-1])
        self._reveal(target[0], target[1], target[2], target[3])

    def _reveal(self, page: int, table_index: int, row: int, col: int) -> None:
        if page != self.current_page:
            self.goto_page(page)
        if table_index != self.current_table:
            self._on_table_picked(table_index)
            self.table_picker.blockSignals(True)
            self.table_picker.setCurrentIndex(table_index)
            self.table_picker.blockSignals(False)
        self.select_cell(row, col)

    def _on_zoom_changed(self, zoom: float) -> None:
        self.zoom_label.setText(f"{zoom:.0%}")

    # ======================================================================================
    # conversion
    # ======================================================================================
    def convert(self, pages: list[int] | None = None) -> bool:
        """Convert ``pages`` (default: those not converted yet, or all when all are)."""
        doc = self.doc
        if doc is None or "convert" in self._jobs:
            return False
        if pages is None:
            pages = [i for i in range(len(doc.pages)) if i not in doc.results] \
                or list(range(len(doc.pages)))
        redo = [p for p in pages if p in doc.results]
        if redo:
            if doc.modified and not self._ask_yes_no(
                    "Convert again?", "Converting again replaces the tables and your edits "
                    f"on {'this page' if len(redo) == 1 else f'{len(redo)} pages'}. Continue?"):
                return False
            doc.undo_stack.clear()  # its commands refer to the tables being replaced
            doc.drop_results(redo)
        model, device = self.settings.model_spec(), self.settings.device_spec()
        recognizers = self.recognizers
        dpi, batch_size = self.settings.pdf_dpi, self.batch_size
        source_pages = [doc.pages[i] for i in pages]
        n = len(pages)

        def convert(ctx: JobContext):
            from app.pipeline import Pipeline

            recognizer = recognizers.get(model, device, on_load=lambda: ctx.progress(0, 0, LOADING))
            pipeline = Pipeline(recognizer, dpi=dpi, batch_size=batch_size)
            failures = []
            for index, page in zip(pages, source_pages, strict=True):
                ctx.check_cancel()
                where = f"Page {index + 1} of {len(doc.pages)}: " if len(doc.pages) > 1 else ""
                ctx.progress(0, 0, f"{where}finding the table…")

                def report(done: int, total: int, where=where) -> None:
                    ctx.progress(done, total, f"{where}reading cells")

                try:
                    result = pipeline.convert_page(page, progress=report, cancel=ctx.cancel)
                except Exception as exc:  # noqa: BLE001 - one bad page must not stop the rest
                    from app.gui.worker import is_cancellation

                    if is_cancellation(exc) or n == 1:
                        raise
                    failures.append((index, str(exc)))
                    continue
                ctx.partial((index, result))
            return failures

        self._converting = set(pages)
        self._start_job("convert", Job(f"convert {doc.path}", convert),
                        on_partial=self._on_page_converted,
                        on_finished=self._on_conversion_finished,
                        on_failed=self._on_conversion_failed,
                        on_cancelled=self._on_conversion_cancelled)
        if self.current_page in self._converting:
            self._show_page(keep_view=True)
        return True

    def _on_page_converted(self, value: tuple[int, PageResult]) -> None:
        index, result = value
        self._converting.discard(index)
        self.doc.set_result(index, result)

    def _on_result_changed(self, page: int) -> None:
        self.page_list.set_status(page, _page_status(self.doc.results.get(page)))
        if page == self.current_page:
            self._show_page(keep_view=True)
        self._update_actions()

    def _conversion_summary(self) -> str:
        tables = self.doc.tables()
        cells = sum(len(t.cells) for t in tables)
        unsure = sum(1 for t in tables for c in t.cells
                     if c.text and c.confidence < self.settings.threshold)
        text = f"{len(tables)} table{'s' if len(tables) != 1 else ''}, {cells} cells"
        if unsure:
            text += f", {unsure} to check (F8 jumps to the next)"
        return text

    def _on_conversion_finished(self, failures: list[tuple[int, str]]) -> None:
        doc = self.doc
        empty = [p for p, r in sorted(doc.results.items()) if not r.tables]
        if failures:
            lines = "; ".join(f"page {p + 1}: {why}" for p, why in failures)
            self.show_message("error", f"Some pages of {doc.name} could not be converted — {lines}")
        elif not doc.tables():
            where = "" if len(doc.pages) == 1 else " on any page"
            self.show_message("warning", f"No table found in {doc.name}{where}. tablescribe looks "
                                         "for ruled tables; check that the scan shows the grid "
                                         "lines, or raise the PDF resolution in Settings.")
        elif empty:
            pages = ", ".join(str(p + 1) for p in empty)
            self.show_message("warning", f"No table found on page{'s' if len(empty) > 1 else ''} "
                                         f"{pages} of {doc.name}.")
        self.statusBar().showMessage(f"Converted {doc.name}: {self._conversion_summary()}", 10000)
        self._show_page(keep_view=True)
        self.conversionFinished.emit()

    def _on_conversion_failed(self, reason: str) -> None:
        self.show_message("error", self._name_file(self.doc.path, reason, "Could not convert"))
        self._show_page(keep_view=True)
        self.conversionFailed.emit(reason)

    def _on_conversion_cancelled(self) -> None:
        done = len(self.doc.results)
        self.statusBar().showMessage(
            "Conversion cancelled"
            + (f"; {done} page{'s' if done > 1 else ''} kept" if done else ""), 8000)
        self._show_page(keep_view=True)
        self.conversionCancelled.emit()

    # ======================================================================================
    # edits and structure fixes
    # ======================================================================================
    def undo(self) -> None:
        if self.doc is not None and not self.busy:
            self.result_view.closePersistentEditor(self.result_view.currentIndex())
            self.doc.undo_stack.undo()

    def redo(self) -> None:
        if self.doc is not None and not self.busy:
            self.doc.undo_stack.redo()

    def edit_cell(self, row: int, col: int, text: str) -> bool:
        """Set a cell's text as if typed in the table view (undoable)."""
        return self.model.setData(self.model.index(row, col), text)

    def copy_selection(self) -> None:
        rng = self._selection_range()
        table = self._table()
        if rng is None or table is None:
            return
        grid = table.as_grid()
        rows = ["\t".join(grid[r][rng.left:rng.right + 1]).replace("\n", " ")
                for r in range(rng.top, rng.bottom + 1)]
        QGuiApplication.clipboard().setText("\n".join(rows))

    def clear_selection(self) -> None:
        table, cells = self._table(), [c for c in self._selected_cells() if c.text]
        if not self._editable() or table is None or not cells:
            return
        stack = self.doc.undo_stack
        stack.beginMacro(f"Clear {len(cells)} cell{'s' if len(cells) > 1 else ''}")
        for cell in cells:
            stack.push(EditCellCommand(self.doc, table, cell.row, cell.col, ""))
        stack.endMacro()

    def merge_selection(self) -> None:
        rng = self._selection_range()
        if rng is not None:
            self._structure_edit(lambda t: merge_cells(t, rng),
                                 f"Merge {cell_name(rng.top, rng.left)}:"
                                 f"{cell_name(rng.bottom, rng.right)}", (rng.top, rng.left))

    def split_selection(self) -> None:
        merged = [c for c in self._selected_cells() if c.is_merged]
        if not merged:
            return

        first = merged[0]
        positions = [(c.row, c.col) for c in merged]
        self._structure_edit(lambda t: split_cells(t, positions),
                             f"Split {cell_name(first.row, first.col)}"
                             + (f" and {len(merged) - 1} more" if len(merged) > 1 else ""),
                             (first.row, first.col))

    def insert_line(self, axis: int) -> None:
        rng = self._selection_range()
        if rng is None or self.doc is None:
            return
        index = rng.top if axis == 0 else rng.left
        image = self.doc.image_of(self.current_page)
        label = f"Split row {index + 1}" if axis == 0 else f"Split column {column_name(index)}"
        self._structure_edit(lambda t: insert_line(t, axis, index, image), label,
                             (index + 1, rng.left) if axis == 0 else (rng.top, index + 1))

    def delete_lines(self, axis: int) -> None:
        rng = self._selection_range()
        if rng is None:
            return
        first, last = (rng.top, rng.bottom) if axis == 0 else (rng.left, rng.right)
        what = ("row" if axis == 0 else "column") + ("s" if last > first else "")
        names = [str(i + 1) if axis == 0 else column_name(i) for i in (first, last)]
        label = f"Delete {what} {names[0]}" + (f"–{names[1]}" if last > first else "")
        focus = (first, rng.left) if axis == 0 else (rng.top, first)  # clamped once applied
        self._structure_edit(lambda t: delete_lines(t, axis, first, last), label, focus)

    def _structure_edit(self, edit: Callable[[Table], tuple[Table, list[Cell]]], label: str,
                        focus: tuple[int, int]) -> None:
        """Apply a grid change: re-read the changed cells in a job, then push the command."""
        table, doc = self._table(), self.doc
        if table is None or doc is None or not self._editable() or self.busy:
            return
        try:
            new_table, affected = edit(table)
        except GridEditError as exc:
            self.show_message("warning", f"Cannot {label[0].lower()}{label[1:]}: {exc}.")
            return
        if not affected:
            doc.undo_stack.push(StructureCommand(doc, table, new_table, label, focus))
            self.rereadFinished.emit()
            return
        result = doc.results[self.current_page]
        model, device = self.settings.model_spec(), self.settings.device_spec()
        recognizers, dpi = self.recognizers, self.settings.pdf_dpi
        n = len(affected)

        def reread(ctx: JobContext):
            from app.pipeline import Pipeline

            recognizer = recognizers.get(model, device, on_load=lambda: ctx.progress(0, 0, LOADING))
            ctx.progress(0, n, f"Reading {n} changed cell{'s' if n > 1 else ''}…")
            Pipeline(recognizer, dpi=dpi).reread_cells(result, affected, cancel=ctx.cancel)
            ctx.progress(n, n, "")
            return new_table

        def finished(updated: Table) -> None:
            doc.undo_stack.push(StructureCommand(doc, table, updated, label, focus))
            self.statusBar().showMessage(
                f"{label}: {n} cell{'s' if n > 1 else ''} read again", 5000)
            self.rereadFinished.emit()

        def failed(reason: str) -> None:
            self.show_message("error", f"{label} was not applied: the changed cells could not be "
                                       f"read again ({reason}).")
            self.rereadFinished.emit()

        self._start_job("reread", Job(label, reread), on_finished=finished, on_failed=failed,
                        on_cancelled=lambda: (self.statusBar().showMessage(
                            f"{label} cancelled", 5000), self.rereadFinished.emit()))

    # -- the document told us something changed -------------------------------------------------
    def _locate(self, table: Table) -> tuple[int, int] | None:
        try:
            page = self.doc.page_of(table)
        except KeyError:
            return None
        index = next(i for i, t in enumerate(self.doc.results[page].tables) if t is table)
        return page, index

    def _on_cell_changed(self, table: Table, row: int, col: int) -> None:
        where = self._locate(table)
        if where is None:
            return
        if where != (self.current_page, self.current_table):
            self._reveal(where[0], where[1], row, col)  # undo of an edit made elsewhere
        self.page_view.refresh_cell(self.current_table, row, col)
        self._update_table_info()
        self.select_cell(row, col)

    def _on_structure_changed(self, table: Table, row: int, col: int) -> None:
        where = self._locate(table)
        if where is None:
            return
        if where[0] != self.current_page:
            self.goto_page(where[0])
        if where[1] != self.current_table:
            self._on_table_picked(where[1])
        self.page_view.set_tables(self._page_tables(), self.current_table)
        self._fill_table_picker()
        self._update_table_info()
        self.select_cell(min(row, table.n_rows - 1), min(col, table.n_cols - 1))

    # ======================================================================================
    # export
    # ======================================================================================
    def _default_export_path(self) -> Path:
        doc = self.doc
        if doc.export_path is not None:
            return doc.export_path
        return doc.path.with_suffix("." + self.settings.export_format)

    def export(self, ask: bool = False) -> bool:
        if self.doc is None:
            return False
        path = self.doc.export_path
        if ask or path is None:
            default = self._default_export_path()
            filters = [EXPORT_FILTERS[f] for f in ("xlsx", "csv")]
            if default.suffix.lower() == ".csv":
                filters.reverse()
            chosen, selected = QFileDialog.getSaveFileName(self, "Export tables", str(default),
                                                           ";;".join(filters), filters[0])
            if not chosen:
                return False
            path = Path(chosen)
            if path.suffix.lower() not in (".xlsx", ".csv"):
                suffix = ".csv" if "csv" in selected.lower() else ".xlsx"
                path = path.with_name(path.name + suffix)
        return self.export_to(path)

    def export_to(self, path: str | Path) -> bool:
        """Write every table of the document to ``path`` (.xlsx or .csv) with the CLI's exporter."""
        from table.export import ExportError, format_for_path, write_tables

        doc = self.doc
        path = Path(path)
        if doc is None:
            return False
        tables = doc.tables()
        if not tables:
            self.show_message("warning", f"Nothing to export: no table was found in {doc.name} "
                                         "yet (convert it first).")
            return False
        fmt = format_for_path(path, self.settings.export_format)
        QApplication.setOverrideCursor(Qt.WaitCursor)
        try:
            written = write_tables(tables, path, fmt, self.settings.export_options(),
                                   inputs=[doc.path])
        except ExportError as exc:
            self.show_message("error", f"Could not export to {exc.path}: {exc.problem}.")
            return False
        except (OSError, ValueError) as exc:  # e.g. a name the file system refuses
            reason = getattr(exc, "strerror", None) or str(exc)
            self.show_message("error", f"Could not export to {path}: {reason}.")
            return False
        finally:
            QApplication.restoreOverrideCursor()
        doc.export_path = path
        doc.undo_stack.setClean()
        self.settings.export_format = fmt
        names = ", ".join(p.name for p in written)
        self.statusBar().showMessage(f"Exported {len(tables)} table{'s' if len(tables) > 1 else ''}"
                                     f" to {names} in {path.parent}", 10000)
        self.show_message("info", f"Exported to {written[0]}"
                                  + (f" and {len(written) - 1} more files"
                                     if len(written) > 1 else ""))
        return True

    # ======================================================================================
    # dialogs
    # ======================================================================================
    def _ask_yes_no(self, title: str, text: str) -> bool:
        return QMessageBox.question(self, title, text, QMessageBox.Yes | QMessageBox.No,
                                    QMessageBox.No) == QMessageBox.Yes

    def confirm_discard(self, doing: str) -> bool:
        """True when it is fine to drop the current document (asks about unexported edits)."""
        if self.doc is None or not self.doc.modified:
            return True
        box = QMessageBox(self)
        box.setIcon(QMessageBox.Warning)
        box.setWindowTitle("Unexported edits")
        box.setText(f"{self.doc.name} has edits that were not exported.")
        box.setInformativeText(f"Export them before you {doing}?")
        export_button = box.addButton("Export…", QMessageBox.AcceptRole)
        discard_button = box.addButton("Discard Edits", QMessageBox.DestructiveRole)
        box.addButton(QMessageBox.Cancel)
        box.setDefaultButton(export_button)
        box.exec()
        clicked = box.clickedButton()
        if clicked is export_button:
            return self.export(ask=self.doc.export_path is None)
        return clicked is discard_button

    def open_settings(self) -> None:
        from app.gui.settings_dialog import SettingsDialog

        before = (self.settings.model_spec(), self.settings.device_spec(), self.settings.theme)
        dialog = SettingsDialog(self.settings, self)
        if dialog.exec():
            self.apply_settings(before)

    def apply_settings(self, before: tuple | None = None) -> None:
        """Bring the window in line with the (changed) settings."""
        model = (self.settings.model_spec(), self.settings.device_spec())
        if before is None or before[:2] != model:
            self.recognizers.clear()
        if before is None or before[2] != self.settings.theme:
            apply_theme(QApplication.instance(), self.settings.theme)
            self.page_view.setBackgroundBrush(self.palette().dark())
        threshold = self.settings.threshold
        self.model.set_threshold(threshold)
        self.page_view.set_threshold(threshold)
        self.legend.setText(self._legend_html())
        self._update_table_info()

    def open_batch_dialog(self, folder: str | Path | None = None) -> None:
        from app.gui.batch_dialog import BatchDialog

        factory = self.recognizers.factory
        dialog = BatchDialog(self.settings, self, folder=folder,
                             recognizer_factory=None if factory is _default_recognizer_factory
                             else factory)
        dialog.show()
        self._batch_dialog = dialog

    def show_about(self) -> None:
        QMessageBox.about(self, "About tablescribe",
                          "<h3>tablescribe</h3><p>Turns scanned tables into spreadsheets, "
                          "offline. Tables are found with OpenCV; text is read by a TrOCR "
                          "model running on tablescribe's own tensor engine.</p>")

    # ======================================================================================
    # closing
    # ======================================================================================
    def closeEvent(self, event: QCloseEvent) -> None:
        if not self.confirm_discard("close the window"):
            event.ignore()
            return
        self._closing = True
        self.cancel_work()
        self.settings.save_window_state(self.saveGeometry(), self.saveState())
        self.settings.splitter_state = self.splitter.saveState()
        self.settings.sync()
        # A cancelled job stops at its next check; wait for it so no thread outlives us.
        self.pool.waitForDone(30000)
        event.accept()

