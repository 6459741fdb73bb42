"""The agent's coarse-to-fine pyramid at any size (`schedule.tiles`): passes from the budget and the output,
exact budgets, shifted finer grids (no border that nothing crosses), bad input."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from brushwork.schedule.tiles import agent_passes, pass_budgets, pass_grid, tile_grid

LEVELS = ((1, 8), (2, 4), (4, 1))  # the photo agent's trained levels
OBS, K = 32, 5  # its observation side and bundle


def finest_tile(n: int, size: int) -> float:
    return size / 2 ** (agent_passes(n, LEVELS, size, size, obs=OBS) - 1)


def test_passes_grow_with_the_budget_and_the_output():
    budgets = (10, 50, 200, 1000, 4000, 16000, 64000)
    for size in (128, 256, 512, 1024, 2048):
        passes = [agent_passes(n, LEVELS, size, size, obs=OBS) for n in budgets]
        assert passes == sorted(passes) and passes[0] == len(LEVELS)  # more strokes: never fewer passes
    # the trained scale keeps its four passes however many strokes
    assert [agent_passes(n, LEVELS, 128, 128, obs=OBS) for n in budgets] == [3, 3, 4, 4, 4, 4, 4]
    assert [agent_passes(n, LEVELS, 512, 512, obs=OBS) for n in (200, 1000, 4000)] == [4, 5, 6]
    # a larger output takes finer grids for the same large budget
    assert agent_passes(64000, LEVELS, 1024, 1024, obs=OBS) > agent_passes(64000, LEVELS, 512, 512, obs=OBS)
    # the finest tiles reach the agent's observation scale at the output's resolution (at least 4 x 4 at
    # 512 px, 8 x 8 at 1,024) once the budget allows, and never go under half of it
    assert finest_tile(200, 512) <= 128 and finest_tile(2000, 1024) <= 128
    assert finest_tile(1000, 512) <= OBS and finest_tile(8000, 1024) <= OBS
    for size in (256, 512, 1024, 2048):
        assert finest_tile(10**6, size) == OBS / 2


def test_budgets_are_exact_and_the_trained_levels_keep_their_steps():
    for size in (64, 128, 512, 1024, 700):
        for n in list(range(1, 400, 13)) + [1000, 4000, 8000, 20000]:
            passes = agent_passes(n, LEVELS, size, size, obs=OBS)
            for bundle in (0, K):
                b = pass_budgets(n, passes, LEVELS, bundle)
                assert len(b) == passes and sum(b) == n and min(b) >= 0
            if passes > len(LEVELS) + 1:  # the trained levels paint at most their trained strokes
                assert all(s <= g * g * t * K for s, (g, t) in zip(b, LEVELS))
    assert pass_budgets(4000, 6, LEVELS, K)[:3] == [40, 80, 80]
    assert pass_budgets(200, 4, LEVELS, K) == [20, 20, 80, 80]  # the trained scale: as before


def borders(tiles: torch.Tensor) -> set[float]:
    xs = set(tiles[:, 0].tolist()) | set((tiles[:, 0] + tiles[:, 2]).tolist())
    return {x for x in xs if 0 < x < 512}


def crossed(tiles: torch.Tensor, x: float) -> bool:
    """Whether the line x lies strictly inside one of the tiles (along x; the grids are symmetric)."""
    return bool(((tiles[:, 0] < x) & (x < tiles[:, 0] + tiles[:, 2])).any())


def test_shifted_finer_grids_cross_every_coarser_border():
    passes = agent_passes(4000, LEVELS, 512, 512, obs=OBS)
    grids = [pass_grid(512, 512, p, "shifted", LEVELS, passes) for p in range(passes)]
    for p in range(1, passes):
        t = grids[p]
        cover = torch.zeros(512, 512, dtype=torch.bool)
        for x0, y0, s, _ in t.round().long().tolist():
            assert x0 >= 0 and y0 >= 0 and x0 + s <= 512 and y0 + s <= 512
            cover[y0:y0 + s, x0:x0 + s] = True
        assert cover.all()  # the tiles cover the canvas
        if p >= len(LEVELS):  # a shifted grid: every border of a coarser pass lies inside one of its tiles
            coarser = set().union(*(borders(g) for g in grids[:p]))
            assert all(crossed(t, x) for x in coarser)
            assert not any(crossed(tile_grid(512, 512, 2**p, "paper"), x) for x in coarser)  # the nested grid: none
    # the repaint's grid, one step finer than the last pass, is shifted too: the last pass's borders
    # lie inside its tiles (a nested grid would clip the repainted strokes along them again)
    finer = pass_grid(512, 512, passes, "shifted", LEVELS, passes)
    assert all(crossed(finer, x) for x in borders(grids[-1]))
    # the trained passes and the first finer one are the paper's nested grids
    for p in range(len(LEVELS)):
        assert torch.equal(grids[p], tile_grid(512, 512, 2**p, "paper"))
    # at the trained scale (one finer pass) every grid is the paper's, and "paper" never shifts
    for p in range(4):
        assert torch.equal(pass_grid(128, 128, p, "shifted", LEVELS, 4), tile_grid(128, 128, 2**p, "paper"))
    for p in range(passes):
        assert torch.equal(pass_grid(512, 512, p, "paper", LEVELS, passes), tile_grid(512, 512, 2**p, "paper"))


def test_a_tiny_budget_at_a_large_size_paints_fewer_passes(tmp_path, tiny_actor):
    from test_paint import actor_with

    from brushwork import paint

    tiled = actor_with(tmp_path, tiny_actor, "tiled", levels=[list(x) for x in LEVELS])
    img = np.full((64, 64, 3), 128, np.uint8)
    for n in (1, 3, 7):
        out = paint(img, strokes=n, method="agent", agent=str(tiled), width=1024, quiet=True)
        assert len(out) == n and out.metrics["passes"] == len(LEVELS) and (out.width, out.height) == (1024, 1024)


def test_passes_or_budgets_that_cannot_fit_fail_before_any_work(tmp_path, tiny_actor):
    from test_paint import actor_with

    from brushwork import paint

    tiled = actor_with(tmp_path, tiny_actor, "tiled", levels=[list(x) for x in LEVELS])
    img = np.full((64, 64, 3), 128, np.uint8)
    with pytest.raises(ValueError, match="--passes 9: the finest grid .* too fine"):
        paint(img, strokes=10, method="agent", agent=str(tiled), width=256, passes=9, quiet=True)
    with pytest.raises(ValueError, match="needs about .* GB of memory"):  # the colour fit's N x N system
        paint(img, strokes=10**6, method="agent", agent=str(tiled), width=256, quiet=True)


def seam_ratio(painting: np.ndarray, target: np.ndarray, lines: list[int], band: int = 2, flank: int = 8) -> float:
    """Mean error within ``band`` px of the lines (both axes) over the mean error in the flanks beside them."""
    err = np.abs(painting.astype(float) - target.astype(float)).mean(2)
    d = np.full(err.shape[1], 1e9)
    for x in lines:
        d = np.minimum(d, np.abs(np.arange(err.shape[1]) + 0.5 - x))
    dist = np.minimum(d[None, :], d[:, None])
    return float(err[dist <= band].mean() / err[(dist > band) & (dist <= flank)].mean())


def test_shifted_tiles_leave_no_seams_where_the_paper_grid_does():
    """The shipped photo agent on a synthetic picture of discs at 256 px, 1,200 strokes (5 passes): along
    the 4 x 4 grid's borders (multiples of 64 px: borders of every nested pass) the paper's tiles leave a
    seam (the error there well above the error beside it), the shifted ones do not."""
    from brushwork import paint

    rng = np.random.default_rng(0)
    y, x = np.mgrid[0:256, 0:256] + 0.5
    img = np.zeros((256, 256, 3)) + rng.random(3)
    for _ in range(120):
        cx, cy, r = rng.random(3) * [256, 256, 30] + [0, 0, 4]
        img[(x - cx) ** 2 + (y - cy) ** 2 < r * r] = rng.random(3)
    img = (img * 255).astype(np.uint8)
    ratios = {}
    for tiles in ("paper", "shifted"):
        out = paint(img, strokes=1200, method="agent", tiles=tiles, quiet=True)
        assert out.metrics["passes"] == 5 and len(out) == 1200
        ratios[tiles] = seam_ratio(out.render()[..., :3], img, [64, 128, 192])
    assert ratios["shifted"] < 1.12 and ratios["paper"] > 1.2, ratios
