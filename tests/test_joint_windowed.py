"""The windowed joint pass: its composite is the painter's, it lowers the error, it keeps fixed strokes."""
import math

import torch

import brushwork.painter.optimize_windowed as ow
from brushwork.metrics import psnr
from brushwork.painter.joint_windowed import refine_windowed, supports
from brushwork.stroke import get_shape
from brushwork.stroke.canvas import Background, paint_strokes


def scene(size: int) -> torch.Tensor:
    g = torch.Generator().manual_seed(3)
    t = torch.zeros(3, size, size)
    t[:] = torch.rand(3, 1, 1, generator=g)
    yy, xx = torch.meshgrid(torch.arange(size), torch.arange(size), indexing="ij")
    for _ in range(5):
        cx, cy, r = (torch.rand(3, generator=g) * torch.tensor([size, size, size / 3])).tolist()
        t[:, ((xx - cx) ** 2 + (yy - cy) ** 2) < (r + 3) ** 2] = torch.rand(3, 1, generator=g)
    return t


def setup(size=48, n=30):
    torch.set_num_threads(1)
    t = scene(size)
    cfg = ow.detail_config("draft", iters=6)
    s, f = ow.paint_windowed(t, n, "bezier", Background().canvas(size, size), cfg, progress=False)
    shape = get_shape("bezier")
    nat = torch.full((n,), float(size))
    return t, s, f, nat, shape, cfg


def test_joint_composite_is_the_painters_and_lowers_the_error():
    t, s, f, nat, shape, cfg = setup()
    bg = Background().canvas(48, 48)
    before = float(psnr(paint_strokes(bg.clone(), shape, s, f, nat), t))
    out, losses = refine_windowed(t, s, f, nat, shape, bg, lambda st, fr, na: ow.window_bounds(shape, st, fr, na, cfg), 10, 0.2)
    # The loss of iteration 0 is the error of the painter's own render of the unchanged strokes.
    assert abs(-10 * math.log10(losses[0]) - before) < 0.05, (losses[0], before)
    after = float(psnr(paint_strokes(bg.clone(), shape, out, f, nat), t))
    assert after > before + 0.3, (before, after)
    # What the loss saw is what the render draws: the best loss is the refined painting's error.
    assert abs(-10 * math.log10(min(losses)) - after) < 0.05, (min(losses), after)
    assert out.shape == s.shape and bool(((out >= 0) & (out <= 1)).all())


def test_fixed_strokes_stay_and_no_iterations_is_identity():
    t, s, f, nat, shape, cfg = setup()
    bg = Background().canvas(48, 48)
    b = lambda st, fr, na: ow.window_bounds(shape, st, fr, na, cfg)  # noqa: E731
    out, _ = refine_windowed(t, s, f, nat, shape, bg, b, 4, 0.2, fixed=10)
    assert torch.equal(out[:10], s[:10])
    assert not torch.equal(out[10:], s[10:])
    same, losses = refine_windowed(t, s, f, nat, shape, bg, b, 0, 0.2)
    assert torch.equal(same, s) and losses == []


def test_only_bezier_has_the_bounds_it_needs():
    assert supports(get_shape("bezier"))
    assert not supports(get_shape("circle"))


def test_fused_composite_matches_the_python_loops(monkeypatch):
    """The numba in-order composite (forward and backward) gives the joint pass the same steps as the
    Python loops it replaces."""
    import brushwork.painter.joint_windowed as jw
    from brushwork.stroke import fused

    if not fused.enabled():
        return  # nothing to compare: the Python loops are the only path
    t, s, f, nat, shape, cfg = setup()
    bg = Background().canvas(48, 48)
    bounds = lambda st, fr, na: ow.window_bounds(shape, st, fr, na, cfg)  # noqa: E731
    out_fast, loss_fast = refine_windowed(t, s, f, nat, shape, bg, bounds, 6, 0.2)
    monkeypatch.setattr(jw, "FAST_COMPOSITE", False)
    out_slow, loss_slow = refine_windowed(t, s, f, nat, shape, bg, bounds, 6, 0.2)
    assert loss_fast[-1] < loss_fast[0]
    assert torch.allclose(torch.tensor(loss_fast), torch.tensor(loss_slow), rtol=1e-4, atol=1e-7)
    # float64 sums inside the kernels vs float32 torch ops: Adam turns rounding-level gradient
    # differences on near-zero components into small step differences
    assert float((out_fast - out_slow).abs().max()) < 5e-3


def test_bands_of_rows_give_the_same_steps_as_one_piece():
    """Cutting the canvas into bands (bounded memory) changes nothing but the summation order."""
    from brushwork.painter.joint_windowed import _bands

    t, s, f, nat, shape, cfg = setup()
    bg = Background().canvas(48, 48)
    bounds = lambda st, fr, na: ow.window_bounds(shape, st, fr, na, cfg)  # noqa: E731
    assert len(_bands(bounds(s, f, nat)[2], 48, 48, 2_000)) > 3
    one, loss_one = refine_windowed(t, s, f, nat, shape, bg, bounds, 6, 0.2)
    many, loss_many = refine_windowed(t, s, f, nat, shape, bg, bounds, 6, 0.2, band_pixels=2_000)
    assert torch.allclose(torch.tensor(loss_one), torch.tensor(loss_many), rtol=1e-4, atol=1e-7)
    assert float((one - many).abs().max()) < 5e-3
    assert loss_many[-1] < loss_many[0]
