"""Autograd's records and switches: the grad mode (no_grad, enable_grad), the Node an
op records on its output, and the helper that sums a broadcast gradient back.

An op whose input requires grad records a Node on its output: the OpDef (which
holds the backward rule), the input tensors, the op's attributes and anything the
forward pass saved. Walking those records from a loss is engine.backprop.
"""

from __future__ import annotations

import threading

__all__ = [
    "Node",
    "enable_grad",
    "is_grad_enabled",
    "no_grad",
    "set_grad_enabled",
    "sum_to_shape",
]


class _GradMode(threading.local):
    enabled = True  # class attribute: the default for every thread


_mode = _GradMode()


def is_grad_enabled() -> bool:
    return _mode.enabled


def set_grad_enabled(flag: bool) -> None:
    _mode.enabled = bool(flag)


class _GradContext:
    """Context manager and decorator that sets grad mode for its block (per thread)."""

    _flag = True

    def __enter__(self):
        self._prev = _mode.enabled
        _mode.enabled = self._flag
        return self

    def __exit__(self, *exc):
        _mode.enabled = self._prev
        return False

    def __call__(self, fn):
        import functools

        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            with type(self)():
                return fn(*args, **kwargs)
        return wrapper


class no_grad(_GradContext):
    """Inference: ops record nothing (and skip all autograd bookkeeping)."""
    _flag = False


class enable_grad(_GradContext):
    _flag = True


class Node:
    """How a tensor was made: op, inputs, attributes and saved values."""

    __slots__ = ("attrs", "inputs", "op", "saved")

    def __init__(self, op, inputs: tuple, attrs: dict, saved=None) -> None:
        self.op = op
        self.inputs = inputs
        self.attrs = attrs
        self.saved = saved


def sum_to_shape(grad, shape: tuple[int, ...]):
    """Sum a broadcast gradient back down to `shape` (leading dims and size-1 dims)."""
    if grad.shape == shape:
        return grad
    lead = grad.ndim - len(shape)
    dims = list(range(lead))
    for i, n in enumerate(shape):
        if n == 1 and grad.shape[lead + i] != 1:
            dims.append(lead + i)
    if dims:
        grad = grad.sum(dim=tuple(dims), keepdim=True)
    if lead:
        grad = grad.reshape(shape)
    return grad
