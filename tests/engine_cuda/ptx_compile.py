"""Compile every CUDA kernel specialisation the op suite launches to PTX, without a GPU.

The simulator runs kernels as Python, so it cannot catch what only numba's CUDA
compiler rejects (typing, unsupported calls, lowering). This script runs the op
suite's cases with launches intercepted: device memory is host memory, each
`kernel[grid, block](*args)` records the argument types instead of running, and
afterwards every distinct (kernel, signature) goes through numba's real CUDA
compiler (NVVM) for a given compute capability. Values are meaningless here; only
the compiler's verdict counts.

    CUDA_HOME=<dir with nvvm/lib64/libnvvm.so> python -m tests.engine_cuda.ptx_compile

Exits non-zero listing the kernels that fail to compile. Needs NVVM + libdevice
(a CUDA toolkit, or the nvidia-cuda-nvcc-cu12 wheel's nvvm/ folder) but no driver.
"""

from __future__ import annotations

import contextlib
import os
import sys

os.environ["NUMBA_ENABLE_CUDASIM"] = "0"

import numba
import numpy as np
from numba import cuda
from numba.cuda.dispatcher import CUDADispatcher


class HostDeviceArray(np.ndarray):
    """Host memory standing in for a device array (typed by numba like one)."""

    def copy_to_host(self):
        return np.array(self)


def _device_array(shape, dtype=np.float64, **_):
    return np.empty(shape, dtype=dtype).view(HostDeviceArray)


def _to_device(arr, **_):
    return np.array(arr).view(HostDeviceArray)


LAUNCHES: dict[tuple, CUDADispatcher] = {}


class _Launch:
    def __init__(self, dispatcher):
        self.dispatcher = dispatcher

    def __call__(self, *args):
        sig = tuple(numba.typeof(a.view(np.ndarray) if isinstance(a, HostDeviceArray) else a)
                    for a in args)
        LAUNCHES.setdefault((id(self.dispatcher.py_func), sig), self.dispatcher)


def intercept(cc) -> None:
    import types

    import numba.cuda.dispatcher as dispatcher_module
    # device functions are compiled for the current device's compute capability
    dispatcher_module.get_current_device = lambda: types.SimpleNamespace(compute_capability=cc)
    cuda.device_array = _device_array
    cuda.to_device = _to_device
    cuda.is_available = lambda: True
    cuda.gpus = [contextlib.nullcontext()]
    CUDADispatcher.__getitem__ = lambda self, config: _Launch(self)
    import engine.device
    # the device probe's kernel is intercepted too (it would never write its answer)
    engine.device.cuda_problem = lambda: None


def workload() -> None:
    """The parity cases (forward and backward) and the model-level paths."""
    from engine.backend.cuda import launch

    from . import test_ops
    from .parity import CUDA, evaluate

    for cfg in (launch.GPU_CONFIG,):  # the geometry a GPU runs (the simulator never compiles)
        with launch.use_config(cfg):
            for case in test_ops.CASES:
                try:
                    evaluate(case, CUDA)
                except Exception as e:  # noqa: BLE001 (garbage values can upset host checks)
                    print(f"  (case {case.name} stopped early: {type(e).__name__}: {e})")
            _models()


def _models() -> None:
    import engine
    import engine.functional as F
    from engine.optim import SGD, AdamW

    from .test_models import TinyNet
    for opt in (SGD, AdamW):
        net = TinyNet().to("cuda")
        o = opt(net.parameters(), lr=0.1)
        img = engine.ones(2, 2, 4, 4, device="cuda")
        ids = engine.tensor([[0, 1, 2, 3], [1, 1, 1, 1]], device="cuda")
        loss = F.cross_entropy(net(img, ids), engine.tensor([0, 2], device="cuda"))
        loss.backward()
        o.step()
    w16 = engine.ones(4, 8, dtype=engine.f16, device="cuda")
    from engine.backend.cuda import kernels as backend
    x = engine.ones(3, 8, device="cuda")
    backend.CUDA_KERNELS["linear"](x, w16, engine.ones(4, dtype=engine.f16, device="cuda"))
    backend.CUDA_KERNELS["linear_gelu"](x, w16, None)


def main(cc=(8, 0)) -> int:
    intercept(cc)
    workload()
    failures = []
    for (_, sig), dispatcher in LAUNCHES.items():
        try:
            cuda.compile_ptx(dispatcher.py_func, sig, cc=cc)
        except Exception as e:  # noqa: BLE001 (report every compiler failure)
            name = dispatcher.py_func.__qualname__
            failures.append(f"{name}{sig}: {type(e).__name__}: {str(e).splitlines()[0][:300]}")
    print(f"compiled {len(LAUNCHES) - len(failures)} of {len(LAUNCHES)} kernel "
          f"specialisations for sm_{cc[0]}{cc[1]}")
    for f in failures:
        print("FAILED", f)
    return 1 if failures or not LAUNCHES else 0


if __name__ == "__main__":
    sys.exit(main())
