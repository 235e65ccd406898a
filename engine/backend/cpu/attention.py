"""Fused attention for inference: softmax(q k^T * scale + mask) v on the CPU.

Two shapes of work:
- prompt/encoder attention (many queries): one task per (batch, head) runs
  (scale q) k^T into a scores block, exp(score + mask - rowmax) in place and the
  product with v while the block is still in cache, then divides each output row
  by its total (Tq x Dv divisions instead of Tq x Tk); tasks are spread over the
  BLAS thread pool with single-threaded BLAS, so there is no fork/join per GEMM;
- token-by-token decoding (a query or a few): one batched GEMM for the scores,
  the row softmax and one batched GEMM for the output; the work is tiny, so
  fewer launches matter more than cache reuse.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

from . import PARALLEL_MIN, num_threads, packed
from . import linalg as cpu_la
from . import rows as cpu_rows
from .blas import run_split
from .gemm import gemm
from .packed import (
    _call_macro,
    _pack_pairs_transposed,
    _pack_rows_transposed,
    _to_bf16_rows,
    chunk_bounds,
)

# Below this many multiply-adds in q k^T the per-head tasks cost more than they save.
BLOCKS_MIN_MACS = 1 << 22
# Queries per scores block on the micro-kernel path: bounds its scratch memory (192 x 640
# floats for the encoder) whatever the sequence length; 96-577 measured the same there.
QUERY_CHUNK = 192


def _as4d(a: np.ndarray) -> np.ndarray:
    return a.reshape((1,) * (4 - a.ndim) + a.shape) if a.ndim < 4 else a


def attention(qa: np.ndarray, ka: np.ndarray, va: np.ndarray, mask: np.ndarray | None,
              scale: float, causal: bool) -> np.ndarray:
    """q (..., Tq, D), k (..., Tk, D), v (..., Tk, Dv) with up to two batch dims; mask
    broadcastable to (..., Tq, Tk) and added to the scaled scores."""
    tq, d = qa.shape[-2:]
    tk = va.shape[-2]
    batch_shape = np.broadcast_shapes(qa.shape[:-2], ka.shape[:-2], va.shape[:-2])
    dtype = np.result_type(qa, ka)
    macs = int(np.prod(batch_shape, dtype=np.int64)) * tq * tk * d
    if tq > 1 and len(batch_shape) <= 2 and macs >= BLOCKS_MIN_MACS:
        return _attention_blocks(qa, ka, va, mask, dtype.type(scale), causal, batch_shape, dtype)
    scores = cpu_la.matmul_arrays(qa, np.swapaxes(ka, -1, -2))  # (..., Tq, Tk), contiguous
    s4 = _as4d(scores)
    m4, has_mask = _mask4(mask, s4.shape, scores.dtype)
    st = scores.dtype.type(scale)
    if scores.size >= PARALLEL_MIN and s4.shape[0] * s4.shape[1] * s4.shape[2] > 1:
        cpu_rows.attn_softmax_parallel(s4, m4, st, causal, has_mask)
    else:
        cpu_rows.attn_softmax_serial(s4, m4, st, causal, has_mask)
    return cpu_la.matmul_arrays(scores, va)


def _mask4(mask, shape4, dtype):
    if mask is None:
        return np.broadcast_to(np.zeros((1, 1, 1, 1), dtype), shape4), False
    return np.broadcast_to(_as4d(mask), shape4), True


def _attention_blocks(qa, ka, va, mask, scale, causal, batch_shape, dtype) -> np.ndarray:
    tq, tk, dv = qa.shape[-2], ka.shape[-2], va.shape[-1]
    shape4 = (1,) * (2 - len(batch_shape)) + tuple(batch_shape)
    full = shape4 + (tq, tk)
    # The scale goes on q (Tq x D numbers) rather than on the Tq x Tk scores.
    # C order: numpy would keep a strided q's memory order, and the kernel reads rows
    q4 = np.multiply(np.broadcast_to(_as4d(qa), shape4 + qa.shape[-2:]), scale, order="C")
    k4 = np.broadcast_to(_as4d(ka), shape4 + ka.shape[-2:])
    v4 = np.broadcast_to(_as4d(va), shape4 + va.shape[-2:])
    m4, has_mask = _mask4(mask, full, dtype)
    out = np.empty(shape4 + (tq, dv), dtype=np.result_type(dtype, va))
    heads = shape4[1]
    count = shape4[0] * heads
    kern = packed.kernel()
    fast = packed.bf16_kernel() if packed.precision() == "bf16" else kern
    if (kern is not None and not (has_mask or causal) and q4.dtype == np.float32
            and k4.dtype == np.float32 and v4.dtype == np.float32 and dv % kern.nr == 0):
        chunks = min(num_threads(), count)
        if chunks == 1:
            _unmasked_heads(fast.address, q4, k4, v4, out, kern.nr, 0, count, QUERY_CHUNK,
                            fast.bf16)
        else:
            _unmasked_heads_parallel(fast.address, q4, k4, v4, out, kern.nr, chunks, QUERY_CHUNK,
                                     fast.bf16)
        return out.reshape(tuple(batch_shape) + (tq, dv))

    def work(lo: int, hi: int) -> None:
        block = np.empty((tq, tk), dtype=dtype)  # one scores block per thread
        sums = np.empty(tq, dtype=dtype)
        maxes = np.empty(tq, dtype=dtype)
        for i in range(lo, hi):
            b, h = divmod(i, heads)
            gemm(q4[b, h], k4[b, h].T, block)
            if has_mask or causal:
                cpu_rows.attn_exp_block(block, m4[b, h], causal, has_mask, sums)
            else:  # numpy's row max is SIMD; a numba max loop is scalar without 'nnan'
                np.max(block, axis=1, out=maxes)
                cpu_rows.exp_rows_minus(block, maxes, sums)
            o = out[b, h]
            gemm(block, v4[b, h], o)
            with np.errstate(divide="ignore", invalid="ignore"):
                np.divide(o, sums[:, None], out=o)
            o[sums == 0] = 0  # fully masked rows: zeros, as the row softmax gives

    run_split(work, count, min(num_threads(), count))
    return out.reshape(tuple(batch_shape) + (tq, dv))



@njit(nogil=True, cache=True)
def _heads_f32(macro, q4, k4, v4, out, nr, lo, hi, qchunk):
    """Heads lo..hi (flattened batch x head) of unmasked attention (the encoder's) on the
    GEMM micro-kernel at address `macro`: the keys packed once per head as its B panels
    (the last padded with zero keys, left out of the softmax), the scores block written
    with that padded row stride, qchunk queries at a time, and p v read from it in place.
    q4 and out C-contiguous. Against OpenBLAS' two GEMMs (64 deep, then 64 wide) per
    head on a Python pool: 45 -> 41 ms per 577-token encode (2 threads, Zen 4)."""
    heads, tq, d = q4.shape[1], q4.shape[2], q4.shape[3]
    tk, dv = k4.shape[2], v4.shape[3]
    npk = -(-tk // nr)
    rows = min(tq, qchunk)
    block = np.empty((rows, npk * nr), dtype=np.float32)
    sums = np.empty(rows, dtype=np.float32)
    kp = np.empty((npk, d, nr), dtype=np.float32)
    vp = np.empty((dv // nr, tk, nr), dtype=np.float32)
    q0, o0 = np.int64(q4.ctypes.data), np.int64(out.ctypes.data)
    bk, kk, vk = np.int64(block.ctypes.data), np.int64(kp.ctypes.data), np.int64(vp.ctypes.data)
    for i in range(lo, hi):
        b, h = i // heads, i % heads
        _pack_rows_transposed(k4[b, h], kp)
        _pack_rows_transposed(v4[b, h].T, vp)  # B of p v: values, tk deep
        for r0 in range(0, tq, rows):
            n = min(rows, tq - r0)
            _call_macro(macro, q0 + 4 * (i * tq + r0) * d, kk, bk, n, npk, d, npk * nr, d, d * nr, 0,
                        nr)
            cpu_rows.exp_rows_upto(block[:n], tk, sums)
            _call_macro(macro, bk, vk, o0 + 4 * (i * tq + r0) * dv, n, dv // nr, tk, dv, npk * nr,
                        tk * nr, 0, nr)
            _divide_rows(out[b, h], r0, n, sums)


@njit(nogil=True, cache=True)
def _heads_bf16(macro, q4, k4, v4, out, nr, lo, hi, qchunk):
    """_heads_f32 with bfloat16 operands on the bf16 micro-kernel at `macro`: q rows and
    the keys (as pairs of depths), then the exponentiated scores and the values (as
    pairs of keys) are rounded to bfloat16; scores, sums and outputs stay float32."""
    heads, tq, d = q4.shape[1], q4.shape[2], q4.shape[3]
    tk, dv = k4.shape[2], v4.shape[3]
    npk = -(-tk // nr)
    kpad = npk * nr  # keys padded to whole panels (and so to an even count)
    rows = min(tq, qchunk)
    block = np.empty((rows, kpad), dtype=np.float32)
    pb = np.empty((rows, kpad), dtype=np.uint16)
    qb = np.empty((rows, d + d % 2), dtype=np.uint16)
    sums = np.empty(rows, dtype=np.float32)
    kp = np.empty((npk, (d + d % 2) // 2, nr, 2), dtype=np.uint16)
    vp = np.empty((dv // nr, kpad // 2, nr, 2), dtype=np.uint16)
    o0 = np.int64(out.ctypes.data)
    bk, pk, qk = np.int64(block.ctypes.data), np.int64(pb.ctypes.data), np.int64(qb.ctypes.data)
    kk, vk = np.int64(kp.ctypes.data), np.int64(vp.ctypes.data)
    dp = (d + d % 2) // 2
    for i in range(lo, hi):
        b, h = i // heads, i % heads
        _pack_pairs_transposed(k4[b, h], kp)  # B of q k^T: keys, depths in pairs
        _pack_pairs_transposed(v4[b, h].T, vp)  # B of p v: values, keys in pairs
        for r0 in range(0, tq, rows):
            n = min(rows, tq - r0)
            _to_bf16_rows(q4[b, h], r0, r0 + n, qb)
            _call_macro(macro, qk, kk, bk, n, npk, dp, kpad, qb.shape[1], dp * 2 * nr, 0, 2 * nr)
            cpu_rows.exp_rows_upto(block[:n], tk, sums)
            _to_bf16_rows(block, 0, n, pb)
            _call_macro(macro, pk, vk, o0 + 4 * (i * tq + r0) * dv, n, dv // nr, kpad // 2, dv,
                        kpad, kpad * nr, 0, 2 * nr)
            _divide_rows(out[b, h], r0, n, sums)


@njit(inline="always")
def _divide_rows(o, r0, n, sums):
    """o[r0 + r] /= sums[r] for r < n (sums >= 1: each row's maximum gives exp(0))."""
    for r in range(n):
        inv = np.float32(1.0) / sums[r]
        for c in range(o.shape[1]):
            o[r0 + r, c] *= inv


@njit(nogil=True, cache=True)
def _unmasked_heads(macro, q4, k4, v4, out, nr, lo, hi, qchunk, bf16):
    """Heads lo..hi on the micro-kernel at `macro`: bfloat16 where packed.precision()
    says so (chosen on the validation draw with it: exact-match unchanged against
    float32, 73.6 % scans and 69.5 % low resolution), else float32."""
    if bf16:
        _heads_bf16(macro, q4, k4, v4, out, nr, lo, hi, qchunk)
    else:
        _heads_f32(macro, q4, k4, v4, out, nr, lo, hi, qchunk)


@njit(nogil=True, parallel=True, cache=True)
def _unmasked_heads_parallel(macro, q4, k4, v4, out, nr, chunks, qchunk, bf16):
    for t in prange(chunks):
        lo, hi = chunk_bounds(t, q4.shape[0] * q4.shape[1], chunks)
        if lo < hi:
            _unmasked_heads(macro, q4, k4, v4, out, nr, lo, hi, qchunk, bf16)
