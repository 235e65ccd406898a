"""Neural-network ops with their own kernels: softmax, log_softmax, layer_norm,
conv2d and fused scaled-dot-product attention."""

from __future__ import annotations

from ..autograd import _mode
from ..dtype import f32
from ..layout import normalize_dim
from ..tensor_base import TensorBase
from .grads import layer_norm_backward, softmax_backward
from .pool import upsample_nearest2d
from .registry import register_op
from .shape import cat

__all__ = ["attention", "conv2d", "layer_norm", "log_softmax", "softmax"]


# ---- softmax / log_softmax over the last dim ----

def _softmax_bw(node, out, g):
    return (softmax_backward(out, g),)


def _log_softmax_bw(node, out, g):
    return (softmax_backward(out, g, log=True),)


SOFTMAX = register_op("softmax", backward=_softmax_bw, doc="softmax over the last dim")
LOG_SOFTMAX = register_op("log_softmax", backward=_log_softmax_bw,
                          doc="log_softmax over the last dim")


def _softmax_like(op, x: TensorBase, dim: int) -> TensorBase:
    if x.ndim == 0:
        x = x.reshape(1)
        return _softmax_like(op, x, 0).reshape(())
    dim = normalize_dim(dim, x.ndim)
    if dim != x.ndim - 1:  # work on the last dim through views
        return _softmax_like(op, x.transpose(dim, -1), -1).transpose(dim, -1)
    if not x.dtype.is_float:
        x = x.to(f32)
    if x.dtype.is_half:
        return _softmax_like(op, x.to(f32), -1).to(x.dtype)
    device = x._storage.device
    out = x._constructor._from_backend(op.run(device, x), x.dtype, device)
    if x.requires_grad and _mode.enabled:
        out._record(op, (x,), {})
    return out


def softmax(x: TensorBase, dim: int = -1) -> TensorBase:
    return _softmax_like(SOFTMAX, x, dim)


def log_softmax(x: TensorBase, dim: int = -1) -> TensorBase:
    return _softmax_like(LOG_SOFTMAX, x, dim)


# ---- layer_norm ----

def _layer_norm_bw(node, out, g):
    x = node.inputs[0]
    w = node.inputs[1] if len(node.inputs) > 1 else None
    b = node.inputs[2] if len(node.inputs) > 2 else None
    mean, rstd = node.saved
    gx, gw, gb = layer_norm_backward(x, g, w, mean, rstd, node.attrs["n"], x.requires_grad)
    gw = gw.reshape(w.shape) if w is not None and w.requires_grad else None
    gb = gb.reshape(b.shape) if b is not None and b.requires_grad else None
    return (gx, gw, gb)[:len(node.inputs)]


LAYER_NORM = register_op("layer_norm", backward=_layer_norm_bw,
                         doc="normalise over the trailing dims, then scale and shift")


def layer_norm(x: TensorBase, normalized_shape, weight: TensorBase | None = None,
               bias: TensorBase | None = None, eps: float = 1e-5) -> TensorBase:
    if isinstance(normalized_shape, int):
        normalized_shape = (normalized_shape,)
    elif type(normalized_shape) is not tuple:
        normalized_shape = tuple(normalized_shape)
    k = len(normalized_shape)
    if x.shape[x.ndim - k:] != normalized_shape:
        raise ValueError(f"layer_norm: input of shape {x.shape} does not end with "
                         f"normalized_shape {normalized_shape}")
    for name, p in (("weight", weight), ("bias", bias)):
        if p is not None and p.shape != normalized_shape:
            raise ValueError(f"layer_norm: {name} of shape {p.shape}, expected {normalized_shape}")
    dt = x.dtype
    if dt.is_half or not dt.is_float:
        cd = f32
        out = layer_norm(x.to(cd), normalized_shape, None if weight is None else weight.to(cd),
                         None if bias is None else bias.to(cd), eps)
        return out.to(dt) if dt.is_half else out
    if weight is not None and weight.dtype is not dt:
        weight = weight.to(dt)
    if bias is not None and bias.dtype is not dt:
        bias = bias.to(dt)
    if weight is None and bias is not None:
        weight = x._full(normalized_shape, 1, dt)
    n = 1
    for d in normalized_shape:
        n *= d
    inputs = (x,) if weight is None else (x, weight) if bias is None else (x, weight, bias)
    device = x._storage.device
    y, mean, rstd = LAYER_NORM.run(device, *inputs, n=n, eps=float(eps))
    cls = x._constructor
    out = cls._from_backend(y, dt, device)
    if _mode.enabled and (x.requires_grad or (weight is not None and weight.requires_grad)
                          or (bias is not None and bias.requires_grad)):
        saved = (cls._from_backend(mean.reshape(-1, 1), dt, device),
                 cls._from_backend(rstd.reshape(-1, 1), dt, device))
        out._record(LAYER_NORM, inputs, {"n": n, "eps": eps}, saved)
    return out


# ---- conv2d ----

def _pair(v) -> tuple[int, int]:
    if isinstance(v, int):
        return (v, v)
    v = tuple(int(i) for i in v)
    if len(v) != 2:
        raise ValueError(f"expected an int or a pair, got {v}")
    return v


CONV2D_BACKWARD = register_op("conv2d_backward", doc="(grad_x, grad_w) of conv2d")


def _conv2d_bw(node, out, g):
    x, w, *rest = node.inputs
    device = x._storage.device
    gx, gw = CONV2D_BACKWARD.run(device, x, w, g, **node.attrs)
    gx = x._constructor._from_backend(gx, x.dtype, device) if x.requires_grad else None
    gw = w._constructor._from_backend(gw, w.dtype, device) if w.requires_grad else None
    if rest:
        gb = g.sum((0, 2, 3)) if rest[0].requires_grad else None
        return gx, gw, gb
    return gx, gw


