"""Reductions (sum, max, min, argmax, argmin) over any set of dims, in shared memory.

Each output element is one row: the kept dims pick its base offset and the
reduced dims are walked through their strides (no permuted copy). Long rows get
a block each — every thread folds a strided share of the row, then the block
combines the partial results in a shared-memory tree; short rows (fewer elements
than a block has threads) are folded by one thread each.

Semantics follow the CPU backend: NaN propagates through max/min, argmax/argmin
return the first index of the extreme (of the first NaN, if any), integer sums
are int64. Float sums accumulate in the input's precision along a tree, which is
as accurate as the CPU's float64 running sum for the sizes a model reduces.
"""

from __future__ import annotations

import functools

import numpy as np
from numba import cuda

from ..codes import ARGMAX, ARGMIN, MAX, SUM
from . import devfn
from .elementwise import copy_strided, fill
from .launch import MAXD, blocks_for, config, contiguous_strides, empty, merge_runs, numel, pad

_ARG = (ARGMAX, ARGMIN)


def _out_dtype(code: int, dtype: np.dtype) -> np.dtype:
    if code in _ARG:
        return np.dtype(np.int64)
    if code == SUM and dtype.kind != "f":
        return np.dtype(np.int64)
    return dtype


@functools.cache
def _fns(code: int):
    """(fold_value, combine) device functions: `better(v, i, w, j)` says whether (v, i)
    beats the incumbent (w, j) for the extremum codes."""
    is_max = code in (MAX, ARGMAX)

    @cuda.jit(device=True)
    def better(v, i, w, j):
        # j < 0: no incumbent. NaN beats numbers; among equals (or two NaNs) the lower
        # index wins, which keeps "first occurrence" semantics.
        if j < 0:
            return True
        vn = v != v  # noqa: PLR0124 (NaN test)
        wn = w != w  # noqa: PLR0124
        if vn or wn:
            return vn and (not wn or i < j)
        if v == w:
            return i < j
        return v > w if is_max else v < w
    return better


@functools.cache
def _block_kernel(code: int, acc_dtype: np.dtype, threads: int):
    better = _fns(code)
    zero = acc_dtype.type(0)
    is_sum = code == SUM
    is_arg = code in _ARG

    @cuda.jit
    def reduce_block(x, xo, kshape, kst, knd, rshape, rst, rnd, nred, nkept, out):
        sv = cuda.shared.array(threads, acc_dtype)
        si = cuda.shared.array(threads, np.int64)
        tid = cuda.threadIdx.x
        for r in range(cuda.blockIdx.x, nkept, cuda.gridDim.x):
            base = xo + devfn.offset1(r, kshape, kst, knd)
            acc = zero
            best_i = -1
            for j in range(tid, nred, threads):
                v = x[base + devfn.offset1(j, rshape, rst, rnd)]
                if is_sum:
                    acc += v
                elif better(v, j, acc, best_i):
                    acc = v
                    best_i = j
            sv[tid] = acc
            si[tid] = best_i
            cuda.syncthreads()
            s = threads // 2
            while s > 0:
                if tid < s:
                    if is_sum:
                        sv[tid] += sv[tid + s]
                    elif better(sv[tid + s], si[tid + s], sv[tid], si[tid]) and si[tid + s] >= 0:
                        sv[tid] = sv[tid + s]
                        si[tid] = si[tid + s]
                cuda.syncthreads()
                s //= 2
            if tid == 0:
                out[r] = si[0] if is_arg else sv[0]
            cuda.syncthreads()
    return reduce_block


@functools.cache
def _thread_kernel(code: int, acc_dtype: np.dtype):
    better = _fns(code)
    zero = acc_dtype.type(0)
    is_sum = code == SUM
    is_arg = code in _ARG

    @cuda.jit
    def reduce_thread(x, xo, kshape, kst, knd, rshape, rst, rnd, nred, nkept, out):
        r = cuda.grid(1)
        step = cuda.gridsize(1)
        while r < nkept:
            base = xo + devfn.offset1(r, kshape, kst, knd)
            acc = zero
            best_i = -1
            for j in range(nred):
                v = x[base + devfn.offset1(j, rshape, rst, rnd)]
                if is_sum:
                    acc += v
                elif better(v, j, acc, best_i):
                    acc = v
                    best_i = j
            out[r] = best_i if is_arg else acc
            r += step
    return reduce_thread


def reduce(code: int, x, dims: tuple[int, ...]):
    """Reduce CUDA tensor x over `dims` (sorted, non-empty) -> array of the kept shape."""
    buf, lay = x._storage.buf, x._layout
    shape, strides = lay.shape, lay.strides
    kept = [d for d in range(len(shape)) if d not in dims]
    kept_shape = tuple(shape[d] for d in kept)
    n_red = numel(shape[d] for d in dims)
    n_kept = numel(kept_shape)
    dtype = buf.dtype
    out = empty(kept_shape, _out_dtype(code, dtype))
    if n_red == 0:
        if code != SUM:
            raise ValueError("cannot take max/min/argmax/argmin over an empty dimension")
        fill(out, 0)
        return out
    if n_kept == 0:
        return out
    ks, kst = merge_runs(kept_shape, [strides[d] for d in kept])
    rs, rst = merge_runs([shape[d] for d in dims], [strides[d] for d in dims])
    offset = lay.offset
    if len(ks) > MAXD or len(rs) > MAXD:  # too many dims: gather into (kept, reduced) first
        perm_shape = kept_shape + tuple(shape[d] for d in dims)
        tmp = empty((numel(perm_shape),), dtype)
        copy_strided(buf, offset, [strides[d] for d in kept] + [strides[d] for d in dims],
                     tmp, 0, contiguous_strides(perm_shape), perm_shape)
        buf, offset, ks, kst, rs, rst = tmp, 0, [n_kept], [n_red], [n_red], [1]
    acc = out.dtype if code == SUM else dtype
    cfg = config()
    args = (buf, offset, pad(ks, 1), pad(kst, 0), len(ks), pad(rs, 1), pad(rst, 0), len(rs),
            n_red, n_kept, out.reshape(n_kept))
    if n_red >= cfg.row_threads:
        kernel = _block_kernel(code, acc, cfg.row_threads)
        kernel[min(n_kept, cfg.max_blocks), cfg.row_threads](*args)
    else:
        kernel = _thread_kernel(code, acc)
        kernel[blocks_for(n_kept, cfg.threads), cfg.threads](*args)
    return out
