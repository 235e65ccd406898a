"""Stride-1 convolution on the GEMM micro-kernel, with no im2col matrix.

im2col writes C*kh*kw copies of the input before BLAS reads them back; for the structure
model's convolutions (8-48 output channels over a whole page) that traffic, not the
multiply-adds, was the cost: 12-40 GFLOP/s against the kernel's ~100.

Here a convolution is kh*kw GEMMs, one per tap (i, j), summed in place: for output row y,
    out[:, y, x0:x0+64] += W[:, :, i, j] (O x C)  @  xp[:, y+i, x0+j : x0+j+64] (C x 64)
The weights of a tap are the kernel's A operand (O rows, C deep); the B panel is read
straight from the padded input: its C rows are one channel plane apart (the kernel's
ldb), its 64 columns consecutive pixels of one input row, shifted by the tap. So nothing
is packed or copied, and the kernel writes into the NCHW result (row stride oh*ow). A
row's last, partial panel is computed into a scratch tile and its valid columns copied,
so nothing is written past the row. Rows are spread over numba's threads; bias (and
ReLU, when asked) is applied to each row while it is in cache.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

from . import num_threads
from .microkernel import Kernel, conv_kernel, kernel
from .packed import _call_macro, chunk_bounds


def available(x: np.ndarray, w: np.ndarray, stride) -> bool:
    """This path serves float32 stride-1 convolutions where the CPU has a micro-kernel."""
    return (tuple(stride) == (1, 1) and x.dtype == np.float32 and w.dtype == np.float32
            and conv_kernel() is not None)


@njit(nogil=True, cache=True)
def _conv_rows(macro, xp, taps, out, bias, relu, kh, kw, y0, y1, nr, tile):
    """Output rows y0..y1 of one image: out (O, oh, ow) C-contiguous; xp (C, oh+kh-1,
    >= ow+kw-1+nr) the padded input, C-contiguous; taps (kh*kw, O, C) the weights by tap;
    tile (O, nr) scratch."""
    n_taps, o_count, c_count = taps.shape
    _, hp, wp = xp.shape
    oh, ow = out.shape[1], out.shape[2]
    full = ow // nr
    rest = ow - full * nr
    plane = hp * wp  # B's row stride: one input channel to the next
    xa, wa = np.int64(xp.ctypes.data), np.int64(taps.ctypes.data)
    ta, oa = np.int64(tile.ctypes.data), np.int64(out.ctypes.data)
    for y in range(y0, y1):
        for t in range(n_taps):
            i, j = t // kw, t % kw
            a = wa + 4 * t * o_count * c_count
            b = xa + 4 * ((y + i) * wp + j)
            acc = 1 if t > 0 else 0
            if full:
                _call_macro(macro, a, b, oa + 4 * y * ow, o_count, full, c_count, oh * ow,
                            c_count, nr, acc, plane)
            if rest:
                _call_macro(macro, a, b + 4 * full * nr, ta, o_count, 1, c_count, nr, c_count,
                            nr, acc, plane)
        for o in range(o_count):
            for x in range(rest):
                out[o, y, full * nr + x] = tile[o, x]
            bo = bias[o]
            r = out[o, y]
            if relu:
                for x in range(ow):
                    r[x] = max(r[x] + bo, np.float32(0.0))
            else:
                for x in range(ow):
                    r[x] += bo


@njit(nogil=True, cache=True)
def _conv_chunk(macro, xp, taps, out, bias, relu, kh, kw, y0, y1, nr):
    tile = np.empty((taps.shape[1], nr), dtype=np.float32)
    _conv_rows(macro, xp, taps, out, bias, relu, kh, kw, y0, y1, nr, tile)


@njit(nogil=True, parallel=True, cache=True)
def _conv_parallel(macro, xp, taps, out, bias, relu, kh, kw, nr, chunks):
    for t in prange(chunks):
        y0, y1 = chunk_bounds(t, out.shape[1], chunks)
        if y0 < y1:
            _conv_chunk(macro, xp, taps, out, bias, relu, kh, kw, y0, y1, nr)


def _kernel_for(o_count: int) -> Kernel:
    """The tile whose rows waste least on o_count output channels; on a tie the GEMM
    kernel's wider panels. 1 thread, structure-model layers: O=8 89 -> 78 ms and O=32
    33 -> 29 ms on the 8-row tile; O=48 6.2 against 6.8 ms on the 6-row one."""
    base, conv = kernel(), conv_kernel()
    rows = [-(-o_count // k.mr) * k.mr for k in (base, conv)]
    return conv if rows[1] < rows[0] else base


def conv2d_panels(x: np.ndarray, w: np.ndarray, b: np.ndarray | None, padding,
                  relu: bool = False) -> np.ndarray:
    """NCHW stride-1 convolution x (N, C, H, W) * w (O, C, kh, kw) (+ b, then ReLU when
    `relu`) -> (N, O, oh, ow) float32, on the micro-kernel (see available())."""
    o_count, c_count, kh, kw = w.shape
    kern = _kernel_for(o_count)
    nr = kern.nr
    n_img, _, h, wd = x.shape
    ph, pw = padding
    oh, ow = h + 2 * ph - kh + 1, wd + 2 * pw - kw + 1
    out = np.empty((n_img, o_count, max(oh, 0), max(ow, 0)), dtype=np.float32)
    if oh <= 0 or ow <= 0:
        return out
    # right padding: the last panel of a row reads nr columns from its start
    xp = np.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw + nr)))
    taps = np.ascontiguousarray(w.transpose(2, 3, 0, 1).reshape(kh * kw, o_count, c_count),
                                dtype=np.float32)
    bias = np.zeros(o_count, np.float32) if b is None else np.ascontiguousarray(b, np.float32)
    chunks = max(1, min(num_threads(), oh))
    for i in range(n_img):
        if chunks == 1:
            _conv_chunk(kern.address, xp[i], taps, out[i], bias, relu, kh, kw, 0, oh, nr)
        else:
            _conv_parallel(kern.address, xp[i], taps, out[i], bias, relu, kh, kw, nr, chunks)
    return out
