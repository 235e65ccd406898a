"""safetensors reading/writing: real files written by the safetensors package and by hand.

Every malformed file below is one check of the reference implementation
(safetensors/src/tensor.rs); each test also asks the safetensors package itself, so we
know the file really is one the reference rejects (or accepts).
"""

from __future__ import annotations

import json
import mmap
import os
import struct
from pathlib import Path

import numpy as np
import pytest
import safetensors
import safetensors.numpy
from hypothesis import given, settings
from hypothesis import strategies as st
from safetensors import safe_open

from engine.dtype import bf16_bits_to_f32 as f32_from_bf16_bits
from engine.dtype import f32_to_bf16_bits as bf16_bits_from_f32
from engine.io import (
    RawTensor,
    WeightFormatError,
    read_safetensors,
    safetensors_index,
    save_safetensors,
)


def write_raw(
    path: Path, header: object, data: bytes = b"", *, length: int | None = None, pad: bool = True
) -> Path:
    """A safetensors file from a header (dict -> JSON, or raw bytes) and a data section."""
    body = header if isinstance(header, bytes) else json.dumps(header).encode()
    if pad:
        body += b" " * (-len(body) % 8)
    n = len(body) if length is None else length
    path.write_bytes(struct.pack("<Q", n) + body + data)
    return path


def write_bytes(path: Path, content: bytes) -> Path:
    path.write_bytes(content)
    return path


def reference_rejects(path: Path) -> bool:
    try:
        with safe_open(str(path), framework="numpy") as f:
            list(f.keys())
    except Exception:  # noqa: BLE001 -- any refusal by the reference counts
        return True
    return False


def f32(name_shape_offsets: dict) -> dict:
    return {
        name: {"dtype": "F32", "shape": shape, "data_offsets": offsets}
        for name, (shape, offsets) in name_shape_offsets.items()
    }


# ----------------------------------------------------------------------------- valid files


def test_reads_file_written_by_safetensors_package(tmp_path: Path) -> None:
    tensors = {
        "weight": np.arange(12, dtype=np.float32).reshape(3, 4),
        "bias": np.array([-1.5, 2.25], dtype=np.float64),
        "ids": np.array([[1, 2], [3, 4]], dtype=np.int64),
        "half": np.array([0.5, -2.0, 65504.0], dtype=np.float16),
        "mask": np.array([True, False, True]),
        "small": np.array([-3, 4], dtype=np.int32),
        "bytes": np.array([0, 255], dtype=np.uint8),
    }
    path = tmp_path / "model.safetensors"
    safetensors.numpy.save_file(tensors, str(path), metadata={"format": "np"})
    loaded = read_safetensors(path)
    assert set(loaded) == set(tensors)
    for name, array in tensors.items():
        np.testing.assert_array_equal(loaded[name].array, array)
        assert loaded[name].array.dtype == array.dtype
    assert loaded["half"].dtype == "f16"
    assert loaded["mask"].dtype == "bool"
    assert safetensors_index(path).metadata == {"format": "np"}


def test_bf16_written_by_torch_reads_as_exact_bits(tmp_path: Path) -> None:
    torch = pytest.importorskip("torch", reason="torch writes the bf16 reference file")
    import safetensors.torch

    values = torch.tensor([1.0, -2.5, 3.140625, 1e-3, 65280.0, float("inf")], dtype=torch.bfloat16)
    path = tmp_path / "bf16.safetensors"
    safetensors.torch.save_file({"x": values, "h": values.to(torch.float16)}, str(path))
    loaded = read_safetensors(path)
    assert loaded["x"].dtype == "bf16"
    assert loaded["x"].array.dtype == np.uint16
    np.testing.assert_array_equal(
        loaded["x"].array, values.view(torch.int16).numpy().view(np.uint16)
    )
    np.testing.assert_array_equal(f32_from_bf16_bits(loaded["x"].array), values.float().numpy())
    assert loaded["h"].dtype == "f16"
    np.testing.assert_array_equal(loaded["h"].array, values.to(torch.float16).numpy())


