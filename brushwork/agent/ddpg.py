"""DDPG for painting (docs/method.md, "Rewards" and "Training"): model-based (the paper's) and model-free patch-Q, WGAN-GP or L2 reward.

Model-based: the renderer is a known differentiable model, so the critic values *states*:
Q(s, a) = V(C_t, render(C_t, a), I, t+1) + r(s, a).  The actor's gradient flows through the frozen
renderer (and the reward model) into the actions.
Model-free: the critic sees (C_t, I, t, coords) plus the action tiled as planes and predicts one Q per
image patch; rewards are per patch; no gradient through the renderer; Gaussian exploration noise.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..stroke.canvas import coord_planes
from .env import StrokeRenderer, observation_planes, paint_bundle, to_float
from .networks import Actor, Critic, Discriminator, NetConfig


@dataclass(frozen=True)
class DDPGConfig:
    steps: int = 40  # T: steps per episode
    algo: str = "model-based"  # model-based | model-free
    patch_q: bool = True  # model-free only: per-patch Q (the paper's baseline) or one Q per image
    reward: str = "wgan"  # wgan | l2 | psnr
    gamma: float = 0.95**5  # discount per step (paper 0.95^k)
    tau: float = 0.001  # soft target updates
    gp: float = 10.0  # WGAN gradient penalty weight
    d_lr: float = 3e-4  # discriminator Adam LR, betas (0.5, 0.999)
    noise: float = 0.0  # exploration noise std (paper: 0 model-based, 0.05 model-free)


def soft_update(target: nn.Module, source: nn.Module, tau: float) -> None:
    """target <- (1 - tau) target + tau source for parameters; buffers (BatchNorm statistics) copied."""
    with torch.no_grad():
        for t, s in zip(target.parameters(), source.parameters()):
            t.lerp_(s, tau)
        for t, s in zip(target.buffers(), source.buffers()):
            t.copy_(s)


def critic_planes(c0: Tensor, c1: Tensor, target: Tensor, t_next: Tensor, steps: int) -> Tensor:
    """Model-based critic input (B, 12, W, W): C_t, C_t+1, target, (t+1)/T, coords."""
    b, _, h, w = c0.shape
    tp = (t_next.to(c0.dtype) / steps).view(b, 1, 1, 1).expand(b, 1, h, w)
    return torch.cat([c0, c1, target, tp, coord_planes(b, h, w, c0.device, c0.dtype)], 1)


def action_planes(state: Tensor, action: Tensor) -> Tensor:
    """Model-free critic input: the 9 observation planes plus the action tiled to (B, A, W, W)."""
    b, _, h, w = state.shape
    return torch.cat([state, action[:, :, None, None].expand(b, action.shape[1], h, w)], 1)


class Agent(nn.Module):
    def __init__(self, net: NetConfig, cfg: DDPGConfig, render: StrokeRenderer):
        super().__init__()
        self.net_cfg, self.cfg, self.render = net, cfg, render
        self.actor = Actor(net)
        if cfg.algo == "model-based":
            self.critic = Critic(net, cin=12)
        elif cfg.algo == "model-free":
            self.critic = Critic(net, cin=9 + net.bundle * net.params, patch=cfg.patch_q)
        else:
            raise ValueError(f"algo must be model-based or model-free, got {cfg.algo!r}")
        if cfg.reward not in ("wgan", "l2", "psnr"):
            raise ValueError(f"reward must be wgan, l2 or psnr, got {cfg.reward!r}")
        self.disc = Discriminator()
        self.actor_t = copy.deepcopy(self.actor).requires_grad_(False)
        self.critic_t = copy.deepcopy(self.critic).requires_grad_(False)
        self.disc_t = copy.deepcopy(self.disc).requires_grad_(False)
        self.opt_actor = torch.optim.Adam(self.actor.parameters(), lr=1e-3)
        self.opt_critic = torch.optim.Adam(self.critic.parameters(), lr=3e-4)
        self.opt_disc = torch.optim.Adam(self.disc.parameters(), lr=cfg.d_lr, betas=(0.5, 0.999))
        self.sync = None  # callable(module) averaging gradients over ranks (set by the trainer under DDP)

    # --- acting --------------------------------------------------------------------------------
    @torch.no_grad()
    def act(self, obs: dict[str, Tensor], noise: float = 0.0, gen: torch.Generator | None = None) -> Tensor:
        """Actions (B, k*13) for uint8 observations, actor in eval mode (BatchNorm running stats)."""
        was = self.actor.training
        self.actor.eval()
        a = self.actor(observation_planes(to_float(obs["canvas"]), to_float(obs["target"]), obs["t"], self.cfg.steps))
        self.actor.train(was)
        if noise > 0:
            a = (a + noise * torch.randn(a.shape, generator=gen, device="cpu").to(a.device)).clamp(0, 1)
        return a

    # --- rewards -------------------------------------------------------------------------------
    def reward(self, c0: Tensor, c1: Tensor, target: Tensor, patches: tuple[int, int] | None = None) -> Tensor:
        """r(s, a) for canvases before/after (B, 3, W, W): (B,), or per patch (B, h, w)."""
        if self.cfg.reward == "psnr":  # 10 log10(e_t / e_t+1): scale-free, sums to the episode's PSNR gain
            e0, e1 = ((c0 - target) ** 2).mean(1), ((c1 - target) ** 2).mean(1)
            if patches is None:
                e0, e1 = e0.mean(dim=(1, 2)), e1.mean(dim=(1, 2))
            else:
                e0, e1 = F.adaptive_avg_pool2d(e0[:, None], patches)[:, 0], F.adaptive_avg_pool2d(e1[:, None], patches)[:, 0]
            return 10 * (torch.log10(e0 + 1e-6) - torch.log10(e1 + 1e-6))
        if self.cfg.reward == "l2":
            e0, e1 = ((c0 - target) ** 2).mean(1), ((c1 - target) ** 2).mean(1)
            d = e0 - e1  # (B, W, W)
            return d.mean(dim=(1, 2)) if patches is None else F.adaptive_avg_pool2d(d[:, None], patches)[:, 0]
        if patches is None:
            return self.disc_t(torch.cat([target, c1], 1)) - self.disc_t(torch.cat([target, c0], 1))
        d = self.disc_t.patches(torch.cat([target, c1], 1)) - self.disc_t.patches(torch.cat([target, c0], 1))
        return F.adaptive_avg_pool2d(d[:, None], patches)[:, 0]

    def update_disc(self, canvas: Tensor, target: Tensor) -> dict[str, float]:
        """One WGAN-GP step: real = (target, target), fake = (target, canvas)."""
        real = torch.cat([target, target], 1)
        fake = torch.cat([target, canvas], 1)
        eps = torch.rand(real.shape[0], 1, 1, 1, device=real.device)
        mix = (eps * real + (1 - eps) * fake).requires_grad_(True)
        grad = torch.autograd.grad(self.disc(mix).sum(), mix, create_graph=True)[0]
        gp = ((grad.flatten(1).norm(dim=1) - 1) ** 2).mean()
        d_real, d_fake = self.disc(real).mean(), self.disc(fake).mean()
        loss = d_fake - d_real + self.cfg.gp * gp
        self.opt_disc.zero_grad(set_to_none=True)
        loss.backward()
        self._sync(self.disc)
        self.opt_disc.step()
        soft_update(self.disc_t, self.disc, self.cfg.tau)
        return {"disc_loss": loss.item(), "wasserstein": (d_real - d_fake).item()}

    def _sync(self, module: nn.Module) -> None:
        if self.sync is not None:
            self.sync(module)

    # --- one update --------------------------------------------------------------------------
    def update(self, batch: dict[str, Tensor], lr_critic: float, lr_actor: float) -> dict[str, float]:
        """One DDPG update on a replay batch (uint8 canvases, long t, bool done); returns metrics."""
        for g in self.opt_critic.param_groups:
            g["lr"] = lr_critic
        for g in self.opt_actor.param_groups:
            g["lr"] = lr_actor
        c0, c1_stored, tg = to_float(batch["canvas"]), to_float(batch["next_canvas"]), to_float(batch["target"])
        t, done, a = batch["t"], batch["done"].to(c0.dtype), batch["action"]
        logs = self.update_disc(c1_stored, tg) if self.cfg.reward == "wgan" else {}
        T, gamma = self.cfg.steps, self.cfg.gamma
        if self.cfg.algo == "model-based":
            with torch.no_grad():
                a_next = self.actor_t(observation_planes(c1_stored, tg, t + 1, T))
                c2 = paint_bundle(c1_stored, a_next, self.render, self.net_cfg.bundle)
                q_next = self.critic_t(critic_planes(c1_stored, c2, tg, t + 2, T)) + self.reward(c1_stored, c2, tg)
                c1 = paint_bundle(c0, a, self.render, self.net_cfg.bundle)
                r = self.reward(c0, c1, tg)
                y = r + gamma * (1 - done) * q_next
            q = self.critic(critic_planes(c0, c1, tg, t + 1, T)) + r
            critic_loss = F.mse_loss(q, y)
            self.opt_critic.zero_grad(set_to_none=True)
            critic_loss.backward()
            self._sync(self.critic)
            self.opt_critic.step()
            # Actor: maximise Q(s, pi(s)); gradients flow critic -> canvas -> renderer -> actions.
            a_pi = self.actor(observation_planes(c0, tg, t, T))
            c1_pi = paint_bundle(c0, a_pi, self.render, self.net_cfg.bundle)
            q_pi = self.critic(critic_planes(c0, c1_pi, tg, t + 1, T)) + self.reward(c0, c1_pi, tg)
        else:
            s0 = observation_planes(c0, tg, t, T)
            with torch.no_grad():
                s1 = observation_planes(c1_stored, tg, t + 1, T)
                q_next = self.critic_t(action_planes(s1, self.actor_t(s1)))
                grid = tuple(q_next.shape[-2:]) if q_next.dim() == 3 else None
                r = self.reward(c0, c1_stored, tg, grid)
                d = done.view(-1, *([1] * (q_next.dim() - 1)))
                y = r + gamma * (1 - d) * q_next
            q = self.critic(action_planes(s0, a))
            critic_loss = F.mse_loss(q, y)
            self.opt_critic.zero_grad(set_to_none=True)
            critic_loss.backward()
            self._sync(self.critic)
            self.opt_critic.step()
            q_pi = self.critic(action_planes(s0, self.actor(s0)))
        actor_loss = -q_pi.mean()
        self.opt_actor.zero_grad(set_to_none=True)
        actor_loss.backward()
        self._sync(self.actor)
        self.opt_actor.step()
        self.critic.zero_grad(set_to_none=True)  # the actor's backward also reached the critic
        soft_update(self.actor_t, self.actor, self.cfg.tau)
        soft_update(self.critic_t, self.critic, self.cfg.tau)
        logs.update(critic_loss=critic_loss.item(), actor_loss=actor_loss.item(), q=q.mean().item(), reward=r.mean().item())
        return logs

    def warmstart(self, batch: dict[str, Tensor], lr_actor: float) -> dict[str, float]:
        """Greedy pre-training (gamma = 0, no critic): maximise the immediate L2 reward
        r(s, pi(s)) through the differentiable renderer."""
        for g in self.opt_actor.param_groups:
            g["lr"] = lr_actor
        c0, tg, t = to_float(batch["canvas"]), to_float(batch["target"]), batch["t"]
        a = self.actor(observation_planes(c0, tg, t, self.cfg.steps))
        c1 = paint_bundle(c0, a, self.render, self.net_cfg.bundle)
        loss = ((c1 - tg) ** 2).mean()
        self.opt_actor.zero_grad(set_to_none=True)
        loss.backward()
        self._sync(self.actor)
        self.opt_actor.step()
        soft_update(self.actor_t, self.actor, 1.0)
        return {"warmstart_l2": loss.item()}
