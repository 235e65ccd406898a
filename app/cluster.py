"""Running a batch on a Dask distributed cluster: one task per file.

``DaskExecutor(client)`` is an app.executors executor: ``run_batch(..., executor=...)``
sends each file's Task to the cluster as one Dask task running ``convert_one`` and
yields the report rows as tasks complete, so the client writes the journal and
feeds the progress bar as results arrive, exactly as with the local process pool.

* Every worker process loads the recognizer once, when it starts (or when a batch
  registers its model), through a worker plugin that also runs one tiny
  recognition so numba's kernels are compiled or read from its cache before the
  first file arrives. Tasks then find it in app.recognizers' per-process cache.
* A file that fails on its own content is caught inside the task and comes back as
  a "failed" row: it is not retried. Only the death of a worker retries: Dask runs
  the task again on another worker, and after ``allowed-failures`` deaths the file
  is reported failed (it is the likely culprit: it crashes whichever worker reads it).
* Outputs are written atomically (rename, or upload-then-move for URLs), and each
  task's result is gathered once on the client, so a file converted twice because
  its first worker died still appears once in the outputs and once in the report.

``local_cluster()`` starts a LocalCluster of worker processes on this machine.
Dask is an optional extra (``tablescribe[cluster]``) and is imported only here,
inside the functions that need it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from app.errors import describe_error
from app.executors import OnCrash, thread_environment, timeout_reason
from app.recognizers import ModelLoadError, RecognizerFactory, cached_recognizer
from app.report import ReportRow
from app.task import Task

__all__ = [
    "DEFAULT_ALLOWED_FAILURES",
    "NANNY_CONFIG",
    "SCHEDULER_CONFIG",
    "ClusterError",
    "DaskExecutor",
    "RecognizerPlugin",  # noqa: F822 - built on first use by __getattr__ (Dask is optional)
    "connect",
    "dashboard_address",
    "local_cluster",
    "warm_recognizer",
]

logger = logging.getLogger(__name__)

# How many worker deaths one file may cause before it is reported failed: a file
# that crashes every worker costs three restarts, not an endless loop, while a file
# that was merely unlucky (its worker was killed for another reason) has two more
# tries. Dask charges a death to every task the worker held, so the scheduler must
# hand a worker only the task it runs (worker-saturation 1.0 with one thread per
# worker), or an innocent file queued beside a crashing one is blamed with it.
DEFAULT_ALLOWED_FAILURES = 2
SCHEDULER_CONFIG = {
    "distributed.scheduler.allowed-failures": DEFAULT_ALLOWED_FAILURES,
    "distributed.scheduler.worker-saturation": 1.0,
}
# Dask's nannies start workers with MALLOC_TRIM_THRESHOLD_=65536, which also fixes
# glibc's mmap threshold: every page-sized array is then mapped and unmapped afresh,
# and a page takes 1.5 to 2 times as long to convert (benchmarks/batch_scaling.py).
NANNY_CONFIG = {"distributed.nanny.pre-spawn-environ.MALLOC_TRIM_THRESHOLD_": None}

PLUGIN_NAME = "tablescribe-recognizer"


class ClusterError(Exception):
    """The cluster cannot be used: unreachable scheduler, workers without tablescribe, ..."""


def _dask_missing(exc: ImportError) -> ClusterError:
    return ClusterError("Dask distributed is not installed; install the cluster extra: "
                        f"pip install 'tablescribe[cluster]' ({exc})")


# --------------------------------------------------------------------------- worker side


def warm_recognizer(model: str | None, device: str | None,
                    factory: RecognizerFactory | None = None, beams: int = 1) -> Any:
    """Load this process's recognizer into app.recognizers' cache and run it once on a blank
    line, so the first real file pays neither the loading nor the kernel compilation."""
    import numpy as np

    recognizer = cached_recognizer(model, device, factory)
    blank = np.full((32, 128), 255, dtype=np.uint8)
    recognizer.recognize([blank], beams=beams)
    return recognizer


def _make_plugin_class() -> type:
    try:
        from distributed import WorkerPlugin
    except ImportError as exc:
        raise _dask_missing(exc) from exc

    class RecognizerPlugin(WorkerPlugin):
        """Loads the batch's recognizer in each worker process as it joins.

        Picklable (module-level name, plain fields), so the scheduler hands it to
        workers that join later, a worker restarted after a crash included.
        """

        def __init__(self, model: str | None = None, device: str | None = None,
                     factory: RecognizerFactory | None = None, beams: int = 1,
                     warm: bool = True) -> None:
            self.model, self.device, self.factory = model, device, factory
            self.beams, self.warm = beams, warm

        def _load(self) -> None:
            try:
                if self.warm:
                    warm_recognizer(self.model, self.device, self.factory, self.beams)
                else:
                    cached_recognizer(self.model, self.device, self.factory)
            except ModelLoadError as exc:
                # Not fatal here: the first task tries again and its ModelLoadError
                # reaches the client, which stops the batch with this message.
                logger.error("tablescribe: %s", exc)
            except Exception:  # a failed warm-up only costs speed; tasks load again
                logger.exception("tablescribe: warming up the recognizer failed")

        async def setup(self, worker: Any) -> None:
            # In a thread: loading a model and compiling kernels takes seconds, and
            # the worker's event loop must keep answering the scheduler meanwhile.
            await asyncio.get_running_loop().run_in_executor(None, self._load)

    RecognizerPlugin.__module__ = __name__
    RecognizerPlugin.__qualname__ = "RecognizerPlugin"
    return RecognizerPlugin


def __getattr__(name: str) -> Any:
    # RecognizerPlugin subclasses Dask's WorkerPlugin, so it is built on first use:
    # importing app.cluster must not import Dask. Pickle finds it by this name.
    if name == "RecognizerPlugin":
        cls = _make_plugin_class()
        globals()[name] = cls
        return cls
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


# --------------------------------------------------------------------------- client side


def dashboard_address(client: Any) -> str | None:
    """The address of the cluster's dashboard, or None when the scheduler runs none
    (its dashboard needs the bokeh package on the scheduler's machine)."""
    try:
        from distributed.utils import format_dashboard_link

        info = client.scheduler_info(n_workers=0)
    except Exception:  # noqa: BLE001 - older schedulers, closed clients: no address to give
        return None
    port = (info.get("services") or {}).get("dashboard")
    if not port:
        return None
    address = info.get("address") or client.scheduler.address
    host = address.split("://", 1)[-1].rsplit(":", 1)[0]
    if host in ("", "0.0.0.0", "::", "[::]"):  # listening everywhere: name the one we reached
        host = client.scheduler.address.split("://", 1)[-1].rsplit(":", 1)[0]
    return format_dashboard_link(host, port)


def _crash_reason(exc: BaseException) -> str:
    try:
        from distributed import KilledWorker
    except ImportError:  # pragma: no cover - we only get here with Dask
        KilledWorker = ()  # stands in for the class: nothing is an instance
    if isinstance(exc, KilledWorker):
        deaths = getattr(exc, "allowed_failures", DEFAULT_ALLOWED_FAILURES) + 1
        return (f"{deaths} worker processes died while converting this file (a crash or out of "
                "memory); it was not tried again")
    return f"the worker failed: {describe_error(exc)}"


class DaskExecutor:
    """Runs a batch on the cluster of ``client`` (a ``dask.distributed.Client``).

    Submits every task at once (the scheduler queues them and hands one to each free
    worker thread) and yields the rows in the order the tasks complete. ``warm``
    loads the recognizer on each worker before its first file.

    ``file_timeout`` (seconds; None or 0: none): Dask cannot stop a running task, so a
    file that has been processing on its worker for longer is cancelled and that
    worker is restarted by its nanny (which ends the stuck thread with the process; the
    plugin loads the recognizer into the new one); the file is reported "timeout". A
    worker without a nanny cannot be restarted: it is left to finish the file, and a
    warning says so.
    """

    in_process = False
    poll_s = 0.5  # how often running files are checked against the time limit

    def __init__(self, client: Any, *, warm: bool = True, file_timeout: float | None = None) -> None:
        self.client = client
        self.warm = warm
        self.file_timeout = file_timeout or None

    @property
    def dashboard(self) -> str | None:
        return dashboard_address(self.client)

    def _register(self, task: Task) -> None:
        plugin_class = __getattr__("RecognizerPlugin")
        plugin = plugin_class(task.model, task.device, task.recognizer_factory, task.beams, self.warm)
        try:
            self.client.register_plugin(plugin, name=PLUGIN_NAME)
        except ModelLoadError:
            raise
        except Exception as exc:
            # Typically workers that cannot import tablescribe (another environment).
            raise ClusterError(f"the Dask workers cannot run tablescribe: {describe_error(exc)}") from exc

    def run(self, fn: Callable[[Task], ReportRow], tasks: Sequence[Task],
            on_crash: OnCrash) -> Iterator[ReportRow]:
        if not tasks:
            return
        # One batch uses one model (run_batch builds every task with the same one).
        self._register(tasks[0])
        run_id = uuid.uuid4().hex[:10]
        keys = [f"tablescribe-convert-{run_id}-{i}" for i in range(len(tasks))]
        # retries=0: a task that raises is not retried (convert_one turns a bad file
        # into a row; what still raises is a broken worker or model). Worker deaths
        # are retried by the scheduler, up to its allowed-failures.
        futures = self.client.map(fn, list(tasks), key=keys, retries=0)
        pending = dict(zip(futures, tasks))
        try:
            for future, late in self._completed(futures):
                task = pending.pop(future)
                if late:
                    row = on_crash(task, late, "timeout")
                elif future.status == "finished":
                    row = future.result()
                elif future.status == "error":
                    exc = future.exception()
                    if isinstance(exc, ModelLoadError):
                        raise exc
                    row = on_crash(task, _crash_reason(exc))
                else:  # cancelled: the scheduler restarted or lost the task
                    row = on_crash(task, f"the cluster dropped this file ({future.status}); "
                                         "run again with --resume")
                future.release()  # the scheduler may forget the result now
                yield row
        finally:
            if pending:
                with contextlib.suppress(Exception):
                    self.client.cancel(list(pending), force=True)

    def _completed(self, futures: list[Any]) -> Iterator[tuple[Any, str]]:
        """(future, "") as tasks complete; (future, reason) for one stopped for its time."""
        from distributed import as_completed

        done = as_completed(futures)
        if self.file_timeout is None:
            for future in done:
                yield future, ""
            return
        by_key = {f.key: f for f in futures}
        started: dict[str, float] = {}  # key -> when the scheduler was first seen running it
        left = set(by_key)
        while left:
            for future in done.next_batch(block=False) if done.has_ready() else ():
                if future.key in left:
                    left.discard(future.key)
                    yield future, ""
            if not left:
                break
            now = time.monotonic()
            for worker, keys in self.client.processing().items():
                for key in keys:
                    if key not in left:
                        continue
                    began = started.setdefault(key, now)
                    if now - began > self.file_timeout:
                        left.discard(key)
                        yield by_key[key], self._stop(by_key[key], worker)
            time.sleep(self.poll_s)

    def _stop(self, future: Any, worker: str) -> str:
        self.client.cancel([future], force=True)
        try:
            self.client.restart_workers([worker], raise_for_error=True)
        except Exception as exc:  # noqa: BLE001 - no nanny, or it did not come back in time
            logger.warning("tablescribe: could not restart the Dask worker %s after a file ran "
                           "out of time; it stays busy until that file ends (%s)", worker,
                           describe_error(exc))
        return timeout_reason(self.file_timeout)


# Run in each local worker process as it starts (a Dask preload script): Ctrl-C is
# for this process, which cancels the batch and closes the cluster; workers must not
# each print a KeyboardInterrupt traceback.
_IGNORE_CTRL_C = "import signal; signal.signal(signal.SIGINT, signal.SIG_IGN)"


@contextlib.contextmanager
def local_cluster(workers: int | None = None, *, host: str = "127.0.0.1",
                  dashboard: str = ":8787",
                  allowed_failures: int = DEFAULT_ALLOWED_FAILURES,
                  memory_limit: str | float | None = "auto",
                  silence_logs: int = logging.CRITICAL) -> Iterator[Any]:
    """A LocalCluster of ``workers`` worker processes (default: one per core), one
    thread each, and a Client connected to it; both closed on exit. Yields the client.

    ``dashboard``: the dashboard's address (":0": any free port; a busy port is
    replaced by a free one). Each worker's numba/BLAS threads are set to cores / workers.
    Dask's own log lines are silenced below ``silence_logs``: the batch reports every
    failure itself, and they would only break into the progress bar.
    """
    try:
        import dask
        from distributed import Client, LocalCluster
    except ImportError as exc:
        raise _dask_missing(exc) from exc
    n = workers or max(1, os.cpu_count() or 1)
    # The scheduler and the nannies run in this process and read their settings as
    # they start (a nanny again when it restarts a worker: the LocalCluster is built
    # with its own copy of the configuration).
    saved = dict(os.environ)
    try:
        with dask.config.set({**SCHEDULER_CONFIG, **NANNY_CONFIG,
                              "distributed.scheduler.allowed-failures": allowed_failures}):
            cluster = LocalCluster(n_workers=n, threads_per_worker=1, processes=True, host=host,
                                   dashboard_address=dashboard, memory_limit=memory_limit,
                                   silence_logs=silence_logs, env=thread_environment(n),
                                   preload=[_IGNORE_CTRL_C])
    finally:
        # The nannies export their start-up variables (OMP_NUM_THREADS=1, ...) into
        # this process as well; give it back its own environment.
        for name in set(os.environ) - set(saved):
            os.environ.pop(name, None)
        for name, value in saved.items():
            if os.environ.get(name) != value:
                os.environ[name] = value
    try:
        client = Client(cluster)
        try:
            yield client
        finally:
            client.close()
    finally:
        cluster.close()


@contextlib.contextmanager
def connect(scheduler: str, timeout: float | None = None) -> Iterator[Any]:
    """A Client of the running cluster at ``scheduler`` (tcp://host:8786), closed on exit.
    ``timeout`` (seconds) defaults to Dask's distributed.comm.timeouts.connect (30 s)."""
    try:
        from distributed import Client
    except ImportError as exc:
        raise _dask_missing(exc) from exc
    try:
        client = Client(scheduler, **({} if timeout is None else {"timeout": timeout}))
    except Exception as exc:
        raise ClusterError(f"cannot reach the Dask scheduler at {scheduler}: {describe_error(exc)}") from exc
    try:
        yield client
    finally:
        client.close()
