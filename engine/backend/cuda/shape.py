"""Ops that move data between layouts: cat, slice_scatter (the backward of views) and
assignment into a view (t[key] = v). All are strided copies (elementwise.copy_strided)
from each source's layout into a region of the destination."""

from __future__ import annotations

import numpy as np

from ...dtype import bf16, f16, f32_to_bf16_bits
from ...layout import Layout
from .elementwise import copy, copy_strided, fill
from .launch import broadcast_strides, contiguous_strides, empty, flat, scalar_array, view_as


def cat(*tensors, dim: int):
    """Concatenation along dim into one contiguous array."""
    first = tensors[0]
    total = sum(t.shape[dim] for t in tensors)
    out_shape = first.shape[:dim] + (total,) + first.shape[dim + 1:]
    out = empty(out_shape, first._storage.buf.dtype)
    ost = contiguous_strides(out_shape)
    dst = flat(out)
    start = 0
    for t in tensors:
        copy_strided(t._storage.buf, t._layout.offset, t._layout.strides, dst,
                     start * ost[dim], ost, t.shape)
        start += t.shape[dim]
    return out


def slice_scatter(g, shape, key):
    """Zeros of `shape` with g written at basic index `key`."""
    shape = tuple(shape)
    out = empty(shape, g._storage.buf.dtype)
    fill(out, 0)
    lay, _ = Layout.contiguous(shape).index(key)
    src_st = broadcast_strides(g.shape, g._layout.strides, lay.shape)
    copy_strided(g._storage.buf, g._layout.offset, src_st, flat(out), lay.offset, lay.strides,
                 lay.shape)
    return out


def _scalar_bits(value, dtype):
    """A python scalar as a 1-element device array in dtype's storage format."""
    if dtype is bf16:
        return scalar_array(f32_to_bf16_bits(np.array([value], np.float32))[0], np.uint16)
    if dtype is f16:
        return scalar_array(np.float16(value).view(np.uint16), np.uint16)
    return scalar_array(value, dtype.numpy)


def assign(dst, src):
    """In-place dst[...] = src for a CUDA view dst; src is a tensor broadcastable to it
    (already of dst's dtype and device) or a python scalar."""
    buf = dst._storage.buf
    lay = dst._layout
    if hasattr(src, "_layout"):
        if src._storage is dst._storage:  # overlapping views: read a snapshot
            snap = copy(src)
            sbuf, soff, sst = flat(snap), 0, contiguous_strides(src.shape)
        else:
            sbuf, soff, sst = src._storage.buf, src._layout.offset, src._layout.strides
        src_st = broadcast_strides(src.shape, sst, lay.shape)
    else:
        sbuf, soff, src_st = _scalar_bits(src, dst.dtype), 0, (0,) * len(lay.shape)
        if dst.dtype is f16:
            buf = view_as(buf, np.uint16)
    copy_strided(sbuf, soff, src_st, buf, lay.offset, lay.strides, lay.shape)
