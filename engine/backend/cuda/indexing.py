"""Index kernels: index_select / embedding, gather, their scatter-add adjoints
(atomics: indices may repeat) and top-k per row.

Out-of-range indices are detected on the device: the kernel records one
offending index in a 1-element error array, writes 0 in its place, and the host
raises the same IndexError as the CPU backend after the launch.
"""

from __future__ import annotations

import functools

import numpy as np
from numba import cuda

from . import devfn
from .elementwise import copy, fill
from .launch import MAXD, blocks_for, config, contiguous_strides, empty, pad, tensor_like, view_as
from .rows import rows_of

_NO_ERROR = np.iinfo(np.int64).min


def _error_array():
    return cuda.to_device(np.array([_NO_ERROR], dtype=np.int64))


def _raise_if_bad(err, size: int, what: str) -> None:
    bad = int(err.copy_to_host()[0])
    if bad != _NO_ERROR:
        raise IndexError(f"{what}: index {bad} is out of range for size {size}")


def _launch(kernel, n, *args):
    if n == 0:
        return
    threads = config().threads
    kernel[blocks_for(n, threads), threads](*args, n)


def _bits(buf):
    """Half-precision data moves as raw 16-bit words (no fp16 arithmetic needed)."""
    return view_as(buf, np.uint16) if buf.dtype == np.float16 else buf


def _pick(dim: int, ndim: int) -> int:
    return MAXD - ndim + dim  # position of `dim` in a padded shape


# ---- index_select / index_add ----

@cuda.jit
def _index_select_kernel(x, xo, shape, xst, nd, pick, dstride, size, ids, io, ist, out, err, n):
    i = cuda.grid(1)
    step = cuda.gridsize(1)
    while i < n:
        ox, _, c = devfn.offset_pick(i, shape, xst, xst, nd, pick)
        idv = ids[io + c * ist]
        if idv < 0 or idv >= size:
            err[0] = idv
            out[i] = 0
        else:
            out[i] = x[xo + ox + idv * dstride]
        i += step


def index_select(x, ids, dim: int = 0):
    """Entries of x at 1-D ids along dim."""
    buf, off, shape, strides = x._storage.buf, x._layout.offset, x.shape, x._layout.strides
    if len(shape) > MAXD:  # view a contiguous copy as (before, dim, after)
        arr = copy(x)
        before = int(np.prod(shape[:dim]))
        after = int(np.prod(shape[dim + 1:]))
        buf, off = arr.reshape(arr.size), 0
        shape, strides = (before, shape[dim], after), (shape[dim] * after, after, 1)
        out_full = x.shape[:dim] + (ids.shape[0],) + x.shape[dim + 1:]
        out = _index_select_raw(buf, off, shape, strides, 1, ids)
        return out.reshape(out_full)
    return _index_select_raw(buf, off, shape, strides, dim, ids)


def _index_select_raw(buf, off, shape, strides, dim, ids):
    nd = len(shape)
    out_shape = tuple(shape[:dim]) + (ids.shape[0],) + tuple(shape[dim + 1:])
    out = empty(out_shape, buf.dtype)
    n = out.size
    if n:
        err = _error_array()
        xst = list(strides)
        xst[dim] = 0
        _launch(_index_select_kernel, n, _bits(buf), off, pad(out_shape, 1), pad(xst, 0), nd,
                _pick(dim, nd), strides[dim], shape[dim], ids._storage.buf, ids._layout.offset,
                ids._layout.strides[0], _bits(out.reshape(n)), err)
        _raise_if_bad(err, shape[dim], "index_select")
    return out


@cuda.jit
def _index_add_kernel(g, go, shape, gst, ost, nd, pick, gstride, ostride, size, ids, io, ist, out,
                      err, n):
    i = cuda.grid(1)
    step = cuda.gridsize(1)
    while i < n:
        og, oo, c = devfn.offset_pick(i, shape, gst, ost, nd, pick)
        idv = ids[io + c * ist]
        if idv < 0 or idv >= size:
            err[0] = idv
        else:
            cuda.atomic.add(out, oo + idv * ostride, g[go + og + c * gstride])
        i += step


