"""DTypes (incl. bf16 stored as uint16 and widened for compute, f16) and devices."""

from __future__ import annotations

import numpy as np
import pytest

import engine
from engine.device import Device
from engine.dtype import bf16_bits_to_f32, f32_to_bf16_bits, from_name, from_numpy, promote


def test_dtype_objects_carry_numpy_mapping_and_size() -> None:
    expected = {engine.u8: ("uint8", 1), engine.u32: ("uint32", 4), engine.i64: ("int64", 8),
                engine.f16: ("float16", 2), engine.bf16: ("uint16", 2),
                engine.f32: ("float32", 4), engine.f64: ("float64", 8)}
    for dt, (np_name, size) in expected.items():
        assert dt.numpy == np.dtype(np_name)
        assert dt.itemsize == size
    assert engine.bf16.compute == np.float32 and engine.f16.compute == np.float32
    assert engine.f32.is_float and not engine.i64.is_float and engine.bf16.is_half


def test_dtype_names_and_numpy_lookup() -> None:
    assert from_name("F32") is engine.f32 and from_name("bfloat16") is engine.bf16
    assert from_name("BF16") is engine.bf16 and from_name("I64") is engine.i64
    assert from_name("torch.float16") is engine.f16 and from_name("U8") is engine.u8
    assert from_numpy(np.float64) is engine.f64 and from_numpy(np.bool_) is engine.u8
    with pytest.raises(TypeError, match="uint16"):
        from_numpy(np.uint16)
    with pytest.raises(TypeError, match="unknown dtype"):
        from_name("complex64")


def test_promotion_rules() -> None:
    assert promote(engine.f32, engine.f64) is engine.f64
    assert promote(engine.i64, engine.f32) is engine.f32
    assert promote(engine.bf16, engine.f16) is engine.f32
    assert promote(engine.u8, engine.i64) is engine.i64
    x = engine.tensor([1, 2], dtype=engine.i64) + engine.tensor([0.5, 0.5])
    assert x.dtype is engine.f32 and x.tolist() == [1.5, 2.5]


def test_bf16_is_stored_as_uint16_and_rounds_to_nearest_even() -> None:
    vals = np.array([1.0, -2.5, 3.140625, 1.00390625, 1.01171875, 65504.0, np.inf, -np.inf],
                    np.float32)
    t = engine.tensor(vals, dtype=engine.bf16)
    assert t.np.dtype == np.uint16  # raw storage
    out = t.numpy()
    assert out.dtype == np.float32
    # 1 + 2^-8 is exactly between two bf16 values: ties go to the even one (1.0);
    # 1 + 3*2^-8 goes up to 1 + 2^-6.
    np.testing.assert_array_equal(out, [1.0, -2.5, 3.140625, 1.0, 1.015625, 65536.0, np.inf,
                                        -np.inf])
    assert np.isnan(bf16_bits_to_f32(f32_to_bf16_bits(np.array([np.nan], np.float32))))[0]


def test_bf16_and_f16_compute_is_widened() -> None:
    rng = np.random.default_rng(0)
    a = rng.standard_normal((4, 5)).astype(np.float32)
    b = rng.standard_normal((5, 3)).astype(np.float32)
    for dt, tol in ((engine.bf16, 3e-2), (engine.f16, 3e-3)):
        ta, tb = engine.tensor(a, dtype=dt), engine.tensor(b, dtype=dt)
        aw, bw = ta.float().numpy(), tb.float().numpy()
        prod = ta @ tb
        assert prod.dtype is dt
        np.testing.assert_allclose(prod.float().numpy(), aw @ bw, rtol=tol, atol=tol)
        s = (ta * 2 + 1).exp().sum(-1)
        assert s.dtype is dt
        np.testing.assert_allclose(s.float().numpy(), np.exp(aw * 2 + 1).sum(-1), rtol=tol)
        sm = ta.softmax(-1)
        np.testing.assert_allclose(sm.float().numpy().sum(-1), 1.0, atol=tol)
    f16 = engine.tensor(a, dtype=engine.f16)
    assert f16.numpy().dtype == np.float16


def test_casts_between_all_dtypes() -> None:
    x = engine.tensor([0.0, 1.7, 2.2, 200.9])
    assert x.to(engine.i64).tolist() == [0, 1, 2, 200]
    assert x.to(engine.u8).tolist() == [0, 1, 2, 200]
    assert x.to(engine.u32).dtype is engine.u32
    back = x.to(engine.bf16).to(engine.f16).to(engine.f64)
    np.testing.assert_allclose(back.numpy(), [0, 1.7, 2.2, 200.9], rtol=1e-2)
    assert x.to("f64").dtype is engine.f64 and x.double().dtype is engine.f64


def test_device_parse_and_best(monkeypatch) -> None:
    assert Device.parse("cpu") is Device("cpu")
    assert Device.parse("cuda:1") == Device("cuda", 1) and str(Device("cuda", 1)) == "cuda:1"
    with pytest.raises(ValueError, match="cannot parse device"):
        Device.parse("tpu")
    monkeypatch.setenv("TABLESCRIBE_DEVICE", "cpu")
    assert Device.best() is Device("cpu")
    monkeypatch.delenv("TABLESCRIBE_DEVICE")
    expected = Device("cuda", 0) if Device.cuda_available() else Device("cpu")
    assert Device.best() is expected
    if not Device.cuda_available():
        monkeypatch.setenv("TABLESCRIBE_DEVICE", "cuda")
        with pytest.raises(RuntimeError, match="no usable GPU"):
            Device.best()


def test_moving_to_a_missing_gpu_is_a_clear_error() -> None:
    if Device.cuda_available():
        pytest.skip("a GPU is present; the CUDA backend's tests cover moves")
    with pytest.raises(RuntimeError, match="no usable GPU"):
        engine.ones(3).to("cuda")
