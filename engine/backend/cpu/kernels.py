"""The CPU backend's kernel table: op name -> kernel, installed into the op registry
(engine.ops.registry) the first time an op runs on the CPU, the same way the CUDA
backend's table is installed on first use of a CUDA device.

Kernel convention (CPU): every tensor input arrives as its numpy view — the
storage read through the layout, strided, sharing memory (half dtypes already
widened to f32 by the front ends; bf16 arrives as its uint16 bits only where the
op moves bits: cast, copy, cat, index ops, assignment). Other arguments come as
the front end passes them. A kernel returns a fresh C-contiguous numpy array, or
a tuple of them, or None for in-place ops.
"""

from __future__ import annotations

import functools

import numpy as np

from ...dtype import DType, bf16, bf16_bits_to_f32, f32, f32_to_bf16_bits
from ..codes import BINARY_NAMES, REDUCE_NAMES, UNARY_NAMES
from . import PARALLEL_MIN
from . import attention as cpu_attention
from . import backward as cpu_bw
from . import elementwise as cpu_ew
from . import indexing as cpu_ix
from . import linalg as cpu_la
from . import optim as cpu_opt
from . import pool as cpu_pool
from . import reduce as cpu_red
from . import rows as cpu_rows

__all__ = ["KERNELS"]

_BF16_BITS = np.dtype(np.uint16)  # the engine has no u16 dtype: uint16 storage is bf16


def _rows_view(a: np.ndarray, n: int) -> np.ndarray:
    """a as a C-contiguous (rows, n) array (copies only strided input)."""
    if not a.flags.c_contiguous:
        a = np.ascontiguousarray(a)
    return a.reshape(-1, n)


# ---- elementwise ----

def cast(a: np.ndarray, dtype: DType) -> np.ndarray:
    if a.dtype == _BF16_BITS:
        a = bf16_bits_to_f32(a)
        if dtype is f32:
            return a
    if dtype is bf16:
        return f32_to_bf16_bits(a.astype(np.float32, copy=False)).reshape(a.shape)
    return np.array(a, dtype=dtype.numpy, order="C", copy=True)


# ---- rows: softmax, layer_norm ----

# layer_norm makes three passes over each row, so threads pay from fewer elements than
# an elementwise op's PARALLEL_MIN: an encoder's 577 x 384 layer_norm, 56 -> 32 us on 2
# threads (Zen 4).
LAYER_NORM_PARALLEL_MIN = 1 << 16


def softmax(x: np.ndarray, log: bool = False) -> np.ndarray:
    a = _rows_view(x, x.shape[-1])
    out = np.empty_like(a)
    if a.size >= PARALLEL_MIN and a.shape[0] > 1:
        cpu_rows.softmax_rows_parallel(a, out, log)
    else:
        cpu_rows.softmax_rows_serial(a, out, log)
    return out.reshape(x.shape)


def layer_norm(x: np.ndarray, w=None, b=None, n=1, eps=1e-5):
    a = _rows_view(x, n)
    out = np.empty_like(a)
    mean = np.empty(a.shape[0], dtype=a.dtype)
    rstd = np.empty(a.shape[0], dtype=a.dtype)
    affine = w is not None
    wa = w.reshape(-1) if affine else a[0]  # (unused when not affine)
    ba = b.reshape(-1) if b is not None else np.zeros(n, a.dtype)
    if a.size >= LAYER_NORM_PARALLEL_MIN and a.shape[0] > 1:
        cpu_rows.layer_norm_rows_parallel(a, wa, ba, out, mean, rstd, eps, affine)
    else:
        cpu_rows.layer_norm_rows_serial(a, wa, ba, out, mean, rstd, eps, affine)
    return out.reshape(x.shape), mean, rstd


# ---- linear algebra ----

def linear(x, w, b=None, packed=None, residual=None):
    return cpu_la.linear(x, w, b, cpu_la.NO_ACT, packed, residual)


def linear_gelu(x, w, b=None, approximate="none", packed=None):
    act = cpu_la.GELU_TANH if approximate == "tanh" else cpu_la.GELU_ERF
    return cpu_la.linear(x, w, b, act, packed)


def conv2d(x, w, b=None, stride=(1, 1), padding=(0, 0)):
    return cpu_la.conv2d(x, w, b, stride, padding)


def attention(q, k, v, mask=None, scale=1.0, causal=False):
    return cpu_attention.attention(q, k, v, mask, scale, causal)


# ---- indexing ----

def _moved_rows(a: np.ndarray, dim: int) -> np.ndarray:
    """a with `dim` moved first, as C-contiguous (size, rest) (no copy for dim 0 data)."""
    moved = np.moveaxis(a, dim, 0)
    return np.ascontiguousarray(moved).reshape(moved.shape[0], -1)


def _last_rows(a: np.ndarray, dim: int) -> np.ndarray:
    moved = np.moveaxis(a, dim, -1)
    return np.ascontiguousarray(moved).reshape(-1, moved.shape[-1])


def index_select(a, ids, dim=0):
    idx = np.ascontiguousarray(ids).reshape(-1)
    cpu_ix.check_ids(idx, a.shape[dim], "index_select")
    rows = cpu_ix.take_rows(_moved_rows(a, dim), idx)
    moved_shape = (idx.shape[0],) + tuple(np.delete(np.array(a.shape), dim))
    return np.ascontiguousarray(np.moveaxis(rows.reshape(moved_shape), 0, dim))


