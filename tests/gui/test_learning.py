"""The Model menu on the real window: typed corrections are recorded with the crop the
recogniser saw, recording can be turned off, corrections cleared, and learning from
them offers the tuned model (and the way back to the embedded one)."""

from __future__ import annotations

import json
import shutil
import time

import numpy as np
from PIL import Image

from app.corrections import LABELS, CorrectionStore, read_corrections
from app.tuning import TuneReport
from table.cells import page_line_crops
from tests.gui.conftest import open_and_convert
from tests.gui.helpers import answer_next_box


def _text_cell(window):
    table = window.pages.table()
    return next(c for c in table.cells if c.text and "\n" not in c.text and not c.is_merged)


def test_a_typed_cell_is_recorded_with_the_crop_the_recogniser_saw(qtbot, window, merged_scan,
                                                                   corrections_dir):
    doc = open_and_convert(qtbot, window, merged_scan[0])
    cell = _text_cell(window)
    read = cell.text
    assert window.edit_cell(cell.row, cell.col, "Corrected 42")
    entries = [json.loads(line) for line in (corrections_dir / LABELS).read_text().splitlines()]
    assert len(entries) == 1
    assert entries[0]["text"] == "Corrected 42" and entries[0]["read"] == read
    assert entries[0]["model"]
    saved = np.asarray(Image.open(corrections_dir / entries[0]["image"]))
    result = doc.results[window.pages.current_page]
    context = [c for t in result.tables for c in t.cells]
    expected = page_line_crops(result.image, [cell], context)[0][0]
    assert np.array_equal(saved, expected)
    assert read_corrections(corrections_dir).texts == ["Corrected 42"]


def test_recording_off_and_clear_corrections(qtbot, window, merged_scan, corrections_dir):
    open_and_convert(qtbot, window, merged_scan[0])
    cell = _text_cell(window)
    window.edit_cell(cell.row, cell.col, "first")
    assert CorrectionStore(corrections_dir).count() == 1
    window.learning.act_record.setChecked(False)
    assert window.settings.record_corrections is False
    window.edit_cell(cell.row, cell.col, "second")
    assert CorrectionStore(corrections_dir).count() == 1
    window.learning.update_actions()
    assert window.learning.act_clear.isEnabled()
    answer_next_box(qtbot, "Yes")
    window.learning.act_clear.trigger()
    assert CorrectionStore(corrections_dir).count() == 0
    assert not list(corrections_dir.glob("*.png"))


def _fill(store, n=6):
    for i in range(n):
        store.add(np.full((20, 60), 255 - i, np.uint8), f"text {i}")


def test_learning_offers_the_tuned_model_and_the_way_back(qtbot, window, tmp_path):
    from ocr import DEFAULT_MODEL_DIR

    _fill(window.learning.store)
    window.learning.output_root = lambda: tmp_path / "models"
    calls = []

    def fake_tune(folder, out, base=None, minutes=10.0, device=None, progress=None,
                  cancelled=None):
        calls.append((folder, base, minutes))
        progress(0.5, "step 1")
        shutil.copytree(DEFAULT_MODEL_DIR, out)
        return TuneReport(str(out), "base", True, "exact 50% -> 100%", 5, 1,
                          after={"corrections": {}})

    window.learning.tune = fake_tune
    window.learning.update_actions()
    assert window.learning.act_learn.isEnabled()
    answer_next_box(qtbot, "Yes")
    with qtbot.waitSignal(window.jobs.jobEnded, timeout=30_000):
        window.learning.act_learn.trigger()
    qtbot.waitUntil(lambda: window.settings.model_source == "folder", timeout=10_000)
    assert calls == [(window.learning.store.folder, None, window.settings.tune_minutes)]
    out = window.settings.model_folder
    assert out.startswith(str(tmp_path / "models"))
    window.learning.update_actions()
    assert window.learning.act_embedded.isEnabled()
    window.learning.act_embedded.trigger()
    assert window.settings.model_source == "embedded" and window.settings.model_spec() is None


def test_learning_can_be_cancelled_and_changes_nothing(qtbot, window, tmp_path):
    _fill(window.learning.store)
    window.learning.output_root = lambda: tmp_path / "models"

    def slow_tune(folder, out, base=None, minutes=10.0, device=None, progress=None,
                  cancelled=None):
        while not cancelled():
            progress(0.1, "step")
            time.sleep(0.01)
        return TuneReport(str(out), "base", False, "cancelled", 5, 1, cancelled=True)

    window.learning.tune = slow_tune
    window.learning.learn()
    assert window.busy
    with qtbot.waitSignal(window.jobs.jobEnded, timeout=30_000):
        window.cancel_work()
    assert window.settings.model_source == "embedded"
    assert not (tmp_path / "models").exists()
