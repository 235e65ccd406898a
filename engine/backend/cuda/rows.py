"""Row kernels, one block per row: softmax / log_softmax and layer_norm over the last
dim, and the scaled, masked (causal) softmax of fused attention.

The threads of a block walk the row with a stride of the block size (coalesced
reads), and the row's max / sum / variance are combined in a shared-memory
tree. Rows are addressed through the input's strides, so a transposed input
(softmax over a dim other than the last) is read in place.
"""

from __future__ import annotations

import functools
import math

import numpy as np
from numba import cuda

from . import devfn
from .elementwise import copy, exp_fn
from .launch import config, empty, merge_runs, pad, scalar_array, tensor_like


@cuda.jit(device=True)
def _tree_sum(sh, tid, threads):
    cuda.syncthreads()
    s = threads // 2
    while s > 0:
        if tid < s:
            sh[tid] += sh[tid + s]
        cuda.syncthreads()
        s //= 2
    v = sh[0]
    cuda.syncthreads()
    return v


@cuda.jit(device=True)
def _tree_max(sh, tid, threads):
    cuda.syncthreads()
    s = threads // 2
    while s > 0:
        if tid < s and sh[tid + s] > sh[tid]:  # (no builtin max: it fails in CUDA kernels)
            sh[tid] = sh[tid + s]
        cuda.syncthreads()
        s //= 2
    v = sh[0]
    cuda.syncthreads()
    return v


# ---- softmax / log_softmax ----

@functools.cache
def _softmax_kernel(dtype: np.dtype, threads: int, log: bool):
    exp_ = exp_fn(dtype)
    T = dtype.type
    ninf, zero, one = T(-np.inf), T(0), T(1)

    @cuda.jit
    def softmax_rows(x, xo, lshape, lst, lnd, ls, n, rows, out):
        sh = cuda.shared.array(threads, dtype)
        tid = cuda.threadIdx.x
        for r in range(cuda.blockIdx.x, rows, cuda.gridDim.x):
            base = xo + devfn.offset1(r, lshape, lst, lnd)
            m = ninf
            for j in range(tid, n, threads):
                v = x[base + j * ls]
                if v > m:  # noqa: PLR1730
                    m = v
            sh[tid] = m
            m = _tree_max(sh, tid, threads)
            if m == ninf:  # fully masked row: stays finite
                m = zero
            s = zero
            for j in range(tid, n, threads):
                s += exp_(x[base + j * ls] - m)
            sh[tid] = s
            s = _tree_sum(sh, tid, threads)
            o = r * n
            if log:
                lse = m + (math.log(s) if s > zero else ninf)
                for j in range(tid, n, threads):
                    out[o + j] = x[base + j * ls] - lse
            else:
                inv = one / s
                for j in range(tid, n, threads):
                    out[o + j] = exp_(x[base + j * ls] - m) * inv
    return softmax_rows


def rows_of(x):
    """(buf, offset, lead shape, lead strides, last stride, n, rows) of x's last-dim rows."""
    lay = x._layout
    n = lay.shape[-1] if lay.shape else 1
    lead_shape = lay.shape[:-1]
    lead_strides = lay.strides[:-1]
    ls = lay.strides[-1] if lay.shape else 1
    s, st = merge_runs(lead_shape, lead_strides)
    rows = 1
    for d in lead_shape:
        rows *= d
    return x._storage.buf, lay.offset, s, st, ls, n, rows


def softmax(x, log: bool = False):
    buf, off, s, st, ls, n, rows = rows_of(x)
    dtype = buf.dtype
    out = empty(x.shape, dtype)
    if rows * n == 0:
        return out
    if len(s) > 8:
        return softmax(tensor_like(x, copy(x)), log)
    cfg = config()
    kernel = _softmax_kernel(dtype, cfg.row_threads, log)
    kernel[min(rows, cfg.max_blocks), cfg.row_threads](buf, off, pad(s, 1), pad(st, 0), len(s),
                                                       ls, n, rows, out.reshape(rows * n))
    return out


# ---- layer_norm ----

@functools.cache
def _layer_norm_kernel(dtype: np.dtype, threads: int):
    T = dtype.type
    zero, one = T(0), T(1)

    @cuda.jit
    def layer_norm_rows(x, xo, lshape, lst, lnd, ls, n, rows, w, wo, ws, b, bo, bs, eps,
                        out, mean, rstd):
        sh = cuda.shared.array(threads, dtype)
        tid = cuda.threadIdx.x
        fn = T(n)
        for r in range(cuda.blockIdx.x, rows, cuda.gridDim.x):
            base = xo + devfn.offset1(r, lshape, lst, lnd)
            s = zero
            for j in range(tid, n, threads):
                s += x[base + j * ls]
            sh[tid] = s
            mu = _tree_sum(sh, tid, threads) / fn
            v = zero
            for j in range(tid, n, threads):
                d = x[base + j * ls] - mu
                v += d * d
            sh[tid] = v
            var = _tree_sum(sh, tid, threads) / fn
            inv = one / math.sqrt(var + eps)
            o = r * n
            for j in range(tid, n, threads):
                out[o + j] = (x[base + j * ls] - mu) * inv * w[wo + j * ws] + b[bo + j * bs]
            if tid == 0:
                mean[r] = mu
                rstd[r] = inv
    return layer_norm_rows


