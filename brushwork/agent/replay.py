"""Episode replay buffer, preallocated and stored as uint8.

An episode of T steps is kept as its T + 1 canvases, its T actions and its target **once** (not once
per transition, which is what exhausted host RAM in the original code).  Transition (e, t) is
(canvas_t, target, t) -> action_t -> (canvas_t+1, t + 1), done = (t + 1 == T).

Bytes per transition = 3 W^2 (canvas) + 3 W^2 / T (target share) + 4 * 13 k (float32 action),
plus one extra canvas per episode; `bytes_per_transition` reports the exact figure.
"""

from __future__ import annotations

import torch
from torch import Tensor


class EpisodeReplay:
    def __init__(self, episodes: int, steps: int, size: int, action_dim: int, channels: int = 3):
        self.capacity, self.steps, self.size = episodes, steps, size
        self.canvas = torch.zeros(episodes, steps + 1, channels, size, size, dtype=torch.uint8)
        self.target = torch.zeros(episodes, channels, size, size, dtype=torch.uint8)
        self.action = torch.zeros(episodes, steps, action_dim, dtype=torch.float32)
        self.count = 0  # episodes ever added
        self.pos = 0  # next slot

    def __len__(self) -> int:
        """Stored transitions."""
        return min(self.count, self.capacity) * self.steps

    @property
    def nbytes(self) -> int:
        return sum(t.numel() * t.element_size() for t in (self.canvas, self.target, self.action))

    def bytes_per_transition(self) -> float:
        return self.nbytes / (self.capacity * self.steps)

    def add(self, canvases: Tensor, target: Tensor, actions: Tensor) -> None:
        """Add B finished episodes: canvases (B, T+1, C, W, W) uint8, target (B, C, W, W) uint8,
        actions (B, T, A) float."""
        for b in range(canvases.shape[0]):
            i = self.pos
            self.canvas[i] = canvases[b]
            self.target[i] = target[b]
            self.action[i] = actions[b]
            self.pos = (self.pos + 1) % self.capacity
            self.count += 1

    def sample(self, batch: int, gen: torch.Generator | None = None) -> dict[str, Tensor]:
        """Uniform transitions across all stored episodes and time steps (uint8 images, long t)."""
        n = min(self.count, self.capacity)
        if n == 0:
            raise RuntimeError("replay is empty")
        e = torch.randint(0, n, (batch,), generator=gen)
        t = torch.randint(0, self.steps, (batch,), generator=gen)
        return {
            "canvas": self.canvas[e, t],
            "next_canvas": self.canvas[e, t + 1],
            "target": self.target[e],
            "action": self.action[e, t],
            "t": t,
            "done": (t + 1 == self.steps),
        }

    def state_dict(self) -> dict:
        return {"canvas": self.canvas, "target": self.target, "action": self.action, "count": self.count, "pos": self.pos}

    def load_state_dict(self, d: dict) -> None:
        for k in ("canvas", "target", "action"):
            if getattr(self, k).shape != d[k].shape:
                raise ValueError(f"replay {k} shape {tuple(d[k].shape)} does not match this configuration {tuple(getattr(self, k).shape)}")
            getattr(self, k).copy_(d[k])
        self.count, self.pos = int(d["count"]), int(d["pos"])
