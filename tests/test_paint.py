"""`brushwork paint` / `render` and the Python API: outputs, exact budgets, bad input."""

import io
import json

import numpy as np
import pytest
import torch
from PIL import Image

from brushwork.cli import main as cli
from brushwork.io.images import to_uint8
from brushwork.painter.painter import paint
from brushwork.painter.painting import Painting

FAST = ["--method", "optimize", "--optimize-iters", "2", "--strokes", "6", "--width", "32", "--quiet"]


def photo(path, size=(48, 40), mode="RGB", **save):
    rng = np.random.default_rng(0)
    ramp = np.linspace(0, 255, size[0] * size[1] * 3).reshape(size[1], size[0], 3)
    arr = (ramp * 0.5 + rng.integers(0, 128, (size[1], size[0], 3))).astype(np.uint8)
    Image.fromarray(arr).convert(mode).save(path, **save)
    return path


def run(*args) -> int:
    return cli([str(a) for a in args])


def test_python_api_returns_a_painting(tmp_path, tiny_actor):
    p = paint(photo(tmp_path / "a.png"), strokes=7, method="agent", agent=str(tiny_actor), width=40, quiet=True)
    assert isinstance(p, Painting) and len(p) == 7
    assert p.image.shape == (33, 40, 3)  # aspect ratio kept
    assert {"psnr", "ssim", "seconds", "strokes"} <= set(p.metrics)


@pytest.mark.parametrize("tiles", ["overlap", "paper"])
def test_agent_canvas_reused_as_the_painting_matches_a_fresh_render(tmp_path, tiny_actor, tiles):
    # At the working size paint() keeps the agent's own canvas instead of rendering the strokes again.
    p = paint(photo(tmp_path / "a.png", (48, 40)), strokes=23, method="agent", agent=str(tiny_actor), passes=2,
              tiles=tiles, quiet=True)
    assert p.rendered is not None
    fresh = to_uint8(p.render_tensor()).astype(int)
    assert np.abs(p.image.astype(int) - fresh).max() <= 1


@pytest.mark.parametrize("shape", ["bezier", "circle"])
def test_refine_improves_on_the_agent_and_paints_what_it_optimised(tmp_path, tiny_actor, shape):
    # bezier: the windowed joint pass, which paints strokes whole (clips dropped); circle: the dense pass
    if shape != "bezier":  # the same untrained actor, relabelled for circles (13 numbers per stroke either way)
        from brushwork.io.weights import load_weights, save_weights

        state, meta = load_weights(tiny_actor, "actor")
        meta["config"]["shape"] = shape
        save_weights(tiny_actor, state, "actor", meta["config"])
    img = photo(tmp_path / "a.png", (48, 48))
    kw = dict(strokes=20, agent=str(tiny_actor), shape=shape, tiles="paper", passes=2, quiet=True)
    a = paint(img, method="agent", **kw)
    r = paint(img, method="refine", refine_iters=15, **kw)
    assert len(r) == 20 and r.metrics["psnr"] > a.metrics["psnr"] + 0.5
    assert (r.clips is None) == (shape == "bezier") and a.clips is not None
    fresh = to_uint8(r.render_tensor()).astype(int)  # what the metrics measured is what the strokes draw
    assert np.abs(r.image.astype(int) - fresh).max() <= 1


def actor_with(tmp_path, tiny_actor, name: str, **config):
    """A copy of the tiny actor's file whose stored config has ``config`` changed (levels, data, ...)."""
    from brushwork.io.weights import load_weights, save_weights

    state, meta = load_weights(tiny_actor, "actor")
    path = tmp_path / f"{name}.safetensors"
    save_weights(path, state, "actor", {**meta["config"], **config})
    return path


