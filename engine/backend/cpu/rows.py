"""Row kernels: softmax, log_softmax, layer_norm, the bias(+GELU) epilogue of a GEMM
and the masked, scaled softmax of attention.

Each works on a C-contiguous (rows, n) array, one row per task; the parallel
variant spreads rows over numba's threads and the serial one avoids the
thread-pool launch for the small tensors of token-by-token decoding. The per-row
bodies are shared (inlined) between both variants.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

from . import fastmath as fm

_FM = {"nsz", "arcp", "contract", "reassoc"}  # no 'nnan'/'ninf': -inf masks must work


@njit(inline="always")
def _row_max(x, r, n):
    """max(x[r, :n]), n >= 1, with eight running maxima, which LLVM vectorises; one
    running max is a chain it will not reorder without 'nnan' (kept off here for -inf
    masks), so it stayed scalar and was most of a short row's softmax (this is 3.4x
    faster on 577 columns). A row holding NaN still comes out NaN through exp."""
    m0 = m1 = m2 = m3 = m4 = m5 = m6 = m7 = x[r, 0]
    j = 0
    while j + 8 <= n:
        v = x[r, j]
        m0 = max(m0, v)
        v = x[r, j + 1]
        m1 = max(m1, v)
        v = x[r, j + 2]
        m2 = max(m2, v)
        v = x[r, j + 3]
        m3 = max(m3, v)
        v = x[r, j + 4]
        m4 = max(m4, v)
        v = x[r, j + 5]
        m5 = max(m5, v)
        v = x[r, j + 6]
        m6 = max(m6, v)
        v = x[r, j + 7]
        m7 = max(m7, v)
        j += 8
    m = max(max(max(m0, m1), max(m2, m3)), max(max(m4, m5), max(m6, m7)))
    while j < n:
        v = x[r, j]
        m = max(m, v)
        j += 1
    return m


@njit(inline="always")
def _softmax_row(x, out, r, log):
    n = x.shape[1]
    m = _row_max(x, r, n)
    if m == -np.inf:  # fully masked row: stays finite
        m = fm.like(m, 0.0)
    s = fm.like(m, 0.0)
    if log:
        for j in range(n):
            s += fm.exp(x[r, j] - m)
        lse = m + np.log(s)
        for j in range(n):
            out[r, j] = x[r, j] - lse
    else:
        for j in range(n):
            e = fm.exp(x[r, j] - m)
            out[r, j] = e
            s += e
        inv = fm.like(m, 1.0) / s
        for j in range(n):
            out[r, j] *= inv


@njit(cache=True, parallel=True, fastmath=_FM, error_model="numpy")
def softmax_rows_parallel(x, out, log):
    for r in prange(x.shape[0]):
        _softmax_row(x, out, r, log)


@njit(cache=True, fastmath=_FM, error_model="numpy")
def softmax_rows_serial(x, out, log):
    for r in range(x.shape[0]):
        _softmax_row(x, out, r, log)


@njit(inline="always")
def _layer_norm_row(x, w, b, out, mean, rstd, r, eps, affine):
    n = x.shape[1]
    s = fm.acc_zero(x[r, 0])
    for j in range(n):
        s += x[r, j]
    mu = s / n
    v = fm.acc_zero(x[r, 0])
    for j in range(n):
        d = x[r, j] - mu
        v += d * d
    inv = 1.0 / np.sqrt(v / n + eps)
    mean[r] = mu
    rstd[r] = inv
    mu_t = fm.like(x[r, 0], mu)
    inv_t = fm.like(x[r, 0], inv)
    if affine:
        for j in range(n):
            out[r, j] = (x[r, j] - mu_t) * inv_t * w[j] + b[j]
    else:
        for j in range(n):
            out[r, j] = (x[r, j] - mu_t) * inv_t


@njit(cache=True, parallel=True, fastmath=_FM, error_model="numpy")
def layer_norm_rows_parallel(x, w, b, out, mean, rstd, eps, affine):
    for r in prange(x.shape[0]):
        _layer_norm_row(x, w, b, out, mean, rstd, r, eps, affine)


@njit(cache=True, fastmath=_FM, error_model="numpy")
def layer_norm_rows_serial(x, w, b, out, mean, rstd, eps, affine):
    for r in range(x.shape[0]):
        _layer_norm_row(x, w, b, out, mean, rstd, r, eps, affine)


# ---- GEMM epilogues: y[r, :] = act(y[r, :] + bias), in place ----

NO_ACT, GELU_ERF, GELU_TANH = 0, 1, 2


@njit(inline="always")
def _epilogue_row(y, bias, r, act):
    n = y.shape[1]
    half = fm.like(y[r, 0], 0.5)
    one = fm.like(y[r, 0], 1.0)
    if act == NO_ACT:
        for j in range(n):
            y[r, j] += bias[j]
    elif act == GELU_ERF:
        c = fm.like(y[r, 0], 0.7071067811865476)
        for j in range(n):
            v = y[r, j] + bias[j]
            y[r, j] = half * v * (one + fm.erf(v * c))
    else:
        k = fm.like(y[r, 0], 0.7978845608028654)
        c = fm.like(y[r, 0], 0.044715)
        for j in range(n):
            v = y[r, j] + bias[j]
            y[r, j] = half * v * (one + fm.tanh(k * (v + c * v * v * v)))


@njit(cache=True, parallel=True, fastmath=_FM, error_model="numpy")
def bias_act_rows_parallel(y, bias, act):
    for r in prange(y.shape[0]):
        _epilogue_row(y, bias, r, act)


@njit(cache=True, fastmath=_FM, error_model="numpy", nogil=True)
def bias_act_rows_serial(y, bias, act):
    for r in range(y.shape[0]):
        _epilogue_row(y, bias, r, act)


@njit(cache=True, fastmath=_FM, error_model="numpy", nogil=True)
def add_rows_serial(y, r):
    """y += r, both C-contiguous (rows, n): a residual added in a GEMM's epilogue."""
    for i in range(y.shape[0]):
        for j in range(y.shape[1]):
            y[i, j] += r[i, j]


