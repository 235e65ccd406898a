"""Export from the window: the tables of the open document to .xlsx, .csv, .json, .html
or .md with the CLI's exporter, and the "unexported edits" question before they could
be lost."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QObject, Qt
from PySide6.QtWidgets import QApplication, QFileDialog, QMainWindow, QMessageBox

EXPORT_FILTERS = {"xlsx": "Excel workbook (*.xlsx)", "csv": "CSV, one file per table (*.csv)",
                  "json": "JSON for programs (*.json)", "html": "HTML tables (*.html)",
                  "md": "Markdown (*.md)"}


class Exporter(QObject):
    def __init__(self, window: QMainWindow) -> None:
        # ``window`` is the app.gui.main_window.MainWindow composing this part: its
        # widgets, settings, signals and the other parts (not imported: no cycle).
        super().__init__(window)
        self.w = window

    def default_path(self) -> Path:
        doc = self.w.doc
        if doc.export_path is not None:
            return doc.export_path
        return doc.path.with_suffix("." + self.w.settings.export_format)

    def export(self, ask: bool = False) -> bool:
        doc = self.w.doc
        if doc is None:
            return False
        path = doc.export_path
        if ask or path is None:
            default = self.default_path()
            from table.export import format_for_path

            first = format_for_path(default, "xlsx")
            filters = [EXPORT_FILTERS[first]] + [v for k, v in EXPORT_FILTERS.items() if k != first]
            chosen, selected = QFileDialog.getSaveFileName(self.w, "Export tables", str(default),
                                                           ";;".join(filters), filters[0])
            if not chosen:
                return False
            path = Path(chosen)
            if format_for_path(path, "") == "":
                fmt = next((k for k, v in EXPORT_FILTERS.items() if v == selected), "xlsx")
                path = path.with_name(f"{path.name}.{fmt}")
        return self.export_to(path)

    def export_to(self, path: str | Path) -> bool:
        """Write every table of the document to ``path`` (format from its extension) with the
        CLI's exporter."""
        from table.export import ExportError, format_for_path, write_tables

        w = self.w
        doc = w.doc
        path = Path(path)
        if doc is None:
            return False
        tables = doc.tables()
        if not tables:
            w.show_message("warning", f"Nothing to export: no table was found in {doc.name} "
                                      "yet (convert it first).")
            return False
        fmt = format_for_path(path, w.settings.export_format)
        QApplication.setOverrideCursor(Qt.WaitCursor)
        try:
            written = write_tables(tables, path, fmt, w.settings.export_options(),
                                   inputs=[doc.path])
        except ExportError as exc:
            w.show_message("error", f"Could not export to {exc.path}: {exc.problem}.")
            return False
        except (OSError, ValueError) as exc:  # e.g. a name the file system refuses
            reason = getattr(exc, "strerror", None) or str(exc)
            w.show_message("error", f"Could not export to {path}: {reason}.")
            return False
        finally:
            QApplication.restoreOverrideCursor()
        doc.export_path = path
        doc.undo_stack.setClean()
        w.settings.export_format = fmt
        names = ", ".join(p.name for p in written)
        w.statusBar().showMessage(f"Exported {len(tables)} table{'s' if len(tables) > 1 else ''}"
                                  f" to {names} in {path.parent}", 10000)
        w.show_message("info", f"Exported to {written[0]}"
                               + (f" and {len(written) - 1} more files"
                                  if len(written) > 1 else ""))
        return True

    def confirm_discard(self, doing: str) -> bool:
        """True when it is fine to drop the current document (asks about unexported edits)."""
        doc = self.w.doc
        if doc is None or not doc.modified:
            return True
        box = QMessageBox(self.w)
        box.setIcon(QMessageBox.Warning)
        box.setWindowTitle("Unexported edits")
        box.setText(f"{doc.name} has edits that were not exported.")
        box.setInformativeText(f"Export them before you {doing}?")
        export_button = box.addButton("Export…", QMessageBox.AcceptRole)
        discard_button = box.addButton("Discard Edits", QMessageBox.DestructiveRole)
        box.addButton(QMessageBox.Cancel)
        box.setDefaultButton(export_button)
        box.exec()
        clicked = box.clickedButton()
        if clicked is export_button:
            return self.export(ask=doc.export_path is None)
        return clicked is discard_button
