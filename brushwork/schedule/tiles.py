"""The coarse-to-fine plan over square tiles, shared by painting and training (docs/method.md, "Painter").

Pass 1 paints the whole image; each further pass paints a finer grid of square tiles, all tiles of a
pass being one batch per step.  Tiles are square at every aspect ratio.  ``overlap`` tiling: tiles
overlap by a quarter and every stroke is rendered on the full canvas, so strokes cross tile borders and
there are no seams.  ``paper``: the paper's disjoint grid, each stroke clipped to its tile.
"""

from __future__ import annotations

import math

import numpy as np
import torch

from ..io.images import resize_batch

#: auto: the tiling the agent was trained on (paper for agents trained on coarse-to-fine tiles, i.e.
#: with levels; overlap otherwise): an agent paints best on the tiles it learnt on
#: (docs/choices.md#tiling).
TILINGS = ("auto", "overlap", "paper")


def resolve_tiling(tiles: str, policy) -> str:
    """``tiles`` with "auto" resolved for ``policy`` (a `Policy`, or None without an agent)."""
    if tiles != "auto":
        return tiles
    return "paper" if policy is not None and policy.levels else "overlap"


def default_passes(w: int, h: int) -> int:
    """Coarse-to-fine passes by output size: 1 below 384 px on the short side, 2 below 1024, else 3."""
    short = min(w, h)
    return 1 if short < 384 else 2 if short < 1024 else 3


#: The agent's budget with one pass more than it was trained on (`agent_passes`): that pass paints a grid
#: twice as fine as its finest trained level, and the budget splits in fifths as (the coarser trained
#: levels together, equally; the finest trained level; the finer pass).  Chosen on photos that are not
#: dev photos, so as not to tune on the benchmark's five.  The finer pass is left out when it cannot give
#: each of its tiles a stroke (`agent_passes`): forced there, it paints worse.  Measurements:
#: docs/choices.md#finer-pass-shares.
FINER_SHARES = (1, 2, 2)


#: Agents trained on whole images (no levels: the paper's DDPG) paint equal shares per pass, and the
#: finest pass may leave most tiles without a stroke (its slots go where the error is, `allot_slots`):
#: the most passes whose share gives at least one stroke per 16 tiles of the finest grid: at every
#: stroke count measured, this rule picks the best or nearly the best number of passes
#: (docs/choices.md#whole-image-passes).  `default_passes` is the floor.
WHOLE_IMAGE_TILE_FRACTION = 1 / 16


def agent_passes(n_strokes: int, levels, w: int, h: int, finer: bool = True) -> int:
    """Coarse-to-fine passes for an agent painting ``n_strokes`` on a w x h output.  Trained on
    ``levels`` ((grid, steps), ...): those levels, plus a finer one when ``finer`` and the finer pass's
    share (`FINER_SHARES`) gives every one of its tiles at least one stroke.  Without levels: by output
    size (`default_passes`), or with ``finer`` the most passes allowed by `WHOLE_IMAGE_TILE_FRACTION`
    if that is more."""
    if not levels:
        passes = default_passes(w, h)
        while finer and n_strokes / (passes + 1) >= WHOLE_IMAGE_TILE_FRACTION * 4**passes:
            passes += 1
        return passes
    grid = 2 * max(g for g, _ in levels)
    return len(levels) + int(finer and len(levels) >= 2 and FINER_SHARES[2] * n_strokes >= grid * grid * sum(FINER_SHARES))


