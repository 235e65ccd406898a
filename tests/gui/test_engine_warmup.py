"""The window's first start: "Preparing the engine (first start)…" with progress while
the kernels compile in the background, then gone; the recogniser it loaded is reused."""

from __future__ import annotations

import threading

import pytest

from app import warmup


@pytest.fixture
def cold(tmp_path, monkeypatch):
    monkeypatch.setenv("TABLESCRIBE_CACHE_DIR", str(tmp_path / "cache"))
    assert warmup.is_cold()


def test_the_window_shows_the_preparation_and_stays_responsive(qtbot, make_window, recognizer, cold):
    from app.gui.engine_warmup import warm_up_if_cold

    gate = threading.Event()
    loads = []

    def factory(model, device):
        loads.append((model, device))
        gate.wait(30)  # the "compile": the window must go on meanwhile
        return recognizer

    window = make_window(factory)
    job = warm_up_if_cold(window)
    assert job is not None
    qtbot.waitUntil(lambda: job.label.isVisible() and job.bar.isVisible())
    assert job.label.text().startswith(warmup.FIRST_START)
    assert (job.bar.minimum(), job.bar.maximum()) == (0, 0)  # busy while loading/compiling
    qtbot.wait(50)  # the event loop runs while the background thread works
    assert job.thread.is_alive()
    gate.set()
    # (Waiting on the message, not on the signal: the signal may come before a wait starts.)
    qtbot.waitUntil(lambda: "The engine is ready" in window.statusBar().currentMessage(),
                    timeout=60000)
    from PySide6.QtWidgets import QLabel

    qtbot.waitUntil(lambda: not [w for w in window.statusBar().findChildren(QLabel)
                                 if w.text().startswith(warmup.FIRST_START)])
    assert not warmup.is_cold()
    assert warm_up_if_cold(window) is None  # once per installation
    # The window's recogniser cache holds what the warm-up loaded: no second load.
    assert window.recognizers._recognizer is recognizer and len(loads) == 1


def test_a_failed_preparation_is_said_and_not_fatal(qtbot, make_window, cold):
    from app.gui.engine_warmup import warm_up_if_cold

    def broken(model, device):
        raise OSError("model.safetensors: truncated file")

    window = make_window(broken)
    assert warm_up_if_cold(window) is not None
    qtbot.waitUntil(lambda: "Could not prepare the engine" in window.statusBar().currentMessage(),
                    timeout=60000)
    assert "truncated file" in window.statusBar().currentMessage()
    assert warmup.is_cold()
