"""Ops: front ends (validation, output dtype/shape, autograd recording) and their
registration. Importing this package registers every built-in op."""

from . import registry  # noqa: F401
from .registry import OpDef, apply_op, get_op, register_op, registered_ops, set_kernel  # noqa: F401
