"""Tiled GEMM in shared memory: C[b] = act(A[b] @ B[b] + bias) for batched, strided
(transposed, broadcast) operands.

Each block computes a BM x BN tile of C. Per K-slice of depth BK it stages the
A and B tiles in shared memory — reading along whichever of each operand's
dims has unit stride, so transposed operands load coalesced too — and every
thread accumulates a TM x TN register block of outputs (rows tr + i*BM/TM, cols
tc + j*BN/TN: neighbouring threads touch neighbouring columns, so shared-memory
reads are conflict-free and the stores to C coalesce).

Operands are addressed as (buffer, offset, batch strides, row stride, col
stride): a transposed matrix is just swapped strides and a broadcast batch dim
stride 0, so nothing is copied. Float16 operands (weights stored as f16) are
decoded while the tile is staged and accumulated in float32. The epilogue adds
a bias per column (linear) or per row (convolution) and applies GELU, fused
into the store.
"""

from __future__ import annotations

import functools

import numpy as np
from numba import cuda

from . import devfn
from .elementwise import fill, gelu_fns
from .launch import MAXD, coalesce, config, empty, pad, scalar_array, view_as

NO_ACT, GELU_ERF, GELU_TANH = 0, 1, 2
BIAS_NONE, BIAS_COLS, BIAS_ROWS = 0, 1, 2


@cuda.jit(device=True)
def _load_plain(arr, i):
    return arr[i]


@cuda.jit(device=True)
def _load_f16(arr, i):
    return devfn.f16_to_f32(arr[i])


def _identity(v):
    return v


_identity_dev = cuda.jit(device=True)(_identity)


