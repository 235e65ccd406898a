"""Launch geometry and operand plumbing shared by every CUDA kernel.

Kernels address their operands as (flat device buffer, element offset, strides),
exactly as a Layout describes them, so a transposed or broadcast (stride-0)
operand is read in place. Shapes and strides travel as fixed-length tuples of
MAXD entries (padded in front with size 1 / stride 0) so each kernel compiles
once per dtype, not once per rank.

Every kernel loops grid-stride (over elements, rows or tiles), so results never
depend on the number of blocks launched. The block sizes are compile-time
constants of the kernel factories (shared-memory arrays need them); they come
from the active LaunchConfig. On the numba simulator each CUDA thread is a
Python thread, so it uses tiny blocks; `use_config` lets tests run the GPU
geometry on small inputs too.
"""

from __future__ import annotations

import contextlib
import math
from dataclasses import dataclass

import numba
import numpy as np
from numba import cuda

from ...layout import Layout
from ...storage import CudaStorage, StorageView

MAXD = 8  # dims a kernel indexes after merging; more are split on the host or refused
SIMULATOR = bool(numba.config.ENABLE_CUDASIM)


@dataclass(frozen=True)
class LaunchConfig:
    threads: int        # threads per block of 1-D (elementwise, copy, index) kernels
    max_blocks: int     # cap on blocks of grid-stride kernels
    row_threads: int    # threads per block of one-block-per-row kernels (power of two)
    gemm_bm: int        # GEMM output tile rows per block
    gemm_bn: int        # GEMM output tile cols per block
    gemm_bk: int        # GEMM reduction slice held in shared memory
    gemm_tm: int        # GEMM outputs per thread along rows (register block)
    gemm_tn: int        # GEMM outputs per thread along cols

    @property
    def gemm_threads(self) -> int:
        return (self.gemm_bm // self.gemm_tm) * (self.gemm_bn // self.gemm_tn)


# 64x64 output tiles, 16-deep K slices, 4x4 outputs per thread: 256 threads per block.
GPU_CONFIG = LaunchConfig(threads=256, max_blocks=1 << 16, row_threads=128,
                          gemm_bm=64, gemm_bn=64, gemm_bk=16, gemm_tm=4, gemm_tn=4)
# The simulator pays per thread and, above all, per syncthreads(): few threads, big tiles.
SIM_CONFIG = LaunchConfig(threads=16, max_blocks=2, row_threads=4,
                          gemm_bm=16, gemm_bn=16, gemm_bk=16, gemm_tm=4, gemm_tn=4)

_active = [SIM_CONFIG if SIMULATOR else GPU_CONFIG]


def config() -> LaunchConfig:
    return _active[-1]


@contextlib.contextmanager
def use_config(cfg: LaunchConfig):
    """Run the enclosed ops with another launch geometry (kernels are cached per config)."""
    _active.append(cfg)
    try:
        yield cfg
    finally:
        _active.pop()


def blocks_for(n: int, threads: int) -> int:
    return max(1, min(config().max_blocks, -(-n // threads)))


# ---- allocation ----

def empty(shape, dtype) -> cuda.devicearray.DeviceNDArray:
    return cuda.device_array(tuple(int(s) for s in shape), dtype=np.dtype(dtype))


_SCALARS: dict[tuple[str, str], object] = {}


def scalar_array(value, dtype):
    """A cached 1-element device array holding `value` (read with stride 0)."""
    dtype = np.dtype(dtype)
    v = dtype.type(value)
    key = (dtype.str, repr(v.item()) if dtype.kind == "f" else str(v))
    arr = _SCALARS.get(key)
    if arr is None:
        if len(_SCALARS) > 512:
            _SCALARS.clear()
        arr = _SCALARS[key] = cuda.to_device(np.array([v], dtype=dtype))
    return arr


# ---- layouts ----

def tensor_operand(t):
    """(flat buffer, offset, shape, strides) of a CUDA operand (storage + layout)."""
    lay = t._layout
    return t._storage.buf, lay.offset, lay.shape, lay.strides


def broadcast_strides(shape, strides, out_shape) -> tuple[int, ...]:
    """Strides of an operand read as `out_shape` (0 for broadcast and missing dims)."""
    lead = len(out_shape) - len(shape)
    out = [0] * lead
    for n, s, m in zip(shape, strides, out_shape[lead:]):
        out.append(s if n == m else 0)
    return tuple(out)


def coalesce(shape, strides_list):
    """Drop size-1 dims and merge neighbours that every operand walks as one run."""
    out_shape: list[int] = []
    out_strides: list[list[int]] = [[] for _ in strides_list]
    for k, n in enumerate(shape):
        if n == 1:
            continue
        if out_shape and all(st[k] * n == ost[-1] for st, ost in zip(strides_list, out_strides)):
            out_shape[-1] *= n
            for st, ost in zip(strides_list, out_strides):
                ost[-1] = st[k]
        else:
            out_shape.append(n)
            for st, ost in zip(strides_list, out_strides):
                ost.append(st[k])
    return out_shape, out_strides


def merge_runs(shape, strides) -> tuple[list[int], list[int]]:
    """Drop size-1 dims and merge neighbours of one operand that form a single run."""
    out_shape: list[int] = []
    out_strides: list[int] = []
    for n, s in zip(shape, strides):
        if n == 1:
            continue
        if out_shape and out_strides[-1] == s * n:
            out_shape[-1] *= n
            out_strides[-1] = s
        else:
            out_shape.append(n)
            out_strides.append(s)
    return out_shape, out_strides


def pad(values, fill: int) -> tuple[int, ...]:
    values = tuple(int(v) for v in values)
    if len(values) > MAXD:
        raise ValueError(f"CUDA kernels index at most {MAXD} dims, got {len(values)}")
    return (fill,) * (MAXD - len(values)) + values


def contiguous_strides(shape) -> tuple[int, ...]:
    acc, out = 1, []
    for n in reversed(shape):
        out.append(acc)
        acc *= n
    return tuple(reversed(out))


def numel(shape) -> int:
    return math.prod(int(s) for s in shape)


def flat(arr):
    """A 1-D view of a C-contiguous device array."""
    return arr.reshape(numel(arr.shape)) if arr.ndim != 1 else arr


def view_as(arr, dtype):
    """``arr.view(dtype)`` for a dtype of the same size (halves as their bits and back).

    numba-cuda's DeviceNDArray.view fails on a 0-d array: it keeps the empty strides as a
    list, which its cached layout cannot hash (TypeError on an H200; the simulator's
    arrays view fine). A 0-d array is rebuilt over the same memory instead.
    """
    if arr.ndim == 0 and hasattr(arr, "gpu_data"):
        return type(arr)(shape=(), strides=(), dtype=np.dtype(dtype), stream=arr.stream,
                         gpu_data=arr.gpu_data)
    return arr.view(dtype)


def tensor_like(like, arr, dtype=None):
    """A contiguous device array as an operand (StorageView) on `like`'s device, of
    `like`'s dtype unless another is given."""
    return StorageView(CudaStorage(flat(arr), like.device), Layout.contiguous(tuple(arr.shape)),
                       like.dtype if dtype is None else dtype)
