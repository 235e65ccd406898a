"""Selecting by index: index_select / embedding, gather, topk (and their scatter-add
adjoints for backward)."""

from __future__ import annotations

from ..autograd import _mode
from ..dtype import f32, i64
from ..layout import normalize_dim
from ..tensor_base import TensorBase
from .registry import register_op

__all__ = ["embedding", "gather", "index_select", "topk"]


def _ids(index, like: TensorBase) -> TensorBase:
    if not isinstance(index, TensorBase):
        index = like._lift(index, i64)
    if index.dtype.is_float:
        raise TypeError(f"indices must be an integer tensor, got {index.dtype}")
    return index if index.dtype is i64 else index.to(i64)


# ---- index_select / embedding ----

INDEX_ADD = register_op("index_add", host_inputs=(1,),
                        doc="zeros of `shape` with rows of g added at ids along dim")


def _index_select_bw(node, out, g):
    x, ids = node.inputs
    dim = node.attrs["dim"]
    device = g._storage.device
    arr = INDEX_ADD.run(device, g, ids, shape=x.shape, dim=dim)
    return g._constructor._from_backend(arr, g.dtype, device), None


INDEX_SELECT = register_op("index_select", backward=_index_select_bw, host_inputs=(1,),
                           doc="entries of x at 1-D ids along dim")


def index_select(x: TensorBase, dim: int, index) -> TensorBase:
    ids = _ids(index, x)
    if ids.ndim != 1:
        raise ValueError(f"index_select needs 1-D indices, got shape {ids.shape}")
    dim = normalize_dim(dim, x.ndim)
    device = x._storage.device
    out = x._constructor._from_backend(INDEX_SELECT.run(device, x, ids, dim=dim), x.dtype, device)
    if x.requires_grad and _mode.enabled:
        out._record(INDEX_SELECT, (x, ids), {"dim": dim})
    return out


def embedding(ids, weight: TensorBase) -> TensorBase:
    """Rows of weight (num, dim) picked by integer ids of any shape -> ids.shape + (dim,)."""
    ids = _ids(ids, weight)
    if weight.ndim != 2:
        raise ValueError(f"embedding weight must be 2-D, got shape {weight.shape}")
    out = index_select(weight, 0, ids.reshape(-1))
    return out.reshape(ids.shape + (weight.shape[1],))


# ---- gather ----

SCATTER_ADD = register_op("scatter_add", host_inputs=(1,),
                          doc="zeros of `shape` with g added at index along dim")


def _gather_bw(node, out, g):
    x, index = node.inputs
    device = g._storage.device
    arr = SCATTER_ADD.run(device, g, index, shape=x.shape, dim=node.attrs["dim"])
    return g._constructor._from_backend(arr, g.dtype, device), None


GATHER = register_op("gather", backward=_gather_bw, host_inputs=(1,),
                     doc="out[..i..] = x[..index[..i..]..] along dim (torch.gather)")


def gather(x: TensorBase, dim: int, index) -> TensorBase:
    index = _ids(index, x)
    dim = normalize_dim(dim, x.ndim)
    if index.ndim != x.ndim:
        raise ValueError(f"gather: index has {index.ndim} dims, input has {x.ndim}")
    for d, (n, m) in enumerate(zip(index.shape, x.shape)):
        if d != dim and n > m:
            raise ValueError(f"gather: index size {n} exceeds input size {m} in dim {d}")
    device = x._storage.device
    out = x._constructor._from_backend(GATHER.run(device, x, index, dim=dim), x.dtype, device)
    if x.requires_grad and _mode.enabled:
        out._record(GATHER, (x, index), {"dim": dim})
    return out


# ---- topk ----

TOPK = register_op("topk", doc="k largest (or smallest) along the last dim, "
                   "sorted best first; the values' gradient flows as for gather")


def topk(x: TensorBase, k: int, dim: int = -1, largest: bool = True, sorted: bool = True):
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
    v, i = TOPK.run(device, xc, k=k, largest=largest)
    indices = x._constructor._from_backend(i, i64, device)
    values = x._constructor._from_backend(v, xc.dtype, device)
    if xc is not x:
        values = values.to(x.dtype)
    if x.requires_grad and _mode.enabled:
        values._record(GATHER, (x, indices), {"dim": dim})
    return values, indices
