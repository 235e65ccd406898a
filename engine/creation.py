"""Creating tensors: from data, from numpy (zero-copy), constants, ranges, random."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from .device import as_device
from .dtype import DType, as_dtype, bf16, f32, f32_to_bf16_bits, i64, of_values, to_storage
from .dtype import from_numpy as _dtype_of
from .layout import Layout
from .storage import CpuStorage
from .tensor import Tensor

__all__ = [
    "arange",
    "as_tensor",
    "empty",
    "from_numpy",
    "full",
    "full_like",
    "linspace",
    "manual_seed",
    "ones",
    "ones_like",
    "rand",
    "randint",
    "randn",
    "tensor",
    "zeros",
    "zeros_like",
]

_rng = np.random.default_rng()


def manual_seed(seed: int) -> None:
    """Seed the engine's global random generator (randn/rand/dropout without seed=)."""
    global _rng
    _rng = np.random.default_rng(seed)


def _generator(seed):
    return _rng if seed is None else np.random.default_rng(seed)


def _make(arr: np.ndarray, dtype: DType, device, requires_grad: bool) -> Tensor:
    """Wrap a contiguous storage-format array that nobody else holds."""
    t = Tensor._from_host(arr, dtype, as_device(device))
    if requires_grad:
        t.requires_grad_(True)
    return t


def tensor(data, dtype=None, device="cpu", requires_grad: bool = False) -> Tensor:
    """A new tensor holding a copy of `data` (nested lists, scalars, numpy arrays, Tensors)."""
    if isinstance(data, Tensor):
        values = data.numpy()
        dtype = data.dtype if dtype is None else dtype
    else:
        values = np.asarray(data)
    dtype = of_values(values) if dtype is None else as_dtype(dtype)
    return _make(to_storage(values, dtype), dtype, device, requires_grad)


def as_tensor(x, dtype=None, device=None) -> Tensor:
    """x itself when it is a Tensor (cast/moved if asked), else a new tensor from data."""
    if isinstance(x, Tensor):
        if dtype is not None or device is not None:
            return x.to(*(a for a in (dtype, device) if a is not None))
        return x
    return tensor(x, dtype=dtype, device=device if device is not None else "cpu")


