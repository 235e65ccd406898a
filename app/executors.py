"""Executors: run ``fn(task)`` over the tasks of a batch and yield the rows as they
complete (any order).

* ``SerialExecutor``: in this process (live per-cell progress);
* ``ProcessExecutor(n, file_timeout)``: n local worker processes (pebble); a worker
  that dies (a crash, the out-of-memory killer) costs only the file it was converting,
  and a file over the time limit is stopped, reported "timeout", its worker replaced;
* ``FuturesExecutor(client, as_completed)``: anything with ``submit(fn, arg)``
  returning futures, e.g. a Dask cluster::

      from dask.distributed import Client, as_completed
      run_batch(src, dst, executor=FuturesExecutor(Client("tcp://scheduler:8786"), as_completed))

  (``app.cluster.DaskExecutor`` does that and more: a recognizer loaded when each
  worker starts, worker deaths retried elsewhere, the dashboard's address.)
"""

from __future__ import annotations

import concurrent.futures as cf
import logging
import multiprocessing
import os
import signal
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any, Protocol

from app.errors import describe_error
from app.recognizers import ModelLoadError
from app.report import ReportRow
from app.task import Task

__all__ = [
    "THREAD_VARIABLES",
    "Executor",
    "FuturesExecutor",
    "OnCrash",
    "ProcessExecutor",
    "SerialExecutor",
    "crash_reason",
    "thread_environment",
    "timeout_reason",
]

# (task, reason[, status]): the row of a file whose worker died ("failed", the default)
# or that ran past the time limit ("timeout").
OnCrash = Callable[..., ReportRow]

# The thread pools of the libraries under a worker: numba's, OpenMP's and the BLAS's.
THREAD_VARIABLES = ("OMP_NUM_THREADS", "NUMBA_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")


def thread_environment(workers: int) -> dict[str, str]:
    """THREAD_VARIABLES for one of ``workers`` workers on this machine: n workers on c
    cores get c/n threads each, or the kernels fight over the cores."""
    threads = max(1, (os.cpu_count() or 1) // workers)
    return {var: str(threads) for var in THREAD_VARIABLES}


class Executor(Protocol):
    """Runs ``fn`` on every task and yields the rows as they complete (any order).

    ``in_process`` executors run ``fn`` in this process, which lets the batch pass a
    live per-cell progress callback. A task whose worker dies must still produce a
    row: ``on_crash(task, reason)``; one that ran out of time ``on_crash(task, reason,
    "timeout")``.
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


def _init_worker(environment: dict[str, str], warm: Callable[[], Any] | None) -> None:
    # The parent handles Ctrl-C and stops the workers; they must not print tracebacks.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    for var, value in environment.items():
        os.environ.setdefault(var, value)
    try:
        import cv2
        cv2.setNumThreads(int(environment["OMP_NUM_THREADS"]))
    except ImportError:  # pragma: no cover - OpenCV is a dependency
        pass
    if warm is not None:
        try:
            warm()
        except Exception:  # the first file raises it again, with its reason
            logging.getLogger(__name__).debug("loading the recognizer failed", exc_info=True)


def timeout_reason(seconds: float) -> str:
    return (f"took longer than the time limit of {seconds:g} s (--file-timeout); "
            "its worker was stopped and replaced")


def crash_reason(exitcode: int | None) -> str:
    how = ""
    if exitcode is not None and exitcode < 0:
        try:
            how = f", killed by {signal.Signals(-exitcode).name}"
        except ValueError:
            how = f", signal {-exitcode}"
    elif exitcode is not None:
        how = f", exit status {exitcode}"
    return f"the worker process died while converting this file (a crash or out of memory{how})"


_WINDOW = 2  # files handed to the pool per worker: enough to keep every worker busy


class ProcessExecutor:
    """``workers`` local processes (spawned, so nothing half-initialised is inherited),
    on ``pebble``'s pool, which reports each file's fate on its own future: its row,
    ``TimeoutError`` when it ran past ``file_timeout`` (pebble stops that worker and
    starts a fresh one), or ``ProcessExpired`` when the worker died under it (a crash,
    the out-of-memory killer). So a bad file costs only itself: no file is run again to
    find the culprit, and nothing private of the pool is read.

    ``file_timeout`` (seconds; None or 0: no limit) starts when a worker picks the file
    up. ``warm`` is a picklable callable each worker runs once at start (loading the
    recognizer), so loading the model never counts against a file's limit.
    """

    in_process = False

    def __init__(self, workers: int, file_timeout: float | None = None,
                 warm: Callable[[], Any] | None = None) -> None:
        if workers < 1:
            raise ValueError("workers must be at least 1")
        self.workers = workers
        self.file_timeout = file_timeout or None
        self.warm = warm
        self._context = multiprocessing.get_context("spawn")

    def run(self, fn: Callable[[Task], ReportRow], tasks: Sequence[Task],
            on_crash: OnCrash) -> Iterator[ReportRow]:
        from pebble import ProcessExpired, ProcessPool

        pool = ProcessPool(max_workers=self.workers, initializer=_init_worker,
                           initargs=(thread_environment(self.workers), self.warm),
                           context=self._context)
        pending: deque[Task] = deque(tasks)
        in_flight: dict[cf.Future, Task] = {}
        try:
            while pending or in_flight:
                while pending and len(in_flight) < _WINDOW * self.workers:
                    task = pending.popleft()
                    in_flight[pool.submit(fn, self.file_timeout, task)] = task
                done, _ = cf.wait(in_flight, return_when=cf.FIRST_COMPLETED)
                for future in done:
                    task = in_flight.pop(future)
                    try:
                        row = future.result()
                    except TimeoutError:
                        row = on_crash(task, timeout_reason(self.file_timeout), "timeout")
                    except ProcessExpired as exc:
                        row = on_crash(task, crash_reason(exc.exitcode), "failed")
                    yield row
        finally:
            # Also on Ctrl-C or an error: workers ignore SIGINT, so end them now.
            pool.stop()
            pool.join(timeout=10)


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
