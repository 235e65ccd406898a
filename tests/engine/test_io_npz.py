"""npz archives: np.savez / np.savez_compressed files, and the ones we must refuse."""

from __future__ import annotations

import zipfile
from pathlib import Path

import numpy as np
import pytest

from engine.io import WeightFormatError, read_npz


@pytest.mark.parametrize("writer", [np.savez, np.savez_compressed], ids=["savez", "compressed"])
def test_reads_npz(tmp_path: Path, writer) -> None:
    arrays = {
        "encoder.weight": np.arange(12, dtype=np.float32).reshape(3, 4),
        "ids": np.array([1, -2], dtype=np.int64),
        "half": np.array([0.5], dtype=np.float16),
        "big_endian": np.array([1.25, 2.5], dtype=">f8"),
        "flag": np.array([True, False]),
        "scalar": np.array(3.0, dtype=np.float64),
    }
    path = tmp_path / "w.npz"
    writer(path, **arrays)
    out = read_npz(path)
    assert set(out) == set(arrays)
    for name, array in arrays.items():
        np.testing.assert_array_equal(out[name].array, array)
        assert out[name].array.shape == array.shape
        assert out[name].array.dtype.isnative
    assert out["half"].dtype == "f16" and out["flag"].dtype == "bool" and out["ids"].dtype == "i64"


def test_object_arrays_are_refused_not_unpickled(tmp_path: Path) -> None:
    path = tmp_path / "obj.npz"
    np.savez(path, ok=np.ones(2), bad=np.array([{"a": 1}, None], dtype=object))
    with pytest.raises(
        WeightFormatError,
        match=r"obj\.npz: array 'bad' cannot be read: Object arrays cannot be loaded",
    ):
        read_npz(path)


def test_non_numeric_arrays_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "s.npz"
    np.savez(path, names=np.array(["a", "b"]))
    with pytest.raises(WeightFormatError, match="array 'names' has dtype <U1"):
        read_npz(path)


def test_not_an_npz(tmp_path: Path) -> None:
    junk = tmp_path / "junk.npz"
    junk.write_bytes(b"not a zip at all")
    with pytest.raises(WeightFormatError, match="not an .npz archive"):
        read_npz(junk)
    broken = tmp_path / "broken.npz"
    with zipfile.ZipFile(broken, "w") as z:
        z.writestr("w.npy", b"\x93NUMPY garbage")
    with pytest.raises(WeightFormatError, match="broken.npz: array 'w' cannot be read"):
        read_npz(broken)
    with pytest.raises(WeightFormatError, match="no such file"):
        read_npz(tmp_path / "absent.npz")
