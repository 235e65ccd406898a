"""Test helpers: finite-difference gradient checks and a switch to the parallel kernels."""

from __future__ import annotations

import contextlib

import numpy as np

import engine


def check_grad(fn, *arrays, eps: float = 1e-6, rtol: float = 1e-5, atol: float = 1e-6,
               seed: int = 0) -> None:
    """Compare autograd gradients of fn(*tensors) with central differences.

    Every input array becomes an f64 leaf that requires grad. The output is
    projected on fixed random weights so every element of the Jacobian counts.
    """
    arrays = [np.array(a, dtype=np.float64) for a in arrays]
    leaves = [engine.tensor(a, dtype=engine.f64, requires_grad=True) for a in arrays]
    out = fn(*leaves)
    weights = np.random.default_rng(seed).standard_normal(out.shape)
    loss = (out * engine.tensor(weights, dtype=engine.f64)).sum()
    loss.backward()

    def projected(values) -> float:
        with engine.no_grad():
            ts = [engine.tensor(v, dtype=engine.f64) for v in values]
            return float((fn(*ts).numpy().astype(np.float64) * weights).sum())

    for i, (leaf, a) in enumerate(zip(leaves, arrays)):
        numeric = np.zeros_like(a)
        for idx in np.ndindex(a.shape):
            plus = [x.copy() for x in arrays]
            minus = [x.copy() for x in arrays]
            plus[i][idx] += eps
            minus[i][idx] -= eps
            numeric[idx] = (projected(plus) - projected(minus)) / (2 * eps)
        assert leaf.grad is not None, f"input {i} got no gradient"
        assert leaf.grad.shape == a.shape
        np.testing.assert_allclose(leaf.grad.numpy(), numeric, rtol=rtol, atol=atol,
                                   err_msg=f"gradient of input {i}")


@contextlib.contextmanager
def parallel_kernels():
    """Route even tiny tensors through the parallel numba kernels (not numpy/serial)."""
    from engine.backend import cpu
    from engine.backend.cpu import attention, backward, elementwise, indexing, linalg, reduce
    from engine.backend.cpu import kernels as nn_ops
    modules = [cpu, attention, backward, elementwise, indexing, linalg, reduce, nn_ops]
    saved = [m.PARALLEL_MIN for m in modules]
    for m in modules:
        m.PARALLEL_MIN = 0
    try:
        yield
    finally:
        for m, v in zip(modules, saved):
            m.PARALLEL_MIN = v


@contextlib.contextmanager
def attention_blocks():
    """Send even tiny attentions down the per-(batch, head) block path of the encoder."""
    from engine.backend.cpu import attention
    saved = attention.BLOCKS_MIN_MACS
    attention.BLOCKS_MIN_MACS = 0
    try:
        yield
    finally:
        attention.BLOCKS_MIN_MACS = saved
