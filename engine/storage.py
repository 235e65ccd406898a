"""Storage: a flat buffer of elements on one device. It knows nothing about shapes;
a Layout says how a tensor reads it.

CpuStorage wraps a 1-D numpy array. CudaStorage wraps a 1-D numba device array;
it only moves data to and from the host here — CUDA kernels are registered per
op in engine.ops.registry by the CUDA backend.
"""

from __future__ import annotations

import numpy as np

from .device import Device, cpu
from .layout import Layout

__all__ = ["CpuStorage", "CudaStorage", "Storage"]


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
        """Upload host data. The first upload installs the CUDA kernels into the op
        registry (engine.backend.cuda), so the engine imports without numba.cuda."""
        from numba import cuda
        device.require_cuda()
        from .backend import cuda as cuda_backend
        cuda_backend.register()
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
