"""`brushwork bench renderers` and `brushwork bench paint` on tiny inputs (no fetched data, no shipped weights)."""

from __future__ import annotations

import importlib.util
import json
import math

import numpy as np
import pytest
import torch
from PIL import Image

from brushwork import cli
from brushwork.bench.cli import Args, main
from brushwork.bench.paint import PaintBenchArgs, paper_paint, quality
from brushwork.bench.renderers import RenderersArgs, held_out
from brushwork.io.weights import save_weights
from brushwork.render.model import NeuralRenderer, RendererConfig


def test_held_out_strokes_are_fixed_and_not_the_validation_set():
    a, b = held_out(8), held_out(8)
    assert torch.equal(a, b) and a.shape == (8, 10)
    from brushwork.render.train import Args as TrainArgs
    from brushwork.render.train import validation_set

    val, _ = validation_set(TrainArgs(val_strokes=8, size=16))
    assert not torch.allclose(a, val)


def test_bench_renderers_tiny(tmp_path, monkeypatch):
    monkeypatch.setattr("brushwork.io.weights.manifest", lambda: {})  # independent of the weights shipped today
    # A tiny "trained" renderer file stands in for --renderer PATH.
    path = tmp_path / "tiny.safetensors"
    cfg = RendererConfig(size=32, width=0.125)
    save_weights(path, NeuralRenderer(cfg).state_dict(), "renderer", cfg.to_dict(), steps=3)
    doc, js = tmp_path / "renderers.md", tmp_path / "renderers.json"
    args = RenderersArgs(strokes=20, size=32, sizes=(64,), renderer=[path], compiled=False, repeats=1, batch=8,
                         doc=doc, json=js)
    main(Args(bench=args))
    result = json.loads(js.read_text())
    rows = {(r["shape"], r["renderer"]): r for r in result["rows"]}
    for shape in ("bezier", "circle", "triangle", "bezier-opaque"):
        an = rows[(shape, "analytic (eager)")]
        for size in ("32", "64"):
            assert 18 < an["psnr"][size]["set"] < 80 and math.isfinite(an["psnr"][size]["median"])
        assert an["forward_s_per_1000"] > 0 and an["forward_backward_s_per_1000"] > 0
        assert rows[(shape, "reference")]["forward_s_per_1000"] > 0
    tiny = rows[("bezier", f"neural ({path})")]
    assert math.isfinite(tiny["psnr"]["32"]["set"]) and tiny["forward_backward_s_per_1000"] > 0
    assert rows[("circle", "neural")]["note"] == "not shipped"
    assert rows[("any", "neural, paper size, untrained")]["forward_backward_s_per_1000"] > 0
    text = doc.read_text()
    assert "| bezier | analytic (eager) |" in text and "brushwork bench renderers" in text
    assert "--strokes 20" in text and "## Targets" in text


