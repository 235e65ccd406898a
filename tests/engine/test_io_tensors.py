"""engine.io at the Tensor boundary: files in, engine Tensors out, and engine Tensors saved."""

from __future__ import annotations

from collections import OrderedDict
from pathlib import Path

import numpy as np
import pytest
import safetensors.numpy

import engine
import engine.io
from engine.dtype import bf16_bits_to_f32 as f32_from_bf16_bits
from engine.dtype import f32_to_bf16_bits as bf16_bits_from_f32
from engine.io import WeightFormatError

try:
    import torch
except ImportError:  # the reference extra is not installed
    torch = None
needs_torch = pytest.mark.skipif(torch is None, reason="torch (the reference) is not installed")


def test_top_level_names_are_the_io_functions() -> None:
    for name in (
        "load_safetensors",
        "safetensors_index",
        "save_safetensors",
        "load_npz",
        "load_torch",
        "WeightFormatError",
    ):
        assert getattr(engine, name) is getattr(engine.io, name), name


def test_load_safetensors_gives_engine_tensors(tmp_path: Path) -> None:
    path = tmp_path / "m.safetensors"
    weight = np.arange(12, dtype=np.float32).reshape(3, 4)
    safetensors.numpy.save_file(
        {
            "w": weight,
            "h": np.array([0.5, -1.0], np.float16),
            "ids": np.array([3, 4], np.int64),
            "i32": np.array([-5, 6], np.int32),
            "mask": np.array([True, False]),
            "u8": np.array([0, 255], np.uint8),
            "d": np.array([1e-300], np.float64),
        },
        str(path),
    )
    out = engine.io.load_safetensors(path)
    assert out["w"].dtype is engine.f32 and out["w"].shape == (3, 4)
    np.testing.assert_array_equal(out["w"].numpy(), weight)
    assert out["h"].dtype is engine.f16
    np.testing.assert_array_equal(out["h"].numpy().astype(np.float32), [0.5, -1.0])
    assert out["ids"].dtype is engine.i64
    # Types the engine lacks are widened without loss.
    assert out["i32"].dtype is engine.i64 and out["i32"].numpy().tolist() == [-5, 6]
    assert out["mask"].dtype is engine.u8 and out["mask"].numpy().tolist() == [1, 0]
    assert out["u8"].dtype is engine.u8 and out["d"].dtype is engine.f64


def test_bf16_file_loads_as_bf16_tensor(tmp_path: Path) -> None:
    values = np.array([1.0, -2.5, 3.140625, 65280.0], np.float32)
    path = tmp_path / "b.safetensors"
    engine.io.save_safetensors({"x": engine.io.RawTensor(bf16_bits_from_f32(values), "bf16")}, path)
    t = engine.io.load_safetensors(path)["x"]
    assert t.dtype is engine.bf16
    np.testing.assert_array_equal(np.asarray(t.to(engine.f32).numpy()), values)


def test_index_loads_one_tensor_as_a_tensor(tmp_path: Path) -> None:
    path = tmp_path / "i.safetensors"
    safetensors.numpy.save_file(
        {"a": np.ones((2, 2), np.float32), "b": np.arange(3, dtype=np.int32)}, str(path)
    )
    index = engine.io.safetensors_index(path)
    assert set(index.keys()) == {"a", "b"}
    assert index.dtype("b") is engine.i64 and index.shape("b") == (3,)
    b = index["b"]
    assert b.dtype is engine.i64 and b.numpy().tolist() == [0, 1, 2]


def test_unsupported_element_type_names_file_and_tensor(tmp_path: Path) -> None:
    path = tmp_path / "c.safetensors"
    safetensors.numpy.save_file({"z": np.array([1 + 2j], np.complex64)}, str(path))
    with pytest.raises(WeightFormatError, match=r"c\.safetensors: tensor 'z' has element type c64"):
        engine.io.load_safetensors(path)


def test_save_engine_tensors_round_trip(tmp_path: Path) -> None:
    a = engine.tensor(np.arange(6, dtype=np.float32).reshape(2, 3))
    tensors = {
        "a": a,
        "a_t": a.T,  # a strided view is written contiguously
        "half": engine.tensor([0.5, 1.5], dtype=engine.f16),
        "bf": engine.tensor([1.0, -0.333984375, 256.0], dtype=engine.bf16),
        "ids": engine.tensor([1, 2, 3], dtype=engine.i64),
    }
    path = tmp_path / "s.safetensors"
    engine.io.save_safetensors(tensors, path, metadata={"format": "engine"})
    index = engine.io.safetensors_index(path)
    assert index.metadata == {"format": "engine"}
    assert index.info("bf").code == "BF16" and index.info("half").code == "F16"
    back = engine.io.load_safetensors(path)
    for name, t in tensors.items():
        assert back[name].dtype is t.dtype, name
        np.testing.assert_array_equal(
            np.asarray(back[name].to(engine.f32).numpy()),
            np.asarray(t.to(engine.f32).numpy()),
            err_msg=name,
        )
    np.testing.assert_array_equal(f32_from_bf16_bits(index.numpy("bf")), [1.0, -0.333984375, 256.0])


@needs_torch
def test_saved_bf16_reads_in_torch(tmp_path: Path) -> None:
    import safetensors.torch

    path = tmp_path / "t.safetensors"
    engine.io.save_safetensors({"bf": engine.tensor([1.0, -2.0, 0.1], dtype=engine.bf16)}, path)
    back = safetensors.torch.load_file(str(path))["bf"]
    assert back.dtype == torch.bfloat16
    assert back.tolist() == torch.tensor([1.0, -2.0, 0.1]).bfloat16().tolist()


@needs_torch
def test_load_torch_gives_engine_tensors(tmp_path: Path) -> None:
    sd = OrderedDict(
        w=torch.randn(3, 4), b=torch.randn(4).bfloat16(), n=torch.tensor([1, 2], dtype=torch.int32)
    )
    path = tmp_path / "pytorch_model.bin"
    torch.save(sd, path)
    out = engine.io.load_torch(path)
    assert out["w"].dtype is engine.f32
    np.testing.assert_array_equal(out["w"].numpy(), sd["w"].numpy())
    assert out["b"].dtype is engine.bf16
    np.testing.assert_array_equal(
        np.asarray(out["b"].to(engine.f32).numpy()), sd["b"].float().numpy()
    )
    assert out["n"].dtype is engine.i64 and out["n"].numpy().tolist() == [1, 2]


def test_load_npz_gives_engine_tensors(tmp_path: Path) -> None:
    path = tmp_path / "w.npz"
    np.savez(path, w=np.eye(2, dtype=np.float32), k=np.array([7], np.int64))
    out = engine.io.load_npz(path)
    assert out["w"].dtype is engine.f32 and out["k"].dtype is engine.i64
    np.testing.assert_array_equal(out["w"].numpy(), np.eye(2))