def test_auto_tiling_is_the_one_the_agent_was_trained_on(tmp_path, tiny_actor):
    img = photo(tmp_path / "a.png", (48, 48))
    kw = dict(strokes=20, method="agent", passes=2, quiet=True)
    assert paint(img, agent=str(tiny_actor), **kw).clips is None  # a DDPG-style actor: overlap
    # trained on coarse-to-fine tiles (--algo direct): paper
    tiled = actor_with(tmp_path, tiny_actor, "tiled", levels=[[1, 2], [2, 2]])
    assert paint(img, agent=str(tiled), **kw).clips is not None
    assert paint(img, agent=str(tiled), tiles="overlap", **kw).clips is None
    with pytest.raises(ValueError, match="--tiles must be one of auto, overlap, paper"):
        paint(img, agent=str(tiled), tiles="grid", **kw)


def test_finer_pass_budgets():
    from brushwork.schedule.tiles import agent_passes, pass_budgets

    levels = ((1, 8), (2, 4), (4, 1))
    for n in (1, 50, 159, 160, 200, 401, 1000):
        passes = agent_passes(n, levels, 128, 128, obs=32)
        assert passes == (4 if n >= 160 else 3)  # the 8 x 8 pass takes 2/5 of n: one stroke per tile from n = 160
        # (and at 128 px no finer pass: 8 px tiles are under half the agent's 32 px observation)
        budgets = pass_budgets(n, passes, levels)
        assert sum(budgets) == n and len(budgets) == passes
    assert pass_budgets(200, 4, levels) == [20, 20, 80, 80]
    assert pass_budgets(200, 3, levels) == [40, 80, 80]  # the trained proportions (g^2 x steps)
    assert agent_passes(200, levels, 128, 128, finer=False) == 3 and agent_passes(200, ((1, 8),), 128, 128) == 1
    # trained on whole images: equal shares, passes while the finest grid keeps a stroke per 16 tiles
    assert [agent_passes(n, None, 128, 128) for n in (5, 50, 200, 400)] == [3, 4, 5, 6]
    assert agent_passes(200, None, 128, 128, finer=False) == 1 and agent_passes(5, None, 4096, 4096) == 3
    assert pass_budgets(200, 4) == [50] * 4


def test_finer_pass_paints_a_grid_twice_as_fine(tmp_path, tiny_actor):
    tiled = actor_with(tmp_path, tiny_actor, "tiled", levels=[[1, 2], [2, 2]])  # trained on 1 x 1 and 2 x 2 tiles
    img = photo(tmp_path / "a.png", (48, 48))
    side = lambda p: (p.clips[:, 2] - p.clips[:, 0]).round().tolist()  # noqa: E731  (paper tiles: clip = tile)
    kw = dict(strokes=40, method="agent", agent=str(tiled), quiet=True, repaint=0.0)  # the passes alone
    assert side(paint(img, **kw)) == [48.0] * 8 + [24.0] * 16 + [12.0] * 16  # 4 x 4 tiles: 2/5 of the budget
    assert side(paint(img, finer=False, **kw)) == [48.0] * 8 + [24.0] * 32  # trained proportions 1 : 4
    assert set(side(paint(img, **{**kw, "strokes": 39}))) == {48.0, 24.0}  # 2/5 x 39 < 16 tiles: no finer pass


def test_agents_trained_on_digits_paint_whole(tmp_path, tiny_actor):
    img = photo(tmp_path / "a.png", (48, 48))
    kw = dict(strokes=40, method="agent", quiet=True)
    for data, passes in (("photos", 4), ("mnist", 1)):
        path = actor_with(tmp_path, tiny_actor, data, data=data)
        assert paint(img, agent=str(path), **kw).metrics["passes"] == passes


@pytest.mark.parametrize("n", [1, 5, 7, 23])
def test_stroke_budget_is_exact(tmp_path, tiny_actor, n):
    p = paint(photo(tmp_path / "a.png", (64, 64)), strokes=n, method="agent", agent=str(tiny_actor), quiet=True)
    assert len(p) == n


