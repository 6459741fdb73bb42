"""Brush media (`brushwork.medium`): flat is today's look, the others texture the same strokes,
deterministically, at a scale that follows the painting, in PNG, JSON and SVG; bad input is refused."""

import dataclasses
import json
import xml.etree.ElementTree as ET

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from brushwork.cli import main as cli
from brushwork.medium import MEDIA, get_medium
from brushwork.metrics import psnr
from brushwork.painter.export import svg_document
from brushwork.painter.painter import paint
from brushwork.painter.painting import Painting
from brushwork.stroke.canvas import Background, paint_strokes

TEXTURED = [m for m in MEDIA if m != "flat"]
FAST = ["--method", "optimize", "--optimize-iters", "2", "--strokes", "6", "--width", "32", "--quiet"]


def photo(path, size=(64, 64)):
    from PIL import Image

    rng = np.random.default_rng(0)
    y, x = np.mgrid[0 : size[1], 0 : size[0]]
    arr = np.stack([x * 4, y * 4, (x + y) * 2], -1) % 256 * 0.7 + rng.integers(0, 60, (size[1], size[0], 3))
    Image.fromarray(arr.astype(np.uint8)).save(path)
    return path


@pytest.fixture(scope="module")
def painting(tmp_path_factory) -> Painting:
    """A small real painting: large and small Bezier strokes over the whole canvas."""
    src = photo(tmp_path_factory.mktemp("media") / "in.png")
    return paint(src, strokes=60, method="optimize", optimize_iters=4, width=64, quiet=True)


def render(p: Painting, medium: str, size: int | None = None) -> torch.Tensor:
    return p.render_tensor(size, size, medium=medium)[:3]


def test_registry_lists_and_refuses():
    assert MEDIA[0] == "flat" and {"oil", "watercolor", "pastel"} <= set(MEDIA)
    with pytest.raises(ValueError, match="unknown medium 'gouache'; choose one of flat, oil, watercolor, pastel"):
        get_medium("gouache")


def test_flat_renders_exactly_as_before(painting):
    p = painting
    before = paint_strokes(p.background.canvas(p.height, p.width), p.shape, p.strokes, p.frames, p.native)
    assert torch.equal(p.render_tensor(medium="flat"), before)
    assert p.medium == "flat"
    assert svg_document(p) == svg_document(dataclasses.replace(p, medium="flat"))


@pytest.mark.parametrize("medium", TEXTURED)
def test_each_medium_is_deterministic_textured_and_close_to_flat(painting, medium):
    a, b = render(painting, medium), render(painting, medium)
    assert torch.equal(a, b)
    flat = render(painting, "flat")
    close = float(psnr(a, flat))
    assert 18.0 < close < 45.0, close  # visibly changed, still the same picture
    assert a.min() >= 0 and a.max() <= 1


@pytest.mark.parametrize("medium", TEXTURED)
def test_texture_scale_follows_the_painting_not_the_pixel(painting, medium):
    # The same painting at 64 and 256 px, the large one box-filtered to 64: textures defined per pixel
    # would average away (or alias) and differ; resolution-free ones agree.  The texture (medium - flat)
    # must correlate across sizes.
    small, big = render(painting, medium, 64), render(painting, medium, 256)
    fs, fb = render(painting, "flat", 64), render(painting, "flat", 256)
    down = F.avg_pool2d(big[None], 4)[0]
    tex_s, tex_b = (small - fs).flatten(), (down - F.avg_pool2d(fb[None], 4)[0]).flatten()
    corr = float(torch.corrcoef(torch.stack([tex_s, tex_b]))[0, 1])
    assert corr > 0.5, corr
    assert float(psnr(down, small)) > 24.0


@pytest.mark.parametrize("medium", TEXTURED)
def test_media_refuse_shapes_and_grounds_they_cannot_paint(medium):
    m = get_medium(medium)
    with pytest.raises(ValueError, match="circle strokes have none"):
        m.check("circle", Background())
    if m.transparent_ok:
        m.check("bezier", Background.parse("transparent"))
    else:
        with pytest.raises(ValueError, match="transparent"):
            m.check("bezier", Background.parse("transparent"))


def test_oil_on_a_transparent_canvas_keeps_the_paint_inside_its_coverage(painting):
    p = dataclasses.replace(painting, background=Background.parse("transparent"), medium="oil", rendered=None)
    img = p.render_tensor()
    assert img.shape[0] == 4 and bool((img[:3] <= img[3:] + 1e-6).all())


