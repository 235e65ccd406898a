"""matmul (batched, broadcast batch dims, numpy's 1-D rules), linear and the fused
linear+GELU used by transformer MLPs."""

from __future__ import annotations

from ..autograd import _mode
from ..autograd import no_grad as _no_grad
from ..dtype import f32, promote
from ..tensor_base import TensorBase
from . import elementwise as _ew
from .grads import gelu_backward
from .registry import register_op

__all__ = ["linear", "linear_gelu", "matmul", "pack_linear_weight"]


def _matmul_bw(node, out, g):
    a, b = node.inputs
    ga = matmul(g, b.mT) if a.requires_grad else None  # summed over broadcast batch dims
    gb = matmul(a.mT, g) if b.requires_grad else None  # by the autograd driver
    return ga, gb


MATMUL = register_op("matmul", backward=_matmul_bw,
                     doc="batched matrix product of >= 2-D tensors")


def matmul(a: TensorBase, b: TensorBase) -> TensorBase:
    if not isinstance(b, TensorBase) or not isinstance(a, TensorBase):
        raise TypeError("matmul needs two tensors")
    if a.ndim == 0 or b.ndim == 0:
        raise ValueError("matmul: both arguments need at least one dimension")
    if a.dtype is not b.dtype:
        dt = promote(a.dtype, b.dtype)
        a, b = a.to(dt), b.to(dt)
    if a.dtype.is_half:
        return matmul(a.to(f32), b.to(f32)).to(a.dtype)
    if a.ndim == 1 or b.ndim == 1:  # numpy rules: promote, multiply, drop the added dim
        a2 = a.unsqueeze(0) if a.ndim == 1 else a
        b2 = b.unsqueeze(-1) if b.ndim == 1 else b
        out = matmul(a2, b2)
        if b.ndim == 1:
            out = out.squeeze(-1)
        if a.ndim == 1:
            out = out.squeeze(-2 if b.ndim > 1 else -1)
        return out
    if a.shape[-1] != b.shape[-2]:
        raise ValueError(f"matmul: shapes {a.shape} and {b.shape} are not aligned "
                         f"({a.shape[-1]} != {b.shape[-2]})")
    if a.device is not b.device:
        raise ValueError(f"matmul: tensors on different devices ({a.device} and {b.device})")
    device = a._storage.device
    out = a._constructor._from_backend(MATMUL.run(device, a, b), a.dtype, device)
    if _mode.enabled and (a.requires_grad or b.requires_grad):
        out._record(MATMUL, (a, b), {})
    return out


def _linear_grads(x: TensorBase, w: TensorBase, b, g: TensorBase):
    in_f, out_f = w.shape[1], w.shape[0]
    g2 = g.reshape(-1, out_f)
    gx = matmul(g, w) if x.requires_grad else None
    gw = matmul(g2.mT, x.reshape(-1, in_f)) if w.requires_grad else None
    gb = g2.sum(0) if b is not None and b.requires_grad else None
    return gx, gw, gb


def _linear_bw(node, out, g):
    x, w, *rest = node.inputs
    gx, gw, gb = _linear_grads(x, w, rest[0] if rest else None, g)
    return (gx, gw, gb) if rest else (gx, gw)


def _linear_gelu_bw(node, out, g):
    x, w, *rest = node.inputs
    b = rest[0] if rest else None
    pre = node.saved  # the pre-activation, kept by the forward pass
    if pre is None:
        with _no_grad():
            pre = linear(x, w, b)
    gpre = gelu_backward(pre, g, node.attrs["approximate"])
    gx, gw, gb = _linear_grads(x, w, b, gpre)
    return (gx, gw, gb) if rest else (gx, gw)


LINEAR = register_op("linear", backward=_linear_bw,
                     doc="x @ w.T + b (w: (out, in)), bias added in a fused epilogue")
LINEAR_GELU = register_op("linear_gelu", backward=_linear_gelu_bw,
                          doc="gelu(x @ w.T + b), bias and GELU fused into one pass")


def _check_linear(x: TensorBase, w: TensorBase, b):
    if w.ndim != 2:
        raise ValueError(f"linear: weight must be 2-D (out, in), got shape {w.shape}")
    if x.ndim == 0 or x.shape[-1] != w.shape[1]:
        raise ValueError(f"linear: input of shape {x.shape} does not match weight {w.shape} "
                         f"(expects last dim {w.shape[1]})")
    if b is not None and b.shape != (w.shape[0],):
        raise ValueError(f"linear: bias of shape {b.shape} does not match {w.shape[0]} outputs")


