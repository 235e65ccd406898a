"""Runs the CUDA suite of this folder in its own pytest process: on numba's CUDA
simulator always, and on the GPU too when this machine has one. Also compiles
every kernel specialisation the suite launches with numba's real CUDA compiler
(to PTX; needs NVVM, not a GPU), which the simulator cannot do.

The device must be chosen before numba is imported (NUMBA_ENABLE_CUDASIM is read
at import), which the main test process did long ago — hence the subprocesses.
The suite's own files are not collected in the main process (see conftest.py).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))


def _run_suite(extra_env: dict) -> str:
    env = dict(os.environ, PYTHONPATH=ROOT, **extra_env)
    for key in ("TABLESCRIBE_DEVICE", "NUMBA_DISABLE_CUDA"):
        env.pop(key, None)
    proc = subprocess.run([sys.executable, "-m", "pytest", HERE, "-q", "-p", "no:cacheprovider"],
                          check=False, env=env, cwd=ROOT, capture_output=True, text=True, timeout=1800)
    output = proc.stdout + proc.stderr
    assert proc.returncode == 0, f"CUDA suite failed (exit {proc.returncode}):\n{output[-20000:]}"
    passed = re.search(r"(\d+) passed", output)
    assert passed and int(passed.group(1)) >= 200, output[-5000:]
    print(output[-3000:])
    return output


def test_cuda_suite_on_the_simulator() -> None:
    _run_suite({"NUMBA_ENABLE_CUDASIM": "1"})


def _gpu_present() -> bool:
    if os.environ.get("NUMBA_ENABLE_CUDASIM") == "1":
        return False
    try:
        from numba import cuda
        return bool(cuda.is_available())
    except Exception:  # noqa: BLE001 (numba without CUDA support, broken driver)
        return False


def test_cuda_suite_on_the_gpu() -> None:
    if not _gpu_present():
        pytest.skip("no NVIDIA GPU usable by numba.cuda on this machine (the simulator run "
                    "covers the CUDA path)")
    _run_suite({"TABLESCRIBE_CUDA_TESTS": "1", "NUMBA_ENABLE_CUDASIM": "0"})


def _nvvm_home() -> str | None:
    """A CUDA_HOME whose nvvm/ numba can use: the environment's, or the folder of the
    nvidia-cuda-nvcc wheel (pip install nvidia-cuda-nvcc-cu12)."""
    home = os.environ.get("CUDA_HOME") or os.environ.get("CUDA_PATH")
    candidates = [home] if home else []
    try:
        import importlib.util
        spec = importlib.util.find_spec("nvidia.cuda_nvcc")
        if spec and spec.submodule_search_locations:
            candidates += list(spec.submodule_search_locations)
    except ImportError:
        pass
    candidates.append("/usr/local/cuda")
    for c in candidates:
        if c and os.path.exists(os.path.join(c, "nvvm", "lib64", "libnvvm.so")):
            return c
    return None


def test_every_launched_kernel_compiles_for_a_real_gpu() -> None:
    home = _nvvm_home()
    if home is None:
        pytest.skip("NVVM not found (no CUDA toolkit; pip install nvidia-cuda-nvcc-cu12 "
                    "provides it)")
    env = dict(os.environ, PYTHONPATH=ROOT, CUDA_HOME=home)
    for key in ("TABLESCRIBE_DEVICE", "NUMBA_DISABLE_CUDA", "NUMBA_ENABLE_CUDASIM"):
        env.pop(key, None)
    proc = subprocess.run([sys.executable, "-m", "tests.engine_cuda.ptx_compile"],
                          check=False, env=env,
                          cwd=ROOT, capture_output=True, text=True, timeout=1800)
    output = proc.stdout + proc.stderr
    assert proc.returncode == 0, output[-20000:]
    counted = re.search(r"compiled (\d+) of (\d+) kernel specialisations", output)
    assert counted and counted.group(1) == counted.group(2) and int(counted.group(2)) >= 80, \
        output[-5000:]
