"""bfloat16 weights and activations on the micro-kernel (TABLESCRIBE_PRECISION=bf16):
the rounding, the choice of precision, the kernel's IR, and (on CPUs with AVX512-BF16)
its products against float64."""

from __future__ import annotations

import numpy as np
import pytest

from engine.backend.cpu import microkernel, packed

from .helpers import numba_threads

# What bf16_kernel() returns on a CPU with AVX512-BF16, for choosing (never run here).
BF16_STAND_IN = microkernel.Kernel(6, 64, "avx512bf16", None, 0)


def _bf16_reference(x: np.ndarray) -> np.ndarray:
    """Round float32 to bfloat16 bits, nearest with ties to even, in float64 arithmetic."""
    bits = x.astype(np.float32).view(np.uint32).astype(np.uint64)
    keep = bits >> 16
    rest = bits & 0xFFFF
    up = (rest > 0x8000) | ((rest == 0x8000) & (keep & 1 == 1))
    return (keep + up).astype(np.uint16)


def test_rounding_to_bf16_is_nearest_even_and_pads_odd_depths():
    rng = np.random.default_rng(0)
    x = (rng.standard_normal((5, 7)) * 10).astype(np.float32)
    # exact ties: low half 0x8000, with an even and an odd kept part
    x[0, :2] = np.array([0x3F808000, 0x3F818000], dtype=np.uint32).view(np.float32)
    x[1, 0] = -0.0
    out = np.full((3, 8), 0xFFFF, dtype=np.uint16)
    packed._to_bf16_rows(x, 1, 4, out)
    np.testing.assert_array_equal(out[:, :7], _bf16_reference(x[1:4]))
    assert (out[:, 7] == 0).all()  # the pair's missing half
    first = np.zeros((1, 8), dtype=np.uint16)
    packed._to_bf16_rows(x, 0, 1, first)
    assert first[0, 0] == 0x3F80 and first[0, 1] == 0x3F82  # ties go to the even neighbour


def test_precision_is_bf16_where_the_cpu_has_it_unless_float32_is_asked(monkeypatch):
    monkeypatch.setenv("TABLESCRIBE_PRECISION", "fp32")
    assert packed.precision() == "fp32"
    monkeypatch.setenv("TABLESCRIBE_PRECISION", "half")
    with pytest.raises(ValueError, match="TABLESCRIBE_PRECISION='half'"):
        packed.precision()
    monkeypatch.delenv("TABLESCRIBE_PRECISION")
    monkeypatch.setattr(packed, "bf16_kernel", lambda: BF16_STAND_IN)
    assert packed.precision() == "bf16"  # auto
    monkeypatch.setenv("TABLESCRIBE_PRECISION", "bf16")
    monkeypatch.setattr(packed, "bf16_kernel", lambda: None)  # a CPU without AVX512-BF16
    assert packed.precision() == "fp32"
    w = np.ones((64, 8), np.float32)
    pw = packed.pack(w)
    assert pw is None or not pw.kernel.bf16


def test_bf16_kernel_ir_compiles_for_an_avx512_bf16_cpu():
    # Runs on any CPU: LLVM builds the code for Sapphire Rapids without running it.
    import llvmlite.binding as llvm

    w, mr, nv = microkernel.SHAPES["avx512bf16"]
    llvm.initialize_native_target()
    llvm.initialize_native_asmprinter()
    mod = llvm.parse_assembly(microkernel.module_ir(mr, nv, w, bf16=True))
    mod.verify()
    tm = llvm.Target.from_triple("x86_64-unknown-linux-gnu").create_target_machine(
        cpu="sapphirerapids", opt=3)
    asm = tm.emit_assembly(mod)
    assert asm.count("vdpbf16ps") >= mr * nv and "vfmadd" not in asm


BF16 = microkernel.bf16_kernel()


@pytest.mark.skipif(BF16 is None, reason="needs AVX512-BF16 (the IR test above runs anywhere)")
@pytest.mark.parametrize("m,k,n", [(1, 3, 64), (7, 385, 128), (581, 800, 64), (577, 1536, 384)])
@pytest.mark.parametrize("threads", [1, 2])
def test_bf16_products_match_float64(m, k, n, threads):
    from engine.backend.cpu.rows import GELU_ERF

    rng = np.random.default_rng(m + k + n)
    x = rng.standard_normal((m, k)).astype(np.float32)
    w = rng.standard_normal((n, k)).astype(np.float32)
    bias = rng.standard_normal(n).astype(np.float32)
    with numba_threads(threads):
        pw = packed.pack(w, BF16)
        got = packed.linear_packed(x, pw, bias)
        gelu = packed.linear_packed(x, pw, bias, GELU_ERF)
    xb = _bf16_reference(x).astype(np.uint32) << 16
    wb = _bf16_reference(w).astype(np.uint32) << 16
    want = xb.view(np.float32).astype(np.float64) @ wb.view(np.float32).astype(np.float64).T + bias
    # the operands are exactly bf16-rounded; only float32 summation separates the two
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-4 * np.sqrt(k))
    from math import erf
    np.testing.assert_allclose(gelu, 0.5 * want * (1 + np.vectorize(erf)(want / np.sqrt(2))),
                               rtol=1e-4, atol=1e-4 * np.sqrt(k))


@pytest.mark.skipif(BF16 is None, reason="needs AVX512-BF16 (the IR test above runs anywhere)")
@pytest.mark.parametrize("tq,tk", [(2, 1), (7, 63), (97, 65), (577, 577)])
def test_bf16_attention_matches_float64(monkeypatch, tq, tk):
    """The encoder's attention in bf16: keys padded to whole panels (zero keys that must
    stay out of the softmax), chunks of queries, q/k/v as strided views of one
    projection; within bfloat16's rounding of float64."""
    from engine.backend.cpu import attention

    monkeypatch.setenv("TABLESCRIBE_PRECISION", "bf16")
    monkeypatch.setattr(attention, "BLOCKS_MIN_MACS", 0)
    rng = np.random.default_rng(tq + tk)
    qkv = rng.standard_normal((2, max(tq, tk), 3, 3 * 64)).astype(np.float32)
    q = qkv[:, :tq, :, :64].transpose(0, 2, 1, 3)
    k = qkv[:, :tk, :, 64:128].transpose(0, 2, 1, 3)
    v = qkv[:, :tk, :, 128:].transpose(0, 2, 1, 3)
    got = attention.attention(q, k, v, None, 0.25, False)
    s = q.astype(np.float64) @ np.swapaxes(k, -1, -2) * 0.25
    p = np.exp(s - s.max(-1, keepdims=True))
    np.testing.assert_allclose(got, (p / p.sum(-1, keepdims=True)) @ v, atol=0.03)
