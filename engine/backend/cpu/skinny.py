"""GEMM for a few rows against a weight matrix: y = x @ w.T with x (m, k), m small.

Token-by-token decoding multiplies a handful of rows (batch x beams) by every
weight matrix. BLAS treats that as a general GEMM and, with threads, spends more
time waking them than computing; the work is really streaming the weights once.
This kernel reads each weight row once and dots it with up to four input rows at
a time (four accumulators, vectorised over k), so the weights pass through the
cache a single time.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

_FM = {"nsz", "arcp", "contract", "reassoc"}
COLS_PER_TASK = 64


@njit(inline="always")
def _dot_rows(x, w, out, j0, j1):
    m, k = x.shape
    for j in range(j0, j1):
        wr = w[j]
        r = 0
        while r + 4 <= m:
            x0, x1, x2, x3 = x[r], x[r + 1], x[r + 2], x[r + 3]
            a0 = a1 = a2 = a3 = wr[0] * 0
            for t in range(k):
                wv = wr[t]
                a0 += x0[t] * wv
                a1 += x1[t] * wv
                a2 += x2[t] * wv
                a3 += x3[t] * wv
            out[r, j] = a0
            out[r + 1, j] = a1
            out[r + 2, j] = a2
            out[r + 3, j] = a3
            r += 4
        while r < m:
            xr = x[r]
            a = wr[0] * 0
            for t in range(k):
                a += xr[t] * wr[t]
            out[r, j] = a
            r += 1


@njit(cache=True, parallel=True, fastmath=_FM, error_model="numpy")
def skinny_parallel(x, w, out):
    n = w.shape[0]
    for b in prange((n + COLS_PER_TASK - 1) // COLS_PER_TASK):
        _dot_rows(x, w, out, b * COLS_PER_TASK, min(n, (b + 1) * COLS_PER_TASK))


@njit(cache=True, fastmath=_FM, error_model="numpy")
def skinny_serial(x, w, out):
    _dot_rows(x, w, out, 0, w.shape[0])


# Rows up to which the kernel beats single-threaded BLAS (a single row is BLAS' gemv,
# which is as good, unless the weights are big enough to stream on several threads),
# and the weight size (elements) from which the streaming is split over threads.
MAX_ROWS = 8
PARALLEL_WEIGHTS = 1 << 22


def suits(x: np.ndarray, w: np.ndarray) -> bool:
    """Whether matmul_wt is the better way to compute x @ w.T."""
    m = x.shape[0]
    return (m <= MAX_ROWS and (m >= 2 or w.size >= PARALLEL_WEIGHTS)
            and w.flags.c_contiguous and x.dtype == w.dtype and x.dtype.kind == "f")


def matmul_wt(x: np.ndarray, w: np.ndarray) -> np.ndarray:
    """x @ w.T for C-contiguous x (m, k) and w (n, k) of one float dtype."""
    out = np.empty((x.shape[0], w.shape[0]), dtype=x.dtype)
    if w.size >= PARALLEL_WEIGHTS:
        skinny_parallel(x, w, out)
    else:
        skinny_serial(x, w, out)
    return out
