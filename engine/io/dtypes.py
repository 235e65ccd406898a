"""Element types as weight files spell them, and how each maps onto numpy and the engine.

Readers keep a tensor's file type exactly (``RawTensor``); only at the API boundary
is it turned into an engine dtype (``engine_compatible``). The engine has u8, u32,
i64, f16, bf16, f32 and f64. Integer and bool types the engine lacks are widened
losslessly; types no wider engine type can hold exactly (complex, fp8, fp4, fp6)
are refused with the tensor's name rather than silently rounded.

bf16 has no numpy dtype: its bits are kept in a ``uint16`` array and the name
"bf16" travels with it (the conversions are engine.dtype's f32_to_bf16_bits and
bf16_bits_to_f32).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class FileDType:
    """One element type: our short name, bits per element, its little-endian numpy storage."""

    name: str
    bits: int
    numpy: np.dtype | None  # None: numpy cannot hold it (fp8, fp4, fp6)


def _dt(name: str, bits: int, numpy_code: str | None) -> FileDType:
    return FileDType(name, bits, np.dtype(numpy_code) if numpy_code else None)


# Short names follow the engine's (u8, f32, bf16 ...) so the common ones pass through unchanged.
DTYPES: dict[str, FileDType] = {
    d.name: d
    for d in (
        _dt("bool", 8, "|b1"),
        _dt("u8", 8, "|u1"),
        _dt("i8", 8, "|i1"),
        _dt("i16", 16, "<i2"),
        _dt("u16", 16, "<u2"),
        _dt("f16", 16, "<f2"),
        _dt("bf16", 16, "<u2"),  # raw bits
        _dt("i32", 32, "<i4"),
        _dt("u32", 32, "<u4"),
        _dt("f32", 32, "<f4"),
        _dt("i64", 64, "<i8"),
        _dt("u64", 64, "<u8"),
        _dt("f64", 64, "<f8"),
        _dt("c64", 64, "<c8"),
        _dt("c128", 128, "<c16"),
        _dt("f8_e5m2", 8, None),
        _dt("f8_e4m3", 8, None),
        _dt("f8_e8m0", 8, None),
        _dt("f8_e4m3fnuz", 8, None),
        _dt("f8_e5m2fnuz", 8, None),
        _dt("f4", 4, None),
        _dt("f6_e2m3", 6, None),
        _dt("f6_e3m2", 6, None),
    )
}

# The safetensors header codes (safetensors/src/tensor.rs, enum Dtype) -> our names.
SAFETENSORS_CODES: dict[str, str] = {
    "BOOL": "bool",
    "U8": "u8",
    "I8": "i8",
    "I16": "i16",
    "U16": "u16",
    "F16": "f16",
    "BF16": "bf16",
    "I32": "i32",
    "U32": "u32",
    "F32": "f32",
    "I64": "i64",
    "U64": "u64",
    "F64": "f64",
    "C64": "c64",
    "F8_E5M2": "f8_e5m2",
    "F8_E4M3": "f8_e4m3",
    "F8_E8M0": "f8_e8m0",
    "F8_E4M3FNUZ": "f8_e4m3fnuz",
    "F8_E5M2FNUZ": "f8_e5m2fnuz",
    "F4": "f4",
    "F6_E2M3": "f6_e2m3",
    "F6_E3M2": "f6_e3m2",
}

# Our names -> the dtype strings `safetensors.TensorSpec` accepts when writing.
SAFETENSORS_SPEC_NAMES: dict[str, str] = {
    "bool": "bool",
    "u8": "uint8",
    "i8": "int8",
    "i16": "int16",
    "u16": "uint16",
    "f16": "float16",
    "bf16": "bfloat16",
    "i32": "int32",
    "u32": "uint32",
    "f32": "float32",
    "i64": "int64",
    "u64": "uint64",
    "f64": "float64",
    "c64": "complex64",
}

# numpy dtype (native or not) -> our name, for arrays handed to save_safetensors.
_NUMPY_KINDS: dict[tuple[str, int], str] = {
    ("b", 1): "bool",
    ("u", 1): "u8",
    ("i", 1): "i8",
    ("i", 2): "i16",
    ("u", 2): "u16",
    ("f", 2): "f16",
    ("i", 4): "i32",
    ("u", 4): "u32",
    ("f", 4): "f32",
    ("i", 8): "i64",
    ("u", 8): "u64",
    ("f", 8): "f64",
    ("c", 8): "c64",
    ("c", 16): "c128",
}


def name_of_numpy(dtype: np.dtype) -> str | None:
    """Our name for a numpy dtype, or None when it is not a plain numeric type."""
    return _NUMPY_KINDS.get((dtype.kind, dtype.itemsize))


# What the engine can hold natively, and the lossless widening for the rest.
ENGINE_NATIVE = frozenset({"u8", "u32", "i64", "f16", "bf16", "f32", "f64"})
WIDEN = {"bool": "u8", "i8": "i64", "i16": "i64", "i32": "i64", "u16": "u32", "u64": "i64"}


@dataclass
class RawTensor:
    """A tensor as a file holds it: a numpy array in the file's element type, plus that type's name.

    For bf16 the array is ``uint16`` bits. Arrays read from a memory-mapped file share
    its pages (copy-on-write): nothing is read until it is touched, and writing to one
    never reaches the file.
    """

    array: np.ndarray
    dtype: str


def engine_compatible(raw: RawTensor, what: str) -> RawTensor:
    """Return ``raw`` in an engine dtype, widening integer/bool types without loss.

    ``what`` names the tensor in error messages. Raises ValueError for types the engine
    cannot represent exactly (complex, fp8, fp4, fp6, u64 values above 2**63 - 1); the
    format readers turn that into a WeightFormatError naming the file.
    """
    if raw.dtype in ENGINE_NATIVE:
        return raw
    target = WIDEN.get(raw.dtype)
    if target is None:
        raise ValueError(
            f"tensor {what} has element type {raw.dtype}, which the engine cannot hold "
            f"(supported: {', '.join(sorted(ENGINE_NATIVE | set(WIDEN)))})"
        )
    array = raw.array
    if raw.dtype == "bool":
        # numpy bools are one byte holding 0/1: reinterpret, no copy.
        return RawTensor(array.view(np.uint8), "u8")
    if raw.dtype == "u64" and array.size and int(array.max()) > np.iinfo(np.int64).max:
        raise ValueError(
            f"tensor {what} has u64 values above {np.iinfo(np.int64).max}, which i64 cannot hold"
        )
    return RawTensor(array.astype(DTYPES[target].numpy), target)