def pass_budgets(n_strokes: int, passes: int, levels=None) -> list[int]:
    """Strokes per coarse-to-fine pass: in proportion to the agent's trained levels (grid^2 x steps,
    see `brushwork.agent.direct`) when it has them and ``passes`` matches; split by `FINER_SHARES` when
    ``passes`` is one more (the finer pass of `agent_passes`); else equal shares."""
    if levels and len(levels) == passes:
        w = [g * g * t for g, t in levels]
    elif levels and len(levels) >= 2 and passes == len(levels) + 1:
        coarse, finest, finer = FINER_SHARES
        w = [coarse] * (len(levels) - 1) + [finest * (len(levels) - 1), finer * (len(levels) - 1)]  # integers: exact
    else:
        return [n_strokes // passes + (1 if i < n_strokes % passes else 0) for i in range(passes)]
    out = [n_strokes * x // sum(w) for x in w]
    out[0] += n_strokes - sum(out)
    return out


#: A step that the budget ends inside gives its slots to the tiles with the most error left
#: (`allot_slots`): slot s of a tile whose crop has squared error e scores e / (s + 1) ** ALLOT_DECAY.
#: 0 fills the worst tiles first; a large value gives every tile its first slot before any its second
#: (all tiles alike).  The finer pass is such a step (80 strokes on 64 tiles at 200 strokes), and so is
#: the 4 x 4 level at 50.  0.5, between the two, painted best for every shipped agent; ranking the slots
#: by each stroke's own error reduction instead scored the same in more time, so the crop's error is the
#: measure (docs/choices.md#slot-allotment).
ALLOT_DECAY = 0.5


def allot_slots(err: torch.Tensor, k: int, budget: int) -> torch.Tensor:
    """Which of a step's n x k stroke slots to paint when the budget (0 < budget < n * k) ends inside
    the step: a bool mask (n, k) with ``budget`` True, by the tiles' squared error ``err`` (n,) left
    (`ALLOT_DECAY`); every tile keeps a prefix of its slots, the order the agent paints them in."""
    n = err.numel()
    score = err.double().view(n, 1) / torch.arange(1, k + 1, dtype=torch.float64).pow(ALLOT_DECAY).view(1, k)
    # ties (equal errors, e.g. a flat image): slot by slot, each over the tiles in grid order
    tile, slot = np.divmod(np.arange(n * k), k)
    order = np.lexsort((tile, slot, -score.reshape(-1).numpy()))  # the last key sorts first
    mask = torch.zeros(n * k, dtype=torch.bool)
    mask[torch.from_numpy(order[:budget])] = True
    return mask.view(n, k)


def tile_grid(width: int, height: int, grid: int, mode: str) -> torch.Tensor:
    """Square tiles (n, 4) = (x0, y0, side, side) in px covering a width x height canvas with ``grid``
    tiles along the short side.  overlap: tiles 25 % larger than the grid cell; paper: disjoint cells."""
    short, long_ = min(width, height), max(width, height)
    cell = short / grid
    side = cell if (mode == "paper" or grid == 1) else min(short, cell * 1.25)
    along_long = max(1, math.ceil(long_ / cell - 1e-6))

    def starts(length: float, n: int) -> list[float]:
        if mode == "paper":
            return [min(i * cell, length - side) for i in range(n)]
        return [0.0] if n == 1 else [i * (length - side) / (n - 1) for i in range(n)]

    xs = starts(width, grid if width <= height else along_long)
    ys = starts(height, grid if height < width else (along_long if height > width else grid))
    return torch.tensor([[x, y, side, side] for y in ys for x in xs], dtype=torch.float32)


def tile_crops(image: torch.Tensor, grid: torch.Tensor, size: int) -> torch.Tensor:
    """The tiles ``grid`` (n, 4) = (x0, y0, side, side) px of ``image`` (C, H, W), each resized to size x
    size as `resize_t` would (area down, bicubic up) -> (n, C, size, size); tiles of one pixel size are
    resized in one call (one call per tile was most of the agent's time on fine grids)."""
    boxes = [(round(y0), round(y0 + s), round(x0), round(x0 + s)) for x0, y0, s, _ in grid.tolist()]
    out = image.new_empty(len(boxes), image.shape[0], size, size)
    groups: dict[tuple[int, int], list[int]] = {}
    for i, (ya, yb, xa, xb) in enumerate(boxes):
        groups.setdefault((yb - ya, xb - xa), []).append(i)
    for idx in groups.values():
        batch = torch.stack([image[:, ya:yb, xa:xb] for ya, yb, xa, xb in (boxes[i] for i in idx)])
        out[idx] = resize_batch(batch, size, size)
    return out


def slot_frames(grid: torch.Tensor, k: int, used: torch.Tensor, keep: torch.Tensor, clipped: bool):
    """Frames (m, 3) = (x0, y0, side) px of the slots ``keep`` (bool, flat over the tiles ``used`` (n,) bool
    x their k slots) of the tiles ``grid`` (n, 4), and their clips (m, 4) = the tiles when ``clipped``."""
    g = grid[used].repeat_interleave(k, 0)[keep]
    return g[:, :3], (torch.cat([g[:, :2], g[:, :2] + g[:, 2:]], 1) if clipped else None)
