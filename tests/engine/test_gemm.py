"""The engine's GEMM library choice (engine/backend/cpu/gemm.py): OpenBLAS or MKL,
each checked against float64 numpy on every operand layout the engine passes."""

from __future__ import annotations

import platform

import numpy as np
import pytest

import engine
import engine.functional as F
from engine.backend.cpu import gemm

# mkl wheels exist for x86-64 Linux and Windows only (the test extra installs them there).
HAS_MKL_WHEEL = platform.machine().lower() in ("x86_64", "amd64") and platform.system() != "Darwin"


@pytest.fixture
def library():
    """Restores the process' choice after a test that changes it."""
    before = gemm.current()
    yield gemm.set_library
    gemm._choice = before


def _mkl() -> gemm.Mkl:
    if not HAS_MKL_WHEEL:
        pytest.skip("no mkl wheel for this platform")
    path = gemm._find_mkl_rt()
    assert path is not None, "the test extra installs mkl on this platform"
    return gemm.Mkl(path)


def _layouts(rng, m, k, n, dtype):
    a = rng.standard_normal((m, k)).astype(dtype)
    b = rng.standard_normal((k, n)).astype(dtype)
    big = rng.standard_normal((m + 3, 2 * k + 5)).astype(dtype)
    yield "C", a, b
    yield "b transposed", a, np.asfortranarray(b)
    yield "a transposed", np.asfortranarray(a), b
    yield "row-strided slices", big[1:m + 1, 2:k + 2], np.ascontiguousarray(b)
    yield "every other column", big[:m, : 2 * k : 2], b  # no unit stride: copied


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shape", [(1, 7, 5), (3, 5, 1), (37, 64, 129), (256, 384, 96)])
def test_mkl_gemm_matches_numpy_on_every_layout(dtype, shape) -> None:
    mkl = _mkl()
    rng = np.random.default_rng(sum(shape))
    m, k, n = shape
    for name, a, b in _layouts(rng, m, k, n, dtype):
        out = np.full((m, n), np.nan, dtype)
        mkl.gemm(a, b, out)
        ref = a.astype(np.float64) @ b.astype(np.float64)
        tol = 1e-4 * np.sqrt(k) if dtype == np.float32 else 1e-10
        np.testing.assert_allclose(out, ref, rtol=tol, atol=tol, err_msg=name)


def test_mkl_gemm_writes_into_column_slices_and_falls_back_for_other_dtypes() -> None:
    mkl = _mkl()
    rng = np.random.default_rng(0)
    a = rng.standard_normal((20, 30)).astype(np.float32)
    b = rng.standard_normal((30, 50)).astype(np.float32)
    out = np.zeros((20, 50), np.float32)
    mkl.gemm(a, b[:, 10:35], out[:, 10:35])  # how the column split writes its share
    np.testing.assert_allclose(out[:, 10:35], a @ b[:, 10:35], rtol=1e-5, atol=1e-5)
    assert not out[:, :10].any() and not out[:, 35:].any()
    ai, bi = np.arange(6).reshape(2, 3), np.arange(12).reshape(3, 4)
    oi = np.empty((2, 4), ai.dtype)
    mkl.gemm(ai, bi, oi)
    np.testing.assert_array_equal(oi, ai @ bi)
    empty = np.empty((4, 0), np.float32)
    oe = np.full((4, 6), 7.0, np.float32)
    mkl.gemm(empty, np.empty((0, 6), np.float32), oe)
    assert not oe.any()


