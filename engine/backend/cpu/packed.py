"""GEMM against a weight packed once: x @ W.T for a model's fixed W, on the micro-kernel.

BLAS packs both operands into cache-sized panels on every call. A layer's weight
never changes between calls, so here it is packed once, when the model is made
ready for inference (`pack`), into the column panels microkernel.py reads; the
activations are read where they are. The work is split by rows over numba's threads
(a prange loop that calls the compiled kernel by address), each thread running the
micro-kernel over its own rows and then the bias/activation epilogue on them.

The precision (`precision()`): float32, or on CPUs with AVX512-BF16 bfloat16 operands
with float32 sums, where each thread rounds its rows of activations first.

Used for float32 weights whose output count is a multiple of the tile width (every
projection of the encoder); anything else stays on BLAS (linalg.py).
"""

from __future__ import annotations

import numpy as np
from llvmlite import ir
from numba import njit, prange, types
from numba.extending import intrinsic

from . import num_threads
from .fastmath import float32_bits
from .microkernel import Kernel, bf16_kernel, kernel
from .rows import NO_ACT, add_rows_serial, bias_act_rows_serial

__all__ = ["PackedWeight", "available", "linear_packed", "pack"]

# Rows of A run against one B panel before the next panel: a thread's whole share of
# an encoder's 577 rows, so each B panel comes into L2 once per thread (576 x 384
# floats of A stream past it from L2/L3). Measured on Zen 4 (1 thread, 577 x 384 x
# 384..1536): 576 rows 107-111 GFLOP/s, 192 rows 97-110.
BLOCK_ROWS = 576
K_BLOCK = 384  # depth of one pass over C: a B panel (K_BLOCK x 64 floats, 96 KB) in L2
MIN_ROWS_PER_THREAD = 32


def available() -> bool:
    return kernel() is not None


def precision() -> str:
    """"bf16" or "fp32": the precision weights are packed in for the micro-kernel.

    bf16 rounds weights and activations to bfloat16 and sums in float32 (vdpbf16ps): on
    CPUs with AVX512-BF16 it doubles the GEMM throughput. It was chosen on a validation
    draw of the cell generator (split "validation", seed 11, 1000 crops each: exact-match
    73.6 -> 73.5 % on scans, 69.5 -> 69.7 % at low resolution) and then measured on
    benchmarks/ocr_accuracy.py (held-out families +0.1, low resolution 0.0, training
    families +0.1 points), so it is the default there. TABLESCRIBE_PRECISION=fp32 keeps
    float32 (the parity tests at 1e-4 do); =bf16 or =auto (the default) take bf16
    wherever the CPU has it. int8 (AVX512-VNNI) was tried and not kept: on the same
    validation draw it lost 0.2-0.3 points of exact match."""
    import os

    asked = (os.environ.get("TABLESCRIBE_PRECISION") or "auto").lower()
    if asked not in ("auto", "bf16", "fp32"):
        raise ValueError(f"TABLESCRIBE_PRECISION={asked!r}: expected auto, bf16 or fp32")
    return "bf16" if asked != "fp32" and bf16_kernel() is not None else "fp32"


class PackedWeight:
    """W (out, in) as panels[p, k, :] = W[p*nr:(p+1)*nr, k]: each B panel (k x nr)
    contiguous; for the bf16 kernel panels[p, k2, j, :] holds the pair of depths 2*k2 and
    2*k2 + 1 of output p*nr + j, as uint16 bfloat16."""

    __slots__ = ("in_features", "kernel", "out_features", "panels")

    def __init__(self, panels: np.ndarray, in_features: int, out_features: int,
                 kern: Kernel) -> None:
        self.panels = panels
        self.in_features = in_features
        self.out_features = out_features
        self.kernel = kern  # the micro-kernel whose panel width the panels have

    @property
    def shape(self) -> tuple[int, int]:
        return self.out_features, self.in_features


