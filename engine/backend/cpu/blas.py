"""Running many GEMMs at once through numpy's BLAS.

One BLAS call per matrix of a batch, each multi-threaded, makes every matrix a
thread fork/join; on a busy machine those joins dominate. Instead the batch is
split across a small pool of Python threads (np.matmul releases the GIL) while
OpenBLAS runs each call on the calling thread alone — what PyTorch's bmm does
with its own pool. When OpenBLAS' thread setting cannot be found (other BLAS
builds), the batch simply runs as a loop. Each GEMM goes through gemm.gemm, which
runs numpy's OpenBLAS or a sequential MKL (gemm.py says which and why).

openblas_set_num_threads_local is, despite its name, process-wide in the
pthreads builds numpy ships: every change is made under one lock and undone
before the lock is released, or every later GEMM of the process would stay
single-threaded (which once halved the encoder's speed).
"""

from __future__ import annotations

import ctypes
import glob
import os
import threading
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager

import numpy as np

from . import gemm as _gemm
from . import num_threads

_lock = threading.Lock()
_pool: ThreadPoolExecutor | None = None
_pool_size = 0


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


def _can_split() -> bool:
    """Whether a GEMM can be made to run on its calling thread alone (then the engine
    splits work over its own pool)."""
    return _set_threads is not None or not _gemm.current().threaded_internally
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


def _get_pool(n: int) -> ThreadPoolExecutor:
    global _pool, _pool_size
    with _lock:
        if _pool is None or _pool_size != n:
            if _pool is not None:
                _pool.shutdown(wait=False)
            _pool = ThreadPoolExecutor(n, thread_name_prefix="engine-gemm")
            _pool_size = n
        return _pool


def _run(a3, b3, o3, idx, lo: int, hi: int) -> None:
    for i in range(lo, hi):
        j = idx[i]
        _gemm.gemm(a3[j], b3[j], o3[i])


# A batch needs this many multiply-adds in all before it is worth the thread pool.
POOL_MIN_MACS = 1 << 22


def run_split(work, count: int, threads: int) -> None:
    """work(lo, hi) over [0, count) split into `threads` contiguous chunks run on the
    pool, with single-threaded BLAS inside (work should release the GIL: numpy
    GEMMs and nogil numba kernels do)."""
    with single_threaded_blas():
        if threads <= 1:
            work(0, count)
            return
        # The calling thread takes the first chunk itself: one thread hand-off fewer
        # per call, and it would only wait otherwise.
        step = -(-count // threads)
        pool = _get_pool(max(threads, num_threads()) - 1)  # sized once, not per call
        futures = [pool.submit(work, lo, min(count, lo + step)) for lo in range(step, count, step)]
        try:
            work(0, min(count, step))
        finally:
            for f in futures:
                f.result()


def gemm_batch(a3, b3, o3: np.ndarray, idx: list) -> None:
    """o3[i] = a3[idx[i]] @ b3[idx[i]] for every i (a3/b3 indexable by idx entries)."""
    count = len(idx)
    m, k = o3.shape[1], a3[idx[0]].shape[-1]
    threads = min(num_threads(), count)
    if not _can_split() or count * m * k * o3.shape[2] < POOL_MIN_MACS:
        threads = 1
    run_split(lambda lo, hi: _run(a3, b3, o3, idx, lo, hi), count, threads)


# Below this many multiply-adds a GEMM runs on the calling thread: waking BLAS
# threads costs about as much as the work, and far more on a busy machine.
SMALL_GEMM_MACS = 1 << 22
# Row blocks of at least this many rows per thread keep BLAS' packing worthwhile.
MIN_ROWS_PER_THREAD = 32


def matmul_2d(a: np.ndarray, b: np.ndarray, after=None) -> np.ndarray:
    """a @ b for 2-D arrays; after(block), when given, runs in place on each block of
    output rows as soon as it is computed (a GEMM epilogue, while it is in cache).

    Small products stay on the calling thread. Large ones are split by rows over
    the engine's pool, each block a single-threaded BLAS call, rather than handed
    to OpenBLAS' own threads: those spin for a while after every call and, on a
    machine with few cores, took the cores from the attention blocks that follow
    (the trocr-small encoder's attention ran at half speed).
    """
    m, n = a.shape[0], b.shape[1]
    threads = min(num_threads(), m // MIN_ROWS_PER_THREAD)
    out = np.empty((m, n), dtype=np.result_type(a, b))
    if m * a.shape[1] * n < SMALL_GEMM_MACS or not _can_split():
        with single_threaded_blas():
            _gemm.gemm(a, b, out)
    elif threads <= 1:  # few rows, wide product: split the columns
        if _gemm.current().threaded_internally:
            np.matmul(a, b, out=out)  # OpenBLAS splits them itself
        else:
            def cols(lo: int, hi: int) -> None:
                _gemm.gemm(a, b[:, lo:hi], out[:, lo:hi])

            run_split(cols, n, min(num_threads(), max(1, n // MIN_ROWS_PER_THREAD)))
    else:
        def rows(lo: int, hi: int) -> None:
            _gemm.gemm(a[lo:hi], b, out[lo:hi])
            if after is not None:
                after(out[lo:hi])

        run_split(rows, m, threads)
        return out
    if after is not None:
        after(out)
    return out