def test_bf16_and_f16_we_write_read_back_in_torch(tmp_path: Path) -> None:
    torch = pytest.importorskip("torch", reason="torch reads the files back as the reference")
    import safetensors.torch

    f = np.array([1.0, -0.333984375, 256.0, -1e4, 0.0], dtype=np.float32)
    path = tmp_path / "out.safetensors"
    save_safetensors(
        {"b": RawTensor(bf16_bits_from_f32(f), "bf16"), "h": f.astype(np.float16)}, path
    )
    back = safetensors.torch.load_file(str(path))
    assert back["b"].dtype == torch.bfloat16
    np.testing.assert_array_equal(
        back["b"].float().numpy(), torch.from_numpy(f).bfloat16().float().numpy()
    )
    assert back["h"].dtype == torch.float16
    np.testing.assert_array_equal(back["h"].numpy(), f.astype(np.float16))


def test_bf16_rounding_matches_torch() -> None:
    torch = pytest.importorskip("torch", reason="torch is the rounding reference")
    rng = np.random.default_rng(0)
    f = np.concatenate(
        [
            rng.normal(size=1000).astype(np.float32) * 10.0 ** rng.integers(-30, 30, 1000),
            np.array([np.inf, -np.inf, 0.0, -0.0, 3.3895314e38], np.float32),
        ]
    ).astype(np.float32)
    ours = bf16_bits_from_f32(f)
    theirs = torch.from_numpy(f).bfloat16().view(torch.int16).numpy().view(np.uint16)
    np.testing.assert_array_equal(ours, theirs)
    assert np.isnan(f32_from_bf16_bits(bf16_bits_from_f32(np.array([np.nan], np.float32))))[0]


def test_save_round_trip_with_safetensors_package(tmp_path: Path) -> None:
    tensors = {
        "a": np.arange(6, dtype=np.float32).reshape(2, 3).T,
        "b": np.zeros((0, 4), np.float32),
        "c": np.array(7, dtype=np.int64),
    }
    path = tmp_path / "x.safetensors"
    save_safetensors(tensors, path, metadata={"step": "3"})
    back = safetensors.numpy.load_file(str(path))
    for name, array in tensors.items():
        np.testing.assert_array_equal(back[name], array)
    with safe_open(str(path), framework="numpy") as f:
        assert f.metadata() == {"step": "3"}
    mine = read_safetensors(path)
    assert mine["b"].array.shape == (0, 4) and mine["c"].array.shape == ()


@settings(max_examples=40, deadline=None)
@given(
    st.dictionaries(
        st.text(min_size=1, max_size=12).filter(lambda s: s != "__metadata__"),
        st.tuples(
            st.sampled_from(["float32", "float16", "float64", "int64", "int32", "uint8", "bool"]),
            st.lists(st.integers(0, 5), max_size=3),
            st.integers(0, 2**31),
        ),
        max_size=6,
    )
)
def test_random_files_round_trip(tmp_path_factory: pytest.TempPathFactory, spec: dict) -> None:
    rng_tensors = {}
    for name, (dtype, shape, seed) in spec.items():
        rng = np.random.default_rng(seed)
        rng_tensors[name] = np.asarray(rng.normal(size=shape) * 100).astype(dtype)
    folder = tmp_path_factory.mktemp("rt")
    written_by_package = folder / "a.safetensors"
    safetensors.numpy.save_file(rng_tensors, str(written_by_package))
    written_by_us = folder / "b.safetensors"
    save_safetensors(rng_tensors, written_by_us)
    for path in (written_by_package, written_by_us):
        loaded = read_safetensors(path)
        assert set(loaded) == set(rng_tensors)
        for name, array in rng_tensors.items():
            np.testing.assert_array_equal(loaded[name].array, array)
            assert loaded[name].array.shape == array.shape
    assert written_by_us.read_bytes() == written_by_package.read_bytes()


def test_empty_file_of_tensors_and_edge_headers(tmp_path: Path) -> None:
    # No tensors at all; __metadata__ null; an unknown extra field in an entry (ignored by the reference).
    assert read_safetensors(write_raw(tmp_path / "e.safetensors", {})) == {}
    p = write_raw(
        tmp_path / "n.safetensors",
        {"__metadata__": None, **f32({"a": ([1], [0, 4])})},
        b"\0\0\x80\x3f",
    )
    assert not reference_rejects(p)
    assert read_safetensors(p)["a"].array.tolist() == [1.0]
    header = f32({"a": ([1], [0, 4])})
    header["a"]["extra"] = 1
    p = write_raw(tmp_path / "x.safetensors", header, b"\0\0\x80\x3f")
    assert not reference_rejects(p)
    assert read_safetensors(p)["a"].array.tolist() == [1.0]