def test_json_round_trip_keeps_the_medium_and_refuses_an_unknown_one(painting, tmp_path):
    p = dataclasses.replace(painting, medium="watercolor", rendered=None)
    p.save(tmp_path / "w.json")
    q = Painting.load(tmp_path / "w.json")
    assert q.medium == "watercolor"  # (the JSON rounds stroke numbers to 6 decimals)
    assert float((q.render_tensor() - p.render_tensor()).abs().max()) < 2e-3
    data = json.loads((tmp_path / "w.json").read_text())
    data["medium"] = "gouache"
    (tmp_path / "bad.json").write_text(json.dumps(data))
    with pytest.raises(ValueError, match="bad.json: unknown medium 'gouache'"):
        Painting.load(tmp_path / "bad.json")
    del data["medium"]  # files written before media: flat
    (tmp_path / "old.json").write_text(json.dumps(data))
    assert Painting.load(tmp_path / "old.json").medium == "flat"


@pytest.mark.parametrize("medium", TEXTURED)
def test_svg_carries_the_medium_parses_and_stays_small(painting, medium):
    p = dataclasses.replace(painting, medium=medium, rendered=None)
    doc = svg_document(p)
    ET.fromstring(doc)
    flat = svg_document(dataclasses.replace(p, medium="flat"))
    assert doc != flat
    assert len(doc) < 1.25 * len(flat) + 4000  # textures as patterns and filters, no per-pixel data


@pytest.mark.parametrize("medium", ["oil", "watercolor"])
def test_resvg_draws_the_medium_close_to_the_png(painting, medium):
    resvg = pytest.importorskip("resvg_py")
    import io

    from PIL import Image

    p = dataclasses.replace(painting, medium=medium, rendered=None)
    png = np.asarray(Image.open(io.BytesIO(resvg.svg_to_bytes(svg_string=svg_document(p)))).convert("RGB"))
    ref = p.render()[..., :3].astype(np.float64) / 255
    mse = float(((png.astype(np.float64) / 255 - ref) ** 2).mean())
    assert 10 * np.log10(1 / mse) > 18.0


def run(*args) -> int:
    return cli([str(a) for a in args])


def test_cli_paint_render_and_resume_keep_the_medium(tmp_path, capsys):
    src = photo(tmp_path / "in.png", (40, 32))
    assert run("paint", src, "-o", tmp_path / "a.png", "--json", tmp_path / "a.json", "--medium", "oil", *FAST) == 0
    a = Painting.load(tmp_path / "a.json")
    assert a.medium == "oil"
    args = [x if x != "6" else "10" for x in FAST]
    assert run("paint", src, "-o", tmp_path / "b.png", "--json", tmp_path / "b.json", "--resume", tmp_path / "a.json",
               *args) == 0
    b = Painting.load(tmp_path / "b.json")
    assert b.medium == "oil" and len(b) == 10
    assert run("render", tmp_path / "b.json", "-o", tmp_path / "p.png", "--medium", "pastel", "--size", "80") == 0
    assert "(pastel)" in capsys.readouterr().out


@pytest.mark.parametrize("cmd", ["paint", "render"])
def test_cli_unknown_medium_is_one_line_listing_the_media(tmp_path, capsys, cmd):
    src = photo(tmp_path / "in.png", (40, 32))
    if cmd == "paint":
        code = run("paint", src, "-o", tmp_path / "a.png", "--medium", "gouache", *FAST)
    else:
        assert run("paint", src, "-o", tmp_path / "a.png", "--json", tmp_path / "a.json", *FAST) == 0
        capsys.readouterr()
        code = run("render", tmp_path / "a.json", "-o", tmp_path / "r.png", "--medium", "gouache")
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and "gouache" in err[0] and "flat, oil, watercolor, pastel" in err[0]


def test_cli_medium_with_an_unsupported_shape_is_a_clear_error(tmp_path, capsys):
    src = photo(tmp_path / "in.png", (40, 32))
    assert run("paint", src, "-o", tmp_path / "a.png", "--medium", "oil", "--shape", "circle", *FAST) == 2
    assert "circle strokes have none" in capsys.readouterr().err


def test_a_palette_keeps_its_colours_and_the_medium_textures_them(tmp_path):
    palette = ["#1b1b1b", "#f2e8cf", "#bc4749"]
    p = paint(photo(tmp_path / "in.png", (40, 32)), strokes=8, method="optimize", optimize_iters=1, width=32,
              palette=palette, medium="oil", quiet=True)
    rgb = torch.tensor([Background.parse(c).rgb for c in palette])
    assert p.medium == "oil" and float(torch.cdist(p.strokes[:, 10:], rgb).min(1).values.max()) < 1e-6
    assert not np.array_equal(p.render(), dataclasses.replace(p, medium="flat", rendered=None).render())


