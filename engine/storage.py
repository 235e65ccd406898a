"""Storage: a flat buffer of elements on one device. It knows nothing about shapes;
a Layout says how a tensor reads it.

CpuStorage wraps a 1-D numpy array. CudaStorage wraps a 1-D numba device array;
it only moves data to and from the host. StorageView is a storage read through a
layout, with its dtype: what CUDA kernels (and custom ops' kernels) receive in
place of a tensor. Kernels live in engine.backend; none of this imports them.
"""

from __future__ import annotations

import numpy as np

from .device import Device, cpu
from .layout import Layout

__all__ = ["CpuStorage", "CudaStorage", "Storage", "StorageView"]


class Storage:
    __slots__ = ("buf",)
    device: Device

    def __len__(self) -> int:
        return int(self.buf.shape[0])


class CpuStorage(Storage):
    """A flat, C-contiguous numpy array (possibly read-only, e.g. a memory map)."""

    __slots__ = ()
    device = cpu

    def __init__(self, buf: np.ndarray) -> None:
        self.buf = buf

    def view(self, layout: Layout) -> np.ndarray:
        """A numpy view of the elements `layout` addresses; shares memory."""
        buf = self.buf
        if layout.is_contiguous():
            n = layout.numel()
            return buf[layout.offset:layout.offset + n].reshape(layout.shape)
        item = buf.itemsize
        if layout.extent() == 0:
            return np.empty(layout.shape, buf.dtype)
        return np.ndarray(layout.shape, buf.dtype, buffer=buf, offset=layout.offset * item,
                          strides=tuple(s * item for s in layout.strides))


class CudaStorage(Storage):
    """A flat numba.cuda device array. Kernels for it live in the CUDA backend."""

    __slots__ = ("device",)

    def __init__(self, buf, device: Device) -> None:
        self.buf = buf
        self.device = device

    @staticmethod
    def from_numpy(arr: np.ndarray, device: Device) -> CudaStorage:
        """Upload host data (numba.cuda is imported on first use only)."""
        from numba import cuda
        device.require_cuda()
        with cuda.gpus[device.index]:
            return CudaStorage(cuda.to_device(np.ascontiguousarray(arr).reshape(-1)), device)

    def to_numpy(self) -> np.ndarray:
        return self.buf.copy_to_host()

    def view(self, layout: Layout):
        """A numba device-array view of the addressed elements (shares memory)."""
        from numba.cuda.cudadrv.devicearray import DeviceNDArray
        item = self.buf.dtype.itemsize
        base = self.buf[layout.offset:] if layout.offset else self.buf
        return DeviceNDArray(layout.shape, tuple(s * item for s in layout.strides), self.buf.dtype,
                             gpu_data=base.gpu_data)


class StorageView:
    """A storage read through a layout, with its dtype (candle's storage + layout pair).

    The attribute names match a tensor's, so kernel code reads `v._storage.buf`,
    `v._layout.offset`, `v.shape`, `v.dtype` and `v.device` alike wherever its
    operand came from; a view has no autograd record and no ops of its own.
    """

    __slots__ = ("_layout", "_np", "_storage", "dtype")

    def __init__(self, storage: Storage, layout: Layout, dtype) -> None:
        self._storage = storage
        self._layout = layout
        self.dtype = dtype
        self._np = None

    @property
    def storage(self) -> Storage:
        return self._storage

    @property
    def layout(self) -> Layout:
        return self._layout

    @property
    def device(self) -> Device:
        return self._storage.device

    @property
    def shape(self) -> tuple[int, ...]:
        return self._layout.shape

    @property
    def ndim(self) -> int:
        return len(self._layout.shape)

    def numel(self) -> int:
        return self._layout.numel()

    def is_contiguous(self) -> bool:
        return self._layout.is_contiguous()

    @property
    def np(self) -> np.ndarray:
        """numpy view of the addressed elements (CPU only; shares memory)."""
        if self._np is None:
            if self._storage.device is not cpu:
                raise RuntimeError(f"storage is on {self.device}; no numpy view")
            self._np = self._storage.view(self._layout)
        return self._np
