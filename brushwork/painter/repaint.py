"""Re-painting the agent's weakest strokes with the agent itself, on a grid one step finer: the agent
method's last step (`--repaint`, docs/method.md).

Why: the agent's layout is mostly fixed (its strokes sit at nearly the same places in every tile), so
some strokes are worth little (covered by later ones, or where the picture is flat) while detail
elsewhere goes unpainted.  The exact removal cost of every stroke (`color_fit.removal_costs`: how much
the error grows without it, from the colour fit's kept weights, so with the final colours) names the
weakest; the agent paints as many new strokes on a grid twice as fine as its finest pass, in
the tiles with the most error left (`tiles.allot_slots`).  The stroke budget stays exact and nothing
is optimised by gradient; the colours are fitted again.  It works from the colour fit's kept weights, so
it runs only where the fit does and keeps them (not with --no-fit-colors, a palette or a transparent
canvas, nor where the weights exceed `color_fit.KEEP_BYTES`: whole-image agents at large sizes).

The fraction was chosen on photos that are not dev photos.  The removal is what gains: a fifth pass on
the finer grid without it paints less well.  Measurements: docs/choices.md#repaint.
"""

from __future__ import annotations

import torch
from torch import Tensor

from ..schedule import color_fit
from ..schedule.tiles import allot_slots, slot_frames, tile_crops
from ..stroke import Shape
from ..stroke.canvas import stroke_colors


def repaint_weakest(policy, target: Tensor, start: Tensor, canvas: Tensor, shape: Shape, strokes: Tensor,
                    frames: Tensor, clips: Tensor | None, native: float, fraction: float, grid: Tensor,
                    blocks: list) -> tuple[Tensor, Tensor, Tensor | None]:
    """Replace the ``fraction`` of ``strokes`` (N, 13; frames (N, 3), clips (N, 4) or None, brush scale
    ``native``, working-canvas px) of least removal cost over ``start`` (C, H, W) against ``target``
    (3, H, W) by as many strokes of ``policy`` painted on the tiles ``grid`` (n, 4) = (x0, y0, side,
    side) with the most error left (clipped to their tiles when ``clips`` is given), then fit all the
    colours again.  ``blocks``: the colour fit's kept blocks for these strokes and colours
    (`color_fit.normal_equations`): they price the strokes (`color_fit.removal_costs`), repaint the kept
    ones (`color_fit.compose`) and give the new fit the kept strokes' alphas, so only the new strokes are
    rasterised (pricing by painting, `reseed.removal_costs`, costs more time and, for a whole-image agent
    at large sizes, much more memory: docs/choices.md#repaint).  ``canvas`` (opaque, RGB) is repainted in
    place.  Returns (strokes, frames, clips): the kept ones in their order, then the new ones."""
    n, k = len(strokes), policy.bundle
    if fraction <= 0 or n == 0 or not blocks:
        return strokes, frames, clips
    costs = color_fit.removal_costs(blocks, start, target, stroke_colors(strokes), n)
    # the fraction, or more where strokes make the painting worse, as many as the tiles have slots for
    m = min(max(round(fraction * n), int((costs < 0).sum())), len(grid) * k)
    if m <= 0:
        return strokes, frames, clips
    keep = torch.ones(n, dtype=torch.bool)
    keep[torch.argsort(costs)[:m]] = False
    color_fit.compose(canvas, start, stroke_colors(strokes), blocks, keep)
    strokes, frames = strokes[keep], frames[keep]
    clips = clips[keep] if clips is not None else None

    # the tiles' squared error at the canvas's own resolution (resizing all the tiles to the actor's size
    # first, as the passes do, took most of this step's time on a 16 x 16 grid); crops of the tiles used
    sq = torch.nn.functional.pad(((canvas[:3] - target) ** 2).sum(0).double().cumsum(0).cumsum(1), (1, 0, 1, 0))
    x0, y0 = grid[:, 0].round().long(), grid[:, 1].round().long()  # box sums from the integral image
    x1, y1 = (grid[:, 0] + grid[:, 2]).round().long(), (grid[:, 1] + grid[:, 3]).round().long()
    err = sq[y1, x1] - sq[y0, x1] - sq[y1, x0] + sq[y0, x0]
    slots = allot_slots(err, k, m)
    used = slots.any(1)
    a = policy.act(tile_crops(canvas[:3], grid[used], policy.size), tile_crops(target, grid[used], policy.size),
                   torch.zeros(int(used.sum()), dtype=torch.long), 1).cpu()
    keep_slot = slots[used].reshape(-1)
    new = a.reshape(-1, a.shape[-1])[keep_slot]
    new_frames, new_clips = slot_frames(grid, k, used, keep_slot, clips is not None)
    strokes, frames = torch.cat([strokes, new]), torch.cat([frames, new_frames])
    if clips is not None:
        clips = torch.cat([clips, new_clips])
    strokes = color_fit.fit_colors(start, target, shape, strokes, frames, native, clips, canvas=canvas,
                                   prior=(blocks, keep))
    return strokes, frames, clips
