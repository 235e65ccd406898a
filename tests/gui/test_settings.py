"""AppSettings: defaults, validation, recent files, what the exporter gets."""

from __future__ import annotations

import pytest
from PySide6.QtCore import QSettings

from app.gui.settings import MAX_RECENT, AppSettings


@pytest.fixture
def ini(tmp_path):
    return str(tmp_path / "s.ini")


def fresh(ini):
    return AppSettings(QSettings(ini, QSettings.IniFormat))


def test_defaults(ini):
    s = fresh(ini)
    assert (s.model_source, s.device, s.threshold, s.pdf_dpi) == ("embedded", "auto", 0.8, 300)
    assert s.model_spec() is None and s.device_spec() is None
    assert s.recent_files == [] and s.theme == "system"
    options = s.export_options()
    assert options.highlight_below == 0.8 and options.comments and not options.csv_bom


def test_model_choice_maps_to_what_load_recognizer_takes(ini, tmp_path):
    s = fresh(ini)
    s.model_source = "folder"
    s.model_folder = str(tmp_path)
    s.device = "cuda"
    assert fresh(ini).model_spec() == str(tmp_path) and fresh(ini).device_spec() == "cuda"
    s.model_source = "hub"
    s.model_hub_id = " microsoft/trocr-small-printed "
    assert fresh(ini).model_spec() == "microsoft/trocr-small-printed"
    with pytest.raises(ValueError):
        s.device = "tpu"


def test_bad_stored_values_fall_back_to_defaults(ini):
    q = QSettings(ini, QSettings.IniFormat)
    q.setValue("review/threshold", "lots")
    q.setValue("input/pdf_dpi", 5)
    q.setValue("model/device", "gpu9")
    q.sync()
    s = fresh(ini)
    assert (s.threshold, s.pdf_dpi, s.device) == (0.8, 72, "auto")


def test_recent_files_newest_first_without_duplicates(ini, tmp_path):
    s = fresh(ini)
    paths = [tmp_path / f"scan{i}.png" for i in range(MAX_RECENT + 3)]
    for p in paths:
        s.add_recent(p)
    s.add_recent(paths[-3])  # opened again: moves to the top
    recent = fresh(ini).recent_files
    assert len(recent) == MAX_RECENT and recent[0] == str(paths[-3].resolve())
    assert len(set(recent)) == len(recent)
    s.remove_recent(paths[-3])
    assert str(paths[-3].resolve()) not in fresh(ini).recent_files
    s.add_recent(paths[0])
    s.clear_recent()
    assert fresh(ini).recent_files == []