def test_tensors_out_of_name_order_are_sorted_by_offset(tmp_path: Path) -> None:
    header = f32({"z": ([1], [0, 4]), "a": ([2], [4, 12])})
    data = np.array([1, 2, 3], np.float32).tobytes()
    p = write_raw(tmp_path / "o.safetensors", header, data)
    loaded = read_safetensors(p)
    assert list(loaded) == ["z", "a"]
    assert loaded["a"].array.tolist() == [2.0, 3.0]


# ----------------------------------------------------------------------------- laziness, mmap


def _backed_by_mmap(array: np.ndarray) -> bool:
    base = array
    while base is not None:
        if isinstance(base, mmap.mmap):
            return True
        base = getattr(base, "base", None)
    return False


def test_index_reads_header_only_and_loads_one_tensor(tmp_path: Path) -> None:
    a = np.arange(1000, dtype=np.float32)
    path = tmp_path / "m.safetensors"
    safetensors.numpy.save_file({"a": a, "b": np.ones((3, 2), np.float64)}, str(path))
    index = safetensors_index(path)
    assert sorted(index) == ["a", "b"] and len(index) == 2 and "a" in index and "q" not in index
    assert index.shape("b") == (3, 2)
    assert index.info("b").code == "F64" and index.info("a").dtype == "f32"
    one = index.numpy("b")
    np.testing.assert_array_equal(one, np.ones((3, 2)))
    assert _backed_by_mmap(one) and not one.flags.owndata
    with pytest.raises(KeyError, match="no tensor named 'q'"):
        index.info("q")


def test_index_shape_of_tensor_numpy_cannot_hold(tmp_path: Path) -> None:
    # An F8 tensor: header metadata is available, reading its data is a clear error.
    header = {
        "q": {"dtype": "F8_E4M3", "shape": [4], "data_offsets": [0, 4]},
        **f32({"a": ([1], [4, 8])}),
    }
    p = write_raw(tmp_path / "f8.safetensors", header, b"\1\2\3\4" + b"\0\0\x80\x3f")
    assert not reference_rejects(p)
    index = safetensors_index(p)
    assert index.shape("q") == (4,)
    assert index.numpy("a").tolist() == [1.0]
    with pytest.raises(WeightFormatError, match="F8_E4M3"):
        index.numpy("q")


def test_loaded_arrays_are_copy_on_write(tmp_path: Path) -> None:
    path = tmp_path / "w.safetensors"
    safetensors.numpy.save_file({"a": np.zeros(4, np.float32)}, str(path))
    before = path.read_bytes()
    array = read_safetensors(path)["a"].array
    array[:] = 5.0  # allowed (private copy of the pages) ...
    assert path.read_bytes() == before  # ... and never reaches the file


# ----------------------------------------------------------------------------- atomic writes


def test_save_replaces_a_file_that_is_mapped(tmp_path: Path) -> None:
    path = tmp_path / "m.safetensors"
    save_safetensors({"a": np.full(4, 1.0, np.float32)}, path)
    old = read_safetensors(path)["a"].array
    save_safetensors({"a": np.full(4, 2.0, np.float32), "b": np.ones(2, np.float32)}, path)
    assert old.tolist() == [1.0] * 4  # the old mapping still sees the old inode
    assert read_safetensors(path)["a"].array.tolist() == [2.0] * 4
    assert sorted(os.listdir(tmp_path)) == ["m.safetensors"]  # no temp file left behind


def test_saved_file_gets_the_usual_permissions(tmp_path: Path) -> None:
    umask = os.umask(0o027)
    try:
        save_safetensors({"a": np.ones(1, np.float32)}, tmp_path / "p.safetensors")
    finally:
        os.umask(umask)
    assert (tmp_path / "p.safetensors").stat().st_mode & 0o777 == 0o640


