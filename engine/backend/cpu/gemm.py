"""The single-threaded float GEMM every engine matmul is built from, and its library.

Two libraries can run it: numpy's OpenBLAS (always there) and Intel's MKL from
the `mkl` wheel (libmkl_rt through ctypes, cblas_sgemm/dgemm), loaded with its
sequential threading layer because the engine splits the work over its own pool
(blas.py). MKL is the faster one on many Intel CPUs (2.3x at 512² on an AVX-512
Xeon) but may take slow code paths on other vendors, so `auto` keeps OpenBLAS
unless MKL is installed, the CPU is Intel and a short timed probe at first use
finds MKL faster. TABLESCRIBE_BLAS=openblas|mkl|auto forces the choice.

openblas_set_num_threads_local is, despite its name, process-wide in the
pthreads builds numpy ships: every change is made under one lock and undone
before the lock is released, or every later GEMM of the process would stay
single-threaded (which once halved the encoder's speed).
The mkl wheel is under the Intel Simplified Software License, which allows
redistribution; it is optional (extra `mkl`) and its absence is not an error.
"""

from __future__ import annotations

import ctypes
import glob
import os
import threading
import time
from contextlib import contextmanager
from importlib import metadata

import numpy as np

__all__ = ["CHOICES", "ENV", "Choice", "Mkl", "blas_threads", "choose", "cpu_vendor", "current",
           "describe", "gemm", "probe", "set_library", "single_threaded_blas"]

ENV = "TABLESCRIBE_BLAS"
CHOICES = ("auto", "openblas", "mkl")
# MKL must beat OpenBLAS by this factor in the probe to be chosen (noise margin).
PROBE_MARGIN = 0.95
PROBE_SHAPE = (256, 384, 384)  # m, k, n: an encoder projection's block of rows

_ROW_MAJOR, _NO_TRANS, _TRANS = 101, 111, 112
_SEQUENTIAL = 1  # MKL_THREADING_SEQUENTIAL


def _find_openblas(*symbols: str):
    """The first of `symbols` (int-returning) in the OpenBLAS numpy loaded, or None.
    numpy's own build (scipy-openblas) prefixes and suffixes most names."""
    libdir = os.path.join(os.path.dirname(os.path.dirname(np.__file__)), "numpy.libs")
    for path in sorted(glob.glob(os.path.join(libdir, "*openblas*.so*"))):
        try:
            lib = ctypes.CDLL(path)
        except OSError:
            continue
        for symbol in symbols:
            fn = getattr(lib, symbol, None)
            if fn is not None:
                fn.restype = ctypes.c_int
                return fn
    return None


def _find_set_threads():
    """openblas_set_num_threads_local (returns the previous count), or None."""
    fn = _find_openblas("openblas_set_num_threads_local")
    if fn is not None:
        fn.argtypes = [ctypes.c_int]
    return fn


_get_threads = _find_openblas("openblas_get_num_threads", "scipy_openblas_get_num_threads64_")


def blas_threads() -> int | None:
    """OpenBLAS' current thread count (None for other BLAS builds)."""
    return _get_threads() if _get_threads is not None else None


_set_threads = _find_set_threads()


# Re-entrant: work run on the calling thread may itself ask for single-threaded BLAS.
# (Work on the pool threads must not: the caller holds this lock while it waits.)
_threads_lock = threading.RLock()


@contextmanager
def single_threaded_blas():
    """BLAS calls inside run on their calling thread only; the count is restored after."""
    if _set_threads is None:
        yield
        return
    with _threads_lock:
        previous = _set_threads(1)
        try:
            yield
        finally:
            _set_threads(previous)


def _openblas_gemm(a: np.ndarray, b: np.ndarray, out: np.ndarray) -> None:
    np.matmul(a, b, out=out)


