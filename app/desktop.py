"""Put tablescribe in the desktop's application menu: ``tablescribe desktop install``.

Writes the shipped .desktop entry (package data of ``resources``) into
``$XDG_DATA_HOME/applications`` (default ``~/.local/share``) with ``Exec`` and
``TryExec`` naming this installation's launcher by its full path, so the entry works
whether tablescribe came with pipx, pip, a wheel or as a bundle, whatever the PATH of
the desktop session; and the icons into ``icons/hicolor/<size>/apps``. ``uninstall``
removes exactly those files. Linux and other freedesktop.org desktops only.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import resources

ENTRY_NAME = "tablescribe.desktop"
ICON_NAME = "tablescribe"


def data_home() -> Path:
    return Path(os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share")


def launcher() -> list[str]:
    """The command that opens the window for this installation, as an argv prefix."""
    if getattr(sys, "frozen", False):  # the PyInstaller bundle: its one executable
        return [str(Path(sys.executable).resolve()), "gui"]
    here = Path(sys.argv[0]).resolve().parent if sys.argv and sys.argv[0] else None
    for folder in filter(None, (here, Path(sys.executable).parent)):
        script = folder / ("tablescribe-gui.exe" if os.name == "nt" else "tablescribe-gui")
        if script.is_file():
            return [str(script)]
    found = shutil.which("tablescribe-gui")
    if found:
        return [str(Path(found).resolve())]
    return [str(Path(sys.executable).resolve()), "-m", "app", "gui"]


def _quote(arg: str) -> str:
    # The Desktop Entry spec's quoting: reserved characters make an argument quoted.
    if not any(c in arg for c in ' \t\n"\'\\><~|&;$*?#()`'):
        return arg
    return '"' + "".join("\\" + c if c in '"`$\\' else c for c in arg) + '"'


def entry_text(command: list[str]) -> str:
    """The shipped entry with Exec/TryExec pointing at ``command``."""
    text = resources.path(resources.DESKTOP_FILE).read_text(encoding="utf-8")
    exec_cmd = " ".join(_quote(a) for a in command)
    lines = []
    for line in text.splitlines():
        key, sep, value = line.partition("=")
        if sep and key == "Exec":
            args = value.split()[1:]  # keep %f / --batch after the program
            line = f"Exec={' '.join([exec_cmd, *args])}"
        elif sep and key == "TryExec":
            line = f"TryExec={command[0]}"
        lines.append(line)
    return "\n".join(lines) + "\n"


def _icon_targets(root: Path) -> list[tuple[Path, Path]]:
    icons = resources.path(resources.ICONS)
    pairs = []
    for png in sorted(icons.glob(f"{ICON_NAME}-*.png")):
        size = png.stem.rsplit("-", 1)[1]
        pairs.append((png, root / "icons" / "hicolor" / f"{size}x{size}" / "apps" / f"{ICON_NAME}.png"))
    svg = icons / f"{ICON_NAME}.svg"
    if svg.is_file():
        pairs.append((svg, root / "icons" / "hicolor" / "scalable" / "apps" / f"{ICON_NAME}.svg"))
    return pairs


def install(root: Path | None = None, command: list[str] | None = None) -> list[Path]:
    """Write the entry and the icons under ``root`` (default: data_home()); returns them."""
    root = root or data_home()
    written = []
    entry = root / "applications" / ENTRY_NAME
    entry.parent.mkdir(parents=True, exist_ok=True)
    entry.write_text(entry_text(command or launcher()), encoding="utf-8")
    written.append(entry)
    for src, dst in _icon_targets(root):
        dst.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(src, dst)
        written.append(dst)
    _refresh(root)
    return written


def uninstall(root: Path | None = None) -> list[Path]:
    root = root or data_home()
    removed = []
    for path in [root / "applications" / ENTRY_NAME] + [dst for _, dst in _icon_targets(root)]:
        if path.is_file():
            path.unlink()
            removed.append(path)
    _refresh(root)
    return removed


def _refresh(root: Path) -> None:
    """Tell the menu and the icon theme (where their tools exist; harmless without)."""
    for cmd in (["update-desktop-database", str(root / "applications")],
                ["gtk-update-icon-cache", "-q", "-t", str(root / "icons" / "hicolor")]):
        if shutil.which(cmd[0]):
            subprocess.run(cmd, capture_output=True, check=False)
