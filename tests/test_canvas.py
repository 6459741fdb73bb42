"""Compositing, backgrounds and windowed painting (docs/method.md, "Compositing")."""

import pytest
import torch

from brushwork.stroke import SHAPES, get_shape
from brushwork.stroke.base import default_frames
from brushwork.stroke.canvas import Background, composite, coord_planes, paint_strokes, stroke_colors


def test_backgrounds():
    assert Background.parse("black").rgb == (0, 0, 0)
    assert Background.parse("white").rgb == (1, 1, 1)
    assert Background.parse("#ff8000").rgb == pytest.approx((1.0, 128 / 255, 0.0))
    t = Background.parse("transparent")
    c = t.canvas(5, 7)
    assert c.shape == (4, 5, 7) and float(c[3].max()) == 0
    with pytest.raises(ValueError, match="background"):
        Background.parse("blue-ish")


@pytest.mark.parametrize("shape", [s for s in SHAPES if s != "bezier-opaque"])  # the others have an opacity
def test_zero_opacity_stroke_leaves_canvas_unchanged(shape):
    sh = get_shape(shape)
    s = torch.rand(3, 13)
    for j, name in enumerate(sh.params):
        if name in ("a", "a0", "a2"):
            s[:, j] = 0.0
    canvas = torch.rand(1, 3, 24, 24)
    alpha = sh.soft(s, 24)
    out = composite(canvas, alpha[None], stroke_colors(s)[None])
    assert torch.equal(out, canvas)


@pytest.mark.parametrize("shape", SHAPES)
def test_opaque_covering_stroke_sets_its_colour(shape):
    # The widest opaque stroke through the middle: wherever it fully covers, the canvas is its colour.
    sh = get_shape(shape)
    geo = {"bezier": [0.0, 0.5, 0.5, 0.5, 1.0, 0.5, 1.0, 1.0, 1.0, 1.0], "circle": [0.5, 0.5, 1.0, 1.0] + [0.5] * 6,
           "triangle": [0.0, 0.0, 1.0, 0.0, 0.0, 1.0, 1.0, 0.5, 0.5, 0.5]}
    geo["bezier-opaque"] = geo["bezier"]
    s = torch.tensor([geo[shape] + [0.2, 0.4, 0.6]])
    canvas = Background.parse("white").canvas(32, 32, batch=1)
    alpha = sh.soft(s, 32)
    out = composite(canvas, alpha[None], stroke_colors(s)[None])[0]
    full = alpha[0] == 1
    assert int(full.sum()) > 100
    assert torch.allclose(out[:, full], torch.tensor([[0.2], [0.4], [0.6]]), atol=1e-6)
    assert torch.allclose(out[:, alpha[0] == 0], torch.ones(1), atol=0)


def test_transparent_canvas_gets_alpha_where_painted():
    sh = get_shape("circle")
    s = torch.tensor([[0.5, 0.5, 0.3, 1.0] + [0.5] * 6 + [1.0, 0.0, 0.0]])
    canvas = Background.parse("transparent").canvas(32, 32, batch=1)
    out = composite(canvas, sh.soft(s, 32)[None], stroke_colors(s, 4)[None])[0]
    assert float(out[3, 16, 16]) == pytest.approx(1.0) and float(out[3, 0, 0]) == 0.0
    assert float(out[0, 16, 16]) == pytest.approx(1.0)


@pytest.mark.parametrize("shape", SHAPES)
def test_windowed_painting_equals_full_compositing(shape):
    sh = get_shape(shape)
    torch.manual_seed(1)
    s = torch.rand(20, 13)
    frames = default_frames(20, 40)
    full = composite(Background().canvas(40, 40, 1), sh.soft(s, 40)[None], stroke_colors(s)[None])[0]
    win = paint_strokes(Background().canvas(40, 40), sh, s, frames, budget=3000)  # several blocks
    assert torch.allclose(full, win, atol=1e-5)


def test_clips_keep_paint_inside():
    sh = get_shape("bezier")
    s = torch.tensor([[0.0, 0.5, 0.5, 0.5, 1.0, 0.5, 0.5, 0.5, 1.0, 1.0, 1.0, 1.0, 1.0]])
    clips = torch.tensor([[0.0, 0.0, 16.0, 32.0]])
    out = paint_strokes(Background().canvas(32, 32), sh, s, default_frames(1, 32), clips=clips)
    assert float(out[:, :, 16:].max()) == 0.0 and float(out[:, 14:18, :16].min()) > 0.9


def test_coord_planes():
    p = coord_planes(2, 4, 8)
    assert p.shape == (2, 2, 4, 8)
    assert float(p[0, 0, 0, 0]) == 0 and float(p[0, 0, 0, -1]) == 1 and float(p[0, 1, -1, 0]) == 1
