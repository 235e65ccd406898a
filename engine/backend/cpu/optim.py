"""Fused optimizer updates (one pass over each parameter, in place)."""

import numpy as np
from numba import njit, prange


@njit(cache=True, parallel=True, error_model="numpy")
def sgd_update(p, g, buf, lr, momentum, weight_decay, use_buf):
    for i in prange(p.shape[0]):
        d = g[i] + weight_decay * p[i]
        if use_buf:
            buf[i] = momentum * buf[i] + d
            d = buf[i]
        p[i] -= lr * d


@njit(cache=True, parallel=True, error_model="numpy")
def adamw_update(p, g, m, v, lr, beta1, beta2, eps, weight_decay, bias1, bias2):
    for i in prange(p.shape[0]):
        p[i] -= lr * weight_decay * p[i]  # decoupled weight decay
        m[i] = beta1 * m[i] + (1.0 - beta1) * g[i]
        v[i] = beta2 * v[i] + (1.0 - beta2) * g[i] * g[i]
        p[i] -= lr * (m[i] / bias1) / (np.sqrt(v[i] / bias2) + eps)
