"""`brushwork bench seams`: seams of the paper's disjoint coarse-to-fine tiles vs the overlapping default
(docs/method.md, "Painter").

Every image is painted twice with `paint(method="agent")`, the same strokes, passes and seed: once with
``tiles="paper"`` (the paper's: disjoint tiles, every stroke clipped to its tile) and once with
``tiles="overlap"`` (the default: tiles overlap by a quarter, strokes cross tile borders and are
rendered on the full canvas).  Measured along the internal borders of the paper grid
(`schedule.tiles.tile_grid(..., 2**p, "paper")` for the passes p >= 1, scaled to the output):

* **error ratio**: mean |painting - target| in bands of ±``band`` px around the border lines, divided by
  the mean everywhere else (≈ 1 without seams; a seam makes it > 1);
* **gradient jump**: mean |painting[x] - painting[x-1]| across the border lines minus the target's
  |target[x] - target[x-1]| there, next to the same difference across every other pixel line (the
  painting's own texture); their difference, *excess jump*, is what the tiling adds (≈ 0 without seams).

The overlapping mode is also measured along its *own* tile edges.  Writes docs/benchmarks/seams.md,
docs/images/seams_compare.png (crops around the border crossing) and docs/images/seams_profile.png.
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

MODES = ("paper", "overlap")
PLOTS = ("seams_compare.png", "seams_profile.png")
PROFILE = 16  # the error profile spans ±PROFILE px around the border lines


@dataclass
class SeamsArgs:
    """Seams: error and gradient jumps along tile borders, paper tiles vs overlapping tiles."""

    images: Path | None = None  # folder of images (default: the dev photos of `brushwork data fetch --only photos`)
    max_images: int = 0  # use at most this many images (0 = all)
    size: int = 512  # centre-crop square and paint at N x N px
    strokes: int = 1000  # strokes per painting (the same for both modes)
    passes: int = 2  # coarse-to-fine passes (pass p paints a 2^p x 2^p grid of tiles)
    agent: str = "photo"  # shipped agent name or actor .safetensors (no shipped "photo": falls back to runs/agent-photo*/actor.safetensors)
    band: int = 2  # half-width (px) of the bands around the border lines
    seed: int = 0
    threads: int = 1  # torch threads (0 = torch's default)
    doc: Path | None = Path("docs/benchmarks/seams.md")  # markdown report (None: none)
    plots: Path | None = Path("docs/images")  # folder for seams_*.png (None: no figures)
    json: Path | None = None  # also write the results as JSON


# ------------------------------------------------------------------------------------------ geometry


def border_lines(width: int, height: int, passes: int, mode: str = "paper", work: int | None = None) -> tuple[list[int], list[int]]:
    """Internal tile edges (vertical x positions, horizontal y positions) in output pixels of the tiles
    of passes 1 .. passes-1 (pass 0 is the whole canvas), as `paint()` lays them out on its working
    canvas (``work`` px long side, default `PaintConfig.work`) and scales them to the output."""
    from ..painter.painter import PaintConfig
    from ..schedule.tiles import tile_grid

    work = PaintConfig.work if work is None else work
    scale = min(1.0, work / max(width, height))
    ww, wh = max(8, round(width * scale)), max(8, round(height * scale))
    sx, sy = width / ww, height / wh
    xs, ys = set(), set()
    for p in range(1, passes):
        for x0, y0, s, _ in tile_grid(ww, wh, 2**p, mode).tolist():
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


def run(args: SeamsArgs) -> dict:
    from ..painter.painter import paint
    from .paint import load_target
    from .scaling import bench_agent

    command = command_line("seams", args, skip=("json",))
    if args.size < 16 or args.strokes < 1 or args.passes < 2 or args.band < 1:
        raise ValueError("--size must be >= 16, --strokes >= 1, --passes >= 2 (one pass has no tiles) and --band >= 1")
    threads = set_threads(args.threads)
    paths = image_paths(args)
    folder = Path(tempfile.mkdtemp(prefix="brushwork-seams-"))
    try:
        agent, agent_info = bench_agent(args.agent, folder, "seams")
        s = args.size
        lines = {"paper": border_lines(s, s, args.passes, "paper"), "overlap": border_lines(s, s, args.passes, "overlap")}
        result = {"command": command, "machine": machine(threads), "size": s, "strokes": args.strokes,
                  "passes": args.passes, "band": args.band, "agent": agent_info, "images": [],
                  "lines": {k: {"x": v[0], "y": v[1]} for k, v in lines.items()}}
        log(f"bench seams: {len(paths)} image(s) at {s} px, {args.strokes} strokes, {args.passes} passes, "
            f"paper borders x {lines['paper'][0]} y {lines['paper'][1]}")
        crops, profiles = [], {m: [] for m in MODES}
        for path in paths:
            target = np.array(load_target(path, str(s)))  # writable (torch warns on read-only arrays)
            row = {"image": Path(path).stem, "modes": {}}
            outs = {}
            for mode in MODES:
                t0 = time.perf_counter()
                p = paint(target, method="agent", tiles=mode, passes=args.passes, strokes=args.strokes, agent=str(agent),
                          width=s, height=s, seed=args.seed, quiet=True)
                secs = time.perf_counter() - t0
                img = p.render()[..., :3]
                outs[mode] = img
                xs, ys = lines["paper"]
                r = {"seconds": secs, "psnr": p.metrics["psnr"], "ssim": p.metrics["ssim"],
                     "clipped": p.clips is not None, **seam_metrics(img, target, xs, ys, args.band)}
                if mode == "overlap":
                    own = seam_metrics(img, target, *lines["overlap"], args.band)
                    r["own_edges"] = {k: own[k] for k in ("ratio", "flank_ratio", "excess_jump", "border_mae", "elsewhere_mae")}
                row["modes"][mode] = r
                profiles[mode].append(error_profile(img, target, xs, ys))
                log(f"  {row['image']} {mode}: PSNR {r['psnr']:.2f} dB, border/elsewhere {r['ratio']:.3f}, "
                    f"excess jump {r['excess_jump']:+.2f} ({secs:.1f} s)")
            result["images"].append(row)
            crops.append((row["image"], target, outs["paper"], outs["overlap"]))
        result["mean"] = {m: {k: float(np.mean([im["modes"][m][k] for im in result["images"]]))
                              for k in ("ratio", "border_mae", "elsewhere_mae", "jump_border", "jump_elsewhere",
                                        "excess_jump", "flank_ratio", "psnr", "ssim", "seconds")} for m in MODES}
        result["mean"]["overlap"]["own_edges"] = {
            k: float(np.mean([im["modes"]["overlap"]["own_edges"][k] for im in result["images"]]))
            for k in ("ratio", "flank_ratio", "excess_jump")}
        result["profile"] = {m: np.mean(profiles[m], 0).tolist() for m in MODES}
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

HEADERS = ["tiles", "border MAE", "elsewhere MAE", "border / elsewhere", "border / flanks", "jump at border",
           "jump elsewhere", "excess jump", "PSNR dB", "SSIM", "s / image"]


def rows(result: dict) -> list[list[str]]:
    out = []
    for m in MODES:
        r = result["mean"][m]
        name = {"paper": "paper (disjoint, clipped)", "overlap": "overlap (default)"}[m]
        out.append([name, fmt(r["border_mae"]), fmt(r["elsewhere_mae"]), fmt(r["ratio"], 3), fmt(r["flank_ratio"], 3),
                    fmt(r["jump_border"]),
                    fmt(r["jump_elsewhere"]), f"{r['excess_jump']:+.2f}", fmt(r["psnr"]), fmt(r["ssim"], 3),
                    fmt(r["seconds"], 1)])
    return out


def image_rows(result: dict) -> list[list[str]]:
    out = []
    for im in result["images"]:
        for m in MODES:
            r = im["modes"][m]
            own = r.get("own_edges")
            out.append([im["image"], m, fmt(r["ratio"], 3), fmt(r["flank_ratio"], 3), f"{r['excess_jump']:+.2f}",
                        "—" if not own else f"{own['ratio']:.3f} / {own['flank_ratio']:.3f} / {own['excess_jump']:+.2f}",
                        fmt(r["psnr"]),
                        fmt(r["seconds"], 1)])
    return out


def print_table(result: dict) -> None:
    print(text_table(HEADERS, rows(result), left=(0,)))
    own = result["mean"]["overlap"]["own_edges"]
    print(f"overlap at its own tile edges: border/elsewhere {own['ratio']:.3f}, border/flanks {own['flank_ratio']:.3f}, "
          f"excess jump {own['excess_jump']:+.2f}")


def figures(result: dict, crops: list, folder: Path) -> list[Path]:
    """seams_compare.png (crops around the paper grid's border crossing) and seams_profile.png."""
    plt = pyplot("seams", "figures")
    if plt is None:
        return []
    folder.mkdir(parents=True, exist_ok=True)
    s = result["size"]
    xs, ys = result["lines"]["paper"]["x"], result["lines"]["paper"]["y"]
    cx = min(xs, key=lambda x: abs(x - s / 2)) if xs else s // 2
    cy = min(ys, key=lambda y: abs(y - s / 2)) if ys else s // 2
    half = max(8, s // 8)
    x0, y0 = max(0, min(s - 2 * half, cx - half)), max(0, min(s - 2 * half, cy - half))
    cols = ["target", "paper tiles", "overlap tiles", "|paper − target|", "|overlap − target|"]
    fig, axes = plt.subplots(len(crops), len(cols), figsize=(2.3 * len(cols), 2.35 * len(crops) + 0.4), dpi=110,
                             squeeze=False)
    for i, (name, target, paper, overlap) in enumerate(crops):
        sl = (slice(y0, y0 + 2 * half), slice(x0, x0 + 2 * half))
        err = lambda a, sl=sl, target=target: np.abs(a[sl].astype(np.float32) - target[sl].astype(np.float32)).mean(2)  # noqa: E731
        panels = [target[sl], paper[sl], overlap[sl], err(paper), err(overlap)]
        for j, (ax, im) in enumerate(zip(axes[i], panels)):
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
            if i == 0:
                ax.set_title(cols[j], fontsize=9)
            if j == 0:
                ax.set_ylabel(name, fontsize=9)
    fig.suptitle(f"{2 * half}×{2 * half} px crops around the paper grid's border crossing ({cx}, {cy}) of the "
                 f"{s}×{s} paintings; dotted: paper tile borders", fontsize=9)
    fig.tight_layout()
    files = [folder / PLOTS[0]]
    fig.savefig(files[0])
    plt.close(fig)
    fig, ax = plt.subplots(figsize=(6, 3.6), dpi=110)
    d = np.arange(-PROFILE, PROFILE) + 0.5
    for m in MODES:
        ax.plot(d, result["profile"][m], marker=".", label={"paper": "paper tiles", "overlap": "overlap tiles (default)"}[m])
    ax.axvline(0, color="grey", lw=0.8, ls=":")
    band = result["band"]
    ax.axvspan(-band, band, color="grey", alpha=0.12, label=f"±{band} px band")
    ax.set_xlabel("signed distance of the pixel centre from the paper grid's border line (px)")
    ax.set_ylabel("mean |painting − target| (0–255)")
    ax.set_title(f"error across tile borders, mean over {len(result['images'])} image(s)", fontsize=9)
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    files.append(folder / PLOTS[1])
    fig.savefig(files[1])
    plt.close(fig)
    return files


def write_doc(path: Path, result: dict, plots: list[Path]) -> None:
    from .common import kept_notes
    from .scaling import agent_line

    s, band = result["size"], result["band"]
    xs, ys = result["lines"]["paper"]["x"], result["lines"]["paper"]["y"]
    oxs, oys = result["lines"]["overlap"]["x"], result["lines"]["overlap"]["y"]
    own = result["mean"]["overlap"]["own_edges"]
    mp, mo = result["mean"]["paper"], result["mean"]["overlap"]
    rel = lambda p: os.path.relpath(p, path.parent).replace(os.sep, "/")  # noqa: E731
    names = ", ".join(im["image"] for im in result["images"])
    md = ["# Seams: paper tiles vs overlapping tiles", "",
          f"Generated by `{result['command']}` — {machine_line(result['machine'])}.", "",
          f"* **Images** ({len(result['images'])}): {names}; centre-cropped square and resized to {s}×{s} px.",
          f"* **Painting**: `paint(method=\"agent\", passes={result['passes']}, strokes={result['strokes']}, tiles=...)`, "
          "the same seed for both modes. Pass 0 paints the whole canvas, pass p a 2^p × 2^p grid of tiles; "
          "the agent works on the 256-px working canvas and the strokes are rendered at the output size.",
          f"* **Agent**: {agent_line(result['agent'])}.",
          "* **tiles=\"paper\"** (the paper's): disjoint tiles, every stroke clipped to its tile. **tiles=\"overlap\"** "
          "(the default): tiles 25 % larger than the grid cell, overlapping, strokes not clipped (they cross tile "
          "borders and are rendered on the full canvas).",
          f"* **Border lines**: the internal edges of the paper grid, x = {xs}, y = {ys} (output px). The overlap "
          f"mode's own tile edges are x = {oxs}, y = {oys}.", "",
          "## Result", "",
          md_table(HEADERS, rows(result), "lrrrrrrrrr"), "",
          f"* **border / elsewhere**: mean absolute error (0–255, mean over RGB) in the ±{band} px bands around the "
          "border lines, divided by the mean over all other pixels. A painting without seams has ≈ 1 (the bands "
          "hold the same kind of content as the rest of the image).",
          "* **jump at border**: mean over the border lines of |painting[x] − painting[x−1]| − |target[x] − target[x−1]| "
          "(the painting's step across the line beyond the target's own); **jump elsewhere**: the same across "
          "every other pixel line outside the bands; **excess jump** = their difference (≈ 0 without seams).",
          f"* **border / flanks**: the band's error divided by the error {band} < |distance| ≤ {PROFILE} px from the same "
          "lines: a local control (same neighbourhood, so the image content near the lines cancels).",
          f"* The overlap mode measured along its own tile edges: border / elsewhere {own['ratio']:.3f}, border / flanks "
          f"{own['flank_ratio']:.3f}, excess jump {own['excess_jump']:+.2f}.", "",
          f"Paper tiles: border error {mp['ratio']:.2f}× elsewhere and {mp['flank_ratio']:.3f}× the flanks, excess jump "
          f"{mp['excess_jump']:+.2f}; overlapping tiles: {mo['ratio']:.2f}×, {mo['flank_ratio']:.3f}×, "
          f"{mo['excess_jump']:+.2f}.", ""]
    md += kept_notes(path) + [""]
    if plots:
        md += ["## Figures", "", f"![seams compare]({rel(plots[0])})", "",
               "Crops around the crossing of the paper grid's border lines (dotted), nearest-neighbour upscaled; "
               "right: per-pixel error (0–128 colour scale).", ""]
        if len(plots) > 1:
            md += [f"![seams profile]({rel(plots[1])})", "",
                   "Mean error of the pixel at each signed distance from the border lines (over all lines, all "
                   "pixels along them and all images).", ""]
    md += ["## Per image", "", md_table(["image", "tiles", "border / elsewhere", "border / flanks", "excess jump",
                                          "own tile edges: border / elsewhere / flanks / excess jump", "PSNR dB", "s"],
                                         image_rows(result), "llrrrrrr"), ""]
    md += ["## Reproduce", "", "```sh", "pip install -e '.[bench]'", "brushwork data fetch --only photos",
           result["command"], "```", ""]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(md))