def test_public_api_names_the_media():
    import brushwork

    assert brushwork.get_medium("oil").name == "oil"


def test_clipped_agent_strokes_stay_inside_their_tiles_in_a_medium(tmp_path, tiny_actor):
    p = paint(photo(tmp_path / "in.png", (48, 48)), strokes=20, method="agent", agent=str(tiny_actor), passes=2,
              tiles="paper", medium="pastel", quiet=True)
    assert p.medium == "pastel" and p.clips is not None
    flat = dataclasses.replace(p, medium="flat", rendered=None).render_tensor()
    painted = p.render_tensor()
    # where flat paint left the ground untouched, the medium's paint does too (clips and outlines kept)
    bare = (flat == p.background.canvas(p.height, p.width)).all(0)
    assert bool(bare.any()) and float((painted[:, bare] - flat[:, bare]).abs().max()) < 0.06


# --- the media in the optimiser (--medium-aware): torch twins of the kernels, with gradients ----------------
def _one_window(shape, st, fr, nat, h, w, dtype=torch.float32):
    from brushwork.stroke.base import windows_from_boxes

    win = windows_from_boxes(shape.boxes(st, fr, nat), h, w)
    px, py = win.grids(dtype)
    return win, px, py


@pytest.mark.parametrize("medium", TEXTURED)
def test_soft_paint_matches_the_kernel(medium):
    """Strokes painted in order by `Medium.soft_paint` (torch) give the kernel's canvas and layers."""
    from brushwork.medium.base import stroke_geometry, texture_seeds
    from brushwork.stroke import get_shape
    from brushwork.stroke.canvas import stroke_colors

    torch.manual_seed(0)
    shape, m, size, n = get_shape("bezier"), get_medium(medium), 96, 6
    st = torch.rand(n, 13)
    st[:, 6:8] = st[:, 6:8] * 0.3 + 0.05
    fr, nat = torch.tensor([0.0, 0.0, size]).expand(n, 3), torch.full((n,), float(size))
    s = m.session(shape, size, size, Background.parse("white"), float(size))
    maps = torch.from_numpy(s.maps.copy())
    s.paint(st, fr)
    canvas = Background.parse("white").canvas(size, size).clone()
    geom = stroke_geometry(shape, st.double(), fr.double(), nat.double())
    seeds, cols = torch.from_numpy(texture_seeds(0, n)), stroke_colors(st, 3)
    for i in range(n):
        win, px, py = _one_window(shape, st[i : i + 1], fr[i : i + 1], nat[i : i + 1], size, size)
        a = shape.soft_window(st[i : i + 1], fr[i : i + 1], nat[i : i + 1], px, py)
        y0, x0 = int(win.y0[0]), int(win.x0[0])
        under = canvas[None, :, y0 : y0 + win.h, x0 : x0 + win.w]
        mw = maps[None, :, y0 : y0 + win.h, x0 : x0 + win.w]
        cov, paint = m.soft_paint(a, geom[i : i + 1], px, py, mw, seeds[i : i + 1], s.unit, cols[i : i + 1], under)
        maps[:, y0 : y0 + win.h, x0 : x0 + win.w] = m.soft_update(mw, cov, a)[0]
        canvas[:, y0 : y0 + win.h, x0 : x0 + win.w] = (under * (1 - cov[:, None]) + cov[:, None] * paint)[0]
    assert (canvas - s.canvas).abs().max() < 1e-5
    if medium != "oil":  # oil's height only shows once lit (`finish`): the optimiser does not see it
        assert (maps - torch.from_numpy(s.maps)).abs().max() < 1e-5


