"""Reverse-mode automatic differentiation, in the manner of candle's backprop.rs.

An op whose input requires grad records a Node on its output: the OpDef (which
holds the backward rule), the input tensors, the op's attributes and anything the
forward pass saved. `backward()` sorts the graph topologically from the loss,
walks it from the loss down, asks each node's rule for its inputs' gradients and
accumulates them in a store keyed by tensor id. Leaves receive `.grad`.
"""

from __future__ import annotations

import threading

__all__ = [
    "Node",
    "backward",
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


def _topo_sort(root) -> list:
    """Tensors with a Node reachable from root, inputs before the tensors they make."""
    order = []
    seen = set()
    stack = [(root, False)]
    while stack:
        t, expanded = stack.pop()
        if expanded:
            order.append(t)
            continue
        if id(t) in seen:
            continue
        seen.add(id(t))
        stack.append((t, True))
        for inp in t._node.inputs:
            if inp.requires_grad and inp._node is not None and id(inp) not in seen:
                stack.append((inp, False))
    return order


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


def backward(root, grad=None) -> None:
    """Accumulate d(root)/d(leaf) into `.grad` of every leaf that requires grad."""
    from .tensor import Tensor

    if not root.requires_grad:
        raise RuntimeError("backward() on a tensor that does not require grad "
                           "(no input had requires_grad=True, or it was made under no_grad())")
    if grad is None:
        if root.numel() != 1:
            raise RuntimeError(f"backward() without a gradient needs a scalar output, got shape "
                               f"{root.shape}")
        from .creation import ones
        grad = ones(root.shape, dtype=root.dtype, device=root.device)
    elif not isinstance(grad, Tensor):
        from .creation import tensor
        grad = tensor(grad, dtype=root.dtype, device=root.device)
    if grad.shape != root.shape:
        raise ValueError(f"gradient shape {grad.shape} does not match output shape {root.shape}")

    prev = _mode.enabled
    _mode.enabled = False  # backward rules are not themselves differentiated
    try:
        if root._node is None:  # the root is a leaf
            _accumulate_leaf(root, grad)
            return
        store = {id(root): grad}
        for t in reversed(_topo_sort(root)):
            g = store.pop(id(t), None)
            if g is None:
                continue
            node = t._node
            in_grads = node.op.backward(node, t, g)
            for inp, ig in zip(node.inputs, in_grads):
                if ig is None or not isinstance(inp, Tensor) or not inp.requires_grad:
                    continue
                if ig.shape != inp.shape:
                    ig = sum_to_shape(ig, inp.shape)
                if inp._node is None:
                    _accumulate_leaf(inp, ig)
                else:
                    k = id(inp)
                    prev_g = store.get(k)
                    store[k] = ig if prev_g is None else prev_g + ig
    finally:
        _mode.enabled = prev


def _accumulate_leaf(leaf, g) -> None:
    if g.dtype is not leaf.dtype:
        g = g.to(leaf.dtype)
    if leaf.grad is None:
        # a private contiguous copy: g may be a broadcast view or shared with other leaves
        leaf.grad = g.clone()
    else:
        leaf.grad = leaf.grad + g