@pytest.mark.parametrize("setting", ["openblas", "mkl"])
def test_engine_ops_agree_with_numpy_under_each_library(library, setting) -> None:
    if setting == "mkl":
        _mkl()
    assert library(setting).name == setting
    rng = np.random.default_rng(1)
    x = rng.standard_normal((600, 96)).astype(np.float32)  # big enough for the row split
    w = rng.standard_normal((1100, 96)).astype(np.float32)
    wide = rng.standard_normal((16, 96)).astype(np.float32)  # few rows: the column split
    q = rng.standard_normal((2, 3, 300, 64)).astype(np.float32)
    with engine.no_grad():
        y = F.linear(engine.from_numpy(x), engine.from_numpy(w)).numpy()
        yw = (engine.from_numpy(wide) @ engine.from_numpy(np.ascontiguousarray(w.T))).numpy()
        att = F.scaled_dot_product_attention(*(engine.from_numpy(q),) * 3).numpy()
        bmm = engine.matmul(engine.from_numpy(q), engine.from_numpy(q).transpose(-1, -2)).numpy()
    x64, w64, q64 = x.astype(np.float64), w.astype(np.float64), q.astype(np.float64)
    np.testing.assert_allclose(y, x64 @ w64.T, rtol=1e-4, atol=1e-3)
    np.testing.assert_allclose(yw, wide.astype(np.float64) @ w64.T, rtol=1e-4, atol=1e-3)
    s = q64 @ q64.swapaxes(-1, -2)
    np.testing.assert_allclose(bmm, s, rtol=1e-4, atol=1e-3)
    p = np.exp(s / 8 - (s / 8).max(-1, keepdims=True))
    np.testing.assert_allclose(att, (p / p.sum(-1, keepdims=True)) @ q64, rtol=1e-4, atol=1e-4)


def test_auto_keeps_openblas_off_intel_and_without_mkl() -> None:
    amd = gemm.choose("auto", vendor="amd")
    assert amd.name == "openblas" and "amd" in amd.reason
    missing = gemm.choose("auto", vendor="intel", mkl_path=None)
    assert missing.name == "openblas" and "not installed" in missing.reason
    assert gemm.choose("openblas", vendor="intel").name == "openblas"
    assert gemm.choose(" OpenBLAS ").name == "openblas"  # as typed in a shell


@pytest.mark.parametrize("mkl_s, expected", [(0.5e-3, "mkl"), (0.99e-3, "openblas"),
                                             (2e-3, "openblas")])
def test_auto_on_intel_follows_the_timed_probe(monkeypatch, mkl_s, expected) -> None:
    _mkl()
    monkeypatch.setattr(gemm, "probe", lambda mkl: {"openblas": 1e-3, "mkl": mkl_s})
    choice = gemm.choose("auto", vendor="intel")
    assert choice.name == expected
    assert choice.probe_s == {"openblas": 1e-3, "mkl": mkl_s}


def test_the_probe_times_both_libraries() -> None:
    times = gemm.probe(_mkl(), reps=2)
    assert set(times) == {"openblas", "mkl"} and all(0 < t < 10 for t in times.values())


def test_forcing_a_missing_or_unknown_library_says_what_to_do() -> None:
    with pytest.raises(RuntimeError, match="TABLESCRIBE_BLAS=mkl but the mkl package is not installed"):
        gemm.choose("mkl", mkl_path=None)
    with pytest.raises(RuntimeError, match="MKL could not be loaded"):
        gemm.choose("mkl", mkl_path="/nonexistent/libmkl_rt.so.2")
    with pytest.raises(ValueError, match="TABLESCRIBE_BLAS='blis': expected one of auto, openblas, mkl"):
        gemm.choose("blis")


def test_the_environment_variable_forces_the_choice(monkeypatch, library) -> None:
    monkeypatch.setenv(gemm.ENV, "openblas")
    choice = library(None)
    assert choice.name == "openblas" and gemm.ENV in choice.reason
    assert gemm.describe().startswith("openblas: TABLESCRIBE_BLAS=openblas")


def test_the_first_choice_made_inside_a_split_product_does_not_deadlock() -> None:
    """The library is chosen at first use. On an Intel CPU with MKL that choice times
    both libraries under the BLAS thread lock, which a split product holds while its
    pool threads run their first GEMM. Run in a child process (a deadlock would leave
    locks held in this one); the probe is made to take that lock on every CPU."""
    import subprocess
    import sys
    import textwrap

    code = textwrap.dedent("""
        import numpy as np
        from engine.backend.cpu import blas, gemm

        def choose(setting=None, vendor=None, mkl_path="find"):
            with gemm.single_threaded_blas():  # as probe() does
                return gemm.Choice("openblas", gemm._openblas_gemm, "test")

        gemm.choose, gemm._choice = choose, None
        hits = []
        blas.run_split(lambda lo, hi: hits.append(gemm.current().name), 512, 2)
        print(hits)
    """)
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=60, check=False)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "['openblas', 'openblas']"
