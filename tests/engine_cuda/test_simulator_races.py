"""The simulator's two races (simulator_races.py), forced open by slowing the window
between look-up and update, and shown closed by the patched helpers."""

from __future__ import annotations

import os
import threading
import time
import types

import pytest

from . import simulator_races

pytestmark = pytest.mark.skipif(os.environ.get("NUMBA_ENABLE_CUDASIM") != "1",
                                reason="patches numba's CUDA simulator; a GPU run has no simulator")


class _SlowLookups(dict):
    """A dict whose get() gives other threads time to run between look-up and insert."""

    def get(self, key, default=None):
        value = super().get(key, default)
        time.sleep(0.02)
        return value


def test_threads_of_a_block_share_one_shared_array() -> None:
    from numba.cuda.simulator.kernelapi import FakeCUDAShared

    shared = FakeCUDAShared(0)
    shared._allocations = _SlowLookups()
    got = []
    start = threading.Barrier(8)

    def thread_body():
        start.wait()
        got.append(FakeCUDAShared.array(shared, (4, 4), "float32"))

    threads = [threading.Thread(target=thread_body) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(got) == 8
    assert all(a is got[0] for a in got), "threads of one block got different shared arrays"


def test_a_device_function_keeps_the_fake_module_while_any_thread_is_inside() -> None:
    from numba import cuda
    from numba.cuda.simulator import kernel

    module_globals = {"cuda": cuda}
    fn = types.FunctionType((lambda: None).__code__, module_globals)
    fake = object()
    a_inside, b_inside, a_left = threading.Event(), threading.Event(), threading.Event()
    seen_by_b = []

    def thread_a():
        with kernel.swapped_cuda_module(fn, fake):
            a_inside.set()
            b_inside.wait()
        a_left.set()

    def thread_b():
        a_inside.wait()
        with kernel.swapped_cuda_module(fn, fake):
            b_inside.set()
            a_left.wait()
            seen_by_b.append(module_globals["cuda"])

    threads = [threading.Thread(target=thread_a), threading.Thread(target=thread_b)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=10)
    assert seen_by_b == [fake], "a thread still inside met the real numba.cuda module"
    assert module_globals["cuda"] is cuda, "the real module was not put back"


def test_install_is_in_effect() -> None:
    from numba.cuda.simulator import kernel, kernelapi

    assert kernelapi.FakeCUDAShared.array is simulator_races.shared_array
    assert kernel.swapped_cuda_module is simulator_races.swapped_cuda_module
