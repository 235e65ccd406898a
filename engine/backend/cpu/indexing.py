"""Index kernels: row gather (embedding / index_select), its scatter-add adjoint,
gather/scatter-add along the last dim, and top-k per row."""

from __future__ import annotations

import numpy as np
from numba import njit, prange

from . import PARALLEL_MIN


@njit(cache=True, parallel=True, error_model="numpy")
def take_rows_parallel(src, ids, out):
    for i in prange(ids.shape[0]):
        r = ids[i]
        for j in range(out.shape[1]):
            out[i, j] = src[r, j]


@njit(cache=True, error_model="numpy")
def take_rows_serial(src, ids, out):
    # Element loops, not ``out[i, :] = src[r, :]``: a slice assignment pulls in numba's
    # shape-mismatch message formatting, seconds of compiling on the first start.
    for i in range(ids.shape[0]):
        r = ids[i]
        for j in range(out.shape[1]):
            out[i, j] = src[r, j]


@njit(cache=True, error_model="numpy")
def add_rows(dst, ids, src):
    """dst[ids[i], :] += src[i, :] (serial: ids may repeat)."""
    for i in range(ids.shape[0]):
        dst[ids[i], :] += src[i, :]


@njit(cache=True, error_model="numpy")
def gather_last(x, idx, out):
    for r in range(idx.shape[0]):
        for j in range(idx.shape[1]):
            out[r, j] = x[r, idx[r, j]]


@njit(cache=True, error_model="numpy")
def scatter_add_last(out, idx, src):
    for r in range(idx.shape[0]):
        for j in range(idx.shape[1]):
            out[r, idx[r, j]] += src[r, j]


@njit(inline="always")
def _topk_row(x, r, k, largest, vals, idxs, keys):
    """Keep the k best of row r in keys/idxs, sorted best first; ties keep the earlier index."""
    n = x.shape[1]
    cnt = 0
    for j in range(n):
        key = x[r, j] if largest else -x[r, j]
        if cnt == k and not key > keys[k - 1]:
            continue
        pos = cnt if cnt < k else k - 1
        while pos > 0 and key > keys[pos - 1]:
            keys[pos] = keys[pos - 1]
            idxs[r, pos] = idxs[r, pos - 1]
            pos -= 1
        keys[pos] = key
        idxs[r, pos] = j
        if cnt < k:
            cnt += 1
    for p in range(k):
        vals[r, p] = x[r, idxs[r, p]]


@njit(cache=True, parallel=True, error_model="numpy")
def topk_rows_parallel(x, k, largest, vals, idxs):
    for r in prange(x.shape[0]):
        keys = np.empty(k, dtype=x.dtype)
        _topk_row(x, r, k, largest, vals, idxs, keys)


@njit(cache=True, error_model="numpy")
def topk_rows_serial(x, k, largest, vals, idxs):
    keys = np.empty(k, dtype=x.dtype)
    for r in range(x.shape[0]):
        _topk_row(x, r, k, largest, vals, idxs, keys)


def check_ids(ids: np.ndarray, size: int, what: str) -> None:
    if ids.size and (ids.min() < 0 or ids.max() >= size):
        bad = ids[(ids < 0) | (ids >= size)][0]
        raise IndexError(f"{what}: index {int(bad)} is out of range for size {size}")


def take_rows(src: np.ndarray, ids: np.ndarray) -> np.ndarray:
    """src[ids] for a C-contiguous 2-D src and 1-D int64 ids."""
    out = np.empty((ids.shape[0], src.shape[1]), dtype=src.dtype)
    if out.size >= PARALLEL_MIN and ids.shape[0] > 1:
        take_rows_parallel(src, ids, out)
    else:
        take_rows_serial(src, ids, out)
    return out


def topk(x2: np.ndarray, k: int, largest: bool):
    """Top-k of each row of a C-contiguous 2-D array: (values, int64 indices), best first."""
    rows = x2.shape[0]
    if k > 64:  # insertion costs O(n*k) in the worst case; sort instead
        order = np.argsort(-x2 if largest else x2, axis=1, kind="stable")[:, :k]
        return np.take_along_axis(x2, order, axis=1), order.astype(np.int64)
    vals = np.empty((rows, k), dtype=x2.dtype)
    idxs = np.empty((rows, k), dtype=np.int64)
    if k:
        fn = topk_rows_parallel if x2.size >= PARALLEL_MIN and rows > 1 else topk_rows_serial
        fn(x2, k, largest, vals, idxs)
    return vals, idxs
