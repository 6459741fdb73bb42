"""`brushwork bench media`: PSNR, SSIM and seconds per brush medium on the dev photos (issue 33's targets),
and how close a standard SVG renderer (resvg) draws each medium's SVG to its PNG.

Every image is painted once per medium by `paint(..., medium=m)`, the whole process (``--whole``, the
default: the strokes optimised for each medium's look, `--medium-aware`), or painted once flat and rendered
in every medium (``--no-whole``: the texture applied after flat optimisation, so only the final rendering
differs; the time is then the flat painting's with its flat render swapped for the medium's).  Report: docs/benchmarks/media.md (+ .json).
"""

from __future__ import annotations

import dataclasses
import io
import json
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .common import command_line, fmt, kept_notes, log, machine, machine_line, md_table, set_threads, shown_path, text_table

TARGETS = {"oil": (1.5, 1.5), "watercolor": (2.5, None), "pastel": (2.5, None)}  # (dB below flat, x flat's time)


@dataclass
class MediaArgs:
    """Brush media: PSNR, SSIM and time per medium; resvg against the PNG."""

    images: Path | None = None  # folder of images (default: the dev photos)
    # fetch the dev photos first when they are missing (as `brushwork data fetch --only photos`); off: a
    # missing dataset is an error
    fetch: bool = True
    size: int = 512  # centre-crop to a square and resize to this many px
    media: str = ""  # media, comma-separated (default: all)
    strokes: int = 0  # strokes per painting (0: paint's default for the size)
    whole: bool = True  # paint each medium from scratch (the whole process); --no-whole: paint once, render each
    svg: bool = True  # also draw each medium's SVG with resvg (pip resvg-py) and compare it with the PNG
    max_images: int = 0  # use at most this many images (0 = all)
    threads: int = 1  # torch threads
    json: Path | None = Path("docs/benchmarks/media.json")
    doc: Path | None = Path("docs/benchmarks/media.md")


def resvg_psnr(painting) -> dict | None:
    """resvg's drawing of the painting's SVG against its PNG: dB, file size, seconds; None without resvg."""
    try:
        import resvg_py
    except ImportError:
        return None
    from PIL import Image

    from ..painter.export import svg_document

    t0 = time.perf_counter()
    doc = svg_document(painting)
    t1 = time.perf_counter()
    out = np.asarray(Image.open(io.BytesIO(resvg_py.svg_to_bytes(svg_string=doc))).convert("RGB"), np.float64) / 255
    t2 = time.perf_counter()
    ref = painting.render()[..., :3].astype(np.float64) / 255
    mse = float(((out - ref) ** 2).mean())
    return {"psnr": 10 * float(np.log10(1 / max(mse, 1e-10))), "mb": len(doc) / 1e6, "write_s": t1 - t0,
            "resvg_s": t2 - t1}


def run(args: MediaArgs) -> dict:
    from ..io.images import to_uint8
    from ..medium import MEDIA, get_medium
    from ..painter.painter import paint
    from .paint import image_paths, load_target, quality

    media = [m.strip() for m in args.media.split(",") if m.strip()] or list(MEDIA)
    for m in media:
        get_medium(m)
    if "flat" not in media:
        media.insert(0, "flat")
    threads = set_threads(args.threads)
    paths = image_paths(args)
    command = command_line("media", args, skip=("json", "doc"))
    result = {"command": command, "machine": machine(threads), "size": args.size, "media": media, "images": [],
              "whole": args.whole}
    log(f"bench media: {len(paths)} image(s) at {args.size} px, media {', '.join(media)}")
    warm = np.array(load_target(paths[0], "128"))
    for m in media:  # compile the kernels (numba caches them) and warm torch before anything is timed
        paint(warm, medium=m, strokes=50, quiet=True)
    for path in paths:
        target = np.array(load_target(path, str(args.size)))
        row = {"image": Path(path).stem, "media": {}}
        base = None
        for m in media:
            if args.whole or base is None:
                t0 = time.perf_counter()
                p = paint(target, medium=m if args.whole else "flat", strokes=args.strokes, width=args.size,
                          height=args.size, seed=0, quiet=True)
                wall = time.perf_counter() - t0
                base = p
            if args.whole:
                img, seconds, render_s = p.render()[..., :3], wall, p.metrics["phases"]["output_render_s"]
            else:
                t0 = time.perf_counter()
                img = to_uint8(base.render_tensor(medium=m))[..., :3]
                render_s = time.perf_counter() - t0
                seconds = base.metrics["seconds"] - base.metrics["phases"]["output_render_s"] + render_s
                p = dataclasses.replace(base, medium=m, rendered=None)
            r = {"seconds": seconds, "render_s": render_s, "strokes": len(p), **quality(target, img)}
            if args.svg:
                r["svg"] = resvg_psnr(p)
            row["media"][m] = r
            svg = f", resvg vs PNG {r['svg']['psnr']:.2f} dB" if r.get("svg") else ""
            log(f"  {row['image']} {m}: PSNR {r['psnr']:.2f} dB, SSIM {r['ssim']:.4f}, {seconds:.1f} s{svg}")
        result["images"].append(row)
    summarise(result)
    print(text_table(["medium", "PSNR dB", "vs flat", "SSIM", "seconds", "x flat", "render s", "resvg dB", "SVG MB"],
                     [[m, fmt(s["psnr"]), fmt(s["dpsnr"]), fmt(s["ssim"], 4), fmt(s["seconds"], 1), fmt(s["time_ratio"]),
                       fmt(s["render_s"]), fmt(s.get("svg_psnr")), fmt(s.get("svg_mb"))] for m, s in result["summary"].items()]))
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=1) + "\n")
    if args.doc:
        write_report(result, Path(args.doc))
    return result


