"""The Help menu: About with the versions of what runs, the model card, room for more."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from importlib.metadata import version as installed_version
from pathlib import Path

from PySide6.QtWidgets import QMessageBox

ROOT = Path(__file__).resolve().parents[2]
CARD = ROOT / "resources" / "models" / "tablescribe-cells" / "README.md"


def help_items(window) -> list[str]:
    return [a.text().replace("&", "") for a in window.help_menu.actions()]


def test_help_menu_has_the_model_card_and_about_last(window):
    assert help_items(window) == ["Model Card", "Open Log Folder", "", "About tablescribe"]
    assert window.menuBar().actions()[-1].menu() is window.help_menu
    # Another feature adds its own item above About, without touching the rest.
    seen = []
    added = window.add_help_action("Keyboard Shortcuts", lambda: seen.append(True))
    assert help_items(window) == ["Model Card", "Open Log Folder", "Keyboard Shortcuts", "",
                                  "About tablescribe"]
    added.trigger()
    assert seen == [True]


def test_about_names_the_versions_model_and_device(qtbot, window):
    window.settings.device = "cpu"
    window.act_about.trigger()
    box = window._about_box
    assert isinstance(box, QMessageBox) and box.isVisible()
    text = box.text()
    assert f"<td>{installed_version('tablescribe')}</td>" in text
    assert "tablescribe-cells (embedded)" in text
    assert f"<td>{CARD.read_text(encoding='utf-8').splitlines()[0][2:]}</td>" in text
    assert "<b>Engine device</b>&nbsp;&nbsp;</td><td>cpu</td>" in text
    box.close()


def test_about_names_a_model_folder_from_the_settings(qtbot, window, tmp_path):
    folder = tmp_path / "my-model"
    folder.mkdir()
    (folder / "README.md").write_text("---\nlicense: mit\n---\n# My fine-tuned cells\n\nText.\n",
                                      encoding="utf-8")
    window.settings.model_source = "folder"
    window.settings.model_folder = str(folder)
    # What resolve_model checks for a model folder (nothing is loaded to name it).
    (folder / "config.json").write_text(json.dumps({}), encoding="utf-8")
    (folder / "model.safetensors").write_bytes(b"")
    box = window.show_about()
    assert str(folder) in box.text() and "My fine-tuned cells" in box.text()
    box.close()


def test_model_card_is_shown_from_the_help_menu(qtbot, window):
    window.act_model_card.trigger()
    dialog = window._model_card
    assert dialog.isVisible() and dialog.card == CARD
    assert "tablescribe-cells" in dialog.windowTitle()
    shown = dialog.browser.toPlainText()
    assert "Training data" in shown and "second_look" in shown
    dialog.close()


def test_a_model_without_a_card_says_so(qtbot, window, tmp_path):
    window.settings.model_source = "folder"
    window.settings.model_folder = str(tmp_path / "gone")
    assert window.show_model_card() is None
    assert window.banner.level == "warning" and "No model card" in window.banner.text()
    assert str(tmp_path / "gone") in window.banner.text()


def _cli(*args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "PYTHONPATH": str(ROOT)}
    return subprocess.run([sys.executable, "-m", "app", *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=120, check=False)


def test_gui_help_lists_the_window_options():
    proc = _cli("gui", "--help")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("usage: tablescribe gui")
    for option in ("--screenshot", "--size", "--theme", "--batch"):
        assert option in proc.stdout


def test_version_is_the_installed_package_version():
    proc = _cli("--version")
    assert proc.returncode == 0 and proc.stdout.strip() == f"tablescribe {installed_version('tablescribe')}"


def test_open_log_folder_shows_the_log_folder(window, tmp_path, monkeypatch):
    from app import logs

    monkeypatch.setenv("TABLESCRIBE_LOG_DIR", str(tmp_path / "logs"))
    opened = []
    window.open_log_folder(lambda url: opened.append(url.toLocalFile()) or True)
    assert opened == [str(logs.log_dir())]
    assert (tmp_path / "logs").is_dir()
    # The menu item is wired to it (the desktop's opener stubbed out).
    monkeypatch.setattr(logs, "open_log_folder", lambda open_url=None: opened.append("menu"))
    window.act_log_folder.trigger()
    assert opened[-1] == "menu"
