"""Evaluation that shows whether an agent paints or fades: PSNR step by step, the flat-fill baseline,
and how much its strokes move from image to image (a collapsed policy paints a fixed layout)."""

from __future__ import annotations

import torch
from torch import Tensor

from .metrics import psnr_from_mse
from .shapes import get_shape

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
