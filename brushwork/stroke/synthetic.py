"""Synthetic target families for tests and sanity checks (no files needed).

* ``solid``: canvases of one random colour;
* ``strokes``: one random stroke of a random colour on the black background (an agent with k >= 1
  strokes per step can match these exactly).
"""

from __future__ import annotations

import torch

from . import N_PARAMS, get_shape
from .canvas import Background, composite, stroke_colors


class SyntheticSource:
    def __init__(self, kind: str, size: int, shape: str = "bezier"):
        if kind not in ("solid", "strokes"):
            raise ValueError(f"synthetic source must be solid or strokes, got {kind!r}")
        self.kind, self.size, self.shape = kind, size, get_shape(shape)

    def __len__(self) -> int:
        return 1 << 30

    def sample(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        """(n, 3, W, W) uint8 targets."""
        w = self.size
        if self.kind == "solid":
            rgb = torch.rand(n, 3, 1, 1, generator=generator)
            img = rgb.expand(n, 3, w, w)
        else:
            s = torch.rand(n, N_PARAMS, generator=generator)
            s[:, 6:8] = 0.3 + 0.5 * s[:, 6:8]  # visible brushes
            s[:, 8:10] = 1.0
            alpha = self.shape.soft(s, w, validate=False)
            img = composite(Background().canvas(w, w, n), alpha[:, None], stroke_colors(s)[:, None])
        return (img.clamp(0, 1) * 255).to(torch.uint8)
