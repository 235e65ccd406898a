"""From a scanned file to recognised tables: the one place where table/ and ocr/ meet.

    pages = load_pages(file)                   table.pages
    prepared = prepare_page(page.image)        table.prepare    (photo, light, turned page)
    structure = find_tables(prepared.image)    table.structure  (grid, spans, deskew)
    crops = page_line_crops(image, cells)      table.cells      (one crop per text line)
    recognizer.recognize(crops)                ocr (or any object with that method)

Every text line of every cell of a file is recognised in batches of ``batch_size``
crops; cells without ink are never sent to the recognizer. A cell read over several
lines gets the lines joined with "\\n" and the lowest line confidence (a cell is as
unsure as its least sure line).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import numpy as np

from app.errors import Cancelled
from table.cells import page_line_crops
from table.model import Cell, PageResult
from table.pages import Page, load_pages
from table.pdf_layer import text_matches_ink
from table.pdf_tables import layer_text, tables_from_layer
from table.prepare import PageCorrection, prepare_page
from table.structure import find_tables

__all__ = [
    "TEXT_LAYER_MODES",
    "FileSummary",
    "Pipeline",
    "Progress",
    "Recognition",
    "Recognizer",
    "no_table_message",
    "pages_without_tables",
    "summarize",
]

Progress = Callable[[int, int], None]  # (done_cells, total_cells)

# auto: a PDF page's own text where it is real and shows tables, else the image path;
# always: the text layer wherever a page has text (an invisible OCR layer included);
# never: every page is read from its pixels.
TEXT_LAYER_MODES = ("auto", "always", "never")


@runtime_checkable
class Recognition(Protocol):
    text: str
    confidence: float  # in [0, 1]


@runtime_checkable
class Recognizer(Protocol):
    def recognize(self, crops: Sequence[Any], beams: int = 1) -> Sequence[Recognition]:
        """Text of each crop (PIL images or uint8 arrays), in order."""
        ...


@dataclass
class _CellWork:
    """A cell with ink: its line crops and, as they arrive, their recognitions."""

    cell: Cell
    crops: list[np.ndarray]
    results: list[Recognition | None]
    pending: int


def _check_cancel(cancel: threading.Event | None) -> None:
    if cancel is not None and cancel.is_set():
        raise Cancelled("cancelled")


class Pipeline:
    """Loads pages, finds their tables and fills every cell with recognised text."""

    def __init__(self, recognizer: Recognizer, *, dpi: float = 300, batch_size: int = 64,
                 beams: int = 1, text_layer: str = "auto") -> None:
        if batch_size < 1:
            raise ValueError("batch_size must be at least 1")
        if text_layer not in TEXT_LAYER_MODES:
            raise ValueError(f"text_layer must be one of {', '.join(TEXT_LAYER_MODES)}, got {text_layer!r}")
        self.text_layer = text_layer
        self.recognizer = recognizer
        self.dpi = dpi
        self.batch_size = batch_size
        self.beams = beams

    # ----------------------------------------------------------------- public

    def convert_file(self, path: str | Path, progress: Progress | None = None,
                     cancel: threading.Event | None = None) -> list[PageResult]:
        """Every page of ``path`` with its tables and their text.

        Raises table.pages.PageLoadError for a file that cannot be read and
        Cancelled when ``cancel`` is set. The structure of all pages is found
        first, so ``progress`` knows the total number of cells from its first call.
        """
        pages = load_pages(path, dpi=self.dpi, text_layer=self.text_layer != "never")
        results = []
        for page in pages:
            _check_cancel(cancel)
            results.append(self._analyse(page))
        self._fill(_cells_of(results), progress, cancel)
        return results

    def convert_page(self, page: Page, progress: Progress | None = None,
                     cancel: threading.Event | None = None,
                     correction: PageCorrection | None = None) -> PageResult:
        """One already loaded page with its tables and their text. ``correction`` (the
        sheet's corners, the turn, as a person set them) overrules what would be
        looked for; such a page is read from its pixels."""
        _check_cancel(cancel)
        result = self._analyse(page, correction)
        self._fill(_cells_of([result]), progress, cancel)
        return result

    def reread_cells(self, page_result: PageResult, cells: Sequence[Cell],
                     progress: Progress | None = None,
                     cancel: threading.Event | None = None) -> None:
        """Crop and recognise ``cells`` again on the page image (after a merge or a
        split in the GUI changed their boxes); their text and confidence are replaced."""
        if page_result.read_from == "text-layer" and page_result.text_layer is not None:
            scale = page_result.width / page_result.text_layer.width  # pixels per point
            for cell in cells:  # exact text again, from the characters in the new box
                cell.text = layer_text(page_result.text_layer, cell.bbox, scale)
                cell.confidence = 1.0
            if progress is not None:
                progress(len(cells), len(cells))
            return
        context = [c for t in page_result.tables for c in t.cells]
        self._fill([(page_result.image, list(cells), context)], progress, cancel)

    # ----------------------------------------------------------------- steps

    def _analyse(self, page: Page, correction: PageCorrection | None = None) -> PageResult:
        if correction is None or correction.is_empty:
            digital = self._from_text_layer(page)
            if digital is not None:
                return digital
        # A photo squared up, uneven light divided out, a turned page righted; the
        # recogniser settles which way up when the shapes of the letters do not.
        prepared = prepare_page(page.image, confidences=self._confidences, correction=correction)
        structure = find_tables(prepared.image, page=page.index)
        height, width = structure.image.shape[:2]
        if page.layer is not None and prepared.image is page.image:
            # A PDF page read from its pixels (and not turned or squared up): boxes in points too.
            for table in structure.tables:
                table.pdf_scale = page.layer.width / page.image.shape[1]
        return PageResult(source=page.source, page=page.index, tables=list(structure.tables),
                          width=width, height=height, image=structure.image,
                          skew_angle=structure.angle, turn=prepared.turn,
                          corners=None if prepared.corners is None else prepared.corners.tolist())

    def _confidences(self, crops: list[np.ndarray]) -> list[float]:
        return [float(r.confidence) for r in self.recognizer.recognize(crops)]

    def _from_text_layer(self, page: Page) -> PageResult | None:
        """The page's tables with their exact text from the PDF, or None when the page
        is to be read from its pixels (a scan, an OCR layer, no table in the text)."""
        layer = page.layer
        if self.text_layer == "never" or layer is None or not layer.has_text:
            return None
        scale = (page.dpi or self.dpi) / 72.0
        always = self.text_layer == "always"
        # The ink check needs little detail: the page at 96 dpi.
        if not always and not text_matches_ink(layer, page.render(96.0), 96.0 / 72.0):
            return None
        tables = tables_from_layer(layer, scale, page.index, use_invisible=always)
        if not tables and not always:
            return None  # maybe a table drawn as a picture: look at the pixels
        width, height = round(layer.width * scale), round(layer.height * scale)
        # The pixels only if they were rendered already (the GUI shows the page's own).
        return PageResult(source=page.source, page=page.index, tables=tables, width=width,
                          height=height, image=page.image if page.rendered else None,
                          read_from="text-layer", text_layer=layer)

    def _fill(self, jobs: Sequence[tuple[np.ndarray, list[Cell], list[Cell]]],
              progress: Progress | None, cancel: threading.Event | None) -> None:
        """Recognise every cell with ink of ``jobs`` (page image, cells to read, the
        page's other cells, which tell how tall its text lines are), in batches."""
        work: list[_CellWork] = []
        total = 0
        for image, cells, context in jobs:
            for cell, crops in zip(cells, page_line_crops(image, cells, context)):
                total += 1
                if not crops:
                    cell.text, cell.confidence = "", cell.structure_confidence
                    continue
                work.append(_CellWork(cell, crops, [None] * len(crops), len(crops)))
        done = total - len(work)
        if progress is not None:
            progress(done, total)

        # Similar widths decode in a similar number of steps: grouping them keeps a
        # batch from waiting on its one long line.
        queue = [(w, i) for w in work for i in range(len(w.crops))]
        queue.sort(key=lambda item: _aspect(item[0].crops[item[1]]))
        for start in range(0, len(queue), self.batch_size):
            _check_cancel(cancel)
            batch = queue[start:start + self.batch_size]
            recognitions = list(self.recognizer.recognize([w.crops[i] for w, i in batch], beams=self.beams))
            if len(recognitions) != len(batch):
                raise RuntimeError(f"the recognizer returned {len(recognitions)} results "
                                   f"for {len(batch)} crops")
            for (w, i), rec in zip(batch, recognitions):
                w.results[i] = rec
                w.pending -= 1
                if w.pending == 0:
                    _settle(w)
                    done += 1
            if progress is not None:
                progress(done, total)


def _cells_of(results: Sequence[PageResult]) -> list[tuple[np.ndarray, list[Cell], list[Cell]]]:
    """The cells the recognizer reads: those of pages read from their pixels."""
    return [(r.image, [c for t in r.tables for c in t.cells], []) for r in results
            if r.read_from != "text-layer"]


def _aspect(crop: np.ndarray) -> float:
    height, width = np.asarray(crop).shape[:2]
    return width / max(1, height)


def _settle(work: _CellWork) -> None:
    lines = [r.text.strip() for r in work.results if r is not None]
    work.cell.text = "\n".join(line for line in lines if line)
    confidences = [float(r.confidence) for r in work.results if r is not None]
    # a cell is as sure as its weakest line and as its own boundaries
    work.cell.confidence = min(1.0, max(0.0, min(confidences)), work.cell.structure_confidence)


@dataclass(frozen=True)
class FileSummary:
    tables: int
    cells: int  # all cells of all tables, empty ones included
    read_cells: int  # cells with text that went through the recognizer
    mean_confidence: float | None  # over the read cells; None when there are none
    text_layer_pages: list[int] = field(default_factory=list)  # read from the PDF's text (from 1)


def summarize(results: Sequence[PageResult]) -> FileSummary:
    tables = [t for r in results for t in r.tables]
    cells = [c for t in tables for c in t.cells]
    read = [c.confidence for c in cells if c.text]
    mean = sum(read) / len(read) if read else None
    text_pages = [r.page + 1 for r in results if r.read_from == "text-layer"]
    return FileSummary(len(tables), len(cells), len(read), mean, text_pages)


def pages_without_tables(results: Sequence[PageResult]) -> list[int]:
    """Page numbers (from 1) of the pages on which no table was found."""
    return [r.page + 1 for r in results if not r.tables]


def _page_list(numbers: Sequence[int]) -> str:
    """[1, 2, 3, 5] -> "1-3, 5"."""
    runs: list[list[int]] = []
    for n in numbers:
        if runs and n == runs[-1][1] + 1:
            runs[-1][1] = n
        else:
            runs.append([n, n])
    return ", ".join(str(a) if a == b else f"{a}-{b}" for a, b in runs)


def no_table_message(source: str | Path, results: Sequence[PageResult]) -> str | None:
    """One line naming ``source`` and the pages without a table, or None when every
    page has one. A page without a table is not a conversion: the caller says so."""
    empty = pages_without_tables(results)
    if not empty:
        return None
    if len(results) == 1:
        return f"{source}: no table found"
    word = "page" if len(empty) == 1 else "pages"
    if len(empty) == len(results):
        return f"{source}: no table found on any of its {len(results)} pages"
    done = [r.page + 1 for r in results if r.tables]
    return (f"{source}: no table found on {word} {_page_list(empty)} "
            f"(converted {'page' if len(done) == 1 else 'pages'} {_page_list(done)})")
