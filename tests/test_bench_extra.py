"""`brushwork bench scaling` and `brushwork bench seams` on tiny generated images with the untrained
`tiny_actor` (no fetched data, no shipped weights)."""

from __future__ import annotations

import importlib.util
import json

import numpy as np
import pytest
import tyro
from PIL import Image

from brushwork.bench.cli import Args, main
from brushwork.bench.common import NOTES_START
from brushwork.bench.scaling import ScalingArgs, exponents, resolve_agent, run_cell_isolated, slope, write_doc
from brushwork.bench.seams import SeamsArgs, band_mask, border_lines, error_profile, seam_metrics
from brushwork.painter.painter import AUTO_METHOD

HAS_MPL = importlib.util.find_spec("matplotlib") is not None


def _image(path, size=(40, 32), shift=0):
    y, x = np.mgrid[0 : size[1], 0 : size[0]]
    rgb = np.stack([x * 255 // size[0], y * 255 // size[1], ((x // 5 + y // 5 + shift) % 2) * 220], 2)
    Image.fromarray(rgb.astype(np.uint8)).save(path)
    return path


def test_cli_wiring():
    args = tyro.cli(Args, args=["scaling", "--sizes", "32,64", "--no-headline"])
    assert isinstance(args.bench, ScalingArgs) and args.bench.sizes == "32,64" and not args.bench.headline
    args = tyro.cli(Args, args=["seams", "--size", "64", "--agent", "x.safetensors"])
    assert isinstance(args.bench, SeamsArgs) and args.bench.size == 64 and args.bench.agent == "x.safetensors"


def test_slopes_and_flags():
    assert slope([1, 2, 4], [3, 12, 48]) == pytest.approx(2.0)
    assert slope([5], [1]) is None
    cells = [{"n": n, "s": 0.5 + n} for n in (10, 100, 1000)]  # linear plus a fixed cost
    e = exponents(cells, lambda c: c["n"], "s")
    assert e["points"] == 3 and 0.8 < e["fit"] < 1.0 and e["last"] == pytest.approx(1.0, abs=0.01) and not e["flag"]
    quad = exponents([{"n": n, "s": n * n} for n in (10, 100)], lambda c: c["n"], "s")
    assert quad["flag"] and quad["last"] == pytest.approx(2.0)


def test_agent_fallback(tmp_path, monkeypatch):
    monkeypatch.setattr("brushwork.io.weights.manifest", lambda: {})  # no shipped "photo" agent
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ValueError, match="pass --agent PATH"):
        resolve_agent("photo", root=tmp_path)
    with pytest.raises(ValueError, match="--agent nope"):
        resolve_agent("nope", root=tmp_path)
    run = tmp_path / "runs" / "agent-photo-l2"
    run.mkdir(parents=True)
    (run / "actor.safetensors").write_bytes(b"x")
    path, note = resolve_agent("photo", root=tmp_path)
    assert path == run / "actor.safetensors" and "no shipped 'photo' agent" in note


def test_bench_scaling_in_process(tmp_path, tiny_actor):
    img = _image(tmp_path / "img.png")
    doc, js, plots = tmp_path / "docs" / "benchmarks" / "scaling.md", tmp_path / "s.json", tmp_path / "docs" / "images"
    args = ScalingArgs(image=img, agent=str(tiny_actor), strokes="10,20", strokes_size=32, sizes="24,48", size_strokes=10,
                       render_from=48, videos="gif", video_size=32, video_frames="3", headline_strokes=10,
                       headline_size=32, isolate=False, doc=doc, plots=plots, json=js)
    assert main(Args(bench=args)) == 0
    result = json.loads(js.read_text())
    cells = result["cells"]
    # (agent, 10, 32) is shared by the stroke sweep and the headline: it ran once.
    shared = [c for c in cells if c["kind"] == "paint" and c["method"] == "agent" and c["strokes"] == 10 and c["size"] == 32]
    assert len(shared) == 1 and set(shared[0]["groups"]) == {"strokes", "headline"}
    assert all("error" not in c for c in cells), [c.get("error") for c in cells]
    paint = [c for c in cells if c["kind"] == "paint"]
    assert all(c["seconds"] > 0 and c["peak_rss_mib"] is None for c in paint)
    # agent paintings at the working size reuse the agent's canvas: no separate output render
    assert all(c["output_render_s"] > 0 for c in paint if c["method"] != "agent")
    assert all(c["agent_loop_s"] > 0 for c in paint if c["method"] == "agent")
    auto = next(c for c in paint if c["method"] == "auto")
    assert auto["method_used"] == AUTO_METHOD
    assert {c["size"] for c in cells if c["kind"] == "render"} == {24, 48}
    (video,) = [c for c in cells if c["kind"] == "video"]
    assert video["bytes"] > 0
    assert result["exponents"]["time_vs_strokes (agent paint)"]["points"] == 2
    text = doc.read_text()
    assert "brushwork bench scaling" in text and "## Growth exponents" in text and "10 strokes at 32 px" in text
    if HAS_MPL:
        assert (plots / "scaling_strokes.png").is_file() and (plots / "scaling_size.png").is_file()
        assert "](../images/scaling_size.png)" in text
    # Hand-written notes between the markers survive a regenerated report.
    doc.write_text(text.replace(NOTES_START + "\n", NOTES_START + "\nThe cause is X.\n"))
    write_doc(doc, result, [])
    assert "\nThe cause is X.\n" in doc.read_text()


def test_isolated_cell_memory_and_timeout(tmp_path, tiny_actor):
    img = _image(tmp_path / "img.png")
    spec = {"kind": "paint", "method": "agent", "strokes": 5, "size": 32, "image": str(img), "agent": str(tiny_actor),
            "threads": 1, "mem_limit_gib": 0}
    out = run_cell_isolated(spec, timeout=120)
    assert out["seconds"] > 0 and out["peak_rss_mib"] > 50 and out["delta_rss_mib"] >= 0
    out = run_cell_isolated(spec, timeout=0.2)  # killed long before torch is even imported
    assert out["timeout"] and "timed out" in out["error"]


def test_seam_geometry_and_metrics():
    xs, ys = border_lines(512, 512, 2, "paper")
    assert (xs, ys) == ([256], [256])
    assert border_lines(512, 512, 3, "paper") == ([128, 256, 384], [128, 256, 384])
    ox, _ = border_lines(512, 512, 2, "overlap")
    assert ox == [192, 320]  # 160-px tiles at 0 and 96 on the 256-px working canvas, doubled
    m = band_mask(4, 12, [6], [], 2)
    assert m[0].tolist() == [False] * 4 + [True] * 4 + [False] * 4
    rng = np.random.default_rng(0)
    target = (rng.random((64, 64, 3)) * 255).astype(np.uint8)
    noisy = np.clip(target.astype(int) + rng.integers(-20, 21, target.shape), 0, 255).astype(np.uint8)
    clean = seam_metrics(noisy, target, [32], [32])
    assert clean["ratio"] == pytest.approx(1.0, abs=0.1) and clean["flank_ratio"] == pytest.approx(1.0, abs=0.1)
    assert abs(clean["excess_jump"]) < 2
    seamed = noisy.copy()
    seamed[:, 32:] = np.clip(seamed[:, 32:].astype(int) + 60, 0, 255)  # a step at the border x = 32
    s = seam_metrics(seamed, target, [32], [])
    assert s["excess_jump"] > 5 and seam_metrics(noisy, target, [32], [])["excess_jump"] < 2
    edge = noisy.copy()
    edge[:, 30:34] = 0  # wrong paint along the border only
    e = seam_metrics(edge, target, [32], [32])
    assert e["ratio"] > 2 and e["flank_ratio"] > 2
    prof = error_profile(edge, target, [32], [], reach=4)
    assert prof.shape == (8,) and prof[2:6].min() > prof[[0, 1, 6, 7]].max()


def test_bench_seams_tiny(tmp_path, tiny_actor):
    folder = tmp_path / "imgs"
    folder.mkdir()
    for i in range(2):
        _image(folder / f"img{i}.png", shift=i)
    doc, js, plots = tmp_path / "docs" / "benchmarks" / "seams.md", tmp_path / "seams.json", tmp_path / "docs" / "images"
    args = SeamsArgs(images=folder, size=32, strokes=20, passes=2, agent=str(tiny_actor), doc=doc, plots=plots, json=js)
    assert main(Args(bench=args)) == 0
    result = json.loads(js.read_text())
    modes = ["auto", "shifted", "overlap", "paper"]
    assert result["tilings"] == modes and result["passes"] == 2
    assert len(result["images"]) == 2 and result["lines"]["paper"] == {"x": [16], "y": [16]}
    assert result["resolved"]["auto"] == "overlap"  # the tiny actor has no levels: trained on whole images
    for im in result["images"]:
        assert im["modes"]["paper"]["clipped"] and im["modes"]["shifted"]["clipped"]
        assert not im["modes"]["overlap"]["clipped"] and not im["modes"]["auto"]["clipped"]
        for m in modes:
            r = im["modes"][m]
            assert r["ratio"] > 0 and r["own_edges"]["ratio"] > 0 and np.isfinite(r["excess_jump"]) and r["psnr"] > 5
    assert result["mean"]["shifted"]["own_edges"]["ratio"] > 0
    assert len(result["profile"]["shifted"]) == 32
    text = doc.read_text()
    assert "| paper (disjoint, clipped) |" in text and "| shifted (paper, finer passes shifted) |" in text
    assert "| auto (the painter's default) = overlap |" in text and "brushwork bench seams" in text
    if HAS_MPL:
        assert (plots / "seams_compare.png").is_file() and "](../images/seams_compare.png)" in text


def test_bench_seams_shifted_lines_and_the_painters_passes(tmp_path, monkeypatch):
    """With the painter's own pyramid (--passes 0) and an agent trained on levels, the shifted tiling's own
    borders are its shifted grids' (not the paper grid's), and the passes are the painter's for the budget."""
    from brushwork.bench import seams

    levels = ((1, 8), (2, 4), (4, 1))
    paper = border_lines(512, 512, 6, "paper", levels=levels, canvas=(512, 512))
    shifted = border_lines(512, 512, 6, "shifted", levels=levels, canvas=(512, 512))
    assert paper[0] == list(range(16, 512, 16))
    assert {128, 256, 384} <= set(shifted[0]) and set(shifted[0]) != set(paper[0])
    assert 8 in shifted[0]  # the 32 x 32 grid, moved by half a cell
    with pytest.raises(ValueError, match="--tilings"):
        seams.tilings(SeamsArgs(tilings="paper,diagonal"))
    with pytest.raises(ValueError, match="--passes 0"):
        seams.run(SeamsArgs(passes=1))
