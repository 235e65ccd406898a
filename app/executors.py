"""Executors: run ``fn(task)`` over the tasks of a batch and yield the rows as they
complete (any order).

* ``SerialExecutor``: in this process (live per-cell progress);
* ``ProcessExecutor(n)``: n local worker processes; a worker that dies (a crash, the
  out-of-memory killer) costs only the file it was converting;
* ``FuturesExecutor(client, as_completed)``: anything with ``submit(fn, arg)``
  returning futures, e.g. a Dask cluster::

      from dask.distributed import Client, as_completed
      run_batch(src, dst, executor=FuturesExecutor(Client("tcp://scheduler:8786"), as_completed))

  (``app.cluster.DaskExecutor`` does that and more: a recognizer loaded when each
  worker starts, worker deaths retried elsewhere, the dashboard's address.)
"""

from __future__ import annotations

import concurrent.futures as cf
import multiprocessing
import os
import signal
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures.process import BrokenProcessPool
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
    "thread_environment",
]

OnCrash = Callable[[Task, str], ReportRow]

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


def _init_worker(environment: dict[str, str]) -> None:
    # The parent handles Ctrl-C and stops the workers; they must not print tracebacks.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    for var, value in environment.items():
        os.environ.setdefault(var, value)
    try:
        import cv2
        cv2.setNumThreads(int(environment["OMP_NUM_THREADS"]))
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
        return cf.ProcessPoolExecutor(max_workers=workers, mp_context=self._context,
                                      initializer=_init_worker, initargs=(thread_environment(workers),))

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