def test_failed_save_keeps_existing_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "keep.safetensors"
    save_safetensors({"a": np.ones(2, np.float32)}, path)
    before = path.read_bytes()

    def broken(specs, filename, metadata=None):
        Path(filename).write_bytes(b"partial")
        raise safetensors.SafetensorError("disk full")

    monkeypatch.setattr(safetensors, "serialize_file", broken)
    with pytest.raises(
        WeightFormatError, match="keep.safetensors: cannot write safetensors: disk full"
    ):
        save_safetensors({"a": np.zeros(2, np.float32)}, path)
    assert path.read_bytes() == before
    assert sorted(os.listdir(tmp_path)) == ["keep.safetensors"]


def test_save_rejects_bad_arguments(tmp_path: Path) -> None:
    path = tmp_path / "bad.safetensors"
    with pytest.raises(TypeError, match="metadata"):
        save_safetensors({"a": np.ones(1, np.float32)}, path, metadata={"k": 1})
    with pytest.raises(ValueError, match="reserved"):
        save_safetensors({"__metadata__": np.ones(1, np.float32)}, path)
    with pytest.raises(TypeError, match="'s'"):
        save_safetensors({"s": np.array(["text"])}, path)
    with pytest.raises(TypeError, match="names must be strings"):
        save_safetensors({1: np.ones(1, np.float32)}, path)
    assert not path.exists()


# ----------------------------------------------------------------------------- malformed files
# One case per check of the reference implementation, plus our own duplicate-name check.

