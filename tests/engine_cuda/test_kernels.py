"""Properties of the CUDA kernels themselves: operands read in place (no hidden copies),
the GPU launch geometry, bit-exact half conversions, f16 weights with f32
accumulation, index errors, tensors with more dims than a kernel indexes."""

from __future__ import annotations

import numpy as np
import pytest

import engine
import engine.functional as F
from engine.backend.cuda import elementwise as cuda_ew
from engine.backend.cuda import gemm as cuda_gemm
from engine.backend.cuda import kernels as backend
from engine.backend.cuda import launch

from .parity import CUDA

pytestmark = pytest.mark.filterwarnings("ignore::RuntimeWarning")  # inf/nan edge values

rng = np.random.default_rng(3)


def R(*shape):
    return rng.standard_normal(shape).astype(np.float32)


def on_gpu(a, dtype=None):
    return engine.tensor(a, dtype=dtype, device="cuda")


class AllocationCounter:
    """Counts device allocations and strided copies made by the CUDA backend."""

    def __init__(self, monkeypatch):
        self.allocs = 0
        self.copies = 0
        real_empty, real_copy = launch.empty, cuda_ew.copy_strided

        def empty(shape, dtype):
            self.allocs += 1
            return real_empty(shape, dtype)

        def copy_strided(*args, **kwargs):
            self.copies += 1
            return real_copy(*args, **kwargs)

        for module in (cuda_ew, cuda_gemm, launch):
            if hasattr(module, "empty"):
                monkeypatch.setattr(module, "empty", empty)
        monkeypatch.setattr(cuda_ew, "copy_strided", copy_strided)


def test_broadcast_and_transposed_operands_are_read_in_place(monkeypatch) -> None:
    a = on_gpu(R(5, 4)).T                                # strided
    b = on_gpu(R(5)).reshape(1, 5).broadcast_to((4, 5))  # stride 0
    expected = a.numpy() * b.numpy()
    counter = AllocationCounter(monkeypatch)
    out = a * b
    assert counter.allocs == 1 and counter.copies == 0  # only the output
    np.testing.assert_allclose(out.numpy(), expected, rtol=1e-6)
    out = engine.where(on_gpu(np.array([1, 0, 1, 0], np.uint8)).reshape(4, 1), a, b)
    assert counter.copies == 0
    x, w = on_gpu(R(3, 6, 4)), on_gpu(R(5, 6))
    counter.allocs = 0
    y = x.transpose(1, 2) @ w.T.unsqueeze(0)               # transposed, broadcast batch
    assert counter.allocs == 1 and counter.copies == 0
    np.testing.assert_allclose(y.numpy(), np.swapaxes(x.numpy(), 1, 2) @ w.numpy().T[None],
                               rtol=1e-4, atol=1e-5)


def test_gpu_launch_geometry_on_small_inputs() -> None:
    """The block sizes a real GPU uses (256-thread GEMM tiles, 128-thread rows) give the
    CPU's results too; the default simulator geometry is tiny."""
    x = R(3, 300)
    a, b = R(70, 20), R(20, 66)
    ids = np.array([2, 1, 1])
    q, img, w = R(1, 2, 5, 8), R(1, 2, 8, 8), R(4, 2, 4, 4)

    def run(t):  # t: tensor factory for the device under test
        g = t(x)
        return [g.softmax(-1), g.sum(-1), g.argmax(-1), g.max(0), g.topk(3)[1],
                F.layer_norm(g, (300,)), t(a) @ t(b), (g * 2).exp(),
                g.index_select(0, t(ids)),
                t(b).T @ t(a).T,  # both operands transposed: the other tile-load order
                F.scaled_dot_product_attention(t(q), t(q), t(q), is_causal=True),
                F.conv2d(t(img), t(w), None, stride=4)]

    with launch.use_config(launch.GPU_CONFIG):
        got = [r.numpy() for r in run(on_gpu)]
    want = run(engine.tensor)
    for i, (g_, w_) in enumerate(zip(got, want)):
        np.testing.assert_allclose(g_, w_.numpy(), rtol=1e-4, atol=1e-5, err_msg=f"result {i}")


def test_every_half_bit_pattern_widens_exactly() -> None:
    bits = np.arange(1 << 16, dtype=np.uint16)
    halves = bits.view(np.float16)
    got = on_gpu(halves, engine.f16).to(engine.f32).numpy()
    np.testing.assert_array_equal(got, halves.astype(np.float32))
    bf = engine.from_numpy(bits, dtype=engine.bf16).to("cuda").to(engine.f32).numpy()
    np.testing.assert_array_equal(bf, engine.from_numpy(bits, dtype=engine.bf16).to(engine.f32).numpy())


