"""Stride-1 convolution on the GEMM micro-kernel, with no im2col matrix and no padded copy.

im2col writes C*kh*kw copies of the input before BLAS reads them back; for the structure
model's convolutions (8-48 output channels over a whole page) that traffic, not the
multiply-adds, was the cost: 12-40 GFLOP/s against the kernel's ~100.

Here a convolution is kh*kw GEMMs, one per tap (i, j), summed in place: for output row y,
    out[:, y, x0:x0+nr] += W[:, :, i, j] (O x C)  @  x[:, y+i-ph, x0+j-pw : +nr] (C x nr)
The weights of a tap are the kernel's A operand (O rows, C deep); the B panel is read
straight from the input: its C rows are one channel plane apart (the kernel's ldb), its
nr columns (the tile's width: 64 or 48 with AVX-512, 16 with AVX2) consecutive pixels of
one input row, shifted by the tap. Taps whose input row
falls in the padding are skipped; the few panels of a row that reach into the left or
right padding read a zero-padded copy of their window instead, so the input is never
copied whole. The kernel writes into the NCHW result (row stride oh*ow); a row's last,
partial panel goes through a scratch tile, so nothing is written past the row. Rows are
spread over numba's threads; the bias is added to each row while it is in cache.
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
def _edge_rows(x, yr, x0, edge):
    """edge[c, t] = x[c, yr, x0 + t], 0 outside the image: one panel's input rows (all
    its taps' columns) where they cross the image's left or right border."""
    w = x.shape[2]
    for c in range(x.shape[0]):
        for t in range(edge.shape[1]):
            xs = x0 + t
            edge[c, t] = x[c, yr, xs] if 0 <= xs < w else np.float32(0.0)


@njit(nogil=True, cache=True)
def _interior_taps(macro, x, taps, oa, y, kw, ph, pw, p_lo, p_hi, nr, oh, ow, i_lo, i_hi,
                   first):
    """One input's taps over the interior panels of output row y, read in place. The
    first input's first tap overwrites the row; every other tap adds to it."""
    o_count, c_count = taps.shape[1], taps.shape[2]
    h, w = x.shape[1], x.shape[2]
    xa, wa = np.int64(x.ctypes.data), np.int64(taps.ctypes.data)
    for i in range(i_lo, i_hi):
        for j in range(kw):
            t = i * kw + j
            _call_macro(macro, wa + 4 * t * o_count * c_count,
                        xa + 4 * ((y + i - ph) * w + p_lo * nr - pw + j),
                        oa + 4 * (y * ow + p_lo * nr), o_count, p_hi - p_lo, c_count,
                        oh * ow, c_count, nr, 0 if first and t == i_lo * kw else 1, h * w)


@njit(nogil=True, cache=True)
def _edge_taps(macro, x, taps, edge, c_at, ldc, y, p, kw, ph, pw, nr, i_lo, i_hi, first):
    """One input's taps over panel p of row y, which reaches past the image or the row:
    each tap row is read through a zero-padded copy of its window in `edge`."""
    o_count, c_count = taps.shape[1], taps.shape[2]
    wa, ea = np.int64(taps.ctypes.data), np.int64(edge.ctypes.data)
    ew = edge.shape[1]
    for i in range(i_lo, i_hi):
        _edge_rows(x, y + i - ph, p * nr - pw, edge)
        for j in range(kw):
            t = i * kw + j
            _call_macro(macro, wa + 4 * t * o_count * c_count, ea + 4 * j, c_at,
                        o_count, 1, c_count, ldc, c_count, nr,
                        0 if first and t == i_lo * kw else 1, ew)


