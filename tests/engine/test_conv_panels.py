"""Stride-1 convolution on the GEMM micro-kernel (engine/backend/cpu/conv_panels.py):
one GEMM per tap reading the input in place, full panels written into the result, a
row's partial panel through a scratch tile and the padding through a zero-padded window.
Checked against a float64 reference on widths below, at and past one panel, kernels the
structure model uses (3x3, 1x9, 9x1, 1x1) and others, padding wider than the kernel,
output counts that leave a ragged tile, every tile this CPU has, one and two threads,
and through F.conv2d. A second input (the channels of a U-Net's skip) and the ReLU in the
epilogue are checked the same way, and through F.conv2d_fused."""

from __future__ import annotations

import numpy as np
import pytest

import engine
import engine.functional as F
from engine.backend.cpu import conv_panels, microkernel

from .helpers import np_conv2d, numba_threads

pytestmark = pytest.mark.skipif(conv_panels.conv_kernel() is None,
                                reason="no micro-kernel on this CPU (x86 CI runners have AVX2)")


def _tiles():
    """Every tile this CPU runs: the GEMM and convolution tiles of its widest instruction
    set and, on AVX-512 CPUs, the AVX2 tile (what an older CPU runs)."""
    tiles = {(k.isa, k.mr, k.nr): k for k in (conv_panels.kernel(), conv_panels.conv_kernel())}
    if microkernel.host_isa() == "avx512":
        k = microkernel.compile_kernel("avx2")
        tiles[(k.isa, k.mr, k.nr)] = k
    return tiles


TILES = _tiles()


@pytest.fixture(params=sorted(TILES), ids=lambda key: f"{key[0]}-{key[1]}x{key[2]}")
def tile(request, monkeypatch):
    monkeypatch.setattr(conv_panels, "_kernel_for", lambda o: TILES[request.param])
    return TILES[request.param]


@pytest.mark.parametrize("width", [5, 48, 64, 128, 150])  # partial only, one or more panels (48 or 64 wide), with a partial
@pytest.mark.parametrize("k,pad", [((3, 3), (1, 1)), ((1, 9), (0, 4)), ((9, 1), (4, 0)),
                                   ((1, 1), (0, 0)), ((2, 5), (0, 1)),
                                   ((1, 1), (2, 3)), ((5, 3), (2, 4))])  # padding >= kernel
@pytest.mark.parametrize("o", [1, 8, 13])
@pytest.mark.parametrize("threads", [1, 2])
def test_matches_float64(tile, width, k, pad, o, threads):
    rng = np.random.default_rng(width * 100 + o)
    x = rng.standard_normal((2, 5, 11, width)).astype(np.float32)
    w = rng.standard_normal((o, 5) + k).astype(np.float32)
    b = rng.standard_normal(o).astype(np.float32)
    with numba_threads(threads):
        got = conv_panels.conv2d_panels(x, w, b, pad)
    want = np_conv2d(x.astype(np.float64), w.astype(np.float64), b, (1, 1), pad)
    assert got.shape == want.shape and got.flags.c_contiguous
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-4)


@pytest.mark.parametrize("width", [5, 64, 150])
@pytest.mark.parametrize("k,pad", [((3, 3), (1, 1)), ((1, 9), (0, 4)), ((9, 1), (4, 0)),
                                   ((5, 3), (2, 4))])
@pytest.mark.parametrize("relu", [False, True])
@pytest.mark.parametrize("threads", [1, 2])
def test_two_inputs_read_as_their_concatenation(tile, width, k, pad, relu, threads):
    """x2's channels follow x's: the same sums as over np.concatenate, never made."""
    rng = np.random.default_rng(width + 7 * k[0])
    x = rng.standard_normal((2, 5, 11, width)).astype(np.float32)
    x2 = rng.standard_normal((2, 3, 11, width)).astype(np.float32)
    w = rng.standard_normal((13, 8) + k).astype(np.float32)
    b = rng.standard_normal(13).astype(np.float32)
    with numba_threads(threads):
        got = conv_panels.conv2d_panels(x, w, b, pad, x2, relu)
    want = np_conv2d(np.concatenate([x, x2], 1).astype(np.float64), w.astype(np.float64), b,
                     (1, 1), pad)
    if relu:
        want = np.maximum(want, 0)
        assert (want == 0).mean() > 0.2  # the ReLU has something to cut
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-4)


