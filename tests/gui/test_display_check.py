"""Naming the system libraries Qt's X11 plugin lacks, before Qt aborts (app/gui/display_check.py).

The plugin here is a real copy of PySide6's libqxcb.so with one of its needed libraries
renamed in its dynamic string table, so the real loader (ldd) finds it missing."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from app.gui import display_check
from app.gui.display_check import debian_package, missing_libraries, uses_xcb, xcb_problem

ROOT = Path(__file__).resolve().parents[2]
NEEDED = b"libxcb-cursor.so.0\0"
RENAMED = b"libxcb-cursoq.so.0\0"  # same length: the string table keeps its offsets


@pytest.fixture
def plugin_missing_a_library(tmp_path) -> Path:
    """libqxcb.so whose libxcb-cursor.so.0 is now libxcb-cursoq.so.0, beside the wheel's Qt
    libraries as in PySide6 (its RUNPATH is $ORIGIN/../../lib)."""
    real = display_check.xcb_plugin_path()
    assert real is not None, "PySide6 ships the xcb plugin on Linux"
    data = real.read_bytes()
    assert NEEDED in data
    qt = tmp_path / "Qt"
    (qt / "plugins" / "platforms").mkdir(parents=True)
    (qt / "lib").symlink_to(real.parents[2] / "lib")
    plugin = qt / "plugins" / "platforms" / "libqxcb.so"
    plugin.write_bytes(data.replace(NEEDED, RENAMED))
    return plugin


def test_the_loader_names_the_library_the_plugin_lacks(plugin_missing_a_library):
    missing = missing_libraries(plugin_missing_a_library)
    assert "libxcb-cursoq.so.0" in missing
    assert not [m for m in missing if m.startswith("libQt6")]  # the wheel's own are found


def test_sonames_map_to_debian_packages():
    assert debian_package("libxcb-cursor.so.0") == "libxcb-cursor0"
    assert debian_package("libxcb-icccm.so.4") == "libxcb-icccm4"
    assert debian_package("libxkbcommon-x11.so.0") == "libxkbcommon-x11-0"
    assert debian_package("libX11-xcb.so.1") == "libx11-xcb1"


def test_only_an_x11_start_is_checked():
    assert uses_xcb({"DISPLAY": ":0"}) == sys.platform.startswith("linux")
    assert not uses_xcb({"DISPLAY": ":0", "QT_QPA_PLATFORM": "offscreen"})
    assert not uses_xcb({"DISPLAY": ":0", "WAYLAND_DISPLAY": "wayland-0",
                         "XDG_SESSION_TYPE": "wayland"})
    assert not uses_xcb({})
    assert xcb_problem({"QT_QPA_PLATFORM": "offscreen"}) is None


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="Qt's xcb plugin is Linux's")
def test_the_window_says_what_to_install_instead_of_aborting(plugin_missing_a_library, tmp_path):
    # The real `tablescribe gui` in its own process, on an X display that does not exist:
    # without the check Qt would abort (SIGABRT) trying to load the plugin or connect.
    code = ("import sys; from pathlib import Path; import app.gui.display_check as d; "
            f"d.xcb_plugin_path = lambda: Path({str(plugin_missing_a_library)!r}); "
            "from app.gui.main import main; sys.exit(main([]))")
    env = {**os.environ, "QT_QPA_PLATFORM": "xcb", "DISPLAY": ":97",
           "HOME": str(tmp_path), "XDG_CONFIG_HOME": str(tmp_path)}
    env.pop("WAYLAND_DISPLAY", None)
    proc = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode == 1, proc.stderr[-2000:]
    assert "libxcb-cursoq.so.0" in proc.stderr
    assert "sudo apt install" in proc.stderr and "libxcb-cursoq0" in proc.stderr
