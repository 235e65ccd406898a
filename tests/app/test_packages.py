"""tablescribe's plainly named top-level packages (app, engine, ocr, table, resources):
another project's package of the same name in the environment is named, not obeyed."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import app

ROOT = Path(__file__).resolve().parents[2]


def test_our_packages_come_from_one_place():
    assert app.foreign_packages() == []


def test_a_foreign_engine_package_is_named_and_the_command_stops(tmp_path):
    (tmp_path / "shadow" / "engine").mkdir(parents=True)
    (tmp_path / "shadow" / "engine" / "__init__.py").write_text("")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(tmp_path / "shadow"), str(ROOT)])}
    done = subprocess.run([sys.executable, "-m", "app", "--version"], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0  # --version needs nothing of it
    done = subprocess.run([sys.executable, "-m", "app", "convert", "scan.png", "-o", "out.xlsx"],
                          cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 1
    assert "shadows tablescribe's: engine (" in done.stderr and "pipx" in done.stderr
