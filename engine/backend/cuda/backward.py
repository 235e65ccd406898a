"""Fused backward kernels on CUDA: softmax / log_softmax (and attention's scaled
softmax), layer_norm and GELU, and the probabilities of attention kept for backward.

Row kernels run one block per row with a shared-memory sum, as rows.py does; their
operands are made C-contiguous first (gradients almost always are). layer_norm's
weight and bias gradients are column sums: one thread per column walks the rows
(neighbouring threads read neighbouring elements).
"""

from __future__ import annotations

import functools
import math

import numpy as np
from numba import cuda

from ...layout import broadcast_shapes
from . import linalg, rows
from .elementwise import copy, exp_fn
from .gemm import gemm, matrix_operand
from .launch import blocks_for, broadcast_strides, config, empty, flat, numel


def _flat_contig(t):
    """The flat C-contiguous device buffer of a tensor operand (copied if strided)."""
    lay = t._layout
    if lay.is_contiguous():
        buf = t._storage.buf
        return buf[lay.offset:lay.offset + numel(lay.shape)]
    return flat(copy(t))


# ---- softmax / log_softmax ----

@functools.cache
def _softmax_bw_kernel(dtype: np.dtype, threads: int, log: bool):
    exp_ = exp_fn(dtype)
    zero = dtype.type(0)

    @cuda.jit
    def softmax_bw_rows(y, g, n, rows_, scale, out):
        sh = cuda.shared.array(threads, dtype)
        tid = cuda.threadIdx.x
        for r in range(cuda.blockIdx.x, rows_, cuda.gridDim.x):
            base = r * n
            s = zero
            for j in range(tid, n, threads):
                s += g[base + j] if log else g[base + j] * y[base + j]
            sh[tid] = s
            s = rows._tree_sum(sh, tid, threads)
            for j in range(tid, n, threads):
                if log:
                    out[base + j] = (g[base + j] - exp_(y[base + j]) * s) * scale
                else:
                    out[base + j] = y[base + j] * (g[base + j] - s) * scale
    return softmax_bw_rows


def softmax_backward(y, g, scale=1.0, log=False):
    n = y.shape[-1] if y.shape else 1
    count = numel(y.shape)
    dtype = y._storage.buf.dtype
    out = empty(y.shape, dtype)
    if count == 0:
        return out
    nrows = count // n
    cfg = config()
    kernel = _softmax_bw_kernel(dtype, cfg.row_threads, bool(log))
    kernel[min(nrows, cfg.max_blocks), cfg.row_threads](
        _flat_contig(y), _flat_contig(g), n, nrows, dtype.type(scale), flat(out))
    return out


# ---- layer_norm ----

@functools.cache
def _layer_norm_dx_kernel(dtype: np.dtype, threads: int, affine: bool):
    zero = dtype.type(0)

    @cuda.jit
    def layer_norm_dx(x, g, w, mean, rstd, n, rows_, dx):
        sh = cuda.shared.array(threads, dtype)
        tid = cuda.threadIdx.x
        fn = dtype.type(n)
        for r in range(cuda.blockIdx.x, rows_, cuda.gridDim.x):
            base = r * n
            mu, inv = mean[r], rstd[r]
            a = zero
            for j in range(tid, n, threads):
                a += g[base + j] * w[j] if affine else g[base + j]
            sh[tid] = a
            a = rows._tree_sum(sh, tid, threads) / fn
            b = zero
            for j in range(tid, n, threads):
                dxh = g[base + j] * w[j] if affine else g[base + j]
                b += dxh * (x[base + j] - mu) * inv
            sh[tid] = b
            b = rows._tree_sum(sh, tid, threads) / fn
            for j in range(tid, n, threads):
                dxh = g[base + j] * w[j] if affine else g[base + j]
                dx[base + j] = inv * (dxh - a - (x[base + j] - mu) * inv * b)
    return layer_norm_dx


@functools.cache
def _layer_norm_dwb_kernel(dtype: np.dtype):
    zero = dtype.type(0)

    @cuda.jit
    def layer_norm_dwb(x, g, mean, rstd, n, rows_, dw, db):
        j = cuda.grid(1)
        step = cuda.gridsize(1)
        while j < n:
            sw = zero
            sb = zero
            for r in range(rows_):
                gj = g[r * n + j]
                sw += gj * (x[r * n + j] - mean[r]) * rstd[r]
                sb += gj
            dw[j] = sw
            db[j] = sb
            j += step
    return layer_norm_dwb


