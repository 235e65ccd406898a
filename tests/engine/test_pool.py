"""max_pool2d and upsample_nearest2d (engine/ops/pool.py) against PyTorch: forward,
backward, finite differences, strided inputs, half dtypes and bad arguments."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch.nn import functional as TF

import engine
import engine.functional as F

from .gradcheck import check_grad

POOL_CASES = [((2, 3, 8, 8), 2, None), ((1, 2, 7, 9), 2, None), ((2, 1, 9, 7), 3, 2),
              ((1, 2, 6, 10), (2, 3), (1, 2)), ((3, 2, 5, 5), (3, 1), 1)]


@pytest.mark.parametrize("shape,k,s", POOL_CASES)
def test_max_pool2d_forward_and_backward_match_torch(shape, k, s) -> None:
    rng = np.random.default_rng(0)
    a = rng.standard_normal(shape).astype(np.float32)
    a[..., 0, :2] = 0.5  # ties inside a window: the gradient goes to the first maximum
    g = rng.standard_normal(TF.max_pool2d(torch.from_numpy(a), k, s).shape).astype(np.float32)
    x = engine.tensor(a, requires_grad=True)
    out = F.max_pool2d(x, k, s)
    (out * engine.tensor(g)).sum().backward()
    t = torch.from_numpy(a).requires_grad_()
    ref = TF.max_pool2d(t, k, s)
    (ref * torch.from_numpy(g)).sum().backward()
    np.testing.assert_array_equal(out.numpy(), ref.detach().numpy())
    np.testing.assert_allclose(x.grad.numpy(), t.grad.numpy(), rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("shape,k,s", POOL_CASES)
def test_max_pool2d_without_gradients_skips_the_argmax_and_matches_torch(shape, k, s,
                                                                       monkeypatch) -> None:
    """Inference pools with the values-only kernel (no int64 argmax map); NaN still wins."""
    from engine.backend.cpu import pool

    calls = []
    real = pool._max_pool_values
    monkeypatch.setattr(pool, "_max_pool_values", lambda *a: (calls.append(1), real(*a))[1])
    rng = np.random.default_rng(2)
    a = rng.standard_normal(shape).astype(np.float32)
    a[0, 0, 0, 1] = np.nan
    with engine.no_grad():
        out = F.max_pool2d(engine.tensor(a, requires_grad=True), k, s)
    np.testing.assert_array_equal(out.numpy(), TF.max_pool2d(torch.from_numpy(a), k, s).numpy())
    assert calls == [1]


@pytest.mark.parametrize("shape,scale", [((2, 3, 4, 5), 2), ((1, 2, 3, 3), (2, 3)),
                                         ((1, 1, 1, 4), (4, 1))])
def test_upsample_nearest2d_forward_and_backward_match_torch(shape, scale) -> None:
    rng = np.random.default_rng(1)
    a = rng.standard_normal(shape).astype(np.float32)
    x = engine.tensor(a, requires_grad=True)
    out = F.upsample_nearest2d(x, scale)
    t = torch.from_numpy(a).requires_grad_()
    ref = TF.interpolate(t, scale_factor=scale, mode="nearest")
    g = rng.standard_normal(ref.shape).astype(np.float32)
    (out * engine.tensor(g)).sum().backward()
    (ref * torch.from_numpy(g)).sum().backward()
    np.testing.assert_array_equal(out.numpy(), ref.detach().numpy())
    np.testing.assert_allclose(x.grad.numpy(), t.grad.numpy(), rtol=1e-5, atol=1e-6)


def test_gradients_by_finite_differences() -> None:
    rng = np.random.default_rng(2)
    a = rng.permutation(2 * 2 * 5 * 6).reshape(2, 2, 5, 6) / 7.0  # distinct: no ties
    check_grad(lambda x: F.max_pool2d(x, 3, 2), a)
    check_grad(lambda x: F.upsample_nearest2d(x, (2, 3)), rng.standard_normal((1, 2, 3, 2)))
    # together, as the split model uses them
    check_grad(lambda x: F.upsample_nearest2d(F.max_pool2d(x, 2), 2).relu(), a[:, :, :4, :6])


def test_strided_and_half_inputs() -> None:
    rng = np.random.default_rng(3)
    a = rng.standard_normal((2, 6, 3, 8)).astype(np.float32)
    x = engine.tensor(a).permute(0, 2, 1, 3)  # a view, not contiguous
    want = TF.max_pool2d(torch.from_numpy(a).permute(0, 2, 1, 3), 2).numpy()
    np.testing.assert_array_equal(F.max_pool2d(x, 2).numpy(), want)
    up = TF.interpolate(torch.from_numpy(a).permute(0, 2, 1, 3), scale_factor=2).numpy()
    np.testing.assert_array_equal(F.upsample_nearest2d(x, 2).numpy(), up)
    h = engine.tensor(a, dtype=engine.f16)
    out = F.max_pool2d(h, 2)
    assert out.dtype is engine.f16
    np.testing.assert_allclose(out.numpy().astype(np.float32),
                               TF.max_pool2d(torch.from_numpy(a).half().float(), 2).numpy())


def test_bad_arguments_say_what_is_wrong() -> None:
    x = engine.tensor(np.zeros((1, 1, 3, 3), np.float32))
    with pytest.raises(ValueError, match="4-D"):
        F.max_pool2d(engine.tensor(np.zeros((3, 3), np.float32)), 2)
    with pytest.raises(ValueError, match="larger than the input"):
        F.max_pool2d(x, 4)
    with pytest.raises(ValueError, match="positive"):
        F.upsample_nearest2d(x, 0)


@pytest.mark.parametrize("stride,padding", [((1, 1), (1, 1)), ((2, 1), (2, 0)), ((1, 2), (0, 3))])
def test_conv2d_in_row_blocks_matches_torch(monkeypatch, stride, padding) -> None:
    """A large image is convolved a band of output rows at a time (bounded im2col)."""
    from engine.backend.cpu import linalg

    monkeypatch.setattr(linalg, "CONV_COLS_BUDGET", 3000)  # a few rows per band
    rng = np.random.default_rng(4)
    a = rng.standard_normal((2, 3, 17, 11)).astype(np.float32)
    w = rng.standard_normal((4, 3, 3, 5)).astype(np.float32)
    b = rng.standard_normal(4).astype(np.float32)
    got = F.conv2d(engine.tensor(a), engine.tensor(w), engine.tensor(b), stride, padding).numpy()
    want = TF.conv2d(torch.from_numpy(a), torch.from_numpy(w), torch.from_numpy(b), stride,
                     padding).numpy()
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)
