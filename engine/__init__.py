"""tablescribe's tensor engine: tensors, dtypes, devices, layouts, ops with numba CPU
kernels, autograd, nn layers, optimizers and weight formats — in the spirit of
huggingface/candle, with PyTorch's names.

    import engine
    x = engine.tensor([[1.0, 2.0]], requires_grad=True)
    y = (x @ x.T).sum(); y.backward(); x.grad
"""

from . import dtype
from .autograd import enable_grad, is_grad_enabled, no_grad, set_grad_enabled
from .creation import (arange, empty, from_numpy, full, full_like, linspace, manual_seed, ones,
                       ones_like, rand, randint, randn, tensor, zeros, zeros_like)
from .device import Device
from .dtype import DType, bf16, f16, f32, f64, i64, u8, u32
from .layout import Layout
from .ops import registry as _registry  # noqa: F401
from .ops.elementwise import gelu, maximum, minimum, where
from .ops.indexing import embedding, gather, index_select, topk
from .ops.linalg import matmul
from .ops.reduce import argmax, argmin
from .ops.shape import cat, stack
from .storage import CpuStorage, CudaStorage
from .tensor import Tensor, as_tensor
from . import functional, nn, ops, optim  # noqa: E402

try:  # weight formats live in engine/io (their own module and owner)
    from .io import (WeightFormatError, load_npz, load_safetensors, load_torch,  # noqa: F401
                     safetensors_index, save_safetensors)
except ImportError as _io_error:  # pragma: no cover - only while engine/io is absent
    _IO_IMPORT_ERROR = _io_error

__all__ = [
    "Tensor", "DType", "Device", "Layout", "CpuStorage", "CudaStorage",
    "u8", "u32", "i64", "f16", "bf16", "f32", "f64", "dtype",
    "tensor", "as_tensor", "from_numpy", "zeros", "ones", "full", "empty", "arange", "linspace",
    "randn", "rand", "randint", "zeros_like", "ones_like", "full_like", "manual_seed",
    "matmul", "cat", "stack", "where", "maximum", "minimum", "gelu", "embedding", "index_select",
    "gather", "topk", "argmax", "argmin",
    "no_grad", "enable_grad", "is_grad_enabled", "set_grad_enabled",
    "functional", "nn", "optim", "ops",
    "load_safetensors", "save_safetensors", "load_npz", "load_torch", "safetensors_index",
    "WeightFormatError",
]


def sum(x: Tensor, dim=None, keepdim: bool = False) -> Tensor:  # noqa: A001 - torch name
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


__all__ += ["sum", "mean", "softmax", "log_softmax", "exp", "log", "sqrt", "tanh", "relu",
            "sigmoid", "masked_fill"]
