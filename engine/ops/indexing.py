"""Selecting by index: index_select / embedding, gather, topk (and their scatter-add
adjoints for backward)."""

from __future__ import annotations

import numpy as np

from ..autograd import _mode
from ..backend.cpu import indexing as cpu_ix
from ..dtype import f32, i64
from ..layout import normalize_dim
from ..tensor import Tensor
from .registry import register_op

__all__ = ["embedding", "gather", "index_select", "topk"]


def _ids(index) -> Tensor:
    if not isinstance(index, Tensor):
        from ..creation import tensor
        index = tensor(np.asarray(index), dtype=i64)
    if index.dtype.is_float:
        raise TypeError(f"indices must be an integer tensor, got {index.dtype}")
    return index if index.dtype is i64 else index.to(i64)


def _moved_rows(a: np.ndarray, dim: int) -> np.ndarray:
    """a with `dim` moved first, as C-contiguous (size, rest) (no copy for dim 0 data)."""
    moved = np.moveaxis(a, dim, 0)
    return np.ascontiguousarray(moved).reshape(moved.shape[0], -1)


# ---- index_select / embedding ----

def _index_select_cpu(x, ids, dim=0):
    a = x.np
    idx = np.ascontiguousarray(ids.np).reshape(-1)
    cpu_ix.check_ids(idx, a.shape[dim], "index_select")
    rows = cpu_ix.take_rows(_moved_rows(a, dim), idx)
    moved_shape = (idx.shape[0],) + tuple(np.delete(np.array(a.shape), dim))
    return np.ascontiguousarray(np.moveaxis(rows.reshape(moved_shape), 0, dim))


def _index_add_cpu(g, ids, shape=(), dim=0):
    ga = g.np
    idx = np.ascontiguousarray(ids.np).reshape(-1)
    moved_shape = (shape[dim],) + tuple(s for i, s in enumerate(shape) if i != dim)
    out = np.zeros(moved_shape, dtype=ga.dtype)
    cpu_ix.add_rows(out.reshape(shape[dim], -1), idx, _moved_rows(ga, dim))
    return np.ascontiguousarray(np.moveaxis(out, 0, dim))


INDEX_ADD = register_op("index_add", cpu=_index_add_cpu,
                        doc="zeros of `shape` with rows of g added at ids along dim")


def _index_select_bw(node, out, g):
    x, ids = node.inputs
    dim = node.attrs["dim"]
    device = g._storage.device
    arr = INDEX_ADD.kernel(device)(g, ids, shape=x.shape, dim=dim)
    return Tensor._from_backend(arr, g.dtype, device), None


INDEX_SELECT = register_op("index_select", cpu=_index_select_cpu, backward=_index_select_bw,
                           doc="entries of x at 1-D ids along dim")


def index_select(x: Tensor, dim: int, index) -> Tensor:
    ids = _ids(index)
    if ids.ndim != 1:
        raise ValueError(f"index_select needs 1-D indices, got shape {ids.shape}")
    dim = normalize_dim(dim, x.ndim)
    device = x._storage.device
    out = Tensor._from_backend(INDEX_SELECT.kernel(device)(x, ids, dim=dim), x.dtype, device)
    if x.requires_grad and _mode.enabled:
        out._record(INDEX_SELECT, (x, ids), {"dim": dim})
    return out


def embedding(ids, weight: Tensor) -> Tensor:
    """Rows of weight (num, dim) picked by integer ids of any shape -> ids.shape + (dim,)."""
    ids = _ids(ids)
    if weight.ndim != 2:
        raise ValueError(f"embedding weight must be 2-D, got shape {weight.shape}")
    out = index_select(weight, 0, ids.reshape(-1))
    return out.reshape(ids.shape + (weight.shape[1],))


# ---- gather ----

def _last_rows(a: np.ndarray, dim: int) -> np.ndarray:
    moved = np.moveaxis(a, dim, -1)
    return np.ascontiguousarray(moved).reshape(-1, moved.shape[-1])


