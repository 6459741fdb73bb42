"""Stroke shapes: reference rasterisers, soft rasterisers and SVG writers, for every registered shape."""

from __future__ import annotations

import io
import math
import re
import xml.etree.ElementTree as ET

import pytest
import torch

from brushwork.stroke import COLOR, SHAPES, get_shape, hex_color
from brushwork.stroke.base import N_PARAMS, windows_from_boxes

torch.set_num_threads(min(2, torch.get_num_threads()))

# One stroke per shape that is opaque and large (its interior must be exactly 1 in the reference), and
# one that is small (its soft window must be much smaller than the canvas).  A new shape adds a line.
BIG = {
    "bezier": [0.0, 0.5, 0.5, 0.5, 1.0, 0.5, 1.0, 1.0, 1.0, 1.0],  # band across the canvas
    "bezier-opaque": [0.0, 0.5, 0.5, 0.5, 1.0, 0.5, 1.0, 1.0, 0.0, 0.0],
    "circle": [0.5, 0.5, 1.0, 1.0, 0, 0, 0, 0, 0, 0],
    "triangle": [0.0, 0.0, 1.0, 0.0, 0.0, 1.0, 1.0, 0, 0, 0],  # upper-left half
}
SMALL = {
    "bezier": [0.5, 0.5, 0.5, 0.5, 0.55, 0.52, 0.0, 0.0, 1.0, 1.0],
    "bezier-opaque": [0.5, 0.5, 0.5, 0.5, 0.55, 0.52, 0.0, 0.0, 0.0, 0.0],
    "circle": [0.5, 0.5, 0.0, 1.0, 0, 0, 0, 0, 0, 0],
    "triangle": [0.5, 0.5, 0.55, 0.5, 0.5, 0.56, 1.0, 0, 0, 0],
}


def example(table: dict, name: str) -> torch.Tensor:
    if name not in table:
        pytest.fail(f"add an example stroke for shape {name!r} to this test's table")
    return torch.tensor([table[name]])


def opacity_indices(shape) -> list[int]:
    """Shape numbers that are opacities (named a, a0, a2, ...)."""
    return [i for i, n in enumerate(shape.params) if re.fullmatch(r"a\d*", n)]


def random_strokes(n: int, seed: int, cols: int = 10) -> torch.Tensor:
    return torch.rand(n, cols, generator=torch.Generator().manual_seed(seed))


def psnr(a: torch.Tensor, b: torch.Tensor) -> float:
    return 10 * math.log10(1.0 / max(float(((a.double() - b.double()) ** 2).mean()), 1e-12))


@pytest.fixture(params=SHAPES)
def shape(request):
    return get_shape(request.param)


# --- reference ---------------------------------------------------------------------------------


def test_reference_shape_dtype_range(shape):
    s = random_strokes(6, 0)
    out = shape.reference(s, 32)
    assert out.shape == (6, 32, 32) and out.dtype == torch.float32
    assert float(out.min()) >= 0.0 and float(out.max()) <= 1.0
    assert float(out.sum()) > 0
    # 13-number strokes (with colour) give the same alpha as their 10 shape numbers.
    s13 = torch.cat([s, random_strokes(6, 1, 3)], 1)
    assert s13.shape[1] == N_PARAMS
    assert torch.equal(shape.reference(s13, 32), out)


WITH_OPACITY = [n for n in SHAPES if opacity_indices(get_shape(n))]  # bezier-opaque has none


@pytest.mark.parametrize("name", WITH_OPACITY)
def test_zero_opacity_is_empty(name):
    shape = get_shape(name)
    idx = opacity_indices(shape)
    s = random_strokes(4, 2)
    s[:, idx] = 0.0
    assert float(shape.reference(s, 32).abs().max()) == 0.0
    assert float(shape.soft(s, 32).abs().max()) == 0.0


def test_big_opaque_stroke_is_solid(shape):
    size = 32
    s = example(BIG, shape.name)
    ref = shape.reference(s, size)[0]
    soft = shape.soft(s, size)[0]
    assert float(ref.max()) == 1.0
    interior = soft >= 0.999
    assert int(interior.sum()) >= 0.15 * size * size
    assert float(ref[interior].min()) == 1.0
    # Nothing more than a pixel outside the soft edge either.
    near = torch.nn.functional.max_pool2d(soft[None, None], 3, stride=1, padding=1)[0, 0]
    assert float(ref[near <= 0.0].max()) == 0.0


