"""The CUDA backend: numba.cuda kernels for every engine op, installed into the op
registry with `set_kernel(name, "cuda", fn)`.

`register()` runs the first time a tensor is put on a CUDA device (CudaStorage
does it), so importing the engine never touches numba.cuda. Kernel functions
follow the registry convention — they take Tensors and return C-contiguous numba
device arrays — and live by family: elementwise.py (unary/binary/where/cast/
copies), reduce.py (shared-memory reductions), rows.py (softmax, layer_norm,
attention softmax), gemm.py + linalg.py (tiled GEMM, linear, conv2d, attention),
indexing.py (index_select, gather, scatter-adds, topk), shape.py (cat,
slice_scatter, assignment), optim.py (SGD/AdamW steps).

View ops (reshape, transpose, permute, narrow, squeeze, unsqueeze, broadcast_to,
basic indexing) have no kernel on any device: they only build a Layout over the
same storage. to_device is the storage's own transfer. Backward rules are
written with Tensor ops and so run on these kernels unchanged.

Every kernel is wrapped so that its Tensor inputs must share one device (the
error names both); index tensors (ids of index_select/embedding, gather and
scatter indices) may live on the host — they are usually built from Python
lists — and are uploaded. Registration wraps the CPU kernels with the same
check, so mixing devices fails alike whichever kernel an op front end picks;
a program that never touches CUDA never pays for it.
"""

from __future__ import annotations

import functools

__all__ = ["COMPOSED_OPS", "CUDA_KERNELS", "is_registered", "register"]

_registered = False

# Ops whose work on CUDA is a composition rather than a kernel of their own.
COMPOSED_OPS = {
    "reshape": "view (layout only)", "transpose": "view (layout only)",
    "permute": "view (layout only)", "narrow": "view (layout only)",
    "squeeze": "view (layout only)", "unsqueeze": "view (layout only)",
    "broadcast_to": "view (stride 0)", "getitem": "view, then index_select for tensor indices",
    "to_device": "CudaStorage host<->device transfer",
}

CUDA_KERNELS: dict[str, object] = {}


def _checked(name: str, fn, index_args: tuple = ()):
    """Run `fn` after checking every Tensor argument is on the op's device (host index
    tensors at positions `index_args` are uploaded), inside that GPU's context."""
    from numba import cuda

    from ...tensor import Tensor

    @functools.wraps(fn)
    def kernel(*args, **kwargs):
        device = None
        for i, a in enumerate(args):
            if isinstance(a, Tensor) and i not in index_args:
                device = a.device
                break
        if device is None:
            device = next(a.device for a in args if isinstance(a, Tensor))
        args = list(args)
        for i, a in enumerate(args):
            if isinstance(a, Tensor) and a.device is not device:
                if i in index_args and a.device.is_cpu:
                    args[i] = a.to(device)
                else:
                    raise ValueError(f"op {name!r}: inputs on different devices "
                                     f"({device} and {a.device})")
        for a in kwargs.values():
            if isinstance(a, Tensor) and a.device is not device:
                raise ValueError(f"op {name!r}: inputs on different devices "
                                 f"({device} and {a.device})")
        if device.index:
            with cuda.gpus[device.index]:
                return fn(*args, **kwargs)
        return fn(*args, **kwargs)
    return kernel


def _half_widened(fn, dtype_arg: int = 0):
    """Run an accumulate-by-atomics kernel on a half tensor in float32, then narrow."""
    from ...dtype import f32
    from ...tensor import Tensor
    from . import elementwise

    @functools.wraps(fn)
    def kernel(*args, **kwargs):
        g = args[dtype_arg]
        if not g.dtype.is_half:
            return fn(*args, **kwargs)
        args = list(args)
        args[dtype_arg] = g.to(f32)
        out = Tensor._from_backend(fn(*args, **kwargs), f32, g.device)
        return elementwise.cast(out, g.dtype)
    return kernel


def _kernels() -> dict:
    from ...backend.cpu.reduce import ARGMAX, ARGMIN, MAX, MIN, SUM
    from ...ops import elementwise as ew_ops
    from . import elementwise, indexing, linalg, optim, reduce, rows, shape

    table = {}
    for code, op in ew_ops.BINARY_OPS.items():
        table[op.name] = functools.partial(elementwise.binary, code)
    for code, op in ew_ops.UNARY_OPS.items():
        table[op.name] = functools.partial(elementwise.unary, code)
    table["where"] = elementwise.where
    table["cast"] = elementwise.cast
    table["copy"] = elementwise.copy
    for name, code in (("sum", SUM), ("max", MAX), ("min", MIN), ("argmax", ARGMAX),
                       ("argmin", ARGMIN)):
        table[name] = functools.partial(reduce.reduce, code)
    table["softmax"] = rows.softmax
    table["log_softmax"] = functools.partial(rows.softmax, log=True)
    table["layer_norm"] = rows.layer_norm
    table["matmul"] = linalg.matmul
    table["linear"] = linalg.linear
    table["linear_gelu"] = linalg.linear_gelu
    table["conv2d"] = linalg.conv2d
    table["conv2d_backward"] = linalg.conv2d_backward
    table["attention"] = linalg.attention
    table["index_select"] = indexing.index_select
    table["index_add"] = _half_widened(indexing.index_add)
    table["gather"] = indexing.gather
    table["scatter_add"] = _half_widened(indexing.scatter_add)
    table["topk"] = indexing.topk
    table["cat"] = shape.cat
    table["slice_scatter"] = shape.slice_scatter
    table["assign"] = shape.assign
    table["sgd_step"] = optim.sgd_step
    table["adamw_step"] = optim.adamw_step
    return table


# positions of arguments that may be host index tensors
_INDEX_ARGS = {"index_select": (1,), "index_add": (1,), "gather": (1,), "scatter_add": (1,)}


def register() -> None:
    """Install the CUDA kernel of every built-in op (idempotent)."""
    global _registered
    if _registered:
        return
    from ... import optim as _optim  # noqa: F401  (registers the optimizer steps)
    from ...ops.registry import get_op, registered_ops, set_kernel

    table = _kernels()
    known = set(registered_ops())
    for name, fn in table.items():
        if name not in known:
            raise RuntimeError(f"CUDA backend has a kernel for unknown op {name!r}")
        wrapped = _checked(name, fn, _INDEX_ARGS.get(name, ()))
        CUDA_KERNELS[name] = wrapped
        set_kernel(name, "cuda", wrapped)
        cpu_fn = get_op(name).cpu
        if cpu_fn is not None:
            set_kernel(name, "cpu", _checked(name, cpu_fn, _INDEX_ARGS.get(name, ())))
    _registered = True


def is_registered() -> bool:
    return _registered
