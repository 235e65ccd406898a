"""F.conv2d_fused and Conv2d.fused: a convolution over the channel concatenation of one or
two inputs, with an optional ReLU, run as one kernel when nothing is recorded for
gradients, and as the plain composition (which trains) when something is."""

from __future__ import annotations

import numpy as np
import pytest

import engine
import engine.functional as F
from engine.backend.cpu import conv_panels, linalg
from engine.nn import Conv2d

from .helpers import np_conv2d

rng = np.random.default_rng(11)


def _t(*shape, grad=False, dtype=np.float32):
    t = engine.from_numpy(rng.standard_normal(shape).astype(dtype))
    t.requires_grad = grad
    return t


def _reference(inputs, w, b, padding, relu):
    x = np.concatenate([t.numpy().astype(np.float64) for t in inputs], axis=1)
    out = np_conv2d(x, w.numpy().astype(np.float64), None if b is None else b.numpy(),
                    (1, 1), padding)
    return np.maximum(out, 0) if relu else out


@pytest.mark.parametrize("two", [False, True])
@pytest.mark.parametrize("relu", [False, True])
@pytest.mark.parametrize("k,pad", [((3, 3), (1, 1)), ((1, 9), (0, 4)), ((1, 1), (0, 0))])
def test_matches_the_composition(two, relu, k, pad, monkeypatch):
    seen = []
    real = linalg.conv2d_panels

    def spy(*args, **kwargs):
        seen.append(args[4] if len(args) > 4 else kwargs.get("x2"))
        return real(*args, **kwargs)

    monkeypatch.setattr(linalg, "conv2d_panels", spy)
    inputs = [_t(2, 4, 9, 70)] + ([_t(2, 3, 9, 70)] if two else [])
    c = sum(t.shape[1] for t in inputs)
    w, b = _t(6, c, *k), _t(6)
    got = F.conv2d_fused(inputs, w, b, pad, relu)
    np.testing.assert_allclose(got.numpy(), _reference(inputs, w, b, pad, relu), rtol=1e-5,
                               atol=1e-4)
    if conv_panels.conv_kernel() is not None:  # one fused kernel, the skip read in place
        assert len(seen) == 1 and (seen[0] is not None) == two


def test_with_gradients_it_is_the_composition_and_trains():
    a, s = _t(1, 3, 6, 20, grad=True), _t(1, 2, 6, 20, grad=True)
    w, b = _t(4, 5, 3, 3, grad=True), _t(4, grad=True)
    out = F.conv2d_fused([a, s], w, b, 1, relu=True)
    (out * out).sum().backward()
    fused = [t.grad.numpy().copy() for t in (a, s, w, b)]
    for t in (a, s, w, b):
        t.grad = None
    ref = F.conv2d(engine.cat([a, s], dim=1), w, b, 1, 1).relu()
    (ref * ref).sum().backward()
    np.testing.assert_allclose(out.numpy(), ref.numpy(), rtol=1e-5, atol=1e-5)
    for got, t in zip(fused, (a, s, w, b)):
        assert np.abs(got).sum() > 0
        np.testing.assert_allclose(got, t.grad.numpy(), rtol=1e-4, atol=1e-4)


def test_other_dtypes_take_the_composition():
    x = _t(1, 2, 5, 9, dtype=np.float64)
    w = _t(3, 2, 3, 3, dtype=np.float64)
    got = F.conv2d_fused([x], w, None, 1, relu=True)
    assert got.dtype == engine.f64
    np.testing.assert_allclose(got.numpy(), _reference([x], w, None, (1, 1), True), rtol=1e-10)