def test_transpose_symmetry(shape):
    s = random_strokes(8, 3)
    ref = shape.reference(s, 32)
    # (exact up to the summation order of the 2x2 downsampling)
    torch.testing.assert_close(shape.reference(shape.transpose(s), 32), ref.transpose(1, 2), atol=1e-6, rtol=0)
    soft = shape.soft(s, 32)
    torch.testing.assert_close(shape.soft(shape.transpose(s), 32), soft.transpose(1, 2), atol=1e-5, rtol=0)


# --- soft vs reference -------------------------------------------------------------------------


def test_soft_matches_reference(shape):
    s = random_strokes(16, 4)
    size = 64
    assert psnr(shape.soft(s, size), shape.reference(s, size)) >= 25.0


def test_soft_gradients(shape):
    s = random_strokes(8, 5)
    # and a few degenerate strokes: all points equal, zero radius, zero opacity
    s = torch.cat([s, torch.full((1, 10), 0.5), torch.zeros(1, 10), torch.ones(1, 10)])
    s[-2, opacity_indices(shape)] = 1.0
    s.requires_grad_(True)
    alpha = shape.soft(s, 32)
    assert torch.isfinite(alpha).all()
    w = torch.rand(alpha.shape, generator=torch.Generator().manual_seed(6))
    (alpha * w).sum().backward()
    g = s.grad
    assert torch.isfinite(g).all()
    for j in range(10):
        if j in shape.used:
            assert float(g[:8, j].abs().sum()) > 0, f"no gradient for {shape.params[j]}"
        else:
            assert float(g[:, j].abs().sum()) == 0, f"gradient for unused {shape.params[j]}"


@pytest.mark.parametrize("bad", [float("nan"), -0.1, 1.5, float("inf")])
def test_bad_parameters_raise(shape, bad):
    for j in list(shape.used) + [10]:
        s = random_strokes(3, 7, 13)
        s[1, j] = bad
        with pytest.raises(ValueError, match=re.escape(repr(shape.names[j]))):
            shape.soft(s, 16)
        with pytest.raises(ValueError, match=re.escape(repr(shape.names[j]))):
            shape.validate(s)


def test_soft_non_square_and_frames(shape):
    s = random_strokes(5, 8)
    square = shape.soft(s, 40)
    wide = shape.soft(s, 40, 70)
    assert wide.shape == (5, 40, 70) and torch.isfinite(wide).all()
    torch.testing.assert_close(wide[:, :, :40], square, atol=1e-5, rtol=0)
    # A frame shifted by a whole number of pixels shifts the alpha map.
    frames = torch.tensor([[30.0, 0.0, 40.0]]).expand(5, 3)
    shifted = shape.soft(s, 40, 70, frames=frames)
    torch.testing.assert_close(shifted[:, :, 30:], square, atol=1e-5, rtol=0)


def test_cost_follows_area(shape):
    size = 64
    s = example(SMALL, shape.name)
    frames = torch.tensor([[0.0, 0.0, float(size)]])
    boxes = shape.boxes(s, frames, frames[:, 2])
    win = windows_from_boxes(boxes, size, size)
    assert win.h * win.w < size * size / 16
    # ... and the window holds all of the stroke.
    ref = shape.reference(s, size)[0]
    inside = torch.zeros(size, size, dtype=torch.bool)
    inside[int(win.y0[0]) : int(win.y0[0]) + win.h, int(win.x0[0]) : int(win.x0[0]) + win.w] = True
    assert float(ref[~inside].abs().max()) == 0.0 and float(ref.sum()) > 0


# --- shape-specific ----------------------------------------------------------------------------


def test_circle_reference_is_one_bezier_disc():
    """The circle reference, written out pixel by pixel as the Bezier reference draws one disc."""
    size = 12
    s = random_strokes(4, 9)
    ref = get_shape("circle").reference(s, size)
    for n, (cx, cy, r, a, *_) in enumerate(s.double().tolist()):
        px, py = int(cx * (2 * size - 1) + 0.5), int(cy * (2 * size - 1) + 0.5)
        rad = int(1 + math.floor(r * size / 2))
        big = torch.zeros(2 * size, 2 * size, dtype=torch.float64)
        for row in range(2 * size):
            for col in range(2 * size):
                if (col - px) ** 2 + (row - py) ** 2 <= rad * rad:
                    big[row, col] = a
        want = big.view(size, 2, size, 2).mean(dim=(1, 3)).float()
        torch.testing.assert_close(ref[n], want, atol=1e-6, rtol=0)


