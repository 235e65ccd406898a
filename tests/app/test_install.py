"""A wheel holds the whole application: built, installed into a fresh virtual
environment and run from an unrelated folder, it converts the sample and opens the
window with its embedded model, samples, icons and desktop entry."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import openpyxl
import pytest

ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.slow

MODEL_FILES = {"config.json", "generation_config.json", "model.safetensors",
               "preprocessor_config.json", "tokenizer.json", "README.md"}


def _run(cmd, **kw) -> subprocess.CompletedProcess:
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=900, check=False, **kw)
    assert done.returncode == 0, f"{cmd}:\n{done.stdout[-2000:]}\n{done.stderr[-3000:]}"
    return done


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    # From a clean copy: setuptools reuses a build/ folder, which could hold files that
    # the package-data rules no longer take.
    source = out / "source"
    shutil.copytree(ROOT, source, ignore=shutil.ignore_patterns(
        ".git", "build", "dist", "*.egg-info", "__pycache__", ".pytest_cache", ".hypothesis"))
    # No build isolation: the installed setuptools builds it, without the network.
    _run([sys.executable, "-m", "pip", "wheel", str(source), "--no-deps", "--no-build-isolation",
          "-q", "-w", str(out)])
    (found,) = out.glob("tablescribe-*.whl")
    return found


def test_the_wheel_lists_model_samples_icons_desktop_entry_and_launchers(wheel):
    with zipfile.ZipFile(wheel) as zf:
        names = set(zf.namelist())
        dist_info = next(n.split("/")[0] for n in names if n.endswith(".dist-info/METADATA"))
        metadata = zf.read(f"{dist_info}/METADATA").decode()
        entry_points = zf.read(f"{dist_info}/entry_points.txt").decode()
    model = "resources/models/tablescribe-cells/"
    assert {model + f for f in MODEL_FILES} <= names
    samples = {p.name for p in (ROOT / "resources" / "samples").iterdir()}
    assert {"invoice.png", "invoice.json"} <= samples
    assert {f"resources/samples/{s}" for s in samples} <= names
    icons = {p.name for p in (ROOT / "resources" / "icons").iterdir()}
    assert {"tablescribe.svg", "tablescribe-256.png"} <= icons
    assert {f"resources/icons/{i}" for i in icons} <= names
    assert "resources/tablescribe.desktop" in names and "resources/__init__.py" in names
    assert not any(n.startswith("tests/") for n in names)
    assert "Requires-Dist: PySide6" in metadata  # the window is not an optional extra
    assert "tablescribe = app.cli:main" in entry_points
    assert "[gui_scripts]" in entry_points and "tablescribe-gui = app.gui.main:main" in entry_points


def test_the_installed_wheel_converts_and_opens_the_window_from_anywhere(wheel, tmp_path):
    venv = tmp_path / "venv"
    # --system-site-packages lends the dependencies (numpy, numba, PySide6...) without the
    # network; tablescribe's own packages must then come from the venv, checked below.
    _run([sys.executable, "-m", "venv", "--system-site-packages", str(venv)])
    python = venv / "bin" / "python"
    _run([str(python), "-m", "pip", "install", "-q", "--no-deps", "--no-index",
          "--ignore-installed", str(wheel)])  # not "already satisfied" by the outer environment
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "NUMBA_CACHE_DIR")}
    env.update(QT_QPA_PLATFORM="offscreen", TABLESCRIBE_CACHE_DIR=str(tmp_path / "cache"))
    code = ("import json, app, engine, ocr, table, resources; "
            "print(json.dumps({m.__name__: m.__file__ for m in (app, engine, ocr, table, resources)}))")
    where = _run([str(python), "-c", code],
                 cwd=elsewhere, env=env)
    site = _run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                cwd=elsewhere, env=env).stdout.strip()
    for name, file in json.loads(where.stdout).items():
        assert Path(file).is_relative_to(site), f"{name} imported from {file}, not the venv"
    code = "import resources; print(resources.path('samples', 'invoice.png'))"
    sample = Path(_run([str(python), "-c", code],
                       cwd=elsewhere, env=env).stdout.strip())
    assert sample.is_relative_to(site)

    done = _run([str(venv / "bin" / "tablescribe"), "convert", str(sample), "-o", "invoice.xlsx"],
                cwd=elsewhere, env=env)
    assert "1 table(s), 37 cells" in done.stdout
    assert "preparing the engine (first start" in done.stderr  # a new install compiles once
    truth = json.loads(sample.with_suffix(".json").read_text(encoding="utf-8"))
    sheet = openpyxl.load_workbook(elsewhere / "invoice.xlsx").active
    got = {str(c.value) for row in sheet.iter_rows() for c in row if c.value is not None}
    texts = {c["text"] for c in truth["tables"][0]["cells"]}
    # The embedded model read the sample (these lines are in the truth and in the workbook).
    assert {"Description", "Unit price", "Printer paper, A4 80 g"} <= texts & got

    _run([str(venv / "bin" / "tablescribe-gui"), "--screenshot", "shot.png", str(sample)],
         cwd=elsewhere, env=env)
    assert (elsewhere / "shot.png").stat().st_size > 10_000
