"""The colour fit: the best colours for fixed stroke shapes (schedule/color_fit.py)."""

import numpy as np
import pytest
import torch

from brushwork.painter.painter import paint
from brushwork.schedule.color_fit import fit_colors, normal_equations, solve_box
from brushwork.stroke import get_shape
from brushwork.stroke.base import COLOR
from brushwork.stroke.canvas import paint_strokes

H, W = 40, 52  # not multiples of the blocks: edge blocks are partial


def strokes_and_frames(n=30, seed=0, clipped=False):
    g = torch.Generator().manual_seed(seed)
    st = torch.rand(n, 13, generator=g)
    st[:, 8:10] = 0.6 + 0.4 * st[:, 8:10]  # opacities well above 0: every colour shows somewhere
    side = torch.randint(16, 40, (n, 1), generator=g).float()
    xy = torch.rand(n, 2, generator=g) * torch.tensor([W - 16.0, H - 16.0])
    frames = torch.cat([xy, side], 1)
    clips = torch.cat([xy, xy + side], 1) if clipped else None
    return st, frames, clips


def mse(a, b):
    return float(((a[:3] - b) ** 2).mean())


@pytest.mark.parametrize("clipped", [False, True])
def test_recovers_the_colours_that_painted_the_target(clipped):
    shape = get_shape("bezier")
    st, fr, cl = strokes_and_frames(clipped=clipped)
    start = torch.zeros(3, H, W)
    target = paint_strokes(start.clone(), shape, st, fr, 40.0, clips=cl)
    guess = st.clone()
    guess[:, COLOR] = torch.rand(len(st), 3, generator=torch.Generator().manual_seed(5))
    assert mse(paint_strokes(start.clone(), shape, guess, fr, 40.0, clips=cl), target) > 1e-3
    fitted = fit_colors(start, target, shape, guess, fr, 40.0, cl, iters=300)
    again = paint_strokes(start.clone(), shape, fitted, fr, 40.0, clips=cl)
    assert mse(again, target) < 1e-5  # the painting is recovered (colours of hidden strokes are free)
    assert torch.equal(fitted[:, : COLOR.start], guess[:, : COLOR.start])  # shapes untouched


@pytest.mark.parametrize("clipped,keep", [(False, True), (True, True), (True, False)])
def test_fit_is_optimal_in_the_box_and_repaints_what_it_fitted(clipped, keep, monkeypatch):
    from brushwork.schedule import color_fit

    if not keep:  # too large to keep the alpha maps: the canvas is painted again
        monkeypatch.setattr(color_fit, "KEEP_BYTES", 1000)
    shape = get_shape("bezier")
    st, fr, cl = strokes_and_frames(seed=1, clipped=clipped)
    g = torch.Generator().manual_seed(2)
    start = torch.rand(3, H, W, generator=g)  # any start canvas, e.g. a resumed painting
    target = torch.rand(3, H, W, generator=g)  # not paintable: the box constraint binds
    canvas = torch.empty(3, H, W)
    fitted = fit_colors(start, target, shape, st, fr, 40.0, cl, iters=500, canvas=canvas)
    c = fitted[:, COLOR]
    assert c.min() >= 0 and c.max() <= 1
    fresh = paint_strokes(start.clone(), shape, fitted, fr, 40.0, clips=cl)
    assert (canvas - fresh).abs().max() < 1e-4  # the canvas it composed is the strokes' painting
    best = mse(fresh, target)
    assert best < mse(paint_strokes(start.clone(), shape, st, fr, 40.0, clips=cl), target)
    for k in range(20):  # no nearby colours in the box do better
        other = fitted.clone()
        other[:, COLOR] = (c + 0.05 * torch.randn(c.shape, generator=torch.Generator().manual_seed(k))).clamp(0, 1)
        assert mse(paint_strokes(start.clone(), shape, other, fr, 40.0, clips=cl), target) >= best - 1e-7


def test_normal_equations_match_a_dense_build():
    shape = get_shape("bezier")
    st, fr, cl = strokes_and_frames(n=12, seed=3, clipped=True)
    start = torch.zeros(3, H, W)
    target = torch.rand(3, H, W, generator=torch.Generator().manual_seed(4))
    G, b, d, _ = normal_equations(start, target, shape, st, fr, 40.0, cl, block=16)
    # dense: canvas = sum_i c_i w_i, w_i read off by painting unit colours one stroke at a time
    cols = []
    for i in range(len(st)):
        one = st.clone()
        one[:, COLOR] = 0
        one[i, COLOR] = 1
        cols.append(paint_strokes(start.clone(), shape, one, fr, 40.0, clips=cl)[0].reshape(-1))
    Wd = torch.stack(cols).double()
    assert torch.allclose(G, Wd @ Wd.T, atol=1e-6)
    assert torch.allclose(b, Wd @ target.reshape(3, -1).double().T, atol=1e-6)
    assert torch.allclose(d, G.sum(1), atol=1e-6)


def test_solve_box_matches_the_unconstrained_solution_inside_the_box():
    g = torch.Generator().manual_seed(0)
    A = torch.rand(8, 50, generator=g, dtype=torch.float64)
    G = A @ A.T
    x_true = 0.2 + 0.6 * torch.rand(8, 3, generator=g, dtype=torch.float64)
    x = solve_box(G, G @ x_true, G.sum(1), torch.zeros(8, 3, dtype=torch.float64), iters=3000)
    assert torch.allclose(x, x_true, atol=1e-4)


def test_painter_fits_colours_unless_told_not_to(tmp_path, tiny_actor):
    rng = np.random.default_rng(0)
    img = (np.linspace(0, 255, 48 * 48 * 3).reshape(48, 48, 3) * 0.5 + rng.integers(0, 128, (48, 48, 3))).astype(np.uint8)
    kw = dict(strokes=20, method="agent", agent=str(tiny_actor), passes=2, quiet=True, repaint=0.0)  # the fit alone
    fit = paint(img, **kw)
    own = paint(img, fit_colors=False, **kw)
    assert torch.equal(fit.strokes[:, : COLOR.start], own.strokes[:, : COLOR.start])
    assert fit.metrics["psnr"] > own.metrics["psnr"]  # (an untrained actor: small strokes, a small gain)
    pal = paint(img, palette=["#ff0000", "#00ff00"], **kw)  # a palette keeps its colours
    assert {tuple(c) for c in pal.strokes[:, COLOR].tolist()} <= {(1.0, 0.0, 0.0), (0.0, 1.0, 0.0)}
