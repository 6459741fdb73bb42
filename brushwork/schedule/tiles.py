"""The coarse-to-fine plan over square tiles, shared by painting and training (docs/method.md, "Painter").

Pass 1 paints the whole image; each further pass paints a finer grid of square tiles, all tiles of a
pass being one batch per step.  Tiles are square at every aspect ratio.  ``overlap`` tiling: tiles
overlap by a quarter and every stroke is rendered on the full canvas, so strokes cross tile borders and
there are no seams.  ``paper``: the paper's disjoint, nested grids, each stroke clipped to its tile.
``shifted``: ``paper``, with the passes finer than the agent's training on grids moved by half a cell
(`pass_grid`).  How many passes and how the budget splits between them follow the budget and the
output's size (`agent_passes`, `pass_budgets`).
"""

from __future__ import annotations

import math

import numpy as np
import torch

from ..io.images import resize_batch

#: auto: the tiling the agent was trained on (shifted for agents trained on coarse-to-fine tiles, i.e.
#: with levels; overlap otherwise): an agent paints best on the tiles it learnt on
#: (docs/choices.md#tiling).  ``shifted`` is ``paper`` up to the first finer pass (the same painting at the
#: trained scale) and shifted grids after it (`pass_grid`); ``paper`` keeps the paper's nested grids at
#: every pass (its divide step, for comparison).
TILINGS = ("auto", "overlap", "paper", "shifted")
CLIPPED = ("paper", "shifted")  # the tilings whose strokes are clipped to their tiles


def resolve_tiling(tiles: str, policy) -> str:
    """``tiles`` with "auto" resolved for ``policy`` (a `Policy`, or None without an agent)."""
    if tiles != "auto":
        return tiles
    return "shifted" if policy is not None and policy.levels else "overlap"


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


#: The finest tiles the painter gives an agent trained on tiles, in output pixels: half its observation
#: side (the photo agent sees 32 px: 16 px tiles, its 8 x 8 finer pass at 128 px).  Finer tiles would
#: ask it for strokes smaller than it was trained to place; a larger budget then paints more steps on
#: the finest passes instead of more passes.
MIN_TILE_FRACTION = 0.5


def agent_passes(n_strokes: int, levels, w: int, h: int, finer: bool = True, obs: int = 0) -> int:
    """Coarse-to-fine passes for an agent painting ``n_strokes`` on a w x h output.  Trained on
    ``levels`` ((grid, steps), ...): those levels, then with ``finer`` as many finer passes (each a grid
    twice as fine) as the budget and the output allow: a finer pass is added while its share of the
    budget (`pass_budgets`: the finest pass takes FINER_SHARES[2] / sum(FINER_SHARES)) gives each of
    its tiles at least one stroke and, when the agent's observation side ``obs`` (px) is given, its tiles
    are at least `MIN_TILE_FRACTION` x obs px on the output's short side.  So the pyramid grows with
    the budget and the output's size: the photo agent (3 levels, 32 px) paints 4 passes (finest grid
    8 x 8) at 128 px from 160 strokes, and at 512 px 5 passes (16 x 16) from 640 strokes, 6 (32 x 32)
    from 2,560.  Fewer strokes than one per tile of the first finer pass: the trained levels alone.
    Without levels: by output size (`default_passes`), or with ``finer`` the most passes allowed by
    `WHOLE_IMAGE_TILE_FRACTION` if that is more."""
    if not levels:
        passes = default_passes(w, h)
        while finer and n_strokes / (passes + 1) >= WHOLE_IMAGE_TILE_FRACTION * 4**passes:
            passes += 1
        return passes
    passes = len(levels)
    if not finer or len(levels) < 2:
        return passes
    min_tile = MIN_TILE_FRACTION * obs
    while True:
        grid = 2**passes  # the grid of the pass that would be added
        if FINER_SHARES[2] * n_strokes < grid * grid * sum(FINER_SHARES):
            return passes
        if passes > len(levels) and min(w, h) / grid < min_tile:  # the first finer pass is never refused for size
            return passes
        passes += 1