@pytest.mark.parametrize("relu", [False, True])
def test_relu_alone_and_rows_of_padding_only(tile, relu):
    """One input with the ReLU, on rows whose taps all fall in the padding (bias only)."""
    rng = np.random.default_rng(5)
    x = rng.standard_normal((1, 2, 2, 70)).astype(np.float32)
    x2 = rng.standard_normal((1, 1, 2, 70)).astype(np.float32)
    w = rng.standard_normal((7, 3, 5, 5)).astype(np.float32)
    b = rng.standard_normal(7).astype(np.float32)
    for pad in ((2, 2), (6, 6)):
        got = conv_panels.conv2d_panels(x, w[:, :2], b, pad, None, relu)
        want = np_conv2d(x.astype(np.float64), w[:, :2].astype(np.float64), b, (1, 1), pad)
        np.testing.assert_allclose(got, np.maximum(want, 0) if relu else want, rtol=1e-5,
                                   atol=1e-4)
        got = conv_panels.conv2d_panels(x, w, b, pad, x2, relu)
        want = np_conv2d(np.concatenate([x, x2], 1).astype(np.float64), w.astype(np.float64),
                         b, (1, 1), pad)
        np.testing.assert_allclose(got, np.maximum(want, 0) if relu else want, rtol=1e-5,
                                   atol=1e-4)


def test_two_inputs_that_do_not_fit_are_refused():
    x = np.zeros((1, 2, 6, 8), np.float32)
    with pytest.raises(ValueError, match="differ in batch or size"):
        conv_panels.conv2d_panels(x, np.zeros((3, 4, 3, 3), np.float32), None, (1, 1),
                                  np.zeros((1, 2, 6, 9), np.float32))
    with pytest.raises(ValueError, match="2 \\+ 3 channels"):
        conv_panels.conv2d_panels(x, np.zeros((3, 4, 3, 3), np.float32), None, (1, 1),
                                  np.zeros((1, 3, 6, 8), np.float32))


@pytest.mark.parametrize("h,w", [(1, 3), (2, 70), (3, 200)])
def test_images_smaller_than_the_kernel(tile, h, w):
    """Rows whose taps all fall in the padding still get the bias; narrow rows are all edge."""
    rng = np.random.default_rng(h * w)
    x = rng.standard_normal((1, 2, h, w)).astype(np.float32)
    wt = rng.standard_normal((7, 2, 5, 5)).astype(np.float32)
    b = rng.standard_normal(7).astype(np.float32)
    for pad in ((2, 2), (4, 4), (6, 6)):  # (6, 6): the first and last rows see only padding
        got = conv_panels.conv2d_panels(x, wt, b, pad)
        want = np_conv2d(x.astype(np.float64), wt.astype(np.float64), b, (1, 1), pad)
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-4)


def test_no_bias():
    rng = np.random.default_rng(1)
    x = rng.standard_normal((1, 3, 6, 70)).astype(np.float32)
    w = rng.standard_normal((4, 3, 3, 3)).astype(np.float32)
    got = conv_panels.conv2d_panels(x, w, None, (1, 1))
    want = np_conv2d(x.astype(np.float64), w.astype(np.float64), None, (1, 1), (1, 1))
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-4)


def test_strided_input_view_and_a_page_sized_plane():
    """A window of a bigger image (channels and columns sliced: rows not contiguous) and
    a plane wider than a few panels. (A channel slice alone of one image is contiguous.)"""
    rng = np.random.default_rng(2)
    base = rng.standard_normal((1, 6, 40, 320)).astype(np.float32)
    x = base[:, 1:5, :, 7:307]
    assert not x[0].flags.c_contiguous
    w = rng.standard_normal((8, 4, 3, 3)).astype(np.float32)
    with numba_threads(2):
        got = conv_panels.conv2d_panels(x, w, None, (1, 1))
    want = np_conv2d(x.astype(np.float64), w.astype(np.float64), None, (1, 1), (1, 1))
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-4)


