""""Preparing the engine (first start)…": the window's side of app/warmup.py.

On the first start after an install numba compiles the engine's kernels. Rather than
let the first conversion freeze on that, the window starts compiling as soon as it is
shown, in a background thread, with a label and a progress bar in the status bar; a
conversion asked for meanwhile simply waits for the kernels (numba compiles under one
lock). The recogniser is loaded through the window's own RecognizerCache, so the
first conversion reuses it. Nothing happens once this installation is warm.
"""

from __future__ import annotations

import threading
import time

from PySide6.QtCore import QObject, Signal
from PySide6.QtWidgets import QLabel, QProgressBar

from app import warmup


class EngineWarmup(QObject):
    progressed = Signal(str, int, int)
    finished = Signal(float, int)  # seconds, kernels compiled
    failed = Signal(str)

    def __init__(self, window) -> None:
        super().__init__(window)
        self.window = window
        self.cancel = threading.Event()
        self.label = QLabel(warmup.FIRST_START)
        self.bar = QProgressBar()
        self.bar.setFixedWidth(160)
        self.bar.setRange(0, 0)  # busy until there is something to count
        self.progressed.connect(self._show)
        self.finished.connect(self._done)
        self.failed.connect(self._failed)
        self.thread = threading.Thread(target=self._run, name="tablescribe-warmup", daemon=True)

    def start(self) -> None:
        status = self.window.statusBar()
        status.addWidget(self.label)
        status.addWidget(self.bar)
        self.window.destroyed.connect(self.cancel.set)
        self.thread.start()

    def _emit(self, signal, *args) -> None:
        try:
            signal.emit(*args)
        except RuntimeError:  # the window is gone: nobody to tell
            self.cancel.set()

    def _run(self) -> None:
        start = time.perf_counter()
        settings = self.window.settings
        try:
            kernels = warmup.warm_up(
                lambda: self.window.recognizers.get(settings.model_spec(), settings.device_spec()),
                progress=lambda *a: self._emit(self.progressed, *a), cancel=self.cancel)
        except Exception as exc:  # noqa: BLE001 - the conversion will report its own error
            if not self.cancel.is_set():
                self._emit(self.failed, " ".join(str(exc).split()))
            return
        self._emit(self.finished, time.perf_counter() - start, kernels)

    def _show(self, text: str, done: int, total: int) -> None:
        self.label.setText(text)
        self.bar.setRange(0, total)
        self.bar.setValue(done)

    def _remove(self) -> None:
        status = self.window.statusBar()
        for widget in (self.label, self.bar):
            status.removeWidget(widget)
            widget.deleteLater()

    def _done(self, seconds: float, kernels: int) -> None:
        self._remove()
        self.window.statusBar().showMessage(
            f"The engine is ready ({kernels} kernels compiled in {seconds:.0f} s, once).", 8000)

    def _failed(self, reason: str) -> None:
        self._remove()
        self.window.statusBar().showMessage(f"Could not prepare the engine: {reason}", 15000)


def warm_up_if_cold(window) -> EngineWarmup | None:
    """Start preparing the engine in the background when this installation is cold."""
    if not warmup.is_cold():
        return None
    job = EngineWarmup(window)
    job.start()
    return job
