"""The document and its pages in the window: opening a scan (dialog, recent files, drag
and drop), closing it, which page and table are on screen, and the selection that the
table view and the page view share."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image
from PySide6.QtCore import QItemSelection, QItemSelectionModel, QObject, Qt, QTimer
from PySide6.QtWidgets import QFileDialog, QMainWindow

from app.gui.document import Document
from app.gui.grid_ops import CellRange, cell_name
from app.gui.worker import Job, JobContext
from app.inputs import SCAN_TYPES
from table.model import Cell, PageResult, Table

_IMAGES = " ".join(f"*{ext}" for kind, exts in SCAN_TYPES.items() if kind != "PDF" for ext in exts)
OPEN_FILTER = f"Scans ({_IMAGES} *.pdf);;PDF documents (*.pdf);;Images ({_IMAGES});;All files (*)"
THUMBNAIL_SIZE = (96, 128)


def _thumbnail(image: np.ndarray) -> np.ndarray:
    thumb = Image.fromarray(image)
    thumb.thumbnail(THUMBNAIL_SIZE, Image.Resampling.BILINEAR)
    return np.asarray(thumb.convert("RGB"))


def page_status(result: PageResult | None) -> str:
    if result is None:
        return ""
    if not result.tables:
        return "no table"
    n = len(result.tables)
    return f"✓ {n} table" + ("s" if n > 1 else "")


def name_file(path: Path, reason: str, verb: str) -> str:
    """Our modules' errors read "<path>: <problem>"; say "<verb> <name>: <problem>"."""
    prefix = f"{path}: "
    reason = reason.removeprefix(prefix)
    return f"{verb} {path.name}: {reason}"


def dropped_paths(event) -> list[Path]:
    mime = event.mimeData()
    if not mime.hasUrls():
        return []
    return [Path(url.toLocalFile()) for url in mime.urls() if url.isLocalFile()]