def test_triangle_reference():
    tri = get_shape("triangle")
    s = torch.tensor([[0.0, 0.0, 1.0, 0.0, 0.0, 1.0, 1.0, 0, 0, 0]])
    # 2W = 16: lattice points with col + row <= 15, boundary included: 136 of 2x2 blocks of 4.
    assert float(tri.reference(s, 8).sum()) == 136 / 4
    # Orientation does not matter.
    flipped = s.clone()
    flipped[:, 2:4], flipped[:, 4:6] = s[:, 4:6], s[:, 2:4]
    assert torch.equal(tri.reference(flipped, 8), tri.reference(s, 8))
    # A zero-area triangle is its segment (not the whole supporting line), soft and reference.
    seg = torch.tensor([[0.25, 0.5, 0.75, 0.5, 0.5, 0.5, 1.0, 0, 0, 0]], requires_grad=True)
    ref = tri.reference(seg.detach(), 16)[0]
    assert float(ref[:, :3].sum()) == 0 and float(ref[:, -3:].sum()) == 0 and float(ref.sum()) > 0
    soft = tri.soft(seg, 16)
    soft.sum().backward()
    assert torch.isfinite(seg.grad).all() and float(soft.detach()[0, :, :3].sum()) == 0


# --- SVG ---------------------------------------------------------------------------------------


def svg_document(shape, strokes: torch.Tensor, size: int) -> str:
    els = []
    for i, s in enumerate(strokes.tolist()):
        fill = hex_color(s[COLOR])
        els.append(shape.svg(s, (0.0, 0.0, float(size)), float(size), fill, uid=f"s{i}-"))
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{size}" height="{size}" viewBox="0 0 {size} {size}">'
        f'<rect width="{size}" height="{size}" fill="#ffffff"/>' + "".join(els) + "</svg>"
    )


def test_svg_well_formed_unique_ids(shape):
    s = random_strokes(5, 10, 13)
    doc = svg_document(shape, s, 64)
    root = ET.fromstring(doc)
    ids = [el.get("id") for el in root.iter() if el.get("id")]
    assert len(ids) == len(set(ids))
    # Without a uid, distinct strokes still get distinct ids.
    one = [shape.svg(x, (0.0, 0.0, 64.0), 64.0, "#000000") for x in s.tolist()]
    ids = [el.get("id") for x in one for el in ET.fromstring(x).iter() if el.get("id")]
    assert len(ids) == len(set(ids))


def test_svg_matches_soft(shape):
    """30 random strokes composited over white by the soft rasteriser and by a real SVG renderer."""
    resvg = pytest.importorskip("resvg_py")
    from PIL import Image

    size, n = 128, 30
    s = random_strokes(n, 11, 13).double()
    s[:, 10:13] = torch.round(s[:, 10:13] * 255) / 255  # the SVG's colours are 8-bit
    alpha = shape.soft(s, size)
    canvas = torch.ones(3, size, size, dtype=torch.float64)
    for i in range(n):
        canvas = canvas * (1 - alpha[i]) + alpha[i] * s[i, 10:13, None, None]
    png = resvg.svg_to_bytes(svg_string=svg_document(shape, s, size))
    import numpy as np

    img = torch.from_numpy(np.asarray(Image.open(io.BytesIO(png)).convert("RGB")).astype(np.float64) / 255)
    assert psnr(img.permute(2, 0, 1), canvas) >= 30.0


@pytest.mark.slow
def test_compiled_soft_rasteriser_matches_eager_under_autograd():
    """The trainer uses torch.compile'd rasterisers; they must agree with eager and backpropagate."""
    eager = get_shape("bezier")
    fast = get_shape("bezier", compiled=True)
    s = random_strokes(6, 3, cols=13).requires_grad_(True)
    a = fast.soft(s, 24, validate=False)
    (a * torch.linspace(0, 1, 24)).sum().backward()
    g_fast = s.grad.clone()
    s.grad = None
    b = eager.soft(s, 24, validate=False)
    (b * torch.linspace(0, 1, 24)).sum().backward()
    assert torch.allclose(a, b, atol=1e-4)
    assert torch.isfinite(g_fast).all() and torch.allclose(g_fast, s.grad, atol=1e-3, rtol=1e-3)
