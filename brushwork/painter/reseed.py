"""Re-placing an agent's weakest strokes: what the refine method does before its joint pass.

Why: gradients through the rasteriser move strokes only locally (a stroke in the wrong place stays
near it), and a learned agent's layout is mostly fixed, so some of its strokes paint where little is
gained while edges elsewhere go unpainted.  The optimiser's stages (`optimize_windowed.paint_windowed`)
know *where* to paint (seeds at the largest errors); the agent knows the coarse picture.  So: measure
what each of the agent's strokes is worth, drop the weakest, and let the optimiser place the same
number of strokes where the error is; the stroke budget stays exact.

A stroke's worth is exact for in-order compositing: with ``C_i = C_{i-1} (1 - a_i) + a_i c_i``, the
final canvas is affine in every layer, so removing stroke i changes it by
``-a_i T_i (c_i - C_{i-1})``, where ``T_i`` is the transmittance of the strokes after it
(``prod_{j > i} (1 - a_j)``).  One forward and one backward sweep over the strokes' windows give
every stroke's removal cost at once.
"""

from __future__ import annotations

from dataclasses import replace

import torch
from torch import Tensor

from ..stroke import Shape
from ..stroke.canvas import paint_strokes, stroke_colors
from .optimize_windowed import DetailConfig, paint_windowed, window_alphas


@torch.no_grad()
def removal_costs(target: Tensor, canvas: Tensor, shape: Shape, strokes: Tensor, frames: Tensor,
                  native: Tensor) -> Tensor:
    """How much the squared error (summed over RGB values in [0, 1]) of the in-order painting of
    ``strokes`` (N, 13) over ``canvas`` (C, H, W) against ``target`` (3, H, W) grows when each stroke alone
    is removed -> (N,); negative: the stroke makes the painting worse.  frames (N, 3), native (N,) in
    pixels of this canvas.  Memory: the strokes' windows, twice."""
    n = len(strokes)
    _, h, w = canvas.shape
    colors = stroke_colors(strokes, canvas.shape[0])[:, :3]
    alphas = window_alphas(shape, strokes, frames, native, h, w)
    cur = canvas[:3].clone()
    under = []  # each window's canvas before its stroke
    for i in range(n):
        a, y0, x0 = alphas[i]
        view = cur[:, y0 : y0 + a.shape[0], x0 : x0 + a.shape[1]]
        under.append(view.clone())
        view.mul_(1 - a).add_(a * colors[i, :, None, None])
    residual = cur - target[:3]
    trans = torch.ones(h, w)
    cost = torch.empty(n)
    for i in range(n - 1, -1, -1):
        a, y0, x0 = alphas[i]
        rows, cols = slice(y0, y0 + a.shape[0]), slice(x0, x0 + a.shape[1])
        d = (a * trans[rows, cols]) * (colors[i, :, None, None] - under[i])  # what stroke i adds to the final canvas
        r = residual[:, rows, cols]
        cost[i] = (d * d).sum() - 2 * (r * d).sum()  # |r - d|^2 - |r|^2
        trans[rows, cols] *= 1 - a
    return cost


def weakest(costs: Tensor, fraction: float, keep_first: int = 0) -> Tensor:
    """Boolean mask (N,) of the strokes to keep: all but the ``fraction`` of the lowest removal cost (and
    every stroke of negative cost), never one of the first ``keep_first``."""
    n = len(costs)
    drop = torch.zeros(n, dtype=torch.bool)
    m = int(round(fraction * (n - keep_first)))
    if m > 0:
        order = torch.argsort(costs[keep_first:])[:m] + keep_first
        drop[order] = True
    drop[keep_first:] |= costs[keep_first:] < 0
    return ~drop


def kept_canvas(canvas: Tensor, shape: Shape, strokes: Tensor, frames: Tensor, native: Tensor) -> Tensor:
    """``canvas`` (C, H, W) with ``strokes`` painted over it in order (a new tensor)."""
    return paint_strokes(canvas.clone(), shape, strokes, frames, native)


def reseed(target: Tensor, start: Tensor, shape: Shape, strokes: Tensor, frames: Tensor, native: float,
           fraction: float, cfg: DetailConfig, seed: int = 0, palette: Tensor | None = None,
           keep_first: int = 0, stop=None) -> tuple[Tensor, Tensor]:
    """Replace the ``fraction`` of ``strokes`` (N, 13; frames (N, 3), brush scale ``native`` px) whose
    removal costs least (`removal_costs` over ``start`` (C, H, W) against ``target`` (3, H, W)) by as
    many strokes of the optimiser's stages (``cfg``; its joint pass is left to the caller), placed where
    the kept strokes leave the largest errors -> (strokes (N, 13), frames (N, 3)): the kept strokes in
    their order, then the new ones (frames (0, 0, max(H, W))).  ``stop``: as `paint_windowed`'s."""
    n = len(strokes)
    nat = torch.full((n,), float(native))
    costs = removal_costs(target, start, shape, strokes, frames, nat)
    keep = weakest(costs, fraction, keep_first)
    m = n - int(keep.sum())
    if m == 0:
        return strokes, frames
    kept, kept_frames = strokes[keep], frames[keep]
    canvas = kept_canvas(start, shape, kept, kept_frames, nat[keep])
    new, new_frames = paint_windowed(target, m, shape, canvas, replace(cfg, joint_iters=0), seed, palette,
                                     progress=False, native=native, painted=len(kept), stop=stop)
    return torch.cat([kept, new]), torch.cat([kept_frames, new_frames.to(kept_frames)])
