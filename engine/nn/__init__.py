"""engine.nn: modules with parameters, and the VarBuilder that loads them by name."""

from .layers import Conv2d, Dropout, Embedding, LayerNorm, Linear
from .module import Module, ModuleList, Parameter
from .varbuilder import MissingTensorError, ShapeMismatchError, VarBuilder

__all__ = [
           "Conv2d",
           "Dropout",
           "Embedding",
           "LayerNorm",
           "Linear",
           "MissingTensorError",
           "Module",
           "ModuleList",
           "Parameter",
           "ShapeMismatchError",
           "VarBuilder",
]
