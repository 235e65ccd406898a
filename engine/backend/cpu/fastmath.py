"""Vectorisable float32 exp / erf / tanh for numba kernels.

libm's scalar expf/erff keep LLVM from vectorising a loop (numba has no SVML
here), which makes softmax and GELU several times slower than PyTorch. These
versions use only arithmetic, floor, min/max and a bit cast, so loops over them
compile to AVX2/AVX-512 code. Each is accurate to a few float32 ulps. The
generic names (`exp`, `erf`, `tanh`) pick the fast form for float32 and the
libm form (exact, for float64 gradient checks) otherwise, at compile time.
"""

import math

import numpy as np
from llvmlite import ir
from numba import njit, types
from numba.extending import intrinsic, overload


@intrinsic
def _int32_bits_as_float32(typingctx, bits):
    sig = types.float32(types.int32)

    def codegen(context, builder, signature, args):
        return builder.bitcast(args[0], ir.FloatType())

    return sig, codegen


@intrinsic
def float32_bits(typingctx, x):
    """The bits of a float32 as a uint32 (a bit cast, no conversion)."""
    sig = types.uint32(types.float32)

    def codegen(context, builder, signature, args):
        return builder.bitcast(args[0], ir.IntType(32))

    return sig, codegen


@njit(inline="always")
def expf(x):
    """exp for float32: 2**n * p(r), x = n*ln2 + r (Cephes polynomial).

    2**n is applied as two halves so no factor overflows on its own: results
    overflow to inf and underflow to 0 exactly where float32 does (-inf gives 0).
    Branch-free, so loops over it vectorise.
    """
    xc = min(max(x, np.float32(-104.0)), np.float32(89.0))
    n = np.floor(xc * np.float32(1.44269504088896341) + np.float32(0.5))
    r = xc - n * np.float32(0.693359375)
    r = r + n * np.float32(2.12194440e-4)
    p = np.float32(1.9875691500e-4)
    p = p * r + np.float32(1.3981999507e-3)
    p = p * r + np.float32(8.3334519073e-3)
    p = p * r + np.float32(4.1665795894e-2)
    p = p * r + np.float32(1.6666665459e-1)
    p = p * r + np.float32(5.0000001201e-1)
    p = p * r * r + r + np.float32(1.0)
    ni = np.int32(n)
    n1 = ni >> np.int32(1)
    n2 = ni - n1
    s1 = _int32_bits_as_float32((n1 + np.int32(127)) << np.int32(23))
    s2 = _int32_bits_as_float32((n2 + np.int32(127)) << np.int32(23))
    return p * s1 * s2


@njit(inline="always")
def erff(x):
    """erf for float32: x * P(x^2) / Q(x^2) on [-4, 4] (erf(4) rounds to 1 in float32)."""
    x = min(max(x, np.float32(-4.0)), np.float32(4.0))
    x2 = x * x
    p = np.float32(-2.72614225801306e-10)
    p = p * x2 + np.float32(2.77068142495902e-08)
    p = p * x2 + np.float32(-2.10102402082508e-06)
    p = p * x2 + np.float32(-5.69250639462346e-05)
    p = p * x2 + np.float32(-7.34990630326855e-04)
    p = p * x2 + np.float32(-2.95459980854025e-03)
    p = p * x2 + np.float32(-1.60960333262415e-02)
    p = p * x
    q = np.float32(-1.45660718464996e-05)
    q = q * x2 + np.float32(-2.13374055278905e-04)
    q = q * x2 + np.float32(-1.68282697438203e-03)
    q = q * x2 + np.float32(-7.37332916720468e-03)
    q = q * x2 + np.float32(-1.42647390514189e-02)
    return p / q


@njit(inline="always")
def tanhf(x):
    """tanh for float32: x * P(x^2) / Q(x^2) on [-9, 9] (tanh(9) rounds to 1 in float32)."""
    x = min(max(x, np.float32(-9.0)), np.float32(9.0))
    x2 = x * x
    p = np.float32(-2.76076847742355e-16)
    p = p * x2 + np.float32(2.00018790482477e-13)
    p = p * x2 + np.float32(-8.60467152213735e-11)
    p = p * x2 + np.float32(5.12229709037114e-08)
    p = p * x2 + np.float32(1.48572235717979e-05)
    p = p * x2 + np.float32(6.37261928875436e-04)
    p = p * x2 + np.float32(4.89352455891786e-03)
    p = p * x
    q = np.float32(1.19825839466702e-06)
    q = q * x2 + np.float32(1.18534705686654e-04)
    q = q * x2 + np.float32(2.26843463243900e-03)
    q = q * x2 + np.float32(4.89352518554385e-03)
    return p / q


def _is_f32(t) -> bool:
    return isinstance(t, types.Float) and t.bitwidth == 32


# Generic entry points: resolved per argument type when a kernel is compiled.

def exp(x):
    return math.exp(x)


def erf(x):
    return math.erf(x)


def tanh(x):
    return math.tanh(x)


@overload(exp, inline="always")
def _exp_ov(x):
    if _is_f32(x):
        return lambda x: expf(x)
    return lambda x: math.exp(x)


@overload(erf, inline="always")
def _erf_ov(x):
    if _is_f32(x):
        return lambda x: erff(x)
    return lambda x: math.erf(x)


@overload(tanh, inline="always")
def _tanh_ov(x):
    if _is_f32(x):
        return lambda x: tanhf(x)
    return lambda x: math.tanh(x)


def like(x, v):
    """The constant v in x's float type (keeps float32 kernels in float32)."""
    return v


@overload(like, inline="always")
def _like_ov(x, v):
    if _is_f32(x):
        return lambda x, v: np.float32(v)
    if isinstance(x, types.Float):
        return lambda x, v: np.float64(v)
    return lambda x, v: v


def acc_zero(v):
    """A zero accumulator for summing values like v: float64 for floats, int64 for ints."""
    return 0


@overload(acc_zero, inline="always")
def _acc_zero_ov(v):
    if isinstance(v, types.Float):
        return lambda v: np.float64(0.0)
    return lambda v: np.int64(0)


@njit(inline="always")
def isnan(v):
    """NaN test that also compiles for integer types (always False there)."""
    return v != v  # noqa: PLR0124 - the IEEE definition of NaN