def _images(folder, n=1, size=(36, 28)):
    folder.mkdir()
    y, x = np.mgrid[0 : size[1], 0 : size[0]]
    for i in range(n):
        rgb = np.stack([x * 255 // size[0], y * 255 // size[1], ((x // 6 + y // 6 + i) % 2) * 220], 2)
        Image.fromarray(rgb.astype(np.uint8)).save(folder / f"img{i}.png")
    return folder


@pytest.mark.slow
def test_bench_paint_isolated_optimize_and_missing_agent(tmp_path):
    images = _images(tmp_path / "imgs")
    doc, js = tmp_path / "docs" / "benchmarks.md", tmp_path / "paint.json"
    args = PaintBenchArgs(images=images, strokes="10", methods="agent,optimize", size="32",
                          agent=str(tmp_path / "missing.safetensors"), paper=False, doc=doc, json=js)
    assert cli.main(["bench", "paint", "--images", str(images), "--strokes", "10", "--methods", "agent,optimize",
                     "--size", "32", "--agent", args.agent, "--no-paper", "--doc", str(doc), "--json", str(js)]) == 0
    result = json.loads(js.read_text())
    cells = {c["method"]: c for c in result["cells"]}
    assert cells["agent"]["skipped"] == "no agent"
    opt = cells["optimize"]
    (img,) = opt["images"]
    assert (img["width"], img["height"]) == (32, 32)
    assert math.isfinite(img["psnr"]) and img["psnr"] > 5 and 0 < img["ssim"] <= 1 and img["seconds"] > 0
    assert opt["peak_rss_mib"] > 50 and opt["delta_rss_mib"] >= 0
    text = doc.read_text()
    assert "| bezier | optimize | 10 |" in text and "no agent" in text
    if importlib.util.find_spec("matplotlib"):  # the plots need the bench extra
        assert (doc.parent / "images" / "bench_psnr_strokes.png").is_file()
        assert (doc.parent / "images" / "bench_psnr_seconds.png").is_file()


def test_bench_paint_in_process_agent_and_refine(tmp_path, tiny_actor):
    from brushwork.bench.paint import run

    images = _images(tmp_path / "imgs", n=2)
    args = PaintBenchArgs(images=images, strokes="10,15", methods="agent,refine", size="native", agent=str(tiny_actor),
                          paper=False, isolate=False, doc=None, max_images=1)
    result = run(args)
    assert len(result["images"]) == 1
    for c in result["cells"]:
        (img,) = c["images"]
        assert (img["width"], img["height"]) == (36, 28)  # native size: no crop
        assert img["psnr"] > 5 and c["peak_rss_mib"] is None  # no memory figure in-process


def test_paper_loop_and_quality():
    from brushwork.agent.networks import Actor, NetConfig

    actor = Actor(NetConfig(width=4)).eval()
    render = NeuralRenderer(RendererConfig(size=32, width=0.125)).eval()
    target = torch.rand(2, 3, 32, 32)
    out = paper_paint(target, actor, lambda s: render(s[:, :10]), steps=3, bundle=5)
    assert out.shape == target.shape and 0 <= out.min() and out.max() <= 1
    assert torch.equal(out, (out * 255).round() / 255)  # stored as uint8 between steps
    a = (np.random.default_rng(0).random((16, 16, 3)) * 255).astype(np.uint8)
    q = quality(a, a)
    assert q["mse"] == 0 and q["ssim"] == pytest.approx(1.0) and q["psnr"] == pytest.approx(100.0)


def test_bench_paint_fetches_the_dev_photos_it_needs(tmp_path, monkeypatch):
    """A fresh machine: the default images are fetched first (or, with --no-fetch, named as missing)."""
    from brushwork.bench import paint as bench_paint

    monkeypatch.setenv("BRUSHWORK_DATA", str(tmp_path / "data"))
    with pytest.raises(ValueError, match="photos"):
        bench_paint.image_paths(bench_paint.PaintBenchArgs(fetch=False))
    fetched = []

    def fake_fetch(only=None, **kw):
        fetched.append(only)
        raise ValueError("dataset 'photos' could not be fetched here")

    monkeypatch.setattr("brushwork.data.fetch", fake_fetch)
    with pytest.raises(ValueError, match="could not be fetched"):
        bench_paint.image_paths(bench_paint.PaintBenchArgs())
    assert fetched == ["photos"]


def test_bench_paint_divide_row_and_plots(tmp_path, tiny_actor):
    """The paper's divide pipeline is its own row and curve (method divide, after the agent's), and the report's
    plots are written under the report's own names."""
    from brushwork.bench.paint import DIVIDE, run

    images = _images(tmp_path / "imgs", n=1, size=(48, 48))
    doc, js = tmp_path / "docs" / "benchmarks" / "paint-tiny.md", tmp_path / "paint.json"
    args = PaintBenchArgs(images=images, strokes="10,20", methods="agent,optimize", size="32", agent=str(tiny_actor),
                          paper=False, isolate=False, doc=doc, json=js)
    assert args.lists()[1] == ["agent", "divide", "optimize"]
    assert PaintBenchArgs(methods="agent", divide=False).lists()[1] == ["agent"]
    assert PaintBenchArgs(methods="divide,optimize").lists()[1] == ["divide", "optimize"]
    with pytest.raises(ValueError, match="divide"):
        PaintBenchArgs(methods="agent,paper").lists()
    run(args)
    result = json.loads(js.read_text())
    assert result["divide"] == DIVIDE
    divide = [c for c in result["cells"] if c["method"] == "divide"]
    assert [c["strokes"] for c in divide] == [10, 20]
    for c in divide:
        assert c["mean"]["psnr"] > 5 and c["mean"]["seconds"] > 0
    text = doc.read_text()
    assert "| bezier | agent (paper divide) | 10 |" in text and 'tiles=\\"paper\\"' not in text
    assert 'tiles="paper", passes=3, finer=False' in text
    if importlib.util.find_spec("matplotlib"):
        for name in ("paint-tiny_psnr_strokes.png", "paint-tiny_psnr_seconds.png"):
            assert (doc.parent / "images" / name).stat().st_size > 1000
            assert f"](images/{name})" in text
