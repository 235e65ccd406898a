"""Elementwise ops against numpy: random broadcast shapes, strided inputs, both the
numpy fast path for small tensors and the parallel numba kernels."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import engine
import engine.functional as F
from engine.backend.cpu import elementwise as cpu_ew

from .gradcheck import parallel_kernels

SETTINGS = settings(max_examples=25, deadline=None)

_erf = np.vectorize(math.erf)

BINARY = {
    "add": (lambda a, b: a + b, np.add),
    "sub": (lambda a, b: a - b, np.subtract),
    "mul": (lambda a, b: a * b, np.multiply),
    "div": (lambda a, b: a / b, np.divide),
    "pow": (lambda a, b: a ** b, np.power),
    "maximum": (engine.maximum, np.maximum),
    "minimum": (engine.minimum, np.minimum),
    "lt": (lambda a, b: a < b, np.less),
    "ge": (lambda a, b: a >= b, np.greater_equal),
    "eq": (lambda a, b: a == b, np.equal),
}

UNARY = {
    "neg": (lambda t: -t, np.negative),
    "exp": (lambda t: t.exp(), np.exp),
    "log": (lambda t: t.log(), np.log),
    "sqrt": (lambda t: t.sqrt(), np.sqrt),
    "rsqrt": (lambda t: t.rsqrt(), lambda a: 1 / np.sqrt(a)),
    "tanh": (lambda t: t.tanh(), np.tanh),
    "relu": (lambda t: t.relu(), lambda a: np.maximum(a, 0)),
    "sigmoid": (lambda t: t.sigmoid(), lambda a: 1 / (1 + np.exp(-a))),
    "abs": (lambda t: t.abs(), np.abs),
    "gelu": (lambda t: F.gelu(t), lambda a: 0.5 * a * (1 + _erf(a / math.sqrt(2)))),
    "gelu_tanh": (lambda t: F.gelu(t, approximate="tanh"),
                  lambda a: 0.5 * a * (1 + np.tanh(math.sqrt(2 / math.pi) * (a + 0.044715 * a ** 3)))),
    "sin": (lambda t: t.sin(), np.sin),
    "square": (lambda t: t.square(), np.square),
}


@st.composite
def broadcast_pair(draw):
    """Two shapes that broadcast, plus whether each operand is made non-contiguous."""
    nd = draw(st.integers(1, 4))
    out = [draw(st.integers(1, 6)) for _ in range(nd)]
    a = [n if draw(st.booleans()) else 1 for n in out]
    b = [n if draw(st.booleans()) else 1 for n in out]
    b = b[draw(st.integers(0, nd - 1)):]  # drop leading dims
    return tuple(a), tuple(b), draw(st.booleans()), draw(st.booleans())


def make(shape, transposed: bool, rng, positive=False, dtype=np.float32):
    """A numpy array and an engine tensor of it; transposed=True gives a strided view."""
    a = rng.standard_normal(shape).astype(dtype)
    if positive:
        a = np.abs(a) + 0.5
    if transposed and len(shape) >= 2:
        base = np.ascontiguousarray(np.swapaxes(a, -1, -2))
        t = engine.from_numpy(base).transpose(-1, -2)
        assert not t.is_contiguous() or 1 in shape[-2:]
        return a, t
    return a, engine.from_numpy(a.copy())


def check_binary(name, sa, sb, ta, tb, seed, dtype=np.float32):
    rng = np.random.default_rng(seed)
    op, ref = BINARY[name]
    a, ea = make(sa, ta, rng, positive=name == "pow", dtype=dtype)
    b, eb = make(sb, tb, rng, dtype=dtype)
    if name == "div":
        b = np.where(np.abs(b) < 0.1, 1.0, b).astype(dtype)
        eb = engine.from_numpy(b)
    out = op(ea, eb)
    expected = ref(a, b)
    assert out.shape == expected.shape
    if expected.dtype == bool:
        assert out.dtype is engine.u8
        np.testing.assert_array_equal(out.numpy(), expected.astype(np.uint8))
    else:
        np.testing.assert_allclose(out.numpy(), expected, rtol=2e-6, atol=1e-6)


@SETTINGS
@given(name=st.sampled_from(sorted(BINARY)), shapes=broadcast_pair(), seed=st.integers(0, 99))
def test_binary_broadcasting_small(name, shapes, seed) -> None:
    check_binary(name, *shapes, seed)


@SETTINGS
@given(name=st.sampled_from(sorted(BINARY)), shapes=broadcast_pair(), seed=st.integers(0, 99))
def test_binary_broadcasting_parallel_kernels(name, shapes, seed) -> None:
    with parallel_kernels():
        check_binary(name, *shapes, seed)


@settings(max_examples=10, deadline=None)
@given(shapes=broadcast_pair(), seed=st.integers(0, 99))
def test_binary_parallel_kernels_f64(shapes, seed) -> None:
    with parallel_kernels():
        check_binary("mul", *shapes, seed, dtype=np.float64)
        check_binary("sub", *shapes, seed, dtype=np.float64)


def test_large_strided_and_broadcast_tensors_use_the_kernels_directly() -> None:
    rng = np.random.default_rng(0)
    x = rng.standard_normal((32, 63, 12, 32)).astype(np.float32)
    y = rng.standard_normal((32, 1, 1, 32)).astype(np.float32)
    ex, ey = engine.from_numpy(x), engine.from_numpy(y)
    # The plan keeps the broadcast operand's own buffer with stride 0: nothing materialised.
    args, shape4, _ = cpu_ew._plan((32, 63, 12, 32), (ex.np, ey.np))  # kernels take arrays
    assert shape4.tolist() == [1, 32, 63 * 12, 32]
    assert np.shares_memory(args[3], ey.storage.buf) and args[3].size == ey.numel()
    assert args[5].tolist() == [0, 32, 0, 1]
    np.testing.assert_array_equal((ex + ey).numpy(), x + y)
    # a transposed (strided) operand of a large op
    xt = ex.transpose(1, 2)
    np.testing.assert_array_equal((xt * 2.0).numpy(), np.swapaxes(x, 1, 2) * 2)
    np.testing.assert_array_equal(xt.contiguous().numpy(), np.swapaxes(x, 1, 2))
    c = (ex > 0)
    np.testing.assert_array_equal(engine.where(c, ex, ey).numpy(), np.where(x > 0, x, y))


def test_scalars_reversed_ops_and_integer_tensors() -> None:
    a = np.array([[1.0, -2.0], [3.0, 4.0]], np.float32)
    t = engine.tensor(a)
    np.testing.assert_allclose((2 - t).numpy(), 2 - a)
    np.testing.assert_allclose((1 / t).numpy(), 1 / a)
    np.testing.assert_allclose((2 ** t).numpy(), 2 ** a)
    np.testing.assert_allclose((t ** 2).numpy(), a ** 2)
    np.testing.assert_allclose((-t + np.float32(1.5)).numpy(), -a + 1.5)
    np.testing.assert_allclose(t.clamp(-1, 2).numpy(), np.clip(a, -1, 2))
    i = engine.tensor([1, 2, 3])
    assert (i + 1).dtype is engine.i64 and (i + 1).tolist() == [2, 3, 4]
    assert (i * 0.5).dtype is engine.f32 and (i * 0.5).tolist() == [0.5, 1.0, 1.5]
    assert (i / 2).dtype is engine.f32 and (i / 2).tolist() == [0.5, 1.0, 1.5]
    assert (-i).tolist() == [-1, -2, -3] and (i > 1).tolist() == [0, 1, 1]
    with pytest.raises(ValueError, match="cannot be broadcast"):
        engine.ones(2, 3) + engine.ones(4)


@SETTINGS
@given(name=st.sampled_from(sorted(UNARY)), shape=st.lists(st.integers(1, 6), min_size=1,
                                                          max_size=3).map(tuple),
       transposed=st.booleans(), parallel=st.booleans(), seed=st.integers(0, 99))
def test_unary_ops_match_numpy(name, shape, transposed, parallel, seed) -> None:
    rng = np.random.default_rng(seed)
    op, ref = UNARY[name]
    positive = name in ("log", "sqrt", "rsqrt")
    a, t = make(shape, transposed, rng, positive=positive)
    a64 = a.astype(np.float64)
    if parallel:
        with parallel_kernels():
            out = op(t)
    else:
        out = op(t)
    assert out.dtype is engine.f32 and out.shape == a.shape
    np.testing.assert_allclose(out.numpy(), ref(a64), rtol=3e-6, atol=2e-6)


@pytest.mark.parametrize("name", ["exp", "tanh", "gelu", "gelu_tanh", "sigmoid"])
def test_fast_float32_math_on_a_wide_range(name) -> None:
    """The vectorised float32 exp/erf/tanh stay within a few ulp over the whole range."""
    x = np.concatenate([np.linspace(-100, 100, 200001), [-np.inf, np.inf]]).astype(np.float32)
    op, ref = UNARY[name]
    with parallel_kernels():
        out = op(engine.from_numpy(x)).numpy()
    with np.errstate(over="ignore", invalid="ignore"):  # float32 overflows where float64 does not
        expected = ref(x.astype(np.float64)).astype(np.float32)
    np.testing.assert_allclose(out, expected, rtol=2e-6, atol=1e-6 if name != "exp" else 1e-38)
    nan = op(engine.tensor([np.nan])).numpy()
    assert np.isnan(nan).all()


def test_where_and_masked_fill() -> None:
    rng = np.random.default_rng(1)
    a = rng.standard_normal((3, 4)).astype(np.float32)
    b = rng.standard_normal((4,)).astype(np.float32)
    c = a > 0
    out = engine.where(engine.tensor(c), engine.tensor(a), engine.tensor(b))
    np.testing.assert_array_equal(out.numpy(), np.where(c, a, b))
    out = engine.where(engine.tensor(c), 1.0, engine.tensor(a))
    np.testing.assert_array_equal(out.numpy(), np.where(c, 1.0, a).astype(np.float32))
    m = engine.tensor([[1, 0, 0, 1]], dtype=engine.u8)
    np.testing.assert_array_equal(engine.tensor(a).masked_fill(m, -1e9).numpy(),
                                  np.where(m.numpy().astype(bool), np.float32(-1e9), a))
    with pytest.raises(ValueError, match="masked_fill"):
        engine.ones(4).masked_fill(engine.ones(2, 4, dtype=engine.u8), 0.0)
