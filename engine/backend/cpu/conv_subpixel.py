"""A "same" convolution over a nearest-upsampled input joined to a skip, without the
upsampled copy: a U-Net decoder step, conv(cat(upsample(low, s), skip)).

Nearest upsampling repeats each low-resolution pixel s x s times, so each output pixel
of phase (a, b) (its row mod s, its column mod s) sees through a tap (t, u) the low
pixel (i + floor((a + t - ph) / s), j + floor((b + u - pw) / s)). Taps that land on the
same low pixel can be summed first: per phase, the kh x kw kernel over the upsampled
map becomes a smaller one over the low map (2 x 2 for 3 x 3 at s = 2, 2.25x fewer
multiply-adds). All s*s phases are one convolution of the low map with s*s*O output
channels (conv_panels); a last pass adds each phase's pixels into their places of the
skip's convolution, then the bias is there already and the ReLU is applied. The
upsampled map (s*s times the low map's memory: 160 MB for a page's 24 channels) is
never written.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

from .conv_panels import conv2d_panels


def available(low: np.ndarray, skip: np.ndarray, w: np.ndarray, padding, scale: int) -> bool:
    """Float32, a "same" convolution (2 * padding = kernel - 1) and a skip of exactly the
    upsampled size: what the sub-pixel path computes."""
    kh, kw = w.shape[2:]
    ph, pw = padding
    return (low.dtype == np.float32 and skip.dtype == np.float32 and w.dtype == np.float32
            and 2 * ph == kh - 1 and 2 * pw == kw - 1 and scale >= 1
            and skip.shape[0] == low.shape[0]
            and skip.shape[2:] == (low.shape[2] * scale, low.shape[3] * scale)
            and low.shape[1] + skip.shape[1] == w.shape[1])


def _phase_taps(k: int, pad: int, scale: int) -> tuple[np.ndarray, int, int, np.ndarray]:
    """For one axis: where each tap t of phase a lands on the low map, as an index into
    the phase's small kernel (landing offset - its first offset), the small kernel's
    length, the padding of the low map's convolution that serves every phase, and each
    phase's row (column) in that convolution's output for low pixel 0."""
    land = np.array([[(a + t - pad) // scale for t in range(k)] for a in range(scale)])
    first = land.min(axis=1)
    length = int((land.max(axis=1) - first).max()) + 1
    low_pad = int(max(max(-first.min(), 0), (first + length - 1).max()))
    return land - first[:, None], length, low_pad, (first + low_pad).astype(np.int64)


def phase_weights(w: np.ndarray, scale: int, padding
                  ) -> tuple[np.ndarray, tuple[int, int], np.ndarray, np.ndarray]:
    """w (O, C, kh, kw) over the upsampled map -> (s*s*O, C, kh', kw') over the low map,
    phase (a, b) in output channels (a*s + b)*O ..; the low convolution's padding; and
    where each phase's rows and columns start in its output."""
    o_count, c_count, kh, kw = w.shape
    rows, kh2, ph2, row_at = _phase_taps(kh, padding[0], scale)
    cols, kw2, pw2, col_at = _phase_taps(kw, padding[1], scale)
    out = np.zeros((scale, scale, o_count, c_count, kh2, kw2), np.float64)
    for a in range(scale):
        for b in range(scale):
            for t in range(kh):
                for u in range(kw):
                    out[a, b, :, :, rows[a, t], cols[b, u]] += w[:, :, t, u]
    return (out.reshape(scale * scale * o_count, c_count, kh2, kw2).astype(np.float32),
            (ph2, pw2), row_at, col_at)


@njit(nogil=True, parallel=True, cache=True)
def _add_phases(out, q, scale, row_at, col_at, relu):
    """out[n, o, s*i + a, s*j + b] += q[n, (a*s + b)*O + o, i + row_at[a], j + col_at[b]],
    then max(0, .) with relu; rows spread over the threads."""
    n_img, o_count, h, w = out.shape
    lh, lw = h // scale, w // scale
    for r in prange(n_img * lh):
        n, i = r // lh, r % lh
        for a in range(scale):
            y = i * scale + a
            qi = i + row_at[a]
            for o in range(o_count):
                dst = out[n, o, y]
                for b in range(scale):
                    src = q[n, (a * scale + b) * o_count + o, qi]
                    cb = col_at[b]
                    for j in range(lw):
                        v = dst[j * scale + b] + src[j + cb]
                        if relu and v < 0.0:
                            v = np.float32(0.0)
                        dst[j * scale + b] = v


def conv2d_upsampled(low: np.ndarray, skip: np.ndarray, w: np.ndarray, b: np.ndarray | None,
                     padding, scale: int, relu: bool = False) -> np.ndarray:
    """conv2d(cat(upsample_nearest(low, scale), skip), w, b, padding) (+ ReLU), NCHW
    float32, for a "same" convolution (see available())."""
    c_low = low.shape[1]
    taps, low_pad, row_at, col_at = phase_weights(np.asarray(w[:, :c_low], np.float64), scale,
                                                  padding)
    q = conv2d_panels(np.ascontiguousarray(low, np.float32), taps, None, low_pad)
    out = conv2d_panels(np.ascontiguousarray(skip, np.float32),
                        np.ascontiguousarray(w[:, c_low:], np.float32), b, padding)
    _add_phases(out, q, scale, row_at, col_at, relu)
    return out
