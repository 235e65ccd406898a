"""Gradients of every op against central finite differences (f64), including
broadcast operands and strided (non-contiguous) inputs; graph mechanics."""

from __future__ import annotations

import threading

import numpy as np
import pytest

import engine
import engine.functional as F

from .gradcheck import check_grad, parallel_kernels

rng = np.random.default_rng(42)


def r(*shape, positive=False, away_from_zero=False):
    a = rng.standard_normal(shape)
    if positive:
        a = np.abs(a) + 0.5
    if away_from_zero:
        a = np.where(np.abs(a) < 0.2, 0.5, a)
    return a


# ---- elementwise, with broadcasting and strided inputs ----

@pytest.mark.parametrize("name, fn", [
    ("add", lambda a, b: a + b),
    ("sub", lambda a, b: a - b),
    ("mul", lambda a, b: a * b),
    ("div", lambda a, b: a / b),
    ("maximum", lambda a, b: engine.maximum(a, b)),
    ("minimum", lambda a, b: engine.minimum(a, b)),
])
def test_binary_grads_with_broadcast(name, fn) -> None:
    b = r(1, 4, away_from_zero=True) if name == "div" else r(1, 4)
    check_grad(fn, r(3, 4), b)  # (3,4) op (1,4)
    check_grad(fn, r(2, 1, 4), r(3, 1))  # both sides broadcast
    # strided: the left operand is a transposed view of a leaf
    check_grad(lambda a, b: fn(a.T, b), r(4, 3), b)


def test_pow_grads() -> None:
    check_grad(lambda a, b: a ** b, r(3, 2, positive=True), r(1, 2))
    check_grad(lambda a: a ** 3, r(5))
    check_grad(lambda a: 2.0 ** a, r(4))
    check_grad(lambda a: a.T ** 2.5, r(2, 3, positive=True))


@pytest.mark.parametrize("name, fn, kind", [
    ("neg", lambda x: -x, None),
    ("exp", lambda x: x.exp(), None),
    ("log", lambda x: x.log(), "positive"),
    ("sqrt", lambda x: x.sqrt(), "positive"),
    ("rsqrt", lambda x: x.rsqrt(), "positive"),
    ("tanh", lambda x: x.tanh(), None),
    ("relu", lambda x: x.relu(), "away"),
    ("gelu", lambda x: F.gelu(x), None),
    ("gelu_tanh", lambda x: F.gelu(x, approximate="tanh"), None),
    ("sigmoid", lambda x: x.sigmoid(), None),
    ("abs", lambda x: x.abs(), "away"),
    ("sin", lambda x: x.sin(), None),
    ("cos", lambda x: x.cos(), None),
    ("square", lambda x: x.square(), None),
    ("reciprocal", lambda x: x.reciprocal(), "positive"),
])
def test_unary_grads_contiguous_and_strided(name, fn, kind) -> None:
    a = r(3, 4, positive=kind == "positive", away_from_zero=kind == "away")
    check_grad(fn, a)
    check_grad(lambda x: fn(x.T[1:, ::2]), a)  # transposed, sliced, stepped view


def test_elementwise_grads_through_parallel_kernels() -> None:
    with parallel_kernels():
        check_grad(lambda a, b: F.gelu(a.T) * b, r(2, 5), r(5, 1))


def test_where_masked_fill_grads() -> None:
    cond = engine.tensor(rng.random((3, 4)) > 0.5)
    check_grad(lambda a, b: engine.where(cond, a, b), r(3, 4), r(4))
    check_grad(lambda a: engine.where(cond, a, 0.0), r(3, 4))
    mask = engine.tensor([[1, 0, 0, 1]], dtype=engine.u8)
    check_grad(lambda a: a.masked_fill(mask, -3.0) * 2, r(3, 4))


def test_cast_grads() -> None:
    # the f32 leg limits the accuracy of the finite differences
    check_grad(lambda a: a.to(engine.f32).exp().to(engine.f64), r(3), rtol=2e-3, atol=1e-4,
               eps=1e-2)
    # through bf16 the gradient is rounded to bf16 too (as in PyTorch): use exact values
    x = engine.tensor([0.3, -2.0], dtype=engine.f64, requires_grad=True)
    (x.to(engine.bf16).to(engine.f32) * engine.tensor([3.0, 0.5])).sum().backward()
    assert x.grad.dtype is engine.f64 and x.grad.tolist() == [3.0, 0.5]


# ---- reductions ----

@pytest.mark.parametrize("dim, keepdim", [(None, False), (0, False), (1, True), ((0, 2), False),
                                          ((2, 0), True), (-1, False)])
