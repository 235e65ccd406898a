"""The op registry and dispatch: one place that maps an op name to its kernels and
its backward rule, and runs the right kernel for a device.

Every op the engine knows — built-in or a user's — is one `register_op` call:

    def my_square_cpu(x):                  # kernel: gets StorageViews, returns an array
        a = x.np                           # numpy view of x (strided, shares memory)
        return a * a

    def my_square_backward(node, out, grad):
        (x,) = node.inputs                 # one gradient (or None) per input
        return (grad * 2 * x,)

    register_op("my_square", cpu=my_square_cpu, backward=my_square_backward)
    y = apply_op("my_square", x)           # dispatch + autograd recording

Kernels never see a Tensor. A kernel given to `register_op`/`set_kernel` receives
each tensor input as a StorageView (storage + layout + dtype: `.np` on the CPU,
`.storage.buf` on CUDA, `.shape`, `.contiguous()`) and returns a C-contiguous
backend array — numpy for the CPU, a numba device array for CUDA — or a tuple of
them. An op without a kernel for a device raises NotImplementedError naming the
op and the device.

The backends fill their slots the same way, CPU and CUDA alike: each has a table
of kernels by op name (engine.backend.cpu.kernels.KERNELS, engine.backend.cuda's
`register()`), installed the first time an op runs on (or is asked for a kernel
of) that device type. The CPU backend's kernels take numpy views instead of
StorageViews (no wrapper object on the hot path); CUDA kernels take StorageViews.

Backward convention: `backward(node, out, grad)` gets the recorded Node
(`node.inputs`, `node.attrs`, `node.saved`), the op's output tensor and the
gradient flowing into it, and returns one gradient per input (None where an
input gets none). Backward rules are written with Tensor ops, so they run on
any device that has the forward kernels.
"""

from __future__ import annotations

from collections.abc import Callable

from ..autograd import is_grad_enabled
from ..device import cpu
from ..layout import Layout
from ..storage import CpuStorage, CudaStorage, StorageView
from ..tensor_base import TensorBase

__all__ = ["KernelArg", "OpDef", "apply_op", "get_op", "register_op", "registered_ops",
           "set_kernel"]

_DEVICE_TYPES = ("cpu", "cuda")


class KernelArg(StorageView):
    """A tensor input as a kernel given to the registry sees it."""

    __slots__ = ()

    def contiguous(self) -> KernelArg:
        """Self when contiguous, else a contiguous copy (the registered "copy" kernel)."""
        if self._layout.is_contiguous():
            return self
        device = self._storage.device
        copy = get_op("copy").kernel(device)
        if device is cpu:
            arr = copy(self.np)
            storage = CpuStorage(arr.reshape(-1))
        else:
            arr = copy(self)
            storage = CudaStorage(arr.reshape(-1), device)
        return KernelArg(storage, Layout.contiguous(tuple(arr.shape)), self.dtype)


# ---- backends: kernel tables by device type, loaded on first use ----

_TABLES: dict[str, dict[str, Callable]] = {}


def _backend_table(device_type: str) -> dict[str, Callable]:
    table = _TABLES.get(device_type)
    if table is None:
        if device_type == "cpu":
            from ..backend.cpu.kernels import KERNELS as table
        elif device_type == "cuda":
            from ..backend.cuda.kernels import register
            table = register()
        else:
            raise ValueError(f"unknown device type {device_type!r}")
        # (looked up by name when an op first runs, so ops registered later — the
        # optimizer steps of engine.optim — find their kernels too)
        _TABLES[device_type] = table
    return table


