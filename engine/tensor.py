"""Tensor: the user-facing tensor — TensorBase (storage + layout + dtype + autograd
record) with PyTorch's operators and methods.

Methods here are thin: they hand over to the op front ends in engine.ops, which
validate, pick the kernel for the tensor's device from the registry and record the
op when a gradient is needed. Nothing below this module imports it.
"""

from __future__ import annotations

from .backend import codes as _code
from .backprop import backward as _backward
from .device import Device, as_device, cpu
from .dtype import DType, as_dtype, f32, f64, i64
from .layout import normalize_dim
from .ops import elementwise as _ew
from .ops import indexing as _index
from .ops import linalg as _linalg
from .ops import nn as _nn
from .ops import reduce as _reduce
from .ops import shape as _shape
from .tensor_base import TensorBase

__all__ = ["Tensor"]


class Tensor(TensorBase):
    """An n-dimensional array on a device, with optional gradient tracking."""

    __slots__ = ()
    __array_priority__ = 1000  # numpy scalars/arrays defer to our reflected operators

    def __iter__(self):
        for i in range(len(self)):
            yield self[i]

    def __hash__(self) -> int:  # (defining __eq__ below would otherwise drop it)
        return id(self)

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

    def backward(self, grad=None) -> None:
        _backward(self, grad)

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
        return _ew.binary(_code.ADD, self, other)

    def __radd__(self, other):
        return _ew.binary(_code.ADD, other, self)

    def __sub__(self, other):
        return _ew.binary(_code.SUB, self, other)

    def __rsub__(self, other):
        return _ew.binary(_code.SUB, other, self)

    def __mul__(self, other):
        return _ew.binary(_code.MUL, self, other)

    def __rmul__(self, other):
        return _ew.binary(_code.MUL, other, self)

    def __truediv__(self, other):
        return _ew.binary(_code.DIV, self, other)

    def __rtruediv__(self, other):
        return _ew.binary(_code.DIV, other, self)

    def __pow__(self, other):
        return _ew.binary(_code.POW, self, other)

    def __rpow__(self, other):
        return _ew.binary(_code.POW, other, self)

    def __neg__(self):
        return _ew.unary(_code.NEG, self)

    def __abs__(self):
        return _ew.unary(_code.ABS, self)

    def __matmul__(self, other):
        return _linalg.matmul(self, other)

    def __rmatmul__(self, other):
        return _linalg.matmul(self._lift(other), self)

    def __eq__(self, other):  # elementwise, like PyTorch (returns u8)
        return _ew.binary(_code.EQ, self, other)

    def __ne__(self, other):
        return _ew.binary(_code.NE, self, other)

    def __lt__(self, other):
        return _ew.binary(_code.LT, self, other)

    def __le__(self, other):
        return _ew.binary(_code.LE, self, other)

    def __gt__(self, other):
        return _ew.binary(_code.GT, self, other)

    def __ge__(self, other):
        return _ew.binary(_code.GE, self, other)

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
        return _ew.binary(_code.MAXIMUM, self, other)

    def minimum(self, other):
        return _ew.binary(_code.MINIMUM, self, other)

    def clamp(self, min=None, max=None):
        out = self
        if min is not None:
            out = _ew.binary(_code.MAXIMUM, out, min)
        if max is not None:
            out = _ew.binary(_code.MINIMUM, out, max)
        return out

    # ---- unary ----

    def exp(self):
        return _ew.unary(_code.EXP, self)

    def log(self):
        return _ew.unary(_code.LOG, self)

    def sqrt(self):
        return _ew.unary(_code.SQRT, self)

    def rsqrt(self):
        return _ew.unary(_code.RSQRT, self)

    def tanh(self):
        return _ew.unary(_code.TANH, self)

    def relu(self):
        return _ew.unary(_code.RELU, self)

    def sigmoid(self):
        return _ew.unary(_code.SIGMOID, self)

    def abs(self):
        return _ew.unary(_code.ABS, self)

    def sin(self):
        return _ew.unary(_code.SIN, self)

    def cos(self):
        return _ew.unary(_code.COS, self)

    def sign(self):
        return _ew.unary(_code.SIGN, self)

    def square(self):
        return _ew.unary(_code.SQUARE, self)

    def reciprocal(self):
        return _ew.unary(_code.RECIP, self)

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


Tensor._constructor = Tensor  # ops on any Tensor (a Parameter too) give plain Tensors
