"""Elementwise ops: binary arithmetic with NumPy broadcasting, comparisons, unary
math, where/masked_fill and dtype casts — front ends and backward rules."""

from __future__ import annotations

import numpy as np

from ..autograd import _mode
from ..backend.codes import (
    ABS,
    ADD,
    COMPARISONS,
    COPY,
    COS,
    DIV,
    EQ,
    EXP,
    GELU,
    GELU_GRAD,  # noqa: F401 (re-exported: ew.unary(ew.GELU_GRAD, x))
    GELU_TANH,
    GELU_TANH_GRAD,  # noqa: F401
    GT,
    LOG,
    LT,
    MAXIMUM,
    MINIMUM,
    MUL,
    NE,
    NEG,
    POW,
    RECIP,
    RELU,
    RSQRT,
    SIGMOID,
    SIGN,
    SIN,
    SQRT,
    SQUARE,
    SUB,
    TANH,
    UNARY_NAMES,
)
from ..backend.codes import BINARY_NAMES as _BINARY_NAMES
from ..dtype import DType, f32, promote, u8
from ..layout import broadcast_shapes
from ..tensor_base import TensorBase
from . import grads as _grads
from .registry import register_op

__all__ = ["binary", "cast", "gelu", "masked_fill", "maximum", "minimum", "unary", "where"]

# ---------------------------------------------------------------- binary

def _add_bw(node, out, g):
    a, b = node.inputs
    return (g if a.requires_grad else None, g if b.requires_grad else None)


def _sub_bw(node, out, g):
    a, b = node.inputs
    return (g if a.requires_grad else None, -g if b.requires_grad else None)


def _mul_bw(node, out, g):
    a, b = node.inputs
    return (g * b if a.requires_grad else None, g * a if b.requires_grad else None)


def _div_bw(node, out, g):
    a, b = node.inputs
    ga = g / b if a.requires_grad else None
    gb = -g * a / (b * b) if b.requires_grad else None
    return ga, gb


def _pow_bw(node, out, g):
    a, b = node.inputs
    ga = g * b * a ** (b - 1) if a.requires_grad else None
    gb = g * out * a.log() if b.requires_grad else None
    return ga, gb


def _extremum_bw(win_code):
    def bw(node, out, g):
        a, b = node.inputs
        # the winner gets the gradient; ties split it evenly (as PyTorch does)
        wins = binary(win_code, a, b).to(g.dtype)
        ties = binary(EQ, a, b).to(g.dtype)
        share = wins + ties * 0.5
        ga = g * share
        return (ga if a.requires_grad else None, (g - ga) if b.requires_grad else None)
    return bw


_BINARY_BACKWARD = {ADD: _add_bw, SUB: _sub_bw, MUL: _mul_bw, DIV: _div_bw, POW: _pow_bw,
                    MAXIMUM: _extremum_bw(GT), MINIMUM: _extremum_bw(LT)}

BINARY_OPS = {code: register_op(name, backward=_BINARY_BACKWARD.get(code),
                                doc=f"elementwise {name} with numpy broadcasting")
              for code, name in _BINARY_NAMES.items()}


def _is_scalar(x) -> bool:
    return isinstance(x, (int, float, bool))


