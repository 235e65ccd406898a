"""Fused backward kernels on the CPU: softmax / log_softmax (also the scaled softmax of
attention), layer_norm and GELU, each one pass over a row instead of a chain of ops,
and the probabilities of attention kept for its backward.

Registered in the op registry by name (KERNELS below, merged into the CPU table).
Each takes numpy views and returns fresh C-contiguous arrays.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

from . import PARALLEL_MIN, num_threads
from . import fastmath as fm
from . import linalg as cpu_la
from . import rows as cpu_rows

_FM = {"nsz", "arcp", "contract", "reassoc"}


def _rows(a: np.ndarray, n: int) -> np.ndarray:
    return np.ascontiguousarray(a).reshape(-1, n)


# ---- softmax / log_softmax: dx = y * (g - sum(g * y)), or g - exp(y) * sum(g) ----

@njit(inline="always")
def _softmax_bw_row(y, g, out, r, scale, log):
    n = y.shape[1]
    s = fm.acc_zero(y[r, 0])
    if log:
        for j in range(n):
            s += g[r, j]
        st = fm.like(y[r, 0], s)
        for j in range(n):
            out[r, j] = (g[r, j] - fm.exp(y[r, j]) * st) * scale
    else:
        for j in range(n):
            s += g[r, j] * y[r, j]
        st = fm.like(y[r, 0], s)
        for j in range(n):
            out[r, j] = y[r, j] * (g[r, j] - st) * scale


@njit(cache=True, parallel=True, fastmath=_FM, error_model="numpy")
def softmax_bw_parallel(y, g, out, scale, log):
    for r in prange(y.shape[0]):
        _softmax_bw_row(y, g, out, r, scale, log)


@njit(cache=True, fastmath=_FM, error_model="numpy", nogil=True)
def softmax_bw_serial(y, g, out, scale, log):
    for r in range(y.shape[0]):
        _softmax_bw_row(y, g, out, r, scale, log)


def softmax_backward(y, g, scale=1.0, log=False):
    """Gradient of (log_)softmax over the last dim from its output y and output grad g,
    times `scale` (attention: the scale of q k^T, folded in here)."""
    n = y.shape[-1]
    y2, g2 = _rows(y, n), _rows(g, n)
    out = np.empty_like(y2)
    st = y2.dtype.type(scale)
    if y2.size >= PARALLEL_MIN and y2.shape[0] > 1:
        softmax_bw_parallel(y2, g2, out, st, log)
    else:
        softmax_bw_serial(y2, g2, out, st, log)
    return out.reshape(y.shape)


# ---- layer_norm: dx per row; dw, db as per-chunk partial column sums ----

@njit(inline="always")
def _layer_norm_bw_chunk(x, g, w, mean, rstd, dx, dwp, dbp, c, lo, hi, affine, need_dx):
    n = x.shape[1]
    inv_n = 1.0 / n
    for r in range(lo, hi):
        mu = fm.like(x[r, 0], mean[r])
        inv = fm.like(x[r, 0], rstd[r])
        a = fm.acc_zero(x[r, 0])  # sum(dxhat)
        b = fm.acc_zero(x[r, 0])  # sum(dxhat * xhat)
        for j in range(n):
            xh = (x[r, j] - mu) * inv
            gj = g[r, j]
            dwp[c, j] += gj * xh
            dbp[c, j] += gj
            dxh = gj * w[j] if affine else gj
            a += dxh
            b += dxh * xh
        if need_dx:
            am = fm.like(x[r, 0], a * inv_n)
            bm = fm.like(x[r, 0], b * inv_n)
            for j in range(n):
                xh = (x[r, j] - mu) * inv
                dxh = g[r, j] * w[j] if affine else g[r, j]
                dx[r, j] = inv * (dxh - am - xh * bm)


@njit(cache=True, parallel=True, fastmath=_FM, error_model="numpy")
def layer_norm_bw_parallel(x, g, w, mean, rstd, dx, dwp, dbp, affine, need_dx):
    rows = x.shape[0]
    chunks = dwp.shape[0]
    for c in prange(chunks):
        _layer_norm_bw_chunk(x, g, w, mean, rstd, dx, dwp, dbp, c, c * rows // chunks,
                             (c + 1) * rows // chunks, affine, need_dx)


@njit(cache=True, fastmath=_FM, error_model="numpy", nogil=True)
def layer_norm_bw_serial(x, g, w, mean, rstd, dx, dwp, dbp, affine, need_dx):
    _layer_norm_bw_chunk(x, g, w, mean, rstd, dx, dwp, dbp, 0, 0, x.shape[0], affine, need_dx)


def layer_norm_backward(x, g, w, mean, rstd, n=1, need_dx=True):
    """(dx or None, dw, db) of layer_norm over the trailing n elements; w None when
    the norm has no affine weight (dw, db are then still the column sums)."""
    x2, g2 = _rows(x, n), _rows(g, n)
    rows = x2.shape[0]
    affine = w is not None
    wa = np.ascontiguousarray(w, dtype=x2.dtype).reshape(-1) if affine else x2[0]
    dx = np.empty_like(x2) if need_dx else x2[:1]
    parallel = x2.size >= PARALLEL_MIN and rows > 1
    chunks = min(num_threads(), rows) if parallel else 1
    dwp = np.zeros((chunks, n), x2.dtype)
    dbp = np.zeros((chunks, n), x2.dtype)
    m = np.ascontiguousarray(mean, dtype=x2.dtype).reshape(-1)
    s = np.ascontiguousarray(rstd, dtype=x2.dtype).reshape(-1)
    fn = layer_norm_bw_parallel if parallel else layer_norm_bw_serial
    fn(x2, g2, wa, m, s, dx, dwp, dbp, affine, need_dx)
    return (dx.reshape(x.shape) if need_dx else None), dwp.sum(0), dbp.sum(0)


# ---- gelu: g * gelu'(x) ----

_SQRT1_2 = 0.7071067811865476
_INV_SQRT_2PI = 0.3989422804014327
_SQRT_2_OVER_PI = 0.7978845608028654


@njit(inline="always")
def _gelu_grad(x, tanh_form):
    half = fm.like(x, 0.5)
    one = fm.like(x, 1.0)
    if tanh_form:
        k = fm.like(x, _SQRT_2_OVER_PI)
        c = fm.like(x, 0.044715)
        t = fm.tanh(k * (x + c * x * x * x))
        return half * (one + t) + half * x * (one - t * t) * k * (one + fm.like(x, 3.0) * c * x * x)
    cdf = half * (one + fm.erf(x * fm.like(x, _SQRT1_2)))
    return cdf + x * fm.like(x, _INV_SQRT_2PI) * fm.exp(-half * x * x)


@njit(cache=True, parallel=True, fastmath=_FM, error_model="numpy")
def gelu_bw_parallel(x, g, out, tanh_form):
    for i in prange(x.shape[0]):
        out[i] = g[i] * _gelu_grad(x[i], tanh_form)


@njit(cache=True, fastmath=_FM, error_model="numpy", nogil=True)
def gelu_bw_serial(x, g, out, tanh_form):
    for i in range(x.shape[0]):
        out[i] = g[i] * _gelu_grad(x[i], tanh_form)


def gelu_backward(x, g, approximate="none"):
    """g * gelu'(x) in one pass (g broadcast to x's shape)."""
    xa = np.ascontiguousarray(x).reshape(-1)
    ga = np.ascontiguousarray(np.broadcast_to(g, x.shape), dtype=xa.dtype).reshape(-1)
    out = np.empty_like(xa)
    fn = gelu_bw_parallel if xa.size >= PARALLEL_MIN else gelu_bw_serial
    fn(xa, ga, out, approximate == "tanh")
    return out.reshape(x.shape)


# ---- attention for training: the probabilities, kept for backward ----

def attention_probs(q, k, mask=None, scale=1.0, causal=False):
    """softmax(q k^T * scale + mask) with the causal limit, (..., Tq, Tk), contiguous."""
    scores = cpu_la.matmul_arrays(q, np.swapaxes(k, -1, -2))
    s4 = scores.reshape((1,) * (4 - scores.ndim) + scores.shape) if scores.ndim < 4 else scores
    if mask is None:
        m4, has_mask = np.broadcast_to(np.zeros((1, 1, 1, 1), s4.dtype), s4.shape), False
    else:
        m = np.asarray(mask, dtype=s4.dtype)
        m4 = np.broadcast_to(m.reshape((1,) * (4 - m.ndim) + m.shape), s4.shape)
        has_mask = True
    st = s4.dtype.type(scale)
    if s4.size >= PARALLEL_MIN and s4.shape[0] * s4.shape[1] * s4.shape[2] > 1:
        cpu_rows.attn_softmax_parallel(s4, m4, st, causal, has_mask)
    else:
        cpu_rows.attn_softmax_serial(s4, m4, st, causal, has_mask)
    return scores


KERNELS = {
    "softmax_backward": softmax_backward,
    "layer_norm_backward": layer_norm_backward,
    "gelu_backward": gelu_backward,
    "attention_probs": attention_probs,
}
