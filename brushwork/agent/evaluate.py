"""Judging a painting agent: the paper's loop on held-out targets, T steps of k strokes, scored by the
L2 distance (and PSNR) of the final canvases, with what shows whether it paints or fades: PSNR step
by step, the flat-fill baseline, and how much its strokes move from image to image (a collapsed policy
paints a fixed layout).  Training (`train.evaluate`) and the scripts use this one
loop (docs/method.md, "Training")."""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor

from ..metrics import psnr_from_mse
from ..stroke import get_shape
from .env import PaintEnv, make_renderer, to_float
from .policy import Policy


@torch.no_grad()
def run_episodes(env: PaintEnv, act: Callable[[dict], Tensor], targets: Tensor, shape: str = "bezier") -> dict:
    """Paint ``targets`` in ``env`` with ``act(observation) -> actions (B, k*13)`` for ``env.steps`` steps.
    Returns mean L2 (MSE, [0, 1] images), mean PSNR (dB), the final canvases and targets (uint8) and
    `collapse_report`'s figures."""
    obs = env.reset(targets)
    acts, l2s = [], []
    for _ in range(env.steps):
        a = act(obs)
        obs, _ = env.step(a)
        acts.append(a.view(a.shape[0], env.bundle, -1).cpu())
        l2s.append(env.l2())
    l2 = l2s[-1]  # the final canvases
    return {"l2": float(l2.mean()), "psnr": float(psnr_from_mse(l2).mean()), "canvases": env.canvas, "targets": env.target,
            **collapse_report(l2s, acts, env.target, shape)}


def evaluate_policy(policy: Policy, targets: Tensor, renderer: str = "analytic") -> dict:
    """A trained policy on a batch of targets (B, 3, W, W) uint8 or float at its size W, through
    ``renderer`` (see `env.make_renderer`): `run_episodes`' result."""
    device = next(policy.actor.parameters()).device
    env = PaintEnv(policy.size, policy.bundle, policy.steps, make_renderer(renderer, policy.shape, policy.size, device),
                   policy.background)

    def act(obs: dict) -> Tensor:
        return policy.act(to_float(obs["canvas"]), to_float(obs["target"]), obs["t"], policy.steps).flatten(1)

    return run_episodes(env, act, targets.to(device), policy.shape)


REPORT_STEPS = (1, 5, 10, 20)


def collapse_report(l2s: list[Tensor], acts: list[Tensor], targets: Tensor, shape: str) -> dict:
    """What shows a collapsed policy: mean PSNR after steps 1, 5, 10, 20 and the last (``psnr@N``), the
    flat fill of each image's mean colour on the same images (``flat_psnr``), and the spread across
    images of each stroke slot's centre and the mean stroke size (`stroke_spread`).
    l2s: per step (B,) MSE; acts: per step (B, k, 13) strokes; targets (B, 3, W, W) uint8 or float."""
    out = {f"psnr@{s}": float(psnr_from_mse(l2s[s - 1]).mean())
           for s in sorted({s for s in REPORT_STEPS if s < len(l2s)} | {len(l2s)})}
    tg = targets.float() / 255 if targets.dtype == torch.uint8 else targets.float()
    flat = tg.mean(dim=(2, 3), keepdim=True)
    out["flat_psnr"] = float(psnr_from_mse(((flat - tg) ** 2).flatten(1).mean(1)).mean())
    out.update(stroke_spread(acts, get_shape(shape), tg.shape[0]))
    return out


def stroke_spread(acts: list[Tensor], shape, batch: int) -> dict:
    """Collapse measures from each step's strokes (B g^2, k, 13): for every (tile, slot) the standard
    deviation across images of the stroke's centre (mean over slots, fraction of the tile), and the
    mean stroke size (bounding-box diagonal / tile side)."""
    spreads, sizes = [], []
    for a in acts:
        n, k, p = a.shape
        flat = a.reshape(n * k, p)
        frames = torch.tensor([0.0, 0.0, 1.0]).expand(n * k, 3)
        box = shape.boxes(flat, frames * 256, torch.full((n * k,), 256.0)) / 256  # unit-tile boxes
        centre = ((box[:, :2] + box[:, 2:]) / 2).view(batch, n // batch, k, 2)
        spreads.append(centre.std(0).mean())
        sizes.append((box[:, 2:] - box[:, :2]).norm(dim=1).mean())
    return {"centre_spread": float(torch.stack(spreads).mean()), "stroke_size": float(torch.stack(sizes).mean())}