def _find_mkl_rt() -> str | None:
    """Path of libmkl_rt from the installed `mkl` wheel, or None."""
    try:
        dist = metadata.distribution("mkl")
    except metadata.PackageNotFoundError:
        return None
    for f in dist.files or []:
        name = f.name.lower()
        if name.startswith(("libmkl_rt.so", "mkl_rt")) and (".so" in name or name.endswith(".dll")):
            path = str(dist.locate_file(f))
            if os.path.exists(path):
                return path
    return None


def _operand(x: np.ndarray) -> tuple[int, int] | None:
    """(trans flag, leading dimension) of a 2-D array as BLAS sees it, or None when
    neither stride is 1 (the caller copies it)."""
    item = x.itemsize
    s0, s1 = x.strides
    rows, cols = x.shape
    if (s1 == item or cols == 1) and s0 % item == 0 and s0 // item >= max(cols, 1):
        return _NO_TRANS, s0 // item
    if (s0 == item or rows == 1) and s1 % item == 0 and s1 // item >= max(rows, 1):
        return _TRANS, s1 // item
    return None


class Mkl:
    """cblas_sgemm / cblas_dgemm of libmkl_rt, sequential."""

    def __init__(self, path: str):
        lib = ctypes.CDLL(path)
        lib.MKL_Set_Threading_Layer.restype = ctypes.c_int
        lib.MKL_Set_Threading_Layer.argtypes = [ctypes.c_int]
        layer = lib.MKL_Set_Threading_Layer(_SEQUENTIAL)
        if layer != _SEQUENTIAL:  # another user loaded it first with its threads
            raise OSError(f"{path}: MKL already runs threading layer {layer}, not sequential")
        p, i = ctypes.c_void_p, ctypes.c_int
        self._fns = {}
        for dtype, name, real in ((np.float32, "cblas_sgemm", ctypes.c_float),
                                  (np.float64, "cblas_dgemm", ctypes.c_double)):
            fn = getattr(lib, name)
            fn.restype = None
            fn.argtypes = [i, i, i, i, i, i, real, p, i, p, i, real, p, i]
            self._fns[np.dtype(dtype)] = fn
        self.path = path

    def gemm(self, a: np.ndarray, b: np.ndarray, out: np.ndarray) -> None:
        fn = self._fns.get(out.dtype)
        m, k = a.shape
        n = b.shape[1]
        if fn is None or a.dtype != out.dtype or b.dtype != out.dtype or m * n * k == 0:
            np.matmul(a, b, out=out)
            return
        if out.strides[1] != out.itemsize or out.strides[0] < n * out.itemsize:
            tmp = np.empty((m, n), out.dtype)
            self.gemm(a, b, tmp)
            out[...] = tmp
            return
        la, lb = _operand(a), _operand(b)
        if la is None:
            a = np.ascontiguousarray(a)
            la = (_NO_TRANS, k)
        if lb is None:
            b = np.ascontiguousarray(b)
            lb = (_NO_TRANS, n)
        fn(_ROW_MAJOR, la[0], lb[0], m, n, k, 1.0, a.ctypes.data, la[1], b.ctypes.data, lb[1],
           0.0, out.ctypes.data, out.strides[0] // out.itemsize)


def cpu_vendor() -> str:
    """'intel', 'amd' or 'other', from /proc/cpuinfo (Linux) or the platform string."""
    text = ""
    try:
        with open("/proc/cpuinfo", encoding="ascii", errors="replace") as fh:
            text = fh.read(4096)
    except OSError:
        import platform
        text = platform.processor()
    if "GenuineIntel" in text or "Intel" in text:
        return "intel"
    if "AuthenticAMD" in text or "AMD" in text:
        return "amd"
    return "other"


def _time_gemm(gemm, a, b, out, reps: int) -> float:
    best = float("inf")
    for _ in range(reps):
        t = time.perf_counter()
        gemm(a, b, out)
        best = min(best, time.perf_counter() - t)
    return best


def probe(mkl: Mkl, reps: int = 5) -> dict[str, float]:
    """Best single-threaded seconds of each library on PROBE_SHAPE, interleaved."""
    m, k, n = PROBE_SHAPE
    rng = np.random.default_rng(0)
    a = rng.standard_normal((m, k), dtype=np.float32)
    b = rng.standard_normal((k, n), dtype=np.float32)
    out = np.empty((m, n), np.float32)
    times = {"openblas": float("inf"), "mkl": float("inf")}
    with single_threaded_blas():
        for gemm in (_openblas_gemm, mkl.gemm):  # first touch: page faults, lazy init
            gemm(a, b, out)
        for _ in range(reps):
            times["openblas"] = min(times["openblas"], _time_gemm(_openblas_gemm, a, b, out, 1))
            times["mkl"] = min(times["mkl"], _time_gemm(mkl.gemm, a, b, out, 1))
    return times


class Choice:
    """The library chosen (once, at first use) and why."""

    def __init__(self, name: str, gemm, reason: str, probe_s: dict | None = None):
        self.name, self.gemm, self.reason, self.probe_s = name, gemm, reason, probe_s

    @property
    def threaded_internally(self) -> bool:
        return self.name == "openblas"


def choose(setting: str | None = None, vendor: str | None = None, mkl_path: str | None = "find") -> Choice:
    """Pick the GEMM library; `setting` defaults to $TABLESCRIBE_BLAS (auto)."""
    setting = (setting if setting is not None else os.environ.get(ENV, "auto")).strip().lower() or "auto"
    if setting not in CHOICES:
        raise ValueError(f"{ENV}={setting!r}: expected one of {', '.join(CHOICES)}")
    if setting == "openblas":
        return Choice("openblas", _openblas_gemm, f"{ENV}=openblas")
    if setting == "auto":
        vendor = vendor or cpu_vendor()
        if vendor != "intel":  # not even loaded: MKL may run slow generic code there
            return Choice("openblas", _openblas_gemm, f"MKL not tried on a CPU of vendor {vendor}")
    path = _find_mkl_rt() if mkl_path == "find" else mkl_path
    mkl, why_not = None, "the mkl package is not installed"
    if path is not None:
        try:
            mkl = Mkl(path)
        except (OSError, AttributeError) as exc:
            why_not = f"MKL could not be loaded ({exc})"
    if setting == "mkl":
        if mkl is None:
            raise RuntimeError(f"{ENV}=mkl but {why_not} (pip install mkl, or unset {ENV})")
        return Choice("mkl", mkl.gemm, f"{ENV}=mkl")
    if mkl is None:
        return Choice("openblas", _openblas_gemm, why_not)
    times = probe(mkl)
    if times["mkl"] < PROBE_MARGIN * times["openblas"]:
        return Choice("mkl", mkl.gemm, "faster in the probe", times)
    return Choice("openblas", _openblas_gemm, "MKL not faster in the probe", times)


_choice: Choice | None = None
_choice_lock = threading.Lock()


def current() -> Choice:
    global _choice
    if _choice is None:
        with _choice_lock:
            if _choice is None:
                _choice = choose()
    return _choice


def set_library(setting: str | None) -> Choice:
    """Choose again (None: from the environment); for benchmarks and tests."""
    global _choice
    with _choice_lock:
        _choice = choose(setting)
    return _choice


def gemm(a: np.ndarray, b: np.ndarray, out: np.ndarray) -> None:
    """out = a @ b for 2-D arrays on the calling thread's BLAS call."""
    (_choice or current()).gemm(a, b, out)


def describe() -> str:
    c = current()
    extra = ""
    if c.probe_s:
        extra = " (probe {}: {})".format(
            "x".join(map(str, PROBE_SHAPE)),
            ", ".join(f"{k} {v * 1e3:.3f} ms" for k, v in c.probe_s.items()))
    return f"{c.name}: {c.reason}{extra}"