def test_exact_budget_across_passes_and_tiles(tmp_path, tiny_actor):
    img = photo(tmp_path / "wide.png", (90, 40))
    for tiles in ("overlap", "paper"):
        p = paint(img, strokes=37, method="agent", agent=str(tiny_actor), passes=2, tiles=tiles, quiet=True)
        assert len(p) == 37 and p.image.shape == (40, 90, 3)
    assert p.clips is not None  # paper tiles clip their strokes


def test_a_step_cut_short_paints_where_the_error_is():
    from brushwork.schedule.tiles import allot_slots

    mask = allot_slots(torch.tensor([1.0, 9.0, 0.0, 4.0]), 5, 6)
    assert mask.sum() == 6 and not mask[2].any()  # exact budget; a tile with nothing to paint gets none
    assert mask[1].sum() > mask[3].sum() > 0  # more error, more strokes
    assert all(row.tolist() == sorted(row.tolist(), reverse=True) for row in mask)  # each tile: its first slots
    assert allot_slots(torch.ones(3), 2, 4).sum(0).tolist() == [3, 1]  # ties: every tile's first slot first


def test_a_cut_step_asks_the_agent_only_for_the_tiles_it_paints():
    from brushwork.agent.policy import Policy
    from brushwork.painter.agent_loop import agent_strokes

    class Invisible(Policy):  # strokes of opacity 0, and a record of how many tiles each step showed it
        def act(self, canvas, target, t, steps):
            self.seen.append(len(canvas))
            return torch.zeros(len(canvas), self.bundle, 13)

    policy = Invisible(None, 16, 5, 4, "bezier", "black", {}, ((1, 1), (2, 1)))
    policy.seen = []
    target = torch.zeros(3, 32, 32)
    target[:, :, 16:] = 1  # the right half white, the left black like the canvas: nothing to paint there
    canvas = torch.zeros(3, 32, 32)
    # levels 1x1 and 2x1 in their proportions 1 : 4: 1 stroke on the whole image, then 4 of the 2 x 2
    # tiles' 20 slots, all on the two right-hand tiles
    strokes, frames, clips = agent_strokes(policy, target, 5, "bezier", "paper", canvas, 2, None, None, 1.0)
    assert len(strokes) == 5 and policy.seen == [1, 2]
    assert (frames[1:, 0] == 16).all() and torch.equal(canvas, torch.zeros(3, 32, 32))


def test_all_outputs_and_render_round_trip(tmp_path):
    src = photo(tmp_path / "in.png")
    out = tmp_path / "o"
    out.mkdir()
    code = run("paint", src, "-o", out / "p.png", "--svg", out / "p.svg", "--json", out / "p.json", "--video",
               out / "p.gif", *FAST)
    assert code == 0
    for ext in ("jpg", "webp"):
        assert run("paint", src, "-o", out / f"p.{ext}", *FAST) == 0
        assert Image.open(out / f"p.{ext}").size == (32, 27)
    png = np.asarray(Image.open(out / "p.png"))
    assert png.shape == (27, 32, 3)
    # JSON re-renders to the same image at the same size, and at any other size
    assert run("render", out / "p.json", "-o", out / "r.png") == 0
    assert np.abs(np.asarray(Image.open(out / "r.png")).astype(int) - png).max() <= 1
    assert run("render", out / "p.json", "-o", out / "big.png", "--size", "96x81") == 0
    assert Image.open(out / "big.png").size == (96, 81)
    data = json.loads((out / "p.json").read_text())
    assert data["format"] == "brushwork-strokes" and data["version"] == 1 and len(data["strokes"]) == 6
    gif = Image.open(out / "p.gif")
    assert gif.n_frames >= 2


@pytest.mark.parametrize("ext", ["mp4", "webm"])
def test_video_outputs(tmp_path, ext):
    import imageio.v2 as imageio

    p = paint(photo(tmp_path / "in.png"), strokes=5, method="optimize", optimize_iters=1, width=32, quiet=True)
    path = p.save(tmp_path / f"v.{ext}")
    frames = imageio.mimread(path)
    assert len(frames) >= 5 and frames[0].shape[:2] == (26, 32)


