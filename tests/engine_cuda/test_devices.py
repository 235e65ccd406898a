"""Moving tensors between devices, mixing devices, and choosing the default device."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest
from numba import cuda

import engine
import engine.functional as F
from engine import Device
from engine.ops.registry import apply_op, register_op, set_kernel

from .parity import CPU, CUDA

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def test_to_cuda_and_back() -> None:
    a = np.arange(12, dtype=np.float32).reshape(3, 4)
    x = engine.tensor(a)
    g = x.to("cuda")
    assert g.device is CUDA and isinstance(g.storage, engine.CudaStorage) and g.dtype is engine.f32
    assert x.cuda().device is CUDA and g.cpu().device is CPU and g.to(x).device is CPU
    assert x.to(g).device is CUDA
    np.testing.assert_array_equal(g.T.to("cpu").numpy(), a.T)       # a strided view
    np.testing.assert_array_equal(g[1:, ::2].numpy(), a[1:, ::2])
    h = x.to("cuda", engine.f16)
    assert h.device is CUDA and h.dtype is engine.f16
    np.testing.assert_array_equal(h.numpy(), a.astype(np.float16))
    b = engine.tensor(a, dtype=engine.bf16).to("cuda")
    np.testing.assert_array_equal(b.numpy(), engine.tensor(a, dtype=engine.bf16).numpy())
    assert engine.zeros(2, 3, device="cuda").device is CUDA
    assert g.to("cuda") is g
    assert "device=cuda:0" in repr(g)
    assert g.sum().item() == a.sum()


def test_gradients_cross_devices() -> None:
    a = np.linspace(-1, 1, 6, dtype=np.float32).reshape(2, 3)
    leaf = engine.tensor(a, requires_grad=True)           # on the CPU
    y = (leaf.to("cuda") * 3.0).tanh().sum()
    assert y.device is CUDA
    y.backward()
    assert leaf.grad.device is CPU
    np.testing.assert_allclose(leaf.grad.numpy(), 3 * (1 - np.tanh(3 * a) ** 2), rtol=1e-5)


def test_ops_on_two_devices_name_both() -> None:
    a = engine.ones(2, 2)
    g = engine.ones(2, 2, device="cuda")
    for fn in (lambda: a + g, lambda: g * a, lambda: a @ g, lambda: engine.maximum(g, a),
               lambda: engine.where(a > 0, g, g), lambda: engine.where(g > 0, a, g),
               lambda: F.linear(g, a), lambda: F.layer_norm(g, (2,), a[0], None),
               lambda: engine.cat([g, a]), lambda: F.scaled_dot_product_attention(
                   g[None], a[None], g[None])):
        with pytest.raises(ValueError, match="different devices") as err:
            fn()
        msg = str(err.value)
        assert ("cpu" in msg and "cuda:0" in msg) or "cat" in msg, msg
    # index tensors may come from the host (they are often built from python lists)
    np.testing.assert_array_equal(g.index_select(0, engine.tensor([1, 1])).numpy(),
                                  np.ones((2, 2)))


def test_custom_op_with_a_numba_cuda_kernel() -> None:
    @cuda.jit
    def triple(x, out):
        i = cuda.grid(1)
        if i < out.size:
            out[i] = 3 * x[i]

    def triple_cuda(t):
        src = t.contiguous().storage.buf
        out = cuda.device_array(t.shape, dtype=src.dtype)
        triple[1, 32](src, out.reshape(out.size))
        return out

    if "triple" not in engine.ops.registered_ops():
        register_op("triple", cpu=lambda t: t.np * 3,
                    backward=lambda node, out, g: (g * 3.0,))
    set_kernel("triple", "cuda", triple_cuda)
    x = engine.tensor([1.0, -2.0, 4.0], device="cuda", requires_grad=True)
    y = apply_op("triple", x)
    assert y.device is CUDA
    np.testing.assert_array_equal(y.numpy(), [3, -6, 12])
    (y * y).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), 18 * np.array([1, -2, 4]))


def test_best_device_and_the_environment_override(monkeypatch) -> None:
    monkeypatch.delenv("TABLESCRIBE_DEVICE", raising=False)
    assert Device.cuda_available()
    assert Device.best() is CUDA
    for value, expected in (("cpu", CPU), ("cuda", CUDA), ("cuda:0", CUDA), (" CUDA ", CUDA)):
        monkeypatch.setenv("TABLESCRIBE_DEVICE", value)
        assert Device.best() is expected, value
    count = Device.cuda_device_count()
    monkeypatch.setenv("TABLESCRIBE_DEVICE", f"cuda:{count}")
    with pytest.raises(RuntimeError, match=rf"TABLESCRIBE_DEVICE=cuda:{count} asks for CUDA, "
                                           rf"but cannot use cuda:{count}: numba.cuda sees "
                                           rf"{count} GPU"):
        Device.best()
    monkeypatch.setenv("TABLESCRIBE_DEVICE", "gpu")
    with pytest.raises(ValueError, match="TABLESCRIBE_DEVICE='gpu' is not a device"):
        Device.best()
    with pytest.raises(RuntimeError, match=f"cannot use cuda:{count}"):
        engine.ones(2, device=f"cuda:{count}")


NO_CUDA_SCRIPT = textwrap.dedent("""
    import os, sys
    import engine
    from engine import Device
    assert "numba.cuda" not in sys.modules, "importing the engine loaded numba.cuda"
    assert not Device.cuda_available()
    assert Device.best() is Device("cpu")
    os.environ["TABLESCRIBE_DEVICE"] = "cuda"
    try:
        Device.best()
    except RuntimeError as e:
        print("best:", e)
    try:
        engine.ones(2).to("cuda")
    except RuntimeError as e:
        print("to:", e)
