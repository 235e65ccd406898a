"""Weight formats: safetensors, npz and PyTorch checkpoints in, safetensors out.

Each format has one module that reads files into ``RawTensor``s (numpy arrays in the
file's element type, bf16 as uint16 bits); the functions here turn those into engine
Tensors. Every problem with a file raises ``WeightFormatError`` naming the file.

    load_safetensors(path, device="cpu") -> dict[str, Tensor]   memory-mapped, validated
    safetensors_index(path) -> SafetensorsIndex                 lazy: names/shapes, one tensor at a time
    save_safetensors(tensors, path, metadata=None)              atomic write
    load_npz(path, device="cpu") -> dict[str, Tensor]
    load_torch(path, device="cpu", key=None) -> dict[str, Tensor]   restricted unpickler, never runs code
"""

from __future__ import annotations

import os
from typing import Any

from .convert import to_engine
from .dtypes import RawTensor
from .errors import WeightFormatError
from .npz_file import read_npz
from .safetensors_file import (
    SafetensorsIndex,
    read_safetensors,
    safetensors_index,
    save_safetensors,
)
from .torch_file import RestrictedUnpickler, read_torch

__all__ = [
    "RawTensor",
    "RestrictedUnpickler",
    "SafetensorsIndex",
    "WeightFormatError",
    "load_npz",
    "load_safetensors",
    "load_torch",
    "read_npz",
    "read_safetensors",
    "read_torch",
    "safetensors_index",
    "save_safetensors",
]


def _to_tensors(
    raws: dict[str, RawTensor], path: str | os.PathLike[str], device: Any
) -> dict[str, Any]:
    return {name: to_engine(raw, repr(name), path, device) for name, raw in raws.items()}


def load_safetensors(path: str | os.PathLike[str], device: Any = "cpu") -> dict[str, Any]:
    """All tensors of a safetensors file, in file order.

    The file is memory-mapped: on the CPU, tensors share its pages (copy-on-write), so
    loading is cheap and only what is used gets read. Use ``safetensors_index`` to pick
    single tensors without creating the others.
    """
    return _to_tensors(read_safetensors(path), path, device)


def load_npz(path: str | os.PathLike[str], device: Any = "cpu") -> dict[str, Any]:
    """All arrays of an .npz archive as Tensors (object arrays are refused, never unpickled)."""
    return _to_tensors(read_npz(path), path, device)


def load_torch(
    path: str | os.PathLike[str], device: Any = "cpu", key: str | None = None
) -> dict[str, Any]:
    """Tensors of a PyTorch .bin/.pt checkpoint, read without torch and without running code.

    Any object in the pickle other than tensors, containers and plain values makes this
    raise WeightFormatError before anything is executed. Nested checkpoints are flattened
    with dots; ``key`` picks one top-level entry first (e.g. ``"state_dict"``).
    """
    return _to_tensors(read_torch(path, key=key), path, device)
