"""Matrix products on the GPU: matmul, linear (+GELU), conv2d through im2col + GEMM and
its backward, and fused attention — all on the tiled GEMM of gemm.py, reading
transposed and broadcast operands through their strides."""

from __future__ import annotations

import functools

import numpy as np
from numba import cuda

from ...layout import broadcast_shapes
from ..codes import RELU
from . import rows
from .elementwise import copy, unary
from .gemm import BIAS_COLS, BIAS_ROWS, GELU_ERF, GELU_TANH, NO_ACT, Operand, gemm, matrix_operand
from .launch import blocks_for, broadcast_strides, config, empty, merge_runs, tensor_like
from .pool import upsample_nearest2d
from .reduce import SUM, reduce
from .shape import cat


def _compute_dtype(buf_dtype: np.dtype) -> np.dtype:
    """Output dtype of a product: float16 operands accumulate into float32."""
    return np.dtype(np.float32) if buf_dtype == np.float16 else buf_dtype


def matmul(a, b):
    """a @ b for >= 2-D CUDA tensors with broadcast batch dims."""
    batch = broadcast_shapes(a.shape[:-2], b.shape[:-2])
    M, K = a.shape[-2:]
    N = b.shape[-1]
    out_dtype = _compute_dtype(np.result_type(a._storage.buf.dtype, b._storage.buf.dtype))
    return gemm(matrix_operand(a, batch), matrix_operand(b, batch), M, N, K, batch, out_dtype)


def _rows_operand(x):
    """x (..., K) as a batched matrix (batch..., M, K) without copying: the leading dims
    that merge with the rows become M, any others stay batch dims."""
    lay = x._layout
    shape, strides = lay.shape, lay.strides
    K = shape[-1]
    lead, lead_st = list(shape[:-1]), list(strides[:-1])
    if not lead:
        lead, lead_st = [1], [K * strides[-1] if K else 1]
    # fold trailing lead dims into M while they are one strided run
    m, ms = lead[-1], lead_st[-1]
    i = len(lead) - 2
    while i >= 0 and (lead[i] == 1 or lead_st[i] == ms * m):
        if lead[i] != 1:
            m *= lead[i]
        i -= 1
    batch = tuple(lead[:i + 1])
    op = Operand(x._storage.buf, lay.offset, tuple(lead_st[:i + 1]), ms, strides[-1])
    return op, batch, m


def linear(x, w, b=None, act: int = NO_ACT):
    """act(x @ w.T + b) with w (out, in). A float16 weight (and bias) is decoded on the fly
    and accumulated in float32."""
    xop, batch, M = _rows_operand(x)
    K = x.shape[-1]
    N = w.shape[0]
    wl = w._layout
    # B[k, n] = w[n, k]: the transposed weight, read through swapped strides
    wop = Operand(w._storage.buf, wl.offset, (0,) * len(batch), wl.strides[1], wl.strides[0])
    bias = None
    if b is not None:
        bias = (b._storage.buf, b._layout.offset, b._layout.strides[0])
    out_dtype = _compute_dtype(x._storage.buf.dtype)
    out = gemm(xop, wop, M, N, K, batch, out_dtype, bias, BIAS_COLS if bias else 0, act)
    return out.reshape(x.shape[:-1] + (N,))


def linear_gelu(x, w, b=None, approximate: str = "none"):
    return linear(x, w, b, GELU_TANH if approximate == "tanh" else GELU_ERF)


# ---- convolution: im2col + GEMM ----

