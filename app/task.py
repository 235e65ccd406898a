"""One file of a batch: what to convert (``Task``) and converting it (``convert_one``).

Both are plain picklable objects, so any executor that can ship a function and its
argument to a worker process or machine can run them. The worker loads its
recogniser once (app.recognizers' per-process cache) and reuses it for every file.
"""

from __future__ import annotations

import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from app import locations, pipeline
from app.errors import describe_error
from app.recognizers import RecognizerFactory, cached_recognizer
from app.report import ReportRow
from table.export import ExportOptions, write_tables

__all__ = ["Task", "convert_one"]


@dataclass(frozen=True)
class Task:
    """One file to convert. Plain data: it travels to worker processes or machines."""

    source: str  # the input file: a path, or an fsspec URL the worker reads
    file: str  # its path relative to the input folder, as reported
    output: str  # the output file (for csv: the first table's file); a path or URL
    fmt: str = "xlsx"
    model: str | None = None
    device: str | None = None
    dpi: float = 300
    beams: int = 1
    batch_size: int = 64
    text_layer: str = "auto"  # pipeline.TEXT_LAYER_MODES
    options: ExportOptions = field(default_factory=ExportOptions)
    # A picklable callable (model, device) -> recognizer; None = recognizers.load_recognizer.
    recognizer_factory: RecognizerFactory | None = None


def convert_one(task: Task, cell_progress: pipeline.Progress | None = None) -> ReportRow:
    """Convert one file and report how it went; a bad file gives a "failed" row.

    Raises ModelLoadError only when the recognizer itself cannot be loaded.
    """
    recognizer = cached_recognizer(task.model, task.device, task.recognizer_factory)
    start = time.perf_counter()
    source = task.source
    try:
        engine = pipeline.Pipeline(recognizer, dpi=task.dpi, batch_size=task.batch_size,
                                   beams=task.beams, text_layer=task.text_layer)
        with locations.local_copy(task.source) as source:  # a URL: a temporary local copy
            results = engine.convert_file(source, progress=cell_progress)
        tables = [t for r in results for t in r.tables]
        # Pages without a table are named in the error column (the file's own row).
        missing = pipeline.no_table_message(task.file, results) or ""
        if not tables:
            return ReportRow(task.file, "no_table", seconds=round(time.perf_counter() - start, 3),
                             error=missing)
        outputs = _write_outputs(tables, task)
        summary = pipeline.summarize(results)
        return ReportRow(task.file, "ok", summary.tables, summary.cells, summary.mean_confidence,
                         round(time.perf_counter() - start, 3), missing, outputs)
    except Exception as exc:  # noqa: BLE001 - one bad file never stops the batch
        # Name the scan as the user gave it, not the worker's temporary copy.
        return ReportRow(task.file, "failed", seconds=round(time.perf_counter() - start, 3),
                         error=describe_error(exc).replace(source, task.source))


def _write_outputs(tables: list, task: Task) -> list[str]:
    if not locations.is_url(task.output):
        written = write_tables(tables, task.output, task.fmt, task.options, inputs=[task.source])
        return [str(p) for p in written]
    # A URL: write into a local temporary folder, then upload each file atomically.
    name = PurePosixPath(task.output.split("://", 1)[1]).name
    folder = task.output[: len(task.output) - len(name)].rstrip("/")
    with tempfile.TemporaryDirectory(prefix="tablescribe-out-") as staging:
        written = write_tables(tables, Path(staging) / name, task.fmt, task.options)
        return locations.publish(written, folder, inputs=[task.source])
