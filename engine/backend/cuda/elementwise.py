"""Strided elementwise kernels: unary math, binary arithmetic and comparisons with
broadcasting, where, copies between any two layouts, dtype casts and fills.

Operands are read in place through their strides: a broadcast operand (stride
0, or a python scalar held in a cached 1-element device array) is never
materialised and nothing is made contiguous first. Dims that every operand
walks as one run are merged on the host before launch (coalescing), so the
kernel's per-element index decoding usually loops over one or two dims.
"""

from __future__ import annotations

import functools
import math

import numpy as np
from numba import cuda

from ...dtype import DType, bf16, f16, f32
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
from . import devfn
from .launch import (
    MAXD,
    blocks_for,
    broadcast_strides,
    coalesce,
    config,
    contiguous_strides,
    empty,
    flat,
    numel,
    pad,
    scalar_array,
    view_as,
)

# ---------------------------------------------------------------- device functions


def _binary_fn(code):
    if code == ADD:
        def f(x, y):
            return x + y
    elif code == SUB:
        def f(x, y):
            return x - y
    elif code == MUL:
        def f(x, y):
            return x * y
    elif code == DIV:
        def f(x, y):
            return x / y
    elif code == POW:
        def f(x, y):
            return x ** y
    elif code == MAXIMUM:  # NaN propagates, as in numpy/torch
        def f(x, y):
            return x if (x >= y or x != x) else y  # noqa: PLR0124 (NaN test)
    elif code == MINIMUM:
        def f(x, y):
            return x if (x <= y or x != x) else y  # noqa: PLR0124
    elif code == EQ:
        def f(x, y):
            return x == y
    elif code == NE:
        def f(x, y):
            return x != y
    elif code == LT:
        def f(x, y):
            return x < y
    elif code == LE:
        def f(x, y):
            return x <= y
    elif code == GT:
        def f(x, y):
            return x > y
    elif code == GE:
        def f(x, y):
            return x >= y
    else:
        raise ValueError(f"unknown binary op code {code}")
    return cuda.jit(device=True)(f)


# exp overflows above these (Python's math.exp would raise on the simulator)
_EXP_MAX = {np.dtype(np.float32): 88.72283905206835, np.dtype(np.float64): 709.782712893384}


@functools.cache
def exp_fn(dtype: np.dtype):
    """exp with IEEE overflow to inf on both the GPU and the simulator."""
    T = dtype.type
    limit, inf = T(_EXP_MAX[dtype]), T(np.inf)

    @cuda.jit(device=True)
    def exp_(x):
        return inf if x > limit else math.exp(x)
    return exp_


@functools.cache
def gelu_fns(dtype: np.dtype):
    """(gelu_erf, gelu_tanh) device functions with constants of the compute dtype."""
    T = dtype.type
    half, one = T(0.5), T(1.0)
    c_erf, k, c = T(0.7071067811865476), T(0.7978845608028654), T(0.044715)

    @cuda.jit(device=True)
    def gelu_erf(x):
        return half * x * (one + math.erf(x * c_erf))

    @cuda.jit(device=True)
    def gelu_tanh(x):
        return half * x * (one + math.tanh(k * (x + c * x * x * x)))
    return gelu_erf, gelu_tanh


@functools.cache
def unary_fn(code: int, dtype: np.dtype):
    """The device function of unary op `code` for compute dtype `dtype`."""
    T = dtype.type
    one, half, zero = T(1), T(0.5), T(0)
    if code in (NEG, ABS, RELU, SIGN, SQUARE, COPY):  # also valid for integers
        if code == NEG:
            def f(x):
                return -x
        elif code == ABS:
            def f(x):
                return abs(x)
        elif code == RELU:
            def f(x):
                return x if (x > zero or x != x) else zero  # noqa: PLR0124
        elif code == SIGN:
            def f(x):
                return one if x > zero else (-one if x < zero else x * zero)
        elif code == SQUARE:
            def f(x):
                return x * x
        else:
            def f(x):
                return x
        return cuda.jit(device=True)(f)
    if dtype.kind != "f":
        raise TypeError(f"unary op {code} needs a float tensor, got {dtype}")
    nan, inf = T(np.nan), T(np.inf)
    exp_ = exp_fn(dtype)
    gelu_erf, gelu_tanh = gelu_fns(dtype)
    inv_sqrt_2pi, c_erf = T(0.3989422804014327), T(0.7071067811865476)
    k, c, three = T(0.7978845608028654), T(0.044715), T(3.0)
    if code == EXP:
        def f(x):
            return exp_(x)
    elif code == LOG:  # explicit domain handling: the simulator's math.log would raise
        def f(x):
            if x > zero:
                return math.log(x)
            return -inf if x == zero else nan
    elif code == SQRT:
        def f(x):
            return math.sqrt(x) if x >= zero else nan
    elif code == RSQRT:
        def f(x):
            if x > zero:
                return one / math.sqrt(x)
            return inf if x == zero else nan
    elif code == TANH:
        def f(x):
            return math.tanh(x)
    elif code == GELU:
        def f(x):
            return gelu_erf(x)
    elif code == GELU_TANH:
        def f(x):
            return gelu_tanh(x)
    elif code == SIGMOID:
        def f(x):
            return one / (one + exp_(-x))
    elif code == SIN:
        def f(x):
            return math.sin(x)
    elif code == COS:
        def f(x):
            return math.cos(x)
    elif code == GELU_GRAD:  # d/dx x*Phi(x) = Phi(x) + x*phi(x)
        def f(x):
            cdf = half * (one + math.erf(x * c_erf))
            return cdf + x * inv_sqrt_2pi * exp_(-half * x * x)
    elif code == GELU_TANH_GRAD:
        def f(x):
            t = math.tanh(k * (x + c * x * x * x))
            return half * (one + t) + half * x * (one - t * t) * k * (one + three * c * x * x)
    elif code == RECIP:
        def f(x):
            return one / x
    else:
        raise ValueError(f"unknown unary op code {code}")
    return cuda.jit(device=True)(f)


