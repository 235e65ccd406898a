"""Spatial pooling and upsampling on NCHW arrays: max_pool2d (no padding, floor) with
the argmax it took, its backward, nearest upsampling by integer factors and its
backward. One parallel loop over the N*C planes."""

from __future__ import annotations

import math

import numba
import numpy as np

__all__ = ["max_pool2d", "max_pool2d_backward", "upsample_nearest2d",
           "upsample_nearest2d_backward"]


@numba.njit(cache=True, parallel=True)
def _max_pool(x, kh, kw, sh, sw, out, idx):
    P, W = x.shape[0], x.shape[2]
    oh, ow = out.shape[1], out.shape[2]
    for p in numba.prange(P):
        for i in range(oh):
            for j in range(ow):
                best = x[p, i * sh, j * sw]
                at = i * sh * W + j * sw
                for a in range(kh):
                    for b in range(kw):
                        v = x[p, i * sh + a, j * sw + b]
                        if v > best or (math.isnan(v) and not math.isnan(best)):  # NaN wins, as in torch
                            best = v
                            at = (i * sh + a) * W + j * sw + b
                out[p, i, j] = best
                idx[p, i, j] = at


@numba.njit(cache=True, parallel=True)
def _max_pool_values(x, kh, kw, sh, sw, out):
    # _max_pool without the argmax: inference has no backward to route, and the int64
    # index map is twice the output's memory traffic
    P = x.shape[0]
    oh, ow = out.shape[1], out.shape[2]
    for p in numba.prange(P):
        for i in range(oh):
            for j in range(ow):
                best = x[p, i * sh, j * sw]
                for a in range(kh):
                    for b in range(kw):
                        v = x[p, i * sh + a, j * sw + b]
                        if v > best or (math.isnan(v) and not math.isnan(best)):
                            best = v
                out[p, i, j] = best


@numba.njit(cache=True, parallel=True)
def _max_pool_bw(g, idx, kh, kw, sh, sw, gx):
    # a gather: each input element sums the outputs whose argmax it was (overlapping
    # windows included), so no two threads write one place
    P, H, W = gx.shape
    oh, ow = g.shape[1], g.shape[2]
    for p in numba.prange(P):
        for y in range(H):
            i_lo = max(0, (y - kh + sh) // sh)
            i_hi = min(oh - 1, y // sh)
            for x in range(W):
                j_lo = max(0, (x - kw + sw) // sw)
                j_hi = min(ow - 1, x // sw)
                acc = 0.0
                here = y * W + x
                for i in range(i_lo, i_hi + 1):
                    for j in range(j_lo, j_hi + 1):
                        if idx[p, i, j] == here:
                            acc += g[p, i, j]
                gx[p, y, x] = acc


@numba.njit(cache=True, parallel=True)
def _upsample(x, sh, sw, out):
    # each input row is widened once, then copied to the other sh - 1 output rows (an index
    # division per output pixel made this 5x slower)
    P, H, W = x.shape
    for p in numba.prange(P):
        for y in range(H):
            src = x[p, y]
            first = out[p, y * sh]
            for xx in range(W):
                v = src[xx]
                for b in range(sw):
                    first[xx * sw + b] = v
            for a in range(1, sh):
                out[p, y * sh + a, :] = first


@numba.njit(cache=True, parallel=True)
def _upsample_bw(g, sh, sw, gx):
    P, H, W = gx.shape
    for p in numba.prange(P):
        for y in range(H):
            for x in range(W):
                acc = 0.0
                for a in range(sh):
                    for b in range(sw):
                        acc += g[p, y * sh + a, x * sw + b]
                gx[p, y, x] = acc


def _planes(a: np.ndarray) -> np.ndarray:
    a = np.ascontiguousarray(a)
    return a.reshape(-1, a.shape[-2], a.shape[-1])


def max_pool2d(x, kernel=(2, 2), stride=(2, 2), argmax=True):
    """x (N, C, H, W) -> (out (N, C, oh, ow), idx int64: flat argmax within each plane;
    None without ``argmax``)."""
    N, C, H, W = x.shape
    oh, ow = (H - kernel[0]) // stride[0] + 1, (W - kernel[1]) // stride[1] + 1
    out = np.empty((N * C, oh, ow), x.dtype)
    if not argmax:
        _max_pool_values(_planes(x), kernel[0], kernel[1], stride[0], stride[1], out)
        return out.reshape(N, C, oh, ow), None
    idx = np.empty((N * C, oh, ow), np.int64)
    _max_pool(_planes(x), kernel[0], kernel[1], stride[0], stride[1], out, idx)
    return out.reshape(N, C, oh, ow), idx.reshape(N, C, oh, ow)


def max_pool2d_backward(g, idx, in_shape, kernel=(2, 2), stride=(2, 2)):
    N, C, H, W = in_shape
    gx = np.empty((N * C, H, W), g.dtype)
    _max_pool_bw(_planes(g), _planes(idx), kernel[0], kernel[1], stride[0], stride[1], gx)
    return gx.reshape(in_shape)


def upsample_nearest2d(x, scale=(2, 2)):
    N, C, H, W = x.shape
    out = np.empty((N * C, H * scale[0], W * scale[1]), x.dtype)
    _upsample(_planes(x), scale[0], scale[1], out)
    return out.reshape(N, C, H * scale[0], W * scale[1])


def upsample_nearest2d_backward(g, scale=(2, 2)):
    N, C, OH, OW = g.shape
    gx = np.empty((N * C, OH // scale[0], OW // scale[1]), g.dtype)
    _upsample_bw(_planes(g), scale[0], scale[1], gx)
    return gx.reshape(N, C, OH // scale[0], OW // scale[1])