def test_module_method_and_bad_inputs():
    conv = Conv2d(5, 4, 3, padding=1)
    a, s = _t(1, 3, 6, 20), _t(1, 2, 6, 20)
    np.testing.assert_allclose(conv.fused(a, s, relu=True).numpy(),
                               _reference([a, s], conv.weight, conv.bias, (1, 1), True),
                               rtol=1e-5, atol=1e-4)
    with pytest.raises(ValueError, match="stride 1"):
        Conv2d(5, 4, 3, stride=2).fused(a, s)
    with pytest.raises(ValueError, match="one or two inputs"):
        F.conv2d_fused([a, s, s], conv.weight)
    with pytest.raises(ValueError, match="differ in batch or size"):
        F.conv2d_fused([a, _t(1, 2, 6, 21)], conv.weight)
    with pytest.raises(ValueError, match="6 channels, weight expects 5"):
        F.conv2d_fused([a, _t(1, 3, 6, 20)], conv.weight)


def _upsampled_reference(low, skip, w, b, padding, scale, relu):
    up = np.repeat(np.repeat(low.numpy().astype(np.float64), scale, 2), scale, 3)
    x = np.concatenate([up, skip.numpy().astype(np.float64)], axis=1)
    out = np_conv2d(x, w.numpy().astype(np.float64), None if b is None else b.numpy(),
                    (1, 1), padding)
    return np.maximum(out, 0) if relu else out


@pytest.mark.parametrize("k,pad", [((3, 3), (1, 1)), ((1, 9), (0, 4)), ((5, 3), (2, 1)),
                                   ((1, 1), (0, 0))])
@pytest.mark.parametrize("scale", [2, 3])
@pytest.mark.parametrize("relu", [False, True])
def test_upsampled_first_input_matches_the_composition(k, pad, scale, relu, monkeypatch):
    """A "same" convolution runs as sub-pixel phases over the low map (no upsampled copy)."""
    from engine.backend.cpu import conv_subpixel

    taken = []
    real = conv_subpixel.conv2d_upsampled
    monkeypatch.setattr(conv_subpixel, "conv2d_upsampled",
                        lambda *a, **kw: (taken.append(1), real(*a, **kw))[1])
    low, skip = _t(2, 3, 5, 23), _t(2, 2, 5 * scale, 23 * scale)
    w, b = _t(6, 5, *k), _t(6)
    got = F.conv2d_fused([low, skip], w, b, pad, relu, upsample=scale)
    np.testing.assert_allclose(got.numpy(), _upsampled_reference(low, skip, w, b, pad, scale, relu),
                               rtol=1e-5, atol=1e-4)
    if conv_panels.conv_kernel() is not None:
        assert taken == [1]


def test_upsampled_input_of_a_convolution_that_is_not_same_size_is_composed():
    low, skip = _t(1, 2, 4, 6), _t(1, 1, 8, 12)
    w = _t(3, 3, 3, 3)
    got = F.conv2d_fused([low, skip], w, None, 0, upsample=2)  # no padding: 6 x 10 out
    assert got.shape == (1, 3, 6, 10)
    np.testing.assert_allclose(got.numpy(), _upsampled_reference(low, skip, w, None, (0, 0), 2, False),
                               rtol=1e-5, atol=1e-4)
    with pytest.raises(ValueError, match="differ in batch or size"):
        F.conv2d_fused([low, _t(1, 1, 8, 13)], w, None, 1, upsample=2)
    with pytest.raises(ValueError, match="upsample must be >= 1"):
        F.conv2d_fused([low, skip], w, None, 1, upsample=0)


def test_upsampled_with_gradients_is_the_composition():
    low, skip = _t(1, 2, 3, 5, grad=True), _t(1, 1, 6, 10, grad=True)
    w, b = _t(2, 3, 3, 3, grad=True), _t(2, grad=True)
    out = F.conv2d_fused([low, skip], w, b, 1, relu=True, upsample=2)
    out.sum().backward()
    assert low.grad is not None and np.abs(low.grad.numpy()).sum() > 0
    np.testing.assert_allclose(out.numpy(), _upsampled_reference(low, skip, w, b, (1, 1), 2, True),
                               rtol=1e-5, atol=1e-4)
