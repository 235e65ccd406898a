"""Spatial ops of convolutional nets: max_pool2d (no padding, floor, as torch's default)
and nearest upsampling by integer factors, with backward rules. The argmax max_pool2d
took is saved on the node for its backward (the gradient goes to the first maximum of
each window, as in torch)."""

from __future__ import annotations

from ..autograd import _mode
from ..dtype import f32, i64
from ..tensor_base import TensorBase
from .registry import register_op

__all__ = ["max_pool2d", "upsample_nearest2d"]


def _pair(v, name: str) -> tuple[int, int]:
    if isinstance(v, int):
        v = (v, v)
    v = tuple(int(a) for a in v)
    if len(v) != 2 or min(v) < 1:
        raise ValueError(f"{name} must be a positive int or pair, got {v}")
    return v


def _float_input(x: TensorBase, name: str) -> tuple[TensorBase, object]:
    if x.ndim != 4:
        raise ValueError(f"{name} expects a 4-D (N, C, H, W) input, got shape {x.shape}")
    dt = x.dtype
    if dt.is_half or not dt.is_float:
        return x.to(f32), dt
    return x, dt


# ---- max_pool2d ----

MAX_POOL2D_BACKWARD = register_op("max_pool2d_backward",
                                  doc="grad of max_pool2d from the saved argmax")


def _max_pool2d_bw(node, out, g):
    (x,) = node.inputs
    device = x._storage.device
    gx = MAX_POOL2D_BACKWARD.run(device, g, node.saved, in_shape=x.shape, **node.attrs)
    return (x._constructor._from_backend(gx, g.dtype, device),)


MAX_POOL2D = register_op("max_pool2d", backward=_max_pool2d_bw,
                         doc="NCHW max pooling, no padding; returns the output and the argmax "
                             "(None where argmax=False: nothing records a backward)")


def max_pool2d(x: TensorBase, kernel_size=2, stride=None) -> TensorBase:
    """x (N, C, H, W) -> (N, C, (H - kh) // sh + 1, (W - kw) // sw + 1)."""
    kernel = _pair(kernel_size, "max_pool2d kernel_size")
    stride = kernel if stride is None else _pair(stride, "max_pool2d stride")
    xf, dt = _float_input(x, "max_pool2d")
    if xf.shape[2] < kernel[0] or xf.shape[3] < kernel[1]:
        raise ValueError(f"max_pool2d: kernel {kernel} larger than the input {x.shape[2:]}")
    device = xf._storage.device
    attrs = {"kernel": kernel, "stride": stride}
    record = _mode.enabled and xf.requires_grad
    arr, idx = MAX_POOL2D.run(device, xf, argmax=record, **attrs)  # the argmax only to record
    out = xf._constructor._from_backend(arr, xf.dtype, device)
    if record:
        out._record(MAX_POOL2D, (xf,), attrs, xf._constructor._from_backend(idx, i64, device))
    return out.to(dt) if dt.is_half else out


# ---- upsample_nearest2d ----

UPSAMPLE_BACKWARD = register_op("upsample_nearest2d_backward",
                                doc="grad of upsample_nearest2d: each block summed")


def _upsample_bw(node, out, g):
    (x,) = node.inputs
    device = x._storage.device
    gx = UPSAMPLE_BACKWARD.run(device, g, **node.attrs)
    return (x._constructor._from_backend(gx, g.dtype, device),)


UPSAMPLE = register_op("upsample_nearest2d", backward=_upsample_bw,
                       doc="NCHW nearest-neighbour upsampling by integer factors")


def upsample_nearest2d(x: TensorBase, scale_factor=2) -> TensorBase:
    """x (N, C, H, W) -> (N, C, H * sh, W * sw); torch's F.interpolate(mode="nearest")
    with an integer scale_factor."""
    scale = _pair(scale_factor, "upsample_nearest2d scale_factor")
    xf, dt = _float_input(x, "upsample_nearest2d")
    device = xf._storage.device
    attrs = {"scale": scale}
    out = xf._constructor._from_backend(UPSAMPLE.run(device, xf, **attrs), xf.dtype, device)
    if _mode.enabled and xf.requires_grad:
        out._record(UPSAMPLE, (xf,), attrs)
    return out.to(dt) if dt.is_half else out
