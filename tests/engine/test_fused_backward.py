"""The fused backward kernels (softmax / log_softmax, layer_norm, gelu, attention's
probabilities) against PyTorch's gradients, serial and parallel, and the training
paths that use them."""

from __future__ import annotations

import contextlib

import numpy as np
import pytest
import torch

import engine
import engine.functional as F
from engine.ops.registry import get_op

from .gradcheck import parallel_kernels

RTOL, ATOL = 1e-4, 1e-5


def _modes():
    return [contextlib.nullcontext, parallel_kernels]


def _pair(a: np.ndarray):
    """The same values as an engine leaf and a torch leaf, both requiring grad."""
    return (engine.tensor(a, requires_grad=True),
            torch.tensor(a, dtype=torch.float32, requires_grad=True))


def _backward(ours, theirs, seed: int = 0) -> None:
    w = np.random.default_rng(seed).standard_normal(ours.shape).astype(np.float32)
    (ours * engine.tensor(w)).sum().backward()
    (theirs * torch.from_numpy(w)).sum().backward()


def _close(ours, theirs, what: str, atol: float = ATOL) -> None:
    np.testing.assert_allclose(ours.grad.numpy(), theirs.grad.numpy(), rtol=RTOL, atol=atol,
                               err_msg=what)


rng = np.random.default_rng(3)


@pytest.mark.parametrize("mode", _modes())
@pytest.mark.parametrize("shape,dim", [((3, 7), -1), ((2, 5, 9), 1), ((64, 4096), -1)])
@pytest.mark.parametrize("log", [False, True])
def test_softmax_grads_match_torch(mode, shape, dim, log) -> None:
    a = (rng.standard_normal(shape) * 3).astype(np.float32)
    x, tx = _pair(a)
    with mode():
        y = F.log_softmax(x, dim) if log else F.softmax(x, dim)
        ty = torch.log_softmax(tx, dim) if log else torch.softmax(tx, dim)
        _backward(y, ty)
    _close(x, tx, f"{'log_' if log else ''}softmax {shape} dim {dim}")


def test_softmax_grad_with_masked_entries() -> None:
    a = rng.standard_normal((4, 6)).astype(np.float32)
    a[:, 2] = -np.inf
    x, tx = _pair(a)
    _backward(F.softmax(x, -1), torch.softmax(tx, -1))
    assert np.isfinite(x.grad.numpy()).all()
    _close(x, tx, "masked softmax")


@pytest.mark.parametrize("mode", _modes())
@pytest.mark.parametrize("shape,norm,affine", [
    ((4, 6, 16), (16,), "both"), ((3, 2, 5), (2, 5), "both"), ((600, 512), (512,), "both"),
    ((5, 8), (8,), "none"), ((5, 8), (8,), "weight"),
])
def test_layer_norm_grads_match_torch(mode, shape, norm, affine) -> None:
    x, tx = _pair(rng.standard_normal(shape).astype(np.float32) * 2 + 0.5)
    w = b = tw = tb = None
    if affine in ("both", "weight"):
        w, tw = _pair(rng.standard_normal(norm).astype(np.float32))
    if affine == "both":
        b, tb = _pair(rng.standard_normal(norm).astype(np.float32))
    with mode():
        y = F.layer_norm(x, norm, w, b, 1e-5)
        _backward(y, torch.nn.functional.layer_norm(tx, norm, tw, tb, 1e-5))
    _close(x, tx, "layer_norm x")
    for ours, theirs, name in ((w, tw, "weight"), (b, tb, "bias")):
        if ours is not None:
            _close(ours, theirs, f"layer_norm {name}")


def test_layer_norm_frozen_input_still_gives_weight_grads() -> None:
    x = engine.tensor(rng.standard_normal((6, 8)).astype(np.float32))  # no grad
    w, tw = _pair(rng.standard_normal(8).astype(np.float32))
    b, tb = _pair(rng.standard_normal(8).astype(np.float32))
    _backward(F.layer_norm(x, (8,), w, b),
              torch.nn.functional.layer_norm(torch.from_numpy(x.numpy()), (8,), tw, tb))
    _close(w, tw, "weight")
    _close(b, tb, "bias")


@pytest.mark.parametrize("mode", _modes())
@pytest.mark.parametrize("approximate", ["none", "tanh"])
@pytest.mark.parametrize("n", [37, 300_000])
def test_gelu_grads_match_torch(mode, approximate, n) -> None:
    x, tx = _pair((rng.standard_normal(n) * 3).astype(np.float32))
    with mode():
        _backward(F.gelu(x, approximate), torch.nn.functional.gelu(tx, approximate=approximate))
    _close(x, tx, f"gelu {approximate}")