def from_numpy(arr: np.ndarray, dtype=None) -> Tensor:
    """A CPU tensor sharing memory with `arr` when its dtype and strides allow.

    Any non-negative, element-aligned strides are kept as they are (the tensor is
    then a strided view of the same memory). A uint16 array is taken as raw bf16
    bits when dtype=engine.bf16. Unsupported dtypes (e.g. int32) are converted,
    which copies.
    """
    if not isinstance(arr, np.ndarray):
        raise TypeError(f"from_numpy needs a numpy array, got {type(arr).__name__}")
    if dtype is not None:
        dtype = as_dtype(dtype)
        if arr.dtype != dtype.numpy:
            if dtype is bf16:
                arr = f32_to_bf16_bits(arr.astype(np.float32)).reshape(arr.shape)
            else:
                arr = arr.astype(dtype.numpy)
    else:
        if arr.dtype == np.bool_:
            arr = arr.view(np.uint8)
        try:
            dtype = _dtype_of(arr.dtype)
        except TypeError:
            dtype = of_values(arr)
            arr = arr.astype(dtype.numpy)
    if not arr.dtype.isnative:
        arr = arr.astype(arr.dtype.newbyteorder("="))
    item = arr.itemsize
    if arr.flags.c_contiguous:
        t = Tensor(CpuStorage(arr.reshape(-1)), Layout.contiguous(arr.shape), dtype)
        t._np = arr
        return t
    if any(s < 0 or s % item for s in arr.strides):
        return from_numpy(np.ascontiguousarray(arr), dtype)
    strides = tuple(s // item for s in arr.strides)
    span = 1 + sum((n - 1) * s for n, s in zip(arr.shape, strides)) if arr.size else 0
    flat = np.lib.stride_tricks.as_strided(arr, shape=(span,), strides=(item,))
    t = Tensor(CpuStorage(flat), Layout(arr.shape, strides, 0), dtype)
    return t


def _shape_tuple(shape) -> tuple[int, ...]:
    if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
        shape = shape[0]
    out = tuple(int(s) for s in shape)
    if any(s < 0 for s in out):
        raise ValueError(f"negative dimension in shape {out}")
    return out


def full(shape, value, dtype=None, device="cpu", requires_grad: bool = False) -> Tensor:
    if dtype is None:
        dtype = i64 if isinstance(value, (int, np.integer)) and not isinstance(value, bool) else f32
    dtype = as_dtype(dtype)
    shape = tuple(shape) if isinstance(shape, (tuple, list)) else (int(shape),)
    if dtype is bf16:
        arr = np.full(shape, f32_to_bf16_bits(np.array([value], np.float32))[0], np.uint16)
    else:
        arr = np.full(shape, value, dtype=dtype.numpy)
    return _make(arr, dtype, device, requires_grad)


def zeros(*shape, dtype=f32, device="cpu", requires_grad: bool = False) -> Tensor:
    dtype = as_dtype(dtype)
    return _make(np.zeros(_shape_tuple(shape), dtype=dtype.numpy), dtype, device, requires_grad)


def ones(*shape, dtype=f32, device="cpu", requires_grad: bool = False) -> Tensor:
    return full(_shape_tuple(shape), 1, dtype=dtype, device=device, requires_grad=requires_grad)


def empty(*shape, dtype=f32, device="cpu") -> Tensor:
    dtype = as_dtype(dtype)
    return _make(np.empty(_shape_tuple(shape), dtype=dtype.numpy), dtype, device, False)


def zeros_like(t: Tensor, dtype=None) -> Tensor:
    return zeros(t.shape, dtype=dtype or t.dtype, device=t.device)


def ones_like(t: Tensor, dtype=None) -> Tensor:
    return ones(t.shape, dtype=dtype or t.dtype, device=t.device)


def full_like(t: Tensor, value, dtype=None) -> Tensor:
    return full(t.shape, value, dtype=dtype or t.dtype, device=t.device)


def arange(start, end=None, step=1, dtype=None, device="cpu") -> Tensor:
    """Like torch.arange: [start, end) by step; i64 for integer arguments, else f32."""
    if end is None:
        start, end = 0, start
    if dtype is None:
        ints = all(isinstance(v, (int, np.integer)) for v in (start, end, step))
        dtype = i64 if ints else f32
    dtype = as_dtype(dtype)
    if step == 0:
        raise ValueError("arange step must be non-zero")
    n = max(0, math.ceil((end - start) / step))
    values = start + step * np.arange(n, dtype=np.float64 if dtype.is_float else np.int64)
    return _make(to_storage(values, dtype), dtype, device, False)


def linspace(start: float, end: float, steps: int, dtype=f32, device="cpu") -> Tensor:
    dtype = as_dtype(dtype)
    return _make(to_storage(np.linspace(start, end, steps), dtype), dtype, device, False)


def randn(*shape, seed: int | None = None, dtype=f32, device="cpu",
          requires_grad: bool = False) -> Tensor:
    """Standard normal samples; `seed` makes the draw reproducible on its own."""
    dtype = as_dtype(dtype)
    values = _generator(seed).standard_normal(_shape_tuple(shape))
    return _make(to_storage(values, dtype), dtype, device, requires_grad)


def rand(*shape, seed: int | None = None, dtype=f32, device="cpu",
         requires_grad: bool = False) -> Tensor:
    """Uniform samples in [0, 1)."""
    dtype = as_dtype(dtype)
    values = _generator(seed).random(_shape_tuple(shape))
    return _make(to_storage(values, dtype), dtype, device, requires_grad)


def randint(low: int, high: int, shape: Sequence[int], seed: int | None = None, dtype=i64,
            device="cpu") -> Tensor:
    dtype = as_dtype(dtype)
    values = _generator(seed).integers(low, high, size=tuple(shape))
    return _make(to_storage(values, dtype), dtype, device, False)
