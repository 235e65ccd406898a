"""GUI test fixtures: the real MainWindow, off-screen, with the real pipeline.

QT_QPA_PLATFORM must be set before the QApplication exists, so it is set here, at
import time, before any test module imports Qt widgets.
"""

from __future__ import annotations

import os

os.environ["QT_QPA_PLATFORM"] = "offscreen"

from pathlib import Path

import pytest
from PIL import Image

from tests.gui.helpers import (  # noqa: F401
    DPI,
    GatedRecognizer,
    ShapeRecognizer,
    long_table_page,
    recognizer_instance,
)
from tests.table.render import merged_spec, render_page


@pytest.fixture(autouse=True)
def corrections_dir(tmp_path, monkeypatch):
    """Corrections typed in tests go to a temporary folder, never the user's."""
    from app.corrections import ENV_DIR

    folder = tmp_path / "corrections"
    monkeypatch.setenv(ENV_DIR, str(folder))
    return folder


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