def summarise(result: dict) -> None:
    mean = lambda xs: float(np.mean(xs)) if xs else None  # noqa: E731
    summary = {}
    for m in result["media"]:
        rows = [img["media"][m] for img in result["images"]]
        svgs = [r["svg"] for r in rows if r.get("svg")]
        summary[m] = {"psnr": mean([r["psnr"] for r in rows]), "ssim": mean([r["ssim"] for r in rows]),
                      "seconds": mean([r["seconds"] for r in rows]), "render_s": mean([r["render_s"] for r in rows]),
                      "svg_psnr": mean([s["psnr"] for s in svgs]), "svg_mb": mean([s["mb"] for s in svgs])}
    flat = summary["flat"]
    for m, s in summary.items():
        s["dpsnr"] = s["psnr"] - flat["psnr"]
        s["time_ratio"] = s["seconds"] / flat["seconds"]
        db, ratio = TARGETS.get(m, (None, None))
        s["target"] = "—" if db is None else (
            "met" if s["dpsnr"] >= -db and (ratio is None or s["time_ratio"] <= ratio) else "missed")
    result["summary"] = summary


def write_report(result: dict, doc: Path) -> None:
    s = result["summary"]
    lines = [
        "# Brush media: quality, time and SVG fidelity per medium", "",
        "Generated by `" + result["command"] + "`; do not edit by hand.", "",
        f"Machine: {machine_line(result['machine'])}.", "",
        f"{len(result['images'])} dev photos centre-cropped to {result['size']} px, the default stroke budget, "
        + ("each medium painted from scratch (the whole process: `paint(..., medium=m)`)." if result["whole"] else
           "painted once for the flat look and rendered in each medium."), "",
        "Targets (issue 33): oil at least flat - 1.5 dB in at most 1.5 x flat's time; watercolour and pastel at "
        "least flat - 2.5 dB; oil's SVG drawn by resvg at least 28 dB against its PNG.", "",
        md_table(["medium", "PSNR dB", "vs flat dB", "SSIM", "seconds", "x flat", "render s", "target",
                  "resvg vs PNG dB", "SVG MB"],
                 [[m, fmt(v["psnr"]), fmt(v["dpsnr"]), fmt(v["ssim"], 4), fmt(v["seconds"], 1), fmt(v["time_ratio"]),
                   fmt(v["render_s"]), v["target"], fmt(v.get("svg_psnr")), fmt(v.get("svg_mb"))] for m, v in s.items()]),
        "", "seconds: the whole painting (load, optimisation, the render in the medium, metrics); render s: the "
        "final render in the medium alone. The media optimised through their texture (`--medium-aware`, each "
        "medium's default `Medium.aware`: watercolor and pastel) also spend longer placing the strokes; the others "
        "differ from flat only in the render, and on a shared machine the whole-process seconds vary by more than "
        "the render's share between runs of identical work.",
        "", "Per image (PSNR dB / SSIM / seconds):", "",
        md_table(["image"] + result["media"],
                 [[img["image"]] + [f"{img['media'][m]['psnr']:.2f} / {img['media'][m]['ssim']:.3f} / "
                                    f"{img['media'][m]['seconds']:.1f}" for m in result["media"]]
                  for img in result["images"]]),
        "", "Reproduce:", "", "```", "brushwork data fetch --only photos", result["command"], "```", "",
        f"Raw numbers: `{shown_path(str(doc.with_suffix('.json')))}`.", "",
    ] + kept_notes(doc) + [""]
    doc.parent.mkdir(parents=True, exist_ok=True)
    doc.write_text("\n".join(lines))
