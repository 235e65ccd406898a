"""Views share storage (no copy) and match numpy's indexing; contiguous() copies only
when needed; from_numpy is zero-copy."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import engine

SETTINGS = settings(max_examples=40, deadline=None)


def arange_tensor(shape):
    a = np.arange(int(np.prod(shape)), dtype=np.float32).reshape(shape)
    return a, engine.tensor(a)


shapes = st.lists(st.integers(1, 5), min_size=1, max_size=4).map(tuple)


def test_creation_functions() -> None:
    assert engine.zeros(2, 3).numpy().tolist() == [[0, 0, 0], [0, 0, 0]]
    assert engine.ones((2,)).dtype is engine.f32
    assert engine.full((2, 2), 7, dtype=engine.i64).numpy().tolist() == [[7, 7], [7, 7]]
    assert engine.arange(5).tolist() == [0, 1, 2, 3, 4] and engine.arange(5).dtype is engine.i64
    np.testing.assert_allclose(engine.arange(0, 1, 0.25).numpy(), [0, 0.25, 0.5, 0.75])
    a, b = engine.randn(3, 4, seed=7), engine.randn(3, 4, seed=7)
    np.testing.assert_array_equal(a.numpy(), b.numpy())
    assert not np.array_equal(a.numpy(), engine.randn(3, 4, seed=8).numpy())
    r = engine.rand(1000, seed=1).numpy()
    assert r.min() >= 0 and r.max() < 1 and abs(r.mean() - 0.5) < 0.05
    engine.manual_seed(3)
    x = engine.randn(4).numpy()
    engine.manual_seed(3)
    np.testing.assert_array_equal(x, engine.randn(4).numpy())
    t = engine.tensor([[1, 2], [3, 4]])
    assert t.dtype is engine.i64 and t.shape == (2, 2) and t.numel() == 4 and t.ndim == 2
    assert engine.tensor([1.5]).dtype is engine.f32
    assert engine.tensor(np.zeros(2, np.float64)).dtype is engine.f32  # float data -> f32
    assert engine.tensor([True, False]).dtype is engine.u8
    assert engine.tensor(3.0).shape == () and engine.tensor(3.0).item() == 3.0


def test_from_numpy_shares_memory_and_numpy_round_trips() -> None:
    a = np.arange(12, dtype=np.float32).reshape(3, 4)
    t = engine.from_numpy(a)
    a[0, 0] = 42.0
    assert t.numpy()[0, 0] == 42.0
    assert np.shares_memory(t.numpy(), a)
    strided = a[:, ::2]
    ts = engine.from_numpy(strided)
    assert not ts.is_contiguous() and ts.stride() == (4, 2)
    a[2, 2] = -1.0
    assert ts.numpy()[2, 1] == -1.0
    np.testing.assert_array_equal(ts.numpy(), strided)
    t64 = engine.from_numpy(np.arange(3, dtype=np.int32))  # unsupported dtype: converted
    assert t64.dtype is engine.i64
    bits = np.array([0x3F80, 0xC000], np.uint16)
    tb = engine.from_numpy(bits, dtype=engine.bf16)
    assert tb.dtype is engine.bf16 and tb.numpy().tolist() == [1.0, -2.0]
    assert np.shares_memory(tb.np, bits)


def test_views_share_storage_and_see_writes() -> None:
    _, t = arange_tensor((2, 3, 4))
    views = [t.reshape(6, 4), t.transpose(0, 2), t.T, t.permute(2, 0, 1), t.narrow(2, 1, 2),
             t.unsqueeze(1), t[:, 1:, ::2], t[..., None, 0], t[1], t.broadcast_to((5, 2, 3, 4)),
             t.view(24), t.flatten(), t.expand(2, 2, 3, 4), t.split(2, dim=2)[1],
             t.chunk(3, dim=1)[2], t.detach()]
    for v in views:
        assert v.shares_storage(t)
    t[0, 0, 0] = 100.0
    assert views[1][0, 0, 0].item() == 100.0
    assert views[9][4, 0, 0, 0].item() == 100.0
    b = t.broadcast_to((5, 2, 3, 4))
    assert b.stride()[0] == 0
    u = engine.ones(1, 3).broadcast_to((4, 3))
    assert u.stride() == (0, 1)


def test_contiguous_copies_only_when_needed() -> None:
    _, t = arange_tensor((3, 4))
    assert t.contiguous() is t and t.is_contiguous()
    tt = t.T
    assert not tt.is_contiguous()
    c = tt.contiguous()
    assert c.is_contiguous() and not c.shares_storage(t)
    np.testing.assert_array_equal(c.numpy(), t.numpy().T)
    # a view that happens to be contiguous (a row, a narrow of the first dim) is not copied
    assert t[1].contiguous() is t[1] or t[1].contiguous().shares_storage(t)
    n = t.narrow(0, 1, 2)
    assert n.is_contiguous() and n.contiguous() is n


def test_reshape_is_a_view_when_strides_allow_else_a_copy() -> None:
    a, t = arange_tensor((4, 6))
    v = t[:, :4]  # rows of 4 inside rows of 6
    r = v.reshape(4, 2, 2)  # splitting the contiguous last dim: still a view
    assert r.shares_storage(t)
    np.testing.assert_array_equal(r.numpy(), a[:, :4].reshape(4, 2, 2))
    p = t.T.reshape(24)  # a transposed matrix cannot be flattened in place
    assert not p.shares_storage(t)
    np.testing.assert_array_equal(p.numpy(), a.T.reshape(24))
    with pytest.raises(RuntimeError, match="use reshape"):
        t.T.view(24)
    assert t.reshape(-1, 3).shape == (8, 3)
    with pytest.raises(ValueError, match="cannot reshape"):
        t.reshape(5, 5)
    b = engine.tensor(np.arange(24, dtype=np.float32).reshape(2, 3, 4)).permute(1, 0, 2)
    rb = b.reshape(3, 8)
    np.testing.assert_array_equal(rb.numpy(),
                                  np.arange(24).reshape(2, 3, 4).transpose(1, 0, 2).reshape(3, 8))


@SETTINGS
@given(shape=shapes, data=st.data())
def test_basic_indexing_matches_numpy(shape, data) -> None:
    a, t = arange_tensor(shape)
    key = []
    for n in shape[:data.draw(st.integers(0, len(shape)))]:
        kind = data.draw(st.sampled_from(["int", "slice", "none", "full"]))
        if kind == "int":
            key.append(data.draw(st.integers(-n, n - 1)))
        elif kind == "slice":
            start = data.draw(st.one_of(st.none(), st.integers(-n, n)))
            stop = data.draw(st.one_of(st.none(), st.integers(-n, n)))
            step = data.draw(st.one_of(st.none(), st.integers(1, 3)))
            key.append(slice(start, stop, step))
        elif kind == "none":
            key.append(None)
        else:
            key.append(slice(None))
    if data.draw(st.booleans()):
        key.insert(data.draw(st.integers(0, len(key))), Ellipsis)
    key = tuple(key)
    try:
        expected = a[key]
    except IndexError:  # the ellipsis shifted an int onto a shorter dim: both refuse
        with pytest.raises(IndexError):
            t[key]
        return
    v = t[key]
    assert v.shares_storage(t)
    np.testing.assert_array_equal(v.numpy(), expected)


@SETTINGS
@given(shape=shapes, data=st.data())
def test_transpose_permute_narrow_squeeze_match_numpy(shape, data) -> None:
    a, t = arange_tensor(shape)
    nd = len(shape)
    perm = data.draw(st.permutations(range(nd)))
    np.testing.assert_array_equal(t.permute(*perm).numpy(), a.transpose(perm))
    d0, d1 = data.draw(st.integers(0, nd - 1)), data.draw(st.integers(0, nd - 1))
    np.testing.assert_array_equal(t.transpose(d0, d1).numpy(), np.swapaxes(a, d0, d1))
    d = data.draw(st.integers(0, nd - 1))
    start = data.draw(st.integers(0, shape[d] - 1))
    length = data.draw(st.integers(0, shape[d] - start))
    np.testing.assert_array_equal(t.narrow(d, start, length).numpy(),
                                  np.take(a, range(start, start + length), axis=d))
    np.testing.assert_array_equal(t.squeeze().numpy(), a.squeeze())
    np.testing.assert_array_equal(t.unsqueeze(d).numpy(), np.expand_dims(a, d))
    np.testing.assert_array_equal(t.T.numpy(), a.T)


def test_integer_tensor_index_and_errors() -> None:
    a, t = arange_tensor((4, 3))
    np.testing.assert_array_equal(t[engine.tensor([2, 0])].numpy(), a[[2, 0]])
    np.testing.assert_array_equal(t[:, [1, 1]].numpy(), a[:, [1, 1]])
    with pytest.raises(IndexError, match="out of bounds"):
        t[4]
    with pytest.raises(ValueError, match="step must be positive"):
        t[::-1]
    with pytest.raises(IndexError, match="too many indices"):
        t[0, 0, 0]


def test_setitem_writes_in_place() -> None:
    t = engine.zeros(3, 4)
    t[1] = 5.0
    t[:, 0] = engine.tensor([1.0, 2.0, 3.0])
    t[2, 1:3] = engine.tensor([[7.0, 8.0]])[0]
    np.testing.assert_array_equal(t.numpy(), [[1, 0, 0, 0], [2, 5, 5, 5], [3, 7, 8, 0]])
    bf = engine.zeros(2, dtype=engine.bf16)
    bf[0] = 1.5
    assert bf.numpy().tolist() == [1.5, 0.0]
    p = engine.zeros(2, requires_grad=True)
    with pytest.raises(RuntimeError, match="in-place"):
        p[0] = 1.0
    with engine.no_grad():
        p[0] = 1.0
    assert p.tolist() == [1.0, 0.0]