def _vector(t, dtype, default):
    """(buf, offset, stride) of a 1-D-walkable parameter, or a stride-0 constant."""
    if t is None:
        return scalar_array(default, dtype), 0, 0
    s, st = merge_runs(t.shape, t._layout.strides)
    if len(s) > 1:
        return copy(t).reshape(-1), 0, 1
    return t._storage.buf, t._layout.offset, st[0] if st else 1


def layer_norm(x, w=None, b=None, n=1, eps=1e-5):
    """(y, mean, rstd): x normalised over its trailing `n` elements per row."""
    lay = x._layout
    # the normalised trailing dims must be one strided run; otherwise copy
    k, total = 0, 1
    while total < n:
        total *= lay.shape[len(lay.shape) - 1 - k]
        k += 1
    tail_s, tail_st = merge_runs(lay.shape[len(lay.shape) - k:], lay.strides[len(lay.strides) - k:])
    if len(tail_s) > 1:
        x = tensor_like(x, copy(x))
        lay = x._layout
        tail_st = [1]
    ls = tail_st[0] if tail_st else 1
    lead_shape = lay.shape[:len(lay.shape) - k]
    s, st = merge_runs(lead_shape, lay.strides[:len(lay.strides) - k])
    if len(s) > 8:
        return layer_norm(tensor_like(x, copy(x)), w, b, n, eps)
    rows = 1
    for d in lead_shape:
        rows *= d
    buf = x._storage.buf
    dtype = buf.dtype
    out = empty(x.shape, dtype)
    mean = empty((rows,), dtype)
    rstd = empty((rows,), dtype)
    if rows * n == 0:
        return out, mean, rstd
    wb, wo, ws = _vector(w, dtype, 1)
    bb, bo, bs = _vector(b, dtype, 0)
    cfg = config()
    kernel = _layer_norm_kernel(dtype, cfg.row_threads)
    kernel[min(rows, cfg.max_blocks), cfg.row_threads](
        buf, lay.offset, pad(s, 1), pad(st, 0), len(s), ls, n, rows, wb, wo, ws, bb, bo, bs,
        dtype.type(eps), out.reshape(rows * n), mean, rstd)
    return out, mean, rstd


# ---- attention softmax (in place on contiguous (B, H, Tq, Tk) scores) ----

@functools.cache
def _attn_kernel(dtype: np.dtype, threads: int):
    exp_ = exp_fn(dtype)
    T = dtype.type
    ninf, zero, one = T(-np.inf), T(0), T(1)

    @cuda.jit
    def attn_softmax_rows(s, H, Tq, Tk, rows, m, mo, mst, scale, causal):
        sh = cuda.shared.array(threads, dtype)
        tid = cuda.threadIdx.x
        for r in range(cuda.blockIdx.x, rows, cuda.gridDim.x):
            i = r % Tq
            q = r // Tq
            h = q % H
            bb = q // H
            limit = Tk
            if causal:  # query i sees keys up to i + (Tk - Tq)
                limit = i + Tk - Tq + 1
                if limit > Tk:  # noqa: PLR1730 (builtin min/max of ints fail to compile for CUDA)
                    limit = Tk
                if limit < 0:  # noqa: PLR1730
                    limit = 0
            base = r * Tk
            mbase = mo + bb * mst[0] + h * mst[1] + i * mst[2]
            mx = ninf
            for j in range(tid, limit, threads):
                v = s[base + j] * scale + m[mbase + j * mst[3]]
                s[base + j] = v
                if v > mx:  # noqa: PLR1730
                    mx = v
            sh[tid] = mx
            mx = _tree_max(sh, tid, threads)
            if mx == ninf:  # every key masked: the row becomes zeros, not NaN
                mx = zero
            tot = zero
            for j in range(tid, limit, threads):
                e = exp_(s[base + j] - mx)
                s[base + j] = e
                tot += e
            sh[tid] = tot
            tot = _tree_sum(sh, tid, threads)
            inv = one / tot if tot > zero else zero
            for j in range(tid, Tk, threads):
                s[base + j] = s[base + j] * inv if j < limit else zero
    return attn_softmax_rows


def attention_softmax(scores, mask, scale: float, causal: bool) -> None:
    """softmax(scores * scale + mask) in place; scores a contiguous 4-D device array,
    mask None or (buf, offset, 4 strides broadcast to the scores' shape)."""
    B, H, Tq, Tk = scores.shape
    rows = B * H * Tq
    dtype = scores.dtype
    if rows * Tk == 0:
        return
    if mask is None:
        mask = (scalar_array(0, dtype), 0, (0, 0, 0, 0))
    mb, mo, mst = mask
    cfg = config()
    kernel = _attn_kernel(dtype, cfg.row_threads)
    kernel[min(rows, cfg.max_blocks), cfg.row_threads](
        scores.reshape(rows * Tk), H, Tq, Tk, rows, mb, mo, tuple(int(v) for v in mst),
        dtype.type(scale), bool(causal))
