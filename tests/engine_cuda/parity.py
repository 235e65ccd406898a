"""Run the same engine code on the CPU and on CUDA and compare values and gradients."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

import engine

CUDA = engine.Device("cuda", 0)
CPU = engine.Device("cpu")


@dataclass
class Case:
    """fn(*inputs) evaluated on both devices.

    `arrays` become leaf tensors (float ones require grad when `grad`), `prep[i]`
    turns leaf i into the tensor fn receives (a transposed or broadcast view, say),
    and `dtypes[i]` overrides the dtype inferred from the array.
    """
    name: str
    fn: Callable
    arrays: list
    grad: bool = True
    prep: list | None = None
    dtypes: list | None = None
    rtol: float = 1e-5
    atol: float = 1e-5
    marks: list = field(default_factory=list)


def _leaves(case: Case, device):
    leaves = []
    for i, a in enumerate(case.arrays):
        dt = case.dtypes[i] if case.dtypes and case.dtypes[i] is not None else None
        t = engine.tensor(a, dtype=dt, device=device)
        if case.grad and t.dtype.is_float:
            t.requires_grad_(True)
        leaves.append(t)
    return leaves


def evaluate(case: Case, device, seed: int = 0):
    """(outputs as numpy, output dtypes, output devices, input grads as numpy or None)."""
    leaves = _leaves(case, device)
    inputs = [p(t) if p else t for t, p in zip(leaves, case.prep or [None] * len(leaves))]
    out = case.fn(*inputs)
    outs = list(out) if isinstance(out, (tuple, list)) else [out]
    grads = None
    if case.grad:
        rng = np.random.default_rng(seed)
        loss = None
        for o in outs:
            if not o.requires_grad:
                continue
            w = engine.tensor(rng.standard_normal(o.shape), dtype=o.dtype, device=device)
            term = (o * w).sum().to(engine.f64)
            loss = term if loss is None else loss + term
        if loss is not None:  # comparisons and index outputs carry no gradient
            loss.backward()
            grads = [None if t.grad is None else t.grad.numpy() for t in leaves]
        else:
            grads = [None] * len(leaves)
    return ([o.numpy() for o in outs], [o.dtype for o in outs], [o.device for o in outs], grads)


def compare(case: Case) -> None:
    cpu_out, cpu_dt, _, cpu_g = evaluate(case, CPU)
    cuda_out, cuda_dt, cuda_dev, cuda_g = evaluate(case, CUDA)
    assert cuda_dt == cpu_dt, f"{case.name}: dtypes {cuda_dt} on cuda, {cpu_dt} on cpu"
    assert all(d == CUDA for d in cuda_dev), f"{case.name}: outputs left the GPU: {cuda_dev}"
    for i, (a, b, dt) in enumerate(zip(cuda_out, cpu_out, cpu_dt)):
        assert a.shape == b.shape, f"{case.name}: output {i} shape {a.shape} vs {b.shape}"
        if dt.is_float:
            tol = max(case.rtol, 2e-3) if dt.is_half else case.rtol
            np.testing.assert_allclose(a.astype(np.float64), b.astype(np.float64), rtol=tol,
                                       atol=max(case.atol, tol), equal_nan=True,
                                       err_msg=f"{case.name}: output {i}")
        else:
            np.testing.assert_array_equal(a, b, err_msg=f"{case.name}: output {i}")
    if case.grad:
        for i, (a, b) in enumerate(zip(cuda_g, cpu_g)):
            assert (a is None) == (b is None), f"{case.name}: grad {i} present on one device only"
            if a is not None:
                np.testing.assert_allclose(a.astype(np.float64), b.astype(np.float64),
                                           rtol=case.rtol * 10, atol=case.atol * 10,
                                           equal_nan=True, err_msg=f"{case.name}: grad of input {i}")