def _gather_cpu(x, index, dim=0):
    idx = index.np
    a = x.np
    cpu_ix.check_ids(idx, a.shape[dim], "gather")
    # torch semantics: only the first index.shape[d] entries of x are used in other dims
    a = a[tuple(slice(0, n) if d != dim else slice(None) for d, n in enumerate(idx.shape))]
    x2 = _last_rows(a, dim)
    i2 = _last_rows(idx, dim)
    out = np.empty(i2.shape, dtype=a.dtype)
    cpu_ix.gather_last(x2, i2, out)
    moved = np.moveaxis(idx, dim, -1).shape
    return np.ascontiguousarray(np.moveaxis(out.reshape(moved), -1, dim))


def _scatter_add_cpu(g, index, shape=(), dim=0):
    idx = index.np
    sub = tuple(n if d != dim else shape[d] for d, n in enumerate(idx.shape))
    out = np.zeros(shape, dtype=g.np.dtype)
    part = np.zeros(sub, dtype=out.dtype)
    moved = np.moveaxis(part, dim, -1)
    acc = np.ascontiguousarray(moved).reshape(-1, moved.shape[-1])
    cpu_ix.scatter_add_last(acc, _last_rows(idx, dim), _last_rows(g.np, dim))
    out[tuple(slice(0, n) for n in sub)] = np.moveaxis(acc.reshape(moved.shape), -1, dim)
    return out


SCATTER_ADD = register_op("scatter_add", cpu=_scatter_add_cpu,
                          doc="zeros of `shape` with g added at index along dim")


def _gather_bw(node, out, g):
    x, index = node.inputs
    device = g._storage.device
    arr = SCATTER_ADD.kernel(device)(g, index, shape=x.shape, dim=node.attrs["dim"])
    return Tensor._from_backend(arr, g.dtype, device), None


GATHER = register_op("gather", cpu=_gather_cpu, backward=_gather_bw,
                     doc="out[..i..] = x[..index[..i..]..] along dim (torch.gather)")


def gather(x: Tensor, dim: int, index) -> Tensor:
    index = _ids(index)
    dim = normalize_dim(dim, x.ndim)
    if index.ndim != x.ndim:
        raise ValueError(f"gather: index has {index.ndim} dims, input has {x.ndim}")
    for d, (n, m) in enumerate(zip(index.shape, x.shape)):
        if d != dim and n > m:
            raise ValueError(f"gather: index size {n} exceeds input size {m} in dim {d}")
    device = x._storage.device
    out = Tensor._from_backend(GATHER.kernel(device)(x, index, dim=dim), x.dtype, device)
    if x.requires_grad and _mode.enabled:
        out._record(GATHER, (x, index), {"dim": dim})
    return out


# ---- topk ----

def _topk_cpu(x, k=1, largest=True):
    a = x.np
    x2 = np.ascontiguousarray(a).reshape(-1, a.shape[-1])
    vals, idxs = cpu_ix.topk(x2, k, largest)
    shape = a.shape[:-1] + (k,)
    return vals.reshape(shape), idxs.reshape(shape)


TOPK = register_op("topk", cpu=_topk_cpu, doc="k largest (or smallest) along the last dim, "
                   "sorted best first; the values' gradient flows as for gather")


def topk(x: Tensor, k: int, dim: int = -1, largest: bool = True, sorted: bool = True):
    """(values, indices) of the k largest entries along dim, best first (always sorted)."""
    dim = normalize_dim(dim, x.ndim)
    if not 0 <= k <= x.shape[dim]:
        raise ValueError(f"topk: k={k} out of range for size {x.shape[dim]}")
    if dim != x.ndim - 1:
        vals, idxs = topk(x.transpose(dim, -1), k, -1, largest, sorted)
        return vals.transpose(dim, -1), idxs.transpose(dim, -1)
    xc = x
    if x.dtype.is_half:
        xc = x.to(f32)
    elif not x.dtype.is_float and x.dtype is not i64:
        xc = x.to(i64)
    device = x._storage.device
    v, i = TOPK.kernel(device)(xc, k=k, largest=largest)
    indices = Tensor._from_backend(i, i64, device)
    values = Tensor._from_backend(v, xc.dtype, device)
    if xc is not x:
        values = values.to(x.dtype)
    if x.requires_grad and _mode.enabled:
        values._record(GATHER, (x, indices), {"dim": dim})
    return values, indices
