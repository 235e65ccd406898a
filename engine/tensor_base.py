"""TensorBase: what a tensor is — storage + layout + dtype, and the Node that made it.

This is the state and the primitives that build tensors (from a backend array, as
a view, as a constant), with no ops. The op front ends in engine.ops work on it;
engine.tensor.Tensor adds the operators and methods on top by calling those front
ends. New tensors are made as `x._constructor`, the class a tensor's results take
(pandas' idiom): Tensor names itself there, so the front ends hand back Tensors —
also for a subclass such as nn.Parameter — without importing engine.tensor.
"""

from __future__ import annotations

import numpy as np

from .autograd import Node
from .device import Device, cpu
from .dtype import DType, bf16, bf16_bits_to_f32, of_values, to_storage
from .layout import Layout, normalize_dim
from .storage import CpuStorage, CudaStorage

__all__ = ["TensorBase"]

_new = object.__new__


class TensorBase:
    """An n-dimensional array on a device, with optional gradient tracking."""

    __slots__ = (
        "__weakref__",
        "_layout",
        "_node",
        "_np",
        "_storage",
        "dtype",
        "grad",
        "requires_grad",
    )
    _constructor: type[TensorBase]  # set by each concrete tensor class

    def __init__(self, storage, layout: Layout, dtype: DType, requires_grad: bool = False):
        self._storage = storage
        self._layout = layout
        self.dtype = dtype
        self.requires_grad = bool(requires_grad)
        self.grad = None
        self._node = None
        self._np = None
        if requires_grad and not dtype.is_float:
            raise TypeError(f"only float tensors can require grad, got {dtype}")

    # ---- construction primitives used by the ops ----

    @classmethod
    def _from_backend(cls, arr, dtype: DType, device: Device = cpu):
        """Wrap a fresh C-contiguous backend array (numpy, or a numba device array)."""
        t = _new(cls)
        if device is cpu:
            if type(arr) is not np.ndarray:  # ufuncs on 0-d inputs return numpy scalars
                arr = np.asarray(arr)
            if not arr.flags.c_contiguous:
                arr = arr.copy(order="C")
            want = dtype.numpy
            if arr.dtype is not want and arr.dtype != want:
                arr = arr.astype(want)
            t._storage = CpuStorage(arr.reshape(-1))
            t._np = arr
            shape = arr.shape
        else:
            t._storage = CudaStorage(arr.reshape(-1), device)
            t._np = None
            shape = tuple(arr.shape)  # plain tuple: the CUDA simulator's shape type differs
        t._layout = Layout.contiguous(shape)
        t.dtype = dtype
        t.requires_grad = False
        t.grad = None
        t._node = None
        return t

    @classmethod
    def _from_host(cls, arr: np.ndarray, dtype: DType, device: Device):
        """A tensor on `device` holding a storage-format host array nobody else holds."""
        if not arr.flags.c_contiguous:
            arr = arr.copy(order="C")  # (np.ascontiguousarray would turn 0-d into 1-d)
        if device is cpu:
            t = cls(CpuStorage(arr.reshape(-1)), Layout.contiguous(arr.shape), dtype)
            t._np = arr
            return t
        return cls(CudaStorage.from_numpy(arr, device), Layout.contiguous(arr.shape), dtype)

    def _full(self, shape: tuple[int, ...], value, dtype: DType):
        """A new tensor of `shape` filled with `value`, on this tensor's device."""
        if dtype is bf16:
            arr = np.full(shape, to_storage(np.array([value], np.float32), bf16)[0], np.uint16)
        else:
            arr = np.full(shape, value, dtype=dtype.numpy)
        return self._constructor._from_host(arr, dtype, self.device)

    def _lift(self, data, dtype: DType | None = None):
        """A new tensor holding a copy of `data` (lists, scalars, arrays) on this tensor's
        device, as `dtype` (None: as engine.tensor(data) would choose)."""
        if isinstance(data, TensorBase):
            values = data.numpy()
            dtype = data.dtype if dtype is None else dtype
        else:
            values = np.asarray(data)
        if dtype is None:
            dtype = of_values(values)
        return self._constructor._from_host(to_storage(values, dtype), dtype, self.device)

    def _view(self, layout: Layout):
        """A tensor sharing this one's storage through another layout (no record)."""
        t = _new(self._constructor)
        t._storage = self._storage
        t._layout = layout
        t.dtype = self.dtype
        t.requires_grad = False
        t.grad = None
        t._node = None
        t._np = None
        return t

    def _record(self, op, inputs: tuple, attrs: dict, saved=None):
        self._node = Node(op, inputs, attrs, saved)
        self.requires_grad = True
        return self

    # ---- basic properties ----

    @property
    def shape(self) -> tuple[int, ...]:
        return self._layout.shape

    @property
    def ndim(self) -> int:
        return len(self._layout.shape)

    def dim(self) -> int:
        return len(self._layout.shape)

    @property
    def device(self) -> Device:
        return self._storage.device

    @property
    def layout(self) -> Layout:
        return self._layout

    @property
    def storage(self):
        return self._storage

    @property
    def is_leaf(self) -> bool:
        return self._node is None

    @property
    def np(self) -> np.ndarray:
        """numpy view of the stored elements (CPU only; raw uint16 bits for bf16)."""
        a = self._np
        if a is None:
            if self._storage.device is not cpu:
                raise RuntimeError(f"tensor is on {self.device}; call .cpu() or .numpy() first")
            a = self._np = self._storage.view(self._layout)
        return a

    def numel(self) -> int:
        return self._layout.numel()

    def size(self, dim: int | None = None):
        if dim is None:
            return self._layout.shape
        return self._layout.shape[normalize_dim(dim, self.ndim)]

    def stride(self, dim: int | None = None):
        if dim is None:
            return self._layout.strides
        return self._layout.strides[normalize_dim(dim, self.ndim)]

    def storage_offset(self) -> int:
        return self._layout.offset

    def is_contiguous(self) -> bool:
        return self._layout.is_contiguous()

    def shares_storage(self, other: TensorBase) -> bool:
        return self._storage is other._storage

    def __len__(self) -> int:
        if not self._layout.shape:
            raise TypeError("len() of a 0-d tensor")
        return self._layout.shape[0]

    def __hash__(self) -> int:
        return id(self)

    # ---- conversion to host values ----

    def numpy(self) -> np.ndarray:
        """The values as a numpy array: a view when contiguous on the CPU, else a copy.
        bf16 comes back as float32 values; f16 as numpy float16."""
        if self._storage.device is not cpu:
            host = CpuStorage(self._storage.to_numpy()).view(self._layout)
            return bf16_bits_to_f32(host) if self.dtype is bf16 else host.copy(order="C")
        a = self.np
        if self.dtype is bf16:
            return bf16_bits_to_f32(a)
        if not self._layout.is_contiguous():
            return a.copy(order="C")
        return a

    def __array__(self, dtype=None, copy=None):
        a = self.numpy()
        return a if dtype is None else a.astype(dtype)

    def item(self):
        if self.numel() != 1:
            raise ValueError(f"item() needs a tensor with one element, got shape {self.shape}")
        return self.numpy().reshape(-1)[0].item()

    def tolist(self):
        return self.numpy().tolist()

    def __float__(self) -> float:
        return float(self.item())

    def __int__(self) -> int:
        return int(self.item())

    def __index__(self) -> int:
        if self.dtype.is_float:
            raise TypeError("only integer tensors can be used as an index")
        return int(self.item())

    def __bool__(self) -> bool:
        if self.numel() != 1:
            raise RuntimeError(f"the truth value of a tensor with {self.numel()} elements is "
                               f"ambiguous")
        return bool(self.item())

    def __repr__(self) -> str:
        extra = f", device={self.device}" if self.device is not cpu else ""
        if self.requires_grad:
            extra += ", requires_grad=True"
        try:
            body = np.array2string(self.numpy(), separator=", ", threshold=64, edgeitems=3)
        except RuntimeError:
            body = f"<shape {self.shape}>"
        return f"tensor({body}, dtype={self.dtype.name}{extra})"

    # ---- autograd state ----

    def detach(self):
        """Same storage, cut from the graph."""
        return self._view(self._layout)

    def requires_grad_(self, flag: bool = True):
        if flag and not self.dtype.is_float:
            raise TypeError(f"only float tensors can require grad, got {self.dtype}")
        if self._node is not None and not flag:
            raise RuntimeError("cannot turn off requires_grad on a non-leaf tensor; use detach()")
        self.requires_grad = bool(flag)
        return self