# ---------------------------------------------------------------- kernels

@functools.cache
def _binary_kernel(code: int):
    f = _binary_fn(code)

    @cuda.jit
    def binary_kernel(a, ao, ast, b, bo, bst, out, shape, nd, n):
        i = cuda.grid(1)
        step = cuda.gridsize(1)
        while i < n:
            oa, ob = devfn.offset2(i, shape, ast, bst, nd)
            out[i] = f(a[ao + oa], b[bo + ob])
            i += step
    return binary_kernel


@functools.cache
def _unary_kernel(code: int, dtype: np.dtype):
    f = unary_fn(code, dtype)

    @cuda.jit
    def unary_kernel(a, ao, ast, out, shape, nd, n):
        i = cuda.grid(1)
        step = cuda.gridsize(1)
        while i < n:
            out[i] = f(a[ao + devfn.offset1(i, shape, ast, nd)])
            i += step
    return unary_kernel


@cuda.jit
def _where_kernel(c, co, cst, a, ao, ast, b, bo, bst, out, shape, nd, n):
    i = cuda.grid(1)
    step = cuda.gridsize(1)
    while i < n:
        oc, oa, ob = devfn.offset3(i, shape, cst, ast, bst, nd)
        out[i] = a[ao + oa] if c[co + oc] != 0 else b[bo + ob]
        i += step


def _identity(x):
    return x


# conversions applied while copying: name -> device function on one element
_CONVERSIONS = {
    "same": cuda.jit(device=True)(_identity),
    "f16_to_f32": devfn.f16_to_f32,
    "f32bits_to_f16": devfn.f32bits_to_f16,
    "bf16_to_f32bits": devfn.bf16_to_f32bits,
    "f32bits_to_bf16": devfn.f32bits_to_bf16,
}


@functools.cache
def _copy_kernel(conversion: str):
    conv = _CONVERSIONS[conversion]

    @cuda.jit
    def copy_kernel(src, so, sst, dst, do, dst_st, shape, nd, n):
        i = cuda.grid(1)
        step = cuda.gridsize(1)
        while i < n:
            os_, od = devfn.offset2(i, shape, sst, dst_st, nd)
            dst[do + od] = conv(src[so + os_])
            i += step
    return copy_kernel


@cuda.jit
def _fill_kernel(out, value, n):
    i = cuda.grid(1)
    step = cuda.gridsize(1)
    while i < n:
        out[i] = value
        i += step


# ---------------------------------------------------------------- launching

def _launch(kernel, n: int, *args) -> None:
    if n == 0:
        return
    threads = config().threads
    kernel[blocks_for(n, threads), threads](*args, n)


def run_elementwise(kernel, out, out_shape, operands) -> None:
    """Launch `kernel(op0_buf, op0_off, op0_strides, ..., out, shape, nd, n)` over the
    C-contiguous flat `out` of `out_shape`; operands are (buf, offset, strides-as-out_shape).

    More than MAXD unmergeable dims are split over the first dim on the host."""
    shape, strides = coalesce(out_shape, [op[2] for op in operands])
    if len(shape) > MAXD:
        inner = numel(out_shape[1:])
        for idx in range(out_shape[0]):
            sub = [(buf, off + idx * st[0], st[1:]) for (buf, off, st) in operands]
            run_elementwise(kernel, out[idx * inner:(idx + 1) * inner], out_shape[1:], sub)
        return
    args = []
    for (buf, off, _), st in zip(operands, strides):
        args += [buf, off, pad(st, 0)]
    _launch(kernel, numel(out_shape), *args, out, pad(shape, 1), len(shape))