def binary(code: int, a, b) -> TensorBase:
    """a `op` b; one side may be a python scalar, which takes the tensor's dtype
    (an int tensor with a float scalar becomes f32, as in PyTorch)."""
    if isinstance(a, TensorBase):
        dt = a.dtype
        if isinstance(b, TensorBase):
            if b.dtype is not dt:
                dt = promote(dt, b.dtype)
                a = a if a.dtype is dt else cast(a, dt)
                b = b if b.dtype is dt else cast(b, dt)
            if a._storage.device is not b._storage.device:
                raise ValueError(f"{_BINARY_NAMES[code]}: tensors on different devices "
                                 f"({a.device} and {b.device})")
            if a._layout.shape != b._layout.shape:
                broadcast_shapes(a._layout.shape, b._layout.shape)  # raises a clear error
        elif _is_scalar(b):
            if not dt.is_float and isinstance(b, float):
                dt = f32
                a = cast(a, dt)
        elif isinstance(b, (np.number, np.bool_)):
            return binary(code, a, b.item())
        else:
            return binary(code, a, _as_operand(b, a))
        t = a
    elif isinstance(b, TensorBase):
        if not _is_scalar(a):
            if isinstance(a, (np.number, np.bool_)):
                return binary(code, a.item(), b)
            return binary(code, _as_operand(a, b), b)
        dt = b.dtype
        if not dt.is_float and isinstance(a, float):
            dt = f32
            b = cast(b, dt)
        t = b
    else:
        raise TypeError("binary op needs at least one tensor")

    if dt.is_half:  # compute in f32, store back in the half type
        a32 = cast(a, f32) if isinstance(a, TensorBase) else a
        b32 = cast(b, f32) if isinstance(b, TensorBase) else b
        out = binary(code, a32, b32)
        return out if code in COMPARISONS else cast(out, dt)
    if code == DIV and not dt.is_float:
        return binary(code, cast(a, f32) if isinstance(a, TensorBase) else float(a),
                      cast(b, f32) if isinstance(b, TensorBase) else float(b))

    op = BINARY_OPS[code]
    device = t._storage.device
    arr = op.run(device, a, b)
    out = t._constructor._from_backend(arr, u8 if code in COMPARISONS else dt, device)
    if op.backward is not None and _mode.enabled and (
            (isinstance(a, TensorBase) and a.requires_grad) or (isinstance(b, TensorBase) and b.requires_grad)):
        a_t = a if isinstance(a, TensorBase) else _scalar_tensor(a, t)
        b_t = b if isinstance(b, TensorBase) else _scalar_tensor(b, t)
        out._record(op, (a_t, b_t), {})
    return out


def _as_operand(x, like: TensorBase) -> TensorBase:
    return like._lift(x, like.dtype if like.dtype.is_float else None)


def _scalar_tensor(x, like: TensorBase) -> TensorBase:
    return like._full((), x, like.dtype if like.dtype.is_float else f32)


def maximum(a, b) -> TensorBase:
    return binary(MAXIMUM, a, b)


def minimum(a, b) -> TensorBase:
    return binary(MINIMUM, a, b)


# ---------------------------------------------------------------- unary

def _bw(fn):
    def bw(node, out, g):
        return (fn(node.inputs[0], out, g),)
    return bw


_UNARY_BACKWARD = {
    NEG: lambda x, y, g: -g,
    EXP: lambda x, y, g: g * y,
    LOG: lambda x, y, g: g / x,
    SQRT: lambda x, y, g: g * 0.5 / y,
    RSQRT: lambda x, y, g: g * -0.5 * y * y * y,
    TANH: lambda x, y, g: g * (1.0 - y * y),
    RELU: lambda x, y, g: g * (x > 0).to(g.dtype),
    GELU: lambda x, y, g: _grads.gelu_backward(x, g),  # fused: one pass
    GELU_TANH: lambda x, y, g: _grads.gelu_backward(x, g, "tanh"),
    SIGMOID: lambda x, y, g: g * y * (1.0 - y),
    ABS: lambda x, y, g: g * x.sign(),
    SIN: lambda x, y, g: g * x.cos(),
    COS: lambda x, y, g: -g * x.sin(),
    RECIP: lambda x, y, g: -g * y * y,
    SQUARE: lambda x, y, g: g * 2.0 * x,
}  # sign, gelu_grad and gelu_tanh_grad have none
# ops that keep integer dtypes; the others compute in floating point
_INT_OK = (NEG, ABS, RELU, SIGN, SQUARE, COPY)

UNARY_OPS = {code: register_op(name, backward=_bw(_UNARY_BACKWARD[code])
                               if code in _UNARY_BACKWARD else None, doc=f"elementwise {name}")
             for code, name in UNARY_NAMES.items()}