class DocumentPages(QObject):
    """Owns the open Document and what of it is on screen; drives the page list, the
    page view, the table picker and the table view's model."""

    def __init__(self, window: QMainWindow) -> None:
        # ``window`` is the app.gui.main_window.MainWindow composing this part: its
        # widgets, settings, signals and the other parts (not imported: no cycle).
        super().__init__(window)
        self.w = window
        self.doc: Document | None = None
        self.current_page = 0
        self.current_table = 0
        self._anchor: tuple[int, int] | None = None  # where a Shift+click range starts

    # -- opening and closing ----------------------------------------------------------------
    def open_dialog(self) -> None:
        w = self.w
        start = w.settings.last_dir or str(Path.home())
        path, _ = QFileDialog.getOpenFileName(w, "Open a scan", start, OPEN_FILTER)
        if path:
            self.open_file(path)

    def open_file(self, path: str | Path) -> bool:
        """Start loading ``path``; False when it was refused before any work began."""
        w = self.w
        path = Path(path)
        if not w.exporter.confirm_discard("open another file"):
            return False
        if not path.exists():
            w.settings.remove_recent(path)
            self.refresh_recent()
            w.show_message("error", f"Cannot open {path}: the file does not exist.")
            return False
        if path.is_dir():
            w.show_message("warning", f"{path.name} is a folder. Use File ▸ Batch Convert "
                                      "Folder to convert every scan in it.")
            return False
        w.cancel_work()
        dpi = w.settings.pdf_dpi

        def load(ctx: JobContext):
            from table.pages import load_pages

            ctx.progress(0, 0, f"Opening {path.name}…")
            pages = load_pages(path, dpi=dpi)
            if not pages:
                raise ValueError(f"{path}: the file holds no pages")
            return pages, [_thumbnail(p.image) for p in pages]

        def failed(reason: str) -> None:
            w.show_message("error", name_file(path, reason, "Could not open"))

        w.jobs.start("load", Job(f"open {path}", load),
                     on_finished=lambda res: self._document_loaded(path, *res),
                     on_failed=failed)
        return True

    def _document_loaded(self, path: Path, pages: list, thumbnails: list[np.ndarray]) -> None:
        w = self.w
        self.set_document(Document(path, pages, w))
        w.page_list.set_pages(thumbnails)
        w.page_dock.setVisible(len(pages) > 1)
        w.settings.add_recent(path)
        w.settings.last_dir = str(path.parent)
        self.refresh_recent()
        w.banner.dismiss()
        w.statusBar().showMessage(
            f"Opened {path.name}" + (f" ({len(pages)} pages)" if len(pages) > 1 else ""), 5000)
        self.goto_page(0)
        w.documentOpened.emit(str(path))
        auto = w.conversion.auto_convert
        if w.settings.convert_on_open if auto is None else auto:
            w.conversion.convert()

    def set_document(self, doc: Document | None) -> None:
        w = self.w
        old = self.doc
        self.doc = doc
        self.current_page, self.current_table = 0, 0
        w.model.set_document(doc)
        if old is not None:
            old.deleteLater()
        if doc is not None:
            doc.cellChanged.connect(w.grid.on_cell_changed)
            doc.structureChanged.connect(w.grid.on_structure_changed)
            doc.resultChanged.connect(self._on_result_changed)
            doc.undo_stack.cleanChanged.connect(w.update_title)
            doc.undo_stack.indexChanged.connect(w.update_actions)
            w.workspace.setCurrentWidget(w.splitter)
        else:
            w.page_list.clear()
            w.page_dock.hide()
            w.page_view.set_page(None, [], w.settings.threshold)
            w.workspace.setCurrentWidget(w.welcome)
            self._show_result_placeholder("")
        w.update_title()
        w.update_actions()

    def close_document(self) -> bool:
        if self.doc is None or not self.w.exporter.confirm_discard("close it"):
            return False
        self.w.cancel_work()
        self.set_document(None)
        return True

    def refresh_recent(self) -> None:
        w = self.w
        w.recent_menu.clear()
        files = w.settings.recent_files
        for path in files:
            act = w.recent_menu.addAction(Path(path).name)
            act.setToolTip(path)
            act.setStatusTip(path)
            act.triggered.connect(lambda _=False, p=path: self.open_file(p))
        if files:
            w.recent_menu.addSeparator()
            w.recent_menu.addAction("Clear List", self._clear_recent)
        w.recent_menu.setEnabled(bool(files))
        w.welcome.set_recent(files)

    def _clear_recent(self) -> None:
        self.w.settings.clear_recent()
        self.refresh_recent()

    def open_dropped(self, paths: list[Path]) -> None:
        """A file opens; a folder goes to the batch dialog."""
        w = self.w
        first = paths[0]
        if first.is_dir():
            QTimer.singleShot(0, lambda: w.open_batch_dialog(first))
            return
        # Opening may ask about unexported edits: do it after the drop has finished.
        QTimer.singleShot(0, lambda: self.open_file(first))
        if len(paths) > 1:
            w.statusBar().showMessage(
                f"Opened the first of {len(paths)} dropped files; Batch Convert handles many.",
                8000)

    # -- pages and tables on screen ---------------------------------------------------------
    def table(self) -> Table | None:
        tables = self.page_tables()
        return tables[self.current_table] if 0 <= self.current_table < len(tables) else None

    def page_tables(self) -> list[Table]:
        if self.doc is None:
            return []
        result = self.doc.results.get(self.current_page)
        return result.tables if result else []

    def goto_page(self, page: int) -> None:
        w = self.w
        if self.doc is None or not 0 <= page < len(self.doc.pages):
            return
        self.current_page = page
        if w.page_list.currentRow() != page:
            w.page_list.blockSignals(True)
            w.page_list.setCurrentRow(page)
            w.page_list.blockSignals(False)
        self.current_table = 0
        self.show_page(keep_view=False)

    def on_page_picked(self, row: int) -> None:
        if row >= 0 and row != self.current_page:
            self.goto_page(row)

    def show_page(self, keep_view: bool) -> None:
        w, doc = self.w, self.doc
        if doc is None:
            return
        tables = self.page_tables()
        self.current_table = min(self.current_table, max(0, len(tables) - 1))
        if w.page_geometry.showing_original:
            # The page as opened: the cell boxes belong to the corrected one, not drawn.
            w.page_view.set_page(doc.pages[self.current_page].image, [], w.settings.threshold,
                                 keep_view=keep_view)
        else:
            w.page_view.set_page(doc.image_of(self.current_page), tables, w.settings.threshold,
                                 active=self.current_table, keep_view=keep_view)
        self.fill_table_picker()
        self._show_table()

    def _on_result_changed(self, page: int) -> None:
        self.w.page_list.set_status(page, page_status(self.doc.results.get(page)))
        if page == self.current_page:
            self.show_page(keep_view=True)
        self.w.update_actions()

    def fill_table_picker(self) -> None:
        picker = self.w.table_picker
        tables = self.page_tables()
        picker.blockSignals(True)
        picker.clear()
        for i, t in enumerate(tables):
            picker.addItem(f"Table {i + 1} — {t.n_rows} × {t.n_cols}")
        picker.setCurrentIndex(self.current_table)
        picker.blockSignals(False)
        picker.setVisible(len(tables) > 1)

    def on_table_picked(self, index: int) -> None:
        if index >= 0 and index != self.current_table:
            self.current_table = index
            self.w.page_view.set_active_table(index)
            self._show_table()

    def _show_table(self) -> None:
        w = self.w
        table = self.table()
        self._anchor = None
        w.model.set_table(table)
        if table is None:
            self._show_result_placeholder(self._placeholder_text())
        else:
            w.result_stack.setCurrentWidget(w.result_view)
            self.update_table_info()
        w.page_view.set_selection(self.current_table, [])
        self.on_table_selection()
        w.update_actions()

    def _placeholder_text(self) -> str:
        if self.doc is None:
            return ""
        page = self.current_page
        if page in self.w.conversion.converting:
            return "Converting this page…"
        result = self.doc.results.get(page)
        if result is None:
            return "This page is not converted yet.\nPress Convert (F5) to find its table."
        return ("No table was found on this page.\nA table needs visible ruling lines; "
                "try a sharper scan or a higher PDF resolution in Settings.")

    def _show_result_placeholder(self, text: str) -> None:
        w = self.w
        w.result_placeholder.setText(text)
        w.result_stack.setCurrentWidget(w.result_placeholder)
        w.table_info.setText("")
        w.table_picker.setVisible(False)

    def update_table_info(self) -> None:
        w = self.w
        table = self.table()
        if table is None:
            w.table_info.setText("")
            return
        threshold = w.settings.threshold
        unsure = sum(1 for c in table.cells if c.text and c.confidence < threshold)
        text = f"{table.n_rows} rows × {table.n_cols} columns"
        if unsure:
            text += f" · {unsure} cell{'s' if unsure > 1 else ''} to check (F8)"
        w.table_info.setText(text)

    # -- selection in both views ------------------------------------------------------------
    def selection_range(self) -> CellRange | None:
        """Bounding range of the table view's selection, or of its current cell."""
        cells = self.selected_cells()
        if not cells:
            current = self.w.result_view.currentIndex()
            cell = self.w.model.cell(current.row(), current.column()) if current.isValid() \
                else None
            if cell is None:
                return None
            cells = [cell]
        return CellRange(min(c.row for c in cells), min(c.col for c in cells),
                         max(c.row + c.rowspan - 1 for c in cells),
                         max(c.col + c.colspan - 1 for c in cells))

    def selected_cells(self) -> list[Cell]:
        """The distinct cells under the selection (a merged cell once)."""
        if self.table() is None:
            return []
        seen: dict[int, Cell] = {}
        for index in self.w.result_view.selectionModel().selectedIndexes():
            cell = self.w.model.cell(index.row(), index.column())
            if cell is not None:
                seen[id(cell)] = cell
        return sorted(seen.values(), key=lambda c: (c.row, c.col))

    def on_table_selection(self, *_args) -> None:
        w = self.w
        cells = self.selected_cells()
        w.page_view.set_selection(self.current_table, cells)
        current = w.result_view.currentIndex()
        cell = w.model.cell(current.row(), current.column()) if current.isValid() else None
        if cell is not None and any(c is cell for c in cells):
            w.page_view.ensure_cell_visible(self.current_table, cell.row, cell.col)
        if cell is not None:
            w.selection_label.setText(
                f"{cell_name(cell.row, cell.col)}"
                + (f":{cell_name(cell.row + cell.rowspan - 1, cell.col + cell.colspan - 1)}"
                   if cell.is_merged else "")
                + (f" · confidence {cell.confidence:.0%}" if cell.text else " · empty"))
        else:
            w.selection_label.setText("")
        w.update_actions()

    def on_page_cell_clicked(self, table_index: int, row: int, col: int, modifiers) -> None:
        if table_index != self.current_table:
            self.current_table = table_index
            self.w.table_picker.setCurrentIndex(table_index)
            self.w.page_view.set_active_table(table_index)
            self._show_table()
        self.select_cell(row, col, modifiers)

    def select_cell(self, row: int, col: int, modifiers=Qt.NoModifier) -> None:
        """Select a grid position in the table view (which then marks it on the page).

        Ctrl adds or removes the cell, Shift selects the rectangle from the last plain
        click, as in a spreadsheet.
        """
        w = self.w
        index = w.model.index(row, col)
        if not index.isValid():
            return
        selection = w.result_view.selectionModel()
        anchor = self._anchor
        if modifiers & Qt.ControlModifier:
            selection.setCurrentIndex(index, QItemSelectionModel.Toggle)
            self._anchor = (row, col)
        elif modifiers & Qt.ShiftModifier and anchor is not None:
            corner = w.model.index(*anchor)
            selection.select(QItemSelection(corner, index), QItemSelectionModel.ClearAndSelect)
            selection.setCurrentIndex(index, QItemSelectionModel.NoUpdate)
        else:
            selection.setCurrentIndex(index, QItemSelectionModel.ClearAndSelect)
            self._anchor = (row, col)
        w.result_view.reveal(index)

    def select_range(self, rng: CellRange) -> None:
        w = self.w
        selection = w.result_view.selectionModel()
        top_left = w.model.index(rng.top, rng.left)
        selection.setCurrentIndex(top_left, QItemSelectionModel.ClearAndSelect)
        selection.select(QItemSelection(top_left, w.model.index(rng.bottom, rng.right)),
                         QItemSelectionModel.Select)
        w.result_view.reveal(top_left)

    def goto_unsure(self, direction: int) -> None:
        """Jump to the next (or previous) low-confidence cell, across tables and pages."""
        if self.doc is None:
            return
        threshold = self.w.settings.threshold
        order: list[tuple[int, int, Cell]] = []
        for page in sorted(self.doc.results):
            for t_index, table in enumerate(self.doc.results[page].tables):
                for cell in sorted(table.cells, key=lambda c: (c.row, c.col)):
                    if cell.text and cell.confidence < threshold:
                        order.append((page, t_index, cell))
        if not order:
            self.w.statusBar().showMessage("No cell below the review threshold.", 5000)
            return
        current = self.w.result_view.currentIndex()
        here = (self.current_page, self.current_table,
                current.row() if current.isValid() else -1,
                current.column() if current.isValid() else -1)
        keys = [(p, t, c.row, c.col) for p, t, c in order]
        if direction > 0:
            target = next((k for k in keys if k > here), keys[0])
        else:
            target = next((k for k in reversed(keys) if k < here), keys[-1])
        self.reveal(target[0], target[1], target[2], target[3])

    def reveal(self, page: int, table_index: int, row: int, col: int) -> None:
        if page != self.current_page:
            self.goto_page(page)
        if table_index != self.current_table:
            self.on_table_picked(table_index)
            picker = self.w.table_picker
            picker.blockSignals(True)
            picker.setCurrentIndex(table_index)
            picker.blockSignals(False)
        self.select_cell(row, col)
