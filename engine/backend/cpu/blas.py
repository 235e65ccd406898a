"""Running many GEMMs at once through numpy's BLAS.

One BLAS call per matrix of a batch, each multi-threaded, makes every matrix a
thread fork/join; on a busy machine those joins dominate. Instead the batch is
split across a small pool of Python threads (np.matmul releases the GIL) while
OpenBLAS runs each call on the calling thread alone — what PyTorch's bmm does
with its own pool. When OpenBLAS' thread setting cannot be found (other BLAS
builds), the batch simply runs as a loop. Each GEMM goes through gemm.gemm, which
runs numpy's OpenBLAS or a sequential MKL (gemm.py says which and why).

OpenBLAS' thread setting (single_threaded_blas) lives in gemm.py with the rest of
what the engine knows about its BLAS libraries.
"""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from . import gemm as _gemm
from . import num_threads
from .gemm import _set_threads, blas_threads, single_threaded_blas  # noqa: F401 (used by tests)

_lock = threading.Lock()
_pool: ThreadPoolExecutor | None = None
_pool_size = 0


def _can_split() -> bool:
    """Whether a GEMM can be made to run on its calling thread alone (then the engine
    splits work over its own pool)."""
    return _set_threads is not None or not _gemm.current().threaded_internally


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
    # Choose the GEMM library before holding the BLAS thread lock: the first choice
    # may time both libraries under that lock, and a pool thread making it would wait
    # for this thread, which waits for the pool (a deadlock on Intel CPUs with MKL).
    _gemm.current()
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
