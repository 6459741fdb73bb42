"""The agent's coarse-to-fine loop: the plan of `brushwork.schedule.tiles` run with a policy on a canvas."""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
from tqdm import tqdm

from ..schedule.tiles import CLIPPED, allot_slots, pass_budgets, pass_grid, slot_frames, tile_crops
from ..stroke import get_shape
from ..stroke.canvas import paint_strokes, snap_to_palette
from .adam import check_stop


def agent_strokes(policy, target: torch.Tensor, n_strokes: int, shape: str, tiles: str, canvas: torch.Tensor,
                  passes: int, palette: torch.Tensor | None, bar: tqdm | None, native: float,
                  emit: Callable | None = None, recolor: Callable | None = None, repaint: Callable | None = None,
                  stop: Callable[[], bool] | None = None):
    """Run the agent over coarse-to-fine passes on ``canvas`` (C, H, W; painted in place), the size of
    ``target`` (3, H, W).  Returns strokes (N, 13), frames (N, 3) and clips (N, 4) or None, in
    working-canvas pixels.  ``emit(strokes, frames, clips)`` is called after every step.
    ``recolor(start, strokes, frames, clips, canvas, blocks_out)`` -> strokes (e.g. `color_fit.fit_colors`):
    new colours for all the strokes, the canvas repainted with them in place, once all passes are done
    (``blocks_out``: None, or a list for the fit's kept blocks).
    (Recolouring after every pass, so that the next pass sees the recoloured canvas, scored the same in
    more time: docs/choices.md#colour-fit.)
    ``repaint(start, strokes, frames, clips, canvas, blocks, grid)`` -> (strokes, frames, clips) (e.g.
    `repaint.repaint_weakest`): with ``recolor``, given the fit's kept blocks and the tiles of a grid one step
    finer than the last pass, re-paint the weakest strokes and fit the colours again, the canvas in place.
    ``stop()``: asked before every step; True raises `adam.Stopped`."""
    _, h, w = target.shape
    start = canvas.clone() if recolor is not None else None
    shape = get_shape(shape)
    k = policy.bundle
    per_pass = pass_budgets(n_strokes, passes, policy.levels, k)
    out_s, out_f, out_c = [], [], []
    for p, budget in enumerate(per_pass):
        if budget <= 0:  # more passes than strokes
            continue
        grid = pass_grid(w, h, p, tiles, policy.levels, len(per_pass))
        n_t = len(grid)
        steps = max(1, math.ceil(budget / (k * n_t)))
        crops_t = tile_crops(target, grid, policy.size)  # the target's tiles: the same at every step of the pass
        left = budget
        for t in range(steps):
            check_stop(stop)
            crops_c = tile_crops(canvas[:3], grid, policy.size)
            slots = torch.ones(n_t, k, dtype=torch.bool)
            if left < n_t * k:  # the exact budget ends inside this step: its slots go to the tiles
                # with the most error left
                slots = allot_slots(((crops_c - crops_t) ** 2).sum((1, 2, 3)), k, left)
            used = slots.any(1)  # the agent runs only on the tiles that get a slot
            tt = torch.full((int(used.sum()),), t, dtype=torch.long)
            a = policy.act(crops_c[used], crops_t[used], tt, steps).cpu()
            keep = slots[used].reshape(-1)
            a = a.reshape(-1, a.shape[-1])[keep]
            if palette is not None:
                a = snap_to_palette(a, palette)
            f, c = slot_frames(grid, k, used, keep, tiles in CLIPPED)
            take = len(a)
            paint_strokes(canvas, shape, a, f, native=native, clips=c)
            out_s.append(a)
            out_f.append(f)
            if c is not None:
                out_c.append(c)
            left -= take
            if bar is not None:
                bar.update(take)
            if emit is not None:
                emit(a, f, c)
            if left <= 0:
                break
    strokes, frames = torch.cat(out_s), torch.cat(out_f)
    clips_all = torch.cat(out_c) if out_c else None
    blocks: list | None = [] if repaint is not None else None  # the fit's weights price the strokes for the repaint
    if recolor is not None:
        strokes = recolor(start, strokes, frames, clips_all, canvas, blocks)
        if blocks:
            strokes, frames, clips_all = repaint(start, strokes, frames, clips_all, canvas, blocks,
                                                 pass_grid(w, h, len(per_pass), tiles, policy.levels, len(per_pass)))
        if emit is not None:  # the live view repaints with the new strokes and colours
            emit(strokes, frames, clips_all, True)
    return strokes, frames, clips_all