def layer_norm_backward(x, g, w, mean, rstd, n=1, need_dx=True):
    dtype = x._storage.buf.dtype
    count = numel(x.shape)
    nrows = count // n if n else 0
    dw = empty((n,), dtype)
    db = empty((n,), dtype)
    dx = empty(x.shape, dtype) if need_dx else None
    if count == 0:
        return dx, dw, db
    xb, gb = _flat_contig(x), _flat_contig(g)
    mb, sb = _flat_contig(mean), _flat_contig(rstd)
    cfg = config()
    if need_dx:
        affine = w is not None
        wb = _flat_contig(w) if affine else mb  # (unused without a weight)
        kernel = _layer_norm_dx_kernel(dtype, cfg.row_threads, affine)
        kernel[min(nrows, cfg.max_blocks), cfg.row_threads](xb, gb, wb, mb, sb, n, nrows,
                                                             flat(dx))
    kernel = _layer_norm_dwb_kernel(dtype)
    kernel[blocks_for(n, cfg.threads), cfg.threads](xb, gb, mb, sb, n, nrows, dw, db)
    return dx, dw, db


# ---- gelu ----

@functools.cache
def _gelu_bw_kernel(dtype: np.dtype, tanh_form: bool):
    T = dtype.type
    half, one, three = T(0.5), T(1.0), T(3.0)
    c_erf, inv_sqrt_2pi = T(0.7071067811865476), T(0.3989422804014327)
    k, c = T(0.7978845608028654), T(0.044715)

    @cuda.jit
    def gelu_bw(x, g, out, count):
        i = cuda.grid(1)
        step = cuda.gridsize(1)
        while i < count:
            v = x[i]
            if tanh_form:
                t = math.tanh(k * (v + c * v * v * v))
                d = half * (one + t) + half * v * (one - t * t) * k * (one + three * c * v * v)
            else:
                d = half * (one + math.erf(v * c_erf)) + v * inv_sqrt_2pi * math.exp(-half * v * v)
            out[i] = g[i] * d
            i += step
    return gelu_bw


def gelu_backward(x, g, approximate="none"):
    dtype = x._storage.buf.dtype
    out = empty(x.shape, dtype)
    count = numel(x.shape)
    if count == 0:
        return out
    cfg = config()
    _gelu_bw_kernel(dtype, approximate == "tanh")[blocks_for(count, cfg.threads), cfg.threads](
        _flat_contig(x), _flat_contig(g), flat(out), count)
    return out


# ---- attention for training ----

def attention_probs(q, k, mask=None, scale=1.0, causal=False):
    """softmax(q k^T * scale + mask) (..., Tq, Tk) with the causal limit, contiguous."""
    batch = broadcast_shapes(q.shape[:-2], k.shape[:-2])
    Tq, D = q.shape[-2:]
    Tk = k.shape[-2]
    if len(batch) > 2:
        raise ValueError(f"attention supports at most 2 batch dims, got q of shape {q.shape}")
    dtype = linalg._compute_dtype(q._storage.buf.dtype)
    scores = gemm(matrix_operand(q, batch),
                  matrix_operand(k, batch, transpose=True), Tq, Tk, D, batch, dtype)
    four = (1,) * (2 - len(batch)) + tuple(batch) + (Tq, Tk)
    m = None
    if mask is not None:
        pad_n = 4 - mask.ndim
        mshape = (1,) * pad_n + mask.shape
        mstrides = (0,) * pad_n + mask._layout.strides
        broadcast_shapes(mshape, four)
        m = (mask._storage.buf, mask._layout.offset,
             broadcast_strides(mshape, mstrides, four))
    rows.attention_softmax(scores.reshape(four), m, scale, causal)
    return scores


KERNELS = {
    "softmax_backward": softmax_backward,
    "layer_norm_backward": layer_norm_backward,
    "gelu_backward": gelu_backward,
    "attention_probs": attention_probs,
}
