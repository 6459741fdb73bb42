"""`brushwork bench seams`: error along the tile borders of the agent's coarse-to-fine tilings
(docs/method.md, "Painter").

Every image is painted once per tiling (``--tilings``: auto, shifted, overlap, paper) with
`paint(method="agent")`, the same strokes, passes and seed: ``paper`` (the paper's disjoint nested tiles,
every stroke clipped to its tile), ``shifted`` (paper tiles, the passes finer than the agent's trained
levels on grids moved by half a cell), ``overlap`` (tiles overlapping by a quarter, strokes crossing tile
borders, rendered on the full canvas) and ``auto`` (the painter's default: the tiling the agent was trained
on).  ``--passes 0`` (the default) paints the painter's own pyramid for the budget and the size.  Measured
along two sets of lines, each `pass_grid`'s internal edges for the passes p >= 1 as `paint()` lays them on
its working canvas, scaled to the output:

* the tiling's **own tile borders** (where its own seams would be), and
* the **paper grid's borders** (the nested grid every pass of the paper tiling shares: where the paper's
  seams are), the same lines for every tiling;

and along each:

* **error ratio**: mean |painting - target| in bands of ±``band`` px around the lines, divided by
  the mean everywhere else (≈ 1 without seams; a seam makes it > 1), and divided by the mean in the flanks
  beside the bands (a local control);
* **gradient jump**: mean |painting[x] - painting[x-1]| across the lines minus the target's
  |target[x] - target[x-1]| there, next to the same difference across every other pixel line (the
  painting's own texture); their difference, *excess jump*, is what the tiling adds (≈ 0 without seams).

Writes docs/benchmarks/seams.md, docs/images/seams_compare.png (crops around a border crossing) and
docs/images/seams_profile.png.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .common import command_line, fmt, log, machine, machine_line, md_table, pyplot, set_threads, text_table

MODES = ("auto", "shifted", "overlap", "paper")  # the tilings measured by default (schedule.tiles.TILINGS)
NAMES = {"auto": "auto (the painter's default)", "shifted": "shifted (paper, finer passes shifted)",
         "overlap": "overlap (overlapping, unclipped)", "paper": "paper (disjoint, clipped)"}
PLOTS = ("seams_compare.png", "seams_profile.png")
PROFILE = 16  # the error profile spans ±PROFILE px around the border lines


@dataclass
class SeamsArgs:
    """Seams: error and gradient jumps along tile borders, per tiling (auto, shifted, overlap, paper)."""

    images: Path | None = None  # folder of images (default: the dev photos of `brushwork data fetch --only photos`)
    max_images: int = 0  # use at most this many images (0 = all)
    size: int = 512  # centre-crop square and paint at N x N px
    strokes: int = 1000  # strokes per painting (the same for every tiling)
    # coarse-to-fine passes (pass p paints a 2^p x 2^p grid of tiles); 0 = the painter's own for the budget and size
    passes: int = 0
    tilings: str = ",".join(MODES)  # the tilings to paint, comma-separated (auto, shifted, overlap, paper)
    agent: str = "photo"  # shipped agent name or actor .safetensors (no shipped "photo": falls back to runs/agent-photo*/actor.safetensors)
    band: int = 2  # half-width (px) of the bands around the border lines
    seed: int = 0
    threads: int = 1  # torch threads (0 = torch's default)
    doc: Path | None = Path("docs/benchmarks/seams.md")  # markdown report (None: none)
    plots: Path | None = Path("docs/images")  # folder for seams_*.png (None: no figures)
    json: Path | None = None  # also write the results as JSON


# ------------------------------------------------------------------------------------------ geometry


def border_lines(width: int, height: int, passes: int, mode: str = "paper", work: int | None = None, levels=None,
                 canvas: tuple[int, int] | None = None) -> tuple[list[int], list[int]]:
    """Internal tile edges (vertical x positions, horizontal y positions) in output pixels of the tiles
    of passes 1 .. passes-1 (pass 0 is the whole canvas) in tiling ``mode`` (paper, overlap or shifted;
    `schedule.tiles.pass_grid`, with the agent's trained ``levels`` for shifted), as `paint()` lays them out
    on its working canvas (``canvas`` = (width, height) px, else long side ``work`` px, default
    `PaintConfig.work`) and scales them to the output."""
    from ..painter.painter import PaintConfig
    from ..schedule.tiles import pass_grid

    if canvas is None:
        work = PaintConfig.work if work is None else work
        scale = min(1.0, work / max(width, height))
        canvas = (max(8, round(width * scale)), max(8, round(height * scale)))
    ww, wh = canvas
    sx, sy = width / ww, height / wh
    xs, ys = set(), set()
    for p in range(1, passes):
        for x0, y0, s, _ in pass_grid(ww, wh, p, mode, levels, passes).tolist():
            for x in (x0, x0 + s):
                if 0 < x < ww - 1e-6:
                    xs.add(round(x * sx))
            for y in (y0, y0 + s):
                if 0 < y < wh - 1e-6:
                    ys.add(round(y * sy))
    return sorted(xs), sorted(ys)


def band_mask(height: int, width: int, xs: list[int], ys: list[int], band: int) -> np.ndarray:
    """Pixels whose centre lies within ``band`` px of a vertical line x (a pixel border) or horizontal line y."""
    cx, cy = np.arange(width) + 0.5, np.arange(height) + 0.5
    col = np.zeros(width, bool)
    row = np.zeros(height, bool)
    for x in xs:
        col |= np.abs(cx - x) <= band
    for y in ys:
        row |= np.abs(cy - y) <= band
    return col[None, :] | row[:, None]


def seam_metrics(painting: np.ndarray, target: np.ndarray, xs: list[int], ys: list[int], band: int = 2) -> dict:
    """Seam measures of a painting against its target, both uint8 (H, W, 3), along lines xs / ys.

    Errors in 0-255 units (mean over channels).  ``ratio`` = mean error in the bands / elsewhere;
    ``flank_ratio`` = mean error in the bands / in the flanks beside them (band < distance <= PROFILE px: the
    same neighbourhood, so the image's content near the lines cancels); ``jump_border`` = mean (|dP| - |dT|)
    across the lines, ``jump_elsewhere`` = the same across all other pixel lines outside the bands, ``excess_jump`` = their difference."""
    p, t = painting[..., :3].astype(np.float64), target[..., :3].astype(np.float64)
    h, w = t.shape[:2]
    err = np.abs(p - t).mean(2)
    mask = band_mask(h, w, xs, ys, band)
    border, elsewhere = float(err[mask].mean()), float(err[~mask].mean())
    flank_mask = band_mask(h, w, xs, ys, PROFILE) & ~mask
    flanks = float(err[flank_mask].mean()) if flank_mask.any() else float("nan")
    # Differences across pixel lines: column line x separates pixels x-1 and x.
    dpx, dtx = np.abs(np.diff(p, axis=1)).mean(2), np.abs(np.diff(t, axis=1)).mean(2)  # (H, W-1): line x = index + 1
    dpy, dty = np.abs(np.diff(p, axis=0)).mean(2), np.abs(np.diff(t, axis=0)).mean(2)  # (H-1, W)
    jx, jy = dpx - dtx, dpy - dty
    on_x = np.zeros(w - 1, bool)
    on_y = np.zeros(h - 1, bool)
    for x in xs:
        if 1 <= x <= w - 1:
            on_x[x - 1] = True
    for y in ys:
        if 1 <= y <= h - 1:
            on_y[y - 1] = True
    near_x = band_mask(1, w, xs, [], band)[0][1:] | band_mask(1, w, xs, [], band)[0][:-1]
    near_y = band_mask(h, 1, [], ys, band)[:, 0][1:] | band_mask(h, 1, [], ys, band)[:, 0][:-1]
    on = [jx[:, on_x].ravel(), jy[on_y, :].ravel()]
    off = [jx[:, ~near_x].ravel(), jy[~near_y, :].ravel()]
    on_v = np.concatenate(on) if any(len(a) for a in on) else np.zeros(0)
    off_v = np.concatenate(off)
    jb = float(on_v.mean()) if len(on_v) else float("nan")
    je = float(off_v.mean()) if len(off_v) else float("nan")
    return {"border_mae": border, "elsewhere_mae": elsewhere, "ratio": border / max(elsewhere, 1e-9),
            "flanks_mae": flanks, "flank_ratio": border / max(flanks, 1e-9),
            "jump_border": jb, "jump_elsewhere": je, "excess_jump": jb - je,
            "band_fraction": float(mask.mean())}


def error_profile(painting: np.ndarray, target: np.ndarray, xs: list[int], ys: list[int], reach: int = PROFILE) -> np.ndarray:
    """Mean error (0-255) of the pixel at signed offset d = -reach .. reach-1 from the border lines
    (d = -1: the last pixel before the line, 0: the first after), over all lines and along them."""
    err = np.abs(painting[..., :3].astype(np.float64) - target[..., :3].astype(np.float64)).mean(2)
    h, w = err.shape
    out = np.zeros(2 * reach)
    cnt = np.zeros(2 * reach)
    for i, d in enumerate(range(-reach, reach)):
        for x in xs:
            if 0 <= x + d < w:
                out[i] += err[:, x + d].sum()
                cnt[i] += h
        for y in ys:
            if 0 <= y + d < h:
                out[i] += err[y + d, :].sum()
                cnt[i] += w
    return out / np.maximum(cnt, 1)


# ------------------------------------------------------------------------------------------ run


def image_paths(args: SeamsArgs) -> list[Path]:
    from .paint import PaintBenchArgs
    from .paint import image_paths as paths

    return paths(PaintBenchArgs(images=args.images, max_images=args.max_images))


def tilings(args: SeamsArgs) -> list[str]:
    from ..schedule.tiles import TILINGS

    modes = [m.strip() for m in args.tilings.replace(" ", ",").split(",") if m.strip()]
    bad = [m for m in modes if m not in TILINGS]
    if bad or not modes:
        raise ValueError(f"--tilings: choose from {', '.join(TILINGS)}; got {args.tilings!r}")
    return list(dict.fromkeys(modes))


def geometry(size: int, passes: int, modes: list[str], agent: Path) -> tuple[dict, dict, tuple[int, int]]:
    """(tiling -> its own border lines {"x", "y"} in output px, tiling -> the tiling "auto" resolves to, the
    working canvas) for ``passes`` passes at size x size px, as `paint(method="agent")` lays them out."""
    import torch

    from ..agent.policy import load_agent
    from ..painter.painter import PaintConfig, working_size
    from ..schedule.tiles import resolve_tiling

    policy = load_agent(str(agent), torch.device("cpu"))
    canvas = working_size(size, size, PaintConfig(), "agent", policy, passes)
    resolved = {m: resolve_tiling(m, policy) for m in dict.fromkeys(modes + ["paper"])}
    lines = {}
    for m, r in resolved.items():
        xs, ys = border_lines(size, size, passes, r, levels=policy.levels, canvas=canvas)
        lines[m] = {"x": xs, "y": ys}
    return lines, resolved, canvas


KEYS = ("ratio", "border_mae", "elsewhere_mae", "jump_border", "jump_elsewhere", "excess_jump", "flank_ratio")


def run(args: SeamsArgs) -> dict:
    from ..painter.painter import paint
    from .paint import load_target
    from .scaling import bench_agent

    command = command_line("seams", args, skip=("json",))
    if args.size < 16 or args.strokes < 1 or args.passes == 1 or args.passes < 0 or args.band < 1:
        raise ValueError("--size must be >= 16, --strokes >= 1, --passes 0 (the painter's) or >= 2 (one pass has no "
                         "tiles) and --band >= 1")
    modes = tilings(args)
    threads = set_threads(args.threads)
    paths = image_paths(args)
    folder = Path(tempfile.mkdtemp(prefix="brushwork-seams-"))
    try:
        agent, agent_info = bench_agent(args.agent, folder, "seams")
        s = args.size
        result = {"command": command, "machine": machine(threads), "size": s, "strokes": args.strokes,
                  "passes": args.passes or None, "band": args.band, "agent": agent_info, "tilings": modes, "images": []}
        log(f"bench seams: {len(paths)} image(s) at {s} px, {args.strokes} strokes, "
            f"{args.passes or 'the painter`s'} passes, tilings {', '.join(modes)}")
        crops, profiles = [], {m: [] for m in modes}
        for path in paths:
            target = np.array(load_target(path, str(s)))  # writable (torch warns on read-only arrays)
            row = {"image": Path(path).stem, "modes": {}}
            outs = {}
            for mode in modes:
                t0 = time.perf_counter()
                p = paint(target, method="agent", tiles=mode, passes=args.passes, strokes=args.strokes, agent=str(agent),
                          width=s, height=s, seed=args.seed, quiet=True)
                secs = time.perf_counter() - t0
                if "lines" not in result:  # every tiling and image plans the same passes
                    result["passes"] = p.metrics["passes"]
                    lines, resolved, canvas = geometry(s, result["passes"], modes, agent)
                    result.update(lines=lines, resolved=resolved, canvas=list(canvas))
                    log(f"  {result['passes']} passes on a {canvas[0]}x{canvas[1]} working canvas; paper borders x "
                        f"{lines['paper']['x']}")
                img = p.render()[..., :3]
                outs[mode] = img
                paper, own = result["lines"]["paper"], result["lines"][mode]
                r = {"seconds": secs, "psnr": p.metrics["psnr"], "ssim": p.metrics["ssim"], "passes": p.metrics["passes"],
                     "clipped": p.clips is not None, **seam_metrics(img, target, paper["x"], paper["y"], args.band)}
                mine = seam_metrics(img, target, own["x"], own["y"], args.band)
                r["own_edges"] = {k: mine[k] for k in KEYS}
                row["modes"][mode] = r
                profiles[mode].append(error_profile(img, target, paper["x"], paper["y"]))
                log(f"  {row['image']} {mode}: PSNR {r['psnr']:.2f} dB, own borders / elsewhere "
                    f"{mine['ratio']:.3f}, paper borders / elsewhere {r['ratio']:.3f}, excess jump "
                    f"{mine['excess_jump']:+.2f} ({secs:.1f} s)")
            result["images"].append(row)
            crops.append((row["image"], target, outs))
        mean = lambda m, get: float(np.mean([get(im["modes"][m]) for im in result["images"]]))  # noqa: E731
        result["mean"] = {m: {**{k: mean(m, lambda r, k=k: r[k]) for k in KEYS + ("psnr", "ssim", "seconds")},
                              "own_edges": {k: mean(m, lambda r, k=k: r["own_edges"][k]) for k in KEYS}} for m in modes}
        result["profile"] = {m: np.mean(profiles[m], 0).tolist() for m in modes}
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    print_table(result)
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps(result, indent=1) + "\n")
    if args.doc:
        plots = figures(result, crops, Path(args.plots)) if args.plots else []
        write_doc(Path(args.doc), result, plots)
        log(f"bench seams: wrote {args.doc}" + (f" and {len(plots)} figure(s)" if plots else ""))
    return result


# ------------------------------------------------------------------------------------------ report

HEADERS = ["tiles", "own borders / elsewhere", "own borders / flanks", "own excess jump", "paper borders / elsewhere",
           "paper borders / flanks", "paper excess jump", "border MAE (own)", "elsewhere MAE (own)", "PSNR dB", "SSIM",
           "s / image"]


def name(result: dict, m: str) -> str:
    r = result.get("resolved", {}).get(m, m)
    return NAMES[m] + (f" = {r}" if r != m else "")


def rows(result: dict) -> list[list[str]]:
    out = []
    for m in result["tilings"]:
        r = result["mean"][m]
        o = r["own_edges"]
        out.append([name(result, m), fmt(o["ratio"], 3), fmt(o["flank_ratio"], 3), f"{o['excess_jump']:+.2f}",
                    fmt(r["ratio"], 3), fmt(r["flank_ratio"], 3), f"{r['excess_jump']:+.2f}", fmt(o["border_mae"]),
                    fmt(o["elsewhere_mae"]), fmt(r["psnr"]), fmt(r["ssim"], 3), fmt(r["seconds"], 1)])
    return out


def image_rows(result: dict) -> list[list[str]]:
    out = []
    for im in result["images"]:
        for m in result["tilings"]:
            r = im["modes"][m]
            o = r["own_edges"]
            out.append([im["image"], m, fmt(o["ratio"], 3), fmt(o["flank_ratio"], 3), f"{o['excess_jump']:+.2f}",
                        fmt(r["ratio"], 3), fmt(r["flank_ratio"], 3), f"{r['excess_jump']:+.2f}", fmt(r["psnr"]),
                        fmt(r["seconds"], 1)])
    return out


def print_table(result: dict) -> None:
    print(text_table(HEADERS, rows(result), left=(0,)))


def figures(result: dict, crops: list, folder: Path) -> list[Path]:
    """seams_compare.png (crops around a border crossing of the paper grid: each tiling's painting, then its
    error, for the first three images) and seams_profile.png (error against the distance from the paper
    grid's borders, one curve per tiling)."""
    plt = pyplot("seams", "figures")
    if plt is None:
        return []
    folder.mkdir(parents=True, exist_ok=True)
    s, modes = result["size"], result["tilings"]
    xs, ys = result["lines"]["paper"]["x"], result["lines"]["paper"]["y"]
    cx = min(xs, key=lambda x: abs(x - s / 2)) if xs else s // 2
    cy = min(ys, key=lambda y: abs(y - s / 2)) if ys else s // 2
    half = max(8, s // 8)
    x0, y0 = max(0, min(s - 2 * half, cx - half)), max(0, min(s - 2 * half, cy - half))
    shown = crops[:3]
    ncol = len(modes) + 1
    fig, axes = plt.subplots(2 * len(shown), ncol, figsize=(2.3 * ncol, 4.7 * len(shown) + 0.4), dpi=110, squeeze=False)
    for i, (image, target, outs) in enumerate(shown):
        sl = (slice(y0, y0 + 2 * half), slice(x0, x0 + 2 * half))
        top, bottom = axes[2 * i], axes[2 * i + 1]
        panels = [(top[0], target[sl], "target")] + [(top[j + 1], outs[m][sl], m) for j, m in enumerate(modes)]
        panels += [(bottom[j + 1], np.abs(outs[m][sl].astype(np.float32) - target[sl].astype(np.float32)).mean(2),
                    f"|{m} − target|") for j, m in enumerate(modes)]
        bottom[0].axis("off")
        bottom[0].text(0.5, 0.5, image, ha="center", va="center", fontsize=10, transform=bottom[0].transAxes)
        for ax, im, title in panels:
            if im.ndim == 2:
                ax.imshow(im, cmap="magma", vmin=0, vmax=128, interpolation="nearest")
            else:
                ax.imshow(im, interpolation="nearest")
            for x in xs:
                if x0 < x < x0 + 2 * half:
                    ax.axvline(x - x0 - 0.5, color="cyan", lw=0.6, ls=":")
            for y in ys:
                if y0 < y < y0 + 2 * half:
                    ax.axhline(y - y0 - 0.5, color="cyan", lw=0.6, ls=":")
            ax.set_xticks([])
            ax.set_yticks([])
            ax.set_title(title, fontsize=8)
    fig.suptitle(f"{2 * half}×{2 * half} px crops around the paper grid's border crossing ({cx}, {cy}) of the "
                 f"{s}×{s} paintings; dotted: paper tile borders", fontsize=9)
    fig.tight_layout()
    files = [folder / PLOTS[0]]
    fig.savefig(files[0])
    plt.close(fig)
    fig, ax = plt.subplots(figsize=(6.5, 3.8), dpi=110)
    d = np.arange(-PROFILE, PROFILE) + 0.5
    for m in modes:
        ax.plot(d, result["profile"][m], marker=".", label=name(result, m))
    ax.axvline(0, color="grey", lw=0.8, ls=":")
    band = result["band"]
    ax.axvspan(-band, band, color="grey", alpha=0.12, label=f"±{band} px band")
    ax.set_xlabel("signed distance of the pixel centre from the paper grid's border line (px)")
    ax.set_ylabel("mean |painting − target| (0–255)")
    ax.set_title(f"error across the paper grid's borders, mean over {len(result['images'])} image(s)", fontsize=9)
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=7)
    fig.tight_layout()
    files.append(folder / PLOTS[1])
    fig.savefig(files[1])
    plt.close(fig)
    return files


def write_doc(path: Path, result: dict, plots: list[Path]) -> None:
    from .common import kept_notes
    from .scaling import agent_line

    s, band = result["size"], result["band"]
    rel = lambda p: os.path.relpath(p, path.parent).replace(os.sep, "/")  # noqa: E731
    names = ", ".join(im["image"] for im in result["images"])
    cw, ch = result["canvas"]
    md = ["# Seams: the agent's tilings along their tile borders", "",
          f"Generated by `{result['command']}` — {machine_line(result['machine'])}.", "",
          f"* **Images** ({len(result['images'])}): {names}; centre-cropped square and resized to {s}×{s} px.",
          f"* **Painting**: `paint(method=\"agent\", strokes={result['strokes']}, tiles=...)` with the same seed for "
          f"every tiling: {result['passes']} passes (pass 0 paints the whole canvas, pass p a 2^p × 2^p grid of tiles), "
          f"on a {cw}×{ch} px working canvas; the strokes are rendered at the output size.",
          f"* **Agent**: {agent_line(result['agent'])}.",
          "* **Tilings** (`--tiles`): **paper**, the paper's disjoint nested tiles, every stroke clipped to its tile; "
          "**shifted**, paper tiles with the passes finer than the agent's trained levels on grids moved by half a "
          "cell (the same as paper while there is at most one such pass); **overlap**, tiles 25 % larger than the "
          "grid cell, strokes not clipped (they cross tile borders and are rendered on the full canvas); **auto**, "
          "the painter's default (the tiling the agent was trained on).",
          "* **Own borders**: the internal edges of the tiling's own tiles, every pass ≥ 1 "
          "(`schedule.tiles.pass_grid`). **Paper borders**: the paper grid's internal edges, "
          f"x = y = {result['lines']['paper']['x']} (output px), the same lines for every tiling.", "",
          "## Result", "",
          md_table(HEADERS, rows(result), "lrrrrrrrrrrr"), "",
          f"* **borders / elsewhere**: mean absolute error (0–255, mean over RGB) in the ±{band} px bands around the "
          "border lines, divided by the mean over all other pixels. A painting without seams has ≈ 1 (the bands "
          "hold the same kind of content as the rest of the image); the issue's target is at most 1.10 along the "
          "own borders.",
          f"* **borders / flanks**: the band's error divided by the error {band} < |distance| ≤ {PROFILE} px from the "
          "same lines: a local control (same neighbourhood, so the image content near the lines cancels).",
          "* **excess jump**: mean over the border lines of |painting[x] − painting[x−1]| − |target[x] − target[x−1]| "
          "(the painting's step across the line beyond the target's own), minus the same across every other pixel "
          "line outside the bands (≈ 0 without seams).", ""]
    md += kept_notes(path) + [""]
    if plots:
        md += ["## Figures", "", f"![seams compare]({rel(plots[0])})", "",
               "Crops around a crossing of the paper grid's border lines (dotted), nearest-neighbour upscaled; below "
               "each painting its per-pixel error (0–128 colour scale).", ""]
        if len(plots) > 1:
            md += [f"![seams profile]({rel(plots[1])})", "",
                   "Mean error of the pixel at each signed distance from the paper grid's border lines (over all "
                   "lines, all pixels along them and all images).", ""]
    md += ["## Per image", "", md_table(["image", "tiles", "own / elsewhere", "own / flanks", "own excess jump",
                                          "paper / elsewhere", "paper / flanks", "paper excess jump", "PSNR dB", "s"],
                                         image_rows(result), "llrrrrrrrr"), ""]
    md += ["## Reproduce", "", "```sh", "pip install -e '.[bench]'", "brushwork data fetch --only photos",
           result["command"], "```", ""]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(md))
