"""The windowed, batched optimiser (issue 13): exact budgets, quality against a flat fill and the joint
optimiser, time budgets, memory checks and bad input."""

import time

import numpy as np
import pytest
import torch
from PIL import Image

from brushwork import paint
from brushwork.metrics import psnr
from brushwork.painter import optimize_windowed as ow
from brushwork.stroke.canvas import Background, paint_strokes


def scene(size=64) -> torch.Tensor:
    """(3, size, size): a gradient sky, a dark ground, a red disc and a blue bar."""
    y, x = torch.meshgrid(torch.linspace(0, 1, size), torch.linspace(0, 1, size), indexing="ij")
    img = torch.stack([0.3 + 0.4 * y, 0.5 + 0.3 * y, 0.9 - 0.2 * y])
    ground = (y > 0.65).float()
    img = img * (1 - ground) + ground * torch.tensor([0.25, 0.2, 0.1])[:, None, None]
    disc = (((x - 0.3) ** 2 + (y - 0.35) ** 2) < 0.015).float()
    img = img * (1 - disc) + disc * torch.tensor([0.9, 0.1, 0.1])[:, None, None]
    bar = ((x > 0.6) & (x < 0.85) & (y > 0.2) & (y < 0.3)).float()
    img = img * (1 - bar) + bar * torch.tensor([0.1, 0.1, 0.8])[:, None, None]
    return img.clamp(0, 1)


def render(strokes, frames, native, size):
    return paint_strokes(Background().canvas(size, size), "bezier", strokes, frames, native)


@pytest.mark.parametrize("n", [1, 7, 37])
def test_exact_budget_and_valid_strokes(n):
    t = scene(48)
    s, f = ow.paint_windowed(t, n, "bezier", Background().canvas(48, 48), ow.detail_config("draft"), progress=False)
    assert s.shape == (n, 13) and f.shape == (n, 3)
    assert bool(((s >= 0) & (s <= 1)).all())


def test_beats_flat_fill_and_its_own_stages_alone():
    """The stages beat a flat fill by far, and the joint pass adds to them (the dense optimiser it
    replaced is compared in `scripts/bench_optimizer.py`)."""
    torch.set_num_threads(1)
    size, n = 96, 150
    t = scene(size)
    flat = float(psnr(t.mean((1, 2), keepdim=True).expand_as(t), t))
    s, f = ow.paint_windowed(t, n, "bezier", Background().canvas(size, size), ow.DetailConfig(iters=16), progress=False)
    new = float(psnr(render(s, f, float(size), size), t))
    s0, f0 = ow.paint_windowed(t, n, "bezier", Background().canvas(size, size), ow.DetailConfig(iters=16, joint_iters=0),
                               progress=False)
    stages = float(psnr(render(s0, f0, float(size), size), t))
    assert new > flat + 6, (new, flat)
    assert new > stages + 0.2, (new, stages)


def test_time_budget_alone_and_with_a_stroke_count():
    t = scene(64)
    t0 = time.monotonic()
    s, _ = ow.paint_windowed(t, None, "bezier", Background().canvas(64, 64), deadline=t0 + 1.5, progress=False)
    took = time.monotonic() - t0
    assert len(s) > 0 and took < 4.0, (len(s), took)
    t0 = time.monotonic()
    s, _ = ow.paint_windowed(t, 60, "bezier", Background().canvas(64, 64), deadline=t0 + 0.2, progress=False)
    assert len(s) == 60  # out of time: still exactly the budget, with fewer iterations


def test_absurd_requests_fail_before_any_work(monkeypatch, tmp_path):
    monkeypatch.setattr(ow, "available_memory", lambda: 8 << 30)
    with pytest.raises(ValueError, match="memory"):
        ow.check_memory(16384, 16384, 10)
    with pytest.raises(ValueError, match="memory"):
        ow.check_memory(512, 512, 100_000_000)
    ow.check_memory(4096, 4096, 20_000)  # the 4K target fits in 8 GB
    img = tmp_path / "in.png"
    Image.fromarray((np.arange(24 * 32 * 3) % 255).astype(np.uint8).reshape(24, 32, 3)).save(img)
    with pytest.raises(ValueError, match="memory"):
        paint(img, width=16384, height=16384, strokes=10, method="optimize", quiet=True)


