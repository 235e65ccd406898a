"""Reductions over dims with keepdim: sum, mean, max, min, argmax, argmin."""

from __future__ import annotations

from ..autograd import _mode
from ..dtype import f32, i64
from ..layout import normalize_dim
from ..tensor_base import TensorBase
from .registry import register_op

__all__ = ["argmax", "argmin", "max", "mean", "min", "sum"]

import builtins


def _dims(x: TensorBase, dim) -> tuple[int, ...]:
    nd = x.ndim
    if dim is None:
        return tuple(range(nd))
    if isinstance(dim, int):
        dim = (dim,)
    dims = sorted({normalize_dim(d, nd) for d in dim})
    return tuple(dims)


def _keep_shape(shape, dims) -> tuple[int, ...]:
    return tuple(1 if i in dims else n for i, n in enumerate(shape))


def _expand_back(g: TensorBase, x: TensorBase, dims, keepdim: bool) -> TensorBase:
    """Gradient of a reduction, broadcast (as a stride-0 view) back over x's shape."""
    if not keepdim:
        g = g.reshape(_keep_shape(x.shape, dims))
    return g.broadcast_to(x.shape)


def _sum_bw(node, out, g):
    x = node.inputs[0]
    return (_expand_back(g, x, node.attrs["dims"], node.attrs["keepdim"]),)


def _extremum_bw(node, out, g):
    x = node.inputs[0]
    dims, keepdim = node.attrs["dims"], node.attrs["keepdim"]
    o = out if keepdim else out.reshape(_keep_shape(x.shape, dims))
    hits = (x == o).to(g.dtype)  # ties share the gradient evenly
    count = hits.sum(dims, keepdim=True)
    return (_expand_back(g, x, dims, keepdim) * hits / count,)


SUM = register_op("sum", backward=_sum_bw, doc="sum over dims")
MAX = register_op("max", backward=_extremum_bw, doc="max over dims (values)")
MIN = register_op("min", backward=_extremum_bw, doc="min over dims (values)")
ARGMAX = register_op("argmax", doc="index of the max")
ARGMIN = register_op("argmin", doc="index of the min")


def _reduce(op, x: TensorBase, dim, keepdim: bool, out_dtype, differentiable: bool) -> TensorBase:
    dims = _dims(x, dim)
    if x.dtype.is_half:
        out = _reduce(op, x.to(f32), dim, keepdim, None, differentiable)
        return out.to(x.dtype) if out.dtype is f32 else out
    if not dims:  # 0-d tensor: nothing to reduce
        dims_shape = x.shape
        arr_t = x.clone() if out_dtype is None else x.to(out_dtype)
        return arr_t.reshape(dims_shape)
    device = x._storage.device
    arr = op.run(device, x, dims=dims)
    dtype = out_dtype or (x.dtype if x.dtype.is_float or op is not SUM else i64)
    out = x._constructor._from_backend(arr, dtype, device)
    if keepdim:
        out = out.reshape(_keep_shape(x.shape, dims))
    if differentiable and x.requires_grad and _mode.enabled:
        # recorded on the final (keepdim-shaped or not) output
        out._record(op, (x,), {"dims": dims, "keepdim": keepdim})
    return out


def sum(x: TensorBase, dim=None, keepdim: bool = False) -> TensorBase:
    """Sum over dim (int, tuple, or None for all); integer tensors sum to i64."""
    return _reduce(SUM, x, dim, keepdim, None, True)


def mean(x: TensorBase, dim=None, keepdim: bool = False) -> TensorBase:
    if not x.dtype.is_float:
        raise TypeError(f"mean needs a floating tensor, got {x.dtype} (cast with .float())")
    dims = _dims(x, dim)
    count = 1
    for d in dims:
        count *= x.shape[d]
    return sum(x, dim, keepdim) / float(builtins.max(count, 1))


def max(x: TensorBase, dim=None, keepdim: bool = False) -> TensorBase:
    """Largest values over dim (values only; use argmax for the indices)."""
    return _reduce(MAX, x, dim, keepdim, None, True)


def min(x: TensorBase, dim=None, keepdim: bool = False) -> TensorBase:
    return _reduce(MIN, x, dim, keepdim, None, True)


def _arg(op, x: TensorBase, dim, keepdim: bool) -> TensorBase:
    if dim is None:  # index into the flattened tensor, as in PyTorch
        out = _reduce(op, x.reshape(-1), 0, False, i64, False)
        return out.reshape((1,) * x.ndim) if keepdim else out
    if not isinstance(dim, int):
        raise TypeError("argmax/argmin take a single int dim")
    return _reduce(op, x, dim, keepdim, i64, False)


def argmax(x: TensorBase, dim=None, keepdim: bool = False) -> TensorBase:
    return _arg(ARGMAX, x, dim, keepdim)


def argmin(x: TensorBase, dim=None, keepdim: bool = False) -> TensorBase:
    return _arg(ARGMIN, x, dim, keepdim)
