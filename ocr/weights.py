"""Reading a model folder's weights by parameter name, with shape checks.

`model.safetensors` is preferred; `pytorch_model.bin` is read through the engine's
restricted unpickler (it rebuilds tensors and refuses any other object). Tensors are
fetched lazily by name, so parameters the model does not use (the ViT pooler of
microsoft checkpoints, for instance) are never read.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

import engine


class ModelWeightsError(ValueError):
    """A tensor is missing or has the wrong shape; the message names it."""


class WeightFile:
    def __init__(self, folder: str | Path):
        folder = Path(folder)
        st = folder / "model.safetensors"
        bin_ = folder / "pytorch_model.bin"
        if st.is_file():
            self.path = st
            self._index = engine.safetensors_index(st)
            self._names = set(self._index.keys())
            self._get = lambda name: self._index[name]
        elif bin_.is_file():
            self.path = bin_
            tensors = engine.load_torch(bin_)
            self._names = set(tensors)
            self._get = tensors.__getitem__
        else:
            raise ModelWeightsError(
                f"{folder}: no weights (needs model.safetensors or pytorch_model.bin)"
            )

    def __contains__(self, name: str) -> bool:
        return name in self._names

    def names(self) -> set[str]:
        return set(self._names)

    # The Mapping face VarBuilder reads (engine tensors, shapes before loading).
    def __getitem__(self, name: str) -> engine.Tensor:
        return self._get(name)

    def __iter__(self):
        return iter(sorted(self._names))

    def __len__(self) -> int:
        return len(self._names)

    def shape(self, name: str) -> tuple[int, ...]:
        return tuple(self._get(name).shape) if not hasattr(self, "_index") else \
            tuple(self._index.shape(name))

    def get(self, name: str, shape: tuple[int, ...]) -> np.ndarray:
        """The tensor `name` as float32, checked against the shape the model expects."""
        if name not in self._names:
            raise ModelWeightsError(f"missing tensor {name} in {self.path}")
        tensor = self._get(name)
        have = tuple(tensor.shape)
        if have != tuple(shape):
            raise ModelWeightsError(
                f"shape mismatch for {name}: file has {have}, model expects {tuple(shape)} "
                f"({self.path})"
            )
        return np.ascontiguousarray(tensor.to(engine.f32).numpy(), dtype=np.float32)
