"""softmax, layer_norm, matmul, linear(+gelu), attention, conv2d, embedding, gather,
topk, cat/stack against numpy references."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import engine
import engine.functional as F

from .gradcheck import attention_blocks, parallel_kernels
from .helpers import np_conv2d

SETTINGS = settings(max_examples=20, deadline=None)
_erf = np.vectorize(math.erf)


def np_softmax(a, axis=-1):
    e = np.exp(a - a.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


def np_layer_norm(a, n_dims, w, b, eps):
    axes = tuple(range(a.ndim - n_dims, a.ndim))
    mu = a.mean(axis=axes, keepdims=True)
    var = a.var(axis=axes, keepdims=True)
    out = (a - mu) / np.sqrt(var + eps)
    return out * w + b if w is not None else out


shapes = st.lists(st.integers(1, 7), min_size=1, max_size=4).map(tuple)


@SETTINGS
@given(shape=shapes, data=st.data(), parallel=st.booleans())
def test_softmax_and_log_softmax(shape, data, parallel) -> None:
    a = data.draw(st.integers(0, 99).map(lambda s: np.random.default_rng(s).standard_normal(shape)))
    a = (a * 5).astype(np.float32)
    dim = data.draw(st.integers(-len(shape), len(shape) - 1))
    t = engine.from_numpy(a)
    with parallel_kernels() if parallel else _noop():
        sm, lsm = t.softmax(dim), F.log_softmax(t, dim)
    np.testing.assert_allclose(sm.numpy(), np_softmax(a.astype(np.float64), dim), rtol=1e-5,
                               atol=1e-6)
    np.testing.assert_allclose(lsm.numpy(), np.log(np_softmax(a.astype(np.float64), dim)),
                               rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("n", [8, 9, 16, 23, 384])
def test_softmax_row_max_sees_every_position(n) -> None:
    """The row max runs eight lanes plus a tail: a peak at any position must be the max,
    or exp overflows (a peak of 200 over a max missed by ~197 gives inf/inf = NaN)."""
    rng = np.random.default_rng(n)
    a = rng.standard_normal((n, n)).astype(np.float32)
    a[np.arange(n), np.arange(n)] = 200.0  # row r peaks at column r
    a[0, 1:] = -np.inf  # a masked row: its only finite entry is the peak
    for parallel in (False, True):
        with parallel_kernels() if parallel else _noop():
            out = engine.from_numpy(a).softmax(-1).numpy()
        np.testing.assert_allclose(out, np_softmax(a.astype(np.float64), -1), rtol=1e-5, atol=1e-6)


def test_softmax_with_masked_entries() -> None:
    a = np.array([[0.0, -np.inf, 1.0], [-np.inf, -np.inf, -np.inf]], np.float32)
    out = engine.tensor(a).softmax(-1).numpy()
    np.testing.assert_allclose(out[0], np_softmax(np.array([0.0, -50, 1.0]))[[0, 1, 2]] * [1, 0, 1],
                               atol=1e-6)
    assert not np.isnan(out[0]).any()


class _noop:
    def __enter__(self):
        return self

    def __exit__(self, *a):
        return False


@SETTINGS
@given(shape=st.lists(st.integers(1, 8), min_size=1, max_size=3).map(tuple),
       n_dims=st.integers(1, 2), affine=st.booleans(), parallel=st.booleans(),
       seed=st.integers(0, 99))
def test_layer_norm(shape, n_dims, affine, parallel, seed) -> None:
    n_dims = min(n_dims, len(shape))
    rng = np.random.default_rng(seed)
    a = (rng.standard_normal(shape) * 3 + 1).astype(np.float32)
    norm_shape = shape[len(shape) - n_dims:]
    w = rng.standard_normal(norm_shape).astype(np.float32) if affine else None
    b = rng.standard_normal(norm_shape).astype(np.float32) if affine else None
    ew = engine.from_numpy(w) if affine else None
    eb = engine.from_numpy(b) if affine else None
    with parallel_kernels() if parallel else _noop():
        out = F.layer_norm(engine.from_numpy(a), norm_shape, ew, eb, 1e-5)
    expected = np_layer_norm(a.astype(np.float64), n_dims, w, b, 1e-5)
    np.testing.assert_allclose(out.numpy(), expected, rtol=1e-4, atol=1e-4)
    with pytest.raises(ValueError, match="normalized_shape"):
        F.layer_norm(engine.from_numpy(a), (99,))


@st.composite
def matmul_shapes(draw):
    m, k, n = (draw(st.integers(1, 6)) for _ in range(3))
    batch = tuple(draw(st.integers(1, 3)) for _ in range(draw(st.integers(0, 2))))
    a_batch = tuple(d if draw(st.booleans()) else 1 for d in batch)
    b_batch = batch[draw(st.integers(0, len(batch))):]
    a = a_batch + (m, k)
    b = b_batch + (k, n)
    if draw(st.booleans()) and not a_batch:
        a = (k,)
    if draw(st.booleans()) and not b_batch:
        b = (k,)
    return a, b, draw(st.booleans())


@settings(max_examples=40, deadline=None)
@given(shapes=matmul_shapes(), seed=st.integers(0, 99))
def test_matmul_numpy_rules(shapes, seed) -> None:
    sa, sb, transposed = shapes
    rng = np.random.default_rng(seed)
    a = rng.standard_normal(sa).astype(np.float32)
    b = rng.standard_normal(sb).astype(np.float32)
    eb = engine.from_numpy(b)
    if transposed and b.ndim >= 2:  # a column-major operand
        eb = engine.from_numpy(np.ascontiguousarray(np.swapaxes(b, -1, -2))).transpose(-1, -2)
    out = engine.from_numpy(a) @ eb
    expected = a.astype(np.float64) @ b.astype(np.float64)
    assert out.shape == np.shape(expected)
    np.testing.assert_allclose(out.numpy(), expected, rtol=1e-5, atol=1e-5)


def test_batched_gemm_path_and_errors() -> None:
    rng = np.random.default_rng(0)
    a = rng.standard_normal((3, 1, 40, 64)).astype(np.float32)
    b = rng.standard_normal((2, 64, 50)).astype(np.float32)
    out = engine.matmul(engine.from_numpy(a), engine.from_numpy(b))
    np.testing.assert_allclose(out.numpy(), a @ b, rtol=1e-4, atol=1e-4)
    w = rng.standard_normal((64, 30)).astype(np.float32)
    np.testing.assert_allclose((engine.from_numpy(a) @ engine.from_numpy(w)).numpy(), a @ w,
                               rtol=1e-4, atol=1e-4)
    with pytest.raises(ValueError, match="not aligned"):
        engine.ones(2, 3) @ engine.ones(2, 3)
    ia = engine.tensor([[1, 2], [3, 4]])
    assert (ia @ ia).tolist() == [[7, 10], [15, 22]]


@pytest.mark.parametrize("rows", [3, 300])
def test_linear_and_fused_linear_gelu(rows) -> None:
    rng = np.random.default_rng(1)
    x = rng.standard_normal((2, rows, 24)).astype(np.float32)
    w = rng.standard_normal((40, 24)).astype(np.float32)
    b = rng.standard_normal(40).astype(np.float32)
    ex, ew, eb = map(engine.from_numpy, (x, w, b))
    pre = x.astype(np.float64) @ w.T.astype(np.float64) + b
    np.testing.assert_allclose(F.linear(ex, ew, eb).numpy(), pre, rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(F.linear(ex, ew).numpy(), pre - b, rtol=1e-4, atol=1e-4)
    gelu = 0.5 * pre * (1 + _erf(pre / math.sqrt(2)))
    np.testing.assert_allclose(F.linear_gelu(ex, ew, eb).numpy(), gelu, rtol=1e-4, atol=1e-4)
    gelu_t = 0.5 * pre * (1 + np.tanh(math.sqrt(2 / math.pi) * (pre + 0.044715 * pre ** 3)))
    np.testing.assert_allclose(F.linear_gelu(ex, ew, eb, approximate="tanh").numpy(), gelu_t,
                               rtol=1e-4, atol=1e-4)
    with pytest.raises(ValueError, match="does not match weight"):
        F.linear(ex, engine.ones(40, 23))


def np_attention(q, k, v, mask=None, causal=False, scale=None):
    scale = 1 / math.sqrt(q.shape[-1]) if scale is None else scale
    s = q @ np.swapaxes(k, -1, -2) * scale
    if mask is not None:
        s = s + mask
    if causal:
        tq, tk = s.shape[-2:]
        s = np.where(np.tril(np.ones((tq, tk), bool), k=tk - tq), s, -np.inf)
    return np_softmax(s) @ v


@settings(max_examples=40, deadline=None)
@given(b=st.integers(1, 3), h=st.integers(1, 3), tq=st.integers(1, 9), tk=st.integers(1, 9),
       d=st.sampled_from([4, 8]), causal=st.booleans(), mask_kind=st.sampled_from(["none", "add", "bool"]),
       path=st.sampled_from(["serial", "parallel", "blocks"]), seed=st.integers(0, 99))
def test_scaled_dot_product_attention(b, h, tq, tk, d, causal, mask_kind, path, seed) -> None:
    if causal:
        tq = min(tq, tk)
    rng = np.random.default_rng(seed)
    q = rng.standard_normal((b, h, tq, d)).astype(np.float32)
    k = rng.standard_normal((b, h, tk, d)).astype(np.float32)
    v = rng.standard_normal((b, h, tk, d)).astype(np.float32)
    mask = emask = None
    if mask_kind == "add":
        mask = rng.standard_normal((b, 1, 1, tk)).astype(np.float32)
        emask = engine.from_numpy(mask)
    elif mask_kind == "bool":
        keep = rng.random((b, 1, tq, tk)) > 0.3
        keep[..., 0] = True
        mask = np.where(keep, 0.0, -np.inf).astype(np.float32)
        emask = engine.tensor(keep)
    paths = {"serial": _noop, "parallel": parallel_kernels, "blocks": attention_blocks}
    with engine.no_grad(), paths[path]():
        out = F.scaled_dot_product_attention(*map(engine.from_numpy, (q, k, v)), attn_mask=emask,
                                             is_causal=causal)
    expected = np_attention(q.astype(np.float64), k, v, mask, causal)
    np.testing.assert_allclose(out.numpy(), expected, rtol=1e-4, atol=1e-5)
    # the differentiable path gives the same numbers
    qg = engine.from_numpy(q).detach().requires_grad_()
    out2 = F.scaled_dot_product_attention(qg, *map(engine.from_numpy, (k, v)), attn_mask=emask,
                                          is_causal=causal)
    np.testing.assert_allclose(out2.numpy(), expected, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("tq,tk", [(1, 1), (7, 40), (97, 97)])
def test_encoder_attention_blocks_without_mask(tq, tk) -> None:
    """The encoder's case (no mask, not causal) on the block path, whose row maxima come
    from numpy: large scores too, where a wrong maximum would overflow exp."""
    rng = np.random.default_rng(tq * 100 + tk)
    q = (rng.standard_normal((2, 3, tq, 16)) * 8).astype(np.float32)
    k = (rng.standard_normal((2, 3, tk, 16)) * 8).astype(np.float32)
    v = rng.standard_normal((2, 3, tk, 16)).astype(np.float32)
    with engine.no_grad(), attention_blocks():
        out = F.scaled_dot_product_attention(*map(engine.from_numpy, (q, k, v)))
    expected = np_attention(q.astype(np.float64), k, v, None, False)
    np.testing.assert_allclose(out.numpy(), expected, rtol=1e-4, atol=1e-5)


@settings(max_examples=20, deadline=None)
@given(n=st.integers(1, 2), c=st.integers(1, 3), o=st.integers(1, 4), hw=st.integers(4, 9),
       k=st.integers(1, 4), stride=st.integers(1, 3), padding=st.integers(0, 2),
       bias=st.booleans(), seed=st.integers(0, 99))
def test_conv2d(n, c, o, hw, k, stride, padding, bias, seed) -> None:
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, c, hw, hw + 1)).astype(np.float32)
    w = rng.standard_normal((o, c, k, k)).astype(np.float32)
    b = rng.standard_normal(o).astype(np.float32) if bias else None
    out = F.conv2d(engine.from_numpy(x), engine.from_numpy(w),
                   engine.from_numpy(b) if bias else None, stride, padding)
    expected = np_conv2d(x.astype(np.float64), w, b, (stride, stride), (padding, padding))
    np.testing.assert_allclose(out.numpy(), expected, rtol=1e-4, atol=1e-4)


def test_conv2d_patch_embedding_shape() -> None:
    x = engine.randn(2, 3, 32, 32, seed=0)
    w = engine.randn(16, 3, 8, 8, seed=1)
    out = F.conv2d(x, w, stride=8)
    assert out.shape == (2, 16, 4, 4)
    expected = np_conv2d(x.numpy().astype(np.float64), w.numpy(), None, (8, 8), (0, 0))
    np.testing.assert_allclose(out.numpy(), expected, rtol=1e-4, atol=1e-4)
    with pytest.raises(ValueError, match="channels"):
        F.conv2d(x, engine.randn(16, 4, 8, 8))


def test_embedding_index_select_gather() -> None:
    rng = np.random.default_rng(0)
    w = rng.standard_normal((10, 6)).astype(np.float32)
    ids = np.array([[1, 9, 1], [0, 3, 3]])
    np.testing.assert_array_equal(F.embedding(engine.tensor(ids), engine.from_numpy(w)).numpy(),
                                  w[ids])
    big_ids = rng.integers(0, 10, 20000)
    np.testing.assert_array_equal(engine.embedding(engine.tensor(big_ids),
                                                   engine.from_numpy(w)).numpy(), w[big_ids])
    x = rng.standard_normal((4, 5, 3)).astype(np.float32)
    ex = engine.from_numpy(x)
    for dim in range(3):
        idx = np.array([2, 0, 2])
        np.testing.assert_array_equal(ex.index_select(dim, engine.tensor(idx)).numpy(),
                                      np.take(x, idx, axis=dim))
    with pytest.raises(IndexError, match="out of range"):
        ex.index_select(0, engine.tensor([4]))
    gi = rng.integers(0, 5, (4, 2, 3))
    np.testing.assert_array_equal(ex.gather(1, engine.tensor(gi)).numpy(),
                                  np.take_along_axis(x, gi, axis=1))
    gi0 = rng.integers(0, 4, (2, 5, 3))  # index smaller than input in dim 0: torch semantics
    np.testing.assert_array_equal(ex.gather(0, engine.tensor(gi0)).numpy(),
                                  np.take_along_axis(x[:, :5, :3], gi0, axis=0))


@settings(max_examples=25, deadline=None)
@given(rows=st.integers(1, 4), n=st.integers(1, 90), data=st.data(), largest=st.booleans(),
       seed=st.integers(0, 99))
def test_topk(rows, n, data, largest, seed) -> None:
    k = data.draw(st.integers(0, n))
    a = np.random.default_rng(seed).permutation(rows * n).reshape(rows, n).astype(np.float32)
    vals, idx = engine.from_numpy(a).topk(k, largest=largest)
    order = np.argsort(-a if largest else a, axis=1, kind="stable")[:, :k]
    np.testing.assert_array_equal(idx.numpy(), order)
    np.testing.assert_array_equal(vals.numpy(), np.take_along_axis(a, order, axis=1))
    _, i0 = engine.from_numpy(a).T.topk(min(k, rows), dim=0)
    np.testing.assert_array_equal(i0.numpy(), np.argsort(-a.T, axis=0, kind="stable")[:min(k, rows)])


def test_topk_ties_keep_the_first_index() -> None:
    vals, idx = engine.tensor([[1.0, 3.0, 3.0, 2.0, 3.0]]).topk(3)
    assert idx.tolist() == [[1, 2, 4]] and vals.tolist() == [[3.0, 3.0, 3.0]]


def test_cat_and_stack() -> None:
    rng = np.random.default_rng(0)
    a, b = rng.standard_normal((2, 3)).astype(np.float32), rng.standard_normal((2, 5)).astype(np.float32)
    np.testing.assert_array_equal(engine.cat([engine.from_numpy(a), engine.from_numpy(b)], 1).numpy(),
                                  np.concatenate([a, b], 1))
    np.testing.assert_array_equal(engine.cat([engine.from_numpy(a).T, engine.from_numpy(a).T]).numpy(),
                                  np.concatenate([a.T, a.T]))
    np.testing.assert_array_equal(engine.stack([engine.from_numpy(a)] * 3, dim=1).numpy(),
                                  np.stack([a] * 3, axis=1))
    with pytest.raises(ValueError, match="differ outside dim"):
        engine.cat([engine.from_numpy(a), engine.from_numpy(b)], 0)


def test_dropout_and_cross_entropy() -> None:
    x = engine.ones(1000)
    y = F.dropout(x, 0.3, training=True, seed=0).numpy()
    assert np.allclose(y[y != 0], 1 / 0.7)
    assert 0.6 < (y > 0).mean() < 0.8
    assert F.dropout(x, 0.3, training=False) is x
    logits = np.random.default_rng(0).standard_normal((5, 7)).astype(np.float32)
    target = np.array([1, 0, 6, -100, 3])
    loss = F.cross_entropy(engine.from_numpy(logits), engine.tensor(target)).item()
    lp = np.log(np_softmax(logits.astype(np.float64)))
    keep = target != -100
    expected = -lp[np.arange(5)[keep], target[keep]].mean()
    assert abs(loss - expected) < 1e-5


@pytest.mark.parametrize("rows, out_features", [(1, 8), (2, 40), (5, 40), (8, 3), (1, 70000)])
def test_linear_for_a_few_rows_matches_numpy(rows, out_features) -> None:
    """The decoding path (a few rows against a weight matrix) — serial and threaded."""
    from engine.backend.cpu import skinny
    rng = np.random.default_rng(rows)
    in_features = 64
    x = rng.standard_normal((rows, in_features)).astype(np.float32)
    w = rng.standard_normal((out_features, in_features)).astype(np.float32)
    b = rng.standard_normal(out_features).astype(np.float32)
    assert skinny.suits(x, w) == (rows >= 2 or w.size >= skinny.PARALLEL_WEIGHTS)
    out = F.linear_gelu(engine.from_numpy(x), engine.from_numpy(w), engine.from_numpy(b))
    pre = x.astype(np.float64) @ w.T.astype(np.float64) + b
    np.testing.assert_allclose(out.numpy(), 0.5 * pre * (1 + _erf(pre / math.sqrt(2))),
                               rtol=1e-4, atol=1e-4)


def test_blas_thread_count_is_restored_after_pooled_gemms() -> None:
    # OpenBLAS' "local" thread setting is process-wide: the engine's single-threaded
    # sections must hand the count back, or every later GEMM runs on one core.
    from engine.backend.cpu import blas

    if blas.blas_threads() is None or blas._set_threads is None:
        pytest.skip("numpy is not linked against OpenBLAS")
    previous = blas._set_threads(2)  # a known start, whatever earlier tests left
    before = blas.blas_threads()
    rng = np.random.default_rng(0)
    x = engine.from_numpy(rng.standard_normal((512, 384)).astype(np.float32))
    w = engine.from_numpy(rng.standard_normal((256, 384)).astype(np.float32))
    q = engine.from_numpy(rng.standard_normal((2, 4, 300, 64)).astype(np.float32))
    with engine.no_grad():
        F.linear(x, w)  # rows split over the pool
        F.scaled_dot_product_attention(q, q, q)  # per-head blocks on the pool
        engine.matmul(q, q.transpose(-1, -2))  # batched GEMMs on the pool
    after = blas.blas_threads()
    blas._set_threads(previous)
    assert after == before
