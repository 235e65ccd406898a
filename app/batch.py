"""Convert a folder of scans: one independent task per file, run by a swappable executor.

A ``Task`` says everything needed to convert one file (input, output, format,
model, device, options) and ``convert_one(task) -> ReportRow`` does it: load,
detect, recognise, write. Both are plain picklable objects, so any executor that
can ship a function and its argument to a worker can run a batch:

* ``SerialExecutor``: in this process (live per-cell progress);
* ``ProcessExecutor(n)``: n local worker processes; a worker that dies (a crash, the
  out-of-memory killer) costs only the file it was converting;
* ``FuturesExecutor(client, as_completed)``: anything with ``submit(fn, arg)``
  returning futures, e.g. a Dask cluster::

      from dask.distributed import Client, as_completed
      run_batch(src, dst, executor=FuturesExecutor(Client("tcp://scheduler:8786"), as_completed))

  (``app.cluster.DaskExecutor`` does that and more: a recognizer loaded when each
  worker starts, worker deaths retried elsewhere, the dashboard's address.)

Each worker process loads the recognizer once (``cached_recognizer`` keeps it per
process) and reuses it for every file it converts.

IN_DIR and OUT_DIR may be fsspec URLs (``s3://bucket/scans``): the workers read the
scans and write the outputs through ``app.locations``; the client lists the inputs and
writes the journal and the report (an object store cannot append, so for a URL OUT_DIR
the journal is kept on the client: ``app.locations.journal_path``).

Resuming: after each file a line is appended to ``OUT_DIR/.tablescribe-journal.jsonl``
(outputs are already in place, written atomically). ``resume=True`` skips files the
journal lists as converted whose input is unchanged and whose outputs still exist; a
line cut short by a kill is ignored, so the worst case is converting one file again.
"""

from __future__ import annotations

import concurrent.futures as cf
import csv
import json
import multiprocessing
import os
import pickle
import signal
import tempfile
import threading
import time
from collections import Counter, deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures.process import BrokenProcessPool
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath
from typing import Any, Protocol

from app import locations, pipeline
from table.export import FORMATS, ExportError, ExportOptions, write_tables
from table.export.atomic import atomic_target

__all__ = [
    "JOURNAL_NAME",
    "REPORT_FIELDS",
    "BatchReport",
    "Executor",
    "FuturesExecutor",
    "ModelLoadError",
    "ProcessExecutor",
    "ReportRow",
    "SerialExecutor",
    "Task",
    "cached_recognizer",
    "convert_one",
    "describe_error",
    "find_inputs",
    "load_recognizer",
    "plan_tasks",
    "run_batch",
]

JOURNAL_NAME = ".tablescribe-journal.jsonl"
REPORT_CSV = "tablescribe-report.csv"
REPORT_JSON = "tablescribe-report.json"
REPORT_FIELDS = ("file", "status", "tables", "cells", "mean_confidence", "seconds", "error", "outputs")

# Extensions taken without looking inside; other files are taken when their first
# bytes say image or PDF (a scan saved without an extension).
INPUT_EXTENSIONS = {".png", ".jpg", ".jpeg", ".jpe", ".bmp", ".webp", ".tif", ".tiff", ".pdf"}

RecognizerFactory = Callable[[str | None, str | None], "pipeline.Recognizer"]


class ModelLoadError(Exception):
    """The recognizer could not be loaded: no file can be converted, so the batch stops."""


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
    options: ExportOptions = field(default_factory=ExportOptions)
    # A picklable callable (model, device) -> recognizer; None = pipeline.load_recognizer.
    recognizer_factory: RecognizerFactory | None = None


