"""The CUDA backend's kernel table: numba.cuda kernels for every engine op, by op name.

`register()` builds the table (CUDA_KERNELS); the op registry (engine.ops.registry)
installs it the first time an op runs on a CUDA device — the same way it installs
the CPU backend's table — so importing the engine never touches numba.cuda. Kernels
never see a Tensor: each tensor input arrives as a StorageView (storage + layout +
dtype, engine.storage), and a kernel returns C-contiguous numba device arrays.
They live by family: elementwise.py (unary/binary/where/cast/copies), reduce.py (shared-memory reductions), rows.py (softmax, layer_norm,
attention softmax), gemm.py + linalg.py (tiled GEMM, linear, conv2d, attention),
indexing.py (index_select, gather, scatter-adds, topk), shape.py (cat,
slice_scatter, assignment), optim.py (SGD/AdamW steps).

View ops (reshape, transpose, permute, narrow, squeeze, unsqueeze, broadcast_to,
basic indexing) have no kernel on any device: they only build a Layout over the
same storage. to_device is the storage's own transfer. Backward rules are
written with Tensor ops and so run on these kernels unchanged.

Every kernel runs inside its operands' GPU context. The registry's dispatch checks
that the inputs share one device (the error names both) and uploads host index
tensors (ids of index_select/embedding, gather and scatter indices — usually built
from Python lists), for the CPU and CUDA alike.
"""

from __future__ import annotations

import functools

from numba import cuda

from ...dtype import f32
from ..codes import BINARY_NAMES, REDUCE_NAMES, UNARY_NAMES
from . import backward, elementwise, indexing, linalg, optim, pool, reduce, rows, shape
from .launch import tensor_like

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


def _in_context(fn):
    """Run `fn` inside the GPU context of its first operand's device (numba keeps one
    current context per thread; device 0 is the default)."""
    @functools.wraps(fn)
    def kernel(*args, **kwargs):
        device = next(a.device for a in args if hasattr(a, "_layout"))
        if device.index:
            with cuda.gpus[device.index]:
                return fn(*args, **kwargs)
        return fn(*args, **kwargs)
    return kernel


def _half_widened(fn, dtype_arg: int = 0):
    """Run an accumulate-by-atomics kernel on a half operand in float32, then narrow."""
    @functools.wraps(fn)
    def kernel(*args, **kwargs):
        g = args[dtype_arg]
        if not g.dtype.is_half:
            return fn(*args, **kwargs)
        args = list(args)
        args[dtype_arg] = tensor_like(g, elementwise.cast(g, f32), f32)
        return elementwise.cast(tensor_like(g, fn(*args, **kwargs), f32), g.dtype)
    return kernel

def _kernels() -> dict:
    table = {}
    for code, name in BINARY_NAMES.items():
        table[name] = functools.partial(elementwise.binary, code)
    for code, name in UNARY_NAMES.items():
        table[name] = functools.partial(elementwise.unary, code)
    table["where"] = elementwise.where
    table["cast"] = elementwise.cast
    table["copy"] = elementwise.copy
    for code, name in REDUCE_NAMES.items():
        table[name] = functools.partial(reduce.reduce, code)
    table["softmax"] = rows.softmax
    table["log_softmax"] = functools.partial(rows.softmax, log=True)
    table["layer_norm"] = rows.layer_norm
    table["matmul"] = linalg.matmul
    table["linear"] = linalg.linear
    table["linear_gelu"] = linalg.linear_gelu
    table["conv2d"] = linalg.conv2d
    table["conv2d_backward"] = linalg.conv2d_backward
    table["conv2d_fused"] = linalg.conv2d_fused
    for name in pool.__all__:
        table[name] = getattr(pool, name)
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
    table.update(backward.KERNELS)  # fused backward kernels
    return table


def register() -> dict:
    """Build the table of CUDA kernels by op name (once) and return it. The op registry
    (engine.ops.registry) installs it the first time an op runs on a CUDA device, as
    it installs the CPU backend's table on first use of the CPU."""
    global _registered
    if not _registered:
        CUDA_KERNELS.update({name: _in_context(fn) for name, fn in _kernels().items()})
        _registered = True
    return CUDA_KERNELS


def is_registered() -> bool:
    return _registered