def pack(w: np.ndarray, kern: Kernel | None = None) -> PackedWeight | None:
    """The packed form of a float32 weight (out, in), or None where the micro-kernel
    cannot take it (no kernel for this CPU, another dtype, out not a multiple of nr).
    kern: the micro-kernel to pack for (default: this CPU's)."""
    k = kern if kern is not None else (bf16_kernel() if precision() == "bf16" else kernel())
    if k is None or w.dtype != np.float32 or w.ndim != 2 or w.shape[0] % k.nr or not w.size:
        return None
    out_f, in_f = w.shape
    if k.bf16:
        panels = np.empty((out_f // k.nr, -(-in_f // 2), k.nr, 2), dtype=np.uint16)
        _pack_pairs_transposed(w, panels)
    else:
        panels = np.empty((out_f // k.nr, in_f, k.nr), dtype=np.float32)
        _pack_rows_transposed(w, panels)
    return PackedWeight(panels, in_f, out_f, k)


@njit(inline="always")
def _bf16(x):
    """The bfloat16 bits of float32 x: rounded to nearest, ties to even."""
    b = float32_bits(np.float32(x))
    return np.uint16((b + np.uint32(0x7FFF) + ((b >> np.uint32(16)) & np.uint32(1))) >> np.uint32(16))


@njit(cache=True, nogil=True)
def _to_bf16_rows(x, lo, hi, out):
    """out[i - lo, :k] = x[i] rounded to bfloat16 (nearest, ties to even) for lo <= i < hi;
    a padding column past k (odd depths: the kernel reads pairs) is set to 0."""
    k = x.shape[1]
    for i in range(lo, hi):
        row = out[i - lo]
        for j in range(k):
            row[j] = _bf16(x[i, j])
        for j in range(k, out.shape[1]):
            row[j] = 0


@njit(cache=True, nogil=True)
def _pack_rows_transposed(src, out):
    """out[p, d, j] = src[p*nr + j, d], 0 past the last row of src (out: panels x d x nr):
    src (a weight, or attention's keys) as the B panels of x @ src.T. The loops follow
    src's memory order: a transposed view (attention's values, v.T) is copied a panel row
    at a time, 3-10x faster than walking it against its strides."""
    count, nr = src.shape[0], out.shape[2]
    if src.strides[0] < src.strides[1]:
        for p in range(out.shape[0]):
            for d in range(out.shape[1]):
                for j in range(nr):
                    i = p * nr + j
                    out[p, d, j] = src[i, d] if i < count else 0.0
        return
    for p in range(out.shape[0]):
        for j in range(nr):
            i = p * nr + j
            if i < count:
                for d in range(out.shape[1]):
                    out[p, d, j] = src[i, d]
            else:
                for d in range(out.shape[1]):
                    out[p, d, j] = 0.0


@njit(cache=True, nogil=True)
def _pack_pairs_transposed(src, out):
    """The bfloat16 form of _pack_rows_transposed: out[p, d2, j, e] = src[p*nr + j, 2*d2 + e]
    rounded to bfloat16, 0 past src's last row or column (out: panels x depth pairs x nr x 2),
    the loops again in src's memory order."""
    count, depth = src.shape
    nr = out.shape[2]
    if src.strides[0] < src.strides[1]:
        for p in range(out.shape[0]):
            for d2 in range(out.shape[1]):
                for j in range(nr):
                    i = p * nr + j
                    for e in range(2):
                        d = 2 * d2 + e
                        out[p, d2, j, e] = _bf16(src[i, d]) if i < count and d < depth else 0
        return
    for p in range(out.shape[0]):
        for j in range(nr):
            i = p * nr + j
            for d2 in range(out.shape[1]):
                for e in range(2):
                    d = 2 * d2 + e
                    out[p, d2, j, e] = _bf16(src[i, d]) if i < count and d < depth else 0


# numba caches the functions that call this intrinsic (attention.py, conv_panels.py,
# below) keyed on their own source files only: change its arguments and those files must
# change too, or their cached machine code calls the kernel the old way.
@intrinsic
def _call_macro(typingctx, addr, a, b, c, m, npanels, k, ldc, lda, bstride, accum, ldb):
    """Call the micro-kernel's macro(a, b, c, m, npanels, k, ldc, lda, bstride, accum, ldb)
    at address addr from numba code (all int64), so a prange loop can drive it."""
    sig = types.void(*([types.int64] * 12))

    def codegen(context, builder, signature, args):
        i64 = ir.IntType(64)
        fnty = ir.FunctionType(ir.VoidType(), [i64] * 11)
        builder.call(builder.inttoptr(args[0], fnty.as_pointer()), args[1:])
        return context.get_dummy_value()

    return sig, codegen


@njit(nogil=True, cache=True)
def _products(macro, a, lda, esize, step, panels, out, row0, m, kdim):
    """out[row0 : row0+m] = the m rows of A at address a (row stride lda elements of esize
    bytes) times the packed panels, in blocks of BLOCK_ROWS rows and K_BLOCK deep passes;
    `step` depths per kernel step (2 for bfloat16 pairs)."""
    npanels, nr = panels.shape[0], out.shape[1] // panels.shape[0]
    ldc = out.shape[1]
    pa, oa = np.int64(panels.ctypes.data), np.int64(out.ctypes.data)
    for r0 in range(0, m, BLOCK_ROWS):
        r1 = min(m, r0 + BLOCK_ROWS)
        for k0 in range(0, kdim, K_BLOCK):
            _call_macro(macro, a + esize * (r0 * lda + k0), pa + esize * k0 * nr,
                        oa + 4 * (row0 + r0) * ldc, r1 - r0, npanels,
                        min(K_BLOCK, kdim - k0) // step, ldc, lda, kdim * nr, 1 if k0 > 0 else 0,
                        step * nr)


@njit(nogil=True, cache=True)
def _rows_into(macro, x, panels, out, lo, hi, bias, act, epilogue, bf16, residual):
    """out[lo:hi] = act(x[lo:hi] @ W.T + bias) (+ residual[lo:hi] when it has rows); x,
    out and residual C-contiguous, panels as pack() makes them. bf16: this thread's rows
    are first rounded to bfloat16."""
    kdim = x.shape[1]
    if bf16:
        a = np.empty((hi - lo, kdim + kdim % 2), dtype=np.uint16)
        _to_bf16_rows(x, lo, hi, a)
        _products(macro, np.int64(a.ctypes.data), a.shape[1], 2, 2, panels, out, lo, hi - lo,
                  a.shape[1])
    else:
        _products(macro, np.int64(x.ctypes.data) + 4 * lo * kdim, kdim, 4, 1, panels, out, lo,
                  hi - lo, kdim)
    if epilogue:  # while this thread's rows are still in its cache
        bias_act_rows_serial(out[lo:hi], bias, act)
    if residual.shape[0]:
        add_rows_serial(out[lo:hi], residual[lo:hi])


@njit(inline="always")
def chunk_bounds(t, count, chunks):
    """[lo, hi) of chunk t when [0, count) is cut into `chunks` near-equal contiguous
    pieces (the last may be shorter or empty): each prange iteration's share."""
    step = -(-count // chunks)
    return t * step, min(count, (t + 1) * step)


@njit(nogil=True, parallel=True, cache=True)
def _rows_parallel(macro, x, panels, out, bias, act, epilogue, bf16, residual, chunks):
    """_rows_into over `chunks` row ranges on numba's threads: their hand-off costs a few
    microseconds where a Python thread pool's cost 50-80 (an encoder makes 49 of these
    calls)."""
    for t in prange(chunks):
        lo, hi = chunk_bounds(t, x.shape[0], chunks)
        if lo < hi:
            _rows_into(macro, x, panels, out, lo, hi, bias, act, epilogue, bf16, residual)


_NO_RESIDUAL = np.zeros((0, 0), dtype=np.float32)


def linear_packed(x: np.ndarray, pw: PackedWeight, bias: np.ndarray | None = None,
                  act: int = NO_ACT, residual: np.ndarray | None = None) -> np.ndarray:
    """act(x (m, in) @ W.T + bias) (+ residual (m, out)) as a new C-contiguous (m, out)
    float32 array; the bias, activation and residual are applied to each thread's rows
    right after they are computed."""
    x = np.ascontiguousarray(x, dtype=np.float32)
    m = x.shape[0]
    out = np.empty((m, pw.out_features), dtype=np.float32)
    epilogue = bias is not None or act != NO_ACT
    if bias is None:
        bias = np.zeros(pw.out_features if epilogue else 0, dtype=np.float32)
    bias = np.ascontiguousarray(bias, dtype=np.float32)
    if residual is None:
        residual = _NO_RESIDUAL
    else:
        residual = np.ascontiguousarray(residual, dtype=np.float32).reshape(out.shape)
    macro = pw.kernel.address
    chunks = max(1, min(num_threads(), m // MIN_ROWS_PER_THREAD))
    if chunks == 1:  # decoding steps: no parallel region at all
        _rows_into(macro, x, pw.panels, out, 0, m, bias, act, epilogue, pw.kernel.bf16,
                   residual)
    else:
        _rows_parallel(macro, x, pw.panels, out, bias, act, epilogue, pw.kernel.bf16,
                       residual, chunks)
    return out