def test_reduction_grads(dim, keepdim) -> None:
    a = r(2, 3, 4)
    check_grad(lambda x: x.sum(dim, keepdim=keepdim), a)
    check_grad(lambda x: x.mean(dim, keepdim=keepdim), a)
    check_grad(lambda x: x.max(dim, keepdim=keepdim), a)
    check_grad(lambda x: x.min(dim, keepdim=keepdim), a)
    check_grad(lambda x: x.permute(2, 0, 1).sum(dim, keepdim=keepdim), a)


def test_max_ties_share_gradient() -> None:
    x = engine.tensor([[1.0, 3.0, 3.0]], requires_grad=True)
    x.max(1).sum().backward()
    assert x.grad.tolist() == [[0.0, 0.5, 0.5]]


# ---- nn ops ----

def test_softmax_log_softmax_grads() -> None:
    for dim in (-1, 0, 1):
        check_grad(lambda x, d=dim: x.softmax(d), r(3, 4))
        check_grad(lambda x, d=dim: x.log_softmax(d), r(3, 4))
    check_grad(lambda x: x.T.softmax(-1), r(3, 4))


def test_layer_norm_grads() -> None:
    check_grad(lambda x, w, b: F.layer_norm(x, (4,), w, b, 1e-5), r(2, 3, 4), r(4), r(4),
               rtol=1e-4, atol=1e-6)
    check_grad(lambda x: F.layer_norm(x, (3, 4), None, None, 1e-5), r(2, 3, 4), rtol=1e-4,
               atol=1e-6)
    check_grad(lambda x, w, b: F.layer_norm(x.transpose(1, 2), (3,), w, b), r(2, 3, 4), r(3),
               r(3), rtol=1e-4, atol=1e-6)


def test_matmul_grads() -> None:
    check_grad(lambda a, b: a @ b, r(3, 4), r(4, 2))
    check_grad(lambda a, b: a @ b, r(2, 3, 4), r(4, 5))  # batch broadcast of b
    check_grad(lambda a, b: a @ b, r(2, 1, 3, 4), r(3, 4, 2))  # both broadcast
    check_grad(lambda a, b: a @ b, r(4), r(4, 3))  # 1-D rules
    check_grad(lambda a, b: a @ b, r(2, 4), r(4))
    check_grad(lambda a, b: a @ b, r(4), r(4))
    check_grad(lambda a, b: a.T @ b.T, r(4, 3), r(2, 4))  # strided operands


def test_linear_grads() -> None:
    check_grad(lambda x, w, b: F.linear(x, w, b), r(2, 3, 4), r(5, 4), r(5))
    check_grad(lambda x, w: F.linear(x, w), r(3, 4), r(5, 4))
    check_grad(lambda x, w, b: F.linear_gelu(x, w, b), r(2, 3, 4), r(5, 4), r(5))
    check_grad(lambda x, w, b: F.linear_gelu(x.transpose(0, 1), w, b, approximate="tanh"),
               r(3, 2, 4), r(5, 4), r(5))


def test_conv2d_grads() -> None:
    check_grad(lambda x, w, b: F.conv2d(x, w, b, stride=1, padding=1), r(2, 2, 5, 5),
               r(3, 2, 3, 3), r(3), rtol=1e-4)
    check_grad(lambda x, w: F.conv2d(x, w, stride=(2, 1), padding=(0, 2)), r(1, 2, 6, 5),
               r(2, 2, 2, 3), rtol=1e-4)
    check_grad(lambda x, w: F.conv2d(x.transpose(2, 3), w, stride=2), r(1, 1, 6, 6),
               r(2, 1, 2, 2), rtol=1e-4)


def test_attention_grads() -> None:
    mask = engine.tensor(rng.standard_normal((1, 1, 1, 5)))
    check_grad(lambda q, k, v: F.scaled_dot_product_attention(q, k, v, attn_mask=mask),
               r(1, 2, 3, 4), r(1, 2, 5, 4), r(1, 2, 5, 4), rtol=1e-4)
    check_grad(lambda q, k, v: F.scaled_dot_product_attention(q, k, v, is_causal=True),
               r(1, 1, 4, 2), r(1, 1, 4, 2), r(1, 1, 4, 2), rtol=1e-4)


def test_indexing_grads() -> None:
    ids = engine.tensor([[1, 3, 1], [0, 0, 2]])
    check_grad(lambda w: F.embedding(ids, w), r(4, 3))
    check_grad(lambda x: x.index_select(1, engine.tensor([2, 0, 2])), r(2, 3, 2))
    gi = engine.tensor(rng.integers(0, 4, (3, 2)))
    check_grad(lambda x: x.gather(1, gi), r(3, 4))
    check_grad(lambda x: x.T.gather(0, engine.tensor([[0, 2, 1]])), r(3, 4))
    check_grad(lambda x: x.topk(2, dim=-1)[0], r(3, 5))
    check_grad(lambda x: x.topk(2, dim=0, largest=False)[0], r(4, 3))


