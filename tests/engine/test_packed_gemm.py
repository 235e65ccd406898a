"""The engine's own GEMM micro-kernel (engine/backend/cpu/microkernel.py) over weights
packed once (packed.py): checked against float64 numpy on shapes with ragged edges, on
both instruction sets, through the linear op, and in the recogniser's encoder."""

from __future__ import annotations

import platform

import numba
import numpy as np
import pytest

import engine
import engine.functional as F
from engine.backend.cpu import microkernel, packed

X86 = platform.machine().lower() in ("x86_64", "amd64")


def _isas():
    host = microkernel.host_isa()
    return {"avx512": ["avx512", "avx2"], "avx2": ["avx2"], None: []}[host]


@pytest.fixture(scope="module", params=["avx512", "avx2"])
def kern(request):
    if request.param not in _isas():
        pytest.skip(f"this CPU has no {request.param}")  # CI's x86 runners have AVX2 at least
    return microkernel.compile_kernel(request.param)


def test_this_x86_cpu_gets_a_kernel():
    assert not X86 or microkernel.host_isa() is not None, "x86 CI runners have AVX2 + FMA"
    if X86:
        assert packed.available()


# rows: below one tile, a ragged last tile, past one block of BLOCK_ROWS; depth: below and
# past one K_BLOCK pass (the second pass adds into C); outputs: one and several panels
@pytest.mark.parametrize("m", [1, 7, 64, packed.BLOCK_ROWS + 5, 577])
@pytest.mark.parametrize("k", [3, 384, packed.K_BLOCK + 100])
@pytest.mark.parametrize("threads", [1, 2])
def test_matches_float64(kern, m, k, threads):
    rng = np.random.default_rng(m * 1000 + k)
    n = 2 * kern.nr
    x = rng.standard_normal((m, k)).astype(np.float32)
    w = rng.standard_normal((n, k)).astype(np.float32)
    pw = packed.pack(w, kern)
    before = numba.get_num_threads()
    numba.set_num_threads(min(threads, numba.config.NUMBA_NUM_THREADS))
    try:
        got = packed.linear_packed(x, pw)
    finally:
        numba.set_num_threads(before)
    want = x.astype(np.float64) @ w.T.astype(np.float64)
    assert got.shape == (m, n) and got.flags.c_contiguous
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-4 * np.sqrt(k))


def test_epilogue_runs_on_every_row_block(kern):
    rng = np.random.default_rng(3)
    x = rng.standard_normal((packed.BLOCK_ROWS * 2 + 9, 40)).astype(np.float32)
    w = rng.standard_normal((kern.nr, 40)).astype(np.float32)
    got = packed.linear_packed(x, packed.pack(w, kern), after=lambda block: np.add(block, 1, out=block))
    np.testing.assert_allclose(got, x.astype(np.float64) @ w.T + 1, rtol=1e-5, atol=1e-4)


def test_what_cannot_be_packed_is_refused(kern):
    assert packed.pack(np.ones((kern.nr + 1, 8), np.float32), kern) is None  # ragged outputs
    assert packed.pack(np.ones((kern.nr, 8), np.float64), kern) is None
    assert packed.pack(np.ones((kern.nr,), np.float32), kern) is None


@pytest.mark.skipif(not X86, reason="the micro-kernel is built for x86 (AVX2/AVX-512)")
@pytest.mark.parametrize("gelu", [False, True])
@pytest.mark.parametrize("rows", [1, 2, 9, 45])  # a vector (BLAS), decoding steps, the encoder
def test_linear_op_with_a_packed_weight(gelu, rows):
    rng = np.random.default_rng(5)
    n = packed.kernel().nr * 3
    x = engine.tensor(rng.standard_normal((2, rows, 96)).astype(np.float32)[:1])
    w = engine.tensor(rng.standard_normal((n, 96)).astype(np.float32))
    b = engine.tensor(rng.standard_normal(n).astype(np.float32))
    pw = F.pack_linear_weight(w)
    assert pw is not None
    op = F.linear_gelu if gelu else F.linear
    np.testing.assert_allclose(op(x, w, b, packed=pw).numpy(), op(x, w, b).numpy(), rtol=1e-5, atol=1e-5)


@pytest.mark.skipif(not X86, reason="the micro-kernel is built for x86 (AVX2/AVX-512)")
def test_training_reads_the_live_weight_not_the_pack():
    """A pack is a copy: with gradients on, linear multiplies by the weight as it is now."""
    rng = np.random.default_rng(6)
    n = packed.kernel().nr
    w = engine.tensor(rng.standard_normal((n, 32)).astype(np.float32), requires_grad=True)
    x = engine.tensor(rng.standard_normal((40, 32)).astype(np.float32))
    # a pack of the weight as it was before an optimizer step: same shape, other values
    pw = F.pack_linear_weight(engine.tensor(2 * w.numpy()))
    y = F.linear(x, w, packed=pw)
    np.testing.assert_allclose(y.numpy(), x.numpy() @ w.numpy().T, rtol=1e-5, atol=1e-4)
    y.sum().backward()
    np.testing.assert_allclose(w.grad.numpy(), np.tile(x.numpy().sum(0), (n, 1)), rtol=1e-5, atol=1e-4)


def test_a_pack_for_another_weight_shape_is_not_used():
    if not packed.available():
        pytest.skip("no micro-kernel on this CPU")
    rng = np.random.default_rng(8)
    nr = packed.kernel().nr
    w = engine.tensor(rng.standard_normal((nr, 32)).astype(np.float32))
    other = F.pack_linear_weight(engine.tensor(rng.standard_normal((2 * nr, 32)).astype(np.float32)))
    x = engine.tensor(rng.standard_normal((40, 32)).astype(np.float32))
    np.testing.assert_allclose(F.linear(x, w, packed=other).numpy(), x.numpy() @ w.numpy().T,
                               rtol=1e-5, atol=1e-4)
