"""GUI test fixtures: the real MainWindow, off-screen, with the real pipeline.

QT_QPA_PLATFORM must be set before the QApplication exists, so it is set here, at
import time, before any test module imports Qt widgets.
"""

from __future__ import annotations

import os

os.environ["QT_QPA_PLATFORM"] = "offscreen"

import threading  # noqa: E402
from dataclasses import dataclass  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
import pytest  # noqa: E402
from PIL import Image  # noqa: E402

from tests.table.render import TableSpec, merged_spec, render_page, sample_texts  # noqa: E402

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


@pytest.fixture
def recognizer():
    return recognizer_instance()


@pytest.fixture
def gated(recognizer):
    """A GatedRecognizer whose gate opens at teardown at the latest (request it after
    make_window, so it is torn down first and the window's job can finish)."""
    rec = GatedRecognizer(recognizer)
    yield rec
    rec.gate.set()


# -- settings, window ----------------------------------------------------------------------

@pytest.fixture
def settings(tmp_path):
    from PySide6.QtCore import QSettings

    from app.gui.settings import AppSettings

    s = AppSettings(QSettings(str(tmp_path / "settings.ini"), QSettings.IniFormat))
    s.convert_on_open = False  # tests convert explicitly unless they test auto-convert
    return s


@pytest.fixture
def make_window(qtbot, settings, recognizer):
    from app.gui.main_window import MainWindow

    windows = []

    def make(factory=None, **kw):
        window = MainWindow(settings, recognizer_factory=factory or (lambda m, d: recognizer), **kw)
        # Not qtbot.addWidget: pytest-qt would close it before this fixture can mark the
        # edits as handled, and the close would wait on the "unexported edits" question.
        window.resize(1280, 800)
        window.show()
        qtbot.waitExposed(window)
        windows.append(window)
        return window

    yield make
    for window in windows:
        window.cancel_work()
        window.wait_for_jobs()
        if window.doc is not None:
            window.doc.undo_stack.setClean()  # no "unexported edits" prompt at teardown
        window.close()
        window.deleteLater()


@pytest.fixture
def window(make_window):
    return make_window()


# -- scans the tests render ----------------------------------------------------------------

@pytest.fixture
def merged_scan(tmp_path) -> tuple[Path, object]:
    """A 6 x 5 ruled table with a column span, a row span and a 2 x 2 block."""
    page = render_page([merged_spec()], dpi=DPI)
    path = tmp_path / "merged.png"
    Image.fromarray(page.image).save(path, dpi=(DPI, DPI))
    return path, page.tables[0]


def long_table_page(n_rows: int = 40, n_cols: int = 4, seed: int = 7):
    texts = sample_texts(n_rows, n_cols, seed=seed)
    spec = TableSpec(texts=texts, col_widths=[110, 80, 80, 80])
    return render_page([spec], dpi=DPI)


@pytest.fixture
def long_scan(tmp_path) -> tuple[Path, object]:
    page = long_table_page()
    path = tmp_path / "long.png"
    Image.fromarray(page.image).save(path, dpi=(DPI, DPI))
    return path, page.tables[0]


def open_and_convert(qtbot, window, path, timeout=120_000):
    with qtbot.waitSignal(window.documentOpened, timeout=timeout):
        assert window.open_file(path)
    with qtbot.waitSignal(window.conversionFinished, timeout=timeout):
        assert window.convert()
    return window.doc