class OpDef:
    """An op: its name, a kernel per device type, its backward rule and which inputs
    may be host index tensors when the op runs on a device (uploaded for the kernel)."""

    __slots__ = ("_arrays", "_cpu", "_cuda", "backward", "doc", "host_inputs", "name")

    def __init__(self, name: str, cpu: Callable | None, cuda: Callable | None,
                 backward: Callable | None, doc: str, host_inputs: tuple = ()) -> None:
        self.name = name
        self._cpu = cpu
        self._cuda = cuda
        self._arrays = False  # True when the CPU kernel is the backend's (takes numpy views)
        self.backward = backward
        self.doc = doc
        self.host_inputs = host_inputs

    def _slot(self, device_type: str) -> Callable | None:
        fn = self._cpu if device_type == "cpu" else self._cuda
        if fn is None:
            fn = _backend_table(device_type).get(self.name)
            if fn is not None:
                if device_type == "cpu":
                    self._cpu, self._arrays = fn, True
                else:
                    self._cuda = fn
        return fn

    @property
    def cpu(self) -> Callable | None:
        return self._slot("cpu")

    @property
    def cuda(self) -> Callable | None:
        return self._slot("cuda")

    def kernel(self, device) -> Callable:
        fn = self._slot(device.type)
        if fn is None:
            raise NotImplementedError(f"engine op {self.name!r} has no {device.type} kernel")
        return fn

    def run(self, device, *args, **attrs):
        """Run the kernel for `device`. Tensor inputs are positional (`attrs` are plain
        values): each must be on `device` (host index inputs are uploaded) and reaches
        the kernel as a numpy view (the CPU backend's kernels) or a KernelArg."""
        if device is cpu and self._cpu is None:
            self.kernel(device)  # installs the CPU backend's table, or says there is none
        if device is cpu and self._arrays:  # the hot path: numpy views, no wrapper
            # (a tensor with a cached numpy view is on the CPU); one and two inputs are
            # spelled out: this runs once per op, so every call it saves shows
            if len(args) == 1:
                a = args[0]
                if isinstance(a, TensorBase):
                    args = (a._np if a._np is not None else self._np_arg(a),)
            elif len(args) == 2:
                a, b = args
                if isinstance(a, TensorBase):
                    a = a._np if a._np is not None else self._np_arg(a)
                if isinstance(b, TensorBase):
                    b = b._np if b._np is not None else self._np_arg(b)
                args = (a, b)
            else:
                converted = []
                for a in args:
                    if isinstance(a, TensorBase):
                        a = a._np if a._np is not None else self._np_arg(a)
                    converted.append(a)
                args = converted
            return self._cpu(*args, **attrs)
        fn = self.kernel(device)
        args = [self._view_arg(a, device, i) if isinstance(a, TensorBase) else a
                for i, a in enumerate(args)]
        return fn(*args, **attrs)

    def _mixed(self, device, other) -> ValueError:
        return ValueError(f"op {self.name!r}: inputs on different devices ({device} and {other})")

    def _np_arg(self, t: TensorBase):
        if t._storage.device is not cpu:
            raise self._mixed(cpu, t.device)
        return t.np

    def _view_arg(self, t: TensorBase, device, i: int) -> KernelArg:
        if t._storage.device is not device:
            if i in self.host_inputs and t._storage.device is cpu:
                t = t._constructor._from_host(t.np.copy(order="C"), t.dtype, device)
            else:
                raise self._mixed(device, t.device)
        return KernelArg(t._storage, t._layout, t.dtype)

    def __repr__(self) -> str:
        kinds = [k for k in _DEVICE_TYPES if getattr(self, "_" + k) is not None]
        return f"OpDef({self.name!r}, kernels={kinds}, backward={self.backward is not None})"


_REGISTRY: dict[str, OpDef] = {}


def register_op(name: str, cpu: Callable | None = None, cuda: Callable | None = None,
                backward: Callable | None = None, *, replace: bool = False,
                doc: str = "", host_inputs: tuple = ()) -> OpDef:
    """Register op `name`. Without `replace=True`, registering a taken name is an error
    (so a custom op cannot silently shadow a built-in)."""
    if name in _REGISTRY and not replace:
        raise ValueError(f"op {name!r} is already registered (pass replace=True to override)")
    op = OpDef(name, cpu, cuda, backward, doc, host_inputs)
    _REGISTRY[name] = op
    return op


def get_op(name: str) -> OpDef:
    try:
        return _REGISTRY[name]
    except KeyError:
        raise KeyError(f"no engine op named {name!r}") from None


def set_kernel(name: str, device_type: str, fn: Callable) -> None:
    """Install the kernel of an existing op for one device type ("cpu" or "cuda"); it
    receives KernelArgs, like any kernel given to the registry."""
    if device_type not in _DEVICE_TYPES:
        raise ValueError(f"unknown device type {device_type!r}")
    op = get_op(name)
    if device_type == "cpu":
        op._cpu, op._arrays = fn, False
    else:
        op._cuda = fn


def registered_ops() -> list[str]:
    return sorted(_REGISTRY)


def apply_op(op: str | OpDef, *inputs, out_dtype=None, **attrs):
    """Run a registered op on tensors: pick the kernel for the inputs' device, wrap the
    result, and record the op for autograd when an input requires grad.

    Non-tensor inputs are made tensors on the first tensor's device. The output dtype
    defaults to the first input's dtype. This is the generic path that custom ops
    use; built-in ops use the same registry through leaner specialised front ends.
    """
    opdef = get_op(op) if isinstance(op, str) else op
    first = next((x for x in inputs if isinstance(x, TensorBase)), None)
    if first is None:
        raise TypeError(f"op {opdef.name!r} needs at least one tensor input")
    tensors = [x if isinstance(x, TensorBase) else first._lift(x) for x in inputs]
    device = tensors[0].device
    for t in tensors[1:]:
        if t.device is not device:
            raise ValueError(f"op {opdef.name!r}: inputs on different devices "
                             f"({device} and {t.device})")
    fn = opdef.kernel(device)
    if device is cpu and opdef._arrays:
        result = fn(*(t.np for t in tensors), **attrs)
    else:
        result = fn(*(KernelArg(t._storage, t._layout, t.dtype) for t in tensors), **attrs)
    dtype = out_dtype if out_dtype is not None else tensors[0].dtype
    cls = first._constructor
    if isinstance(result, tuple):
        return tuple(cls._from_backend(r, dtype, device) for r in result)
    out = cls._from_backend(result, dtype, device)
    if opdef.backward is not None and is_grad_enabled() and any(t.requires_grad for t in tensors):
        out._record(opdef, tuple(tensors), attrs)
    return out
