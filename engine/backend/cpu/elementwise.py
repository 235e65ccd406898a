"""Strided elementwise kernels: unary, binary (arithmetic and comparisons), where.

Inputs are read in place through their strides — a broadcast operand has stride 0
and is never materialised. Before a kernel runs, the output shape and the input
strides are *coalesced*: adjacent dims that every operand walks contiguously are
merged, so (32,630,12,32)+(32,1,1,32) becomes (32, 7560, 32) with strides (32,0,1)
for the right operand. The kernels take at most 4 such dims; the innermost is a
loop with fast paths for unit stride and stride 0, the outer ones are split into
tasks for numba's thread pool.

Small tensors (below PARALLEL_MIN elements) and integer dtypes go to numpy
ufuncs instead: for them the thread-pool launch and argument preparation cost
more than the arithmetic. Kernels are generated per op code by closures, which
numba compiles (and caches on disk) separately, with the op folded in as a
constant so each inner loop vectorises.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit, prange

from ...layout import broadcast_shapes
from ..codes import (
    ABS,
    ADD,
    COMPARISONS,
    COPY,
    COS,
    DIV,
    EQ,
    EXP,
    GE,
    GELU,
    GELU_GRAD,
    GELU_TANH,
    GELU_TANH_GRAD,
    GT,
    LE,
    LOG,
    LT,
    MAXIMUM,
    MINIMUM,
    MUL,
    NE,
    NEG,
    POW,
    RECIP,
    RELU,
    RSQRT,
    SIGMOID,
    SIGN,
    SIN,
    SQRT,
    SQUARE,
    SUB,
    TANH,
)
from . import PARALLEL_MIN, num_threads
from . import fastmath as fm

_SQRT1_2 = 0.7071067811865476
_SQRT_2_OVER_PI = 0.7978845608028654
_INV_SQRT_2PI = 0.3989422804014327


@njit(inline="always")
def binop(code, x, y):
    if code == ADD:
        return x + y
    elif code == SUB:
        return x - y
    elif code == MUL:
        return x * y
    elif code == DIV:
        return x / y
    elif code == POW:
        return x ** y
    elif code == MAXIMUM:  # NaN propagates, as in numpy/torch
        return x if (x >= y or fm.isnan(x)) else y
    elif code == MINIMUM:
        return x if (x <= y or fm.isnan(x)) else y
    elif code == EQ:
        return x == y
    elif code == NE:
        return x != y
    elif code == LT:
        return x < y
    elif code == LE:
        return x <= y
    elif code == GT:
        return x > y
    else:
        return x >= y


@njit(inline="always")
def unop(code, x):
    one = fm.like(x, 1.0)
    half = fm.like(x, 0.5)
    zero = fm.like(x, 0.0)
    if code == NEG:
        return -x
    elif code == EXP:
        return fm.exp(x)
    elif code == LOG:
        return np.log(x)
    elif code == SQRT:
        return np.sqrt(x)
    elif code == RSQRT:
        return one / np.sqrt(x)
    elif code == TANH:
        return fm.tanh(x)
    elif code == RELU:
        return x if (x > zero or fm.isnan(x)) else zero
    elif code == GELU:
        return half * x * (one + fm.erf(x * fm.like(x, _SQRT1_2)))
    elif code == GELU_TANH:
        k = fm.like(x, _SQRT_2_OVER_PI)
        return half * x * (one + fm.tanh(k * (x + fm.like(x, 0.044715) * x * x * x)))
    elif code == SIGMOID:
        return one / (one + fm.exp(-x))
    elif code == ABS:
        return abs(x)
    elif code == SIN:
        return np.sin(x)
    elif code == COS:
        return np.cos(x)
    elif code == SIGN:
        return one if x > zero else (-one if x < zero else x * zero)
    elif code == GELU_GRAD:  # d/dx x*Phi(x) = Phi(x) + x*phi(x)
        cdf = half * (one + fm.erf(x * fm.like(x, _SQRT1_2)))
        return cdf + x * fm.like(x, _INV_SQRT_2PI) * fm.exp(-half * x * x)
    elif code == GELU_TANH_GRAD:
        k = fm.like(x, _SQRT_2_OVER_PI)
        c = fm.like(x, 0.044715)
        t = fm.tanh(k * (x + c * x * x * x))
        return half * (one + t) + half * x * (one - t * t) * k * (one + fm.like(x, 3.0) * c * x * x)
    elif code == COPY:
        return x
    elif code == RECIP:
        return one / x
    else:  # SQUARE
        return x * x


# ---- spans: the innermost loop of every kernel, with stride fast paths ----

# Loops index 0-based slices: numba can then prove indices non-negative, drop its
# negative-index wraparound and let LLVM vectorise.

@njit(inline="always")
def _binary_span(code, a, pa, sa, b, pb, sb, out, po, j0, j1):
    n = j1 - j0
    o = out[po + j0:po + j1]
    if sa == 1 and sb == 1:
        x = a[pa + j0:pa + j1]
        y = b[pb + j0:pb + j1]
        for j in range(n):
            o[j] = binop(code, x[j], y[j])
    elif sa == 1 and sb == 0:
        x = a[pa + j0:pa + j1]
        yv = b[pb]
        for j in range(n):
            o[j] = binop(code, x[j], yv)
    elif sa == 0 and sb == 1:
        xv = a[pa]
        y = b[pb + j0:pb + j1]
        for j in range(n):
            o[j] = binop(code, xv, y[j])
    else:
        x0 = pa + j0 * sa
        y0 = pb + j0 * sb
        for j in range(n):
            o[j] = binop(code, a[x0 + j * sa], b[y0 + j * sb])


@njit(inline="always")
def _unary_span(code, a, pa, sa, out, po, j0, j1):
    n = j1 - j0
    o = out[po + j0:po + j1]
    if sa == 1:
        x = a[pa + j0:pa + j1]
        for j in range(n):
            o[j] = unop(code, x[j])
    else:
        x0 = pa + j0 * sa
        for j in range(n):
            o[j] = unop(code, a[x0 + j * sa])


# Kernel work split: the 4 coalesced dims are (n0, n1) "planes" of n2 rows of n3
# elements. A task is one plane, a block of `rpb` rows and a chunk of `chunk`
# elements of each row; within a task the row offsets advance by one add per row.

def make_binary_kernel(code: int):
    @njit(cache=True, parallel=True, error_model="numpy")
    def binary_kernel(a, ao, ast, b, bo, bst, out, shape, chunk, rpb):
        n1, n2, n3 = shape[1], shape[2], shape[3]
        nch = (n3 + chunk - 1) // chunk
        nb = (n2 + rpb - 1) // rpb
        for t in prange(shape[0] * n1 * nb * nch):
            q = t // nch
            j0 = (t - q * nch) * chunk
            j1 = min(n3, j0 + chunk)
            p = q // nb
            r0 = (q - p * nb) * rpb
            i1 = p % n1
            i0 = p // n1
            pa = ao + i0 * ast[0] + i1 * ast[1] + r0 * ast[2]
            pb = bo + i0 * bst[0] + i1 * bst[1] + r0 * bst[2]
            po = (p * n2 + r0) * n3
            for _ in range(r0, min(n2, r0 + rpb)):
                _binary_span(code, a, pa, ast[3], b, pb, bst[3], out, po, j0, j1)
                pa += ast[2]
                pb += bst[2]
                po += n3
    return binary_kernel


def make_unary_kernel(code: int):
    @njit(cache=True, parallel=True, fastmath={"contract"}, error_model="numpy")
    def unary_kernel(a, ao, ast, out, shape, chunk, rpb):
        n1, n2, n3 = shape[1], shape[2], shape[3]
        nch = (n3 + chunk - 1) // chunk
        nb = (n2 + rpb - 1) // rpb
        for t in prange(shape[0] * n1 * nb * nch):
            q = t // nch
            j0 = (t - q * nch) * chunk
            j1 = min(n3, j0 + chunk)
            p = q // nb
            r0 = (q - p * nb) * rpb
            i1 = p % n1
            i0 = p // n1
            pa = ao + i0 * ast[0] + i1 * ast[1] + r0 * ast[2]
            po = (p * n2 + r0) * n3
            for _ in range(r0, min(n2, r0 + rpb)):
                _unary_span(code, a, pa, ast[3], out, po, j0, j1)
                pa += ast[2]
                po += n3
    return unary_kernel


def make_unary_flat_kernel(code: int):
    """Serial kernel over contiguous 1-D data, for small tensors of ops numpy lacks."""
    @njit(cache=True, fastmath={"contract"}, error_model="numpy")
    def unary_flat_kernel(a, out):
        for j in range(a.shape[0]):
            out[j] = unop(code, a[j])
    return unary_flat_kernel


@njit(inline="always")
def _where_span(c, pc, sc, a, pa, sa, b, pb, sb, out, po, j0, j1):
    o = out[po + j0:po + j1]
    if sc == 1 and sa == 1 and sb == 1:
        cc = c[pc + j0:pc + j1]
        aa = a[pa + j0:pa + j1]
        bb = b[pb + j0:pb + j1]
        for j in range(j1 - j0):
            o[j] = aa[j] if cc[j] != 0 else bb[j]
    else:
        for j in range(j1 - j0):
            jj = j0 + j
            o[j] = a[pa + jj * sa] if c[pc + jj * sc] != 0 else b[pb + jj * sb]


@njit(cache=True, parallel=True, error_model="numpy")
def where_kernel(c, co, cst, a, ao, ast, b, bo, bst, out, shape, chunk, rpb):
    n1, n2, n3 = shape[1], shape[2], shape[3]
    nch = (n3 + chunk - 1) // chunk
    nb = (n2 + rpb - 1) // rpb
    for t in prange(shape[0] * n1 * nb * nch):
        q = t // nch
        j0 = (t - q * nch) * chunk
        j1 = min(n3, j0 + chunk)
        p = q // nb
        r0 = (q - p * nb) * rpb
        i1 = p % n1
        i0 = p // n1
        pc = co + i0 * cst[0] + i1 * cst[1] + r0 * cst[2]
        pa = ao + i0 * ast[0] + i1 * ast[1] + r0 * ast[2]
        pb = bo + i0 * bst[0] + i1 * bst[1] + r0 * bst[2]
        po = (p * n2 + r0) * n3
        for _ in range(r0, min(n2, r0 + rpb)):
            _where_span(c, pc, cst[3], a, pa, ast[3], b, pb, bst[3], out, po, j0, j1)
            pc += cst[2]
            pa += ast[2]
            pb += bst[2]
            po += n3


_BINARY_KERNELS: dict[int, object] = {}
_UNARY_KERNELS: dict[int, object] = {}
_UNARY_FLAT_KERNELS: dict[int, object] = {}


def _binary_kernel(code):
    k = _BINARY_KERNELS.get(code)
    if k is None:
        k = _BINARY_KERNELS[code] = make_binary_kernel(code)
    return k


def _unary_kernel(code):
    k = _UNARY_KERNELS.get(code)
    if k is None:
        k = _UNARY_KERNELS[code] = make_unary_kernel(code)
    return k


def _unary_flat_kernel(code):
    k = _UNARY_FLAT_KERNELS.get(code)
    if k is None:
        k = _UNARY_FLAT_KERNELS[code] = make_unary_flat_kernel(code)
    return k


# ---- numpy equivalents for the small-tensor path ----

_NP_BINARY = {ADD: np.add, SUB: np.subtract, MUL: np.multiply, DIV: np.true_divide,
              POW: np.power, MAXIMUM: np.maximum, MINIMUM: np.minimum, EQ: np.equal,
              NE: np.not_equal, LT: np.less, LE: np.less_equal, GT: np.greater,
              GE: np.greater_equal}
_NP_UNARY = {NEG: np.negative, EXP: np.exp, LOG: np.log, SQRT: np.sqrt, TANH: np.tanh,
             ABS: np.abs, SIN: np.sin, COS: np.cos, SIGN: np.sign, COPY: np.copyto,
             RECIP: np.reciprocal, SQUARE: np.square}

_FLOATS = (np.dtype(np.float32), np.dtype(np.float64))
_I64 = np.dtype(np.int64)


# ---- preparing strided operands ----

def _operand(x, out_shape):
    """(flat buffer, element offset, strides broadcast to out_shape) of a strided numpy
    array (read in place: a flat span over the same memory) or a numpy scalar."""
    if not isinstance(x, np.ndarray):
        return x, 0, (0,) * len(out_shape)
    item = x.itemsize
    lead = len(out_shape) - x.ndim
    strides = [0] * lead
    for n, s, m in zip(x.shape, x.strides, out_shape[lead:]):
        strides.append(s // item if n == m else 0)
    if x.flags.c_contiguous:
        return x.reshape(-1), 0, strides
    span = 1 + sum((n - 1) * (s // item) for n, s in zip(x.shape, x.strides))
    return np.lib.stride_tricks.as_strided(x, shape=(span,), strides=(item,)), 0, strides


def coalesce(shape, strides_list):
    """Merge dims that every operand walks contiguously; drop size-1 dims."""
    out_shape: list[int] = []
    out_strides: list[list[int]] = [[] for _ in strides_list]
    for k, n in enumerate(shape):
        if n == 1:
            continue
        if out_shape and all(st[k] * n == ost[-1] for st, ost in zip(strides_list, out_strides)):
            out_shape[-1] *= n
            for st, ost in zip(strides_list, out_strides):
                ost[-1] = st[k]
        else:
            out_shape.append(n)
            for st, ost in zip(strides_list, out_strides):
                ost.append(st[k])
    return out_shape, out_strides


def _plan(out_shape, operands):
    """Kernel arguments for operands (arrays or numpy scalars), or None if > 4 dims remain."""
    prepared = [_operand(x, out_shape) for x in operands]
    shape, strides = coalesce(out_shape, [p[2] for p in prepared])
    if len(shape) > 4:
        return None
    pad = 4 - len(shape)
    shape4 = np.array([1] * pad + shape, dtype=np.int64)
    args = []
    for (buf, off, _), st in zip(prepared, strides):
        if not isinstance(buf, np.ndarray):  # python scalar: a 1-element buffer, stride 0
            buf = np.asarray(buf).reshape(1)
        args.extend((buf, off, np.array([0] * pad + st, dtype=np.int64)))
    chunk, rpb = _split(shape4)
    return args, shape4, (chunk, rpb)


def _split(shape4) -> tuple[int, int]:
    """(chunk, rows per block) giving about 8 tasks per thread (see the kernels)."""
    n0, n1, n2, n3 = (int(v) for v in shape4)
    if n0 * n1 * n2 * n3 == 0:
        return max(n3, 1), max(n2, 1)
    want = 8 * num_threads()
    planes = n0 * n1
    blocks = min(n2, -(-want // planes))
    rpb = -(-n2 // blocks)
    have = planes * -(-n2 // rpb)
    chunk = n3
    if have < want:
        pieces = min(-(-n3 // 1024), -(-want // have))
        chunk = -(-n3 // pieces)
    return chunk, rpb


# numpy would warn when these meet zeros or negatives (PyTorch does not); silencing
# costs ~2 us a call, so only the ops that commonly meet them are wrapped
_MAY_WARN = frozenset((POW,))
_UNARY_MAY_WARN = frozenset((LOG, RECIP))


def _np_arg(x, dtype):
    return x if isinstance(x, np.ndarray) else dtype.type(x)


def binary(code: int, a, b) -> np.ndarray:
    """a `op` b for arrays of one compute dtype, or an array and a python scalar.

    Large float operands go to the strided numba kernels; the rest to numpy ufuncs
    (python scalars stay weak, so a float32 array times 2.0 stays float32).
    """
    a_t = isinstance(a, np.ndarray)
    b_t = isinstance(b, np.ndarray)
    ref = a if a_t else b
    dtype = ref.dtype
    if dtype.kind == "f" and ((a_t and a.size >= PARALLEL_MIN) or (b_t and b.size >= PARALLEL_MIN)):
        shape = broadcast_shapes(a.shape, b.shape) if a_t and b_t else ref.shape
        plan = _plan(shape, (a if a_t else dtype.type(a), b if b_t else dtype.type(b)))
        if plan is not None:
            args, shape4, split = plan
            out = np.empty(shape, dtype=np.uint8 if code in COMPARISONS else dtype)
            _binary_kernel(code)(*args, out.reshape(-1), shape4, *split)
            return out
    fn = _NP_BINARY[code]
    if code in _MAY_WARN:
        with np.errstate(all="ignore"):
            r = fn(a, b)
    else:
        r = fn(a, b)
    if code in COMPARISONS:
        r = r.view(np.uint8)
    return r


def unary(code: int, x: np.ndarray) -> np.ndarray:
    """op(x) for an array of a compute dtype."""
    dtype = x.dtype
    if dtype.kind == "f" and x.size >= PARALLEL_MIN:
        plan = _plan(x.shape, (x,))
        if plan is not None:
            args, shape4, split = plan
            out = np.empty(x.shape, dtype=dtype)
            _unary_kernel(code)(*args, out.reshape(-1), shape4, *split)
            return out
    fn = _NP_UNARY.get(code)
    if fn is not None:
        if code == COPY:
            return np.array(x, order="C", copy=True)
        if code in _UNARY_MAY_WARN:
            with np.errstate(all="ignore"):
                return fn(x)
        return fn(x)
    if code == RELU:
        return np.maximum(x, 0)
    if dtype.kind != "f":
        raise TypeError(f"unary op {code} needs a float tensor, got {dtype}")
    out = np.empty(x.shape, dtype=dtype)
    _unary_flat_kernel(code)(np.ascontiguousarray(x).reshape(-1), out.reshape(-1))
    return out


def where(cond: np.ndarray, a, b) -> np.ndarray:
    """cond ? a : b with broadcasting; cond is a u8 array, a/b arrays or scalars (one at
    least an array, whose dtype the result takes)."""
    dtype = (a if isinstance(a, np.ndarray) else b).dtype
    out_shape = cond.shape
    for x in (a, b):
        if isinstance(x, np.ndarray):
            out_shape = broadcast_shapes(out_shape, x.shape)
    n = math.prod(out_shape)
    if n >= PARALLEL_MIN and dtype in _FLOATS:
        plan = _plan(out_shape, (cond, _np_arg(a, dtype), _np_arg(b, dtype)))
        if plan is not None:
            args, shape4, split = plan
            out = np.empty(out_shape, dtype=dtype)
            where_kernel(*args, out.reshape(-1), shape4, *split)
            return out
    out = np.empty(out_shape, dtype=dtype)
    np.copyto(out, np.where(cond, _np_arg(a, dtype), _np_arg(b, dtype)), casting="unsafe")
    return out


def copy(x: np.ndarray) -> np.ndarray:
    """A C-contiguous copy of a strided array (parallel for large float data)."""
    return unary(COPY, x)
