"""tablescribe's tensor engine: tensors, dtypes, devices, layouts, ops with numba CPU
kernels, autograd, nn layers, optimizers and weight formats — in the spirit of
huggingface/candle, with PyTorch's names.

    import engine
    x = engine.tensor([[1.0, 2.0]], requires_grad=True)
    y = (x @ x.T).sum(); y.backward(); x.grad
"""

import os

# numba's OpenMP workers spin after every parallel kernel by default; on a machine
# with few cores they then steal the cores OpenBLAS' threads need for the next GEMM
# (measured: the trocr-small encoder's GEMMs ran at half speed). Workers that sleep
# at once cost a few microseconds per launch instead. Read when libgomp starts, so
# it must be set before the first parallel kernel; a user's own setting wins.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

# Before any kernel compiles: full-width vectors on AVX-512 Xeons (see simd.py).
from . import dtype, functional, nn, ops, optim
from .autograd import enable_grad, is_grad_enabled, no_grad, set_grad_enabled
from .backend.cpu import simd as _simd  # noqa: F401
from .creation import (
    arange,
    as_tensor,
    empty,
    from_numpy,
    full,
    full_like,
    linspace,
    manual_seed,
    ones,
    ones_like,
    rand,
    randint,
    randn,
    tensor,
    zeros,
    zeros_like,
)
from .device import Device
from .dtype import DType, bf16, f16, f32, f64, i64, u8, u32
from .layout import Layout
from .ops import elementwise as _ew
from .ops import registry as _registry  # noqa: F401
from .ops.elementwise import gelu, maximum, minimum
from .ops.indexing import embedding, gather, index_select, topk
from .ops.linalg import matmul
from .ops.reduce import argmax, argmin
from .ops.shape import cat, stack
from .storage import CpuStorage, CudaStorage
from .tensor import Tensor

try:  # weight formats live in engine/io (their own module and owner)
    from .io import (
        WeightFormatError,
        load_npz,
        load_safetensors,
        load_torch,
        safetensors_index,
        save_safetensors,
    )
except ImportError as _io_error:  # pragma: no cover - only while engine/io is absent
    _IO_IMPORT_ERROR = _io_error

__all__ = [
    "CpuStorage",
    "CudaStorage",
    "DType",
    "Device",
    "Layout",
    "Tensor",
    "WeightFormatError",
    "arange",
    "argmax",
    "argmin",
    "as_tensor",
    "bf16",
    "cat",
    "dtype",
    "embedding",
    "empty",
    "enable_grad",
    "f16",
    "f32",
    "f64",
    "from_numpy",
    "full",
    "full_like",
    "functional",
    "gather",
    "gelu",
    "i64",
    "index_select",
    "is_grad_enabled",
    "linspace",
    "load_npz",
    "load_safetensors",
    "load_torch",
    "manual_seed",
    "matmul",
    "maximum",
    "minimum",
    "nn",
    "no_grad",
    "ones",
    "ones_like",
    "ops",
    "optim",
    "rand",
    "randint",
    "randn",
    "safetensors_index",
    "save_safetensors",
    "set_grad_enabled",
    "stack",
    "tensor",
    "topk",
    "u8",
    "u32",
    "where",
    "zeros",
    "zeros_like",
]


def where(cond, a, b) -> Tensor:
    """Elements of a where cond is nonzero, else of b (any of them may be data or python
    scalars)."""
    if not any(isinstance(v, Tensor) for v in (cond, a, b)):
        cond = tensor(cond, dtype=u8)
    return _ew.where(cond, a, b)


def sum(x: Tensor, dim=None, keepdim: bool = False) -> Tensor:
    return x.sum(dim, keepdim)


def mean(x: Tensor, dim=None, keepdim: bool = False) -> Tensor:
    return x.mean(dim, keepdim)


def softmax(x: Tensor, dim: int = -1) -> Tensor:
    return x.softmax(dim)


def log_softmax(x: Tensor, dim: int = -1) -> Tensor:
    return x.log_softmax(dim)


def exp(x: Tensor) -> Tensor:
    return x.exp()


def log(x: Tensor) -> Tensor:
    return x.log()


def sqrt(x: Tensor) -> Tensor:
    return x.sqrt()


def tanh(x: Tensor) -> Tensor:
    return x.tanh()


def relu(x: Tensor) -> Tensor:
    return x.relu()


def sigmoid(x: Tensor) -> Tensor:
    return x.sigmoid()


def masked_fill(x: Tensor, mask: Tensor, value) -> Tensor:
    return x.masked_fill(mask, value)


__all__ += [
    "exp",
    "log",
    "log_softmax",
    "masked_fill",
    "mean",
    "relu",
    "sigmoid",
    "softmax",
    "sqrt",
    "sum",
    "tanh",
]
