"""Batched painting environment (docs/method.md, "Agent") and the stroke renderers the agent paints with.

All B canvases step as one tensor.  Canvas and target are uint8 (B, 3, W, W) between steps (the
canvas is truncated, ``trunc(255 C)``, as in the paper); one step composites an action bundle of k
strokes; an episode is T steps and ends only at step T.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor

from ..stroke import get_shape
from ..stroke.canvas import Background, composite, stroke_colors
from .networks import observation_planes  # noqa: F401  (the observation is the actor's input)

StrokeRenderer = Callable[[Tensor], Tensor]  # (N, >=10) strokes -> (N, W, W) alpha


def make_renderer(kind: str, shape: str, size: int, device: torch.device, compile: bool = False) -> StrokeRenderer:
    """"analytic": the soft rasteriser at ``size`` (``compile``: torch.compile'd, see
    `Shape.compiled`); "neural" (the shipped renderer for ``shape``) or a path to renderer weights: a
    frozen neural renderer, resized to ``size`` if it was trained at a larger size.  A renderer file for
    another shape, or one smaller than ``size`` (every stroke would be upsampled), is refused naming both."""
    if kind == "analytic":
        sh = get_shape(shape, compiled=compile)
        return lambda s: sh.soft(s, size, validate=False)
    from ..io.weights import WeightsError
    from ..render.model import as_stroke_renderer, load_renderer

    model = load_renderer(shape if kind == "neural" else kind, device, shape=shape)
    if model.config.size < size:
        raise WeightsError(f"{kind}: a {model.config.shape} renderer at {model.config.size} px cannot paint a {shape} "
                           f"canvas of {size} px (it would be upsampled); train one at {size} px or more")
    return as_stroke_renderer(model, size)


def paint_bundle(canvas: Tensor, actions: Tensor, render: StrokeRenderer, bundle: int) -> Tensor:
    """Composite k strokes per canvas: canvas (B, C, W, W) float in [0, 1], actions (B, k*13) in [0, 1].
    Differentiable in canvas and actions (through ``render``)."""
    b, c, h, w = canvas.shape
    strokes = actions.reshape(b * bundle, -1)
    alpha = render(strokes).reshape(b, bundle, h, w)
    return composite(canvas, alpha, stroke_colors(strokes, c).reshape(b, bundle, c))


def to_float(x: Tensor) -> Tensor:
    return x.float() / 255


def truncate_uint8(x: Tensor) -> Tensor:
    """The paper's storage of a canvas between steps: trunc(255 C) (not rounded; see `io.images.to_uint8`)."""
    return (x.clamp(0, 1) * 255).to(torch.uint8)



class PaintEnv:
    """B canvases painting B targets. `reset(targets)` -> obs; `step(actions)` -> obs, done."""

    def __init__(self, size: int, bundle: int, steps: int, render: StrokeRenderer, background: str = "black",
                 device: torch.device | str = "cpu"):
        self.size, self.bundle, self.steps = size, bundle, steps
        self.render = render
        self.background = Background.parse(background)
        if self.background.transparent:
            raise ValueError("the agent paints on an opaque background")
        self.device = torch.device(device)
        self.canvas: Tensor | None = None
        self.target: Tensor | None = None
        self.t = 0

    def reset(self, targets: Tensor) -> dict[str, Tensor]:
        """targets: (B, 3, W, W) uint8."""
        if targets.dtype != torch.uint8 or targets.shape[-2:] != (self.size, self.size):
            raise ValueError(f"targets must be uint8 (B, 3, {self.size}, {self.size}), got {targets.dtype} {tuple(targets.shape)}")
        b = targets.shape[0]
        self.target = targets.to(self.device)
        self.canvas = truncate_uint8(self.background.canvas(self.size, self.size, b, self.device))
        self.t = 0
        return self.obs()

    def obs(self) -> dict[str, Tensor]:
        b = self.canvas.shape[0]
        return {"canvas": self.canvas, "target": self.target, "t": torch.full((b,), self.t, dtype=torch.long, device=self.device)}

    @torch.no_grad()
    def step(self, actions: Tensor) -> tuple[dict[str, Tensor], bool]:
        """actions: (B, k*13) in [0, 1].  Returns the new observation and whether the episode ended."""
        if self.t >= self.steps:
            raise RuntimeError("episode is over: call reset()")
        nxt = paint_bundle(to_float(self.canvas), actions.to(self.device), self.render, self.bundle)
        self.canvas = truncate_uint8(nxt)
        self.t += 1
        return self.obs(), self.t >= self.steps

    def l2(self) -> Tensor:
        """Per-canvas MSE to the target, [0, 1] images: (B,)."""
        return ((to_float(self.canvas) - to_float(self.target)) ** 2).mean(dim=(1, 2, 3))