@pytest.mark.parametrize("bad", [dict(seconds=0), dict(seconds=-1.0), dict(seconds=1e9), dict(seconds=float("nan")),
                                 dict(detail="ultra")])
def test_bad_seconds_and_detail(tmp_path, bad):
    img = tmp_path / "in.png"
    Image.fromarray(np.zeros((8, 8, 3), np.uint8)).save(img)
    with pytest.raises(ValueError, match="--seconds|--detail"):
        paint(img, width=16, quiet=True, **bad)


def test_paint_with_seconds_writes_a_complete_painting(tmp_path):
    img = tmp_path / "in.png"
    Image.fromarray((scene(48).permute(1, 2, 0).numpy() * 255).astype(np.uint8)).save(img)
    t0 = time.time()
    p = paint(img, seconds=2.0, quiet=True)
    assert len(p) > 0 and time.time() - t0 < 5.0
    p = paint(img, seconds=0.5, strokes=30, quiet=True)
    assert len(p) == 30 and p.metrics["psnr"] > 10


def test_fewer_strokes_than_the_default_get_more_iterations_up_to_the_cap():
    cfg = ow.detail_config("normal")
    assert ow.scaled_for(cfg, None, 2000, ow.FEW_STROKES_PIXELS) == cfg and ow.scaled_for(cfg, 3000, 2000, ow.FEW_STROKES_PIXELS) == cfg
    half = ow.scaled_for(cfg, 1000, 2000, ow.FEW_STROKES_PIXELS)
    assert (half.iters, half.joint_iters) == (2 * cfg.iters, 2 * cfg.joint_iters)
    few = ow.scaled_for(cfg, 10, 2000, ow.FEW_STROKES_PIXELS)  # capped at few_strokes x
    assert few.iters == round(cfg.iters * cfg.few_strokes)
    assert ow.scaled_for(cfg, 1500, 2000, ow.FEW_STROKES_PIXELS).iters == round(cfg.iters * 4 / 3)
    # larger outputs: the extra factor shrinks with the area, never below the preset's own iterations
    assert ow.scaled_for(cfg, 1000, 2000, 2 * ow.FEW_STROKES_PIXELS).iters == cfg.iters
    assert ow.scaled_for(cfg, 10, 2000, ow.FEW_STROKES_PIXELS * 4 // 3).iters == round(cfg.iters * cfg.few_strokes * 3 / 4)
    assert ow.scaled_for(cfg, 1000, 4000, 4 * ow.FEW_STROKES_PIXELS) == cfg  # 1024 x 1024


def test_seed_lengths_follow_the_detail_when_asked():
    """`oriented_strokes(detail=...)`: shorter seeds where the image is busy, longer where it is flat; 0 (the
    default) leaves the seeds as they were."""
    from brushwork.painter.optimize import oriented_strokes
    from brushwork.stroke import get_shape

    shape = get_shape("bezier")
    target = torch.zeros(3, 64, 64)
    target[:, :, 32:] = torch.rand(3, 64, 32, generator=torch.Generator().manual_seed(0))  # busy right half
    iy, ix = torch.tensor([32, 32]), torch.tensor([10, 48])

    def lengths(detail):
        s = oriented_strokes(shape, target, iy, ix, 16.0, 3, 64.0, torch.ones(2, 3), torch.Generator().manual_seed(1),
                             detail)
        return (s[:, 4:6] - s[:, 0:2]).norm(dim=1)

    plain, follow = lengths(0.0), lengths(0.5)
    assert torch.equal(plain, lengths(0.0))
    assert follow[0] / plain[0] > follow[1] / plain[1]  # flat half: relatively longer
