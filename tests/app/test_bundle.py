"""The self-contained application: PyInstaller builds it from packaging/tablescribe.spec
(python -m app.bundle), and it converts the sample and opens the window with a bare
environment (no PYTHONPATH, no virtual environment, PATH without our Python)."""

from __future__ import annotations

import configparser
import os
import subprocess
from pathlib import Path

import openpyxl
import pytest

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def bundle(tmp_path_factory) -> Path:
    from app.bundle import build

    # TABLESCRIBE_BUNDLE_WORK keeps PyInstaller's work folder between runs (a rebuild
    # then takes minutes less); by default it is a fresh temporary folder.
    work = Path(os.environ.get("TABLESCRIBE_BUNDLE_WORK") or tmp_path_factory.mktemp("pyinstaller"))
    return build(tmp_path_factory.mktemp("dist"), work)


def _bare_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    return {"HOME": str(tmp_path / "home"), "PATH": "/usr/bin:/bin", "LANG": "C.UTF-8",
            "TABLESCRIBE_CACHE_DIR": str(tmp_path / "cache"), **extra}


def _run(cmd, cwd, env) -> subprocess.CompletedProcess:
    done = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=600,
                          check=False)
    assert done.returncode == 0, f"{cmd}:\n{done.stdout[-2000:]}\n{done.stderr[-3000:]}"
    return done


def test_the_bundle_carries_python_the_model_and_the_engine_sources(bundle):
    internal = bundle / "_internal"
    assert list(internal.glob("libpython3*.so*")) or list(internal.glob("python3*.dll"))
    model = internal / "resources" / "models" / "tablescribe-cells"
    assert (model / "model.safetensors").is_file() and (model / "tokenizer.json").is_file()
    assert (internal / "resources" / "samples" / "invoice.png").is_file()
    assert (internal / "resources" / "tablescribe.desktop").is_file()
    assert (internal / "resources" / "icons" / "tablescribe-256.png").is_file()
    # numba caches a kernel only when its source is a file: the engine travels as .py.
    assert (internal / "engine" / "backend" / "cpu" / "rows.py").is_file()
    assert not (internal / "torch").exists() and not (internal / "training").exists()


def test_the_bundle_converts_the_sample_in_a_bare_environment(bundle, tmp_path):
    exe = bundle / "tablescribe"
    sample = bundle / "_internal" / "resources" / "samples" / "invoice.png"
    (tmp_path / "elsewhere").mkdir()
    env = _bare_env(tmp_path)
    first = _run([str(exe), "convert", str(sample), "-o", "invoice.xlsx"], tmp_path / "elsewhere", env)
    assert "1 table(s), 37 cells" in first.stdout
    assert "preparing the engine (first start" in first.stderr
    # Frozen: numba's cache is in the user's cache folder, not inside the bundle.
    assert list((tmp_path / "cache" / "numba").rglob("*.nbi"))
    sheet = openpyxl.load_workbook(tmp_path / "elsewhere" / "invoice.xlsx").active
    assert "Printer paper, A4 80 g" in {c.value for row in sheet.iter_rows() for c in row}
    again = _run([str(exe), "convert", str(sample), "-o", "again.csv"], tmp_path / "elsewhere", env)
    assert "preparing the engine" not in again.stderr and "37 cells" in again.stdout


def test_the_bundle_opens_the_window(bundle, tmp_path):
    sample = bundle / "_internal" / "resources" / "samples" / "invoice.png"
    env = _bare_env(tmp_path, QT_QPA_PLATFORM="offscreen")
    _run([str(bundle / "tablescribe"), "gui", "--screenshot", str(tmp_path / "shot.png"), str(sample)],
         tmp_path, env)
    assert (tmp_path / "shot.png").stat().st_size > 10_000


def test_the_bundle_installs_its_desktop_entry(bundle, tmp_path):
    env = _bare_env(tmp_path, XDG_DATA_HOME=str(tmp_path / "share"))
    _run([str(bundle / "tablescribe"), "desktop", "install"], tmp_path, env)
    entry = tmp_path / "share" / "applications" / "tablescribe.desktop"
    parser = configparser.ConfigParser(interpolation=None)
    parser.optionxform = str
    parser.read(entry, encoding="utf-8")
    assert parser["Desktop Entry"]["Exec"] == f"{(bundle / 'tablescribe').resolve()} gui %f"
    assert (tmp_path / "share" / "icons" / "hicolor" / "256x256" / "apps" / "tablescribe.png").is_file()
    done = subprocess.run(["desktop-file-validate", str(entry)], capture_output=True, text=True,
                          check=False)
    assert done.returncode == 0, done.stdout + done.stderr
