"""Device functions shared by the kernels: strided index decoding and bit-exact
conversions between float32 and the half formats.

Halves are handled as raw uint16 bits with integer arithmetic. That needs no
fp16 hardware support, behaves identically on the simulator and on a GPU, and
rounds exactly like numpy (round to nearest, ties to even).
"""

from __future__ import annotations

import numpy as np
from numba import cuda

from .launch import MAXD

_LAST = MAXD - 1


# ---- strided offsets: flat index i over a (padded) shape -> element offsets ----
# (nd is the number of real dims; a 0-d launch never happens: empty/size-1 shapes
# coalesce to nd == 0, for which every offset is 0)

@cuda.jit(device=True)
def offset1(i, shape, s0, nd):
    if nd == 1:  # the common case after coalescing: no integer division
        return i * s0[_LAST]
    o0 = 0
    q = i
    for d in range(_LAST, _LAST - nd, -1):
        n = shape[d]
        c = q % n
        q //= n
        o0 += c * s0[d]
    return o0


@cuda.jit(device=True)
def offset2(i, shape, s0, s1, nd):
    if nd == 1:
        return i * s0[_LAST], i * s1[_LAST]
    o0 = 0
    o1 = 0
    q = i
    for d in range(_LAST, _LAST - nd, -1):
        n = shape[d]
        c = q % n
        q //= n
        o0 += c * s0[d]
        o1 += c * s1[d]
    return o0, o1


@cuda.jit(device=True)
def offset3(i, shape, s0, s1, s2, nd):
    if nd == 1:
        return i * s0[_LAST], i * s1[_LAST], i * s2[_LAST]
    o0 = 0
    o1 = 0
    o2 = 0
    q = i
    for d in range(_LAST, _LAST - nd, -1):
        n = shape[d]
        c = q % n
        q //= n
        o0 += c * s0[d]
        o1 += c * s1[d]
        o2 += c * s2[d]
    return o0, o1, o2


@cuda.jit(device=True)
def offset_pick(i, shape, s0, s1, nd, pick):
    """offset2, and also the coordinate along padded dim `pick` (which adds no offset)."""
    o0 = 0
    o1 = 0
    cp = 0
    q = i
    for d in range(_LAST, _LAST - nd, -1):
        n = shape[d]
        c = q % n
        q //= n
        if d == pick:
            cp = c
        else:
            o0 += c * s0[d]
            o1 += c * s1[d]
    return o0, o1, cp


# ---- half <-> float32 ----

@cuda.jit(device=True)
def f16_to_f32(h):
    """IEEE half bits (uint16) -> float32 value, exactly."""
    b = np.int64(h)
    e = (b >> 10) & 0x1F
    m = b & 0x3FF
    if e == 0:  # zero / subnormal: m * 2**-24
        v = np.float32(m) / np.float32(16777216.0)
    elif e == 31:
        v = np.float32(np.inf) if m == 0 else np.float32(np.nan)
    elif e >= 25:
        v = np.float32((m | 0x400) << (e - 25))
    else:  # a power-of-two division is exact
        v = np.float32(m | 0x400) / np.float32(1 << (25 - e))
    if b & 0x8000:
        v = -v
    return v


@cuda.jit(device=True)
def f32bits_to_f16(bits):
    """float32 bits (uint32) -> IEEE half bits, round to nearest even; NaN stays NaN."""
    b = np.int64(bits)
    s = (b >> 16) & 0x8000
    e = (b >> 23) & 0xFF
    m = b & 0x7FFFFF
    if e == 255:
        return np.uint16(s | 0x7C00 | (0x200 if m != 0 else 0))
    ee = e - 112  # rebias 127 -> 15
    if ee >= 31:
        return np.uint16(s | 0x7C00)
    if ee <= 0:
        if ee < -10:  # below 2**-25: rounds to zero
            return np.uint16(s)
        m = m | 0x800000
        shift = 14 - ee
        hm = m >> shift
        rem = m & ((1 << shift) - 1)
        halfway = 1 << (shift - 1)
        if rem > halfway or (rem == halfway and (hm & 1) != 0):
            hm += 1  # may carry into the smallest normal: still the right encoding
        return np.uint16(s | hm)
    hm = m >> 13
    rem = m & 0x1FFF
    out = s | (ee << 10) | hm
    if rem > 0x1000 or (rem == 0x1000 and (hm & 1) != 0):
        out += 1  # a carry into the exponent is correct, up to inf
    return np.uint16(out)


@cuda.jit(device=True)
def bf16_to_f32bits(h):
    return np.uint32(np.int64(h) << 16)


@cuda.jit(device=True)
def f32bits_to_bf16(bits):
    b = np.int64(bits)
    if (b & 0x7F800000) == 0x7F800000 and (b & 0x7FFFFF) != 0:  # NaN: keep it quiet
        return np.uint16(((b >> 16) | 0x40) & 0xFFFF)
    rounding = ((b >> 16) & 1) + 0x7FFF
    return np.uint16(((b + rounding) >> 16) & 0xFFFF)