def test_svg_matches_png(tmp_path):
    resvg = pytest.importorskip("resvg_py")
    from brushwork.metrics import psnr
    from brushwork.painter.export import svg_document

    p = paint(photo(tmp_path / "in.png", (64, 64)), strokes=25, method="optimize", optimize_iters=3, quiet=True)
    png = resvg.svg_to_bytes(svg_string=svg_document(p))
    svg_img = np.asarray(Image.open(io.BytesIO(bytes(png))).convert("RGB"))
    t = lambda a: torch.from_numpy(a.astype(np.float32) / 255).permute(2, 0, 1)  # noqa: E731
    assert float(psnr(t(svg_img), t(p.image))) >= 30


def test_resume_continues_from_json(tmp_path):
    src = photo(tmp_path / "in.png")
    assert run("paint", src, "-o", tmp_path / "a.png", "--json", tmp_path / "a.json", *FAST) == 0
    args = [a if a != "6" else "10" for a in FAST]
    assert run("paint", src, "-o", tmp_path / "b.png", "--json", tmp_path / "b.json", "--resume", tmp_path / "a.json", *args) == 0
    a, b = Painting.load(tmp_path / "a.json"), Painting.load(tmp_path / "b.json")
    assert len(b) == 10 and torch.allclose(b.strokes[:6], a.strokes, atol=1e-5)


def test_transparent_background_gives_rgba(tmp_path):
    p = paint(photo(tmp_path / "in.png"), strokes=4, method="optimize", optimize_iters=1, width=32,
              background="transparent", quiet=True)
    img = p.render()
    assert img.shape[2] == 4 and img[..., 3].min() < 255
    p.save(tmp_path / "t.png")
    assert Image.open(tmp_path / "t.png").mode == "RGBA"


def test_palette_restricts_colours(tmp_path):
    pal = ["#ff0000", "#00ff00", "#0000ff"]
    p = paint(photo(tmp_path / "in.png"), strokes=6, method="optimize", optimize_iters=2, width=32, palette=pal, quiet=True)
    allowed = torch.tensor([[1.0, 0, 0], [0, 1.0, 0], [0, 0, 1.0]])
    assert torch.cdist(p.strokes[:, 10:13], allowed).min(1).values.max() < 0.02


# --- inputs that must be painted correctly -------------------------------------------------------
@pytest.mark.parametrize("kind", ["16bit", "palette", "cmyk", "grey", "rgba", "exif", "gif"])
def test_unusual_images_are_painted(tmp_path, kind, capsys):
    path = tmp_path / "img"
    if kind == "16bit":
        arr = (np.arange(40 * 48, dtype=np.uint16).reshape(40, 48) * 30)
        path = path.with_suffix(".png")
        Image.fromarray(arr).save(path)
    elif kind == "palette":
        path = photo(path.with_suffix(".png"), mode="P")
    elif kind == "cmyk":
        path = photo(path.with_suffix(".jpg"), mode="CMYK")
    elif kind == "grey":
        path = photo(path.with_suffix(".png"), mode="L")
    elif kind == "rgba":
        path = photo(path.with_suffix(".png"), mode="RGBA")
    elif kind == "exif":
        im = Image.open(photo(tmp_path / "base.png", (48, 40)))
        exif = im.getexif()
        exif[0x0112] = 6  # rotate 90 degrees on display
        path = path.with_suffix(".jpg")
        im.save(path, exif=exif)
    else:
        frames = [Image.new("RGB", (48, 40), c) for c in ("red", "green", "blue")]
        path = path.with_suffix(".gif")
        frames[0].save(path, save_all=True, append_images=frames[1:])
    out = tmp_path / "out.png"
    assert run("paint", path, "-o", out, *[a for a in FAST if a != "--quiet"]) == 0
    w, h = Image.open(out).size
    assert w == 32 and h == (38 if kind == "exif" else 27)  # EXIF orientation respected (40x48 upright)
    printed = capsys.readouterr().out
    if kind == "gif":
        assert "first frame" in printed


