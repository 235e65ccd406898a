"""The application icon (SVG + PNGs drawn by app.gui.icon) and the .desktop entry."""

from __future__ import annotations

import configparser
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import resources
from app.gui.icon import ICON_DIR, PNG_SIZES, render_png, write_icons

ROOT = Path(__file__).resolve().parents[2]
DESKTOP = resources.path(resources.DESKTOP_FILE)


def test_shipped_pngs_exist_in_every_size_and_are_not_blank():
    for size in PNG_SIZES:
        image = Image.open(ICON_DIR / f"tablescribe-{size}.png")
        assert image.size == (size, size) and image.mode == "RGBA"
        alpha = np.asarray(image)[..., 3]
        assert alpha[size // 2, size // 2] == 255 and alpha[0, 0] == 0  # rounded corners


def test_the_svg_renders_like_the_png(qapp, tmp_path):
    from PySide6.QtGui import QImage, QPainter
    from PySide6.QtSvg import QSvgRenderer

    renderer = QSvgRenderer(str(ICON_DIR / "tablescribe.svg"))
    assert renderer.isValid()
    image = QImage(128, 128, QImage.Format_ARGB32)
    image.fill(0)
    painter = QPainter(image)
    renderer.render(painter)
    painter.end()
    image.save(str(tmp_path / "svg.png"))
    from_svg = np.asarray(Image.open(tmp_path / "svg.png").convert("RGBA"), dtype=float)
    shipped = np.asarray(Image.open(ICON_DIR / "tablescribe-128.png").convert("RGBA"), dtype=float)
    assert np.abs(from_svg - shipped).mean() < 6.0


def test_the_shipped_icons_are_what_the_drawing_code_makes(qapp, tmp_path):
    written = write_icons(tmp_path)
    assert {p.name for p in written} >= {"tablescribe.svg", "tablescribe.png"}
    for size in (32, 256):
        fresh = np.asarray(Image.open(tmp_path / f"tablescribe-{size}.png"), dtype=float)
        shipped = np.asarray(Image.open(ICON_DIR / f"tablescribe-{size}.png"), dtype=float)
        assert np.abs(fresh - shipped).max() <= 2  # regenerate with: python -m app.gui.icon
    assert not render_png(64).isNull()


def test_desktop_entry_launches_the_gui_script_with_our_icon():
    parser = configparser.ConfigParser(interpolation=None)
    parser.optionxform = str
    parser.read(DESKTOP, encoding="utf-8")
    entry = parser["Desktop Entry"]
    assert entry["Type"] == "Application"
    assert entry["Exec"].split()[0] == "tablescribe-gui"
    assert entry["Icon"] == "tablescribe"
    assert set(entry["MimeType"].strip(";").split(";")) >= {"image/png", "image/jpeg",
                                                             "image/tiff", "application/pdf"}
    pyproject = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    assert 'tablescribe-gui = "app.gui.main:main"' in pyproject


@pytest.mark.skipif(shutil.which("desktop-file-validate") is None,
                    reason="desktop-file-validate (desktop-file-utils) is not installed")
def test_desktop_entry_passes_the_freedesktop_validator():
    done = subprocess.run(["desktop-file-validate", str(DESKTOP)], capture_output=True, text=True,
                          check=False)
    assert done.returncode == 0, done.stdout + done.stderr


def test_resources_are_found_as_package_data_not_beside_the_source_tree():
    # Installed from a wheel, ../resources of a module is not there: every data file is
    # found through the resources package (importlib.resources).
    import re

    from app.samples import DEFAULT_DIR
    from ocr.recognizer import DEFAULT_MODEL_DIR

    package = Path(resources.__file__).parent
    for folder in (ICON_DIR, DEFAULT_DIR, DEFAULT_MODEL_DIR, DESKTOP.parent):
        assert folder.is_relative_to(package) and folder.exists()
    relative = re.compile(r"""(parent|parents\[\d\])\s*/\s*["']resources["']""")
    offenders = [f"{path.relative_to(ROOT)}:{n}"
                 for pkg in ("app", "engine", "ocr", "table")
                 for path in (ROOT / pkg).rglob("*.py")
                 for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
                 if relative.search(line)]
    assert not offenders, offenders


def test_desktop_install_points_the_menu_at_this_installation(tmp_path, monkeypatch):
    from app import desktop

    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "share"))
    launcher = tmp_path / "opt tablescribe" / "tablescribe"
    written = desktop.install(command=[str(launcher), "gui"])
    entry_file = tmp_path / "share" / "applications" / "tablescribe.desktop"
    assert written[0] == entry_file
    parser = configparser.ConfigParser(interpolation=None)
    parser.optionxform = str
    parser.read(entry_file, encoding="utf-8")
    assert parser["Desktop Entry"]["Exec"] == f'"{launcher}" gui %f'  # quoted: a space
    assert parser["Desktop Entry"]["TryExec"] == str(launcher)
    assert parser["Desktop Action batch"]["Exec"] == f'"{launcher}" gui --batch'
    for size in PNG_SIZES:
        assert (tmp_path / "share" / "icons" / "hicolor" / f"{size}x{size}" / "apps"
                / "tablescribe.png").is_file()
    assert (tmp_path / "share" / "icons" / "hicolor" / "scalable" / "apps" / "tablescribe.svg").is_file()
    done = subprocess.run(["desktop-file-validate", str(entry_file)], capture_output=True, text=True,
                          check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    removed = desktop.uninstall()
    assert set(removed) == set(written) and not entry_file.exists()
