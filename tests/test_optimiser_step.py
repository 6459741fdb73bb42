"""The one Adam step all optimisers take (painter/adam.py), the stop callback it carries, and the global
RNG that painting leaves alone."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from brushwork import Stopped, paint
from brushwork.painter import adam as adam_mod
from brushwork.painter.adam import Adam


def image(h=40, w=48) -> np.ndarray:
    rng = np.random.default_rng(3)
    y, x = np.mgrid[0:h, 0:w]
    arr = np.stack([x * 255 / w, y * 255 / h, 128 + 0 * x], -1) * 0.8 + rng.integers(0, 50, (h, w, 3))
    return arr.astype(np.uint8)


def test_matches_torch_optim_adam_step_by_step():
    gen = torch.Generator().manual_seed(0)
    z0 = torch.randn(30, 13, generator=gen)
    ours, ref = z0.clone(), z0.clone().requires_grad_(True)
    opt_ours, opt_ref = Adam(ours), torch.optim.Adam([ref], lr=0.1)
    for it in range(25):
        g = torch.randn(30, 13, generator=gen) * (it + 1)
        opt_ours.step(g, 0.1)
        ref.grad = g.clone()
        opt_ref.step()
        torch.testing.assert_close(ours, ref.detach(), rtol=1e-5, atol=1e-6)


def test_a_changing_learning_rate_is_taken_per_step():
    z = torch.zeros(4)
    opt = Adam(z)
    opt.step(torch.ones(4), 0.1)
    first = z.clone()
    opt.step(torch.ones(4), 0.0)  # lr 0: the moments move, z does not
    torch.testing.assert_close(z, first)
    assert float(first[0]) == pytest.approx(-0.1, rel=1e-4)  # Adam's first step is lr * sign(g)


def counting_steps(monkeypatch) -> dict:
    """Count every Adam step the painter takes."""
    seen = {"steps": 0}
    real = Adam.step

    def step(self, grad, lr):
        seen["steps"] += 1
        return real(self, grad, lr)

    monkeypatch.setattr(adam_mod.Adam, "step", step)
    return seen


@pytest.mark.parametrize("method", ["optimize", "refine", "agent"])
def test_stop_is_asked_every_iteration_and_ends_the_painting_at_once(monkeypatch, tiny_actor, method):
    kw = dict(method=method, strokes=24, width=48, optimize_iters=4, refine_iters=6, quiet=True, agent=str(tiny_actor),
              passes=2)
    seen = counting_steps(monkeypatch)
    calls = {"n": 0}

    def never() -> bool:
        calls["n"] += 1
        return False

    p = paint(image(), stop=never, **kw)
    assert len(p) == 24
    assert calls["n"] >= seen["steps"], "an optimiser iteration went without asking stop()"
    if method != "agent":
        assert seen["steps"] > 0
    # Stop at the k-th question: the painting raises at once, asking no more.
    k = max(2, calls["n"] // 2)
    calls["n"] = 0

    def halfway() -> bool:
        calls["n"] += 1
        return calls["n"] >= k

    with pytest.raises(Stopped):
        paint(image(), stop=halfway, **kw)
    assert calls["n"] == k


def test_painting_leaves_the_global_rng_alone():
    torch.manual_seed(123)
    before = torch.get_rng_state().clone()
    paint(image(), method="optimize", strokes=20, optimize_iters=3, quiet=True, seed=5)
    assert torch.equal(torch.get_rng_state(), before)
