"""engine.functional (import as F): the building blocks models call, PyTorch names.

The inference paths are fused CPU kernels (GEMM + bias/GELU epilogue, row-parallel
softmax and layer_norm, attention with the softmax done in place on one scores
buffer). When a gradient is needed, the same results are built from
differentiable ops.
"""

from __future__ import annotations

import math

import numpy as np

from .autograd import _mode
from .backend import codes as _code
from .creation import from_numpy, rand
from .dtype import f32, u8
from .ops import elementwise as _ew
from .ops import grads as _grads
from .ops import indexing as _ix
from .ops import linalg as _la
from .ops import nn as _nn
from .ops import pool as _pool
from .tensor import Tensor

__all__ = [
    "conv2d",
    "conv2d_fused",
    "cross_entropy",
    "dropout",
    "embedding",
    "gelu",
    "layer_norm",
    "linear",
    "linear_gelu",
    "log_softmax",
    "max_pool2d",
    "mse_loss",
    "nll_loss",
    "pack_linear_weight",
    "relu",
    "scaled_dot_product_attention",
    "sigmoid",
    "softmax",
    "tanh",
    "upsample_nearest2d",
]

linear = _la.linear
linear_gelu = _la.linear_gelu
pack_linear_weight = _la.pack_linear_weight
layer_norm = _nn.layer_norm
conv2d = _nn.conv2d
conv2d_fused = _nn.conv2d_fused
embedding = _ix.embedding
max_pool2d = _pool.max_pool2d
upsample_nearest2d = _pool.upsample_nearest2d


def softmax(x: Tensor, dim: int = -1) -> Tensor:
    return _nn.softmax(x, dim)


def log_softmax(x: Tensor, dim: int = -1) -> Tensor:
    return _nn.log_softmax(x, dim)


def gelu(x: Tensor, approximate: str = "none") -> Tensor:
    return _ew.gelu(x, approximate)


def relu(x: Tensor) -> Tensor:
    return _ew.unary(_code.RELU, x)


def sigmoid(x: Tensor) -> Tensor:
    return _ew.unary(_code.SIGMOID, x)


def tanh(x: Tensor) -> Tensor:
    return _ew.unary(_code.TANH, x)


def _additive_mask(mask: Tensor, dtype) -> Tensor:
    """Bool/u8 masks (True = attend) become 0 / -inf; float masks are added as they are."""
    if mask.dtype is u8:
        return _ew.where(mask, 0.0, -math.inf).to(dtype)
    return mask if mask.dtype is dtype else mask.to(dtype)


def scaled_dot_product_attention(q: Tensor, k: Tensor, v: Tensor, attn_mask: Tensor | None = None,
                                 is_causal: bool = False, scale: float | None = None) -> Tensor:
    """softmax(q @ k^T * scale + mask) @ v for q (B, H, Tq, D), k/v (B, H, Tk, D).

    attn_mask: additive float mask broadcastable to (B, H, Tq, Tk), or a bool/u8 mask
    where nonzero means "may attend". is_causal hides keys after each query
    (aligned to the end, so it also works with a KV cache where Tq < Tk).
    """
    if q.ndim < 3 or k.ndim != q.ndim or v.ndim != q.ndim or q.ndim > 4:
        raise ValueError(f"attention expects 3-D or 4-D q/k/v of equal rank, got {q.shape}, "
                         f"{k.shape}, {v.shape}")
    if q.shape[-1] != k.shape[-1] or k.shape[-2] != v.shape[-2]:
        raise ValueError(f"attention: q {q.shape}, k {k.shape}, v {v.shape} do not fit together")
    if scale is None:
        scale = 1.0 / math.sqrt(q.shape[-1])
    dt = q.dtype
    mask = None if attn_mask is None else _additive_mask(attn_mask, f32 if dt.is_half else dt)
    needs_grad = _mode.enabled and any(t.requires_grad for t in (q, k, v, mask) if t is not None)
    if needs_grad or dt.is_half or dt is not k.dtype or dt is not v.dtype or not dt.is_float:
        return _attention_composite(q, k, v, mask, is_causal, scale)
    if mask is not None and mask.ndim > 4:
        raise ValueError(f"attention mask of shape {mask.shape} has more than 4 dims")
    return _nn.attention(q, k, v, mask, scale, is_causal)


def _attention_composite(q, k, v, mask, is_causal, scale):
    """The differentiable (and half-precision) form of attention: with float q/k/v of
    one dtype and a mask that needs no gradient, the probabilities are one fused op
    (its backward one fused kernel), else the chain of ops."""
    dt = q.dtype
    if (dt.is_float and not dt.is_half and k.dtype is dt and v.dtype is dt
            and (mask is None or (not mask.requires_grad and mask.ndim <= 4))):
        return _grads.attention_probs(q, k, mask, scale, is_causal) @ v
    if dt.is_half or not dt.is_float:
        q, k, v = q.to(f32), k.to(f32), v.to(f32)
    scores = (q @ k.mT) * scale
    if mask is not None:
        scores = scores + mask
    if is_causal:
        tq, tk = scores.shape[-2], scores.shape[-1]
        keep = from_numpy(np.tril(np.ones((tq, tk), np.uint8), k=tk - tq)).to(scores.device)
        scores = scores.masked_fill(keep == 0, -math.inf)
    out = softmax(scores, -1) @ v
    return out.to(dt) if dt.is_half else out


def dropout(x: Tensor, p: float = 0.5, training: bool = True, seed: int | None = None) -> Tensor:
    """Zero each element with probability p and scale the rest by 1/(1-p) (training only)."""
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"dropout probability must be in [0, 1], got {p}")
    if not training or p == 0.0:
        return x
    if p == 1.0:
        return x * 0.0
    keep = (rand(x.shape, seed=seed, device=x.device) >= p).to(x.dtype)
    return x * (keep * (1.0 / (1.0 - p)))


def nll_loss(logp: Tensor, target: Tensor, ignore_index: int = -100) -> Tensor:
    """Mean negative log-likelihood of target classes over the non-ignored entries."""
    c = logp.shape[-1]
    logp2 = logp.reshape(-1, c)
    t = target.reshape(-1).to(_ix.i64)
    valid = t != ignore_index
    safe = _ew.where(valid, t, 0)
    picked = logp2.gather(1, safe.unsqueeze(1)).squeeze(1)
    w = valid.to(logp.dtype)
    count = max(float(w.sum().item()), 1.0)
    return -(picked * w).sum() / count


def cross_entropy(logits: Tensor, target: Tensor, ignore_index: int = -100) -> Tensor:
    """Mean cross entropy: logits (..., C) against integer targets (...)."""
    if logits.shape[:-1] != target.shape:
        raise ValueError(f"cross_entropy: logits {logits.shape} do not match targets "
                         f"{target.shape} (expected logits = targets + (classes,))")
    return nll_loss(log_softmax(logits, -1), target, ignore_index)


def mse_loss(a: Tensor, b: Tensor) -> Tensor:
    d = a - b
    return (d * d).mean()
