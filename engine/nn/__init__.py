"""engine.nn: modules with parameters, and the VarBuilder that loads them by name."""

from .layers import Conv2d, Dropout, Embedding, LayerNorm, Linear
from .module import Module, ModuleList, Parameter
from .varbuilder import MissingTensorError, ShapeMismatchError, VarBuilder

__all__ = ["Module", "ModuleList", "Parameter", "Linear", "LayerNorm", "Embedding", "Conv2d",
           "Dropout", "VarBuilder", "ShapeMismatchError", "MissingTensorError"]
