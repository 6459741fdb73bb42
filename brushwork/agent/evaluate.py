"""Judging a painting agent: the paper's loop on held-out targets, T steps of k strokes, scored by the
L2 distance (and PSNR) of the final canvases.  Training (`train.evaluate`) and the scripts use this one
loop (docs/method.md, "Training")."""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor

from ..metrics import psnr_from_mse
from .env import PaintEnv, make_renderer, to_float
from .policy import Policy


@torch.no_grad()
def run_episodes(env: PaintEnv, act: Callable[[dict], Tensor], targets: Tensor) -> dict:
    """Paint ``targets`` in ``env`` with ``act(observation) -> actions (B, k*13)`` for ``env.steps`` steps.
    Returns mean L2 (MSE, [0, 1] images), mean PSNR (dB) and the final canvases and targets (uint8)."""
    obs = env.reset(targets)
    for _ in range(env.steps):
        obs, _ = env.step(act(obs))
    l2 = env.l2()
    return {"l2": float(l2.mean()), "psnr": float(psnr_from_mse(l2).mean()), "canvases": env.canvas, "targets": env.target}


def evaluate_policy(policy: Policy, targets: Tensor, renderer: str = "analytic") -> dict:
    """A trained policy on a batch of targets (B, 3, W, W) uint8 or float at its size W, through
    ``renderer`` (see `env.make_renderer`): `run_episodes`' result."""
    device = next(policy.actor.parameters()).device
    env = PaintEnv(policy.size, policy.bundle, policy.steps, make_renderer(renderer, policy.shape, policy.size, device),
                   policy.background)

    def act(obs: dict) -> Tensor:
        return policy.act(to_float(obs["canvas"]), to_float(obs["target"]), obs["t"], policy.steps).flatten(1)

    return run_episodes(env, act, targets.to(device))
