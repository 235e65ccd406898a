"""max_pool2d, nearest upsampling and their backwards on the GPU: one thread per output
element (grid-stride), the backwards as gathers (no atomics, deterministic)."""

from __future__ import annotations

import functools
import math

import numpy as np
from numba import cuda

from .elementwise import copy
from .launch import blocks_for, config, empty, numel

__all__ = ["max_pool2d", "max_pool2d_backward", "upsample_nearest2d",
           "upsample_nearest2d_backward"]


def _flat_input(x):
    """x's elements as a flat C-ordered device array (a view when already contiguous)."""
    if x._layout.is_contiguous():
        off = x._layout.offset
        return x._storage.buf[off:off + numel(x.shape)]
    arr = copy(x)
    return arr.reshape(arr.size)


@functools.cache
def _pool_kernel(dtype: np.dtype):
    @cuda.jit
    def pool(x, H, W, kh, kw, sh, sw, oh, ow, out, idx, n):
        t = cuda.grid(1)
        step = cuda.gridsize(1)
        while t < n:
            j = t % ow
            i = (t // ow) % oh
            p = t // (ow * oh)
            base = p * H * W
            at = i * sh * W + j * sw
            best = x[base + at]
            for a in range(kh):
                for b in range(kw):
                    k = (i * sh + a) * W + j * sw + b
                    v = x[base + k]
                    if v > best or (math.isnan(v) and not math.isnan(best)):
                        best = v
                        at = k
            out[t] = best
            idx[t] = at
            t += step
    return pool


@functools.cache
def _pool_bw_kernel(dtype: np.dtype):
    zero = dtype.type(0)

    @cuda.jit
    def pool_bw(g, idx, H, W, kh, kw, sh, sw, oh, ow, gx, n):
        t = cuda.grid(1)
        step = cuda.gridsize(1)
        while t < n:
            x = t % W
            y = (t // W) % H
            p = t // (W * H)
            here = y * W + x
            # the windows holding (y, x); min/max spelled out (numba's CUDA target
            # rejected them on these mixed integer types when compiled to PTX)
            i_lo = (y - kh + sh) // sh
            if i_lo < 0:  # noqa: PLR1730 (no max/min, see above)
                i_lo = 0
            i_hi = y // sh
            if i_hi > oh - 1:  # noqa: PLR1730 (no max/min, see above)
                i_hi = oh - 1
            j_lo = (x - kw + sw) // sw
            if j_lo < 0:  # noqa: PLR1730 (no max/min, see above)
                j_lo = 0
            j_hi = x // sw
            if j_hi > ow - 1:  # noqa: PLR1730 (no max/min, see above)
                j_hi = ow - 1
            acc = zero
            for i in range(i_lo, i_hi + 1):
                for j in range(j_lo, j_hi + 1):
                    o = (p * oh + i) * ow + j
                    if idx[o] == here:
                        acc += g[o]
            gx[t] = acc
            t += step
    return pool_bw


@functools.cache
def _up_kernel(dtype: np.dtype):
    @cuda.jit
    def up(x, H, W, sh, sw, out, n):
        t = cuda.grid(1)
        step = cuda.gridsize(1)
        OW = W * sw
        OH = H * sh
        while t < n:
            xx = t % OW
            y = (t // OW) % OH
            p = t // (OW * OH)
            out[t] = x[(p * H + y // sh) * W + xx // sw]
            t += step
    return up


@functools.cache
def _up_bw_kernel(dtype: np.dtype):
    zero = dtype.type(0)

    @cuda.jit
    def up_bw(g, H, W, sh, sw, gx, n):
        t = cuda.grid(1)
        step = cuda.gridsize(1)
        OW = W * sw
        while t < n:
            x = t % W
            y = (t // W) % H
            p = t // (W * H)
            acc = zero
            for a in range(sh):
                for b in range(sw):
                    acc += g[(p * H * sh + y * sh + a) * OW + x * sw + b]
            gx[t] = acc
            t += step
    return up_bw


def _launch(kernel, n, *args):
    if n:
        threads = config().threads
        kernel[blocks_for(n, threads), threads](*args, n)


def max_pool2d(x, kernel=(2, 2), stride=(2, 2), argmax=True):
    # (the argmax is always written here: one kernel, and the GPU's bandwidth is ample)
    N, C, H, W = x.shape
    oh, ow = (H - kernel[0]) // stride[0] + 1, (W - kernel[1]) // stride[1] + 1
    xa = _flat_input(x)
    out = empty((N, C, oh, ow), xa.dtype)
    idx = empty((N, C, oh, ow), np.int64)
    _launch(_pool_kernel(xa.dtype), out.size, xa, H, W, kernel[0], kernel[1], stride[0],
            stride[1], oh, ow, out.reshape(out.size), idx.reshape(idx.size))
    return out, idx


def max_pool2d_backward(g, idx, in_shape, kernel=(2, 2), stride=(2, 2)):
    H, W = in_shape[2], in_shape[3]
    oh, ow = g.shape[2], g.shape[3]
    ga = _flat_input(g)
    gx = empty(tuple(in_shape), ga.dtype)
    _launch(_pool_bw_kernel(ga.dtype), gx.size, ga, _flat_input(idx), H, W, kernel[0],
            kernel[1], stride[0], stride[1], oh, ow, gx.reshape(gx.size))
    return gx


def upsample_nearest2d(x, scale=(2, 2)):
    N, C, H, W = x.shape
    xa = _flat_input(x)
    out = empty((N, C, H * scale[0], W * scale[1]), xa.dtype)
    _launch(_up_kernel(xa.dtype), out.size, xa, H, W, scale[0], scale[1], out.reshape(out.size))
    return out


def upsample_nearest2d_backward(g, scale=(2, 2)):
    N, C, OH, OW = g.shape
    H, W = OH // scale[0], OW // scale[1]
    ga = _flat_input(g)
    gx = empty((N, C, H, W), ga.dtype)
    _launch(_up_bw_kernel(ga.dtype), gx.size, ga, H, W, scale[0], scale[1], gx.reshape(gx.size))
    return gx
