"""Grid editing in the window: typed corrections, copy and clear, undo and redo, and
the structure fixes (merge, split, insert and delete rows or columns) whose changed
cells are read again in a job before the change lands on the undo stack."""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QObject
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import QMainWindow

from app.gui.commands import EditCellCommand, StructureCommand
from app.gui.grid_ops import (
    GridEditError,
    cell_name,
    column_name,
    delete_lines,
    insert_line,
    merge_cells,
    split_cells,
)
from app.gui.jobs import LOADING
from app.gui.worker import Job, JobContext
from table.model import Cell, Table


class GridEditor(QObject):
    def __init__(self, window: QMainWindow) -> None:
        # ``window`` is the app.gui.main_window.MainWindow composing this part: its
        # widgets, settings, signals and the other parts (not imported: no cycle).
        super().__init__(window)
        self.w = window

    def editable(self) -> bool:
        """Cells of the page on screen may change: not being converted or re-read."""
        w = self.w
        return (w.pages.table() is not None and not w.jobs.running("reread")
                and w.pages.current_page not in w.conversion.converting)

    def undo(self) -> None:
        w = self.w
        if w.doc is not None and not w.busy:
            w.result_view.closePersistentEditor(w.result_view.currentIndex())
            w.doc.undo_stack.undo()

    def redo(self) -> None:
        if self.w.doc is not None and not self.w.busy:
            self.w.doc.undo_stack.redo()

    def edit_cell(self, row: int, col: int, text: str) -> bool:
        """Set a cell's text as if typed in the table view (undoable)."""
        model = self.w.model
        return model.setData(model.index(row, col), text)

    def copy_selection(self) -> None:
        rng = self.w.pages.selection_range()
        table = self.w.pages.table()
        if rng is None or table is None:
            return
        grid = table.as_grid()
        rows = ["\t".join(grid[r][rng.left:rng.right + 1]).replace("\n", " ")
                for r in range(rng.top, rng.bottom + 1)]
        QGuiApplication.clipboard().setText("\n".join(rows))

    def clear_selection(self) -> None:
        pages = self.w.pages
        table, cells = pages.table(), [c for c in pages.selected_cells() if c.text]
        if not self.editable() or table is None or not cells:
            return
        doc = self.w.doc
        stack = doc.undo_stack
        stack.beginMacro(f"Clear {len(cells)} cell{'s' if len(cells) > 1 else ''}")
        for cell in cells:
            stack.push(EditCellCommand(doc, table, cell.row, cell.col, ""))
        stack.endMacro()

    # -- structure fixes --------------------------------------------------------------------
    def merge_selection(self) -> None:
        rng = self.w.pages.selection_range()
        if rng is not None:
            self._structure_edit(lambda t: merge_cells(t, rng),
                                 f"Merge {cell_name(rng.top, rng.left)}:"
                                 f"{cell_name(rng.bottom, rng.right)}", (rng.top, rng.left))

    def split_selection(self) -> None:
        merged = [c for c in self.w.pages.selected_cells() if c.is_merged]
        if not merged:
            return

        first = merged[0]
        positions = [(c.row, c.col) for c in merged]
        self._structure_edit(lambda t: split_cells(t, positions),
                             f"Split {cell_name(first.row, first.col)}"
                             + (f" and {len(merged) - 1} more" if len(merged) > 1 else ""),
                             (first.row, first.col))

    def insert_line(self, axis: int) -> None:
        w = self.w
        rng = w.pages.selection_range()
        if rng is None or w.doc is None:
            return
        index = rng.top if axis == 0 else rng.left
        image = w.doc.image_of(w.pages.current_page)
        label = f"Split row {index + 1}" if axis == 0 else f"Split column {column_name(index)}"
        self._structure_edit(lambda t: insert_line(t, axis, index, image), label,
                             (index + 1, rng.left) if axis == 0 else (rng.top, index + 1))

    def delete_lines(self, axis: int) -> None:
        rng = self.w.pages.selection_range()
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
        w = self.w
        table, doc = w.pages.table(), w.doc
        if table is None or doc is None or not self.editable() or w.busy:
            return
        try:
            new_table, affected = edit(table)
        except GridEditError as exc:
            w.show_message("warning", f"Cannot {label[0].lower()}{label[1:]}: {exc}.")
            return
        if not affected:
            doc.undo_stack.push(StructureCommand(doc, table, new_table, label, focus))
            w.rereadFinished.emit()
            return
        result = doc.results[w.pages.current_page]
        model, device = w.settings.model_spec(), w.settings.device_spec()
        recognizers, dpi = w.recognizers, w.settings.pdf_dpi
        n = len(affected)

        def reread(ctx: JobContext):
            from app.pipeline import Pipeline

            recognizer = recognizers.get(model, device,
                                         on_load=lambda: ctx.progress(0, 0, LOADING))
            ctx.progress(0, n, f"Reading {n} changed cell{'s' if n > 1 else ''}…")
            Pipeline(recognizer, dpi=dpi).reread_cells(result, affected, cancel=ctx.cancel)
            ctx.progress(n, n, "")
            return new_table

        def finished(updated: Table) -> None:
            doc.undo_stack.push(StructureCommand(doc, table, updated, label, focus))
            w.statusBar().showMessage(
                f"{label}: {n} cell{'s' if n > 1 else ''} read again", 5000)
            w.rereadFinished.emit()

        def failed(reason: str) -> None:
            w.show_message("error", f"{label} was not applied: the changed cells could not be "
                                    f"read again ({reason}).")
            w.rereadFinished.emit()

        w.jobs.start("reread", Job(label, reread), alive=w.document_alive(doc),
                     on_finished=finished, on_failed=failed,
                     on_cancelled=lambda: (w.statusBar().showMessage(
                         f"{label} cancelled", 5000), w.rereadFinished.emit()))

    # -- corrections, recorded to learn from -------------------------------------------------
    def on_cell_typed(self, table: Table, row: int, col: int, before: str, text: str) -> int:
        """Record what a person typed over the recogniser's reading, one crop per text
        line as the recogniser saw it (app.corrections); returns how many were recorded.
        Lines that cannot be paired with the cell's crops are not recorded."""
        w = self.w
        if not w.settings.record_corrections or w.doc is None or not text.strip():
            return 0
        try:
            page = w.doc.page_of(table)
        except KeyError:
            return 0
        cell = table.cell_at(row, col)
        result = w.doc.results.get(page)
        if cell is None or result is None or result.image is None:
            return 0
        from table.cells import page_line_crops

        context = [c for t in result.tables for c in t.cells]
        crops = page_line_crops(result.image, [cell], context)[0]
        lines, read = text.split("\n"), before.split("\n")
        if not crops or len(crops) != len(lines):
            return 0
        pairs = [(crop, line.strip(), read[i] if len(read) == len(lines) else None)
                 for i, (crop, line) in enumerate(zip(crops, lines)) if line.strip()]
        pairs = [p for p in pairs if p[1] != p[2]]  # a line typed as it was read teaches nothing
        try:
            for crop, line, was in pairs:
                w.learning.store.add(crop, line, model=w.learning.model_id(), read=was)
        except OSError as exc:
            w.statusBar().showMessage(f"Correction not recorded: {exc}", 8000)
            return 0
        return len(pairs)

    # -- the document told us something changed ---------------------------------------------
    def _locate(self, table: Table) -> tuple[int, int] | None:
        doc = self.w.doc
        try:
            page = doc.page_of(table)
        except KeyError:
            return None
        index = next(i for i, t in enumerate(doc.results[page].tables) if t is table)
        return page, index

    def on_cell_changed(self, table: Table, row: int, col: int) -> None:
        pages = self.w.pages
        where = self._locate(table)
        if where is None:
            return
        if where != (pages.current_page, pages.current_table):
            pages.reveal(where[0], where[1], row, col)  # undo of an edit made elsewhere
        self.w.page_view.refresh_cell(pages.current_table, row, col)
        pages.update_table_info()
        pages.select_cell(row, col)

    def on_structure_changed(self, table: Table, row: int, col: int) -> None:
        pages = self.w.pages
        where = self._locate(table)
        if where is None:
            return
        if where[0] != pages.current_page:
            pages.goto_page(where[0])
        if where[1] != pages.current_table:
            pages.on_table_picked(where[1])
        self.w.page_view.set_tables(pages.page_tables(), pages.current_table)
        pages.fill_table_picker()
        pages.update_table_info()
        pages.select_cell(min(row, table.n_rows - 1), min(col, table.n_cols - 1))
