"""Background jobs: everything slow (loading pages, the model, converting, re-reading)
runs on a QThreadPool thread so the window keeps painting and answering clicks.

A Job wraps a plain function ``fn(ctx) -> result``. The function reports through
``ctx`` (progress, partial results) and checks ``ctx.cancel`` (a threading.Event the
pipeline also understands); app.errors.Cancelled, raised by either, ends the job as
cancelled. Results come back as Qt signals, which Qt delivers on the GUI thread.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QObject, QRunnable, Signal

from app.errors import Cancelled, describe_error

log = logging.getLogger(__name__)

PROGRESS_INTERVAL_S = 0.05  # at most ~20 progress updates a second reach the GUI


def is_cancellation(exc: BaseException) -> bool:
    return isinstance(exc, Cancelled)


class JobSignals(QObject):
    progress = Signal(int, int, str)   # done, total, what is being done
    partial = Signal(object)           # an intermediate result (e.g. one converted page)
    finished = Signal(object)          # the function's return value
    failed = Signal(str)               # a one-line reason
    cancelled = Signal()


class JobContext:
    def __init__(self, signals: JobSignals, cancel: threading.Event) -> None:
        self._signals = signals
        self.cancel = cancel
        self._last = 0.0

    def progress(self, done: int, total: int, what: str = "") -> None:
        now = time.monotonic()
        if done >= total or now - self._last >= PROGRESS_INTERVAL_S:
            self._last = now
            self._signals.progress.emit(int(done), int(total), what)

    def partial(self, value: Any) -> None:
        self._signals.partial.emit(value)

    def check_cancel(self) -> None:
        if self.cancel.is_set():
            raise Cancelled()


class Job(QRunnable):
    def __init__(self, name: str, fn: Callable[[JobContext], Any]) -> None:
        super().__init__()
        self.setAutoDelete(False)  # Python keeps it alive until the window lets go
        self.name = name
        self.fn = fn
        self.signals = JobSignals()
        self.cancel_event = threading.Event()
        self.done = threading.Event()

    def cancel(self) -> None:
        self.cancel_event.set()

    def run(self) -> None:
        ctx = JobContext(self.signals, self.cancel_event)
        try:
            if self.cancel_event.is_set():
                raise Cancelled()
            result = self.fn(ctx)
        except BaseException as exc:
            if is_cancellation(exc):
                self._emit(self.signals.cancelled)
            else:
                # The window shows the reason; the log file keeps the traceback.
                log.exception("%s failed: %s", self.name, describe_error(exc))  # noqa: TRY401 - the console line has no traceback
                self._emit(self.signals.failed, describe_error(exc))
        else:
            if self.cancel_event.is_set():
                self._emit(self.signals.cancelled)
            else:
                self._emit(self.signals.finished, result)
        finally:
            self.done.set()

    @staticmethod
    def _emit(signal, *args) -> None:
        try:
            signal.emit(*args)
        except RuntimeError:  # the receiving window is already gone
            pass
