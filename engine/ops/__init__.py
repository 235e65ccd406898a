"""Ops: the registry and dispatch (registry.py: op name -> CPU kernel, CUDA kernel,
backward rule) and the front ends by family (elementwise, reduce, linalg, nn,
indexing, shape), which validate, pick dtypes and shapes, dispatch through the
registry and record for autograd. Front ends work on TensorBase; engine.tensor
sits above them."""

from . import registry  # noqa: F401
from .registry import OpDef, apply_op, get_op, register_op, registered_ops, set_kernel  # noqa: F401
