"""The boundary between file data (numpy arrays in file types) and engine Tensors.

The format readers never build Tensors themselves: they return ``RawTensor``s, and
this module turns them into Tensors (and Tensors back into arrays for writing).
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np

from ..creation import from_numpy
from ..dtype import f32_to_bf16_bits, from_name
from .dtypes import RawTensor, engine_compatible, name_of_numpy
from .errors import WeightFormatError


def to_engine(raw: RawTensor, what: str, path: str | os.PathLike[str], device: Any = "cpu") -> Any:
    """A RawTensor as an engine Tensor on ``device``; errors name ``path`` and ``what``."""
    try:
        raw = engine_compatible(raw, what)
    except ValueError as e:
        raise WeightFormatError(path, str(e)) from e
    # Zero-copy: the Tensor shares the array's (memory-mapped) buffer; for bf16 the
    # engine takes the uint16 array as raw bits when told the dtype.
    tensor = from_numpy(raw.array, dtype=from_name(raw.dtype))
    if str(device) != "cpu":
        tensor = tensor.to(device)
    return tensor


def from_engine(tensor: Any, what: str) -> RawTensor:
    """An engine Tensor (or anything with .dtype and .numpy()) as a RawTensor for writing."""
    dtype_name = getattr(getattr(tensor, "dtype", None), "name", None)
    if dtype_name is None or not hasattr(tensor, "numpy"):
        raise TypeError(
            f"tensor {what!r}: expected an engine Tensor or numpy array, got {type(tensor).__name__}"
        )
    values = np.asarray(tensor.numpy())
    if str(dtype_name).lower() in ("bf16", "bfloat16"):
        return RawTensor(f32_to_bf16_bits(values), "bf16")
    name = name_of_numpy(values.dtype)
    if name is None:
        raise TypeError(f"tensor {what!r}: unsupported element type {values.dtype}")
    return RawTensor(values, name)