@pytest.mark.parametrize("approximate", ["none", "tanh"])
def test_linear_gelu_keeps_its_pre_activation_and_matches_torch(approximate) -> None:
    x, tx = _pair(rng.standard_normal((2, 5, 8)).astype(np.float32))
    w, tw = _pair(rng.standard_normal((12, 8)).astype(np.float32) * 0.3)
    b, tb = _pair(rng.standard_normal(12).astype(np.float32))
    y = F.linear_gelu(x, w, b, approximate)
    assert y._node.saved is not None  # backward needs no second GEMM
    _backward(y, torch.nn.functional.gelu(torch.nn.functional.linear(tx, tw, tb),
                                          approximate=approximate))
    for ours, theirs, name in ((x, tx, "x"), (w, tw, "w"), (b, tb, "b")):
        _close(ours, theirs, f"linear_gelu {name}")


ATTENTION_CASES = {
    "encoder": dict(q=(2, 3, 7, 8), k=(2, 3, 7, 8), v=(2, 3, 7, 8)),
    "cross": dict(q=(2, 2, 5, 4), k=(2, 2, 9, 4), v=(2, 2, 9, 6)),
    "causal": dict(q=(2, 2, 6, 4), k=(2, 2, 6, 4), v=(2, 2, 6, 4), causal=True),
    "causal-longer-keys": dict(q=(1, 2, 3, 4), k=(1, 2, 5, 4), v=(1, 2, 5, 4), causal=True),
    "float-mask": dict(q=(2, 1, 4, 4), k=(2, 1, 4, 4), v=(2, 1, 4, 4), mask="float"),
    "bool-mask-3d": dict(q=(3, 4, 2), k=(3, 4, 2), v=(3, 4, 2), mask="bool"),
    "big": dict(q=(8, 4, 49, 64), k=(8, 4, 49, 64), v=(8, 4, 49, 64)),
}


@pytest.mark.parametrize("mode", _modes())
@pytest.mark.parametrize("name", list(ATTENTION_CASES))
def test_attention_grads_match_torch(mode, name) -> None:
    c = ATTENTION_CASES[name]
    leaves = [_pair(rng.standard_normal(c[k]).astype(np.float32)) for k in ("q", "k", "v")]
    (q, tq), (k, tk), (v, tv) = leaves
    mask = tmask = None
    tq_len, tk_len = c["q"][-2], c["k"][-2]
    if c.get("mask") == "float":
        m = rng.standard_normal((tq_len, tk_len)).astype(np.float32)
        mask, tmask = engine.tensor(m), torch.from_numpy(m)
    elif c.get("mask") == "bool":
        m = (rng.integers(0, 2, (tq_len, tk_len)) | np.eye(tq_len, tk_len, dtype=np.int64))
        mask, tmask = engine.tensor(m.astype(np.uint8)), torch.from_numpy(m.astype(bool))
    causal = c.get("causal", False)
    with mode():
        out = F.scaled_dot_product_attention(q, k, v, attn_mask=mask, is_causal=causal, scale=0.4)
        probs = out._node.inputs[0]
        assert probs._node.op is get_op("attention_probs")  # the fused op, not the chain
        if causal and tq_len != tk_len:  # torch aligns is_causal to the start: a mask instead
            tmask = torch.from_numpy(np.tril(np.ones((tq_len, tk_len), bool), k=tk_len - tq_len))
            causal = False
        ref = torch.nn.functional.scaled_dot_product_attention(tq, tk, tv, attn_mask=tmask,
                                                                is_causal=causal, scale=0.4)
        np.testing.assert_allclose(out.numpy(), ref.detach().numpy(), rtol=RTOL, atol=ATOL)
        _backward(out, ref)
    for (ours, theirs), what in zip(leaves, "qkv"):  # (float32 sums over 49 keys x 64 dims)
        _close(ours, theirs, f"attention {name} d{what}", 5e-5 if name == "big" else ATOL)


def test_a_mask_that_needs_a_gradient_takes_the_composite_path() -> None:
    q = engine.tensor(rng.standard_normal((1, 1, 3, 4)).astype(np.float32), requires_grad=True)
    m = engine.tensor(rng.standard_normal((3, 3)).astype(np.float32), requires_grad=True)
    out = F.scaled_dot_product_attention(q, q, q, attn_mask=m)
    out.sum().backward()
    assert m.grad is not None and m.grad.shape == (3, 3)


def test_leaves_never_share_a_gradient_storage() -> None:
    """Backward hands a fresh gradient to its leaf without a copy, but never one storage
    to two leaves (add passes the same gradient to both inputs) nor the caller's own."""
    a = engine.tensor(np.ones((2, 3), np.float32), requires_grad=True)
    b = engine.tensor(np.ones((2, 3), np.float32), requires_grad=True)
    ((a + b) * 2.0).sum().backward()  # mul's gradient: one fresh tensor, passed to both
    a.grad[...] = 5.0
    np.testing.assert_array_equal(b.grad.numpy(), np.full((2, 3), 2.0))
    c = engine.tensor(np.ones((2, 3), np.float32), requires_grad=True)
    seed = engine.tensor(np.full((2, 3), 2.0, np.float32))
    (c * 1.0).reshape(2, 3).backward(seed)
    seed[...] = 0.0
    np.testing.assert_array_equal(c.grad.numpy(), np.full((2, 3), 2.0))