def test_conv2d_op_takes_this_path_for_stride_one_only(monkeypatch):
    calls = []
    real = conv_panels.conv2d_panels

    def spy(*args, **kwargs):
        calls.append(args[1].shape)
        return real(*args, **kwargs)

    from engine.backend.cpu import linalg

    monkeypatch.setattr(linalg, "conv2d_panels", spy)
    rng = np.random.default_rng(3)
    x = engine.from_numpy(rng.standard_normal((1, 2, 9, 80)).astype(np.float32))
    w = engine.from_numpy(rng.standard_normal((3, 2, 3, 3)).astype(np.float32))
    one = F.conv2d(x, w, None, 1, 1)
    two = F.conv2d(x, w, None, 2, 1)
    assert calls == [(3, 2, 3, 3)]  # stride 2 stays on im2col + BLAS
    np.testing.assert_allclose(one.numpy(), np_conv2d(x.numpy().astype(np.float64),
                               w.numpy(), None, (1, 1), (1, 1)), rtol=1e-5, atol=1e-4)
    assert two.shape == (1, 3, 5, 40)


_GUARDED = r"""
import ctypes, mmap, sys
import numpy as np
from engine.backend.cpu import conv_panels
# The panels read x in place: nothing past it may be read, so x here ends where an
# unreadable page begins (3x3 with padding 1: the last row's panels reach into the padding).
kern = getattr(conv_panels, sys.argv[1])()  # the GEMM tile or the convolutions' tile
nr = kern.nr
c, h, w, kh, kw = 3, 4, nr + 1, 3, 3  # one column past a panel
page = mmap.PAGESIZE
size = c * h * w * 4
pages = -(-size // page) + 1
buf = mmap.mmap(-1, pages * page)
base = ctypes.addressof(ctypes.c_char.from_buffer(buf))
libc = ctypes.CDLL(None, use_errno=True)
libc.mprotect.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int]
assert libc.mprotect(base + (pages - 1) * page, page, 0) == 0
x = np.frombuffer(buf, np.float32, c * h * w, (pages - 1) * page - size).reshape(1, c, h, w)
x[:] = np.random.default_rng(0).standard_normal(x.shape)
wt = np.random.default_rng(1).standard_normal((5, c, kh, kw)).astype(np.float32)
conv_panels._kernel_for = lambda o: kern
got = conv_panels.conv2d_panels(x, wt, None, (1, 1))
xp = np.pad(x[0].astype(np.float64), ((0, 0), (1, 1), (1, 1)))
want = np.zeros((5, h, w))
for i in range(kh):
    for j in range(kw):
        want += np.einsum("oc,chw->ohw", wt[:, :, i, j], xp[:, i:i + h, j:j + w])
assert np.allclose(got[0], want, atol=1e-3)
print("ok")
"""


@pytest.mark.skipif(__import__("platform").system() != "Linux",
                    reason="mprotect through libc (CI runs Linux)")
@pytest.mark.parametrize("which", ["kernel", "conv_kernel"])
def test_panels_read_nothing_past_the_input(which):
    import subprocess
    import sys

    proc = subprocess.run([sys.executable, "-c", _GUARDED, which], capture_output=True,
                          text=True, timeout=300, check=False)
    assert proc.returncode == 0 and proc.stdout.strip() == "ok", proc.stderr[-2000:]


def test_tile_with_least_row_waste_is_chosen(monkeypatch):
    """Pure choice, on stand-in tiles, so every CPU checks both outcomes."""
    six = microkernel.Kernel(6, 64, "avx512", None, 0)
    eight = microkernel.Kernel(8, 48, "avx512", None, 0)
    monkeypatch.setattr(conv_panels, "kernel", lambda: six)
    monkeypatch.setattr(conv_panels, "conv_kernel", lambda: eight)
    assert conv_panels._kernel_for(8) is eight and conv_panels._kernel_for(32) is eight
    assert conv_panels._kernel_for(13) is eight  # 16 rows computed, not 18
    assert conv_panels._kernel_for(48) is six and conv_panels._kernel_for(24) is six  # ties
    assert conv_panels._kernel_for(3) is six
    monkeypatch.setattr(conv_panels, "conv_kernel", lambda: six)  # AVX2: one tile shape
    assert conv_panels._kernel_for(8) is six
