"""Devices: where a tensor's storage lives (cpu, or cuda:i through numba.cuda)."""

from __future__ import annotations

import functools
import os
from typing import ClassVar

__all__ = ["Device", "as_device", "cpu"]


class Device:
    """`Device("cpu")`, `Device("cuda", 0)`, `Device.parse("cuda:1")`.

    Instances are interned: the same (type, index) is the same object, so
    comparisons on the hot path are identity checks.
    """

    __slots__ = ("index", "type")
    _interned: ClassVar[dict[tuple[str, int], Device]] = {}

    def __new__(cls, type: str = "cpu", index: int = 0) -> Device:  # noqa: PYI034
        if type not in ("cpu", "cuda"):
            raise ValueError(f"unknown device type {type!r} (expected 'cpu' or 'cuda')")
        if type == "cpu":
            index = 0
        key = (type, int(index))
        dev = cls._interned.get(key)
        if dev is None:
            dev = object.__new__(cls)
            object.__setattr__(dev, "type", type)
            object.__setattr__(dev, "index", int(index))
            cls._interned[key] = dev
        return dev

    def __setattr__(self, name, value):
        raise AttributeError("Device is immutable")

    def __reduce__(self):
        return (Device, (self.type, self.index))

    @property
    def is_cpu(self) -> bool:
        return self.type == "cpu"

    @property
    def is_cuda(self) -> bool:
        return self.type == "cuda"

    @staticmethod
    def parse(spec: str | Device) -> Device:
        """Parse "cpu", "cuda" or "cuda:N"."""
        if isinstance(spec, Device):
            return spec
        if not isinstance(spec, str):
            raise TypeError(f"device must be a string or Device, got {type(spec).__name__}")
        s = spec.strip().lower()
        if s == "cpu":
            return Device("cpu")
        if s == "cuda":
            return Device("cuda", 0)
        if s.startswith("cuda:") and s[5:].isdigit():
            return Device("cuda", int(s[5:]))
        raise ValueError(f"cannot parse device {spec!r} (expected 'cpu', 'cuda' or 'cuda:N')")

    @staticmethod
    def cuda_available() -> bool:
        return cuda_problem() is None

    @staticmethod
    def cuda_device_count() -> int:
        if not Device.cuda_available():
            return 0
        from numba import cuda
        return len(cuda.gpus)

    def require_cuda(self) -> None:
        """Raise a clear RuntimeError unless this CUDA device can be used."""
        problem = cuda_problem()
        if problem:
            raise RuntimeError(f"cannot use {self}: {problem}")
        count = Device.cuda_device_count()
        if self.index >= count:
            raise RuntimeError(f"cannot use {self}: numba.cuda sees {count} GPU(s) "
                               f"(cuda:0 .. cuda:{count - 1})")

    @staticmethod
    def best() -> Device:
        """CUDA when numba sees a GPU, else CPU; TABLESCRIBE_DEVICE=cpu|cuda[:N] overrides."""
        forced = os.environ.get("TABLESCRIBE_DEVICE", "").strip()
        if forced:
            try:
                dev = Device.parse(forced)
            except ValueError:
                raise ValueError(f"TABLESCRIBE_DEVICE={forced!r} is not a device "
                                 f"(expected 'cpu', 'cuda' or 'cuda:N')") from None
            if dev.is_cuda:
                try:
                    dev.require_cuda()
                except RuntimeError as e:
                    raise RuntimeError(f"TABLESCRIBE_DEVICE={forced} asks for CUDA, but {e}") from None
            return dev
        return Device("cuda", 0) if Device.cuda_available() else Device("cpu")

    def __repr__(self) -> str:
        return "cpu" if self.type == "cpu" else f"cuda:{self.index}"

    __str__ = __repr__


cpu = Device("cpu")


def _restore_numpy_aliases() -> None:
    """numba-cuda (0.30 at least) overloads np.row_stack when it first compiles a kernel,
    and numpy 2.5 removed that alias of vstack: every compile then failed with an
    AttributeError (seen on an H200 with numpy 2.5.2). Give numpy the alias back."""
    import numpy as np

    if not hasattr(np, "row_stack"):
        np.row_stack = np.vstack


@functools.lru_cache(maxsize=1)
def cuda_problem() -> str | None:
    """None when numba.cuda can compile and run a kernel here, else why it cannot.

    Seeing a GPU is not enough: a numba-cuda that cannot compile (a missing NVVM, a
    numpy it does not know) would otherwise be chosen by ``Device.best()`` and fail at
    the first op; probing once makes it fall back to the CPU instead.
    """
    try:
        from numba import cuda

        if not cuda.is_available():
            return ("numba.cuda finds no usable GPU (no NVIDIA driver/GPU, or numba's CUDA "
                    "support is disabled)")
        _restore_numpy_aliases()
        import numpy as np

        @cuda.jit
        def probe(out):
            out[0] = 7

        out = cuda.device_array(1, dtype=np.int32)
        probe[1, 1](out)
        if int(out.copy_to_host()[0]) != 7:
            return "numba.cuda ran a test kernel that did not write its result"
    except Exception as e:  # noqa: BLE001 - numba without CUDA support, driver or compiler errors
        return f"numba.cuda cannot compile and run a kernel here ({type(e).__name__}: {e})"
    return None


def as_device(dev: str | Device | None) -> Device:
    if dev is None:
        return cpu
    if isinstance(dev, Device):
        return dev
    return Device.parse(dev)
