"""refine's re-seeding: each stroke's removal cost is exact, the weakest are replaced, the budget stays."""

import pytest
import torch
from test_joint_windowed import scene  # the same test picture: flat colour and a few discs

import brushwork.painter.optimize_windowed as ow
from brushwork.painter.reseed import removal_costs, reseed, weakest
from brushwork.stroke import get_shape
from brushwork.stroke.canvas import Background, paint_strokes


def random_strokes(n: int, seed: int = 0) -> torch.Tensor:
    s = torch.rand(n, 13, generator=torch.Generator().manual_seed(seed))
    s[:, 6:8] = 0.05 + 0.3 * s[:, 6:8]  # widths: a mix of small and large windows
    return s


def sq_error(canvas: torch.Tensor, target: torch.Tensor) -> float:
    return float(((canvas[:3] - target) ** 2).sum())


def test_removal_costs_equal_painting_without_each_stroke():
    torch.set_num_threads(1)
    size, n = 40, 12
    target, shape = scene(size), get_shape("bezier")
    strokes, frames = random_strokes(n), torch.tensor([[0.0, 0.0, size]]).repeat(n, 1)
    nat = torch.full((n,), float(size))
    bg = Background().canvas(size, size)
    base = sq_error(paint_strokes(bg.clone(), shape, strokes, frames, nat), target)
    costs = removal_costs(target, bg, shape, strokes, frames, nat)
    for i in range(n):
        keep = torch.arange(n) != i
        without = sq_error(paint_strokes(bg.clone(), shape, strokes[keep], frames[keep], nat[keep]), target)
        assert costs[i].item() == pytest.approx(without - base, rel=1e-3, abs=1e-3), i


def test_weakest_drops_the_cheapest_and_every_harmful_stroke_but_never_the_first():
    costs = torch.tensor([-5.0, 4.0, 1.0, -0.5, 9.0, 2.0, 3.0])
    keep = weakest(costs, 0.34, keep_first=1)  # round(0.34 * 6) = 2 cheapest of strokes 1..6: 3 (-0.5) and 2 (1.0)
    assert keep.tolist() == [True, True, False, False, True, True, True]
    assert weakest(costs, 0.0).tolist() == [False, True, True, False, True, True, True]  # harmful ones still go


def test_reseed_keeps_the_budget_and_lowers_the_error():
    torch.set_num_threads(1)
    size, n = 48, 30
    target, shape = scene(size), get_shape("bezier")
    bg = Background().canvas(size, size)
    # A poor layout, as a collapsed agent paints: every stroke in the same corner.
    strokes = random_strokes(n, seed=1)
    strokes[:, 0:6] = 0.1 + 0.2 * strokes[:, 0:6]
    frames = torch.tensor([[0.0, 0.0, size]]).repeat(n, 1)
    nat = torch.full((n,), float(size))
    cfg = ow.detail_config("draft", iters=6)
    new, new_frames = reseed(target, bg, shape, strokes, frames, float(size), 0.5, cfg, seed=0)
    assert new.shape == strokes.shape and new_frames.shape == frames.shape
    costs = removal_costs(target, bg, shape, strokes, frames, nat)
    keep = weakest(costs, 0.5)
    assert torch.equal(new[: int(keep.sum())], strokes[keep])  # the kept strokes first, in their order
    before = sq_error(paint_strokes(bg.clone(), shape, strokes, frames, nat), target)
    after = sq_error(paint_strokes(bg.clone(), shape, new, new_frames, nat), target)
    assert after < 0.8 * before, (before, after)


def test_paint_rejects_a_reseed_fraction_out_of_range():
    from brushwork.painter.painter import PaintConfig, check

    with pytest.raises(ValueError, match="--reseed"):
        check(PaintConfig(reseed=1.0))