def index_add(g, ids, shape=(), dim: int = 0):
    """Zeros of `shape` with the rows of g added at ids along dim (ids may repeat)."""
    shape = tuple(shape)
    nd = len(shape)
    out = empty(shape, g._storage.buf.dtype)
    fill(out, 0)
    n = 1
    for s in g.shape:
        n *= s
    if n:
        err = _error_array()
        ost = list(contiguous_strides(shape))
        ostride = ost[dim]
        ost[dim] = 0
        _launch(_index_add_kernel, n, g._storage.buf, g._layout.offset, pad(g.shape, 1),
                pad(g._layout.strides, 0), pad(ost, 0), nd, _pick(dim, nd), g._layout.strides[dim],
                ostride, shape[dim],
                ids._storage.buf, ids._layout.offset, ids._layout.strides[0],
                out.reshape(out.size), err)
        _raise_if_bad(err, shape[dim], "index_add")
    return out


# ---- gather / scatter_add ----

@cuda.jit
def _gather_kernel(x, xo, shape, xst, ist, nd, dstride, size, idx, io, out, err, n):
    i = cuda.grid(1)
    step = cuda.gridsize(1)
    while i < n:
        ox, oi = devfn.offset2(i, shape, xst, ist, nd)
        idv = idx[io + oi]
        if idv < 0 or idv >= size:
            err[0] = idv
            out[i] = 0
        else:
            out[i] = x[xo + ox + idv * dstride]
        i += step


def gather(x, index, dim: int = 0):
    """out[..i..] = x[..index[..i..]..] along dim (torch.gather)."""
    out = empty(index.shape, x._storage.buf.dtype)
    n = out.size
    if n:
        err = _error_array()
        xst = list(x._layout.strides)
        dstride = xst[dim]
        xst[dim] = 0
        _launch(_gather_kernel, n, _bits(x._storage.buf), x._layout.offset, pad(index.shape, 1),
                pad(xst, 0), pad(index._layout.strides, 0), index.ndim, dstride, x.shape[dim],
                index._storage.buf, index._layout.offset, _bits(out.reshape(n)), err)
        _raise_if_bad(err, x.shape[dim], "gather")
    return out


@cuda.jit
def _scatter_add_kernel(g, go, shape, gst, ist, ost, nd, ostride, size, idx, io, out, err, n):
    i = cuda.grid(1)
    step = cuda.gridsize(1)
    while i < n:
        og, oi, oo = devfn.offset3(i, shape, gst, ist, ost, nd)
        idv = idx[io + oi]
        if idv < 0 or idv >= size:
            err[0] = idv
        else:
            cuda.atomic.add(out, oo + idv * ostride, g[go + og])
        i += step


def scatter_add(g, index, shape=(), dim: int = 0):
    """Zeros of `shape` with g added at index along dim."""
    shape = tuple(shape)
    out = empty(shape, g._storage.buf.dtype)
    fill(out, 0)
    n = 1
    for s in index.shape:
        n *= s
    if n:
        err = _error_array()
        ost = list(contiguous_strides(shape))
        ostride = ost[dim]
        ost[dim] = 0
        _launch(_scatter_add_kernel, n, g._storage.buf, g._layout.offset, pad(index.shape, 1),
                pad(g._layout.strides, 0), pad(index._layout.strides, 0), pad(ost, 0),
                index.ndim, ostride, shape[dim], index._storage.buf, index._layout.offset,
                out.reshape(out.size), err)
        _raise_if_bad(err, shape[dim], "scatter_add")
    return out


# ---- topk ----

@cuda.jit(device=True)
def _beats(key, idx, other_key, other_idx):
    """Order of top-k results: larger key first, the earlier index among equals."""
    return key > other_key or (key == other_key and idx < other_idx)


