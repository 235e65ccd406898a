"""Say which system libraries are missing before Qt aborts on a Linux desktop.

Qt's X11 platform plugin (``xcb``, also what XWayland sessions use) needs a dozen
``libxcb-*`` libraries. Desktop installs have them; minimal ones (servers with a
forwarded display, containers, WSL) often lack some, ``libxcb-cursor0`` above all since
Qt 6.5. When one is missing Qt prints that the "xcb" plugin could not be loaded and
aborts the process, without naming the library. We ask the dynamic loader first
(``ldd`` on the plugin: every unresolved library at once, not only the first) and
name the missing libraries and the packages that hold them.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path

_NOT_FOUND = re.compile(r"^\s*(\S+)\s+=>\s+not found\s*$")


def xcb_plugin_path() -> Path | None:
    """Qt's xcb platform plugin as PySide6 ships it (None where there is none)."""
    from PySide6.QtCore import QLibraryInfo

    plugins = Path(QLibraryInfo.path(QLibraryInfo.LibraryPath.PluginsPath))
    plugin = plugins / "platforms" / "libqxcb.so"
    return plugin if plugin.is_file() else None


def missing_libraries(plugin: Path) -> list[str]:
    """The shared libraries ``plugin`` needs that the loader cannot find, by soname.

    Empty when all are found, or when ``ldd`` is not there to ask (Qt then says what
    it can)."""
    ldd = shutil.which("ldd")
    if ldd is None:
        return []
    try:
        out = subprocess.run([ldd, str(plugin)], capture_output=True, text=True,
                             timeout=30, check=False).stdout
    except (OSError, subprocess.TimeoutExpired):
        return []
    found = (_NOT_FOUND.match(line) for line in out.splitlines())
    return sorted({m.group(1) for m in found if m})


def debian_package(soname: str) -> str:
    """The Debian/Ubuntu package that holds ``soname`` by Debian's library naming policy:
    libxcb-cursor.so.0 -> libxcb-cursor0, libxkbcommon-x11.so.0 -> libxkbcommon-x11-0."""
    m = re.fullmatch(r"(lib.+?)\.so\.(\d+)(?:\..*)?", soname)
    if not m:
        return soname
    name, major = m.groups()
    return f"{name}{'-' if name[-1].isdigit() else ''}{major}".lower()


def uses_xcb(env: Mapping[str, str] = os.environ) -> bool:
    """Whether Qt will start its X11 platform: on Linux, asked for it by
    QT_QPA_PLATFORM, or by default on an X display outside a Wayland session."""
    if not sys.platform.startswith("linux"):
        return False
    chosen = env.get("QT_QPA_PLATFORM", "")
    if chosen:
        return chosen.split(":")[0].split(";")[0] == "xcb"
    wayland = env.get("WAYLAND_DISPLAY") and env.get("XDG_SESSION_TYPE") == "wayland"
    return bool(env.get("DISPLAY")) and not wayland


def xcb_problem(env: Mapping[str, str] = os.environ, plugin: Path | None = None) -> str | None:
    """A message naming what keeps Qt's X11 platform from loading, or None."""
    if not uses_xcb(env):
        return None
    plugin = plugin or xcb_plugin_path()
    if plugin is None:
        return None
    missing = missing_libraries(plugin)
    if not missing:
        return None
    packages = " ".join(dict.fromkeys(debian_package(s) for s in missing))
    return (f"cannot open a window on this X11 display: Qt's platform plugin {plugin} "
            f"needs {', '.join(missing)}, not installed on this system. "
            f"On Debian or Ubuntu: sudo apt install {packages} "
            "(other systems name the packages alike). On a Wayland desktop, "
            "QT_QPA_PLATFORM=wayland uses Wayland instead.")
