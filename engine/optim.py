"""Optimizers: SGD (with momentum) and AdamW, updating parameters in place.

The updates are ops in the registry ("sgd_step", "adamw_step") so a CUDA backend
supplies its own kernel for them like for any other op.
"""

from __future__ import annotations

from collections.abc import Iterable

from .autograd import no_grad
from .creation import zeros
from .ops.registry import register_op
from .tensor import Tensor

__all__ = ["SGD", "AdamW", "Optimizer"]


SGD_STEP = register_op("sgd_step", doc="in-place SGD(+momentum) update")
ADAMW_STEP = register_op("adamw_step", doc="in-place AdamW update")


class Optimizer:
    def __init__(self, params: Iterable[Tensor], lr: float) -> None:
        self.params = [p for p in params]
        if not self.params:
            raise ValueError("optimizer got an empty parameter list")
        for p in self.params:
            if not p.requires_grad:
                raise ValueError("optimizer parameters must require grad")
            if not p.is_contiguous():
                raise ValueError("optimizer parameters must be contiguous")
        if lr < 0:
            raise ValueError(f"invalid learning rate {lr}")
        self.lr = lr

    def zero_grad(self) -> None:
        for p in self.params:
            p.grad = None

    def step(self) -> None:
        raise NotImplementedError


class SGD(Optimizer):
    def __init__(self, params, lr: float, momentum: float = 0.0,
                 weight_decay: float = 0.0) -> None:
        super().__init__(params, lr)
        self.momentum = momentum
        self.weight_decay = weight_decay
        self._bufs: dict[int, Tensor] = {}

    @no_grad()
    def step(self) -> None:
        for p in self.params:
            if p.grad is None:
                continue
            buf = None
            if self.momentum:
                buf = self._bufs.get(id(p))
                if buf is None:
                    buf = self._bufs[id(p)] = zeros(p.shape, dtype=p.dtype, device=p.device)
            SGD_STEP.run(p.device, p, p.grad, buf, self.lr, self.momentum, self.weight_decay)


class AdamW(Optimizer):
    def __init__(self, params, lr: float = 1e-3, betas: tuple[float, float] = (0.9, 0.999),
                 eps: float = 1e-8, weight_decay: float = 0.01) -> None:
        super().__init__(params, lr)
        self.betas = betas
        self.eps = eps
        self.weight_decay = weight_decay
        self._state: dict[int, tuple[Tensor, Tensor]] = {}
        self._t = 0

    @no_grad()
    def step(self) -> None:
        self._t += 1
        b1, b2 = self.betas
        bias1 = 1.0 - b1 ** self._t
        bias2 = 1.0 - b2 ** self._t
        for p in self.params:
            if p.grad is None:
                continue
            st = self._state.get(id(p))
            if st is None:
                st = self._state[id(p)] = (zeros(p.shape, dtype=p.dtype, device=p.device),
                                           zeros(p.shape, dtype=p.dtype, device=p.device))
            ADAMW_STEP.run(p.device, p, p.grad, st[0], st[1], self.lr, b1, b2, self.eps,
                           self.weight_decay, bias1, bias2)