def pack_linear_weight(w: TensorBase):
    """w (out, in) packed once for the CPU micro-kernel, to pass to linear(..., packed=):
    a model's fixed weight then skips BLAS' per-call packing. None where it does not
    apply (not a float32 CPU matrix, or no micro-kernel for this CPU, or an output count
    that is not a multiple of its tile). The pack is a copy: a weight changed later
    needs packing again."""
    if w.ndim != 2 or w.dtype is not f32 or w._storage.device.type != "cpu":
        return None
    # a data layout for one CPU kernel, not a tensor op: no CUDA twin, no autograd
    from ..backend.cpu.packed import pack

    return pack(w.numpy())


def _records_grad(*tensors) -> bool:
    """Autograd is on and one of the tensors (None: absent) wants a gradient."""
    return _mode.enabled and any(t is not None and t.requires_grad for t in tensors)


def _linear_op(op, x: TensorBase, w: TensorBase, b, attrs: dict) -> TensorBase:
    _check_linear(x, w, b)
    dt = x.dtype
    grad = _records_grad(x, w, b)
    packed = attrs.get("packed")
    # A pack serves the float32 CPU inference of its own weight only: training reads the
    # live weight, never a packed copy.
    if packed is not None and (grad or packed.shape != tuple(w.shape) or dt is not f32
                               or w.dtype is not f32 or x._storage.device.type != "cpu"):
        attrs = {k: v for k, v in attrs.items() if k != "packed"}
    if w.dtype is not dt or (b is not None and b.dtype is not dt) or dt.is_half or not dt.is_float:
        cd = f32 if (dt.is_half or not dt.is_float) else dt
        out = _linear_op(op, x.to(cd), w.to(cd), None if b is None else b.to(cd), attrs)
        return out.to(dt) if dt.is_half else out
    device = x._storage.device
    inputs = (x, w) if b is None else (x, w, b)
    if grad and op is LINEAR_GELU:
        # Training: keep the pre-activation, so backward needs no second GEMM.
        cls = x._constructor
        pre = cls._from_backend(LINEAR.run(device, *inputs), dt, device)
        code = _ew.GELU_TANH if attrs["approximate"] == "tanh" else _ew.GELU
        out = cls._from_backend(_ew.UNARY_OPS[code].run(device, pre), dt, device)
        return out._record(op, inputs, attrs, pre)
    out = x._constructor._from_backend(op.run(device, *inputs, **attrs), dt, device)
    if grad:
        out._record(op, inputs, attrs)
    return out


def linear(x: TensorBase, w: TensorBase, b: TensorBase | None = None, packed=None,
           residual: TensorBase | None = None) -> TensorBase:
    """x @ w.T + b with w of shape (out, in), like torch.nn.functional.linear. `packed`:
    pack_linear_weight(w), made once, for inference on the CPU. `residual`: a tensor
    added to the result (a transformer's skip connection, x + linear(h)). Of the output's
    shape, in float32 CPU inference, the kernel adds it (the packed path in its epilogue,
    while each thread's rows are in cache); otherwise, a broadcast residual included, it
    is the separate add `linear(...) + residual`."""
    attrs = {} if packed is None else {"packed": packed}
    if residual is None:
        return _linear_op(LINEAR, x, w, b, attrs)
    fused = (not _records_grad(x, w, b, residual) and x._storage.device.type == "cpu"
             and all(t.dtype is f32 for t in (x, w, residual) + ((b,) if b is not None else ()))
             and residual._storage.device is x._storage.device
             and residual.shape == x.shape[:-1] + (w.shape[0],))
    if not fused:  # training, the GPU, other dtypes or a broadcast residual: two ops
        return _linear_op(LINEAR, x, w, b, attrs) + residual
    return _linear_op(LINEAR, x, w, b, {**attrs, "residual": residual.numpy()})


def linear_gelu(x: TensorBase, w: TensorBase, b: TensorBase | None = None,
                approximate: str = "none", packed=None) -> TensorBase:
    """gelu(linear(x, w, b)) with the bias add and GELU fused after the GEMM."""
    if approximate not in ("none", "tanh"):
        raise ValueError(f"gelu approximate must be 'none' or 'tanh', got {approximate!r}")
    attrs = {"approximate": approximate}
    if packed is not None:
        attrs["packed"] = packed
    return _linear_op(LINEAR_GELU, x, w, b, attrs)
