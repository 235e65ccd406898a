"""The engine's own GEMM micro-kernel (engine/backend/cpu/microkernel.py) over weights
packed once (packed.py): checked against float64 numpy on shapes with ragged edges, on
both instruction sets, through the linear op, and in the recogniser's encoder."""

from __future__ import annotations

import platform

import numpy as np
import pytest

import engine
import engine.functional as F
from engine.backend.cpu import microkernel, packed

from .helpers import numba_threads

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
    with numba_threads(threads):
        got = packed.linear_packed(x, pw)
    want = x.astype(np.float64) @ w.T.astype(np.float64)
    assert got.shape == (m, n) and got.flags.c_contiguous
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-4 * np.sqrt(k))


@pytest.mark.parametrize("threads", [1, 2])
def test_epilogue_runs_on_every_row_block(kern, threads):
    from engine.backend.cpu.rows import GELU_ERF

    rng = np.random.default_rng(3)
    x = rng.standard_normal((packed.BLOCK_ROWS * 2 + 9, 40)).astype(np.float32)
    w = rng.standard_normal((kern.nr, 40)).astype(np.float32)
    bias = rng.standard_normal(kern.nr).astype(np.float32)
    with numba_threads(threads):
        got = packed.linear_packed(x, packed.pack(w, kern), bias)
        gelu = packed.linear_packed(x, packed.pack(w, kern), bias, GELU_ERF)
    pre = x.astype(np.float64) @ w.T + bias
    np.testing.assert_allclose(got, pre, rtol=1e-5, atol=1e-4)
    from math import erf
    want = 0.5 * pre * (1 + np.vectorize(erf)(pre / np.sqrt(2)))
    np.testing.assert_allclose(gelu, want, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("threads", [1, 2])
def test_residual_is_added_on_every_row_block(kern, threads):
    """The skip connection added in the epilogue, after the bias, on each thread's rows."""
    rng = np.random.default_rng(4)
    x = rng.standard_normal((packed.BLOCK_ROWS * 2 + 9, 40)).astype(np.float32)
    w = rng.standard_normal((2 * kern.nr, 40)).astype(np.float32)
    bias = rng.standard_normal(2 * kern.nr).astype(np.float32)
    res = rng.standard_normal((x.shape[0], 2 * kern.nr)).astype(np.float32)
    with numba_threads(threads):
        with_bias = packed.linear_packed(x, packed.pack(w, kern), bias, residual=res)
        bare = packed.linear_packed(x, packed.pack(w, kern), residual=res)
    prod = x.astype(np.float64) @ w.T
    np.testing.assert_allclose(with_bias, prod + bias + res, rtol=1e-5, atol=1e-4)
    np.testing.assert_allclose(bare, prod + res, rtol=1e-5, atol=1e-4)


@pytest.mark.parametrize("layout", ["rows", "strided rows", "transposed view"])
@pytest.mark.parametrize("count", [64, 100, 577])
@pytest.mark.parametrize("depth", [48, 47])  # an odd depth: the last bf16 pair is padded
def test_panels_match_the_definition_in_any_memory_order(layout, count, depth):
    """panels[p, d, j] = src[p*64 + j, d], zero past the last row (and, in bfloat16
    pairs, past the last depth), however src is laid out (a weight, keys inside a joined
    q/k/v output, or values read as v.T)."""
    rng = np.random.default_rng(count)
    base = rng.standard_normal((count, 3 * 48)).astype(np.float32)
    src = {"rows": np.ascontiguousarray(base[:, :depth]), "strided rows": base[:, 48:48 + depth],
           "transposed view": np.ascontiguousarray(base[:, :depth].T).T}[layout]
    npanels = -(-count // 64)
    want = np.zeros((npanels * 64, 48), np.float32)
    want[:count, :depth] = src
    want = want.reshape(npanels, 64, 48).transpose(0, 2, 1)
    got = np.full((npanels, depth, 64), np.nan, np.float32)
    packed._pack_rows_transposed(src, got)
    np.testing.assert_array_equal(got, want[:, :depth])
    pairs = np.full((npanels, 24, 64, 2), 7, np.uint16)
    packed._pack_pairs_transposed(src, pairs)
    bits = (want.astype(np.float32).view(np.uint32) + 0x7FFF
            + ((want.view(np.uint32) >> 16) & 1)) >> 16
    np.testing.assert_array_equal(pairs, bits.reshape(npanels, 24, 2, 64).transpose(0, 1, 3, 2))


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
@pytest.mark.parametrize("rows", [1, 2, 45])  # the few-row kernel, then the packed epilogue
def test_linear_op_adds_a_residual(rows):
    rng = np.random.default_rng(9)
    n = packed.kernel().nr * 2
    x = engine.tensor(rng.standard_normal((2, rows, 96)).astype(np.float32))
    w = engine.tensor(rng.standard_normal((n, 96)).astype(np.float32))
    b = engine.tensor(rng.standard_normal(n).astype(np.float32))
    r = engine.tensor(rng.standard_normal((2, rows, n)).astype(np.float32))
    want = x.numpy() @ w.numpy().T + b.numpy() + r.numpy()
    for pw in (F.pack_linear_weight(w), None):
        got = F.linear(x, w, b, packed=pw, residual=r).numpy()
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-4)
    # a residual that broadcasts is added by a separate op, as `x + linear(...)` would be
    row = engine.tensor(rng.standard_normal(n).astype(np.float32))
    np.testing.assert_allclose(F.linear(x, w, b, packed=F.pack_linear_weight(w), residual=row).numpy(),
                               x.numpy() @ w.numpy().T + b.numpy() + row.numpy(), rtol=1e-5, atol=1e-4)


def test_residual_gets_its_gradient_when_training():
    rng = np.random.default_rng(10)
    x = engine.tensor(rng.standard_normal((40, 32)).astype(np.float32), requires_grad=True)
    w = engine.tensor(rng.standard_normal((64, 32)).astype(np.float32), requires_grad=True)
    r = engine.tensor(rng.standard_normal((40, 64)).astype(np.float32), requires_grad=True)
    y = F.linear(x, w, packed=F.pack_linear_weight(w), residual=r)
    (y * y).sum().backward()
    g = 2 * (x.numpy() @ w.numpy().T + r.numpy())
    np.testing.assert_allclose(r.grad.numpy(), g, rtol=1e-5, atol=1e-4)
    np.testing.assert_allclose(x.grad.numpy(), g @ w.numpy(), rtol=1e-4, atol=1e-3)


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


_GUARDED = r"""
import ctypes, mmap, sys
import numpy as np
from engine.backend.cpu import microkernel, packed
# A ragged last tile must not read past its matrix: x ends where an unreadable page begins.
m, k = int(sys.argv[1]), 40
page = mmap.PAGESIZE
pages = -(-m * k * 4 // page) + 1
buf = mmap.mmap(-1, pages * page)
base = ctypes.addressof(ctypes.c_char.from_buffer(buf))
libc = ctypes.CDLL(None, use_errno=True)
libc.mprotect.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int]
assert libc.mprotect(base + (pages - 1) * page, page, 0) == 0
x = np.frombuffer(buf, np.float32, m * k, (pages - 1) * page - m * k * 4).reshape(m, k)
x[:] = np.random.default_rng(0).standard_normal((m, k))
w = np.random.default_rng(1).standard_normal((64, k)).astype(np.float32)
kern = microkernel.compile_kernel(sys.argv[2])
y = packed.linear_packed(x, packed.pack(w, kern))
assert np.allclose(y, x.astype(np.float64) @ w.T, atol=1e-3)
print("ok")
"""


@pytest.mark.skipif(platform.system() != "Linux", reason="mprotect through libc (CI runs Linux)")
@pytest.mark.parametrize("m", [1, 5, 7])
def test_ragged_tile_reads_only_its_own_rows(kern, m):
    # A is read in place: in a ragged last tile the missing rows must not be read
    # past the end of x (here, an unreadable page).
    import subprocess
    import sys

    proc = subprocess.run([sys.executable, "-c", _GUARDED, str(m), kern.isa],
                          capture_output=True, text=True, timeout=300, check=False)
    assert proc.returncode == 0 and proc.stdout.strip() == "ok", proc.stderr[-2000:]


@pytest.mark.parametrize("tq,tk,dv", [(2, 1, 64), (7, 63, 64), (97, 65, 128), (577, 577, 64)])
def test_unmasked_attention_on_the_micro_kernel(kern, monkeypatch, tq, tk, dv):
    # 577 queries run as four chunks of QUERY_CHUNK (192) rows, the last of one row
    """The encoder's attention (no mask) on the micro-kernel: keys packed per head with
    the last panel padded by zero keys, which must not enter the softmax; q, k and v as
    strided views of one fused projection, as the encoder makes them; large scores, where
    a wrong row maximum overflows exp."""
    from engine.backend.cpu import attention

    monkeypatch.setattr(attention.packed, "kernel", lambda: kern)
    monkeypatch.setattr(attention, "BLOCKS_MIN_MACS", 0)
    rng = np.random.default_rng(tq + tk + dv)
    b, h, d = 2, 3, 64
    qkv = rng.standard_normal((b, max(tq, tk), h, 2 * d + dv)).astype(np.float32) * 2
    q = qkv[:, :tq, :, :d].transpose(0, 2, 1, 3)
    k = qkv[:, :tk, :, d:2 * d].transpose(0, 2, 1, 3)
    v = qkv[:, :tk, :, 2 * d:].transpose(0, 2, 1, 3)
    got = attention.attention(q, k, v, None, 0.125, False)
    s = q.astype(np.float64) @ np.swapaxes(k, -1, -2) * 0.125
    p = np.exp(s - s.max(-1, keepdims=True))
    expected = (p / p.sum(-1, keepdims=True)) @ v
    np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-5)


