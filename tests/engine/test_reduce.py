"""Reductions against numpy over random dims, with keepdim, strided inputs and both
the serial and parallel kernels."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import engine

from .gradcheck import parallel_kernels

SETTINGS = settings(max_examples=30, deadline=None)

OPS = {
    "sum": (lambda t, d, k: t.sum(d, keepdim=k), lambda a, d, k: a.sum(axis=d, keepdims=k)),
    "mean": (lambda t, d, k: t.mean(d, keepdim=k), lambda a, d, k: a.mean(axis=d, keepdims=k)),
    "max": (lambda t, d, k: t.max(d, keepdim=k), lambda a, d, k: a.max(axis=d, keepdims=k)),
    "min": (lambda t, d, k: t.min(d, keepdim=k), lambda a, d, k: a.min(axis=d, keepdims=k)),
}


@st.composite
def reduce_case(draw):
    nd = draw(st.integers(1, 4))
    shape = tuple(draw(st.integers(1, 6)) for _ in range(nd))
    dims = draw(st.one_of(st.none(), st.lists(st.integers(0, nd - 1), min_size=1, max_size=nd,
                                               unique=True).map(tuple)))
    return shape, dims, draw(st.booleans()), draw(st.booleans()), draw(st.booleans())


@SETTINGS
@given(name=st.sampled_from(sorted(OPS)), case=reduce_case(), seed=st.integers(0, 99))
def test_reductions_match_numpy(name, case, seed) -> None:
    shape, dims, keepdim, strided, parallel = case
    a = np.random.default_rng(seed).standard_normal(shape).astype(np.float32)
    t = engine.from_numpy(a)
    if strided:  # reduce a permuted (non-contiguous) view
        perm = tuple(reversed(range(len(shape))))
        a = a.transpose(perm)
        t = t.permute(*perm)
    op, ref = OPS[name]
    if parallel:
        with parallel_kernels():
            out = op(t, dims, keepdim)
    else:
        out = op(t, dims, keepdim)
    expected = ref(a.astype(np.float64), dims, keepdim)
    assert out.shape == np.shape(expected)
    np.testing.assert_allclose(out.numpy(), expected, rtol=1e-5, atol=1e-5)


@SETTINGS
@given(case=reduce_case(), seed=st.integers(0, 99), largest=st.booleans())
def test_argmax_argmin_match_numpy(case, seed, largest) -> None:
    shape, dims, keepdim, _, parallel = case
    # few distinct values: ties must resolve to the first index, as in numpy
    a = np.random.default_rng(seed).integers(0, 4, shape).astype(np.float32)
    t = engine.from_numpy(a)
    d = None if dims is None else dims[0]
    ctx = parallel_kernels() if parallel else _nullcontext()
    with ctx:
        out = t.argmax(d, keepdim=keepdim) if largest else t.argmin(d, keepdim=keepdim)
    fn = np.argmax if largest else np.argmin
    expected = fn(a, axis=d, keepdims=keepdim) if d is not None else fn(a)
    if d is None and keepdim:
        expected = np.reshape(expected, (1,) * a.ndim)
    assert out.dtype is engine.i64
    np.testing.assert_array_equal(out.numpy(), expected)


class _nullcontext:
    def __enter__(self):
        return self

    def __exit__(self, *a):
        return False


def test_large_reductions_use_rows_and_columns_kernels() -> None:
    a = np.random.default_rng(0).standard_normal((300, 257)).astype(np.float32)
    t = engine.from_numpy(a)
    np.testing.assert_allclose(t.sum(0).numpy(), a.astype(np.float64).sum(0), rtol=1e-5, atol=1e-4)
    np.testing.assert_allclose(t.sum(1).numpy(), a.astype(np.float64).sum(1), rtol=1e-5, atol=1e-4)
    np.testing.assert_array_equal(t.max(0).numpy(), a.max(0))
    np.testing.assert_array_equal(t.min(1).numpy(), a.min(1))
    np.testing.assert_array_equal(t.argmax(1).numpy(), a.argmax(1))
    np.testing.assert_array_equal(t.T.argmin(0).numpy(), a.T.argmin(0))


def test_reduction_edge_cases() -> None:
    x = engine.tensor([[1.0, np.nan], [2.0, 3.0]])
    assert np.isnan(x.max(1).numpy()[0]) and x.max(1).numpy()[1] == 3.0
    assert x.argmax(1).tolist() == [1, 1]
    i = engine.tensor([[1, 2], [3, 4]], dtype=engine.u8)
    assert i.sum().dtype is engine.i64 and i.sum().item() == 10
    assert engine.tensor(5.0).sum().item() == 5.0
    assert engine.zeros(0, 3).sum(0).tolist() == [0, 0, 0]
    with pytest.raises(ValueError, match="empty"):
        engine.zeros(0, 3).max(0)
    with pytest.raises(TypeError, match="floating"):
        i.mean()
    with pytest.raises(IndexError, match="out of range"):
        x.sum(2)