# ---- attention: softmax(scale * scores + mask) over the last dim, in place ----

@njit(inline="always")
def _exp_in_place(row, limit, m):
    """row[:limit] = exp(row - m), row[limit:] = 0; returns the total. m = -inf (every
    key masked) leaves zeros, not NaN."""
    zero = fm.like(m, 0.0)
    if m == -np.inf:
        m = zero
    tot = zero
    for j in range(limit):
        e = fm.exp(row[j] - m)
        row[j] = e
        tot += e
    for j in range(limit, row.shape[0]):
        row[j] = zero
    return tot


@njit(inline="always")
def _attn_row(s, mask, r, scale, causal, has_mask):
    # s: (B, H, Tq, Tk) scores, row r = flattened (b, h, i); mask: a broadcast 4-D view.
    # `scale` has the scores' dtype, so float32 rows stay float32.
    _, H, Tq, Tk = s.shape
    i = r % Tq
    q = r // Tq
    h = q % H
    bb = q // H
    zero = fm.like(scale, 0.0)
    limit = Tk
    if causal:  # query i sees keys up to i + (Tk - Tq)
        limit = max(0, min(Tk, i + Tk - Tq + 1))
    row = s[bb, h, i]
    m = fm.like(scale, -np.inf)
    if has_mask:
        mrow = mask[bb, h, i]
        for j in range(limit):
            v = row[j] * scale + mrow[j]
            row[j] = v
            m = max(m, v)
    else:
        for j in range(limit):
            v = row[j] * scale
            row[j] = v
            m = max(m, v)
    tot = _exp_in_place(row, limit, m)
    inv = fm.like(scale, 1.0) / tot if tot > zero else zero
    for j in range(limit):
        row[j] *= inv


@njit(cache=True, parallel=True, fastmath=_FM, error_model="numpy")
def attn_softmax_parallel(s, mask, scale, causal, has_mask):
    B, H, Tq, _ = s.shape
    for r in prange(B * H * Tq):
        _attn_row(s, mask, r, scale, causal, has_mask)


@njit(cache=True, fastmath=_FM, error_model="numpy", nogil=True)
def attn_softmax_serial(s, mask, scale, causal, has_mask):
    B, H, Tq, _ = s.shape
    for r in range(B * H * Tq):
        _attn_row(s, mask, r, scale, causal, has_mask)


@njit(cache=True, fastmath=_FM, error_model="numpy", nogil=True)
def exp_rows_minus(s, maxes, sums):
    """s[i] = exp(s[i] - maxes[i]) in place, sums[i] = its total: an unmasked attention
    block whose row maxima are known (see attn_exp_block)."""
    for i in range(s.shape[0]):
        sums[i] = _exp_in_place(s[i], s.shape[1], maxes[i])


@njit(cache=True, fastmath=_FM, error_model="numpy", nogil=True)
def exp_rows_upto(s, n, sums):
    """s[i, :n] = exp(s[i, :n] - its max) in place, s[i, n:] = 0, sums[i] = the total: an
    unmasked attention block written with a padded row stride (the micro-kernel's
    panels are 64 keys wide), kept C-contiguous so the loops vectorise."""
    for i in range(s.shape[0]):
        sums[i] = _exp_in_place(s[i], n, _row_max(s, i, n))


@njit(cache=True, fastmath=_FM, error_model="numpy", nogil=True)
def attn_exp_block(s, mask, causal, has_mask, sums):
    """One (query, key) block of attention, scores already scaled: each row becomes
    exp(s + mask - rowmax) in place and its total goes to sums, so the caller divides
    the (much smaller) product with v instead of normalising every score. Keys past
    the causal limit become 0; a fully masked row gets total 0."""
    tq, tk = s.shape
    for i in range(tq):
        limit = tk
        if causal:  # query i sees keys up to i + (tk - tq)
            limit = max(0, min(tk, i + tk - tq + 1))
        row = s[i]
        m = fm.like(row[0], -np.inf)
        if has_mask:
            mrow = mask[i]
            for j in range(limit):
                v = row[j] + mrow[j]
                row[j] = v
                m = max(m, v)
        else:
            for j in range(limit):
                m = max(m, row[j])
        sums[i] = _exp_in_place(row, limit, m)