@pytest.mark.skipif(not X86, reason="the micro-kernel is built for x86 (AVX2/AVX-512)")
def test_avx2_kernel_is_the_code_an_avx2_cpu_runs():
    """Built on an AVX-512 CPU too, it must keep to AVX2: no zmm registers, no EVEX-only
    ymm16-31, so TABLESCRIBE_ISA=avx2 measures what an older CPU gets."""
    import re

    before = len(microkernel._keep)
    microkernel.compile_kernel("avx2")
    _engine, mod, tm = microkernel._keep[before]
    asm = tm.emit_assembly(mod)
    assert "vfmadd" in asm and "zmm" not in asm
    assert max(int(r) for r in re.findall(r"%ymm(\d+)", asm)) <= 15


_ISA_PROBE = r"""
from engine.backend.cpu import microkernel, packed
k = microkernel.kernel()
print(None if k is None else k.isa, microkernel.bf16_kernel(), packed.precision())
"""


_ISA_ASKED_TWICE = r"""
from engine.backend.cpu import microkernel
for _ in range(2):
    try:
        microkernel.kernel()
        print("served")
    except ValueError:
        print("refused")
"""


@pytest.mark.skipif(not X86, reason="the micro-kernel is built for x86 (AVX2/AVX-512)")
def test_isa_can_be_capped_for_older_cpus():
    """TABLESCRIBE_ISA=avx2 gives the AVX2 kernel in float32 (no bfloat16), =none gives
    BLAS; a value outside the list is refused by name. Fresh processes: the kernel is
    chosen once per process."""
    import os
    import subprocess
    import sys

    def probe(value):
        env = {**os.environ, "TABLESCRIBE_ISA": value}
        env.pop("TABLESCRIBE_PRECISION", None)
        return subprocess.run([sys.executable, "-c", _ISA_PROBE], env=env, capture_output=True,
                              check=False,
                              text=True, timeout=300)

    assert probe("avx2").stdout.split() == ["avx2", "None", "fp32"]
    assert probe("none").stdout.split() == ["None", "None", "fp32"]
    bad = probe("sse9")
    assert bad.returncode != 0 and "TABLESCRIBE_ISA='sse9'" in bad.stderr
    # and on every call, not only the first (a later call must not fall back to BLAS)
    again = subprocess.run([sys.executable, "-c", _ISA_ASKED_TWICE], capture_output=True, text=True,
                           timeout=300, check=False, env={**os.environ, "TABLESCRIBE_ISA": "sse9"})
    assert again.stdout.split() == ["refused", "refused"], again.stderr[-2000:]


@pytest.mark.skipif(not X86, reason="the micro-kernel is built for x86 (AVX2/AVX-512)")
def test_residual_reaches_the_packed_epilogue(monkeypatch):
    """Not only the right sum: in inference the packed kernel adds the residual itself,
    and with gradients on it is left to a separate (recorded) add."""
    from engine.backend.cpu import linalg

    seen = []
    real = linalg.linear_packed

    def spy(x, pw, bias=None, act=0, residual=None):
        seen.append(residual is not None)
        return real(x, pw, bias, act, residual)

    monkeypatch.setattr(linalg, "linear_packed", spy)
    rng = np.random.default_rng(11)
    n = packed.kernel().nr
    x = engine.tensor(rng.standard_normal((9, 32)).astype(np.float32))
    w = engine.tensor(rng.standard_normal((n, 32)).astype(np.float32))
    r = engine.tensor(rng.standard_normal((9, n)).astype(np.float32))
    F.linear(x, w, packed=F.pack_linear_weight(w), residual=r)
    assert seen == [True]
    w.requires_grad = True
    F.linear(x, w, packed=F.pack_linear_weight(w), residual=r)
    assert seen == [True]  # training multiplies the live weight through BLAS, then adds
