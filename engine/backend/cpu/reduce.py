"""Reductions (sum, max, min, argmax, argmin) over any set of dims.

The reduced dims are brought next to each other so the work is one of two 2-D
shapes over contiguous data: reduce each row of (rows, n) — reduced dims last —
or reduce the rows of (n, cols) into one row — reduced dims first, which is the
bias-gradient case and stays vectorised across columns. Anything else is first
permuted and copied into the row form. Float sums accumulate in float64.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit, prange

from ..codes import ARGMAX, ARGMIN, MAX, MIN, SUM
from . import PARALLEL_MIN
from . import elementwise as cpu_ew
from . import fastmath as fm

_ARG = (ARGMAX, ARGMIN)


@njit(inline="always")
def _reduce_row(code, x, r, out):
    n = x.shape[1]
    if code == SUM:
        acc = fm.acc_zero(x[r, 0])
        for j in range(n):
            acc += x[r, j]
        out[r] = acc
    elif code == MAX or code == MIN:
        m = x[r, 0]
        for j in range(1, n):
            v = x[r, j]
            if code == MAX:
                if v > m or fm.isnan(v):
                    m = v
            else:
                if v < m or fm.isnan(v):
                    m = v
            if fm.isnan(m):
                break
        out[r] = m
    else:  # first index of the max/min (of the first NaN, if any), like numpy
        m = x[r, 0]
        k = 0
        if not fm.isnan(m):
            for j in range(1, n):
                v = x[r, j]
                if fm.isnan(v):
                    k = j
                    break
                if (code == ARGMAX and v > m) or (code == ARGMIN and v < m):
                    m = v
                    k = j
        out[r] = k


def make_rows_parallel(code: int):
    @njit(cache=True, parallel=True, error_model="numpy")
    def reduce_rows_parallel(x, out):
        for r in prange(x.shape[0]):
            _reduce_row(code, x, r, out)
    return reduce_rows_parallel


def make_rows_serial(code: int):
    @njit(cache=True, error_model="numpy")
    def reduce_rows_serial(x, out):
        for r in range(x.shape[0]):
            _reduce_row(code, x, r, out)
    return reduce_rows_serial


_COL_BLOCK = 512


@njit(inline="always")
def _reduce_col_block(code, x, out, b):
    n, cols = x.shape
    c0 = b * _COL_BLOCK
    c1 = min(cols, c0 + _COL_BLOCK)
    if code == SUM:
        acc = np.zeros(c1 - c0, dtype=out.dtype)
        for i in range(n):
            row = x[i, c0:c1]
            for c in range(c1 - c0):
                acc[c] += row[c]
        for c in range(c1 - c0):
            out[c0 + c] = acc[c]
    else:
        for c in range(c0, c1):
            out[c] = x[0, c]
        for i in range(1, n):
            for c in range(c0, c1):
                v = x[i, c]
                m = out[c]
                if code == MAX:
                    out[c] = v if (v > m or fm.isnan(v)) and not fm.isnan(m) else m
                else:
                    out[c] = v if (v < m or fm.isnan(v)) and not fm.isnan(m) else m


def make_cols_parallel(code: int):
    """Reduce (n, cols) over n, column blocks spread over threads."""
    @njit(cache=True, parallel=True, error_model="numpy")
    def reduce_cols_parallel(x, out):
        for b in prange((x.shape[1] + _COL_BLOCK - 1) // _COL_BLOCK):
            _reduce_col_block(code, x, out, b)
    return reduce_cols_parallel


def make_cols_serial(code: int):
    @njit(cache=True, error_model="numpy")
    def reduce_cols_serial(x, out):
        for b in range((x.shape[1] + _COL_BLOCK - 1) // _COL_BLOCK):
            _reduce_col_block(code, x, out, b)
    return reduce_cols_serial


_CACHE: dict[tuple[str, int], object] = {}


def _kernel(kind: str, code: int):
    k = _CACHE.get((kind, code))
    if k is None:
        make = {"rows_par": make_rows_parallel, "rows_ser": make_rows_serial,
                "cols_par": make_cols_parallel, "cols_ser": make_cols_serial}[kind]
        k = _CACHE[(kind, code)] = make(code)
    return k


def _out_dtype(code: int, dtype: np.dtype) -> np.dtype:
    if code in _ARG:
        return np.dtype(np.int64)
    if code == SUM:
        return dtype if dtype.kind == "f" else np.dtype(np.int64)
    return dtype


def reduce(code: int, x: np.ndarray, dims: tuple[int, ...]) -> np.ndarray:
    """Reduce array x (compute dtype) over `dims` (sorted, non-empty); returns the array
    of the kept dims' shape."""
    shape = x.shape
    nd = len(shape)
    kept = [d for d in range(nd) if d not in dims]
    kept_shape = tuple(shape[d] for d in kept)
    n_red = math.prod(shape[d] for d in dims)
    n_kept = math.prod(kept_shape)
    dtype = x.dtype
    out_dt = _out_dtype(code, dtype)
    if n_red == 0:
        if code != SUM:
            raise ValueError("cannot take max/min/argmax/argmin over an empty dimension")
        return np.zeros(kept_shape, dtype=out_dt)
    if n_kept == 0:
        return np.zeros(kept_shape, dtype=out_dt)
    contiguous = x.flags.c_contiguous
    k = len(dims)
    if contiguous and tuple(dims) == tuple(range(nd - k, nd)):
        rows = x.reshape(n_kept, n_red)
    elif contiguous and tuple(dims) == tuple(range(k)) and code not in _ARG:
        out = np.empty(n_kept, dtype=out_dt if code != SUM or dtype.kind != "f"
                       else np.dtype(np.float64))
        kind = "cols_par" if n_kept * n_red >= PARALLEL_MIN and n_kept > _COL_BLOCK else "cols_ser"
        _kernel(kind, code)(x.reshape(n_red, n_kept), out)
        return out.astype(out_dt, copy=False).reshape(kept_shape)
    else:
        permuted = x.transpose(tuple(kept) + tuple(dims))
        rows = cpu_ew.copy(permuted).reshape(n_kept, n_red)
    out = np.empty(n_kept, dtype=out_dt)
    kind = "rows_par" if n_kept * n_red >= PARALLEL_MIN and n_kept > 1 else "rows_ser"
    _kernel(kind, code)(rows, out)
    return out.reshape(kept_shape)