@dataclass
class ReportRow:
    file: str
    status: str  # "ok", "failed", or "skipped" (converted by an earlier, interrupted run)
    tables: int = 0
    cells: int = 0
    mean_confidence: float | None = None
    seconds: float = 0.0
    error: str = ""
    outputs: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class BatchReport:
    rows: list[ReportRow]
    report_csv: Path | str  # a str URL when OUT_DIR is one
    report_json: Path | str
    interrupted: bool = False

    @property
    def failed(self) -> list[ReportRow]:
        return [r for r in self.rows if r.status == "failed"]

    @property
    def converted(self) -> list[ReportRow]:
        return [r for r in self.rows if r.status == "ok"]

    @property
    def skipped(self) -> list[ReportRow]:
        return [r for r in self.rows if r.status == "skipped"]


# --------------------------------------------------------------------------- one file

# The recognizer of this process, loaded by the first task that needs it (or by a
# cluster worker's start-up plugin). The lock keeps threads of one worker process
# from loading it twice.
_RECOGNIZER: dict[tuple, Any] = {}
_RECOGNIZER_LOCK = threading.Lock()


def load_recognizer(model: str | None, device: str | None,
                    factory: RecognizerFactory | None = None) -> Any:
    """``factory(model, device)`` (default ``pipeline.load_recognizer``), with any
    failure turned into a ModelLoadError saying which model could not be loaded."""
    try:
        return (factory or pipeline.load_recognizer)(model, device)
    except Exception as exc:
        what = model or "the embedded default model"
        raise ModelLoadError(f"cannot load {what}: {describe_error(exc)}") from exc


def cached_recognizer(model: str | None, device: str | None,
                      factory: RecognizerFactory | None = None) -> Any:
    """This process's recognizer for (factory, model, device), loaded on first use."""
    factory = factory or pipeline.load_recognizer
    key = (factory, model, device)
    with _RECOGNIZER_LOCK:
        if key not in _RECOGNIZER:
            _RECOGNIZER.clear()  # one model per worker: let the previous one go
            _RECOGNIZER[key] = load_recognizer(model, device, factory)
        return _RECOGNIZER[key]


def _recognizer_for(task: Task) -> Any:
    return cached_recognizer(task.model, task.device, task.recognizer_factory)


def describe_error(exc: BaseException) -> str:
    """One line for a report or a terminal. Our own errors (table, ocr, engine, app)
    already name the file and the problem; anything else also gets its type."""
    text = " ".join(str(exc).split())
    ours = type(exc).__module__.split(".")[0] in ("app", "table", "ocr", "engine")
    return text if ours and text else f"{type(exc).__name__}: {text}".rstrip(": ")


def convert_one(task: Task, cell_progress: pipeline.Progress | None = None) -> ReportRow:
    """Convert one file and report how it went; a bad file gives a "failed" row.

    Raises ModelLoadError only when the recognizer itself cannot be loaded.
    """
    recognizer = _recognizer_for(task)
    start = time.perf_counter()
    source = task.source
    try:
        engine = pipeline.Pipeline(recognizer, dpi=task.dpi, batch_size=task.batch_size,
                                   beams=task.beams)
        with locations.local_copy(task.source) as source:  # a URL: a temporary local copy
            results = engine.convert_file(source, progress=cell_progress)
        tables = [t for r in results for t in r.tables]
        outputs = _write_outputs(tables, task)
        summary = pipeline.summarize(results)
        return ReportRow(task.file, "ok", summary.tables, summary.cells, summary.mean_confidence,
                         round(time.perf_counter() - start, 3), "", outputs)
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


# --------------------------------------------------------------------------- executors

OnCrash = Callable[[Task, str], ReportRow]


class Executor(Protocol):
    """Runs ``fn`` on every task and yields the rows as they complete (any order).

    ``in_process`` executors run ``fn`` in this process, which lets the batch pass a
    live per-cell progress callback. A task whose worker dies must still produce a
    row: ``on_crash(task, reason)``.
    """

    in_process: bool

    def run(self, fn: Callable[[Task], ReportRow], tasks: Sequence[Task],
            on_crash: OnCrash) -> Iterator[ReportRow]: ...


class SerialExecutor:
    in_process = True

    def run(self, fn: Callable[[Task], ReportRow], tasks: Sequence[Task],
            on_crash: OnCrash) -> Iterator[ReportRow]:
        for task in tasks:
            yield fn(task)