@functools.cache
def _gemm_kernel(bm: int, bn: int, bk: int, tm: int, tn: int, acc_dtype: np.dtype,
                 a_half: bool, b_half: bool, bias_half: bool, act: int):
    threads = (bm // tm) * (bn // tn)
    ct = bn // tn  # threads along a tile's columns
    rt = bm // tm  # threads along a tile's rows
    zero = acc_dtype.type(0)
    load_a = _load_f16 if a_half else _load_plain
    load_b = _load_f16 if b_half else _load_plain
    load_bias = _load_f16 if bias_half else _load_plain
    if act == NO_ACT:
        activate = _identity_dev
    else:
        activate = gelu_fns(acc_dtype)[0 if act == GELU_ERF else 1]

    @cuda.jit
    def gemm(A, ao, abst, ars, acs, B, bo, bbst, brs, bcs, C, M, N, K, bshape, nbd, nbatch,
             bias, bias_off, bias_stride, bias_mode):
        As = cuda.shared.array((bk, bm), acc_dtype)
        Bs = cuda.shared.array((bk, bn), acc_dtype)
        acc = cuda.local.array((tm, tn), acc_dtype)
        af = cuda.local.array(tm, acc_dtype)
        bf = cuda.local.array(tn, acc_dtype)
        tid = cuda.threadIdx.x
        tr = tid // ct
        tc = tid % ct
        tiles_n = (N + bn - 1) // bn
        per_batch = ((M + bm - 1) // bm) * tiles_n
        a_k_fast = acs == 1
        b_n_fast = bcs == 1 or brs != 1
        for t in range(cuda.blockIdx.x, per_batch * nbatch, cuda.gridDim.x):
            bi = t // per_batch
            rem = t - bi * per_batch
            m0 = (rem // tiles_n) * bm
            n0 = (rem % tiles_n) * bn
            a_b, b_b = devfn.offset2(bi, bshape, abst, bbst, nbd)
            a_b += ao
            b_b += bo
            for i in range(tm):
                for j in range(tn):
                    acc[i, j] = zero
            for k0 in range(0, K, bk):
                for e in range(tid, bm * bk, threads):
                    if a_k_fast:
                        mm = e // bk
                        kk = e - mm * bk
                    else:
                        kk = e // bm
                        mm = e - kk * bm
                    gm = m0 + mm
                    gk = k0 + kk
                    if gm < M and gk < K:
                        As[kk, mm] = load_a(A, a_b + gm * ars + gk * acs)
                    else:
                        As[kk, mm] = zero
                for e in range(tid, bk * bn, threads):
                    if b_n_fast:
                        kk = e // bn
                        nn = e - kk * bn
                    else:
                        nn = e // bk
                        kk = e - nn * bk
                    gk = k0 + kk
                    gn = n0 + nn
                    if gk < K and gn < N:
                        Bs[kk, nn] = load_b(B, b_b + gk * brs + gn * bcs)
                    else:
                        Bs[kk, nn] = zero
                cuda.syncthreads()
                for kk in range(bk):
                    for i in range(tm):
                        af[i] = As[kk, tr + i * rt]
                    for j in range(tn):
                        bf[j] = Bs[kk, tc + j * ct]
                    for i in range(tm):
                        for j in range(tn):
                            acc[i, j] += af[i] * bf[j]
                cuda.syncthreads()
            c_b = bi * M * N
            for i in range(tm):
                gm = m0 + tr + i * rt
                if gm < M:
                    for j in range(tn):
                        gn = n0 + tc + j * ct
                        if gn < N:
                            v = acc[i, j]
                            if bias_mode == 1:
                                v += load_bias(bias, bias_off + gn * bias_stride)
                            elif bias_mode == 2:
                                v += load_bias(bias, bias_off + gm * bias_stride)
                            C[c_b + gm * N + gn] = activate(v)
    return gemm


class Operand:
    """A batched matrix operand: buffer, offset, batch strides (as the output's batch
    shape), row stride and col stride. `buf` of a float16 operand is its raw bits."""

    __slots__ = ("batch_strides", "buf", "cs", "half", "offset", "rs")

    def __init__(self, buf, offset, batch_strides, rs, cs):
        self.half = buf.dtype == np.float16
        self.buf = view_as(buf, np.uint16) if self.half else buf
        self.offset = int(offset)
        self.batch_strides = tuple(int(s) for s in batch_strides)
        self.rs, self.cs = int(rs), int(cs)


def matrix_operand(t, batch_shape, transpose: bool = False) -> Operand:
    """A >= 2-D CUDA tensor as an Operand read with `batch_shape` (broadcast dims get
    stride 0); `transpose` swaps its last two dims (no copy)."""
    lay = t._layout
    shape, strides = lay.shape, lay.strides
    lead = len(batch_shape) - (len(shape) - 2)
    bst = [0] * lead
    for n, s, m in zip(shape[:-2], strides[:-2], batch_shape[lead:]):
        bst.append(s if n == m else 0)
    rs, cs = strides[-2], strides[-1]
    if transpose:
        rs, cs = cs, rs
    return Operand(t._storage.buf, lay.offset, bst, rs, cs)


def gemm(a: Operand, b: Operand, M: int, N: int, K: int, batch_shape, out_dtype,
         bias=None, bias_mode: int = BIAS_NONE, act: int = NO_ACT, out=None):
    """C (batch..., M, N), C-contiguous, of dtype out_dtype (f32 accumulation for half
    and f32 inputs, f64 for f64, int64 for integers). `bias` is (buf, offset, stride)."""
    batch_shape = tuple(int(s) for s in batch_shape)
    out_dtype = np.dtype(out_dtype)
    if out is None:
        out = empty(batch_shape + (M, N), out_dtype)
    nbatch = 1
    for s in batch_shape:
        nbatch *= s
    if nbatch * M * N == 0:
        return out
    if out_dtype.kind == "f":
        acc = np.dtype(np.float64) if out_dtype == np.float64 else np.dtype(np.float32)
    else:
        acc = np.dtype(np.int64)
    if K == 0:
        fill(out, 0)
        if bias is None and act == NO_ACT:
            return out
    bshape, (abst, bbst) = coalesce(batch_shape, [a.batch_strides, b.batch_strides])
    if len(bshape) > MAXD:  # split the leading batch dim on the host
        flat_out = out.reshape(out.size)
        inner = out.size // batch_shape[0]
        for idx in range(batch_shape[0]):
            sub_a = Operand.__new__(Operand)
            sub_b = Operand.__new__(Operand)
            for src, dst in ((a, sub_a), (b, sub_b)):
                dst.buf, dst.half, dst.rs, dst.cs = src.buf, src.half, src.rs, src.cs
                dst.offset = src.offset + idx * src.batch_strides[0]
                dst.batch_strides = src.batch_strides[1:]
            gemm(sub_a, sub_b, M, N, K, batch_shape[1:], out_dtype, bias, bias_mode, act,
                 flat_out[idx * inner:(idx + 1) * inner].reshape(batch_shape[1:] + (M, N)))
        return out
    if bias is None:
        bias_buf, bias_off, bias_stride, bias_mode = scalar_array(0, acc), 0, 0, BIAS_NONE
        bias_half = False
    else:
        bias_buf, bias_off, bias_stride = bias
        bias_half = bias_buf.dtype == np.float16
        if bias_half:
            bias_buf = view_as(bias_buf, np.uint16)
    cfg = config()
    kernel = _gemm_kernel(cfg.gemm_bm, cfg.gemm_bn, cfg.gemm_bk, cfg.gemm_tm, cfg.gemm_tn, acc,
                          a.half, b.half, bias_half, act)
    tiles = -(-M // cfg.gemm_bm) * -(-N // cfg.gemm_bn) * nbatch
    kernel[min(tiles, cfg.max_blocks), cfg.gemm_threads](
        a.buf, a.offset, pad(abst, 0), a.rs, a.cs, b.buf, b.offset, pad(bbst, 0), b.rs, b.cs,
        out.reshape(out.size), M, N, max(K, 0), pad(bshape, 1), len(bshape), nbatch,
        bias_buf, bias_off, bias_stride, bias_mode)
    return out
