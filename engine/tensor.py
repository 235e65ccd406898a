"""Tensor: storage + layout + dtype (+ the Node that made it, for autograd).

Methods here are thin: they validate, then hand over to the op front ends in
engine.ops, which pick the kernel for the tensor's device from the registry and
record the op when a gradient is needed.
"""

from __future__ import annotations

import numpy as np

from .autograd import Node
from .device import Device, as_device, cpu
from .dtype import DType, as_dtype, bf16, bf16_bits_to_f32, f32, f64, i64
from .layout import Layout, normalize_dim
from .storage import CpuStorage, CudaStorage

__all__ = ["Tensor", "as_tensor"]

_new = object.__new__


class Tensor:
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
    __array_priority__ = 1000  # numpy scalars/arrays defer to our reflected operators

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

    # ---- construction helpers used by the ops ----

    @staticmethod
    def _from_backend(arr, dtype: DType, device: Device = cpu) -> Tensor:
        """Wrap a fresh C-contiguous backend array (numpy, or a numba device array)."""
        t = _new(Tensor)
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

    def _view(self, layout: Layout) -> Tensor:
        """A tensor sharing this one's storage through another layout (no record)."""
        t = _new(Tensor)
        t._storage = self._storage
        t._layout = layout
        t.dtype = self.dtype
        t.requires_grad = False
        t.grad = None
        t._node = None
        t._np = None
        return t

    def _record(self, op, inputs: tuple, attrs: dict, saved=None) -> Tensor:
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

    def shares_storage(self, other: Tensor) -> bool:
        return self._storage is other._storage

    def __len__(self) -> int:
        if not self._layout.shape:
            raise TypeError("len() of a 0-d tensor")
        return self._layout.shape[0]

    def __iter__(self):
        for i in range(len(self)):
            yield self[i]

    def __hash__(self) -> int:
        return id(self)

    # ---- conversion ----

    def numpy(self) -> np.ndarray:
        """The values as a numpy array: a view when contiguous on the CPU, else a copy.
        bf16 comes back as float32 values; f16 as numpy float16."""
        if self._storage.device is not cpu:
            return self.cpu().numpy()
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

    def to(self, *args, **kwargs) -> Tensor:
        """`t.to("cuda")`, `t.to(engine.f16)`, `t.to("cpu", engine.f32)`, `t.to(other)`."""
        device = kwargs.pop("device", None)
        dtype = kwargs.pop("dtype", None)
        if kwargs:
            raise TypeError(f"unexpected arguments {sorted(kwargs)}")
        for a in args:
            if isinstance(a, DType):
                dtype = a
            elif isinstance(a, Tensor):
                dtype, device = a.dtype, a.device
            elif isinstance(a, Device) or (isinstance(a, str) and a.split(":")[0] in ("cpu", "cuda")):
                device = a
            else:
                dtype = as_dtype(a)
        out = self
        if dtype is not None:
            dtype = as_dtype(dtype)
            if dtype is not out.dtype:
                out = _ew.cast(out, dtype)
        if device is not None:
            device = as_device(device)
            if device is not out.device:
                out = _shape.to_device(out, device)
        return out

    def float(self) -> Tensor:
        return self.to(f32)

    def double(self) -> Tensor:
        return self.to(f64)

    def long(self) -> Tensor:
        return self.to(i64)

    def cpu(self) -> Tensor:
        return self.to(cpu)

    def cuda(self, index: int = 0) -> Tensor:
        return self.to(Device("cuda", index))

    # ---- autograd ----

    def detach(self) -> Tensor:
        """Same storage, cut from the graph."""
        return self._view(self._layout)

    def requires_grad_(self, flag: bool = True) -> Tensor:
        if flag and not self.dtype.is_float:
            raise TypeError(f"only float tensors can require grad, got {self.dtype}")
        if self._node is not None and not flag:
            raise RuntimeError("cannot turn off requires_grad on a non-leaf tensor; use detach()")
        self.requires_grad = bool(flag)
        return self

    def backward(self, grad=None) -> None:
        from .autograd import backward
        backward(self, grad)

    # ---- copies and views ----

    def contiguous(self) -> Tensor:
        """Self when already contiguous, else a contiguous copy."""
        if self._layout.is_contiguous():
            return self
        return _shape.copy(self)

    def clone(self) -> Tensor:
        return _shape.copy(self)

    def reshape(self, *shape) -> Tensor:
        return _shape.reshape(self, _shape_arg(shape))

    def view(self, *shape) -> Tensor:
        return _shape.reshape(self, _shape_arg(shape), copy_ok=False)

    def flatten(self, start_dim: int = 0, end_dim: int = -1) -> Tensor:
        nd = self.ndim
        if nd == 0:
            return self.reshape(1)
        s, e = normalize_dim(start_dim, nd), normalize_dim(end_dim, nd)
        n = 1
        for d in self.shape[s:e + 1]:
            n *= d
        return self.reshape(self.shape[:s] + (n,) + self.shape[e + 1:])

    def transpose(self, dim0: int, dim1: int) -> Tensor:
        return _shape.transpose(self, dim0, dim1)

    @property
    def T(self) -> Tensor:
        nd = len(self._layout.shape)
        if nd == 2:
            return _shape.transpose(self, 0, 1)
        return _shape.permute(self, tuple(range(nd - 1, -1, -1)))

    @property
    def mT(self) -> Tensor:
        return _shape.transpose(self, -2, -1)

    def permute(self, *dims) -> Tensor:
        return _shape.permute(self, _shape_arg(dims))

    def narrow(self, dim: int, start: int, length: int) -> Tensor:
        return _shape.narrow(self, dim, start, length)

    def squeeze(self, dim: int | None = None) -> Tensor:
        return _shape.squeeze(self, dim)

    def unsqueeze(self, dim: int) -> Tensor:
        return _shape.unsqueeze(self, dim)

    def broadcast_to(self, *shape) -> Tensor:
        return _shape.broadcast_to(self, _shape_arg(shape))

    expand = broadcast_to

    def split(self, split_size, dim: int = 0) -> list[Tensor]:
        return _shape.split(self, split_size, dim)

    def chunk(self, chunks: int, dim: int = 0) -> list[Tensor]:
        size = self.shape[normalize_dim(dim, self.ndim)]
        return _shape.split(self, -(-size // chunks), dim)

    def __getitem__(self, key) -> Tensor:
        return _shape.getitem(self, key)

    def __setitem__(self, key, value) -> None:
        _shape.setitem(self, key, value)

    # ---- arithmetic ----

    def __add__(self, other):
        return _ew.binary(_ew.ADD, self, other)

    def __radd__(self, other):
        return _ew.binary(_ew.ADD, other, self)

    def __sub__(self, other):
        return _ew.binary(_ew.SUB, self, other)

    def __rsub__(self, other):
        return _ew.binary(_ew.SUB, other, self)

    def __mul__(self, other):
        return _ew.binary(_ew.MUL, self, other)

    def __rmul__(self, other):
        return _ew.binary(_ew.MUL, other, self)

    def __truediv__(self, other):
        return _ew.binary(_ew.DIV, self, other)

    def __rtruediv__(self, other):
        return _ew.binary(_ew.DIV, other, self)

    def __pow__(self, other):
        return _ew.binary(_ew.POW, self, other)

    def __rpow__(self, other):
        return _ew.binary(_ew.POW, other, self)

    def __neg__(self):
        return _ew.unary(_ew.NEG, self)

    def __abs__(self):
        return _ew.unary(_ew.ABS, self)

    def __matmul__(self, other):
        return _linalg.matmul(self, other)

    def __rmatmul__(self, other):
        return _linalg.matmul(as_tensor(other, device=self.device), self)

    def __eq__(self, other):  # elementwise, like PyTorch (returns u8)
        return _ew.binary(_ew.EQ, self, other)

    def __ne__(self, other):
        return _ew.binary(_ew.NE, self, other)

    def __lt__(self, other):
        return _ew.binary(_ew.LT, self, other)

    def __le__(self, other):
        return _ew.binary(_ew.LE, self, other)

    def __gt__(self, other):
        return _ew.binary(_ew.GT, self, other)

    def __ge__(self, other):
        return _ew.binary(_ew.GE, self, other)

    eq = __eq__
    ne = __ne__
    lt = __lt__
    le = __le__
    gt = __gt__
    ge = __ge__
    add = __add__
    sub = __sub__
    mul = __mul__
    div = __truediv__
    pow = __pow__
    neg = __neg__
    matmul = __matmul__

    def maximum(self, other):
        return _ew.binary(_ew.MAXIMUM, self, other)

    def minimum(self, other):
        return _ew.binary(_ew.MINIMUM, self, other)

    def clamp(self, min=None, max=None):
        out = self
        if min is not None:
            out = _ew.binary(_ew.MAXIMUM, out, min)
        if max is not None:
            out = _ew.binary(_ew.MINIMUM, out, max)
        return out

    # ---- unary ----

    def exp(self):
        return _ew.unary(_ew.EXP, self)

    def log(self):
        return _ew.unary(_ew.LOG, self)

    def sqrt(self):
        return _ew.unary(_ew.SQRT, self)

    def rsqrt(self):
        return _ew.unary(_ew.RSQRT, self)

    def tanh(self):
        return _ew.unary(_ew.TANH, self)

    def relu(self):
        return _ew.unary(_ew.RELU, self)

    def sigmoid(self):
        return _ew.unary(_ew.SIGMOID, self)

    def abs(self):
        return _ew.unary(_ew.ABS, self)

    def sin(self):
        return _ew.unary(_ew.SIN, self)

    def cos(self):
        return _ew.unary(_ew.COS, self)

    def sign(self):
        return _ew.unary(_ew.SIGN, self)

    def square(self):
        return _ew.unary(_ew.SQUARE, self)

    def reciprocal(self):
        return _ew.unary(_ew.RECIP, self)

    def gelu(self, approximate: str = "none"):
        return _ew.gelu(self, approximate)

    # ---- reductions ----

    def sum(self, dim=None, keepdim: bool = False):
        return _reduce.sum(self, dim, keepdim)

    def mean(self, dim=None, keepdim: bool = False):
        return _reduce.mean(self, dim, keepdim)

    def max(self, dim=None, keepdim: bool = False):
        return _reduce.max(self, dim, keepdim)

    def min(self, dim=None, keepdim: bool = False):
        return _reduce.min(self, dim, keepdim)

    def argmax(self, dim=None, keepdim: bool = False):
        return _reduce.argmax(self, dim, keepdim)

    def argmin(self, dim=None, keepdim: bool = False):
        return _reduce.argmin(self, dim, keepdim)

    def softmax(self, dim: int = -1):
        return _nn.softmax(self, dim)

    def log_softmax(self, dim: int = -1):
        return _nn.log_softmax(self, dim)

    # ---- selection ----

    def masked_fill(self, mask, value):
        return _ew.masked_fill(self, mask, value)

    def index_select(self, dim: int, index):
        return _index.index_select(self, dim, index)

    def gather(self, dim: int, index):
        return _index.gather(self, dim, index)

    def topk(self, k: int, dim: int = -1, largest: bool = True, sorted: bool = True):
        return _index.topk(self, k, dim, largest, sorted)


def _shape_arg(shape) -> tuple[int, ...]:
    """Accept f(2, 3) and f((2, 3)) / f([2, 3])."""
    if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
        shape = shape[0]
    return tuple(int(s) for s in shape)


def as_tensor(x, dtype=None, device=None) -> Tensor:
    """x itself when it is a Tensor (cast/moved if asked), else a new tensor from data."""
    if isinstance(x, Tensor):
        if dtype is not None or device is not None:
            return x.to(*(a for a in (dtype, device) if a is not None))
        return x
    from .creation import tensor
    return tensor(x, dtype=dtype, device=device)


# The op front ends import Tensor, so they are bound after the class exists.
from .ops import elementwise as _ew
from .ops import indexing as _index
from .ops import linalg as _linalg
from .ops import nn as _nn
from .ops import reduce as _reduce
from .ops import shape as _shape
