"""Convert a folder of scans: plan one independent task per file, run the tasks with
a swappable executor, keep a journal to resume from, and write the report.

    plan_tasks     app.inputs finds the scans; each becomes a Task (app.task)
    executor.run   app.executors (this process, local processes) or app.cluster (Dask)
    run_lock       app.run_lock: one run per output folder
    convert_one    app.task, in the worker: load, detect, recognise, write
    journal        app.journal, a line per finished file (``resume``)
    report         app.report, tablescribe-report.csv and .json in OUT_DIR

IN_DIR and OUT_DIR may be fsspec URLs (``s3://bucket/scans``): the workers read the
scans and write the outputs through ``app.locations``; this process lists the inputs
and writes the journal and the report.
"""

from __future__ import annotations

import functools
import pickle
from collections import Counter
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath
from typing import Any

from app import locations, pipeline
from app.errors import describe_error
from app.executors import Executor, ProcessExecutor, SerialExecutor
from app.inputs import find_inputs, list_scans
from app.journal import Journal, journal_path
from app.recognizers import RecognizerFactory, cached_recognizer
from app.report import BatchReport, ReportRow, write_report
from app.run_lock import lock_path, run_lock
from app.task import Task, convert_one
from table.export import FORMATS, ExportError, ExportOptions

__all__ = ["FileProgress", "plan_tasks", "run_batch"]


def plan_tasks(in_dir: str | Path, out_dir: str | Path, *, fmt: str = "xlsx",
               recursive: bool = False, **task_fields: Any) -> list[Task]:
    """One Task per scan: OUT_DIR/<path relative to IN_DIR, extension replaced>.
    Either folder may be an fsspec URL.

    Two inputs that would share an output (scan.png and scan.jpg) keep their old
    extension in the name instead (scan_png.xlsx, scan_jpg.xlsx).
    """
    if fmt not in FORMATS:
        raise ValueError(f"unknown format {fmt!r}; expected one of {', '.join(FORMATS)}")
    root, out_root = locations.normalize(in_dir), locations.normalize(out_dir)
    if isinstance(root, Path):
        exclude = [out_root] if isinstance(out_root, Path) and out_root.resolve() != root.resolve() else []
        names = [p.relative_to(root).as_posix() for p in find_inputs(root, recursive, exclude=exclude)]
    else:
        same = isinstance(out_root, str) and out_root.rstrip("/") == root.rstrip("/")
        names = list_scans(root, recursive, exclude=None if same else str(out_root))
    targets = [PurePosixPath(name).with_suffix("." + fmt) for name in names]
    uses = Counter(targets)  # not list.count: an archive has hundreds of thousands of files
    tasks = []
    for name, target in zip(names, targets):
        if uses[target] > 1:
            source = PurePosixPath(name)
            ext = source.suffix.lstrip(".").lower() or "noext"
            target = target.with_name(f"{source.stem}_{ext}.{fmt}")
        tasks.append(Task(source=locations.join(root, name), file=name,
                          output=locations.join(out_root, target.as_posix()), fmt=fmt, **task_fields))
    return tasks


FileProgress = Callable[[ReportRow, int, int], None]  # (row, files done, files in all)


def run_batch(in_dir: str | Path, out_dir: str | Path, *, fmt: str = "xlsx", recursive: bool = False,
              workers: int = 1, resume: bool = False, device: str | None = None,
              model: str | None = None, executor: Executor | None = None,
              progress: FileProgress | None = None, cell_progress: pipeline.Progress | None = None,
              dpi: float = 300, beams: int = 1, options: ExportOptions | None = None,
              recognizer_factory: RecognizerFactory | None = None,
              text_layer: str = "auto", file_timeout: float | None = None) -> BatchReport:
    """Convert every scan in ``in_dir`` into ``out_dir`` and write the report there.

    ``executor`` defaults to SerialExecutor for one worker without a time limit, else
    ProcessExecutor: ``file_timeout`` seconds (None or 0: none) bound each file, which
    needs worker processes (a file over it is reported "timeout", its worker replaced).
    ``progress`` is called once per file (skipped ones first); ``cell_progress`` per
    batch of cells, with in-process executors only. Raises ModelLoadError when the
    recognizer cannot be loaded, ExportError when ``out_dir`` is not writable, FolderBusy
    when another run holds ``out_dir``, and KeyboardInterrupt after recording what was
    finished (for ``resume``).
    """
    root, out_root = locations.normalize(in_dir), locations.normalize(out_dir)
    if not locations.is_dir(root):
        raise FileNotFoundError(f"{root}: no such folder")
    if isinstance(out_root, Path):
        try:
            out_root.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise ExportError(out_root, f"cannot create the output folder ({exc.strerror or exc})") from exc
    else:  # a URL: the journal stays on this machine (object stores cannot append)
        locations.make_dirs(out_root)
    journal_file = journal_path(out_root)
    journal_file.parent.mkdir(parents=True, exist_ok=True)
    # One run per output folder, from before the journal is opened until the report is
    # written: a second run gets FolderBusy (naming the holder's PID) and changes nothing.
    with run_lock(out_root, lock_path(out_root)):
        tasks = plan_tasks(root, out_root, fmt=fmt, recursive=recursive, model=model, device=device,
                           dpi=dpi, beams=beams, options=options or ExportOptions(), recognizer_factory=recognizer_factory,
                           text_layer=text_layer)
        if executor is None:
            if workers <= 1 and not file_timeout:
                executor = SerialExecutor()
            else:
                warm = functools.partial(cached_recognizer, model, device, recognizer_factory)
                executor = ProcessExecutor(max(1, workers), file_timeout, warm=warm)
        if recognizer_factory is not None and not executor.in_process:
            try:
                pickle.dumps(recognizer_factory)
            except Exception as exc:  # pickle raises several kinds
                raise ValueError("recognizer_factory must be picklable (a module-level function) "
                                 f"to run in worker processes: {describe_error(exc)}") from exc
        journal = Journal(journal_file, fresh=not resume)
        meta = {"in_dir": str(root), "out_dir": str(out_root), "format": fmt,
                "started": datetime.now(UTC).isoformat(timespec="seconds")}

        rows: dict[str, ReportRow] = {}
        todo = []
        for task in tasks:
            earlier = journal.finished(task) if resume else None
            if earlier is not None:
                rows[task.file] = replace(earlier, status="skipped")
                if progress:
                    progress(rows[task.file], len(rows), len(tasks))
            else:
                todo.append(task)

        by_file = {t.file: t for t in todo}
        if executor.in_process and cell_progress is not None:
            def fn(task: Task) -> ReportRow:
                return convert_one(task, cell_progress)
        else:
            fn = convert_one

        def crashed(task: Task, reason: str, status: str = "failed") -> ReportRow:
            return ReportRow(task.file, status, error=reason)

        interrupted = False
        try:
            for row in executor.run(fn, todo, crashed):
                rows[row.file] = row
                journal.record(by_file[row.file], row)
                if progress:
                    progress(row, len(rows), len(tasks))
        except KeyboardInterrupt:
            interrupted = True
            raise
        finally:
            journal.close()
            ordered = [rows[t.file] for t in tasks if t.file in rows]
            meta["finished"] = datetime.now(UTC).isoformat(timespec="seconds")
            meta["interrupted"] = interrupted
            report_csv, report_json = write_report(out_root, ordered, meta)
        return BatchReport(ordered, report_csv, report_json, interrupted)
