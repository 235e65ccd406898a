"""Shared by the engine's tests: running a call on a given number of numba threads, and
a float64 reference convolution."""

from __future__ import annotations

import contextlib

import numba
import numpy as np


@contextlib.contextmanager
def numba_threads(n: int):
    """Run the block on min(n, NUMBA_NUM_THREADS) threads. Under NUMBA_NUM_THREADS=1 (as
    helper sessions pin their runs) a "2 threads" case runs on one: CI has two cores."""
    before = numba.get_num_threads()
    numba.set_num_threads(min(n, numba.config.NUMBA_NUM_THREADS))
    try:
        yield
    finally:
        numba.set_num_threads(before)


def np_conv2d(x, w, b, stride, padding):
    """NCHW convolution by its definition, in the inputs' dtype (pass float64)."""
    n, _, hh, ww = x.shape
    o, _, kh, kw = w.shape
    xp = np.pad(x, ((0, 0), (0, 0), (padding[0],) * 2, (padding[1],) * 2))
    oh = (hh + 2 * padding[0] - kh) // stride[0] + 1
    ow = (ww + 2 * padding[1] - kw) // stride[1] + 1
    out = np.zeros((n, o, oh, ow))
    for i in range(oh):
        for j in range(ow):
            patch = xp[:, :, i * stride[0]:i * stride[0] + kh, j * stride[1]:j * stride[1] + kw]
            out[:, :, i, j] = np.tensordot(patch, w, axes=([1, 2, 3], [1, 2, 3]))
    return out + (b.reshape(1, -1, 1, 1) if b is not None else 0)