@functools.cache
def _topk_block_kernel(threads: int, key_dtype: np.dtype):
    @cuda.jit
    def topk_block(x, xo, lshape, lst, lnd, ls, n, rows, k, largest, skeys, sidx, vals, idxs):
        """One block per row: each thread keeps the k best of its strided share (sorted,
        in scratch), then thread 0 merges the sorted lists."""
        cnt = cuda.shared.array(threads, np.int32)
        head = cuda.shared.array(threads, np.int32)
        tid = cuda.threadIdx.x
        blk = cuda.blockIdx.x
        sb = (blk * threads + tid) * k  # this thread's scratch list
        for r in range(blk, rows, cuda.gridDim.x):
            base = xo + devfn.offset1(r, lshape, lst, lnd)
            c = 0
            for j in range(tid, n, threads):
                v = x[base + j * ls]
                key = v if largest else -v
                if c == k and not key > skeys[sb + k - 1]:
                    continue
                pos = c if c < k else k - 1
                while pos > 0 and key > skeys[sb + pos - 1]:
                    skeys[sb + pos] = skeys[sb + pos - 1]
                    sidx[sb + pos] = sidx[sb + pos - 1]
                    pos -= 1
                skeys[sb + pos] = key
                sidx[sb + pos] = j
                if c < k:
                    c += 1
            cnt[tid] = c
            head[tid] = 0
            cuda.syncthreads()
            if tid == 0:
                for p in range(k):
                    best = -1
                    for t in range(threads):
                        h = head[t]
                        if h < cnt[t]:
                            o = (blk * threads + t) * k + h
                            if best < 0:
                                best = t
                            else:
                                ob = (blk * threads + best) * k + head[best]
                                if _beats(skeys[o], sidx[o], skeys[ob], sidx[ob]):
                                    best = t
                    ob = (blk * threads + best) * k + head[best]
                    jj = sidx[ob]
                    idxs[r * k + p] = jj
                    vals[r * k + p] = x[base + jj * ls]
                    head[best] += 1
            cuda.syncthreads()
    return topk_block


@cuda.jit
def _topk_thread_kernel(x, xo, lshape, lst, lnd, ls, n, rows, k, largest, skeys, vals, idxs):
    """One thread per row (for large k): insertion into the row's output, O(n*k)."""
    r = cuda.grid(1)
    step = cuda.gridsize(1)
    while r < rows:
        base = xo + devfn.offset1(r, lshape, lst, lnd)
        sb = r * k
        c = 0
        for j in range(n):
            v = x[base + j * ls]
            key = v if largest else -v
            if c == k and not key > skeys[sb + k - 1]:
                continue
            pos = c if c < k else k - 1
            while pos > 0 and key > skeys[sb + pos - 1]:
                skeys[sb + pos] = skeys[sb + pos - 1]
                idxs[sb + pos] = idxs[sb + pos - 1]
                pos -= 1
            skeys[sb + pos] = key
            idxs[sb + pos] = j
            if c < k:
                c += 1
        for p in range(k):
            vals[sb + p] = x[base + idxs[sb + p] * ls]
        r += step


_TOPK_BLOCK_MAX_K = 32  # above this the per-thread lists of the block kernel get too big


def topk(x, k: int = 1, largest: bool = True):
    """(values, int64 indices) of the k best entries of each last-dim row, best first.
    (The order among NaNs is unspecified.)"""
    buf, off, s, st, ls, n, rows = rows_of(x)
    out_shape = tuple(x.shape[:-1]) + (k,)
    vals = empty(out_shape, buf.dtype)
    idxs = empty(out_shape, np.int64)
    if rows * k == 0:
        return vals, idxs
    if len(s) > MAXD:
        return topk(tensor_like(x, copy(x)), k, largest)
    cfg = config()
    geo = (buf, off, pad(s, 1), pad(st, 0), len(s), ls, n, rows, k, bool(largest))
    if k <= _TOPK_BLOCK_MAX_K and n >= cfg.row_threads:
        threads = cfg.row_threads
        blocks = min(rows, cfg.max_blocks)
        skeys = empty((blocks * threads * k,), buf.dtype)
        sidx = empty((blocks * threads * k,), np.int64)
        _topk_block_kernel(threads, buf.dtype)[blocks, threads](
            *geo, skeys, sidx, vals.reshape(rows * k), idxs.reshape(rows * k))
    else:
        skeys = empty((rows * k,), buf.dtype)
        _topk_thread_kernel[blocks_for(rows, cfg.threads), cfg.threads](
            *geo, skeys, vals.reshape(rows * k), idxs.reshape(rows * k))
    return vals, idxs
