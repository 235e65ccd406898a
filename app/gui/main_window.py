"""The tablescribe main window: open a scan, convert it, review and correct the cells,
fix the grid, export.

The window builds the widgets, actions and menus and composes the parts that do the
work, one job each:

- ``pages``      (app.gui.pages.DocumentPages): the open document, its pages and tables on
  screen, the selection shared by both views, opening files, recent files, drops;
- ``conversion`` (app.gui.conversion.ConversionController): converting pages;
- ``grid``       (app.gui.grid_editing.GridEditor): corrections and structure fixes;
- ``exporter``   (app.gui.exporting.Exporter): export and the unexported-edits question;
- ``jobs``       (app.gui.jobs.JobRunner) and ``recognizers`` (app.recognizers'
  RecognizerCache): the background work and the recogniser it uses.

Slow work (loading pages, loading the model, converting, re-reading cells) runs as Jobs
on a QThreadPool; the window only starts them and applies what they send back, so it
keeps answering while a long PDF converts.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import QSize, Qt, Signal
from PySide6.QtGui import QAction, QCloseEvent, QDragEnterEvent, QDropEvent, QKeySequence
from PySide6.QtWidgets import (
    QApplication,
    QComboBox,
    QDockWidget,
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

from app.gui.conversion import ConversionController
from app.gui.document import Document
from app.gui.exporting import Exporter
from app.gui.grid_editing import GridEditor
from app.gui.grid_ops import CellRange
from app.gui.icon import app_icon
from app.gui.jobs import JobRunner
from app.gui.learning import Learning
from app.gui.page_geometry import PageGeometry
from app.gui.page_view import PageView
from app.gui.pages import DocumentPages, dropped_paths
from app.gui.result_view import ResultTableModel, ResultView
from app.gui.settings import AppSettings
from app.gui.theme import apply_theme, confidence_color
from app.gui.widgets import MessageBanner, PageList, WelcomePanel
from app.recognizers import RecognizerCache, RecognizerFactory, load_recognizer

log = logging.getLogger(__name__)

APP_NAME = "tablescribe"


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
        # The recogniser, loaded on first use and kept: see app.recognizers.
        self.recognizers = RecognizerCache(recognizer_factory or load_recognizer)
        self.jobs = JobRunner(self)
        self.jobs.jobStarted.connect(self._on_job_started)
        self.jobs.jobEnded.connect(self._on_job_ended)
        self.jobs.progress.connect(self._on_progress)
        self.pages = DocumentPages(self)
        self.conversion = ConversionController(self)
        self.grid = GridEditor(self)
        self.exporter = Exporter(self)
        self.learning = Learning(self)
        self.page_geometry = PageGeometry(self)
        self._closing = False

        self.setWindowIcon(app_icon())
        self.setAcceptDrops(True)
        self.resize(1280, 800)
        self._build_views()
        self._build_actions()
        self._build_menus_and_toolbar()
        self._build_status_bar()
        self._restore_window_state()
        self.pages.refresh_recent()
        self.update_title()
        self.update_actions()

    # ======================================================================================
    # what the parts share
    # ======================================================================================
    @property
    def doc(self) -> Document | None:
        return self.pages.doc

    @property
    def current_page(self) -> int:
        return self.pages.current_page

    @property
    def current_table(self) -> int:
        return self.pages.current_table

    @property
    def busy(self) -> bool:
        return self.jobs.busy

    @property
    def batch_size(self) -> int:
        return self.conversion.batch_size

    @batch_size.setter
    def batch_size(self, value: int) -> None:
        self.conversion.batch_size = value

    @property
    def auto_convert(self) -> bool | None:
        return self.conversion.auto_convert

    @auto_convert.setter
    def auto_convert(self, value: bool | None) -> None:
        self.conversion.auto_convert = value

    def document_alive(self, doc: Document) -> Callable[[], bool]:
        """For jobs: results for a document that was closed meanwhile are dropped."""
        return lambda: not self._closing and self.pages.doc is doc

    # ======================================================================================
    # construction
    # ======================================================================================
    def _build_views(self) -> None:
        self.banner = MessageBanner()

        self.page_view = PageView()
        self.page_view.cellClicked.connect(self.pages.on_page_cell_clicked)
        self.page_view.zoomChanged.connect(self._on_zoom_changed)
        self.welcome = WelcomePanel(app_icon())
        self.welcome.openRequested.connect(self.open_dialog)
        self.welcome.recentRequested.connect(self.open_file)

        self.model = ResultTableModel(self)
        self.model.cellTyped.connect(self.grid.on_cell_typed)
        self.model.threshold = self.settings.threshold
        self.result_view = ResultView()
        self.result_view.setModel(self.model)
        self.result_view.selectionModel().selectionChanged.connect(self.pages.on_table_selection)
        self.result_view.selectionModel().currentChanged.connect(self.pages.on_table_selection)
        self.table_picker = QComboBox()
        self.table_picker.currentIndexChanged.connect(self.pages.on_table_picked)
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
        self.page_list.currentRowChanged.connect(self.pages.on_page_picked)
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
                               "Write the tables to a new .xlsx, .csv, .json, .html or .md file")
        self.act_batch = a("&Batch Convert Folder…", self.open_batch_dialog, "Ctrl+B",
                           "Convert every scan in a folder")
        self.act_close = a("&Close File", self.close_document, QKeySequence.Close)
        self.act_quit = a("&Quit", self.close, QKeySequence.Quit)
        self.act_settings = a("Se&ttings…", self.open_settings, QKeySequence.Preferences,
                              "Model, device, review threshold, export options, PDF resolution")
        if self.act_settings.shortcut().isEmpty():
            self.act_settings.setShortcut(QKeySequence("Ctrl+,"))

        self.act_undo = a("&Undo", self.grid.undo, QKeySequence.Undo, "Undo the last edit",
                          S.SP_ArrowBack)
        self.act_redo = a("&Redo", self.grid.redo, [QKeySequence.Redo, "Ctrl+Y"], "Redo",
                          S.SP_ArrowForward)
        self.act_copy = a("&Copy", self.grid.copy_selection, QKeySequence.Copy,
                          "Copy the selected cells as tab-separated text")
        self.act_clear = a("C&lear Cells", self.grid.clear_selection, QKeySequence.Delete,
                           "Empty the selected cells")
        self.act_clear.setShortcutContext(Qt.WidgetWithChildrenShortcut)
        self.removeAction(self.act_clear)
        self.result_view.addAction(self.act_clear)
        self.act_merge = a("&Merge Cells", self.grid.merge_selection, "Ctrl+M",
                           "Merge the selected cells into one and read it again")
        self.act_split = a("&Split Cell", self.grid.split_selection, "Ctrl+Shift+M",
                           "Split the selected merged cells and read the pieces again")
        self.act_insert_row = a("Insert &Row", lambda: self.grid.insert_line(0), "Ctrl+I",
                                "Cut the current row in two where a grid line was missed; "
                                "both halves are read again")
        self.act_insert_col = a("Insert C&olumn", lambda: self.grid.insert_line(1), "Ctrl+Shift+I",
                                "Cut the current column in two where a grid line was missed; "
                                "both halves are read again")
        self.act_delete_row = a("&Delete Row", lambda: self.grid.delete_lines(0), "Ctrl+D",
                                "Delete the selected rows")
        self.act_delete_col = a("Delete Colum&n", lambda: self.grid.delete_lines(1), "Ctrl+Shift+D",
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
        self.act_model_card = a("&Model Card", self.show_model_card,
                                tip="What the recognition model in use is, how it was trained "
                                    "and how well it reads")
        self.act_log_folder = a("Open &Log Folder", self.open_log_folder,
                                tip="The folder of tablescribe's log files, with the details "
                                    "of every failure")
        self.act_about = a("&About tablescribe", self.show_about,
                           tip="Versions of tablescribe, its model and the engine device")
        self.page_geometry_actions = self.page_geometry.build_actions()

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
        page_menu = bar.addMenu("&Page")
        for act in self.page_geometry_actions:
            page_menu.addSeparator() if act is None else page_menu.addAction(act)
        # Right-click on the page: what can be done to the page.
        self.page_view.setContextMenuPolicy(Qt.ActionsContextMenu)
        for act in self.page_geometry_actions:
            if act is not None:
                self.page_view.addAction(act)
        convert_menu = bar.addMenu("&Convert")
        for act in (self.act_convert, self.act_convert_page, self.act_cancel):
            convert_menu.addAction(act)
        self.learning.build_menu(bar)
        self.help_menu = bar.addMenu("&Help")
        self.help_menu.addAction(self.act_model_card)
        self.help_menu.addAction(self.act_log_folder)
        # Items added with add_help_action go above this separator, About stays last.
        self._help_end = self.help_menu.addSeparator()
        self.help_menu.addAction(self.act_about)

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
    # messages, title, enabled actions, progress
    # ======================================================================================
    def show_message(self, level: str, text: str) -> None:
        """Errors and warnings stay in the window until dismissed; notes fade."""
        self.banner.show_message(level, text, timeout_ms=8000 if level == "info" else 0)
        if level == "error":
            log.warning("%s", text)
        self.messageShown.emit(level, text)

    def update_title(self) -> None:
        doc = self.doc
        if doc is None:
            self.setWindowTitle(APP_NAME)
            self.setWindowModified(False)
            return
        self.setWindowTitle(f"{doc.name}[*] — {APP_NAME}")
        self.setWindowFilePath(str(doc.path))
        self.setWindowModified(doc.modified)

    def update_actions(self) -> None:
        doc, pages, jobs = self.doc, self.pages, self.jobs
        has_doc = doc is not None
        has_tables = bool(doc and doc.tables())
        editable = self.grid.editable()
        structure_ok = editable and not self.busy
        rng = pages.selection_range()
        table = pages.table()
        self.act_export.setEnabled(has_tables)
        self.act_export_as.setEnabled(has_tables)
        self.act_close.setEnabled(has_doc)
        self.act_convert.setEnabled(has_doc and not jobs.running("convert"))
        self.act_convert_page.setEnabled(has_doc and not jobs.running("convert"))
        self.act_cancel.setEnabled(self.busy)
        self.act_undo.setEnabled(has_doc and doc.undo_stack.canUndo() and not self.busy)
        self.act_redo.setEnabled(has_doc and doc.undo_stack.canRedo() and not self.busy)
        if has_doc:
            # What would be undone goes in the tip: a changing label makes the toolbar jump.
            self.act_undo.setToolTip(f"Undo {doc.undo_stack.undoText()}".rstrip())
            self.act_redo.setToolTip(f"Redo {doc.undo_stack.redoText()}".rstrip())
            self.act_undo.setStatusTip(self.act_undo.toolTip())
            self.act_redo.setStatusTip(self.act_redo.toolTip())
        self.act_copy.setEnabled(rng is not None)
        self.act_clear.setEnabled(editable and rng is not None)
        selected = pages.selected_cells()
        self.act_merge.setEnabled(structure_ok and len(selected) > 1)
        self.act_split.setEnabled(structure_ok and any(c.is_merged for c in selected))
        self.act_insert_row.setEnabled(structure_ok and rng is not None)
        self.act_insert_col.setEnabled(structure_ok and rng is not None)
        self.act_delete_row.setEnabled(structure_ok and rng is not None and table.n_rows > rng.rows)
        self.act_delete_col.setEnabled(structure_ok and rng is not None and table.n_cols > rng.cols)
        self.act_next_unsure.setEnabled(has_tables)
        self.act_prev_unsure.setEnabled(has_tables)
        n_pages = len(doc.pages) if has_doc else 0
        self.act_prev_page.setEnabled(pages.current_page > 0)
        self.act_next_page.setEnabled(pages.current_page < n_pages - 1)
        for act in (self.act_zoom_in, self.act_zoom_out, self.act_fit, self.act_fit_width,
                    self.act_actual):
            act.setEnabled(has_doc)
        self.page_geometry.update_actions()
        self.model.set_read_only(not editable)

    def _show_progress(self, visible: bool) -> None:
        for widget in (self.progress_label, self.progress, self.cancel_button):
            widget.setVisible(visible)

    def _on_job_started(self) -> None:
        self._show_progress(True)
        self.progress.setRange(0, 0)
        self.progress_label.setText("")
        self.update_actions()
        self.busyChanged.emit(True)

    def _on_job_ended(self) -> None:
        if not self.jobs.busy:
            self._show_progress(False)
            self.busyChanged.emit(False)
        self.update_actions()

    def _on_progress(self, done: int, total: int, what: str) -> None:
        if total > 0:
            self.progress.setRange(0, total)
            self.progress.setValue(done)
            self.progress.setFormat("%v / %m cells")
        else:
            self.progress.setRange(0, 0)  # busy indicator while the amount is unknown
        self.progress_label.setText(what)

    def _on_zoom_changed(self, zoom: float) -> None:
        self.zoom_label.setText(f"{zoom:.0%}")

    def cancel_work(self) -> None:
        """Ask every running job to stop; each reports back as cancelled."""
        if self.jobs.cancel_all():
            self.progress_label.setText("Cancelling…")

    def wait_for_jobs(self, timeout_ms: int = 30000) -> bool:
        return self.jobs.wait(timeout_ms)

    # ======================================================================================
    # what the parts do, by the names menus, main.py and tests use
    # ======================================================================================
    def open_dialog(self) -> None:
        self.pages.open_dialog()

    def open_file(self, path: str | Path) -> bool:
        return self.pages.open_file(path)

    def close_document(self) -> bool:
        return self.pages.close_document()

    def goto_page(self, page: int) -> None:
        self.pages.goto_page(page)

    def goto_unsure(self, direction: int) -> None:
        self.pages.goto_unsure(direction)

    def select_cell(self, row: int, col: int, modifiers=Qt.NoModifier) -> None:
        self.pages.select_cell(row, col, modifiers)

    def select_range(self, rng: CellRange) -> None:
        self.pages.select_range(rng)

    def convert(self, pages: list[int] | None = None) -> bool:
        return self.conversion.convert(pages)

    def edit_cell(self, row: int, col: int, text: str) -> bool:
        return self.grid.edit_cell(row, col, text)

    def export(self, ask: bool = False) -> bool:
        return self.exporter.export(ask)

    def export_to(self, path: str | Path) -> bool:
        return self.exporter.export_to(path)

    def confirm_discard(self, doing: str) -> bool:
        return self.exporter.confirm_discard(doing)

    # -- drag and drop ----------------------------------------------------------------------
    def dragEnterEvent(self, event: QDragEnterEvent) -> None:
        if dropped_paths(event):
            event.acceptProposedAction()
        else:
            event.ignore()

    def dragMoveEvent(self, event) -> None:
        if dropped_paths(event):
            event.acceptProposedAction()

    def dropEvent(self, event: QDropEvent) -> None:
        paths = dropped_paths(event)
        if not paths:
            event.ignore()
            return
        event.acceptProposedAction()
        self.pages.open_dropped(paths)

    # ======================================================================================
    # dialogs
    # ======================================================================================
    def ask_yes_no(self, title: str, text: str) -> bool:
        return QMessageBox.question(self, title, text, QMessageBox.Yes | QMessageBox.No,
                                    QMessageBox.No) == QMessageBox.Yes

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
        self.pages.update_table_info()

    def open_batch_dialog(self, folder: str | Path | None = None) -> None:
        from app.gui.batch_dialog import BatchDialog

        factory = self.recognizers.factory
        dialog = BatchDialog(self.settings, self, folder=folder,
                             recognizer_factory=None if factory is load_recognizer else factory)
        dialog.show()
        self._batch_dialog = dialog

    # -- Help -------------------------------------------------------------------------------
    def add_help_action(self, text: str, slot, tip: str = "") -> QAction:
        """Add an item to the Help menu, above About (for features that bring their own)."""
        action = QAction(text, self)
        if tip:
            action.setStatusTip(tip)
            action.setToolTip(tip)
        action.triggered.connect(slot)
        self.help_menu.insertAction(self._help_end, action)
        return action

    def show_about(self) -> QMessageBox:
        from app.gui.help import about_box, gather

        about = gather(self.settings.model_spec(), self.settings.device_spec())
        self._about_box = about_box(self, about)
        self._about_box.open()
        return self._about_box

    def open_log_folder(self, open_url=None) -> None:
        from app.logs import open_log_folder

        try:
            open_log_folder(open_url)
        except OSError as e:
            self.show_message("warning", f"Cannot open the log folder: {e}")

    def show_model_card(self) -> QWidget | None:
        from app.gui.help import ModelCardDialog, gather

        about = gather(self.settings.model_spec(), self.settings.device_spec())
        if about.card is None:
            self.show_message("warning", f"No model card for {about.model}: {about.model_title}.")
            return None
        self._model_card = ModelCardDialog(about, self)
        self._model_card.show()
        return self._model_card

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
        self.jobs.wait(30000)
        event.accept()
