"""VarBuilder: fetch model weights by dotted name, with a shape check (as in candle).

    vb = VarBuilder(engine.load_safetensors(path), name=str(path))
    w = vb.pp("encoder").pp("embeddings").get("position_embeddings", (1, 577, 384))

The source is any mapping from names to tensors — a dict, or a lazy index that
loads one tensor when it is asked for. Errors name the full dotted name and the
file, so a wrong checkpoint is diagnosed from the message alone.
"""

from __future__ import annotations

from collections.abc import Mapping

from ..dtype import as_dtype
from ..tensor import Tensor

__all__ = ["MissingTensorError", "ShapeMismatchError", "VarBuilder"]


class ShapeMismatchError(ValueError):
    """A tensor exists but has another shape than the model needs."""


class MissingTensorError(KeyError):
    """A tensor the model needs is not in the weights."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0]) if self.args else ""


def _shape_str(shape) -> str:
    return "(" + ", ".join(str(int(s)) for s in shape) + ("," if len(shape) == 1 else "") + ")"


class VarBuilder:
    def __init__(self, tensors: Mapping[str, Tensor], prefix: str = "", name: str | None = None,
                 dtype=None, device=None) -> None:
        """tensors: dict or lazy mapping name -> Tensor. name: shown in errors (defaults to
        the source's `path` attribute). dtype/device: convert floating tensors on get()."""
        self._source = tensors
        self.prefix = prefix
        self.name = name if name is not None else str(getattr(tensors, "path", "<tensors>"))
        self.dtype = None if dtype is None else as_dtype(dtype)
        self.device = device

    def _full(self, name: str) -> str:
        return f"{self.prefix}.{name}" if self.prefix else name

    def pp(self, name: str) -> VarBuilder:
        """A builder one level down: vb.pp("encoder").get("x") reads "encoder.x"."""
        return VarBuilder(self._source, self._full(name), self.name, self.dtype, self.device)

    push_prefix = pp

    def contains(self, name: str) -> bool:
        return self._full(name) in self._source

    __contains__ = contains

    def keys(self) -> list[str]:
        """Names under this builder's prefix, relative to it."""
        p = self.prefix + "." if self.prefix else ""
        return [k[len(p):] for k in self._source if k.startswith(p)]

    def get(self, name: str, shape=None) -> Tensor:
        """The tensor `prefix.name`; with `shape`, it must match exactly."""
        full = self._full(name)
        if full not in self._source:
            raise MissingTensorError(f"missing tensor {full} in {self.name}")
        shape_of = getattr(self._source, "shape", None)  # lazy indexes: check before loading
        if shape is not None:
            if isinstance(shape, int):
                shape = (shape,)
            expected = tuple(int(s) for s in shape)
            found = tuple(shape_of(full)) if callable(shape_of) else None
            if found is not None and found != expected:
                self._mismatch(full, found, expected)
        t = self._source[full]
        if shape is not None and tuple(t.shape) != expected:
            self._mismatch(full, tuple(t.shape), expected)
        if self.dtype is not None and t.dtype.is_float and t.dtype is not self.dtype:
            t = t.to(self.dtype)
        if self.device is not None:
            t = t.to(self.device)
        return t

    @staticmethod
    def _mismatch(full: str, found, expected) -> None:
        raise ShapeMismatchError(f"shape mismatch for {full}: file has {_shape_str(found)}, "
                                 f"model expects {_shape_str(expected)}")
