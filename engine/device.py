"""Devices: where a tensor's storage lives (cpu, or cuda:i through numba.cuda)."""

from __future__ import annotations

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
        try:
            from numba import cuda
            return bool(cuda.is_available())
        except Exception:  # noqa: BLE001 - numba without CUDA support, driver errors...
            return False

    @staticmethod
    def cuda_device_count() -> int:
        if not Device.cuda_available():
            return 0
        from numba import cuda
        return len(cuda.gpus)

    def require_cuda(self) -> None:
        """Raise a clear RuntimeError unless this CUDA device can be used."""
        if not Device.cuda_available():
            raise RuntimeError(f"cannot use {self}: numba.cuda finds no usable GPU (no NVIDIA "
                               f"driver/GPU, or numba's CUDA support is disabled)")
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


def as_device(dev: str | Device | None) -> Device:
    if dev is None:
        return cpu
    if isinstance(dev, Device):
        return dev
    return Device.parse(dev)
