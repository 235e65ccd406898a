"""Fused optimizer updates on the GPU: one pass over each parameter, in place."""

from __future__ import annotations

import math

from numba import cuda

from .elementwise import cast, copy
from .launch import blocks_for, config, flat, scalar_array


@cuda.jit
def _sgd_kernel(p, po, g, go, buf, bo, lr, momentum, weight_decay, use_buf, n):
    i = cuda.grid(1)
    step = cuda.gridsize(1)
    while i < n:
        d = g[go + i] + weight_decay * p[po + i]
        if use_buf:
            buf[bo + i] = momentum * buf[bo + i] + d
            d = buf[bo + i]
        p[po + i] -= lr * d
        i += step


@cuda.jit
def _adamw_kernel(p, po, g, go, m, mo, v, vo, lr, beta1, beta2, eps, weight_decay, bias1, bias2,
                  n):
    i = cuda.grid(1)
    step = cuda.gridsize(1)
    while i < n:
        gi = g[go + i]
        p[po + i] -= lr * weight_decay * p[po + i]  # decoupled weight decay
        m[mo + i] = beta1 * m[mo + i] + (1.0 - beta1) * gi
        v[vo + i] = beta2 * v[vo + i] + (1.0 - beta2) * gi * gi
        p[po + i] -= lr * (m[mo + i] / bias1) / (math.sqrt(v[vo + i] / bias2) + eps)
        i += step


def _flat(t, what: str):
    if not t.is_contiguous():
        raise ValueError(f"optimizer {what} must be a contiguous tensor")
    if t.dtype.is_half:
        raise TypeError(f"CUDA optimizer updates need f32/f64 {what}, got {t.dtype} "
                        f"(keep float32 master weights)")
    return t._storage.buf, t._layout.offset


def _grad(g, p):
    """The gradient as a contiguous buffer of the parameter's dtype."""
    if g.dtype is not p.dtype:
        return flat(cast(g, p.dtype)), 0
    if not g.is_contiguous():
        return flat(copy(g)), 0
    return g._storage.buf, g._layout.offset


def _launch(kernel, n, *args):
    if n:
        threads = config().threads
        kernel[blocks_for(n, threads), threads](*args, n)


def sgd_step(p, g, buf, lr, momentum, weight_decay):
    pb, po = _flat(p, "parameters")
    gb, go = _grad(g, p)
    if buf is not None:
        bb, bo = _flat(buf, "state")
    else:
        bb, bo = scalar_array(0, pb.dtype), 0
    _launch(_sgd_kernel, p.numel(), pb, po, gb, go, bb, bo, float(lr), float(momentum),
            float(weight_decay), buf is not None)


def adamw_step(p, g, m, v, lr, beta1, beta2, eps, weight_decay, bias1, bias2):
    pb, po = _flat(p, "parameters")
    gb, go = _grad(g, p)
    mb, mo = _flat(m, "state")
    vb, vo = _flat(v, "state")
    _launch(_adamw_kernel, p.numel(), pb, po, gb, go, mb, mo, vb, vo, float(lr), float(beta1),
            float(beta2), float(eps), float(weight_decay), float(bias1), float(bias2))

