"""Shape ops. Views (reshape of compatible data, transpose, permute, narrow,
squeeze/unsqueeze, broadcast_to, basic indexing) only build a new Layout over the
same storage; copy, cat and device moves produce new storage."""

from __future__ import annotations

import math

import numpy as np

from ..autograd import _mode, sum_to_shape
from ..device import Device, cpu
from ..dtype import i64, promote, u8
from ..layout import normalize_dim
from ..storage import CpuStorage
from ..tensor_base import TensorBase
from .indexing import index_select
from .registry import register_op

__all__ = [
    "broadcast_to",
    "cat",
    "copy",
    "getitem",
    "narrow",
    "permute",
    "reshape",
    "setitem",
    "split",
    "squeeze",
    "stack",
    "to_device",
    "transpose",
    "unsqueeze",
]


def _view_op(name: str, backward, doc: str):
    # Views need no kernel: they run the same on every device.
    return register_op(name, backward=backward, doc=f"view: {doc}")


def _record_view(out: TensorBase, x: TensorBase, op, attrs) -> TensorBase:
    if x.requires_grad and _mode.enabled:
        out._record(op, (x,), attrs)
    return out


# ---- reshape ----

def _infer_shape(shape: tuple[int, ...], numel: int, old: tuple[int, ...]) -> tuple[int, ...]:
    if -1 in shape:
        if shape.count(-1) > 1:
            raise ValueError("only one dimension can be -1")
        known = math.prod(s for s in shape if s != -1)
        if known == 0 or numel % known:
            raise ValueError(f"cannot reshape tensor of shape {old} into {shape}")
        shape = tuple(numel // known if s == -1 else s for s in shape)
    if math.prod(shape) != numel:
        raise ValueError(f"cannot reshape tensor of shape {old} ({numel} elements) into {shape}")
    return shape


RESHAPE = _view_op("reshape", lambda node, out, g: (reshape(g, node.inputs[0].shape),),
                   "same elements, new shape")


def reshape(x: TensorBase, shape: tuple[int, ...], copy_ok: bool = True) -> TensorBase:
    """A view when the strides allow it, else (copy_ok) a reshaped contiguous copy."""
    old = x._layout.shape
    shape = _infer_shape(shape, x._layout.numel(), old)
    if shape == old:
        return x
    lay = x._layout.reshape(shape)
    if lay is None:
        if not copy_ok:
            raise RuntimeError(f"view({shape}) is impossible on a tensor with shape {old} and "
                               f"strides {x.stride()}; use reshape() (which copies)")
        return reshape(copy(x), shape)
    return _record_view(x._view(lay), x, RESHAPE, {})


# ---- transpose / permute ----

TRANSPOSE = _view_op("transpose", lambda node, out, g: (transpose(g, *node.attrs["dims"]),),
                     "swap two dims")


def transpose(x: TensorBase, d0: int, d1: int) -> TensorBase:
    return _record_view(x._view(x._layout.transpose(d0, d1)), x, TRANSPOSE, {"dims": (d0, d1)})


def _permute_bw(node, out, g):
    dims = node.attrs["dims"]
    inverse = [0] * len(dims)
    for i, d in enumerate(dims):
        inverse[d] = i
    return (permute(g, tuple(inverse)),)


PERMUTE = _view_op("permute", _permute_bw, "reorder dims")


def permute(x: TensorBase, dims: tuple[int, ...]) -> TensorBase:
    lay = x._layout.permute(dims)
    out = x._view(lay)
    if x.requires_grad and _mode.enabled:
        out._record(PERMUTE, (x,), {"dims": tuple(normalize_dim(d, x.ndim) for d in dims)})
    return out


# ---- narrow / indexing ----

def _slice_scatter_bw(node, out, g):
    return (getitem(g, node.attrs["key"]),)


SLICE_SCATTER = register_op(
    "slice_scatter", backward=_slice_scatter_bw,
    doc="zeros of `shape` with the input written at basic index `key` (backward of views)")


def slice_scatter(g: TensorBase, shape: tuple[int, ...], key) -> TensorBase:
    device = g._storage.device
    out = g._constructor._from_backend(SLICE_SCATTER.run(device, g, shape=shape, key=key), g.dtype,
                                device)
    if g.requires_grad and _mode.enabled:
        out._record(SLICE_SCATTER, (g,), {"shape": shape, "key": key})
    return out


def _narrow_bw(node, out, g):
    x = node.inputs[0]
    dim, start, length = node.attrs["args"]
    key = (slice(None),) * dim + (slice(start, start + length),)
    return (slice_scatter(g, x.shape, key),)


NARROW = _view_op("narrow", _narrow_bw, "a sub-range of one dim")


def narrow(x: TensorBase, dim: int, start: int, length: int) -> TensorBase:
    dim = normalize_dim(dim, x.ndim)
    if start < 0:
        start += x.shape[dim]
    out = x._view(x._layout.narrow(dim, start, length))
    return _record_view(out, x, NARROW, {"args": (dim, start, length)})


def split(x: TensorBase, split_size, dim: int = 0) -> list[TensorBase]:
    """Views of consecutive pieces: of size `split_size` (last may be shorter), or of the
    sizes in a list."""
    dim = normalize_dim(dim, x.ndim)
    size = x.shape[dim]
    if isinstance(split_size, int):
        if split_size <= 0:
            raise ValueError("split_size must be positive")
        sizes = [min(split_size, size - s) for s in range(0, size, split_size)]
    else:
        sizes = list(split_size)
        if sum(sizes) != size:
            raise ValueError(f"split sizes {sizes} do not add up to {size}")
    out, start = [], 0
    for n in sizes:
        out.append(narrow(x, dim, start, n))
        start += n
    return out


GETITEM = _view_op("getitem", lambda node, out, g: (
    slice_scatter(g, node.inputs[0].shape, node.attrs["key"]),), "basic indexing")


def _basic_key(key) -> tuple:
    """The key with every advanced index replaced by a full slice (for backward)."""
    if not isinstance(key, tuple):
        key = (key,)
    out = []
    for k in key:
        if k is None or k is Ellipsis or isinstance(k, (slice, int, np.integer)):
            out.append(k)
        else:
            out.append(slice(None))
    return tuple(out)


def getitem(x: TensorBase, key) -> TensorBase:
    """Basic indexing (ints, slices with positive step, ..., None) gives a view; one
    integer tensor/list index is applied with index_select."""
    if isinstance(key, TensorBase) and key.dtype is u8 and key.ndim == x.ndim and key.ndim > 0:
        raise IndexError("boolean mask indexing has a data-dependent shape and is not "
                         "supported; use masked_fill or where")
    lay, advanced = x._layout.index(key)
    if len(advanced) > 1:
        raise IndexError("at most one tensor/list index is supported per indexing expression")
    out = x._view(lay)
    if x.requires_grad and _mode.enabled:
        out._record(GETITEM, (x,), {"key": _basic_key(key)})
    for dim, idx in advanced:
        if not isinstance(idx, TensorBase):
            idx = x._lift(np.asarray(idx), i64)
        if idx.ndim != 1:
            raise IndexError("tensor indices must be 1-D")
        out = index_select(out, dim, idx)
    return out


ASSIGN = register_op("assign", doc="in-place write into a view (t[key] = v)")


def setitem(x: TensorBase, key, value) -> None:
    """In-place `x[key] = value` (value: tensor broadcastable to the slot, or scalar)."""
    if x.requires_grad and _mode.enabled:
        raise RuntimeError("in-place assignment into a tensor that requires grad is not "
                           "supported; do it under engine.no_grad() or on a detached tensor")
    lay, advanced = x._layout.index(key)
    if advanced:
        raise IndexError("assignment supports basic indices only (ints, slices, ..., None)")
    dst = x._view(lay)
    if isinstance(value, TensorBase):
        if value.dtype is not x.dtype:
            value = value.to(x.dtype)
        if value._storage.device is not x._storage.device:
            value = value.to(x.device)
    ASSIGN.run(x.device, dst, value)


def _squeeze_bw(node, out, g):
    return (reshape(g, node.inputs[0].shape),)


SQUEEZE = _view_op("squeeze", _squeeze_bw, "drop size-1 dims")
UNSQUEEZE = _view_op("unsqueeze", _squeeze_bw, "insert a size-1 dim")


def squeeze(x: TensorBase, dim: int | None = None) -> TensorBase:
    return _record_view(x._view(x._layout.squeeze(dim)), x, SQUEEZE, {})


def unsqueeze(x: TensorBase, dim: int) -> TensorBase:
    return _record_view(x._view(x._layout.unsqueeze(dim)), x, UNSQUEEZE, {})


def _broadcast_bw(node, out, g):
    return (sum_to_shape(g, node.inputs[0].shape),)


BROADCAST = _view_op("broadcast_to", _broadcast_bw, "expand size-1 dims with stride 0")


def broadcast_to(x: TensorBase, shape: tuple[int, ...]) -> TensorBase:
    if shape == x.shape:
        return x
    return _record_view(x._view(x._layout.broadcast_to(shape)), x, BROADCAST, {})


# ---- copies ----

COPY = register_op("copy", backward=lambda node, out, g: (g,),
                   doc="contiguous copy of a (possibly strided) tensor")


def copy(x: TensorBase) -> TensorBase:
    device = x._storage.device
    out = x._constructor._from_backend(COPY.run(device, x), x.dtype, device)
    if x.requires_grad and _mode.enabled:
        out._record(COPY, (x,), {})
    return out


def _to_device_bw(node, out, g):
    return (to_device(g, node.inputs[0].device),)


TO_DEVICE = register_op("to_device", backward=_to_device_bw, doc="move between devices")


def to_device(x: TensorBase, device: Device) -> TensorBase:
    if device is x._storage.device:
        return x
    if device is cpu:
        view = CpuStorage(x._storage.to_numpy()).view(x._layout)
        out = x._constructor._from_backend(view.copy(order="C"), x.dtype, cpu)
    else:
        src = x if x._storage.device is cpu else to_device(x, cpu)
        out = x._constructor._from_host(src.np.copy(order="C"), x.dtype, device)
    if x.requires_grad and _mode.enabled:
        out._record(TO_DEVICE, (x,), {})
    return out


# ---- cat / stack ----

def _cat_bw(node, out, g):
    dim = node.attrs["dim"]
    grads, start = [], 0
    for t in node.inputs:
        n = t.shape[dim]
        grads.append(narrow(g, dim, start, n) if t.requires_grad else None)
        start += n
    return tuple(grads)


CAT = register_op("cat", backward=_cat_bw, doc="concatenate along a dim")


def cat(tensors, dim: int = 0) -> TensorBase:
    tensors = list(tensors)
    if not tensors:
        raise ValueError("cat needs at least one tensor")
    first = tensors[0]
    nd = first.ndim
    if nd == 0:
        raise ValueError("cat: zero-dimensional tensors cannot be concatenated")
    dim = normalize_dim(dim, nd)
    dt = first.dtype
    for t in tensors[1:]:
        if t.ndim != nd or any(a != b for i, (a, b) in enumerate(zip(t.shape, first.shape))
                               if i != dim):
            raise ValueError(f"cat: shapes {first.shape} and {t.shape} differ outside dim {dim}")
        if t.device is not first.device:
            raise ValueError("cat: tensors on different devices")
        dt = promote(dt, t.dtype)
    tensors = [t if t.dtype is dt else t.to(dt) for t in tensors]
    device = first._storage.device
    out = first._constructor._from_backend(CAT.run(device, *tensors, dim=dim), dt, device)
    if _mode.enabled and any(t.requires_grad for t in tensors):
        out._record(CAT, tuple(tensors), {"dim": dim})
    return out


def stack(tensors, dim: int = 0) -> TensorBase:
    tensors = list(tensors)
    if not tensors:
        raise ValueError("stack needs at least one tensor")
    nd = tensors[0].ndim
    if dim < 0:
        dim += nd + 1
    for t in tensors[1:]:
        if t.shape != tensors[0].shape:
            raise ValueError(f"stack: shapes {tensors[0].shape} and {t.shape} differ")
    return cat([unsqueeze(t, dim) for t in tensors], dim)
