"""Element types of the engine.

Each DType knows its storage numpy dtype and the numpy dtype kernels compute in.
Half types are storage formats: bf16 is kept as raw uint16 bits (numpy has no
bfloat16) and f16 as numpy float16; both are widened to f32 for compute.
"""

from __future__ import annotations

import numpy as np

__all__ = [
    "DType",
    "bf16",
    "f16",
    "f32",
    "f64",
    "from_name",
    "from_numpy",
    "i64",
    "of_values",
    "promote",
    "to_storage",
    "u8",
    "u32",
]


class DType:
    """An element type. Compare with `is` or `==`; instances are unique."""

    __slots__ = ("_rank", "compute", "is_float", "is_half", "itemsize", "name", "numpy")

    def __init__(self, name: str, storage: str, compute: str, is_float: bool, rank: int) -> None:
        self.name = name
        self.numpy = np.dtype(storage)  # how elements are stored
        self.compute = np.dtype(compute)  # how kernels see them
        self.itemsize = self.numpy.itemsize
        self.is_float = is_float
        self.is_half = name in ("f16", "bf16")
        self._rank = rank  # position in the promotion order

    def __repr__(self) -> str:
        return f"engine.{self.name}"

    def __reduce__(self):  # pickle as a reference to the singleton
        return (from_name, (self.name,))


u8 = DType("u8", "uint8", "uint8", False, 0)
u32 = DType("u32", "uint32", "uint32", False, 1)
i64 = DType("i64", "int64", "int64", False, 2)
f16 = DType("f16", "float16", "float32", True, 3)
bf16 = DType("bf16", "uint16", "float32", True, 3)
f32 = DType("f32", "float32", "float32", True, 4)
f64 = DType("f64", "float64", "float64", True, 5)

ALL = (u8, u32, i64, f16, bf16, f32, f64)

_BY_NUMPY = {np.dtype("uint8"): u8, np.dtype("bool"): u8, np.dtype("uint32"): u32,
             np.dtype("int64"): i64, np.dtype("float16"): f16, np.dtype("float32"): f32,
             np.dtype("float64"): f64}

_ALIASES = {
    "u8": u8, "uint8": u8, "bool": u8,
    "u32": u32, "uint32": u32,
    "i64": i64, "int64": i64, "long": i64,
    "f16": f16, "float16": f16, "half": f16,
    "bf16": bf16, "bfloat16": bf16,
    "f32": f32, "float32": f32, "float": f32,
    "f64": f64, "float64": f64, "double": f64,
}


def from_numpy(dt: np.dtype | type) -> DType:
    """The engine dtype whose storage is numpy dtype `dt` (bool maps to u8).

    uint16 is ambiguous (it is how bf16 is stored) and is rejected; say
    `from_numpy(arr, dtype=engine.bf16)` on the tensor side instead.
    """
    dt = np.dtype(dt)
    try:
        return _BY_NUMPY[dt]
    except KeyError:
        raise TypeError(f"numpy dtype {dt} has no engine dtype (supported: uint8, bool, uint32, "
                        f"int64, float16, float32, float64)") from None


def from_name(name: str) -> DType:
    """Parse a dtype name: engine names (f32), numpy names (float32) or safetensors
    names (F32, BF16, I64, U8 ...), case-insensitive."""
    key = name.lower()
    key = key.removeprefix("torch.")
    if key in _ALIASES:
        return _ALIASES[key]
    raise TypeError(f"unknown dtype name {name!r}")


def as_dtype(dt) -> DType:
    """Accept a DType, a name or a numpy dtype."""
    if isinstance(dt, DType):
        return dt
    if isinstance(dt, str):
        return from_name(dt)
    return from_numpy(dt)


def promote(a: DType, b: DType) -> DType:
    """The result dtype of a binary op between two tensors (PyTorch-like rules)."""
    if a is b:
        return a
    if a.is_half and b.is_half:  # f16 with bf16: neither holds the other
        return f32
    return a if a._rank > b._rank else b


# ---- bf16 <-> f32 conversions on whole arrays (numpy, round to nearest even) ----

def bf16_bits_to_f32(bits: np.ndarray) -> np.ndarray:
    """Widen raw bf16 bits (uint16) to float32 values (exact)."""
    return (np.asarray(bits, dtype=np.uint16).astype(np.uint32) << np.uint32(16)).view(np.float32)


def f32_to_bf16_bits(values: np.ndarray) -> np.ndarray:
    """Narrow float32 values to bf16 bits, rounding to nearest even; NaN stays NaN."""
    v = np.ascontiguousarray(values, dtype=np.float32)
    bits = v.view(np.uint32)
    rounding = ((bits >> np.uint32(16)) & np.uint32(1)) + np.uint32(0x7FFF)
    out = ((bits + rounding) >> np.uint32(16)).astype(np.uint16)
    nan = np.isnan(v)
    if nan.any():  # keep NaN a quiet NaN: rounding could carry its payload into infinity
        out[nan] = ((bits[nan] >> np.uint32(16)) | np.uint32(0x0040)).astype(np.uint16)
    return out


def to_storage(values: np.ndarray, dtype: DType) -> np.ndarray:
    """Values -> a fresh C-contiguous array in dtype's storage format (bf16 as bits)."""
    if dtype is bf16:
        return f32_to_bf16_bits(values.astype(np.float32, copy=False)).reshape(values.shape)
    return np.array(values, dtype=dtype.numpy, order="C", copy=True)


def of_values(values: np.ndarray) -> DType:
    """The dtype a tensor made from `values` gets when none is asked for: floating data
    (float64 included) -> f32, integers -> i64 (uint8 stays u8), bools -> u8."""
    if values.dtype.kind == "b":
        return u8
    if values.dtype.kind in "iu":
        return i64 if values.dtype != np.uint8 else u8
    if values.dtype.kind == "f":
        return f32
    raise TypeError(f"cannot make a tensor from data of numpy dtype {values.dtype}")