def test_narrowing_to_half_rounds_like_numpy() -> None:
    # ties at every exponent (normal and subnormal), the overflow edge, random bit patterns
    ties = []
    for e in range(-26, 17):
        base = np.float32(2.0 ** e)
        ties += [base * (1 + k / 1024 + 1 / 2048) for k in (0, 1, 2, 3)]
    edges = [65504, 65519.996, 65520, 65536, 2 ** -24, 2 ** -25, 2 ** -25 * 1.0001, 3 * 2 ** -26,
             -0.0, np.inf, -np.inf, np.nan, 1e-40]
    random = rng.integers(0, 2 ** 32, size=3000, dtype=np.uint64).astype(np.uint32).view(np.float32)
    values = np.concatenate([np.array(ties + edges, np.float32), random,
                             -np.array(ties, np.float32)])
    got = on_gpu(values).to(engine.f16).numpy()
    want = values.astype(np.float16)
    np.testing.assert_array_equal(got.view(np.uint16)[~np.isnan(want)],
                                  want.view(np.uint16)[~np.isnan(want)])
    assert np.isnan(got[np.isnan(want)]).all()
    got_bf = on_gpu(values).to(engine.bf16).numpy()
    want_bf = engine.tensor(values).to(engine.bf16).numpy()
    np.testing.assert_array_equal(got_bf, want_bf)


def test_f16_weights_are_decoded_in_the_gemm_and_accumulate_in_f32() -> None:
    """The linear kernel takes a float16 weight (and bias) as stored and accumulates in
    float32: no widened copy of the weight is made."""
    x, w, b = R(5, 40), R(7, 40), R(7)
    w16, b16 = w.astype(np.float16), b.astype(np.float16)
    gx, gw, gb = on_gpu(x), on_gpu(w16, engine.f16), on_gpu(b16, engine.f16)
    backend.register()
    for name, act in (("linear", lambda v: v), ("linear_gelu", None)):
        arr = backend.CUDA_KERNELS[name](gx, gw, gb)
        assert arr.dtype == np.float32
        out = engine.Tensor._from_backend(arr, engine.f32, CUDA).numpy()
        ref_in = engine.tensor(x) @ engine.tensor(w16.astype(np.float32)).T + \
            engine.tensor(b16.astype(np.float32))
        ref = ref_in if act else F.gelu(ref_in)
        np.testing.assert_allclose(out, ref.numpy(), rtol=1e-5, atol=1e-5)
    # and through the front end, with half weights on the device
    y = F.linear(gx, gw, gb)
    np.testing.assert_allclose(y.numpy(), (x @ w16.astype(np.float32).T + b16), rtol=1e-5,
                               atol=1e-5)
    emb = F.embedding(on_gpu(np.array([[2, 0]])), gw)
    assert emb.dtype is engine.f16
    np.testing.assert_array_equal(emb.numpy(), w16[[2, 0]][None])


def test_out_of_range_indices_raise_like_the_cpu() -> None:
    w = on_gpu(R(4, 3))
    with pytest.raises(IndexError, match="index_select: index 4 is out of range for size 4"):
        w.index_select(0, on_gpu(np.array([0, 4])))
    with pytest.raises(IndexError, match="gather: index -1 is out of range for size 3"):
        w.gather(1, on_gpu(np.array([[0], [-1], [1], [2]])))


def test_more_dims_than_a_kernel_indexes() -> None:
    shape = (2,) * 10
    x = R(*shape)
    g = on_gpu(x).permute(*range(9, -1, -1))     # nothing merges: 10 strided dims
    c = engine.tensor(x).permute(*range(9, -1, -1))
    pairs = [(g.exp(), c.exp()), (g.contiguous(), c.contiguous()), (g + g.T, c + c.T),
             (g.sum((1, 3, 5, 7, 9)), c.sum((1, 3, 5, 7, 9))), (g.argmax(4), c.argmax(4)),
             (g.index_select(3, on_gpu(np.array([1, 0, 1]))),
              c.index_select(3, engine.tensor(np.array([1, 0, 1])))),
             (g @ g, c @ c), (g.softmax(2), c.softmax(2))]
    for i, (a, b) in enumerate(pairs):
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-5, atol=1e-5, err_msg=str(i))


def test_empty_tensors() -> None:
    e = on_gpu(np.zeros((0, 3), np.float32))
    assert (e + 1).shape == (0, 3)
    assert e.sum(0).numpy().tolist() == [0, 0, 0]
    assert (e.T @ e).numpy().tolist() == [[0] * 3] * 3
    assert e.softmax(-1).shape == (0, 3)
    with pytest.raises(ValueError, match="empty dimension"):
        e.max(0)
