"""Matrix products and convolution on the CPU.

GEMMs go to the BLAS that numpy links (np.matmul picks sgemm/dgemm and handles
transposed or row-strided operands without copying); everything around them is
numba: the bias/GELU epilogue and im2col/col2im for convolution.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

from . import PARALLEL_MIN, conv_panels, conv_subpixel, skinny
from .blas import gemm_batch, matmul_2d
from .conv_panels import conv2d_panels
from .packed import PackedWeight, linear_packed
from .rows import GELU_ERF, GELU_TANH, NO_ACT, bias_act_rows_parallel, bias_act_rows_serial

__all__ = ["GELU_ERF", "GELU_TANH", "NO_ACT", "conv2d", "conv2d_backward", "linear", "matmul"]


# Below this many multiply-adds per matrix (or for single-row products), numpy's own
# stacked loop beats one BLAS call per matrix: token-by-token decoding lives here.
_SMALL_GEMM = 1 << 14


def matmul_arrays(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """a @ b for >= 2-D arrays with broadcast batch dims, every GEMM in BLAS.

    numpy's matmul only calls BLAS for plain 2-D operands; for stacks it runs its
    own (much slower) loop. So batch dims are folded into rows when b is a single
    matrix, and otherwise each matrix of the batch is one BLAS call into a
    preallocated output.
    """
    if a.ndim == 2 and b.ndim == 2:
        return matmul_2d(a, b)
    m, k = a.shape[-2:]
    n = b.shape[-1]
    if b.ndim == 2:  # (..., m, k) @ (k, n): one GEMM over all rows
        out = matmul_2d(a.reshape(-1, k), b)
        return out.reshape(a.shape[:-1] + (n,))
    if m == 1 or m * k * n < _SMALL_GEMM:
        return np.matmul(a, b)
    batch = np.broadcast_shapes(a.shape[:-2], b.shape[:-2])
    out = np.empty(batch + (m, n), dtype=np.result_type(a, b))
    o3 = out.reshape(-1, m, n)
    a3 = np.broadcast_to(a, batch + (m, k))
    b3 = np.broadcast_to(b, batch + (k, n))
    gemm_batch(a3, b3, o3, list(np.ndindex(*batch)))
    return out


def matmul(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Batched matmul with broadcast batch dims (both at least 2-D)."""
    return matmul_arrays(a, b)


def epilogue(y: np.ndarray, bias: np.ndarray | None, act: int) -> None:
    """y[r, :] = act(y[r, :] + bias) in place; y is C-contiguous 2-D."""
    if bias is None:
        if act == NO_ACT:
            return
        bias = np.zeros(y.shape[1], dtype=y.dtype)
    bias = np.ascontiguousarray(bias, dtype=y.dtype)
    if y.size >= PARALLEL_MIN and y.shape[0] > 1:
        bias_act_rows_parallel(y, bias, act)
    else:
        bias_act_rows_serial(y, bias, act)


def linear(xa: np.ndarray, wa: np.ndarray, bias: np.ndarray | None = None,
           act: int = NO_ACT, packed: PackedWeight | None = None,
           residual: np.ndarray | None = None) -> np.ndarray:
    """act(x @ w.T + b) (+ residual, of the output's shape) with x (..., in), w (out, in)
    as in PyTorch; `packed`, when given, is w packed once for the micro-kernel
    (packed.py), used for many rows, which then adds the residual in its epilogue."""
    lead = xa.shape[:-1]
    x2 = xa.reshape(-1, xa.shape[-1])
    use_packed = packed is not None and x2.dtype == np.float32 and x2.shape[0] >= PACKED_MIN_ROWS
    if use_packed:
        res2 = None if residual is None else residual.reshape(x2.shape[0], -1)
        return linear_packed(x2, packed, bias, act, res2).reshape(lead + (wa.shape[0],))
    if skinny.suits(x2, wa):
        y = skinny.matmul_wt(np.ascontiguousarray(x2), wa)  # decoding: a few rows
        epilogue(y, bias, act)
    else:
        after = None  # the bias/activation epilogue, run on each block of rows while in cache
        if bias is not None or act != NO_ACT:
            bias = np.ascontiguousarray(bias if bias is not None else np.zeros(wa.shape[0]),
                                        dtype=np.result_type(x2, wa))

            def after(block):
                bias_act_rows_serial(block, bias, act)

        y = matmul_2d(x2, wa.T, after)
    if residual is not None:
        y += residual.reshape(y.shape)
    return y.reshape(lead + (wa.shape[0],))