CASES = {
    # name: (builder(tmp) -> path, expected message fragment)
    "too small": (lambda d: write_bytes(d / "f", b"\x01\x02\x03"), "too small to hold"),
    "empty file": (lambda d: write_bytes(d / "f", b""), "0 bytes, too small"),
    "header too large": (
        lambda d: write_raw(d / "f", {}, length=100_000_001),
        "exceeds the 100000000-byte",
    ),
    "header past end": (
        lambda d: write_raw(d / "f", {}, length=4096),
        "runs past the end of the file",
    ),
    "invalid utf-8": (lambda d: write_raw(d / "f", b'{"\xff\xfe": 1}'), "not valid UTF-8"),
    "invalid json": (lambda d: write_raw(d / "f", b'{"a": {"dtype": '), "not valid JSON"),
    "trailing garbage in json": (lambda d: write_raw(d / "f", b"{}x"), "not valid JSON"),
    "nan in json": (
        lambda d: write_raw(
            d / "f", b'{"a": {"dtype": "F32", "shape": [NaN], "data_offsets": [0, 4]}}', b"\0" * 4
        ),
        "not valid JSON",
    ),
    "json not an object": (lambda d: write_raw(d / "f", b"[1, 2]"), "must be a JSON object"),
    "entry not an object": (lambda d: write_raw(d / "f", {"a": [1, 2]}), "must be an object"),
    "metadata not strings": (
        lambda d: write_raw(d / "f", {"__metadata__": {"k": 1}}),
        "map strings to strings",
    ),
    "missing shape": (
        lambda d: write_raw(d / "f", {"a": {"dtype": "F32", "data_offsets": [0, 4]}}, b"\0" * 4),
        "missing 'shape'",
    ),
    "unknown dtype": (
        lambda d: write_raw(
            d / "f", {"a": {"dtype": "F33", "shape": [1], "data_offsets": [0, 4]}}, b"\0" * 4
        ),
        "unknown dtype 'F33'",
    ),
    "negative dim": (
        lambda d: write_raw(d / "f", f32({"a": ([-1], [0, 4])}), b"\0" * 4),
        "invalid shape",
    ),
    "float dim": (
        lambda d: write_raw(d / "f", f32({"a": ([1.0], [0, 4])}), b"\0" * 4),
        "invalid shape",
    ),
    "bool dim": (
        lambda d: write_raw(d / "f", f32({"a": ([True], [0, 4])}), b"\0" * 4),
        "invalid shape",
    ),
    "three offsets": (
        lambda d: write_raw(d / "f", f32({"a": ([1], [0, 4, 8])}), b"\0" * 4),
        "invalid data_offsets",
    ),
    "negative offset": (
        lambda d: write_raw(d / "f", f32({"a": ([1], [-4, 0])}), b"\0" * 4),
        "invalid data_offsets",
    ),
    "gap between tensors": (
        lambda d: write_raw(d / "f", f32({"a": ([1], [0, 4]), "b": ([1], [8, 12])}), b"\0" * 12),
        "belong to no tensor",
    ),
    "first tensor not at 0": (
        lambda d: write_raw(d / "f", f32({"a": ([1], [4, 8])}), b"\0" * 8),
        "belong to no tensor",
    ),
    "overlapping tensors": (
        lambda d: write_raw(d / "f", f32({"a": ([2], [0, 8]), "b": ([2], [4, 12])}), b"\0" * 12),
        "overlap tensor 'a'",
    ),
    "end before begin": (
        lambda d: write_raw(d / "f", f32({"a": ([0], [0, 0]), "b": ([1], [8, 4])}), b"\0" * 8),
        "end before begin",
    ),
    "size not dtype x shape": (
        lambda d: write_raw(d / "f", f32({"a": ([2], [0, 4])}), b"\0" * 4),
        "cover 4 bytes but F32 x [2] needs 8 bytes",
    ),
    "shape overflow": (
        lambda d: write_raw(d / "f", f32({"a": ([2**40, 2**40], [0, 4])}), b"\0" * 4),
        "overflows",
    ),
    "shape overflow before a zero dim": (
        lambda d: write_raw(d / "f", f32({"a": ([2**40, 2**40, 0], [0, 0])})),
        "overflows",
    ),
    "sub-byte misaligned": (
        lambda d: write_raw(
            d / "f", {"a": {"dtype": "F4", "shape": [3], "data_offsets": [0, 2]}}, b"\0" * 2
        ),
        "byte boundary",
    ),
    "trailing bytes": (
        lambda d: write_raw(d / "f", f32({"a": ([1], [0, 4])}), b"\0" * 6),
        "2 trailing bytes after the last tensor",
    ),
    "truncated data": (
        lambda d: write_raw(d / "f", f32({"a": ([4], [0, 16])}), b"\0" * 10),
        "truncated: tensors need 16 bytes of data but only 10",
    ),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_malformed_file_is_rejected_like_the_reference(tmp_path: Path, case: str) -> None:
    build, message = CASES[case]
    path = build(tmp_path)
    with pytest.raises(WeightFormatError) as info:
        safetensors_index(path)
    text = str(info.value)
    assert text.startswith(f"{path}: "), text
    assert message in text, text
    assert info.value.path == str(path)
    assert isinstance(info.value, ValueError)
    # Our check matches a real check: the reference implementation rejects the file too.
    assert reference_rejects(path), f"the safetensors package accepts {case!r}"


def test_duplicate_names_are_refused(tmp_path: Path) -> None:
    # Stricter than the reference (which silently keeps the last entry): the file is ambiguous.
    body = (
        b'{"a": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]}, '
        b'"a": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]}}'
    )
    path = write_raw(tmp_path / "dup.safetensors", body, b"\0" * 4)
    with pytest.raises(WeightFormatError, match="names tensor 'a' more than once"):
        read_safetensors(path)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(WeightFormatError, match="cannot read file"):
        read_safetensors(tmp_path / "absent.safetensors")


def test_unaligned_offsets_still_read_correctly(tmp_path: Path) -> None:
    # A hand-made file whose f32 tensor starts at an odd address: the reference accepts it.
    header = {
        "u": {"dtype": "U8", "shape": [1], "data_offsets": [0, 1]},
        **f32({"a": ([2], [1, 9])}),
    }
    p = write_raw(
        tmp_path / "odd.safetensors", header, b"\7" + np.array([1.5, -2], np.float32).tobytes()
    )
    assert not reference_rejects(p)
    a = read_safetensors(p)["a"].array
    assert a.flags.aligned and a.tolist() == [1.5, -2.0]


def test_reference_is_asked_for_a_second_opinion(tmp_path: Path) -> None:
    # A lone surrogate escape: Python's json accepts it, the reference's serde_json does
    # not. The package's verdict wins, reported with the file name.
    body = b'{"\\ud800": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]}}'
    path = write_raw(tmp_path / "surrogate.safetensors", body, b"\0" * 4)
    with pytest.raises(
        WeightFormatError, match=r"surrogate\.safetensors: rejected by the safetensors package"
    ):
        safetensors_index(path)


def test_unicode_names_are_fine(tmp_path: Path) -> None:
    path = tmp_path / "u.safetensors"
    save_safetensors({"größe.ß": np.ones(1, np.float32), "名前": np.zeros(2, np.float32)}, path)
    assert sorted(read_safetensors(path)) == sorted(["größe.ß", "名前"])