# --- inputs that must fail cleanly ---------------------------------------------------------------
def _fails(capsys, *args, match: str) -> None:
    assert run(*args) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and match in err[0], err


def test_missing_file(tmp_path, capsys):
    _fails(capsys, "paint", tmp_path / "nope.png", "-o", tmp_path / "o.png", *FAST, match="nope.png")


def test_non_image_and_corrupt_files(tmp_path, capsys):
    txt = tmp_path / "notes.png"
    txt.write_text("hello")
    _fails(capsys, "paint", txt, "-o", tmp_path / "o.png", *FAST, match="notes.png")
    good = photo(tmp_path / "good.png").read_bytes()
    cut = tmp_path / "cut.png"
    cut.write_bytes(good[: len(good) // 2])
    _fails(capsys, "paint", cut, "-o", tmp_path / "o.png", *FAST, match="cut.png")


def test_tiny_and_huge_images(tmp_path, capsys, monkeypatch):
    one = tmp_path / "one.png"
    Image.new("RGB", (1, 1)).save(one)
    _fails(capsys, "paint", one, "-o", tmp_path / "o.png", *FAST, match="one.png")
    zero = tmp_path / "zero.png"
    zero.write_bytes(b"")
    _fails(capsys, "paint", zero, "-o", tmp_path / "o.png", *FAST, match="zero.png")
    import brushwork.io.images as images

    monkeypatch.setattr(images, "MAX_PIXELS", 1000)
    _fails(capsys, "paint", photo(tmp_path / "big.png"), "-o", tmp_path / "o.png", *FAST, match="big.png")


def test_bad_output_paths(tmp_path, capsys):
    src = photo(tmp_path / "in.png")
    _fails(capsys, "paint", src, "-o", tmp_path / "missing" / "o.png", *FAST, match="does not exist")
    blocker = tmp_path / "file.txt"
    blocker.write_text("x")
    _fails(capsys, "paint", src, "-o", blocker / "o.png", *FAST, match="o.png")
    _fails(capsys, "paint", src, "-o", tmp_path / "o.bmp", *FAST, match="unsupported")


def test_failed_write_keeps_the_old_file(tmp_path, monkeypatch):
    from brushwork.painter import export

    p = paint(photo(tmp_path / "in.png"), strokes=3, method="optimize", optimize_iters=1, width=32, quiet=True)
    target = tmp_path / "keep.svg"
    target.write_text("old")

    def boom(*a, **k):
        raise RuntimeError("disk full")

    monkeypatch.setattr(export, "svg_document", boom)
    with pytest.raises(RuntimeError):
        p.save(target)
    assert target.read_text() == "old" and not list(tmp_path.glob(".keep.svg*"))


def test_batch_folder_resumes_and_reports_failures(tmp_path, capsys):
    src = tmp_path / "in"
    src.mkdir()
    photo(src / "a.png")
    photo(src / "b.jpg")
    (src / "bad.png").write_text("not an image")
    out = tmp_path / "out"
    assert run("paint", src, "-o", out, "--json", "x.json", *FAST) == 1
    captured = capsys.readouterr()
    assert "bad.png" in captured.err and "1 failed" in captured.out
    assert (out / "a.png").exists() and (out / "b.png").exists() and (out / "a.json").exists()
    before = (out / "a.png").stat().st_mtime_ns
    assert run("paint", src, "-o", out, "--json", "x.json", *FAST) == 1
    assert "skipped 2" in capsys.readouterr().out and (out / "a.png").stat().st_mtime_ns == before


def test_bad_options(tmp_path, capsys):
    src = photo(tmp_path / "in.png")
    _fails(capsys, "paint", src, "-o", tmp_path / "o.png", "--method", "magic", match="method")
    _fails(capsys, "paint", src, "-o", tmp_path / "o.png", "--background", "plaid", match="background")
    _fails(capsys, "paint", src, "-o", tmp_path / "o.png", "--shape", "blob", match="shape")
