"""The window with no recogniser handed in: it loads the model the settings name through
app.recognizers.load_recognizer, as the installed application does.

The model folder is a randomly initialised TrOCR the test writes (with transformers, so
torch is needed): its text is noise, but everything from the settings to the engine is
the real code path.
"""

from __future__ import annotations

import pytest

from app.gui.main_window import MainWindow
from app.gui.settings_dialog import model_folder_problem
from tests.gui.conftest import open_and_convert

pytest.importorskip("torch", reason="torch (the test extra 'reference') writes the model folder")
pytest.importorskip("transformers",
                    reason="transformers (the test extra 'reference') writes the model folder")


@pytest.fixture(scope="module")
def model_folder(tmp_path_factory):
    from training.charset_tokenizer import SPECIALS, build_char_tokenizer
    from training.reference_models import VOCAB, build_reference, save_reference

    folder = save_reference(build_reference("vit_nonsquare_proj"),
                            tmp_path_factory.mktemp("model"))
    chars = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRST"[: VOCAB - len(SPECIALS)]
    build_char_tokenizer(chars).save(str(folder / "tokenizer.json"))
    return folder


@pytest.fixture
def plain_window(qtbot, settings):
    window = MainWindow(settings)  # no recogniser factory: the real default
    window.resize(1280, 800)
    window.show()
    yield window
    window.cancel_work()
    window.wait_for_jobs()
    if window.doc is not None:
        window.doc.undo_stack.setClean()
    window.close()
    window.deleteLater()


def test_convert_with_a_model_folder_from_the_settings(qtbot, plain_window, settings,
                                                       model_folder, merged_scan):
    assert model_folder_problem(str(model_folder)) is None
    settings.model_source = "folder"
    settings.model_folder = str(model_folder)
    settings.device = "cpu"
    open_and_convert(qtbot, plain_window, merged_scan[0])
    table = plain_window.model.table
    assert (table.n_rows, table.n_cols) == (merged_scan[1].n_rows, merged_scan[1].n_cols)
    assert all(0.0 <= c.confidence <= 1.0 for c in table.cells)
    from ocr import Recognizer

    assert isinstance(plain_window.recognizers._recognizer, Recognizer)


def test_a_model_that_cannot_load_is_a_message(qtbot, plain_window, settings, tmp_path,
                                               merged_scan):
    broken = tmp_path / "broken-model"
    broken.mkdir()
    (broken / "config.json").write_text("{ not json")
    settings.model_source = "folder"
    settings.model_folder = str(broken)
    with qtbot.waitSignal(plain_window.documentOpened, timeout=60_000):
        plain_window.open_file(merged_scan[0])
    with qtbot.waitSignal(plain_window.conversionFailed, timeout=120_000):
        plain_window.convert()
    assert plain_window.banner.level == "error"
    text = plain_window.banner.text()
    assert "merged.png" in text and f"cannot load {broken}" in text
    assert "invalid JSON" in text
    assert not plain_window.busy and plain_window.act_convert.isEnabled()