def _init_worker(threads: int) -> None:
    # The parent handles Ctrl-C and stops the workers; they must not print tracebacks.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    # n workers on c cores: c/n threads each, or the kernels fight over the cores.
    for var in ("OMP_NUM_THREADS", "NUMBA_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ.setdefault(var, str(threads))
    try:
        import cv2
        cv2.setNumThreads(threads)
    except ImportError:  # pragma: no cover - OpenCV is a dependency
        pass


_CRASH = "the worker process died while converting this file (a crash or out of memory)"


class ProcessExecutor:
    """``workers`` local processes (spawned, so nothing half-initialised is inherited).

    At most ``workers`` files are in flight. When a worker dies the files that were in
    flight are converted again one at a time in a fresh process: the one that kills
    its worker again is reported failed, the others succeed, the batch goes on.
    """

    in_process = False

    def __init__(self, workers: int) -> None:
        if workers < 1:
            raise ValueError("workers must be at least 1")
        self.workers = workers
        self._context = multiprocessing.get_context("spawn")

    def _pool(self, workers: int) -> cf.ProcessPoolExecutor:
        threads = max(1, (os.cpu_count() or 1) // workers)
        return cf.ProcessPoolExecutor(max_workers=workers, mp_context=self._context,
                                      initializer=_init_worker, initargs=(threads,))

    @staticmethod
    def _stop(pool: cf.ProcessPoolExecutor) -> None:
        # Workers ignore SIGINT; end them now instead of waiting for their files.
        processes = list(getattr(pool, "_processes", {}).values())
        pool.shutdown(wait=False, cancel_futures=True)
        for proc in processes:
            if proc.is_alive():
                proc.terminate()
        for proc in processes:
            proc.join(timeout=5)

    def run(self, fn: Callable[[Task], ReportRow], tasks: Sequence[Task],
            on_crash: OnCrash) -> Iterator[ReportRow]:
        pending: deque[Task] = deque(tasks)
        suspects: deque[Task] = deque()
        while pending or suspects:
            if suspects:  # alone in a fresh process: a crash now is this file's
                task = suspects.popleft()
                pool = self._pool(1)
                try:
                    row = pool.submit(fn, task).result()
                except BrokenProcessPool:
                    row = on_crash(task, _CRASH)
                finally:
                    self._stop(pool)
                yield row
                continue
            pool = self._pool(self.workers)
            in_flight: dict[cf.Future, Task] = {}
            try:
                while pending or in_flight:
                    broken = False
                    while pending and len(in_flight) < self.workers:
                        task = pending.popleft()
                        try:
                            in_flight[pool.submit(fn, task)] = task
                        except BrokenProcessPool:  # a worker died since the last wait
                            suspects.append(task)  # alone next: finite even if every pool breaks
                            broken = True
                            break
                    if broken:
                        suspects.extend(in_flight.values())
                        break
                    done, _ = cf.wait(in_flight, return_when=cf.FIRST_COMPLETED)
                    for future in done:
                        task = in_flight.pop(future)
                        try:
                            row = future.result()
                        except BrokenProcessPool:
                            suspects.append(task)
                            broken = True
                            continue
                        yield row
                    if broken:
                        suspects.extend(in_flight.values())
                        break
            finally:
                self._stop(pool)


class FuturesExecutor:
    """Any ``submit(fn, arg) -> future`` object with its ``as_completed`` function: a
    ``concurrent.futures`` executor (the default) or a ``dask.distributed.Client``."""

    in_process = False

    def __init__(self, submitter: Any, as_completed: Callable[[Iterable[Any]], Iterable[Any]] = cf.as_completed):
        self.submitter = submitter
        self.as_completed = as_completed

    def run(self, fn: Callable[[Task], ReportRow], tasks: Sequence[Task],
            on_crash: OnCrash) -> Iterator[ReportRow]:
        futures = {self.submitter.submit(fn, task): task for task in tasks}
        try:
            for future in self.as_completed(list(futures)):
                try:
                    yield future.result()
                except ModelLoadError:
                    raise
                except Exception as exc:  # noqa: BLE001 - the worker, not the file, failed
                    yield on_crash(futures[future], f"the worker failed: {describe_error(exc)}")
        finally:
            for future in futures:
                future.cancel()


# --------------------------------------------------------------------------- planning


def _sniffs_as_scan(path: Path) -> bool:
    from table.pages import sniff_format
    try:
        with open(path, "rb") as fh:
            return sniff_format(fh.read(1024)) is not None
    except OSError:
        return False


def find_inputs(in_dir: str | Path, recursive: bool = False,
                exclude: Iterable[str | Path] = ()) -> list[Path]:
    """Scans in ``in_dir`` (and below when ``recursive``), sorted; hidden files and
    folders and anything under ``exclude`` are left out."""
    root = Path(in_dir)
    excluded = [Path(p).resolve() for p in exclude]
    found = []
    walker = root.rglob("*") if recursive else root.iterdir()
    for path in walker:
        rel = path.relative_to(root)
        if any(part.startswith(".") for part in rel.parts) or not path.is_file():
            continue
        resolved = path.resolve()
        if any(resolved == ex or ex in resolved.parents for ex in excluded):
            continue
        if path.suffix.lower() in INPUT_EXTENSIONS or _sniffs_as_scan(path):
            found.append(path)
    return sorted(found, key=lambda p: p.relative_to(root).as_posix())


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
        names = locations.list_scans(root, recursive, exclude=None if same else str(out_root))
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


# --------------------------------------------------------------------------- journal


def _fingerprint(path: str) -> dict[str, Any]:
    return locations.fingerprint(path)


class _Journal:
    """Append-only record of finished files, one JSON object per line."""

    def __init__(self, path: Path, fresh: bool) -> None:
        self.path = path
        self.entries: dict[str, dict] = {} if fresh else self._read(path)
        try:
            # Open for the whole batch: one line is appended per finished file.
            self._fh = open(path, "w" if fresh else "a", encoding="utf-8")  # noqa: SIM115
            if not fresh and self._fh.tell() > 0 and not path.read_bytes().endswith(b"\n"):
                self._fh.write("\n")  # end a line cut short, or the next entry joins it
        except OSError as exc:
            raise ExportError(path, f"cannot write the batch journal ({exc.strerror or exc})") from exc

    @staticmethod
    def _read(path: Path) -> dict[str, dict]:
        entries: dict[str, dict] = {}
        try:
            data = path.read_bytes()
        except OSError:
            return entries
        for line in data.splitlines():
            try:
                entry = json.loads(line.decode("utf-8"))
                entries[entry["row"]["file"]] = entry
            except (ValueError, KeyError, TypeError):
                continue  # a line cut short by a kill, or damaged: that file is redone
        return entries

    def finished(self, task: Task) -> ReportRow | None:
        """The row of an earlier run that already converted ``task``, if it did."""
        entry = self.entries.get(task.file)
        if not entry or entry.get("row", {}).get("status") != "ok":
            return None
        try:
            unchanged = entry.get("input") == _fingerprint(task.source)
        except OSError:
            return None
        row = entry["row"]
        if (not unchanged or entry.get("fmt") != task.fmt or entry.get("output") != task.output
                or not all(locations.exists(p) for p in row.get("outputs", []))):
            return None
        return ReportRow(**{k: row.get(k) for k in REPORT_FIELDS if k in row})

    def record(self, task: Task, row: ReportRow) -> None:
        try:
            fingerprint = _fingerprint(task.source)
        except OSError:
            fingerprint = None
        entry = {"row": row.as_dict(), "fmt": task.fmt, "output": task.output, "input": fingerprint}
        self._fh.write(json.dumps(entry, ensure_ascii=False) + "\n")
        self._fh.flush()
        os.fsync(self._fh.fileno())

    def close(self) -> None:
        self._fh.close()


# --------------------------------------------------------------------------- report


def _write_report(out_dir: Path | str, rows: list[ReportRow],
                  meta: dict[str, Any]) -> tuple[Path | str, Path | str]:
    if isinstance(out_dir, str):  # a URL: write here, then upload both atomically
        with tempfile.TemporaryDirectory(prefix="tablescribe-report-") as staging:
            written = _write_report(Path(staging), rows, meta)
            csv_url, json_url = locations.publish(written, out_dir)
        return csv_url, json_url
    csv_path, json_path = out_dir / REPORT_CSV, out_dir / REPORT_JSON
    with atomic_target(csv_path) as tmp, open(tmp, "w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh, lineterminator="\r\n")
        writer.writerow(REPORT_FIELDS)
        for r in rows:
            mean = "" if r.mean_confidence is None else f"{r.mean_confidence:.4f}"
            writer.writerow([r.file, r.status, r.tables, r.cells, mean, f"{r.seconds:.3f}",
                             r.error, ";".join(r.outputs)])
    counts = {s: sum(1 for r in rows if r.status == s) for s in ("ok", "failed", "skipped")}
    document = {**meta, "files": len(rows), **counts, "rows": [r.as_dict() for r in rows]}
    with atomic_target(json_path) as tmp:
        tmp.write_text(json.dumps(document, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return csv_path, json_path


# --------------------------------------------------------------------------- batch

FileProgress = Callable[[ReportRow, int, int], None]  # (row, files done, files in all)


def run_batch(in_dir: str | Path, out_dir: str | Path, *, fmt: str = "xlsx", recursive: bool = False,
              workers: int = 1, resume: bool = False, device: str | None = None,
              model: str | None = None, executor: Executor | None = None,
              progress: FileProgress | None = None, cell_progress: pipeline.Progress | None = None,
              dpi: float = 300, beams: int = 1, options: ExportOptions | None = None,
              recognizer_factory: RecognizerFactory | None = None) -> BatchReport:
    """Convert every scan in ``in_dir`` into ``out_dir`` and write the report there.

    ``executor`` defaults to SerialExecutor for one worker, ProcessExecutor otherwise.
    ``progress`` is called once per file (skipped ones first); ``cell_progress`` per
    batch of cells, with in-process executors only. Raises ModelLoadError when the
    recognizer cannot be loaded, ExportError when ``out_dir`` is not writable, and
    KeyboardInterrupt after recording what was finished (for ``resume``).
    """
    root, out_root = locations.normalize(in_dir), locations.normalize(out_dir)
    if not locations.is_dir(root):
        raise FileNotFoundError(f"{root}: no such folder")
    if isinstance(out_root, Path):
        try:
            out_root.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise ExportError(out_root, f"cannot create the output folder ({exc.strerror or exc})") from exc
        journal_path = out_root / JOURNAL_NAME
    else:  # a URL: the journal stays on this machine (object stores cannot append)
        locations.make_dirs(out_root)
        journal_path = locations.journal_path(out_root)
        journal_path.parent.mkdir(parents=True, exist_ok=True)
    tasks = plan_tasks(root, out_root, fmt=fmt, recursive=recursive, model=model, device=device,
                       dpi=dpi, beams=beams, options=options or ExportOptions(), recognizer_factory=recognizer_factory)
    executor = executor or (SerialExecutor() if workers <= 1 else ProcessExecutor(workers))
    if recognizer_factory is not None and not executor.in_process:
        try:
            pickle.dumps(recognizer_factory)
        except Exception as exc:  # pickle raises several kinds
            raise ValueError("recognizer_factory must be picklable (a module-level function) "
                             f"to run in worker processes: {describe_error(exc)}") from exc
    journal = _Journal(journal_path, fresh=not resume)
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

    def crashed(task: Task, reason: str) -> ReportRow:
        return ReportRow(task.file, "failed", error=reason)

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
        report_csv, report_json = _write_report(out_root, ordered, meta)
    return BatchReport(ordered, report_csv, report_json, interrupted)
