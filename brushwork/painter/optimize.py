"""Dense stroke optimisation through the differentiable (soft) rasteriser, and the helpers the windowed
optimisers share.

* `refine_strokes`: take existing strokes (e.g. the agent's) and optimise all their parameters jointly
  against a target, every stroke rendered on the whole canvas (the refine method for shapes without a
  windowed joint pass: `joint_windowed.supports`).
* `oriented_strokes`: new strokes along the local edges, coloured from the target (the optimiser's seeds).

Parameters are optimised as logits (stroke = sigmoid(z)), so they stay inside [0, 1].
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import Tensor

from ..stroke import COLOR, N_PARAMS, N_SHAPE, get_shape
from ..stroke.canvas import composite, stroke_colors
from .adam import Adam


def logit(x: Tensor, eps: float = 1e-3) -> Tensor:
    x = x.clamp(eps, 1 - eps)
    return torch.log(x) - torch.log1p(-x)


def render_soft(shape, strokes: Tensor, frames: Tensor, native: float, canvas: Tensor, palette: Tensor | None = None,
                clips: Tensor | None = None) -> Tensor:
    """Differentiable painting: composite strokes (N, 13) in order over canvas (C, H, W)."""
    c, h, w = canvas.shape
    alpha = shape.soft(strokes, h, w, frames=frames, native=native, validate=False, clips=clips)
    colors = stroke_colors(strokes, c) if palette is None else snap_palette(strokes, palette, c)
    return composite(canvas[None], alpha[None], colors[None])[0]


def snap_palette(strokes: Tensor, palette: Tensor, channels: int = 3) -> Tensor:
    """Colours restricted to a palette (P, 3): each stroke takes the palette colour nearest its RGB
    (straight-through, so the RGB numbers still receive gradients)."""
    rgb = strokes[:, COLOR]
    idx = torch.cdist(rgb.detach(), palette).argmin(1)
    snapped = rgb + (palette[idx] - rgb).detach()
    if channels == 4:
        snapped = torch.cat([snapped, torch.ones_like(snapped[:, :1])], 1)
    return snapped


def _blur(x: Tensor, k: int) -> Tensor:
    if k <= 1:
        return x
    return F.avg_pool2d(x[None], k, stride=1, padding=k // 2, count_include_pad=False)[0][..., : x.shape[-2], : x.shape[-1]]


def oriented_strokes(shape, target: Tensor, iy: Tensor, ix: Tensor, length: float, k: int, side: float, colors: Tensor,
                     gen: torch.Generator, detail: float = 0.0) -> Tensor:
    """Strokes (n, 13) centred on pixels (iy, ix), about ``length`` px long (x 0.6-1.4) along the local
    edges (perpendicular to the gradient of the target blurred by ``k`` px, +-0.3 rad), coloured
    ``colors`` (n, 3); frame side ``side`` px at the origin.  ``detail`` > 0: the length also follows the
    detail, x (median gradient / gradient there) ** detail within [0.5, 2]: shorter where the image is
    busy, longer where it is flat."""
    n = len(iy)
    tb = _blur(target.mean(0, keepdim=True), k)[0]
    gy_map, gx_map = F.pad(tb[2:] - tb[:-2], (0, 0, 1, 1)), F.pad(tb[:, 2:] - tb[:, :-2], (1, 1, 0, 0))
    gy, gx = gy_map[iy, ix], gx_map[iy, ix]
    ang = torch.atan2(gy, gx) + math.pi / 2 + 0.3 * torch.randn(n, generator=gen)
    ln = length * (0.6 + 0.8 * torch.rand(n, generator=gen))
    if detail > 0:
        ref = torch.hypot(gy_map, gx_map).median().clamp(min=1e-4)
        ln = ln * (ref / torch.hypot(gx, gy).clamp(min=1e-4)).pow(detail).clamp(0.5, 2.0)
    s = torch.empty(n, N_PARAMS)
    s[:, :N_SHAPE] = shape.place(ix.float() + 0.5, iy.float() + 0.5, ln, ang, side)
    s[:, COLOR] = colors
    return s.clamp(0.01, 0.99)


def optimise_logits(init: Tensor, loss_fn, iters: int, lr: float, bar=None,
                    stop: Callable[[], bool] | None = None) -> Tensor:
    """``iters`` Adam steps on the logits of ``init`` (n, 13) in [0, 1] against ``loss_fn(strokes)``, a
    scalar MSE; ``bar``: a progress bar (PSNR shown); ``stop``: checked before every step
    (`adam.Stopped`).  Returns the optimised strokes."""
    z = logit(init).detach()
    opt = Adam(z, stop=stop)
    for _ in range(iters):
        zg = z.detach().requires_grad_(True)
        loss = loss_fn(torch.sigmoid(zg))
        loss.backward()
        opt.step(zg.grad, lr)
        if bar is not None:
            bar.update(1)
            bar.set_postfix(psnr=f"{-10 * math.log10(max(loss.item(), 1e-10)):.2f}dB")
    return torch.sigmoid(z)


def refine_strokes(target, strokes, frames, native, shape_name, canvas, iters=60, lr=0.04, palette=None, bar=None,
                   clips=None, stop: Callable[[], bool] | None = None):
    """Optimise all stroke parameters (N, 13) jointly so that their painting over ``canvas`` matches
    ``target`` (3, H, W); frames (N, 3) in pixels of the target.  ``shape_name``: a shape or its name.
    ``stop``: checked before every iteration (`adam.Stopped`).  Returns the refined strokes."""
    shape = get_shape(shape_name)
    return optimise_logits(strokes, lambda s: F.mse_loss(render_soft(shape, s, frames, native, canvas, palette, clips)[:3],
                                                         target), iters, lr, bar, stop)
