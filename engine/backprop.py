"""Reverse-mode automatic differentiation, in the manner of candle's backprop.rs.

`backward()` sorts the graph of recorded Nodes (engine.autograd) topologically
from the loss, walks it from the loss down, asks each node's rule for its inputs'
gradients and accumulates them in a store keyed by tensor id. Leaves receive
`.grad`.
"""

from __future__ import annotations

from .autograd import _mode, sum_to_shape
from .tensor_base import TensorBase

__all__ = ["backward"]


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


def backward(root, grad=None) -> None:
    """Accumulate d(root)/d(leaf) into `.grad` of every leaf that requires grad."""
    if not root.requires_grad:
        raise RuntimeError("backward() on a tensor that does not require grad "
                           "(no input had requires_grad=True, or it was made under no_grad())")
    if grad is None:
        if root.numel() != 1:
            raise RuntimeError(f"backward() without a gradient needs a scalar output, got shape "
                               f"{root.shape}")
        grad = root._full(root.shape, 1, root.dtype)
    elif not isinstance(grad, TensorBase):
        grad = root._lift(grad, root.dtype)
    if grad.shape != root.shape:
        raise ValueError(f"gradient shape {grad.shape} does not match output shape {root.shape}")

    prev = _mode.enabled
    _mode.enabled = False  # backward rules are not themselves differentiated
    try:
        if root._node is None:  # the root is a leaf
            _accumulate_leaf(root, grad)
            return
        store = {id(root): grad}
        adopted = {id(grad._storage)}  # storages handed to a leaf (or the caller's) in this pass
        for t in reversed(_topo_sort(root)):
            g = store.pop(id(t), None)
            if g is None:
                continue
            node = t._node
            in_grads = node.op.backward(node, t, g)
            for inp, ig in zip(node.inputs, in_grads):
                if ig is None or not isinstance(inp, TensorBase) or not inp.requires_grad:
                    continue
                if ig.shape != inp.shape:
                    ig = sum_to_shape(ig, inp.shape)
                if inp._node is None:
                    _accumulate_leaf(inp, ig, adopted)
                else:
                    k = id(inp)
                    prev_g = store.get(k)
                    store[k] = ig if prev_g is None else prev_g + ig
    finally:
        _mode.enabled = prev


def _owns_storage(g) -> bool:
    lay = g._layout
    return lay.offset == 0 and lay.is_contiguous() and lay.numel() == len(g._storage)


def _accumulate_leaf(leaf, g, adopted: set | None = None) -> None:
    if g.dtype is not leaf.dtype:
        g = g.to(leaf.dtype)
    if leaf.grad is None:
        # A private contiguous tensor: g itself when it is a whole storage no other leaf
        # got (rules never write into their inputs, so nothing changes it after backward),
        # else a copy (g may be a broadcast view, or shared with another leaf).
        sid = id(g._storage)
        if adopted is not None and sid not in adopted and _owns_storage(g):
            adopted.add(sid)
            leaf.grad = g
        else:
            leaf.grad = g.clone()
    else:
        leaf.grad = leaf.grad + g
