"""app/warmup.py: where numba's cache goes, the first-start marker, the warm-up itself."""

from __future__ import annotations

import os
import sys
import threading

import pytest

from app import pipeline, warmup
from tests.app import fakes


@pytest.fixture
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("TABLESCRIBE_CACHE_DIR", str(tmp_path / "cache"))
    return tmp_path / "cache"


def test_a_user_set_numba_cache_dir_is_kept(monkeypatch, cache):
    monkeypatch.setenv("NUMBA_CACHE_DIR", "/somewhere/else")
    monkeypatch.setattr(sys, "frozen", True, raising=False)
    assert warmup.configure_numba_cache() is None
    assert os.environ["NUMBA_CACHE_DIR"] == "/somewhere/else"


def test_a_writable_installation_keeps_numba_s_own_cache(monkeypatch, tmp_path, cache):
    monkeypatch.delenv("NUMBA_CACHE_DIR", raising=False)
    monkeypatch.setattr(warmup, "_engine_kernels_dir", lambda: tmp_path)
    assert warmup.configure_numba_cache() is None
    assert "NUMBA_CACHE_DIR" not in os.environ


@pytest.mark.parametrize("why", ["frozen", "read-only"])
def test_a_bundle_or_read_only_install_caches_in_the_user_folder(monkeypatch, tmp_path, cache, why):
    import numba

    monkeypatch.delenv("NUMBA_CACHE_DIR", raising=False)
    monkeypatch.setattr(numba.config, "CACHE_DIR", numba.config.CACHE_DIR)  # restored after
    kernels = tmp_path / "kernels"
    kernels.mkdir()
    monkeypatch.setattr(warmup, "_engine_kernels_dir", lambda: kernels)
    if why == "frozen":
        monkeypatch.setattr(sys, "frozen", True, raising=False)
    else:
        monkeypatch.setattr(warmup, "_writable", lambda folder: False)
    chosen = warmup.configure_numba_cache()
    assert chosen == str(cache / "numba") == os.environ["NUMBA_CACHE_DIR"]
    assert numba.config.CACHE_DIR == chosen  # numba was imported already: told directly


def test_the_marker_is_per_kernel_sources(monkeypatch, tmp_path, cache):
    kernels = tmp_path / "kernels"
    kernels.mkdir()
    source = kernels / "rows.py"
    source.write_text("x = 1\n")
    monkeypatch.setattr(warmup, "_engine_kernels_dir", lambda: kernels)
    assert warmup.is_cold()
    warmup.mark_warm(1.5)
    assert not warmup.is_cold()
    source.write_text("x = 22\n")  # an edited or reinstalled engine compiles again
    assert warmup.is_cold()


def test_warm_up_converts_the_sample_and_reports_progress(cache):
    seen = []
    compiled = warmup.warm_up(lambda: fakes.blob_factory(None, None),
                              progress=lambda text, done, total: seen.append((text, done, total)))
    assert compiled == 0  # the stand-in recogniser has no kernels
    assert seen[0] == (f"{warmup.FIRST_START} loading the model", 0, 0)
    reading = [(d, t) for text, d, t in seen if text.endswith("reading the sample page")]
    assert reading and reading[-1][0] == reading[-1][1] > 0  # every cell of the sample
    assert not warmup.is_cold()


def test_warm_up_counts_the_engine_kernels_numba_compiles(cache):
    from numba import njit

    @njit
    def kernel(x):
        return x + 1

    kernel.py_func.__module__ = "engine.backend.cpu.fresh"  # as if one of the engine's
    names = []
    with warmup._CompileListener(names.append) as listener:
        assert kernel(1) == 2
    assert listener.compiled == 1 and names == ["kernel"]


def test_a_cancelled_warm_up_stops_and_stays_cold(cache):
    cancel = threading.Event()
    cancel.set()
    with pytest.raises(pipeline.Cancelled):
        warmup.warm_up(lambda: fakes.blob_factory(None, None), cancel=cancel)
    assert warmup.is_cold()


def test_the_first_convert_says_why_it_waits_and_the_next_does_not(tmp_path, capsys, cache, fake_model):
    from app import cli

    scan = fakes.standard_scan(tmp_path / "scan.png")
    assert cli.main(["convert", str(scan), "-o", str(tmp_path / "a.xlsx")]) == 0
    assert "preparing the engine (first start" in capsys.readouterr().err
    assert cli.main(["convert", str(scan), "-o", str(tmp_path / "b.xlsx")]) == 0
    assert "preparing the engine" not in capsys.readouterr().err
