"""GEMM against a weight packed once: x @ W.T for a model's fixed W, on the micro-kernel.

BLAS packs both operands into cache-sized panels on every call. A layer's weight
never changes between calls, so here it is packed once, when the model is made
ready for inference (`pack`), into the column panels microkernel.py reads; only the
activations are packed per call. The work is split by rows over the engine's pool;
each thread packs its own rows (blocks of BLOCK_ROWS, so they stay in L2 beside the
current B panel) and runs the micro-kernel over them with the GIL released.

Used for float32 weights whose output count is a multiple of the tile width (every
projection of the encoder); anything else stays on BLAS (linalg.py).
"""

from __future__ import annotations

import numpy as np
from numba import njit

from . import num_threads
from .blas import run_split
from .microkernel import Kernel, kernel

__all__ = ["PackedWeight", "available", "linear_packed", "pack"]

BLOCK_ROWS = 192  # rows of A packed at a time: 192 x 384 floats (288 KB) sit in L2
K_BLOCK = 384  # depth of one pass over C: a B panel (K_BLOCK x 64 floats, 96 KB) in L2
MIN_ROWS_PER_THREAD = 32


def available() -> bool:
    return kernel() is not None


class PackedWeight:
    """W (out, in) as panels[p, k, :] = W[p*nr:(p+1)*nr, k]: each B panel (k x nr) contiguous."""

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
    k = kern if kern is not None else kernel()
    if k is None or w.dtype != np.float32 or w.ndim != 2 or w.shape[0] % k.nr or not w.size:
        return None
    w = np.ascontiguousarray(w)
    out_f, in_f = w.shape
    panels = np.ascontiguousarray(w.reshape(out_f // k.nr, k.nr, in_f).transpose(0, 2, 1))
    return PackedWeight(panels, in_f, out_f, k)


@njit(cache=True, nogil=True)
def _pack_rows(x, lo, hi, mr, out):
    """out[p, kk, r] = x[lo + p*mr + r, kk] (0 past hi): A panels of mr rows, k-major."""
    kdim = x.shape[1]
    for p in range(out.shape[0]):
        base = lo + p * mr
        for r in range(mr):
            i = base + r
            if i < hi:
                row = x[i]
                for kk in range(kdim):
                    out[p, kk, r] = row[kk]
            else:
                for kk in range(kdim):
                    out[p, kk, r] = 0.0


def _rows_into(x: np.ndarray, pw: PackedWeight, out: np.ndarray, lo: int, hi: int, buf) -> None:
    """out[lo:hi] = x[lo:hi] @ W.T, in blocks of BLOCK_ROWS rows."""
    kern = pw.kernel
    mr, nr = kern.mr, kern.nr
    kdim = pw.in_features
    npanels = pw.out_features // nr
    ldc = out.strides[0] // 4
    bbase = pw.panels.ctypes.data
    bstride = kdim * nr
    for r0 in range(lo, hi, BLOCK_ROWS):
        r1 = min(hi, r0 + BLOCK_ROWS)
        mp = -(-(r1 - r0) // mr)
        apanels = buf[:mp]
        _pack_rows(x, r0, r1, mr, apanels)
        abase = apanels.ctypes.data
        cbase = out.ctypes.data + r0 * out.strides[0]
        last = (r1 - r0) - (mp - 1) * mr
        for k0 in range(0, kdim, K_BLOCK):
            kc = min(K_BLOCK, kdim - k0)
            kern.macro(abase + 4 * k0 * mr, bbase + 4 * k0 * nr, cbase, mp, last, npanels, kc,
                       ldc, kdim * mr, bstride, 1 if k0 else 0)


def linear_packed(x: np.ndarray, pw: PackedWeight, after=None) -> np.ndarray:
    """x (m, in) @ W.T as a new C-contiguous (m, out) float32 array; after(block), when
    given, runs in place on each thread's block of rows once it is computed."""
    x = np.ascontiguousarray(x, dtype=np.float32)
    m = x.shape[0]
    out = np.empty((m, pw.out_features), dtype=np.float32)
    mr = pw.kernel.mr
    panels = -(-min(m, BLOCK_ROWS) // mr)

    def rows(lo: int, hi: int) -> None:
        buf = np.empty((panels, pw.in_features, mr), dtype=np.float32)
        _rows_into(x, pw, out, lo, hi, buf)
        if after is not None:
            after(out[lo:hi])

    threads = max(1, min(num_threads(), m // MIN_ROWS_PER_THREAD))
    if threads == 1:
        rows(0, m)  # no BLAS inside, so no thread setting to guard: decoding steps are short
    else:
        run_split(rows, m, threads)
    return out