def pass_budgets(n_strokes: int, passes: int, levels=None, bundle: int = 0) -> list[int]:
    """Strokes per coarse-to-fine pass (they sum to ``n_strokes``).
    * ``passes`` = the agent's trained levels: in proportion to them (grid^2 x steps, see
      `brushwork.agent.direct`).
    * More passes (`agent_passes`): the last two take FINER_SHARES[1] and [2] parts, the passes before them
      FINER_SHARES[0] part together, in equal shares: (1, 1, 4, 4) tenths for three levels and one finer
      pass.  With two finer passes or more and the agent's ``bundle`` k given, each trained level paints at
      most its trained strokes (grid^2 x steps x k) and the finer passes share what that leaves, in their
      proportions: a whole-image pass cannot place 40 steps of strokes where it was trained for 8, and
      every stroke of it touches the whole canvas (the colour fit's memory).
    * Else (no levels): equal shares."""
    if levels and len(levels) == passes:
        w = [g * g * t for g, t in levels]
    elif levels and len(levels) >= 2 and passes > len(levels):
        coarse, finest, finer = FINER_SHARES
        m = passes - 2  # the passes before the last two
        w = [coarse] * m + [finest * m, finer * m]  # integers: exact
    else:
        return [n_strokes // passes + (1 if i < n_strokes % passes else 0) for i in range(passes)]
    out = [n_strokes * x // sum(w) for x in w]
    out[0] += n_strokes - sum(out)
    if bundle and passes > len(levels) + 1:
        L = len(levels)
        caps = [g * g * t * bundle for g, t in levels]
        spare = sum(max(0, out[i] - caps[i]) for i in range(L))
        out[:L] = [min(out[i], caps[i]) for i in range(L)]
        add = [spare * x // sum(w[L:]) for x in w[L:]]
        add[-1] += spare - sum(add)
        out[L:] = [a + b for a, b in zip(out[L:], add)]
    return out


def crop_bytes(w: int, h: int, passes: int, obs: int) -> int:
    """Peak bytes of the tiles' crops (`tile_crops`: the target's and the canvas's, each resized to
    obs x obs px, float32, and the actor's input) on the finest of ``passes`` coarse-to-fine passes on a
    w x h canvas (shifted grids included)."""
    g = 2 ** (passes - 1)
    along = math.ceil(g * max(w, h) / min(w, h))
    return (g + 1) * (along + 1) * 3 * obs * obs * 4 * 4


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


def tile_grid(width: int, height: int, grid: int, mode: str, shift: bool = False) -> torch.Tensor:
    """Square tiles (n, 4) = (x0, y0, side, side) in px covering a width x height canvas with ``grid``
    tiles along the short side.  overlap: tiles 25 % larger than the grid cell; paper: disjoint cells.
    ``shift`` (paper): the cells moved by half a cell along both axes, one more along each, those at the
    canvas's edges moved back inside it (they overlap their neighbours by half): every border of the
    unshifted grids, and of shifted grids twice as coarse or coarser, lies inside one of its tiles (see
    `pass_grid`)."""
    short, long_ = min(width, height), max(width, height)
    cell = short / grid
    side = cell if (mode == "paper" or grid == 1) else min(short, cell * 1.25)
    along_long = max(1, math.ceil(long_ / cell - 1e-6))
    shift = shift and mode == "paper" and grid > 1

    def starts(length: float, n: int) -> list[float]:
        if mode == "paper" and shift:
            return [min(max(0.0, (i - 0.5) * cell), length - side) for i in range(n + 1)]
        if mode == "paper":
            return [min(i * cell, length - side) for i in range(n)]
        return [0.0] if n == 1 else [i * (length - side) / (n - 1) for i in range(n)]

    xs = starts(width, grid if width <= height else along_long)
    ys = starts(height, grid if height < width else (along_long if height > width else grid))
    return torch.tensor([[x, y, side, side] for y in ys for x in xs], dtype=torch.float32)


def pass_grid(width: int, height: int, p: int, mode: str, levels=None, passes: int = 0) -> torch.Tensor:
    """The tiles of coarse-to-fine pass ``p`` (grid 2^p) of ``passes`` in tiling ``mode``: `tile_grid`;
    ``shifted``: paper tiles, shifted (`tile_grid(..., shift=True)`) on the passes finer than the agent's
    trained ``levels`` when there are two such passes or more.  Why: the paper's grids are nested, so
    with strokes clipped to their tiles every coarser pass's borders are borders of every finer pass too,
    and nothing painted later crosses them (seams).  A shifted grid's tiles straddle every coarser
    border, each grid at its own half-cell offset.  With one finer pass at most (the trained scale: 128
    px / 200 strokes for the photo agent) every grid is the nested one the agent was trained on."""
    shift = mode == "shifted" and bool(levels) and passes > len(levels) + 1 and p >= len(levels)
    return tile_grid(width, height, 2**p, "paper" if mode == "shifted" else mode, shift=shift)


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
