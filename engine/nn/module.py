"""Module: a tree of layers whose Parameters are found by attribute assignment."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterator

import numpy as np

from ..autograd import no_grad
from ..tensor import Tensor

__all__ = ["Module", "ModuleList", "Parameter"]


class Parameter(Tensor):
    """A tensor that a Module owns and an optimizer updates (requires_grad=True)."""

    __slots__ = ()

    def __init__(self, data: Tensor, requires_grad: bool = True) -> None:
        if not isinstance(data, Tensor):
            from ..creation import tensor
            data = tensor(data)
        super().__init__(data._storage, data._layout, data.dtype,
                         requires_grad=requires_grad and data.dtype.is_float)
        self._np = data._np

    def __repr__(self) -> str:
        return "Parameter containing:\n" + super().__repr__()


class Module:
    """Base class: assign Parameters, sub-Modules and buffers as attributes; they are
    registered under their attribute names and reached by dotted names."""

    def __init__(self) -> None:
        object.__setattr__(self, "_parameters", OrderedDict())
        object.__setattr__(self, "_modules", OrderedDict())
        object.__setattr__(self, "_buffers", OrderedDict())
        object.__setattr__(self, "training", True)

    def __setattr__(self, name: str, value) -> None:
        if "_parameters" not in self.__dict__:
            raise RuntimeError(f"{type(self).__name__}.__init__ must call super().__init__() "
                               f"before assigning attributes")
        for registry in (self._parameters, self._modules, self._buffers):
            registry.pop(name, None)
        if isinstance(value, Parameter):
            self._parameters[name] = value
        elif isinstance(value, Module):
            self._modules[name] = value
        object.__setattr__(self, name, value)

    def __delattr__(self, name: str) -> None:
        for registry in (self._parameters, self._modules, self._buffers):
            registry.pop(name, None)
        object.__delattr__(self, name)

    def register_buffer(self, name: str, value: Tensor | None) -> None:
        """A tensor that belongs in state_dict but is not trained (e.g. position ids)."""
        object.__setattr__(self, name, value)
        if value is not None:
            self._buffers[name] = value

    # ---- traversal ----

    def named_modules(self, prefix: str = "") -> Iterator[tuple[str, Module]]:
        yield prefix, self
        for name, m in self._modules.items():
            yield from m.named_modules(f"{prefix}.{name}" if prefix else name)

    def modules(self) -> Iterator[Module]:
        for _, m in self.named_modules():
            yield m

    def children(self) -> Iterator[Module]:
        return iter(self._modules.values())

    def named_parameters(self, prefix: str = "") -> Iterator[tuple[str, Parameter]]:
        seen = set()
        for mod_name, m in self.named_modules(prefix):
            for name, p in m._parameters.items():
                if id(p) in seen:  # shared (tied) parameters are listed once
                    continue
                seen.add(id(p))
                yield (f"{mod_name}.{name}" if mod_name else name), p

    def parameters(self) -> Iterator[Parameter]:
        for _, p in self.named_parameters():
            yield p

    def named_buffers(self, prefix: str = "") -> Iterator[tuple[str, Tensor]]:
        for mod_name, m in self.named_modules(prefix):
            for name, b in m._buffers.items():
                yield (f"{mod_name}.{name}" if mod_name else name), b

    # ---- state ----

    def state_dict(self) -> dict[str, Tensor]:
        """Parameters and buffers by dotted name (detached views, sharing storage)."""
        out: dict[str, Tensor] = {}
        for mod_name, m in self.named_modules():
            for name, t in list(m._parameters.items()) + list(m._buffers.items()):
                out[f"{mod_name}.{name}" if mod_name else name] = t.detach()
        return out

    def load_state_dict(self, state: dict, strict: bool = True) -> tuple[list[str], list[str]]:
        """Copy values into the existing parameters/buffers (converted to their dtype).

        Shapes must match exactly. With strict=True, missing or unexpected names are an
        error listing them; otherwise they are returned as (missing, unexpected).
        """
        from .varbuilder import ShapeMismatchError
        own: dict[str, Tensor] = {}
        for mod_name, m in self.named_modules():
            for name, t in list(m._parameters.items()) + list(m._buffers.items()):
                own[f"{mod_name}.{name}" if mod_name else name] = t
        missing = [k for k in own if k not in state]
        unexpected = [k for k in state if k not in own]
        if strict and (missing or unexpected):
            parts = []
            if missing:
                parts.append(f"missing keys: {', '.join(missing)}")
            if unexpected:
                parts.append(f"unexpected keys: {', '.join(unexpected)}")
            raise KeyError("load_state_dict: " + "; ".join(parts))
        for name, t in own.items():
            if name not in state:
                continue
            src = state[name]
            if not isinstance(src, Tensor):
                from ..creation import tensor
                src = tensor(np.asarray(src), dtype=t.dtype)
            if tuple(src.shape) != t.shape:
                raise ShapeMismatchError(f"shape mismatch for {name}: state has "
                                         f"{tuple(src.shape)}, model expects {t.shape}")
            with no_grad():
                t[...] = src.to(t.dtype)
        return missing, unexpected

    # ---- mode ----

    def train(self, mode: bool = True) -> Module:
        for m in self.modules():
            object.__setattr__(m, "training", bool(mode))
        return self

    def eval(self) -> Module:
        return self.train(False)

    def zero_grad(self) -> None:
        for p in self.parameters():
            p.grad = None

    def to(self, *args) -> Module:
        """Move/cast every parameter and buffer (in place of the module's attributes)."""
        for m in self.modules():
            for name, p in list(m._parameters.items()):
                moved = p.to(*args)
                if moved is not p:
                    setattr(m, name, Parameter(moved.detach(), requires_grad=p.requires_grad))
            for name, b in list(m._buffers.items()):
                m.register_buffer(name, b.to(*args))
        return self

    # ---- calling ----

    def forward(self, *args, **kwargs):
        raise NotImplementedError(f"{type(self).__name__} does not define forward()")

    def __call__(self, *args, **kwargs):
        return self.forward(*args, **kwargs)

    def extra_repr(self) -> str:
        return ""

    def __repr__(self) -> str:
        lines = [f"{type(self).__name__}({self.extra_repr()}"]
        for name, m in self._modules.items():
            sub = repr(m).replace("\n", "\n  ")
            lines.append(f"  ({name}): {sub}")
        return lines[0] + (")" if len(lines) == 1 else "\n" + "\n".join(lines[1:]) + "\n)")


class ModuleList(Module):
    """A list of modules registered as "0", "1", ..."""

    def __init__(self, modules=()) -> None:
        super().__init__()
        for m in modules:
            self.append(m)

    def append(self, module: Module) -> ModuleList:
        if not isinstance(module, Module):
            raise TypeError(f"ModuleList holds Modules, got {type(module).__name__}")
        setattr(self, str(len(self._modules)), module)
        return self

    def extend(self, modules) -> ModuleList:
        for m in modules:
            self.append(m)
        return self

    def __len__(self) -> int:
        return len(self._modules)

    def __iter__(self) -> Iterator[Module]:
        return iter(self._modules.values())

    def __getitem__(self, i):
        items = list(self._modules.values())
        if isinstance(i, slice):
            return ModuleList(items[i])
        return items[i]
