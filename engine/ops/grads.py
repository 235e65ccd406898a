"""Fused backward ops: the gradients of softmax / log_softmax, layer_norm and GELU as
one kernel each (CPU: engine.backend.cpu.backward, CUDA: engine.backend.cuda.backward),
and attention's probabilities as a differentiable op of their own, so training runs
attention as probs -> matmul instead of a chain of five ops and their backward rules.

These are what the backward rules of softmax, log_softmax, layer_norm, gelu and
linear_gelu call; like every op they are registry entries with a kernel per device.
"""

from __future__ import annotations

from ..autograd import _mode
from ..tensor_base import TensorBase
from .registry import register_op

__all__ = ["attention_probs", "gelu_backward", "layer_norm_backward", "softmax_backward"]

SOFTMAX_BACKWARD = register_op(
    "softmax_backward", doc="grad of (log_)softmax over the last dim from its output, scaled")
LAYER_NORM_BACKWARD = register_op(
    "layer_norm_backward", doc="(grad_x, grad_w, grad_b) of layer_norm from the saved mean/rstd")
GELU_BACKWARD = register_op("gelu_backward", doc="g * gelu'(x) (erf or tanh form)")


def _wrap(like: TensorBase, arr, dtype=None):
    device = like._storage.device
    return like._constructor._from_backend(arr, like.dtype if dtype is None else dtype, device)


def _fit(g: TensorBase, like: TensorBase) -> TensorBase:
    if g.dtype is not like.dtype:
        g = g.to(like.dtype)
    return g if g.shape == like.shape else g.broadcast_to(like.shape)


def softmax_backward(y: TensorBase, g: TensorBase, scale: float = 1.0,
                     log: bool = False) -> TensorBase:
    """scale * d(softmax)/dx . g over the last dim, from the output y (log: of log_softmax)."""
    g = _fit(g, y)
    return _wrap(y, SOFTMAX_BACKWARD.run(y._storage.device, y, g, scale=float(scale), log=log))


def layer_norm_backward(x: TensorBase, g: TensorBase, w: TensorBase | None, mean: TensorBase,
                        rstd: TensorBase, n: int, need_dx: bool = True):
    """(grad_x or None, grad_w, grad_b) of layer_norm over the trailing n elements; the
    last two are the (n,) column sums whether or not the norm is affine."""
    g = _fit(g, x)
    if w is not None and w.dtype is not x.dtype:
        w = w.to(x.dtype)
    dx, dw, db = LAYER_NORM_BACKWARD.run(x._storage.device, x, g, w, mean, rstd, n=n,
                                         need_dx=need_dx)
    return (_wrap(x, dx) if dx is not None else None), _wrap(x, dw), _wrap(x, db)


def gelu_backward(x: TensorBase, g: TensorBase, approximate: str = "none") -> TensorBase:
    g = _fit(g, x)
    return _wrap(x, GELU_BACKWARD.run(x._storage.device, x, g, approximate=approximate))


# ---- attention probabilities: softmax(q k^T * scale + mask), causal limit ----

def _attention_probs_bw(node, p, g):
    q, k = node.inputs[0], node.inputs[1]
    ds = softmax_backward(p, g, node.attrs["scale"])  # d(scores before scaling)
    gq = ds @ k if q.requires_grad else None
    gk = ds.mT @ q if k.requires_grad else None
    return (gq, gk) if len(node.inputs) == 2 else (gq, gk, None)


ATTENTION_PROBS = register_op("attention_probs", backward=_attention_probs_bw,
                              doc="softmax(q k^T * scale + mask), causal or not (training)")


def attention_probs(q: TensorBase, k: TensorBase, mask: TensorBase | None, scale: float,
                    causal: bool) -> TensorBase:
    """Attention's probabilities (..., Tq, Tk), recorded for backward (q and k; a mask
    gets no gradient: callers needing one use the composite form)."""
    device = q._storage.device
    arr = ATTENTION_PROBS.run(device, q, k, mask, scale=float(scale), causal=bool(causal))
    out = _wrap(q, arr)
    if _mode.enabled and (q.requires_grad or k.requires_grad):
        inputs = (q, k) if mask is None else (q, k, mask)
        out._record(ATTENTION_PROBS, inputs, {"scale": float(scale), "causal": bool(causal)})
    return out