# A single row is a matrix-vector product, where BLAS or the few-row kernel wins; from
# two rows on the packed micro-kernel does (2-32 rows x 256 x 768: 35-140 us against
# 115-220 for BLAS and 40-520 for the few-row kernel, 1 thread).
PACKED_MIN_ROWS = 2


# ---- convolution: im2col + GEMM ----

@njit(inline="always")
def _im2col_plane(x, kh, kw, sh, sw, ph, pw, oh, ow, cols, nc):
    """cols[n, (c*kh + i)*kw + j, oi*ow + oj] = x[n, c, oi*sh - ph + i, oj*sw - pw + j] (0 outside)."""
    _, C, H, W = x.shape
    n = nc // C
    c = nc % C
    for i in range(kh):
        for j in range(kw):
            row = (c * kh + i) * kw + j
            for oi in range(oh):
                ii = oi * sh - ph + i
                base = oi * ow
                if ii < 0 or ii >= H:
                    for oj in range(ow):
                        cols[n, row, base + oj] = 0
                    continue
                for oj in range(ow):
                    jj = oj * sw - pw + j
                    if jj >= 0 and jj < W:
                        cols[n, row, base + oj] = x[n, c, ii, jj]
                    else:
                        cols[n, row, base + oj] = 0


@njit(inline="always")
def _col2im_plane(cols, kh, kw, sh, sw, ph, pw, oh, ow, x, nc):
    """The adjoint of im2col for one (n, c) plane: accumulate columns back (x zeroed)."""
    _, C, H, W = x.shape
    n = nc // C
    c = nc % C
    for i in range(kh):
        for j in range(kw):
            row = (c * kh + i) * kw + j
            for oi in range(oh):
                ii = oi * sh - ph + i
                if ii < 0 or ii >= H:
                    continue
                for oj in range(ow):
                    jj = oj * sw - pw + j
                    if jj >= 0 and jj < W:
                        x[n, c, ii, jj] += cols[n, row, oi * ow + oj]


@njit(cache=True, parallel=True, error_model="numpy")
def im2col_parallel(x, kh, kw, sh, sw, ph, pw, oh, ow, cols):
    for nc in prange(x.shape[0] * x.shape[1]):
        _im2col_plane(x, kh, kw, sh, sw, ph, pw, oh, ow, cols, nc)


@njit(cache=True, error_model="numpy")
def im2col_serial(x, kh, kw, sh, sw, ph, pw, oh, ow, cols):
    for nc in range(x.shape[0] * x.shape[1]):
        _im2col_plane(x, kh, kw, sh, sw, ph, pw, oh, ow, cols, nc)


@njit(cache=True, parallel=True, error_model="numpy")
def col2im_parallel(cols, kh, kw, sh, sw, ph, pw, oh, ow, x):
    for nc in prange(x.shape[0] * x.shape[1]):  # each (n, c) plane belongs to one task
        _col2im_plane(cols, kh, kw, sh, sw, ph, pw, oh, ow, x, nc)


@njit(cache=True, error_model="numpy")
def col2im_serial(cols, kh, kw, sh, sw, ph, pw, oh, ow, x):
    for nc in range(x.shape[0] * x.shape[1]):
        _col2im_plane(cols, kh, kw, sh, sw, ph, pw, oh, ow, x, nc)


def _out_size(size: int, k: int, s: int, p: int) -> int:
    return (size + 2 * p - k) // s + 1


def _cols(xa: np.ndarray, kh, kw, stride, padding):
    N, C, H, W = xa.shape
    oh = _out_size(H, kh, stride[0], padding[0])
    ow = _out_size(W, kw, stride[1], padding[1])
    cols = np.empty((N, C * kh * kw, oh * ow), dtype=xa.dtype)
    fn = im2col_parallel if cols.size >= PARALLEL_MIN and N * C > 1 else im2col_serial
    fn(np.ascontiguousarray(xa), kh, kw, stride[0], stride[1], padding[0], padding[1], oh, ow, cols)
    return cols, oh, ow


CONV_COLS_BUDGET = 32 << 20  # bytes of im2col columns per GEMM (a whole page would take GBs)