def test_shape_op_grads() -> None:
    check_grad(lambda a, b: engine.cat([a, b.T], 1), r(3, 2), r(4, 3))
    check_grad(lambda a, b: engine.stack([a, b], 1), r(2, 3), r(2, 3))
    check_grad(lambda a: a.reshape(6, 2).T.reshape(3, 4), r(3, 4))
    check_grad(lambda a: a.permute(2, 0, 1).narrow(1, 1, 2), r(3, 2, 4))
    check_grad(lambda a: a[1:, None, ::2, -1], r(3, 5, 2))
    check_grad(lambda a: a.unsqueeze(0).squeeze(0).broadcast_to((2, 3, 4)) * 1.5, r(1, 4))
    check_grad(lambda a: a.split(2, dim=1)[1] * 3, r(2, 5))
    check_grad(lambda a: a[engine.tensor([2, 0, 2])], r(3, 2))
    check_grad(lambda a: a.T.contiguous() * a.T, r(2, 3))


def test_losses_grads() -> None:
    target = engine.tensor([2, 0, -100, 1])
    check_grad(lambda x: F.cross_entropy(x, target), r(4, 3))
    check_grad(lambda a, b: F.mse_loss(a, b), r(3), r(3))


# ---- custom op through the registry ----

def test_custom_op_registration_and_backward() -> None:
    from engine.ops.registry import apply_op, get_op, register_op, registered_ops

    def cube_cpu(x):
        a = x.np
        return a * a * a

    def cube_backward(node, out, grad):
        (x,) = node.inputs
        return (grad * 3.0 * x * x,)

    name = "test_cube"
    if name not in registered_ops():
        register_op(name, cpu=cube_cpu, backward=cube_backward, doc="x**3")
    with pytest.raises(ValueError, match="already registered"):
        register_op(name, cpu=cube_cpu)
    check_grad(lambda x: apply_op(name, x), r(2, 3))
    out = apply_op(name, engine.tensor([2.0]))
    assert out.tolist() == [8.0]
    with pytest.raises(NotImplementedError, match="'test_cube' has no cuda kernel"):
        get_op(name).kernel(engine.Device("cuda", 0))
    for builtin in ("add", "matmul", "softmax", "layer_norm", "conv2d", "embedding"
                    if "embedding" in registered_ops() else "index_select", "gather", "topk",
                    "cat", "where", "cast", "sum", "max", "attention", "linear_gelu"):
        assert get_op(builtin).cpu is not None


# ---- graph mechanics ----

def test_no_grad_detach_and_accumulation() -> None:
    x = engine.tensor([1.0, 2.0], requires_grad=True)
    with engine.no_grad():
        y = x * 2
        assert not engine.is_grad_enabled()
    assert engine.is_grad_enabled()
    assert not y.requires_grad and y._node is None
    z = (x * x).sum()
    z.backward()
    z2 = (x * x).sum()
    z2.backward()
    assert x.grad.tolist() == [4.0, 8.0]  # accumulated like PyTorch
    d = x.detach()
    assert not d.requires_grad and d.shares_storage(x)
    with pytest.raises(RuntimeError, match="does not require grad"):
        (d * 2).sum().backward()
    with pytest.raises(RuntimeError, match="scalar"):
        (x * 2).backward()
    (x * 2).backward(engine.tensor([1.0, 1.0]))
    assert x.grad.tolist() == [6.0, 10.0]
    with pytest.raises(TypeError, match="float"):
        engine.tensor([1, 2]).requires_grad_()


def test_no_grad_is_per_thread_and_a_decorator() -> None:
    seen = []

    @engine.no_grad()
    def inside():
        return engine.is_grad_enabled()

    def worker():
        seen.append(engine.is_grad_enabled())

    with engine.no_grad():
        t = threading.Thread(target=worker)
        t.start()
        t.join()
    assert seen == [True] and inside() is False and engine.is_grad_enabled()


def test_shared_subgraph_and_leaf_grad_is_private() -> None:
    x = engine.tensor([[1.0, 2.0], [3.0, 4.0]], requires_grad=True)
    b = engine.tensor([0.5, -1.0], requires_grad=True)
    h = x + b  # h used twice
    loss = (h * h).sum() + h.sum()
    loss.backward()
    expected = 2 * (x.numpy() + b.numpy()) + 1
    np.testing.assert_allclose(x.grad.numpy(), expected)
    np.testing.assert_allclose(b.grad.numpy(), expected.sum(0))
    assert x.grad.is_contiguous() and not x.grad.shares_storage(b.grad)