def copy_strided(src, src_off, src_strides, dst, dst_off, dst_strides, shape,
                 conversion: str = "same") -> None:
    """dst[dst layout] = conversion(src[src layout]) for two strided views of `shape`
    (src strides may be 0 to broadcast). Values convert to dst's dtype on store."""
    shape = tuple(shape)
    if conversion == "same" and src.dtype == np.float16 and dst.dtype == np.float16:
        src, dst = view_as(src, np.uint16), view_as(dst, np.uint16)  # move halves as raw bits
    dims, (ss, ds) = coalesce(shape, [tuple(src_strides), tuple(dst_strides)])
    if len(dims) > MAXD:
        for idx in range(shape[0]):
            copy_strided(src, src_off + idx * src_strides[0], src_strides[1:], dst,
                         dst_off + idx * dst_strides[0], dst_strides[1:], shape[1:], conversion)
        return
    _launch(_copy_kernel(conversion), numel(shape), src, src_off, pad(ss, 0), dst, dst_off,
            pad(ds, 0), pad(dims, 1), len(dims))


def fill(out, value) -> None:
    """Set every element of a contiguous device array to value."""
    f = flat(out)
    if f.dtype == np.float16:  # store the half's bits
        f, value = view_as(f, np.uint16), np.float16(value).view(np.uint16)
    _launch(_fill_kernel, numel(out.shape), f, f.dtype.type(value))


def full(shape, value, dtype) -> object:
    out = empty(shape, dtype)
    fill(out, value)
    return out


# ---------------------------------------------------------------- operand adapters

def _is_tensor(x) -> bool:
    return hasattr(x, "_layout")


def operand(x, out_shape, dtype: np.dtype):
    """(buf, offset, strides as out_shape) of a CUDA tensor or python scalar."""
    if not _is_tensor(x):
        return scalar_array(x, dtype), 0, (0,) * len(out_shape)
    lay = x._layout
    return x._storage.buf, lay.offset, broadcast_strides(lay.shape, lay.strides, out_shape)


def _broadcast(*shapes):
    out = shapes[0]
    for s in shapes[1:]:
        out = broadcast_shapes(out, s)
    return out


def binary(code: int, a, b):
    t = a if _is_tensor(a) else b
    dtype = t._storage.buf.dtype
    out_shape = _broadcast(*(x.shape for x in (a, b) if _is_tensor(x)))
    out = empty(out_shape, np.uint8 if code in COMPARISONS else dtype)
    ops = [operand(a, out_shape, dtype), operand(b, out_shape, dtype)]
    run_elementwise(_binary_kernel(code), flat(out), out_shape, ops)
    return out


def unary(code: int, x):
    dtype = x._storage.buf.dtype
    out = empty(x.shape, dtype)
    run_elementwise(_unary_kernel(code, dtype), flat(out), x.shape,
                    [operand(x, x.shape, dtype)])
    return out


def where(cond, a, b):
    t = a if _is_tensor(a) else b
    dtype = t._storage.buf.dtype
    out_shape = _broadcast(cond.shape, *(x.shape for x in (a, b) if _is_tensor(x)))
    out = empty(out_shape, dtype)
    ops = [operand(cond, out_shape, np.dtype(np.uint8)), operand(a, out_shape, dtype),
           operand(b, out_shape, dtype)]
    run_elementwise(_where_kernel, flat(out), out_shape, ops)
    return out


def copy(x):
    """A C-contiguous copy of a strided tensor."""
    buf, off, shape, strides = x._storage.buf, x._layout.offset, x.shape, x._layout.strides
    out = empty(shape, buf.dtype)
    copy_strided(buf, off, strides, flat(out), 0, contiguous_strides(shape), shape)
    return out


def _convert(src_buf, off, strides, shape, out_dtype, conversion="same"):
    out = empty(shape, out_dtype)
    copy_strided(src_buf, off, strides, flat(out), 0, contiguous_strides(shape), shape,
                 conversion)
    return out


def cast(x, dtype: DType):
    """x converted to dtype. Halves go through their float32 bits, rounding to nearest
    even as numpy does; float -> int truncates toward zero."""
    buf, off, shape, strides = x._storage.buf, x._layout.offset, x.shape, x._layout.strides
    src = x.dtype
    if src is bf16:  # widen: the bits shifted up are the float32
        f = view_as(_convert(buf, off, strides, shape, np.uint32, "bf16_to_f32bits"), np.float32)
        if dtype is f32:
            return f
        buf, off, strides, src = flat(f), 0, contiguous_strides(shape), f32
    elif src is f16:
        target = np.float32 if dtype in (f32, bf16) else dtype.numpy
        f = _convert(view_as(buf, np.uint16), off, strides, shape, target, "f16_to_f32")
        if dtype is not bf16:
            return f
        buf, off, strides, src = flat(f), 0, contiguous_strides(shape), f32
    if dtype is f16 or dtype is bf16:
        if src is not f32:
            f = _convert(buf, off, strides, shape, np.float32)
            buf, off, strides = flat(f), 0, contiguous_strides(shape)
        conv = "f32bits_to_f16" if dtype is f16 else "f32bits_to_bf16"
        out = _convert(view_as(buf, np.uint32), off, strides, shape, np.uint16, conv)
        return view_as(out, np.float16) if dtype is f16 else out
    return _convert(buf, off, strides, shape, dtype.numpy)