def index_add(ga, ids, shape=(), dim=0):
    idx = np.ascontiguousarray(ids).reshape(-1)
    moved_shape = (shape[dim],) + tuple(s for i, s in enumerate(shape) if i != dim)
    out = np.zeros(moved_shape, dtype=ga.dtype)
    cpu_ix.add_rows(out.reshape(shape[dim], -1), idx, _moved_rows(ga, dim))
    return np.ascontiguousarray(np.moveaxis(out, 0, dim))


def gather(a, idx, dim=0):
    cpu_ix.check_ids(idx, a.shape[dim], "gather")
    # torch semantics: only the first index.shape[d] entries of x are used in other dims
    a = a[tuple(slice(0, n) if d != dim else slice(None) for d, n in enumerate(idx.shape))]
    x2 = _last_rows(a, dim)
    i2 = _last_rows(idx, dim)
    out = np.empty(i2.shape, dtype=a.dtype)
    cpu_ix.gather_last(x2, i2, out)
    moved = np.moveaxis(idx, dim, -1).shape
    return np.ascontiguousarray(np.moveaxis(out.reshape(moved), -1, dim))


def scatter_add(g, idx, shape=(), dim=0):
    sub = tuple(n if d != dim else shape[d] for d, n in enumerate(idx.shape))
    out = np.zeros(shape, dtype=g.dtype)
    part = np.zeros(sub, dtype=out.dtype)
    moved = np.moveaxis(part, dim, -1)
    acc = np.ascontiguousarray(moved).reshape(-1, moved.shape[-1])
    cpu_ix.scatter_add_last(acc, _last_rows(idx, dim), _last_rows(g, dim))
    out[tuple(slice(0, n) for n in sub)] = np.moveaxis(acc.reshape(moved.shape), -1, dim)
    return out


def topk(a, k=1, largest=True):
    x2 = np.ascontiguousarray(a).reshape(-1, a.shape[-1])
    vals, idxs = cpu_ix.topk(x2, k, largest)
    shape = a.shape[:-1] + (k,)
    return vals.reshape(shape), idxs.reshape(shape)


# ---- shape: copies into new storage ----

def slice_scatter(g, shape, key):
    out = np.zeros(shape, dtype=g.dtype)
    out[key] = g
    return out


def assign(view: np.ndarray, src) -> None:
    if not view.flags.writeable:
        raise ValueError("cannot assign into a read-only tensor (e.g. a memory-mapped weight)")
    if isinstance(src, np.ndarray):
        view[...] = src
    elif view.dtype == _BF16_BITS:
        view[...] = f32_to_bf16_bits(np.asarray(src, np.float32).reshape(-1))[0]
    else:
        view[...] = src


def cat(*arrays, dim):
    return np.concatenate(arrays, axis=dim)


# ---- optimizer steps (in place) ----

def _flat(a: np.ndarray) -> np.ndarray:
    if not a.flags.c_contiguous or not a.flags.writeable:
        raise ValueError("optimizer state and parameters must be contiguous, writable tensors")
    return a.reshape(-1)


def sgd_step(p, g, buf, lr, momentum, weight_decay):
    ga = np.ascontiguousarray(g, dtype=p.dtype).reshape(-1)
    b = _flat(buf) if buf is not None else np.empty(0, p.dtype)
    fn = cpu_opt.sgd_update_parallel if ga.size >= PARALLEL_MIN else cpu_opt.sgd_update_serial
    fn(_flat(p), ga, b, lr, momentum, weight_decay, buf is not None)


def adamw_step(p, g, m, v, lr, beta1, beta2, eps, weight_decay, bias1, bias2):
    ga = np.ascontiguousarray(g, dtype=p.dtype).reshape(-1)
    fn = cpu_opt.adamw_update_parallel if ga.size >= PARALLEL_MIN else cpu_opt.adamw_update_serial
    fn(_flat(p), ga, _flat(m), _flat(v), lr, beta1, beta2, eps, weight_decay, bias1, bias2)


KERNELS: dict[str, object] = {
    **{name: functools.partial(cpu_ew.binary, code) for code, name in BINARY_NAMES.items()},
    **{name: functools.partial(cpu_ew.unary, code) for code, name in UNARY_NAMES.items()},
    **{name: functools.partial(cpu_red.reduce, code) for code, name in REDUCE_NAMES.items()},
    "where": cpu_ew.where,
    "cast": cast,
    "copy": cpu_ew.copy,
    "softmax": softmax,
    "log_softmax": functools.partial(softmax, log=True),
    "layer_norm": layer_norm,
    "matmul": cpu_la.matmul,
    "linear": linear,
    "linear_gelu": linear_gelu,
    "conv2d": conv2d,
    "conv2d_backward": cpu_la.conv2d_backward,
    "conv2d_fused": cpu_la.conv2d_fused,
    "max_pool2d": cpu_pool.max_pool2d,
    "max_pool2d_backward": cpu_pool.max_pool2d_backward,
    "upsample_nearest2d": cpu_pool.upsample_nearest2d,
    "upsample_nearest2d_backward": cpu_pool.upsample_nearest2d_backward,
    "attention": attention,
    "index_select": index_select,
    "index_add": index_add,
    "gather": gather,
    "scatter_add": scatter_add,
    "topk": topk,
    "slice_scatter": slice_scatter,
    "assign": assign,
    "cat": cat,
    "sgd_step": sgd_step,
    "adamw_step": adamw_step,
    **cpu_bw.KERNELS,  # fused backward kernels
}