@njit(nogil=True, cache=True)
def _conv_rows(macro, x, taps, x2, taps2, out, bias, relu, kw, ph, pw, y0, y1, nr, tile,
               edge, edge2):
    """Output rows y0..y1 of one image. x (C, H, W) and out (O, oh, ow) C-contiguous;
    taps (kh*kw, O, C) the weights by tap; x2/taps2 a second input whose channels follow
    x's (C2 = 0: none); tile (O, nr) and edge (C, nr + kw - 1), edge2 (C2, ...) scratch.
    Panels whose reads stay inside the image read it in place; the others (at most a few
    per row: padding, the row's partial panel) read a zero-padded copy of their window.
    The bias, and with `relu` max(0, .), are applied to each row while it is in cache."""
    o_count = taps.shape[1]
    n_rows = taps.shape[0] // kw  # the kernel's height
    h, w = x.shape[1], x.shape[2]
    oh, ow = out.shape[1], out.shape[2]
    two = x2.shape[0] > 0
    panels = -(-ow // nr)
    full = ow // nr
    # interior panels p: p*nr - pw >= 0 and p*nr - pw + nr + kw - 1 <= w, and whole in out
    p_lo = -(-pw // nr)
    p_hi = min(full, (w + pw - kw + 1 - nr) // nr + 1) if w + pw - kw + 1 >= nr else 0
    p_hi = max(p_hi, p_lo)
    ta, oa = np.int64(tile.ctypes.data), np.int64(out.ctypes.data)
    for y in range(y0, y1):
        i_lo, i_hi = max(0, ph - y), min(n_rows, h + ph - y)  # tap rows inside the image
        if i_lo >= i_hi:
            out[:, y, :] = 0.0
        elif p_hi > p_lo:
            _interior_taps(macro, x, taps, oa, y, kw, ph, pw, p_lo, p_hi, nr, oh, ow,
                           i_lo, i_hi, True)
            if two:
                _interior_taps(macro, x2, taps2, oa, y, kw, ph, pw, p_lo, p_hi, nr, oh, ow,
                               i_lo, i_hi, False)
        for p in range(panels):
            if p_lo <= p < p_hi or i_lo >= i_hi:
                continue
            whole = p < full
            c_at = oa + 4 * (y * ow + p * nr) if whole else ta
            ldc = oh * ow if whole else nr
            _edge_taps(macro, x, taps, edge, c_at, ldc, y, p, kw, ph, pw, nr, i_lo, i_hi, True)
            if two:
                _edge_taps(macro, x2, taps2, edge2, c_at, ldc, y, p, kw, ph, pw, nr,
                           i_lo, i_hi, False)
            if not whole:
                for o in range(o_count):
                    for xx in range(ow - full * nr):
                        out[o, y, full * nr + xx] = tile[o, xx]
        for o in range(o_count):
            bo = bias[o]
            r = out[o, y]
            if relu:
                for xx in range(ow):
                    v = r[xx] + bo
                    r[xx] = v if v > 0.0 else np.float32(0.0)
            else:
                for xx in range(ow):
                    r[xx] += bo


@njit(nogil=True, cache=True)
def _conv_chunk(macro, x, taps, x2, taps2, out, bias, relu, kw, ph, pw, y0, y1, nr):
    tile = np.empty((taps.shape[1], nr), dtype=np.float32)
    edge = np.empty((x.shape[0], nr + kw - 1), dtype=np.float32)
    edge2 = np.empty((x2.shape[0], nr + kw - 1), dtype=np.float32)
    _conv_rows(macro, x, taps, x2, taps2, out, bias, relu, kw, ph, pw, y0, y1, nr, tile,
               edge, edge2)


@njit(nogil=True, parallel=True, cache=True)
def _conv_parallel(macro, x, taps, x2, taps2, out, bias, relu, kw, ph, pw, nr, chunks):
    for t in prange(chunks):
        y0, y1 = chunk_bounds(t, out.shape[1], chunks)
        if y0 < y1:
            _conv_chunk(macro, x, taps, x2, taps2, out, bias, relu, kw, ph, pw, y0, y1, nr)


def _kernel_for(o_count: int) -> Kernel:
    """The tile whose rows waste least on o_count output channels; on a tie the GEMM
    kernel's wider panels. 1 thread, structure-model layers: O=8 89 -> 78 ms and O=32
    33 -> 29 ms on the 8-row tile; O=48 6.2 against 6.8 ms on the 6-row one."""
    base, conv = kernel(), conv_kernel()
    rows = [-(-o_count // k.mr) * k.mr for k in (base, conv)]
    return conv if rows[1] < rows[0] else base


def _by_tap(w: np.ndarray) -> np.ndarray:
    """(O, C, kh, kw) weights -> (kh*kw, O, C): each tap's O x C matrix contiguous."""
    o_count, c_count, kh, kw = w.shape
    return np.ascontiguousarray(w.transpose(2, 3, 0, 1).reshape(kh * kw, o_count, c_count),
                                dtype=np.float32)


def conv2d_panels(x: np.ndarray, w: np.ndarray, b: np.ndarray | None, padding,
                  x2: np.ndarray | None = None, relu: bool = False) -> np.ndarray:
    """NCHW stride-1 convolution x (N, C, H, W) * w (O, C, kh, kw) (+ b) -> (N, O, oh, ow)
    float32, on the micro-kernel (see available()).

    With ``x2`` (N, C2, H, W) the convolution reads the channel concatenation of x and x2
    (w then has C + C2 input channels) without making it: each input's taps add into the
    same rows. With ``relu`` the result is max(0, .), applied as the bias is."""
    o_count, c_in, kh, kw = w.shape
    kern = _kernel_for(o_count)
    nr = kern.nr
    n_img, c_count, h, wd = x.shape
    ph, pw = padding
    oh, ow = h + 2 * ph - kh + 1, wd + 2 * pw - kw + 1
    out = np.empty((n_img, o_count, max(oh, 0), max(ow, 0)), dtype=np.float32)
    if oh <= 0 or ow <= 0:
        return out
    x = np.ascontiguousarray(x, dtype=np.float32)
    if x2 is None:
        x2 = np.empty((n_img, 0, h, wd), np.float32)
    elif x2.shape[0] != n_img or x2.shape[2:] != x.shape[2:]:
        raise ValueError(f"conv2d: inputs {x.shape} and {x2.shape} differ in batch or size")
    x2 = np.ascontiguousarray(x2, dtype=np.float32)
    if c_count + x2.shape[1] != c_in:
        raise ValueError(f"conv2d: inputs have {c_count} + {x2.shape[1]} channels, weight "
                         f"expects {c_in}")
    taps, taps2 = _by_tap(w[:, :c_count]), _by_tap(w[:, c_count:])
    bias = np.zeros(o_count, np.float32) if b is None else np.ascontiguousarray(b, np.float32)
    chunks = max(1, min(num_threads(), oh))
    for i in range(n_img):
        if chunks == 1:
            _conv_chunk(kern.address, x[i], taps, x2[i], taps2, out[i], bias, relu, kw, ph,
                        pw, 0, oh, nr)
        else:
            _conv_parallel(kern.address, x[i], taps, x2[i], taps2, out[i], bias, relu, kw,
                           ph, pw, nr, chunks)
    return out
