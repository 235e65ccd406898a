"""Shared pieces of the GUI tests and tools (no Qt set-up here): the stand-in
recogniser, the gated wrapper for cancel tests, and the long-table renderer."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from tests.table.render import TableSpec, render_page, sample_texts

DPI = 150


# -- the recogniser --------------------------------------------------------------------------

@dataclass(frozen=True)
class ShapeRecognition:
    text: str
    confidence: float


class ShapeRecognizer:
    """Stand-in recogniser for GUI plumbing until the embedded model ships.

    It "reads" a crop as its size and ink ("27x80:412"), so a crop that changes (after
    a merge, split or cut) reads differently, and derives a confidence from the same
    numbers so that some cells fall below the review threshold.
    """

    def recognize(self, crops, beams: int = 1):
        out = []
        for crop in crops:
            arr = np.asarray(crop)
            ink = int((arr < 128).sum())
            h, w = arr.shape[:2]
            confidence = 0.35 + 0.65 * (((h * 31 + w * 7 + ink) % 97) / 96.0)
            out.append(ShapeRecognition(f"{h}x{w}:{ink}", round(confidence, 3)))
        return out


def _embedded_recognizer():
    """The shipped default model when it is there, else None."""
    try:
        from ocr.recognizer import DEFAULT_MODEL_DIR, Recognizer
    except ImportError:
        return None
    if not (Path(DEFAULT_MODEL_DIR) / "config.json").is_file():
        return None
    return Recognizer.default()


_RECOGNIZER = None


def recognizer_instance():
    global _RECOGNIZER
    if _RECOGNIZER is None:
        _RECOGNIZER = _embedded_recognizer() or ShapeRecognizer()
    return _RECOGNIZER


def pytest_report_header(config):
    rec = recognizer_instance()
    kind = ("the embedded default model" if not isinstance(rec, ShapeRecognizer)
            else "ShapeRecognizer (test stand-in: resources/models/tablescribe-cells is absent)")
    return f"gui tests: recogniser = {kind}"


class GatedRecognizer:
    """Wraps a recogniser; after the first batch it waits until ``gate`` is opened.

    Lets a test press Cancel while a conversion is certainly in the middle of a run.
    """

    def __init__(self, inner) -> None:
        self.inner = inner
        self.gate = threading.Event()
        self.batches = 0

    def recognize(self, crops, beams: int = 1):
        self.batches += 1
        if self.batches >= 2:
            self.gate.wait(timeout=120)
        return self.inner.recognize(crops, beams)


def long_table_page(n_rows: int = 40, n_cols: int = 4, seed: int = 7):
    texts = sample_texts(n_rows, n_cols, seed=seed)
    spec = TableSpec(texts=texts, col_widths=[110, 80, 80, 80])
    return render_page([spec], dpi=DPI)


def answer_next_box(qtbot, button_text):
    """Click ``button_text`` in the next message box that opens."""
    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QApplication, QMessageBox

    def click():
        box = next((w for w in QApplication.topLevelWidgets()
                    if isinstance(w, QMessageBox) and w.isVisible()), None)
        if box is None:
            QTimer.singleShot(20, click)
            return
        for button in box.buttons():
            if button.text().replace("&", "") == button_text:
                button.click()
                return
        raise AssertionError(f"no {button_text} button in {[b.text() for b in box.buttons()]}")

    QTimer.singleShot(20, click)
