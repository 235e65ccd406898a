"""The standard layers. Initialisation follows PyTorch's defaults."""

from __future__ import annotations

import math

from ..creation import ones, rand, randn, zeros
from ..dtype import f32
from ..functional import conv2d, conv2d_fused, dropout, embedding, layer_norm, linear
from ..tensor import Tensor
from .module import Module, Parameter

__all__ = ["Conv2d", "Dropout", "Embedding", "LayerNorm", "Linear"]


def _uniform(shape, bound: float, dtype) -> Parameter:
    return Parameter(rand(shape, dtype=dtype) * (2 * bound) - bound)


class Linear(Module):
    """y = x @ weight.T + bias, weight (out_features, in_features)."""

    def __init__(self, in_features: int, out_features: int, bias: bool = True, dtype=f32) -> None:
        super().__init__()
        self.in_features = in_features
        self.out_features = out_features
        bound = 1.0 / math.sqrt(in_features) if in_features else 0.0
        self.weight = _uniform((out_features, in_features), bound, dtype)
        self.bias = _uniform((out_features,), bound, dtype) if bias else None

    @classmethod
    def from_weights(cls, weight: Tensor, bias: Tensor | None = None) -> Linear:
        """A Linear around loaded tensors (no random initialisation first)."""
        m = cls.__new__(cls)
        Module.__init__(m)
        m.out_features, m.in_features = weight.shape
        m.weight = weight if isinstance(weight, Parameter) else Parameter(weight)
        m.bias = None if bias is None else Parameter(bias)
        return m

    def forward(self, x: Tensor) -> Tensor:
        return linear(x, self.weight, self.bias)

    def extra_repr(self) -> str:
        return f"in_features={self.in_features}, out_features={self.out_features}, " \
               f"bias={self.bias is not None}"


class LayerNorm(Module):
    def __init__(self, normalized_shape, eps: float = 1e-5, elementwise_affine: bool = True,
                 dtype=f32) -> None:
        super().__init__()
        if isinstance(normalized_shape, int):
            normalized_shape = (normalized_shape,)
        self.normalized_shape = tuple(normalized_shape)
        self.eps = eps
        if elementwise_affine:
            self.weight = Parameter(ones(self.normalized_shape, dtype=dtype))
            self.bias = Parameter(zeros(self.normalized_shape, dtype=dtype))
        else:
            self.weight = None
            self.bias = None

    @classmethod
    def from_weights(cls, weight: Tensor, bias: Tensor, eps: float = 1e-5) -> LayerNorm:
        m = cls.__new__(cls)
        Module.__init__(m)
        m.normalized_shape, m.eps = tuple(weight.shape), eps
        m.weight, m.bias = Parameter(weight), Parameter(bias)
        return m

    def forward(self, x: Tensor) -> Tensor:
        return layer_norm(x, self.normalized_shape, self.weight, self.bias, self.eps)

    def extra_repr(self) -> str:
        return f"{self.normalized_shape}, eps={self.eps}"


class Embedding(Module):
    def __init__(self, num_embeddings: int, embedding_dim: int, padding_idx: int | None = None,
                 dtype=f32) -> None:
        super().__init__()
        self.num_embeddings = num_embeddings
        self.embedding_dim = embedding_dim
        self.padding_idx = padding_idx
        w = randn((num_embeddings, embedding_dim), dtype=dtype)
        if padding_idx is not None:
            w[padding_idx] = 0.0
        self.weight = Parameter(w)

    @classmethod
    def from_weights(cls, weight: Tensor, padding_idx: int | None = None) -> Embedding:
        m = cls.__new__(cls)
        Module.__init__(m)
        m.num_embeddings, m.embedding_dim = weight.shape
        m.padding_idx = padding_idx
        m.weight = Parameter(weight)
        return m

    def forward(self, ids: Tensor) -> Tensor:
        return embedding(ids, self.weight)

    def extra_repr(self) -> str:
        return f"{self.num_embeddings}, {self.embedding_dim}"


class Conv2d(Module):
    def __init__(self, in_channels: int, out_channels: int, kernel_size, stride=1, padding=0,
                 bias: bool = True, dtype=f32) -> None:
        super().__init__()
        kh, kw = (kernel_size, kernel_size) if isinstance(kernel_size, int) else kernel_size
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.kernel_size = (kh, kw)
        self.stride = stride
        self.padding = padding
        bound = 1.0 / math.sqrt(in_channels * kh * kw)
        self.weight = _uniform((out_channels, in_channels, kh, kw), bound, dtype)
        self.bias = _uniform((out_channels,), bound, dtype) if bias else None

    def forward(self, x: Tensor) -> Tensor:
        return conv2d(x, self.weight, self.bias, self.stride, self.padding)

    def fused(self, *inputs: Tensor, relu: bool = False, upsample: int = 1) -> Tensor:
        """This convolution over the channel concatenation of one or two inputs (the
        first read nearest-upsampled by ``upsample``), with an optional ReLU, in one
        kernel where the backend has it (F.conv2d_fused); stride 1."""
        if self.stride not in (1, (1, 1)):
            raise ValueError(f"Conv2d.fused is for stride 1, this one has {self.stride}")
        return conv2d_fused(inputs, self.weight, self.bias, self.padding, relu, upsample)

    def extra_repr(self) -> str:
        return f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, " \
               f"stride={self.stride}, padding={self.padding}"


class Dropout(Module):
    def __init__(self, p: float = 0.5) -> None:
        super().__init__()
        if not 0.0 <= p <= 1.0:
            raise ValueError(f"dropout probability must be in [0, 1], got {p}")
        self.p = p

    def forward(self, x: Tensor) -> Tensor:
        return dropout(x, self.p, self.training)

    def extra_repr(self) -> str:
        return f"p={self.p}"
