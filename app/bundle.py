"""Build the self-contained application: ``python -m app.bundle [--dist DIR] [--work DIR]``.

Runs PyInstaller on ``packaging/tablescribe.spec`` (needs a source checkout and
``pip install pyinstaller``) and leaves a one-folder application, ``DIR/tablescribe/``,
that runs on a machine without Python:

    DIR/tablescribe/tablescribe convert scan.png -o scan.xlsx
    DIR/tablescribe/tablescribe gui [scan.png]
    DIR/tablescribe/tablescribe desktop install     # menu entry + icons, for this user

Build on the system you ship to (PyInstaller does not cross-compile); Windows and
macOS take the same command (README: untested there).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SPEC = ROOT / "packaging" / "tablescribe.spec"


def folder_size(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file() and not p.is_symlink())


def build(dist: Path, work: Path, clean: bool = False) -> Path:
    """Run PyInstaller; returns the application folder. Raises SystemExit with the reason."""
    if not SPEC.is_file():
        raise SystemExit(f"tablescribe bundle: {SPEC} not found: build from a source checkout")
    try:
        import PyInstaller  # noqa: F401
    except ImportError:
        raise SystemExit("tablescribe bundle: PyInstaller is not installed "
                         "(pip install pyinstaller)") from None
    cmd = [sys.executable, "-m", "PyInstaller", "--noconfirm", "--log-level", "WARN",
           "--distpath", str(dist), "--workpath", str(work), str(SPEC)]
    if clean:
        cmd.insert(3, "--clean")
    # The spec collects our packages by importing them: from this checkout.
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(
        [str(ROOT)] + ([os.environ["PYTHONPATH"]] if os.environ.get("PYTHONPATH") else []))}
    done = subprocess.run(cmd, cwd=ROOT, env=env, check=False)
    if done.returncode != 0:
        raise SystemExit(f"tablescribe bundle: PyInstaller failed (exit status {done.returncode})")
    app = dist / "tablescribe"
    exe = app / ("tablescribe.exe" if sys.platform == "win32" else "tablescribe")
    if not exe.is_file():
        raise SystemExit(f"tablescribe bundle: {exe} was not made")
    return app


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m app.bundle", description=__doc__.split("\n\n")[0])
    ap.add_argument("--dist", type=Path, default=ROOT / "dist", help="where the application goes")
    ap.add_argument("--work", type=Path, default=ROOT / "build" / "pyinstaller",
                    help="PyInstaller's work folder (kept: a rebuild reuses it)")
    ap.add_argument("--clean", action="store_true", help="empty PyInstaller's caches first")
    args = ap.parse_args(argv)
    app = build(args.dist.resolve(), args.work.resolve(), args.clean)
    print(f"{app} ({folder_size(app) / 1e6:.0f} MB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