""")


def test_without_a_usable_gpu() -> None:
    """With numba's CUDA support off (as on a machine without NVIDIA driver), the CPU is
    chosen, and asking for CUDA fails with a message that says why."""
    env = dict(os.environ, NUMBA_DISABLE_CUDA="1", PYTHONPATH=ROOT)
    for key in ("NUMBA_ENABLE_CUDASIM", "TABLESCRIBE_DEVICE"):
        env.pop(key, None)
    proc = subprocess.run([sys.executable, "-c", NO_CUDA_SCRIPT], env=env, cwd=ROOT,
                          capture_output=True, text=True, timeout=300, check=False)
    assert proc.returncode == 0, proc.stderr[-3000:]
    lines = proc.stdout.strip().splitlines()
    why = "numba.cuda finds no usable GPU (no NVIDIA driver/GPU, or numba's CUDA support is disabled)"
    assert lines == [f"best: TABLESCRIBE_DEVICE=cuda asks for CUDA, but cannot use cuda:0: {why}",
                     f"to: cannot use cuda:0: {why}"], proc.stdout


def test_a_gpu_whose_numba_cannot_compile_is_not_chosen(monkeypatch) -> None:
    """Seeing a GPU is not enough: when numba.cuda cannot compile (here made to fail; on
    an H200 a numpy that numba-cuda did not know), best() falls back to the CPU and asking
    for CUDA says why."""
    from engine.device import cuda_problem

    monkeypatch.delenv("TABLESCRIBE_DEVICE", raising=False)
    assert cuda_problem() is None
    cuda_problem.cache_clear()

    def broken_jit(*args, **kwargs):
        raise RuntimeError("libNVVM cannot be found")

    monkeypatch.setattr(cuda, "jit", broken_jit)
    try:
        assert Device.best() is CPU
        with pytest.raises(RuntimeError, match=r"cannot use cuda:0: numba.cuda cannot compile and "
                                               r"run a kernel here \(RuntimeError: libNVVM"):
            CUDA.require_cuda()
    finally:
        monkeypatch.undo()
        cuda_problem.cache_clear()
    assert Device.best() is CUDA


def test_numpy_gets_back_the_alias_numba_cuda_compiles_against(monkeypatch) -> None:
    from engine.device import _restore_numpy_aliases

    monkeypatch.delattr(np, "row_stack", raising=False)  # as numpy 2.5 has it
    _restore_numpy_aliases()
    assert np.row_stack is np.vstack


def test_weights_load_onto_the_gpu_in_their_stored_dtype(tmp_path) -> None:
    """Half weights stay half on the device (half the memory); results come back as saved."""
    path = tmp_path / "w.safetensors"
    a = np.linspace(-2, 2, 12, dtype=np.float32).reshape(3, 4)
    engine.save_safetensors({"w16": engine.tensor(a, dtype=engine.f16),
                             "wbf": engine.tensor(a, dtype=engine.bf16),
                             "w32": engine.tensor(a)}, path)
    loaded = engine.load_safetensors(path, device="cuda")
    assert {k: (t.device, t.dtype) for k, t in loaded.items()} == {
        "w16": (CUDA, engine.f16), "wbf": (CUDA, engine.bf16), "w32": (CUDA, engine.f32)}
    assert loaded["w16"].storage.buf.dtype == np.float16  # 2 bytes per weight on the GPU
    np.testing.assert_array_equal(loaded["w16"].numpy(), a.astype(np.float16))
    y = F.linear(engine.ones(2, 4, device="cuda"), loaded["w16"])
    np.testing.assert_allclose(y.numpy(), np.ones((2, 4)) @ a.astype(np.float16).astype(np.float32).T,
                               rtol=1e-6)
    engine.save_safetensors({"back": loaded["wbf"] * 2}, tmp_path / "back.safetensors")
    back = engine.load_safetensors(tmp_path / "back.safetensors")["back"]
    assert back.device is CPU and back.dtype is engine.bf16
    np.testing.assert_array_equal(back.numpy(), (engine.tensor(a, dtype=engine.bf16) * 2).numpy())