@pytest.mark.parametrize("medium", TEXTURED)
def test_soft_paint_gradients_match_finite_differences(medium):
    """The texture is differentiable in the stroke's numbers (through its stroke-local coordinates, the
    bristle count, the pressure...): autograd agrees with central differences."""
    from brushwork.medium.base import stroke_geometry, texture_seeds
    from brushwork.stroke import get_shape

    torch.manual_seed(1)
    shape, m = get_shape("bezier"), get_medium(medium)
    st = torch.tensor([[0.2, 0.3, 0.5, 0.45, 0.8, 0.6, 0.3, 0.25, 0.9, 0.8, 0.5, 0.4, 0.3]], dtype=torch.float64)
    fr, nat = torch.tensor([[0.0, 0.0, 48.0]], dtype=torch.float64), torch.tensor([48.0], dtype=torch.float64)
    win, px, py = _one_window(shape, st, fr, nat, 48, 48, torch.float64)
    maps = torch.rand(1, 2, win.h, win.w, dtype=torch.float64) * 0.5
    under = torch.rand(1, 3, win.h, win.w, dtype=torch.float64)
    wts = torch.rand(1, 4, win.h, win.w, dtype=torch.float64)
    seeds = torch.from_numpy(texture_seeds(3, 1))

    def f(s):
        a = shape.soft_window(s, fr, nat, px, py)
        k, p = m.soft_paint(a, stroke_geometry(shape, s, fr, nat), px, py, maps, seeds, 1.0, s[:, 10:13], under)
        return (k * wts[:, 3]).sum() + (p * k[:, None] * wts[:, :3]).sum()

    s = st.clone().requires_grad_(True)
    f(s).backward()
    eye = torch.eye(13, dtype=torch.float64)[:, None] * 1e-6
    fd = torch.stack([(f(st + e) - f(st - e)) / 2e-6 for e in eye])
    assert torch.allclose(s.grad[0], fd, rtol=1e-5, atol=1e-4 * float(fd.abs().max()))


def test_medium_aware_paints_in_the_medium_and_flat_is_unchanged():
    """--medium-aware: the optimiser paints through the medium (exact stroke count, a valid painting);
    with flat it is the flat optimiser, stroke for stroke."""
    from brushwork.painter.optimize_windowed import DetailConfig, paint_windowed

    torch.manual_seed(0)
    target = F.interpolate(torch.rand(1, 3, 8, 8), size=(48, 48), mode="bilinear")[0]
    cfg = DetailConfig(iters=3, joint_iters=2)
    canvas = Background.parse("white").canvas(48, 48)
    flat, _ = paint_windowed(target, 30, "bezier", canvas.clone(), cfg, progress=False)
    same, _ = paint_windowed(target, 30, "bezier", canvas.clone(), cfg, progress=False, medium="flat")
    assert torch.equal(flat, same)
    for medium in TEXTURED:
        st, fr = paint_windowed(target, 30, "bezier", canvas.clone(), cfg, progress=False, medium=medium)
        assert st.shape == (30, 13) and torch.isfinite(st).all() and 0 <= float(st.min()) and float(st.max()) <= 1


def test_no_medium_aware_is_the_flat_painting_rendered_in_the_medium(tmp_path):
    """--medium-aware False: the strokes are the flat painting's (the texture applied after); True places
    them for the medium; unset, each medium's own default (`Medium.aware`) decides."""
    src = photo(tmp_path / "in.png", (40, 32))
    kw = dict(strokes=12, method="optimize", optimize_iters=2, width=32, quiet=True)
    flat = paint(src, **kw)
    after = paint(src, medium="watercolor", medium_aware=False, **kw)
    aware = paint(src, medium="watercolor", medium_aware=True, **kw)
    assert torch.equal(after.strokes, flat.strokes) and after.medium == aware.medium == "watercolor"
    assert not torch.equal(aware.strokes, flat.strokes)
    for medium in TEXTURED:  # unset: the medium's default
        default = paint(src, medium=medium, **kw)
        assert torch.equal(default.strokes, flat.strokes) is not get_medium(medium).aware, medium
    assert run("paint", src, "-o", tmp_path / "a.png", "--medium", "pastel", "--medium-aware", "False", *FAST) == 0


@pytest.mark.slow
def test_bench_media_tiny(tmp_path):
    """`brushwork bench media` end to end on a folder of tiny images: every medium measured, the report written."""
    from brushwork.bench.cli import Args, main
    from brushwork.bench.media import MediaArgs

    folder = tmp_path / "imgs"
    folder.mkdir()
    photo(folder / "a.png", (40, 32))
    doc, js = tmp_path / "media.md", tmp_path / "media.json"
    args = MediaArgs(images=folder, size=32, strokes=12, svg=False, json=js, doc=doc, fetch=False)
    assert main(Args(bench=args)) == 0
    result = json.loads(js.read_text())
    assert result["media"] == list(MEDIA) and len(result["images"]) == 1
    for m in MEDIA:
        r = result["images"][0]["media"][m]
        assert r["strokes"] == 12 and r["psnr"] > 5 and r["seconds"] > 0
    text = doc.read_text()
    assert all(f"| {m} |" in text for m in MEDIA)
