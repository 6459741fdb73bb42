"""Canvases: the one place strokes meet pixels (compositing), backgrounds and CoordConv planes.

Compositing (docs/method.md, "Compositing"): for the strokes of a step, in order, ``C <- C * (1 - A_i) + A_i * c_i`` per
channel, where A_i is the stroke's alpha map and c_i its colour.  A transparent canvas carries a fourth
(alpha) channel composited the same way with colour 1, so a painting can be saved as RGBA.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import torch
from torch import Tensor

from . import Shape, get_shape
from .base import COLOR, area_chunks, box_areas, clip_mask, windows_from_boxes

NAMED = {"black": (0.0, 0.0, 0.0), "white": (1.0, 1.0, 1.0), "grey": (0.5, 0.5, 0.5), "gray": (0.5, 0.5, 0.5)}


@dataclass(frozen=True)
class Background:
    """A canvas background: an RGB colour in [0, 1], or transparent (RGBA canvas starting at alpha 0)."""

    rgb: tuple[float, float, float] = (0.0, 0.0, 0.0)
    transparent: bool = False

    @staticmethod
    def parse(spec: str | Background) -> Background:
        """"black" (the paper's), "white", "grey", "#rrggbb" or "transparent"."""
        if isinstance(spec, Background):
            return spec
        s = spec.strip().lower()
        if s == "transparent":
            return Background((0.0, 0.0, 0.0), True)
        if s in NAMED:
            return Background(NAMED[s])
        if re.fullmatch(r"#?[0-9a-f]{6}", s):
            h = s.lstrip("#")
            return Background(tuple(int(h[i : i + 2], 16) / 255 for i in (0, 2, 4)))  # type: ignore[arg-type]
        raise ValueError(f"background must be black, white, grey, #rrggbb or transparent, got {spec!r}")

    @property
    def channels(self) -> int:
        return 4 if self.transparent else 3

    def canvas(self, height: int, width: int, batch: int | None = None, device=None, dtype=torch.float32) -> Tensor:
        """A fresh canvas (C, H, W), or (B, C, H, W) with ``batch``; C = 4 when transparent."""
        vals = list(self.rgb) + ([0.0] if self.transparent else [])
        c = torch.tensor(vals, device=device, dtype=dtype)[:, None, None].expand(len(vals), height, width)
        c = c if batch is None else c[None].expand(batch, -1, -1, -1)
        return c.contiguous()


def stroke_colors(strokes: Tensor, channels: int = 3) -> Tensor:
    """(..., 13) strokes -> (..., channels) colours; the 4th (alpha) channel's "colour" is 1."""
    rgb = strokes[..., COLOR]
    if channels == 4:
        rgb = torch.cat([rgb, torch.ones_like(rgb[..., :1])], dim=-1)
    return rgb


def snap_to_palette(strokes: Tensor, palette: Tensor) -> Tensor:
    """Strokes (N, 13) with each colour replaced by its nearest palette colour (palette (P, 3) in [0, 1])."""
    out = strokes.clone()
    out[:, COLOR] = palette[torch.cdist(strokes[:, COLOR], palette).argmin(1)]
    return out


def over(canvas: Tensor, alpha: Tensor, color: Tensor) -> Tensor:
    """One compositing step: canvas (..., C, H, W), alpha (..., 1, H, W), color (..., C, 1, 1)."""
    return canvas * (1 - alpha) + alpha * color


def composite(canvas: Tensor, alpha: Tensor, color: Tensor) -> Tensor:
    """Composite K strokes, in order, onto B canvases.

    canvas: (B, C, H, W); alpha: (B, K, H, W); color: (B, K, C).  Returns a new (B, C, H, W) tensor;
    differentiable in all inputs.
    """
    # unbind (not alpha[:, k]): the backward of K slices would each allocate and fill a full-size
    # (B, K, H, W) gradient, O(K^2 H W); unbind's backward is one stack.
    for a, c in zip(alpha.unbind(1), color.unbind(1)):
        canvas = over(canvas, a[:, None], c[:, :, None, None])
    return canvas


def coord_planes(batch: int, height: int, width: int, device=None, dtype=torch.float32) -> Tensor:
    """CoordConv planes (B, 2, H, W): x (column) and y (row) of each pixel centre, in [0, 1]."""
    xs = torch.linspace(0, 1, width, device=device, dtype=dtype)
    ys = torch.linspace(0, 1, height, device=device, dtype=dtype)
    planes = torch.stack([xs[None, :].expand(height, width), ys[:, None].expand(height, width)])
    return planes[None].expand(batch, 2, height, width)


@torch.no_grad()
def paint_strokes(
    canvas: Tensor,
    shape: str | Shape,
    strokes: Tensor,
    frames: Tensor,
    native: Tensor | float | None = None,
    on_stroke=None,
    clips: Tensor | None = None,
    budget: int = 1 << 22,
) -> Tensor:
    """Composite many strokes in order onto one canvas (C, H, W), in place, touching only each
    stroke's bounding box: time follows stroke area, memory stays bounded (``budget`` window pixels
    at a time) however many strokes and however large the canvas.

    strokes: (N, 13); frames: (N, 3) ``(ox, oy, side)`` in canvas pixels.  ``on_stroke(i, canvas)``
    (optional) is called after stroke i, e.g. to emit video frames.  ``clips`` (N, 4) optional pixel
    rectangles ``(x0, y0, x1, y1)`` outside which a stroke leaves no paint.  Not differentiable
    (use `composite` with `Shape.soft` for gradients).
    """
    shape = get_shape(shape)
    channels, height, width = canvas.shape
    frames = frames.to(strokes.dtype)
    native_t = shape._native(native, frames)
    for i, j, alphas in alpha_blocks(shape, strokes, frames, native_t, height, width, clips, budget):
        color = stroke_colors(strokes[i:j], channels).to(canvas)
        for s_idx in range(i, j):
            a, y0, x0 = alphas.pop(s_idx)
            a = a.to(canvas)
            view = canvas[:, y0 : y0 + a.shape[0], x0 : x0 + a.shape[1]]
            view.copy_(over(view, a[None], color[s_idx - i, :, None, None]))
            if on_stroke is not None:
                on_stroke(s_idx, canvas)
    return canvas


@torch.no_grad()
def alpha_blocks(shape: Shape, strokes: Tensor, frames: Tensor, native: Tensor, height: int, width: int,
                 clips: Tensor | None = None, budget: int = 1 << 22):
    """Yield (i, j, alphas) for consecutive blocks of strokes [i, j) whose windows fit ``budget`` pixels:
    ``alphas[s]`` = (soft alpha (h, w) in the stroke's window, y0, x0) for every s in the block.  Inside a
    block, strokes of similar size are rasterised together (one batched call each, small chunks stay in
    cache); the caller composites them in their order.  strokes (N, 13), frames (N, 3), native (N,) in
    canvas px; clips (N, 4) or None."""
    boxes = shape.boxes(strokes, frames, native)
    area = box_areas(boxes, height, width).tolist()
    n, i = len(strokes), 0
    while i < n:
        j, total = i + 1, area[i]
        while j < n and total + area[j] <= budget:
            total += area[j]
            j += 1
        alphas: dict[int, tuple[Tensor, int, int]] = {}
        for idx in area_chunks(boxes[i:j], height, width, shape.chunk_pixels):
            g = idx + i
            win = windows_from_boxes(boxes[g], height, width)
            px, py = win.grids(strokes.dtype)
            a = shape.soft_window(strokes[g], frames[g], native[g], px, py)
            if clips is not None:
                a = a * clip_mask(clips[g], px, py)
            for k, s_idx in enumerate(g.tolist()):
                alphas[s_idx] = (a[k], int(win.y0[k]), int(win.x0[k]))
        yield i, j, alphas
        i = j
