"""The agent's repaint of its weakest strokes (painter/repaint.py) and the colour fit's block tools it
uses (schedule/color_fit.py: removal costs, composing a subset, reusing alphas)."""

import pytest
import torch

from brushwork.painter.painter import paint
from brushwork.schedule.color_fit import compose, normal_equations, removal_costs
from brushwork.stroke import get_shape
from brushwork.stroke.base import COLOR
from brushwork.stroke.canvas import paint_strokes, stroke_colors

H, W = 40, 52  # not multiples of the blocks


def strokes(n=30, seed=0, clipped=True):
    g = torch.Generator().manual_seed(seed)
    st = torch.rand(n, 13, generator=g)
    side = torch.randint(12, 40, (n, 1), generator=g).float()
    xy = torch.rand(n, 2, generator=g) * torch.tensor([W - 12.0, H - 12.0])
    frames = torch.cat([xy, side], 1)
    return st, frames, torch.cat([xy, xy + side], 1) if clipped else None


@pytest.mark.parametrize("clipped", [False, True])
def test_block_removal_costs_equal_painting_without_each_stroke(clipped):
    shape = get_shape("bezier")
    st, fr, cl = strokes(clipped=clipped)
    g = torch.Generator().manual_seed(1)
    start, target = torch.rand(3, H, W, generator=g), torch.rand(3, H, W, generator=g)
    _, _, _, blocks = normal_equations(start, target, shape, st, fr, 32.0, cl, keep_bytes=1 << 26)
    cost = removal_costs(blocks, start, target, stroke_colors(st), len(st))
    full = ((paint_strokes(start.clone(), shape, st, fr, 32.0, clips=cl) - target) ** 2).sum()
    for i in range(len(st)):  # by brute force: the error without stroke i minus the error with all
        keep = torch.arange(len(st)) != i
        without = paint_strokes(start.clone(), shape, st[keep], fr[keep], 32.0, clips=None if cl is None else cl[keep])
        assert float(cost[i]) == pytest.approx(float(((without - target) ** 2).sum() - full), abs=2e-3)
    assert float(cost.abs().max()) > 1  # strokes that matter


def test_compose_a_subset_and_reuse_alphas_match_painting_again():
    shape = get_shape("bezier")
    st, fr, cl = strokes()
    start, target = torch.rand(3, H, W), torch.rand(3, H, W)
    _, _, _, blocks = normal_equations(start, target, shape, st, fr, 32.0, cl, keep_bytes=1 << 26)
    keep = torch.rand(len(st), generator=torch.Generator().manual_seed(2)) > 0.4
    canvas = compose(start.clone(), start, stroke_colors(st), blocks, keep)
    assert torch.allclose(canvas, paint_strokes(start.clone(), shape, st[keep], fr[keep], 32.0, clips=cl[keep]), atol=1e-5)
    new, nf, nc = strokes(6, seed=3)
    s2, f2, c2 = torch.cat([st[keep], new]), torch.cat([fr[keep], nf]), torch.cat([cl[keep], nc])
    fresh = normal_equations(start, target, shape, s2, f2, 32.0, c2)
    reused = normal_equations(start, target, shape, s2, f2, 32.0, c2, prior=(blocks, keep))
    for a, b in zip(fresh[:3], reused[:3]):
        assert torch.allclose(a, b, atol=1e-9)


def photo(side=64):
    from pathlib import Path

    import brushwork
    from brushwork.io.images import load_image, resize

    return resize(load_image(Path(brushwork.__file__).parent / "assets" / "example.png").rgb, (side, side))


def test_repaint_keeps_the_budget_and_beats_the_agent_alone():
    img = photo()
    kw = dict(strokes=60, method="agent", quiet=True)
    alone, again = paint(img, repaint=0.0, **kw), paint(img, **kw)  # repaint 0.3, the default
    assert len(again) == len(alone) == 60
    assert again.metrics["psnr"] > alone.metrics["psnr"]
    # the strokes it kept come first, in their order, then the new ones (smaller: a finer grid)
    kept = [i for i in range(60) if any(torch.equal(alone.strokes[i, :COLOR.start], s[:COLOR.start]) for s in again.strokes)]
    assert 30 <= len(kept) < 60
    assert float(again.frames[len(kept):, 2].max()) < float(alone.frames[:, 2].min()) + 1e-6


def test_repaint_needs_the_colour_fit():
    """It prices strokes from the fit's weights: with a palette (fixed colours, no fit) it does nothing."""
    img = photo(48)
    kw = dict(strokes=30, method="agent", quiet=True, palette=["#ff0000", "#00ff00", "#0000ff"])
    assert torch.equal(paint(img, **kw).strokes, paint(img, repaint=0.0, **kw).strokes)


def test_paint_rejects_a_repaint_fraction_out_of_range():
    with pytest.raises(ValueError, match="--repaint"):
        paint(photo(32), strokes=5, method="agent", repaint=1.0, quiet=True)
