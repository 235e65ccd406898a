"""Running many GEMMs at once through numpy's BLAS.

One BLAS call per matrix of a batch, each multi-threaded, makes every matrix a
thread fork/join; on a busy machine those joins dominate. Instead the batch is
split across a small pool of Python threads (np.matmul releases the GIL) and
each thread asks OpenBLAS for a single thread of its own — what PyTorch's bmm
does with its own pool. When OpenBLAS' per-thread setting cannot be found (other
BLAS builds), the batch simply runs as a loop.
"""

from __future__ import annotations

import ctypes
import glob
import os
import threading
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from . import num_threads

_lock = threading.Lock()
_pool: ThreadPoolExecutor | None = None
_pool_size = 0


def _find_set_threads_local():
    """OpenBLAS' openblas_set_num_threads_local from the library numpy loaded, or None."""
    libdir = os.path.join(os.path.dirname(os.path.dirname(np.__file__)), "numpy.libs")
    for path in sorted(glob.glob(os.path.join(libdir, "*openblas*.so*"))):
        try:
            fn = ctypes.CDLL(path).openblas_set_num_threads_local
        except (OSError, AttributeError):
            continue
        fn.argtypes = [ctypes.c_int]
        fn.restype = ctypes.c_int
        return fn
    return None


_set_threads_local = _find_set_threads_local()


def _get_pool(n: int) -> ThreadPoolExecutor:
    global _pool, _pool_size
    with _lock:
        if _pool is None or _pool_size != n:
            if _pool is not None:
                _pool.shutdown(wait=False)
            _pool = ThreadPoolExecutor(n, thread_name_prefix="engine-gemm",
                                       initializer=_set_threads_local, initargs=(1,))
            _pool_size = n
        return _pool


def _run(a3, b3, o3, idx, lo: int, hi: int) -> None:
    for i in range(lo, hi):
        j = idx[i]
        np.matmul(a3[j], b3[j], out=o3[i])


# A batch needs this many multiply-adds in all before it is worth the thread pool.
POOL_MIN_MACS = 1 << 22


def gemm_batch(a3, b3, o3: np.ndarray, idx: list) -> None:
    """o3[i] = a3[idx[i]] @ b3[idx[i]] for every i (a3/b3 indexable by idx entries)."""
    count = len(idx)
    threads = min(num_threads(), count)
    m, k = o3.shape[1], a3[idx[0]].shape[-1]
    if threads <= 1 or _set_threads_local is None or count * m * k * o3.shape[2] < POOL_MIN_MACS:
        previous = _set_threads_local(1) if _set_threads_local is not None else None
        try:
            _run(a3, b3, o3, idx, 0, count)
        finally:
            if previous is not None:
                _set_threads_local(previous)
        return
    pool = _get_pool(threads)
    step = -(-count // threads)
    futures = [pool.submit(_run, a3, b3, o3, idx, lo, min(count, lo + step))
               for lo in range(0, count, step)]
    for f in futures:
        f.result()


# Below this many multiply-adds a GEMM runs on the calling thread: waking BLAS
# threads costs about as much as the work, and far more on a busy machine.
SMALL_GEMM_MACS = 1 << 22


def matmul_2d(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """a @ b for 2-D arrays; small products stay single-threaded."""
    if _set_threads_local is not None and a.shape[0] * a.shape[1] * b.shape[1] < SMALL_GEMM_MACS:
        previous = _set_threads_local(1)
        try:
            return np.matmul(a, b)
        finally:
            _set_threads_local(previous)
    return np.matmul(a, b)