CONV2D = register_op("conv2d", backward=_conv2d_bw, doc="NCHW 2-D convolution (CPU float32 stride 1: one GEMM per tap; else im2col + GEMM)")


def _check_conv(x_shape: tuple, weight: TensorBase, bias: TensorBase | None, stride,
                padding) -> None:
    if len(x_shape) != 4 or weight.ndim != 4:
        raise ValueError(f"conv2d expects 4-D input and weight, got {x_shape} and {weight.shape}")
    if x_shape[1] != weight.shape[1]:
        raise ValueError(f"conv2d: input has {x_shape[1]} channels, weight expects "
                         f"{weight.shape[1]}")
    if min(stride) < 1 or min(padding) < 0:
        raise ValueError("conv2d: stride must be >= 1 and padding >= 0")
    kh, kw = weight.shape[2:]
    if x_shape[2] + 2 * padding[0] < kh or x_shape[3] + 2 * padding[1] < kw:
        raise ValueError(f"conv2d: kernel {kh}x{kw} larger than padded input {x_shape[2:]}")
    if bias is not None and bias.shape != (weight.shape[0],):
        raise ValueError(f"conv2d: bias of shape {bias.shape}, expected ({weight.shape[0]},)")


def conv2d(x: TensorBase, weight: TensorBase, bias: TensorBase | None = None, stride=1,
           padding=0) -> TensorBase:
    """x (N, C, H, W) * weight (O, C, kh, kw) -> (N, O, oh, ow)."""
    stride, padding = _pair(stride), _pair(padding)
    _check_conv(x.shape, weight, bias, stride, padding)
    dt = x.dtype
    if dt.is_half or not dt.is_float or weight.dtype is not dt:
        cd = f32 if (dt.is_half or not dt.is_float) else dt
        out = conv2d(x.to(cd), weight.to(cd), None if bias is None else bias.to(cd), stride,
                     padding)
        return out.to(dt) if dt.is_half else out
    if bias is not None and bias.dtype is not dt:
        bias = bias.to(dt)
    inputs = (x, weight) if bias is None else (x, weight, bias)
    attrs = {"stride": stride, "padding": padding}
    device = x._storage.device
    out = x._constructor._from_backend(CONV2D.run(device, *inputs, **attrs), dt, device)
    if _mode.enabled and any(t.requires_grad for t in inputs):
        out._record(CONV2D, inputs, attrs)
    return out


CONV2D_FUSED = register_op(
    "conv2d_fused",
    doc="stride-1 conv2d over the channel concatenation of one or two inputs (the first "
        "optionally nearest-upsampled), + bias, optional ReLU, in one kernel (inference only)")


def conv2d_fused(inputs, weight: TensorBase, bias: TensorBase | None = None, padding=0,
                 relu: bool = False, upsample: int = 1) -> TensorBase:
    """relu(conv2d(cat([upsample_nearest2d(inputs[0], upsample), *inputs[1:]], dim=1),
    weight, bias, 1, padding)) for one or two inputs: a U-Net's decoder step (upsampled
    features joined to the skip) without the upsampled or joined copies, and its ReLU
    applied with the bias. Where gradients are recorded, or the dtypes differ, it is
    that composition, so the same model code trains."""
    inputs = tuple(inputs)
    if not 1 <= len(inputs) <= 2:
        raise ValueError(f"conv2d_fused takes one or two inputs, got {len(inputs)}")
    upsample = int(upsample)
    if upsample < 1:
        raise ValueError(f"conv2d_fused: upsample must be >= 1, got {upsample}")
    padding = _pair(padding)
    first = inputs[0]
    if any(t.ndim != 4 for t in inputs):
        raise ValueError(f"conv2d_fused expects 4-D inputs, got {[t.shape for t in inputs]}")
    size = (first.shape[2] * upsample, first.shape[3] * upsample)
    if len(inputs) == 2 and (inputs[1].shape[0] != first.shape[0]
                             or inputs[1].shape[2:] != size):
        raise ValueError(f"conv2d_fused: inputs {first.shape} (upsampled x{upsample}) and "
                         f"{inputs[1].shape} differ in batch or size")
    tensors = (*inputs, weight) if bias is None else (*inputs, weight, bias)
    dt = first.dtype
    if ((_mode.enabled and any(t.requires_grad for t in tensors))
            or any(t.dtype is not dt for t in tensors) or dt.is_half or not dt.is_float):
        up = first if upsample == 1 else upsample_nearest2d(first, upsample)
        x = up if len(inputs) == 1 else cat((up, inputs[1]), dim=1)
        out = conv2d(x, weight, bias, 1, padding)
        return out.relu() if relu else out
    joined = (first.shape[0], sum(t.shape[1] for t in inputs), *size)
    _check_conv(joined, weight, bias, (1, 1), padding)
    second = inputs[1] if len(inputs) == 2 else None
    device = first._storage.device
    arr = CONV2D_FUSED.run(device, first, second, weight, bias, padding=padding, relu=relu,
                           upsample=upsample)
    return first._constructor._from_backend(arr, dt, device)


# ---- fused attention (inference) ----

ATTENTION = register_op("attention",
                        doc="softmax(q k^T * scale + mask) v, fused (inference only)")


def attention(q: TensorBase, k: TensorBase, v: TensorBase, mask: TensorBase | None, scale: float,
              causal: bool) -> TensorBase:
    """Fused attention for inference: one buffer of scores, softmax in place."""
    device = q._storage.device
    arr = ATTENTION.run(device, q, k, v, mask, scale=scale, causal=causal)
    return q._constructor._from_backend(arr, q.dtype, device)
