"""The conversion controller: converts the open document's pages in a job, page by
page, and reports how it went (the tables found, pages that failed, cancel)."""

from __future__ import annotations

from PySide6.QtCore import QObject
from PySide6.QtWidgets import QMainWindow

from app.gui.commands import PageGeometryCommand
from app.gui.jobs import LOADING
from app.gui.pages import name_file
from app.gui.worker import Job, JobContext
from table.model import PageResult
from table.prepare import PageCorrection


class ConversionController(QObject):
    def __init__(self, window: QMainWindow) -> None:
        # ``window`` is the app.gui.main_window.MainWindow composing this part: its
        # widgets, settings, signals and the other parts (not imported: no cycle).
        super().__init__(window)
        self.w = window
        self.converting: set[int] = set()  # pages queued or being converted
        # None follows the "convert on open" setting; --screenshot forces its own order.
        self.auto_convert: bool | None = None
        # Cancel is checked between recogniser batches: smaller batches answer sooner.
        self.batch_size = 32

    def convert(self, pages: list[int] | None = None) -> bool:
        """Convert ``pages`` (default: those not converted yet, or all when all are)."""
        w = self.w
        doc = w.doc
        if doc is None or w.jobs.running("convert"):
            return False
        if pages is None:
            pages = [i for i in range(len(doc.pages)) if i not in doc.results] \
                or list(range(len(doc.pages)))
        redo = [p for p in pages if p in doc.results]
        if redo:
            if doc.modified and not w.ask_yes_no(
                    "Convert again?", "Converting again replaces the tables and your edits "
                    f"on {'this page' if len(redo) == 1 else f'{len(redo)} pages'}. Continue?"):
                return False
            doc.undo_stack.clear()  # its commands refer to the tables being replaced
            doc.drop_results(redo)
        return self._start(pages, dict(doc.corrections), self._on_page_converted)

    def convert_corrected(self, page: int, correction: PageCorrection, label: str) -> bool:
        """Convert ``page`` again as squared up or turned by ``correction``; the change
        is one undoable step (the page's earlier correction and tables come back)."""
        w = self.w
        doc = w.doc
        if doc is None or w.jobs.running("convert"):
            return False
        before = (doc.corrections.get(page), doc.results.get(page))

        def converted(value: tuple[int, PageResult]) -> None:
            index, result = value
            self.converting.discard(index)
            doc.undo_stack.push(PageGeometryCommand(doc, index, label, before,
                                                    (correction, result)))

        return self._start([page], {page: correction}, converted)

    def _start(self, pages: list[int], corrections: dict[int, PageCorrection],
               on_page) -> bool:
        w = self.w
        doc = w.doc
        model, device = w.settings.model_spec(), w.settings.device_spec()
        recognizers = w.recognizers
        dpi, batch_size = w.settings.pdf_dpi, self.batch_size
        source_pages = [doc.pages[i] for i in pages]
        n = len(pages)

        def convert(ctx: JobContext):
            from app.pipeline import Pipeline

            recognizer = recognizers.get(model, device,
                                         on_load=lambda: ctx.progress(0, 0, LOADING))
            pipeline = Pipeline(recognizer, dpi=dpi, batch_size=batch_size)
            failures = []
            for index, page in zip(pages, source_pages, strict=True):
                ctx.check_cancel()
                where = f"Page {index + 1} of {len(doc.pages)}: " if len(doc.pages) > 1 else ""
                ctx.progress(0, 0, f"{where}finding the table…")

                def report(done: int, total: int, where=where) -> None:
                    ctx.progress(done, total, f"{where}reading cells")

                try:
                    result = pipeline.convert_page(page, progress=report, cancel=ctx.cancel,
                                                   correction=corrections.get(index))
                except Exception as exc:
                    from app.gui.worker import is_cancellation

                    if is_cancellation(exc) or n == 1:
                        raise
                    failures.append((index, str(exc)))
                    continue
                ctx.partial((index, result))
            return failures

        self.converting = set(pages)
        w.jobs.start("convert", Job(f"convert {doc.path}", convert),
                     alive=w.document_alive(doc),
                     on_partial=on_page,
                     on_finished=self._on_finished,
                     on_failed=self._on_failed,
                     on_cancelled=self._on_cancelled,
                     on_retired=lambda: self.converting.clear())
        if w.pages.current_page in self.converting:
            w.pages.show_page(keep_view=True)
        return True

    def _on_page_converted(self, value: tuple[int, PageResult]) -> None:
        index, result = value
        self.converting.discard(index)
        self.w.doc.set_result(index, result)

    def summary(self) -> str:
        tables = self.w.doc.tables()
        cells = sum(len(t.cells) for t in tables)
        unsure = sum(1 for t in tables for c in t.cells
                     if c.text and c.confidence < self.w.settings.threshold)
        text = f"{len(tables)} table{'s' if len(tables) != 1 else ''}, {cells} cells"
        if unsure:
            text += f", {unsure} to check (F8 jumps to the next)"
        return text + _read_from_note(self.w.doc.results)

    def _on_finished(self, failures: list[tuple[int, str]]) -> None:
        w = self.w
        doc = w.doc
        empty = [p for p, r in sorted(doc.results.items()) if not r.tables]
        if failures:
            lines = "; ".join(f"page {p + 1}: {why}" for p, why in failures)
            w.show_message("error", f"Some pages of {doc.name} could not be converted — {lines}")
        elif not doc.tables():
            where = "" if len(doc.pages) == 1 else " on any page"
            w.show_message("warning", f"No table found in {doc.name}{where}. tablescribe looks "
                                      "for ruled tables; check that the scan shows the grid "
                                      "lines, or raise the PDF resolution in Settings.")
        elif empty:
            pages = ", ".join(str(p + 1) for p in empty)
            w.show_message("warning", f"No table found on page{'s' if len(empty) > 1 else ''} "
                                      f"{pages} of {doc.name}.")
        w.statusBar().showMessage(f"Converted {doc.name}: {self.summary()}", 10000)
        w.pages.show_page(keep_view=True)
        w.conversionFinished.emit()

    def _on_failed(self, reason: str) -> None:
        w = self.w
        w.show_message("error", name_file(w.doc.path, reason, "Could not convert"))
        w.pages.show_page(keep_view=True)
        w.conversionFailed.emit(reason)

    def _on_cancelled(self) -> None:
        w = self.w
        done = len(w.doc.results)
        w.statusBar().showMessage(
            "Conversion cancelled"
            + (f"; {done} page{'s' if done > 1 else ''} kept" if done else ""), 8000)
        w.pages.show_page(keep_view=True)
        w.conversionCancelled.emit()


def _read_from_note(results: dict[int, PageResult]) -> str:
    """Which pages took their text from the PDF itself and which were read by OCR."""
    digital = sorted(p + 1 for p, r in results.items() if r.read_from == "text-layer")
    if not digital:
        return ""
    if len(digital) == len(results):
        return " — text from the PDF's text layer (exact, no OCR)"
    scanned = sorted(p + 1 for p, r in results.items() if r.read_from != "text-layer")
    return (f" — text layer on page{'s' if len(digital) > 1 else ''} {', '.join(map(str, digital))}, "
            f"OCR on page{'s' if len(scanned) > 1 else ''} {', '.join(map(str, scanned))}")