@cuda.jit
def _im2col(x, xo, xs0, xs1, xs2, xs3, C, H, W, kh, kw, sh, sw, ph, pw, oh, ow, cols, n):
    """cols[b, (c*kh + i)*kw + j, oi*ow + oj] = x[b, c, oi*sh - ph + i, oj*sw - pw + j]."""
    L = oh * ow
    ckk = C * kh * kw
    t = cuda.grid(1)
    step = cuda.gridsize(1)
    while t < n:
        l = t % L
        q = t // L
        row = q % ckk
        b = q // ckk
        c = row // (kh * kw)
        r2 = row % (kh * kw)
        ii = (l // ow) * sh - ph + r2 // kw
        jj = (l % ow) * sw - pw + r2 % kw
        if ii >= 0 and ii < H and jj >= 0 and jj < W:
            cols[t] = x[xo + b * xs0 + c * xs1 + ii * xs2 + jj * xs3]
        else:
            cols[t] = 0
        t += step


@functools.cache
def _col2im_kernel(dtype: np.dtype):
    zero = dtype.type(0)

    @cuda.jit
    def col2im(cols, C, H, W, kh, kw, sh, sw, ph, pw, oh, ow, gx, n):
        """The adjoint of im2col, as a gather: each image element sums the columns it
        fed (no atomics, deterministic)."""
        L = oh * ow
        ckk = C * kh * kw
        t = cuda.grid(1)
        step = cuda.gridsize(1)
        while t < n:
            jj = t % W
            ii = (t // W) % H
            c = (t // (W * H)) % C
            b = t // (W * H * C)
            acc = zero
            for i in range(kh):
                ti = ii + ph - i
                if ti < 0 or ti % sh != 0:
                    continue
                oi = ti // sh
                if oi >= oh:
                    continue
                for j in range(kw):
                    tj = jj + pw - j
                    if tj < 0 or tj % sw != 0:
                        continue
                    oj = tj // sw
                    if oj >= ow:
                        continue
                    acc += cols[(b * ckk + (c * kh + i) * kw + j) * L + oi * ow + oj]
            gx[t] = acc
            t += step
    return col2im


def _out_size(size: int, k: int, s: int, p: int) -> int:
    return (size + 2 * p - k) // s + 1


def _im2col_array(x, kh, kw, stride, padding):
    N, C, H, W = x.shape
    oh = _out_size(H, kh, stride[0], padding[0])
    ow = _out_size(W, kw, stride[1], padding[1])
    cols = empty((N, C * kh * kw, oh * ow), x._storage.buf.dtype)
    n = cols.size
    if n:
        s0, s1, s2, s3 = x._layout.strides
        threads = config().threads
        _im2col[blocks_for(n, threads), threads](
            x._storage.buf, x._layout.offset, s0, s1, s2, s3, C, H, W, kh, kw, stride[0],
            stride[1], padding[0], padding[1], oh, ow, cols.reshape(n), n)
    return cols, oh, ow


def _weight_matrix(w):
    """w (O, C, kh, kw) as an (O, C*kh*kw) Operand (copied only if not one strided run)."""
    s, st = merge_runs(w.shape[1:], w._layout.strides[1:])
    if len(s) > 1:
        arr = copy(w)
        return arr.reshape(arr.size), 0, w.shape[1] * w.shape[2] * w.shape[3], 1
    return w._storage.buf, w._layout.offset, w._layout.strides[0], st[0] if st else 1


def conv2d(x, w, b=None, stride=(1, 1), padding=(0, 0)):
    """NCHW convolution: x (N, C, H, W), w (O, C, kh, kw) -> (N, O, oh, ow)."""
    N = x.shape[0]
    O, C, kh, kw = w.shape
    cols, oh, ow = _im2col_array(x, kh, kw, stride, padding)
    L, ckk = oh * ow, C * kh * kw
    wbuf, woff, wrs, wcs = _weight_matrix(w)
    a = Operand(wbuf, woff, (0,), wrs, wcs)                    # broadcast over the batch
    bcols = Operand(cols.reshape(cols.size), 0, (ckk * L,), L, 1)
    bias = None if b is None else (b._storage.buf, b._layout.offset, b._layout.strides[0])
    out = gemm(a, bcols, O, L, ckk, (N,), _compute_dtype(x._storage.buf.dtype), bias,
               BIAS_ROWS if bias else 0)
    return out.reshape((N, O, oh, ow))


def conv2d_fused(x, x2, w, b=None, padding=(0, 0), relu=False, upsample=1):
    """Stride-1 conv2d over the channel concatenation of x (nearest-upsampled by
    ``upsample``) and x2 (None: x alone), + b, then max(0, .) with ``relu``. Here the
    upsampled copy and the concatenation are made (the CPU path avoids them: there the
    copies cost as much as the convolution)."""
    if upsample > 1:
        x = tensor_like(x, upsample_nearest2d(x, (upsample, upsample)))
    if x2 is not None:
        x = tensor_like(x, cat(x, x2, dim=1))
    out = conv2d(x, w, b, (1, 1), padding)
    if relu:
        out = unary(RELU, tensor_like(x, out))
    return out


def _grad_operand(g, N, O, L):
    """g (N, O, oh, ow) as an (N, O, L) Operand (copied only if its spatial dims don't
    merge)."""
    s0, s1, s2, s3 = g._layout.strides
    if g.shape[3] == 1 or s2 == s3 * g.shape[3] or g.shape[2] == 1:
        cs = s3 if g.shape[3] != 1 else s2
        return Operand(g._storage.buf, g._layout.offset, (s0,), s1, cs)
    arr = copy(g)
    return Operand(arr.reshape(arr.size), 0, (O * L,), L, 1)


def conv2d_backward(x, w, g, stride, padding):
    """(grad_x, grad_w) of conv2d for the output gradient g (N, O, oh, ow)."""
    N, C, H, W = x.shape
    O, _, kh, kw = w.shape
    cols, oh, ow = _im2col_array(x, kh, kw, stride, padding)
    L, ckk = oh * ow, C * kh * kw
    dtype = _compute_dtype(x._storage.buf.dtype)
    gop = _grad_operand(g, N, O, L)
    # grad_w = sum_b g[b] @ cols[b]^T
    cols_t = Operand(cols.reshape(cols.size), 0, (ckk * L,), 1, L)
    gw_b = gemm(gop, cols_t, O, ckk, L, (N,), dtype)
    if N == 1:
        gw = gw_b.reshape(w.shape)
    else:
        gw = reduce(SUM, tensor_like(g, gw_b), (0,)).reshape(w.shape)
    # grad_cols = w^T @ g[b], then folded back onto the image
    wbuf, woff, wrs, wcs = _weight_matrix(w)
    wt = Operand(wbuf, woff, (0,), wcs, wrs)
    gcols = gemm(wt, gop, ckk, L, O, (N,), dtype)
    gx = empty((N, C, H, W), dtype)
    n = gx.size
    if n:
        threads = config().threads
        _col2im_kernel(dtype)[blocks_for(n, threads), threads](
            gcols.reshape(gcols.size), C, H, W, kh, kw, stride[0], stride[1], padding[0],
            padding[1], oh, ow, gx.reshape(n), n)
    return gx, gw


# ---- fused attention (inference) ----

def attention(q, k, v, mask=None, scale=1.0, causal=False):
    """softmax(q k^T * scale + mask) v: one scores buffer, softmax in place."""
    batch = broadcast_shapes(q.shape[:-2], k.shape[:-2])
    Tq, D = q.shape[-2:]
    Tk = k.shape[-2]
    dtype = _compute_dtype(q._storage.buf.dtype)
    scores = gemm(matrix_operand(q, batch), matrix_operand(k, batch, transpose=True), Tq, Tk, D,
                  batch, dtype)
    four = (1,) * (2 - len(batch)) + batch + (Tq, Tk) if len(batch) <= 2 else None
    if four is None:
        raise ValueError(f"attention supports at most 2 batch dims, got q of shape {q.shape}")
    s4 = scores.reshape(four)
    m = None
    if mask is not None:
        if mask.ndim > 4:
            raise ValueError(f"attention mask of shape {mask.shape} has more than 4 dims")
        pad_n = 4 - mask.ndim
        mshape = (1,) * pad_n + mask.shape
        mstrides = (0,) * pad_n + mask._layout.strides
        broadcast_shapes(mshape, four)  # raises a clear error when it does not fit
        m = (mask._storage.buf, mask._layout.offset, broadcast_strides(mshape, mstrides, four))
    rows.attention_softmax(s4, m, scale, causal)
    batch_v = broadcast_shapes(batch, v.shape[:-2])
    sop = Operand(scores.reshape(scores.size), 0,
                  broadcast_strides(batch, _contig_batch_strides(batch, Tq * Tk), batch_v),
                  Tk, 1)
    return gemm(sop, matrix_operand(v, batch_v), Tq, v.shape[-1], Tk, batch_v, dtype)


def _contig_batch_strides(batch, inner: int):
    out, acc = [], inner
    for n in reversed(batch):
        out.append(acc)
        acc *= n
    return tuple(reversed(out))
