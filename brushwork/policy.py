"""A trained painting policy (the actor) ready for inference: `load_agent(name_or_path)`.

The weights file carries the actor's configuration (network sizes, canvas size W, bundle k, steps T,
stroke shape, background), so the file alone rebuilds it.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor

from .env import observation_planes
from .networks import Actor, NetConfig


@dataclass
class Policy:
    actor: Actor
    size: int  # observation side W the actor was trained at
    bundle: int  # strokes per step k
    steps: int  # steps per episode T it was trained with
    shape: str
    background: str
    meta: dict
    #: coarse-to-fine (grid, steps) levels it was trained on (``--algo direct``), else None
    levels: tuple[tuple[int, int], ...] | None = None

    @property
    def strokes_per_episode(self) -> int:
        return self.bundle * self.steps

    @torch.no_grad()
    def act(self, canvas: Tensor, target: Tensor, t: Tensor, steps: int) -> Tensor:
        """Strokes (B, k, 13) for canvases and targets (B, 3, h, w) float in [0, 1] (resized to the
        actor's W with area averaging), step t (B,) of a ``steps``-step budget."""
        w = self.size
        if canvas.shape[-2:] != (w, w):
            canvas = F.interpolate(canvas, size=(w, w), mode="area")
            target = F.interpolate(target, size=(w, w), mode="area")
        # The actor was trained on uint8 observations: quantise the same way.
        canvas = (canvas.clamp(0, 1) * 255).floor() / 255
        target = (target.clamp(0, 1) * 255).round() / 255
        a = self.actor(observation_planes(canvas, target, t, steps))
        return a.view(a.shape[0], self.bundle, -1)


def load_agent(name_or_path: str = "photo", device: str | torch.device = "cpu") -> Policy:
    """A shipped agent ("photo", "mnist", ...) or an actor .safetensors written by train-agent."""
    from .weights import load_state_strict, load_weights, resolve

    path = resolve(name_or_path, "actor")
    state, meta = load_weights(path, "actor")
    cfg = meta["config"]
    net = cfg["net"]
    actor = Actor(NetConfig(width=net["width"], blocks=tuple(net["blocks"]), bundle=net["bundle"], params=net["params"],
                            norm=net.get("norm", "batch")))
    load_state_strict(actor, state, path)
    actor.to(device).eval().requires_grad_(False)
    levels = tuple(tuple(x) for x in cfg["levels"]) if cfg.get("levels") else None
    return Policy(actor, cfg["size"], net["bundle"], cfg["steps"], cfg["shape"], cfg.get("background", "black"), meta,
                  levels)


@torch.no_grad()
def evaluate_policy(policy: Policy, targets: Tensor, renderer: str = "analytic") -> dict:
    """The paper's loop on a batch of targets (B, 3, W, W) uint8 or float at the policy's size W, through
    ``renderer`` (see `env.make_renderer`): T steps of k strokes.  Returns mean L2 (MSE, [0, 1] images),
    mean PSNR (dB) and the final canvases and targets (B, 3, W, W) uint8."""
    from .env import PaintEnv, make_renderer, to_float
    from .evaluation import collapse_report
    from .metrics import psnr_from_mse

    device = next(policy.actor.parameters()).device
    env = PaintEnv(policy.size, policy.bundle, policy.steps, make_renderer(renderer, policy.shape, policy.size, device),
                   policy.background)
    obs = env.reset(targets.to(device))
    acts, l2s = [], []
    for _ in range(policy.steps):
        a = policy.act(to_float(obs["canvas"]), to_float(obs["target"]), obs["t"], policy.steps)
        obs, _ = env.step(a.flatten(1))
        acts.append(a.cpu())
        l2s.append(env.l2())
    l2 = env.l2()
    return {"l2": float(l2.mean()), "psnr": float(psnr_from_mse(l2).mean()), "canvases": env.canvas, "targets": env.target,
            **collapse_report(l2s, acts, env.target, policy.shape)}
