"""The one Adam step every optimiser of the painter takes (stages, joint pass, refine).

Why not ``torch.optim.Adam``: its first step imports ``torch._dynamo``, a fixed cost of seconds per
process that a painting of a few seconds would pay in full (`python scripts/bench_adam.py` measures
both; docs/benchmarks/adam.md).  This is the same update (Kingma & Ba, with torch's bias corrections and
epsilon), on one tensor, in place, and a test checks it against ``torch.optim.Adam`` step by step.

Every step first asks ``stop()``: a painting is cancelled within one iteration of any optimiser.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor

BETAS = (0.9, 0.999)
EPS = 1e-8


class Stopped(Exception):
    """Raised by a painting's ``stop`` callback check: the caller asked the painting to end."""


def check_stop(stop: Callable[[], bool] | None) -> None:
    """Raise `Stopped` when ``stop`` (a painting's stop callback, or None) says so."""
    if stop is not None and stop():
        raise Stopped("stopped")


class Adam:
    """Adam on one parameter tensor ``z`` (any shape), updated in place by `step`.

    ``opt = Adam(z, stop=stop); ...; opt.step(grad, lr)``: the learning rate is given per step, so a
    schedule (e.g. a linear decay) is the caller's loop, in plain sight."""

    def __init__(self, z: Tensor, betas: tuple[float, float] = BETAS, eps: float = EPS,
                 stop: Callable[[], bool] | None = None):
        self.z = z
        self.b1, self.b2 = betas
        self.eps = eps
        self.stop = stop
        self.m1 = torch.zeros_like(z)
        self.m2 = torch.zeros_like(z)
        self.t = 0

    @torch.no_grad()
    def step(self, grad: Tensor, lr: float) -> None:
        """One update of ``z`` with gradient ``grad`` (same shape) at learning rate ``lr``."""
        check_stop(self.stop)
        self.t += 1
        b1, b2 = self.b1, self.b2
        self.m1.mul_(b1).add_(grad, alpha=1 - b1)
        self.m2.mul_(b2).addcmul_(grad, grad, value=1 - b2)
        denom = (self.m2 / (1 - b2**self.t)).sqrt_().add_(self.eps)
        self.z.addcdiv_(self.m1, denom, value=-lr / (1 - b1**self.t))
