"""Fused optimizer updates (one pass over each parameter, in place)."""

import numpy as np
from numba import njit, prange


@njit(inline="always")
def _sgd_one(p, g, buf, i, lr, momentum, weight_decay, use_buf):
    d = g[i] + weight_decay * p[i]
    if use_buf:
        buf[i] = momentum * buf[i] + d
        d = buf[i]
    p[i] -= lr * d


@njit(inline="always")
def _adamw_one(p, g, m, v, i, lr, beta1, beta2, eps, weight_decay, bias1, bias2):
    p[i] -= lr * weight_decay * p[i]  # decoupled weight decay
    m[i] = beta1 * m[i] + (1.0 - beta1) * g[i]
    v[i] = beta2 * v[i] + (1.0 - beta2) * g[i] * g[i]
    p[i] -= lr * (m[i] / bias1) / (np.sqrt(v[i] / bias2) + eps)


@njit(cache=True, parallel=True, error_model="numpy")
def sgd_update_parallel(p, g, buf, lr, momentum, weight_decay, use_buf):
    for i in prange(p.shape[0]):
        _sgd_one(p, g, buf, i, lr, momentum, weight_decay, use_buf)


@njit(cache=True, error_model="numpy")
def sgd_update_serial(p, g, buf, lr, momentum, weight_decay, use_buf):
    for i in range(p.shape[0]):
        _sgd_one(p, g, buf, i, lr, momentum, weight_decay, use_buf)


@njit(cache=True, parallel=True, error_model="numpy")
def adamw_update_parallel(p, g, m, v, lr, beta1, beta2, eps, weight_decay, bias1, bias2):
    for i in prange(p.shape[0]):
        _adamw_one(p, g, m, v, i, lr, beta1, beta2, eps, weight_decay, bias1, bias2)


@njit(cache=True, error_model="numpy")
def adamw_update_serial(p, g, m, v, lr, beta1, beta2, eps, weight_decay, bias1, bias2):
    for i in range(p.shape[0]):
        _adamw_one(p, g, m, v, i, lr, beta1, beta2, eps, weight_decay, bias1, bias2)
