"""The op registry: one place that maps an op name to its kernels and its backward rule.

Every op the engine knows — built-in or a user's — is one `register_op` call:

    def my_square_cpu(x):                  # CPU kernel: gets Tensors, returns numpy
        a = x.np                           # numpy view of x (strided, shares memory)
        return a * a

    def my_square_backward(node, out, grad):
        (x,) = node.inputs                 # one gradient (or None) per input
        return (grad * 2 * x,)

    register_op("my_square", cpu=my_square_cpu, backward=my_square_backward)
    y = apply_op("my_square", x)           # dispatch + autograd recording

Kernel convention (all devices): `kernel(*inputs, **attrs)` receives the input
Tensors, already on the op's device (half dtypes are widened to f32 by the
callers that need it), and returns a C-contiguous backend array — numpy for the
CPU, a numba device array for CUDA — or a tuple of them. The CUDA backend fills
its slot with `set_kernel(name, "cuda", fn)`; an op without a kernel for a
device raises NotImplementedError naming the op and the device.

Backward convention: `backward(node, out, grad)` gets the recorded Node
(`node.inputs`, `node.attrs`, `node.saved`), the op's output tensor and the
gradient flowing into it, and returns one gradient per input (None where an
input gets none). Backward rules are written with Tensor ops, so they run on
any device that has the forward kernels.
"""

from __future__ import annotations

from collections.abc import Callable

__all__ = ["OpDef", "apply_op", "get_op", "register_op", "registered_ops", "set_kernel"]


class OpDef:
    __slots__ = ("backward", "cpu", "cuda", "doc", "name")

    def __init__(self, name: str, cpu: Callable | None, cuda: Callable | None,
                 backward: Callable | None, doc: str) -> None:
        self.name = name
        self.cpu = cpu
        self.cuda = cuda
        self.backward = backward
        self.doc = doc

    def kernel(self, device) -> Callable:
        fn = self.cpu if device.type == "cpu" else self.cuda
        if fn is None:
            raise NotImplementedError(f"engine op {self.name!r} has no {device.type} kernel")
        return fn

    def __repr__(self) -> str:
        kinds = [k for k in ("cpu", "cuda") if getattr(self, k) is not None]
        return f"OpDef({self.name!r}, kernels={kinds}, backward={self.backward is not None})"


_REGISTRY: dict[str, OpDef] = {}


def register_op(name: str, cpu: Callable | None = None, cuda: Callable | None = None,
                backward: Callable | None = None, *, replace: bool = False,
                doc: str = "") -> OpDef:
    """Register op `name`. Without `replace=True`, registering a taken name is an error
    (so a custom op cannot silently shadow a built-in)."""
    if name in _REGISTRY and not replace:
        raise ValueError(f"op {name!r} is already registered (pass replace=True to override)")
    op = OpDef(name, cpu, cuda, backward, doc)
    _REGISTRY[name] = op
    return op


def get_op(name: str) -> OpDef:
    try:
        return _REGISTRY[name]
    except KeyError:
        raise KeyError(f"no engine op named {name!r}") from None


def set_kernel(name: str, device_type: str, fn: Callable) -> None:
    """Install the kernel of an existing op for one device type ("cpu" or "cuda")."""
    if device_type not in ("cpu", "cuda"):
        raise ValueError(f"unknown device type {device_type!r}")
    setattr(get_op(name), device_type, fn)


def registered_ops() -> list[str]:
    return sorted(_REGISTRY)


def apply_op(op: str | OpDef, *inputs, out_dtype=None, **attrs):
    """Run a registered op on tensors: pick the kernel for the inputs' device, wrap the
    result, and record the op for autograd when an input requires grad.

    The output dtype defaults to the first input's dtype. This is the generic path
    that custom ops use; built-in ops use the same registry through leaner
    specialised front ends.
    """
    from ..autograd import is_grad_enabled
    from ..tensor import Tensor, as_tensor

    opdef = get_op(op) if isinstance(op, str) else op
    tensors = [as_tensor(x) if not isinstance(x, Tensor) else x for x in inputs]
    device = tensors[0].device
    for t in tensors[1:]:
        if t.device is not device:
            raise ValueError(f"op {opdef.name!r}: inputs on different devices "
                             f"({device} and {t.device})")
    result = opdef.kernel(device)(*tensors, **attrs)
    dtype = out_dtype if out_dtype is not None else tensors[0].dtype
    if isinstance(result, tuple):
        return tuple(Tensor._from_backend(r, dtype, device) for r in result)
    out = Tensor._from_backend(result, dtype, device)
    if opdef.backward is not None and is_grad_enabled() and any(t.requires_grad for t in tensors):
        out._record(opdef, tuple(tensors), attrs)
    return out