def unary(code: int, x: TensorBase) -> TensorBase:
    dt = x.dtype
    if not dt.is_float and code not in _INT_OK:
        return unary(code, cast(x, f32))
    if dt.is_half:
        return cast(unary(code, cast(x, f32)), dt)
    op = UNARY_OPS[code]
    device = x._storage.device
    out = x._constructor._from_backend(op.run(device, x), dt, device)
    if x.requires_grad and _mode.enabled and op.backward is not None:
        out._record(op, (x,), {})
    return out


def gelu(x: TensorBase, approximate: str = "none") -> TensorBase:
    """GELU: exact (erf) form by default, tanh form with approximate="tanh"."""
    if approximate == "none":
        return unary(GELU, x)
    if approximate == "tanh":
        return unary(GELU_TANH, x)
    raise ValueError(f"gelu approximate must be 'none' or 'tanh', got {approximate!r}")


# ---------------------------------------------------------------- where / masked_fill

def _where_bw(node, out, g):
    cond, a, b = node.inputs
    ga = where(cond, g, 0.0) if a.requires_grad else None
    gb = where(cond, 0.0, g) if b.requires_grad else None
    return None, ga, gb


WHERE = register_op("where", backward=_where_bw,
                    doc="cond ? a : b with broadcasting (cond: nonzero = true)")


def where(cond: TensorBase, a, b) -> TensorBase:
    """Elements of a where cond is nonzero, else of b (a/b may be python scalars)."""
    if not isinstance(cond, TensorBase):
        like = a if isinstance(a, TensorBase) else b
        if not isinstance(like, TensorBase):
            raise TypeError("where: with a condition that is not a tensor, a or b must be one")
        cond = like._lift(cond, u8)
    if cond.dtype is not u8:
        cond = binary(NE, cond, 0)
    if not isinstance(a, TensorBase) and not isinstance(b, TensorBase):  # two scalars
        a = cond._lift(a, f32 if isinstance(a, float) or isinstance(b, float) else None)
    ta = a if isinstance(a, TensorBase) else b
    dt = ta.dtype
    if isinstance(a, TensorBase) and isinstance(b, TensorBase) and a.dtype is not b.dtype:
        dt = promote(a.dtype, b.dtype)
    if not dt.is_float and any(isinstance(x, (float, np.floating)) for x in (a, b)):
        dt = f32
    if isinstance(a, TensorBase) and a.dtype is not dt:
        a = cast(a, dt)
    if isinstance(b, TensorBase) and b.dtype is not dt:
        b = cast(b, dt)
    if dt.is_half:
        out = where(cond, cast(a, f32) if isinstance(a, TensorBase) else a,
                    cast(b, f32) if isinstance(b, TensorBase) else b)
        return cast(out, dt)
    device = ta._storage.device
    out = ta._constructor._from_backend(WHERE.run(device, cond, a, b), dt, device)
    if _mode.enabled and any(isinstance(x, TensorBase) and x.requires_grad for x in (a, b)):
        a_t = a if isinstance(a, TensorBase) else _scalar_tensor(a, ta)
        b_t = b if isinstance(b, TensorBase) else _scalar_tensor(b, ta)
        out._record(WHERE, (cond, a_t, b_t), {})
    return out


def masked_fill(x: TensorBase, mask: TensorBase, value) -> TensorBase:
    """x with `value` wherever mask is nonzero (mask broadcasts to x)."""
    out = where(mask, value, x)
    if out.shape != x.shape:
        raise ValueError(f"masked_fill: mask of shape {mask.shape} does not broadcast to {x.shape}")
    return out


# ---------------------------------------------------------------- cast

def _cast_bw(node, out, g):
    return (cast(g, node.inputs[0].dtype),)


CAST = register_op("cast", backward=_cast_bw, doc="convert to another dtype")


def cast(x: TensorBase, dtype: DType) -> TensorBase:
    """x converted to dtype (float -> int truncates toward zero, like PyTorch)."""
    if x.dtype is dtype:
        return x
    device = x._storage.device
    out = x._constructor._from_backend(CAST.run(device, x, dtype=dtype), dtype, device)
    if x.requires_grad and _mode.enabled and dtype.is_float:
        out._record(CAST, (x,), {"dtype": dtype})
    return out
