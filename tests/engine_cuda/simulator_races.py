"""Two data races in numba's CUDA simulator (numba 0.68), closed for our test runs.

The simulator runs every CUDA thread of a block as a Python thread. Two of its helpers
read and then write shared state without a lock:

- `FakeCUDAShared.array` looks a block's shared array up by the calling line and
  creates it when it is missing. Two threads that both find it missing each make their
  own array: those threads then stage and read tiles nobody else sees, and a GEMM
  writes garbage for their outputs (CI saw this once in `matmul-batched-broadcast`).
- `swapped_cuda_module` swaps a device function's module global `cuda` for the fake
  module on entry and restores it on exit, in every thread. A thread that leaves
  restores the real module while another thread of the block is still inside, so a
  device function from another module (backward.py calling `rows._tree_sum`) can meet
  the real `numba.cuda` (numba-cuda fixed this upstream in PR #690).

On a GPU neither exists; these patches make the simulator's threads behave as a
block's threads do. `install()` is called by conftest.py in the simulator run only.
"""

from __future__ import annotations

import contextlib
import sys
import threading

import numpy as np

_SHARED_LOCK = threading.Lock()
_SWAP_LOCK = threading.Lock()
_SWAPPED: dict[int, list] = {}  # id(module globals) -> [threads inside, original values]


def shared_array(self, shape, dtype):
    """FakeCUDAShared.array with the look-up and the creation under one lock."""
    from numba.core import types
    from numba.np import numpy_support

    if isinstance(dtype, types.Type):
        dtype = numpy_support.as_dtype(dtype)
    if shape == 0:  # dynamic shared memory: one buffer for the whole block
        count = self._dynshared_size // dtype.itemsize
        return np.frombuffer(self._dynshared.data, dtype=dtype, count=count)
    caller = sys._getframe(1)
    key = (caller.f_code.co_filename, caller.f_lineno)
    with _SHARED_LOCK:
        arr = self._allocations.get(key)
        if arr is None:
            arr = self._allocations[key] = np.empty(shape, dtype)
    return arr


@contextlib.contextmanager
def swapped_cuda_module(fn, fake_cuda_module):
    """The fake module stays in a module's globals until the last thread inside leaves."""
    from numba import cuda

    module_globals = fn.__globals__
    key = id(module_globals)
    with _SWAP_LOCK:
        entry = _SWAPPED.get(key)
        if entry is None:
            original = {k: v for k, v in module_globals.items() if v is cuda}
            module_globals.update(dict.fromkeys(original, fake_cuda_module))
            entry = _SWAPPED[key] = [0, original]
        entry[0] += 1
    try:
        yield
    finally:
        with _SWAP_LOCK:
            entry[0] -= 1
            if entry[0] == 0:
                module_globals.update(entry[1])
                del _SWAPPED[key]


def install() -> None:
    from numba.cuda.simulator import kernel, kernelapi

    kernelapi.FakeCUDAShared.array = shared_array
    kernel.swapped_cuda_module = swapped_cuda_module