def conv2d(x: np.ndarray, wa: np.ndarray, b: np.ndarray | None = None, stride=(1, 1),
           padding=(1, 1)) -> np.ndarray:
    """NCHW convolution: x (N, C, H, W), w (O, C, kh, kw) -> (N, O, oh, ow). Stride-1
    float32 convolutions run on the micro-kernel with no im2col (conv_panels.py)."""
    if conv_panels.available(x, wa, stride):
        return conv2d_panels(x, wa, b, padding)
    O, C, kh, kw = wa.shape
    N, _, H, W = x.shape
    oh = _out_size(H, kh, stride[0], padding[0])
    ow = _out_size(W, kw, stride[1], padding[1])
    row_bytes = N * C * kh * kw * ow * x.dtype.itemsize
    if oh > 1 and row_bytes * oh > CONV_COLS_BUDGET:
        return _conv2d_row_blocks(x, wa, b, stride, padding, oh, ow,
                                  max(1, CONV_COLS_BUDGET // row_bytes))
    cols, oh, ow = _cols(x, kh, kw, stride, padding)
    y = matmul_arrays(wa.reshape(O, C * kh * kw), cols)  # (N, O, L)
    if b is not None:
        y += b.reshape(1, O, 1)
    return y.reshape(y.shape[0], O, oh, ow)


def conv2d_fused(x: np.ndarray, x2: np.ndarray | None, wa: np.ndarray, b: np.ndarray | None,
                 padding=(0, 0), relu: bool = False, upsample: int = 1) -> np.ndarray:
    """Stride-1 conv2d over the channel concatenation of x (nearest-upsampled by
    ``upsample``) and x2 (None: x alone), + b, then max(0, .) with ``relu``. On the
    micro-kernel neither the concatenation nor the upsampled copy is made and the ReLU
    is applied as the bias is (a U-Net's skip joins cost as much memory traffic as its
    convolutions); elsewhere it is the plain composition."""
    if upsample > 1:
        if (x2 is not None and conv_panels.available(x, wa, (1, 1))
                and conv_subpixel.available(x, x2, wa, padding, upsample)):
            return conv_subpixel.conv2d_upsampled(x, x2, wa, b, padding, upsample, relu)
        x = np.repeat(np.repeat(x, upsample, axis=2), upsample, axis=3)
    if conv_panels.available(x, wa, (1, 1)) and (x2 is None or x2.dtype == np.float32):
        return conv2d_panels(x, wa, b, padding, x2, relu)
    xs = x if x2 is None else np.concatenate([x, x2.astype(x.dtype, copy=False)], axis=1)
    y = conv2d(xs, wa, b, (1, 1), padding)
    return np.maximum(y, 0, out=y) if relu else y


def _conv2d_row_blocks(x, wa, b, stride, padding, oh, ow, rows):
    """conv2d a band of ``rows`` output rows at a time: the same sums, with im2col columns
    that stay within CONV_COLS_BUDGET (a large image's columns would not fit in memory)."""
    O, C, kh, kw = wa.shape
    N = x.shape[0]
    sh, ph = stride[0], padding[0]
    xp = np.pad(x, ((0, 0), (0, 0), (ph, ph), (0, 0))) if ph else np.ascontiguousarray(x)
    w2 = wa.reshape(O, C * kh * kw)
    out = np.empty((N, O, oh, ow), dtype=np.result_type(x.dtype, wa.dtype))
    for r0 in range(0, oh, rows):
        r1 = min(oh, r0 + rows)
        band = xp[:, :, r0 * sh:(r1 - 1) * sh + kh]
        cols, bh, _ = _cols(band, kh, kw, stride, (0, padding[1]))
        out[:, :, r0:r1] = matmul_arrays(w2, cols).reshape(N, O, bh, ow)
    if b is not None:
        out += b.reshape(1, O, 1, 1)
    return out


def conv2d_backward(xa: np.ndarray, wa: np.ndarray, g: np.ndarray, stride, padding):
    """(grad_x, grad_w) of conv2d for output gradient g (N, O, oh, ow)."""
    O, C, kh, kw = wa.shape
    cols, oh, ow = _cols(xa, kh, kw, stride, padding)
    g3 = np.ascontiguousarray(g).reshape(g.shape[0], O, oh * ow)
    gw = matmul_arrays(g3, cols.transpose(0, 2, 1)).sum(axis=0).reshape(wa.shape)
    gcols = matmul_arrays(wa.reshape(O, C * kh * kw).T, g3)
    gx = np.zeros(xa.shape, dtype=xa.dtype)
    fn = col2im_parallel if gcols.size >= PARALLEL_MIN and gx.shape[0] * gx.shape[1] > 1 \
        else col2im_serial
    fn(np.ascontiguousarray(gcols), kh, kw, stride[0], stride[1], padding[0], padding[1], oh, ow, gx)
    return gx, np.ascontiguousarray(gw)
