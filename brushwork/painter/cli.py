"""`brushwork paint` and `brushwork render`.

    brushwork paint photo.jpg -o painting.png --svg painting.svg --json strokes.json --video process.mp4
    brushwork paint photos/ -o paintings/ --jobs 2          # a folder: resumable batch, one progress bar
    brushwork render strokes.json -o big.png --size 4096x4096
    brushwork render strokes.json -o oil.png --medium oil   # the same strokes in another medium
"""

from __future__ import annotations

import dataclasses
import os
import sys
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Annotated

import tyro
from tqdm import tqdm

from ..io.images import IMAGE_SUFFIXES, check_side
from ..medium import MEDIA, get_medium
from ..options import choices
from ..schedule.tiles import TILINGS
from ..stroke import SHAPES
from ..stroke.canvas import NAMED
from .painter import METHODS, PaintConfig, check


@dataclass(kw_only=True)
class PaintArgs(PaintConfig):
    """Paint an image (or every image in a folder) with brush strokes."""

    input: tyro.conf.Positional[Path]  # image file, or a folder of images (batch mode)
    output: Annotated[Path, tyro.conf.arg(aliases=("-o",))] = Path("painting.png")  # painting (.png/.jpg/.webp), or a folder in batch mode
    svg: Path | None = None  # also write the strokes as SVG
    json: Path | None = None  # also write the strokes as JSON (re-render with `brushwork render`)
    video: Path | None = None  # also write the painting process (.gif, .mp4 or .webm)
    resume: Path | None = None  # continue painting from a JSON stroke file (--strokes is the new total)
    jobs: int = 1  # batch mode: parallel processes
    # The fixed sets, with their choices in --help (defaults: PaintConfig's).
    shape: Annotated[str, choices(SHAPES, help="the stroke shape")] = PaintConfig.shape
    method: Annotated[str, choices(METHODS, help="auto (the best measured: optimize), agent, refine or optimize")] = (
        PaintConfig.method)
    tiles: Annotated[str, choices(TILINGS, help="auto (the tiling the agent was trained on: shifted for "
                                                  "agents trained on tiles), overlap (seam-free), paper (the paper's nested "
                                                  "disjoint tiles, strokes clipped) or shifted (paper, finer passes on "
                                                  "shifted grids)")] = (
        PaintConfig.tiles)
    background: Annotated[str, choices(NAMED, "transparent", "#rrggbb",
                                       help="black (as the agent was trained), a colour, or transparent")] = PaintConfig.background
    medium: Annotated[str, choices(MEDIA, help="how the strokes meet the canvas (flat: today's look; a resumed "
                                               "painting keeps its own unless another is given)")] = PaintConfig.medium


@dataclass(kw_only=True)
class RenderArgs:
    """Re-render a JSON stroke file at any size."""

    strokes: tyro.conf.Positional[Path]  # JSON stroke file written by `brushwork paint --json`
    output: Annotated[Path, tyro.conf.arg(aliases=("-o",))] = Path("render.png")  # .png/.jpg/.webp/.svg/.gif/.mp4/.webm
    size: str = ""  # WxH, or W (height keeps the aspect ratio); default: the painting's own size
    medium: Annotated[str, choices(MEDIA, help="render in this medium (default: the painting's own, from the JSON)")] = ""


def paint_one(args: PaintArgs, quiet: bool | None = None) -> dict:
    """Paint one file and write every requested output; returns the painting's metrics and files."""
    from .export import check_output, save
    from .painter import paint
    from .painting import Painting

    outputs = [args.output] + [p for p in (args.svg, args.json, args.video) if p is not None]
    for p in outputs:  # fail before any painting work
        check_output(p)
    cfg = PaintConfig(**{f.name: getattr(args, f.name) for f in fields(PaintConfig)})
    if quiet is not None:
        cfg.quiet = quiet
    start = Painting.load(args.resume) if args.resume else None
    painting = paint(args.input, cfg, resume=start)
    for p in outputs:
        save(painting, p)
    return {**painting.metrics, "files": [str(p) for p in outputs]}


def summary(m: dict) -> str:
    note = f" ({m['note']})" if m.get("note") else ""
    return (f"{m['strokes']} strokes ({m['method']}), {m['width']}x{m['height']}, PSNR {m['psnr']:.2f} dB, "
            f"SSIM {m['ssim']:.3f}, {m['seconds']:.1f} s -> {', '.join(m['files'])}{note}")


def main(args: PaintArgs) -> int:
    check(args)
    if args.input.is_dir():
        return batch(args)
    m = paint_one(args)
    if not args.quiet:
        print(summary(m))
    return 0


def _batch_worker(args: PaintArgs, threads: int) -> dict:
    import torch

    torch.set_num_threads(threads)
    return paint_one(args, quiet=True)


def batch(args: PaintArgs) -> int:
    """Paint every image under a folder into ``args.output`` (a folder), skipping finished ones."""
    from .export import check_output

    out_dir = args.output
    if out_dir.suffix.lower() in IMAGE_SUFFIXES:
        raise ValueError(f"{args.input} is a folder: -o must be a folder too, got {out_dir}")
    out_dir.mkdir(parents=True, exist_ok=True)
    files = sorted(p for p in args.input.rglob("*") if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)
    if not files:
        raise ValueError(f"{args.input}: no images found (looked for {', '.join(sorted(IMAGE_SUFFIXES))})")
    world, rank = int(os.environ.get("WORLD_SIZE", "1")), int(os.environ.get("RANK", "0"))
    files = files[rank::world]  # torchrun: each machine/process paints its own share
    jobs = []
    for f in files:
        rel = f.relative_to(args.input).with_suffix("")
        dest = out_dir / rel.with_suffix(".png")
        extra = {k: (out_dir / rel.with_suffix(getattr(args, k).suffix) if getattr(args, k) else None) for k in ("svg", "json", "video")}
        dest.parent.mkdir(parents=True, exist_ok=True)
        if dest.exists() and all(p is None or p.exists() for p in extra.values()):
            continue  # finished in an earlier run
        a = PaintArgs(**{**{fl.name: getattr(args, fl.name) for fl in fields(PaintArgs)}, "input": f, "output": dest, **extra})
        check_output(dest)
        jobs.append(a)
    skipped = len(files) - len(jobs)
    failures: list[tuple[Path, str]] = []
    t0 = time.time()
    bar = tqdm(total=len(jobs), desc="paint", disable=args.quiet, unit="image", dynamic_ncols=True)
    n_proc = max(1, min(args.jobs, len(jobs)))
    threads = max(1, (os.cpu_count() or 1) // n_proc)
    if n_proc == 1:
        for a in jobs:
            try:
                paint_one(a, quiet=True)
            except Exception as e:  # keep going past a bad file
                failures.append((a.input, f"{type(e).__name__}: {e}"))
            bar.update(1)
    else:
        with ProcessPoolExecutor(n_proc) as pool:
            futs = {pool.submit(_batch_worker, a, threads): a for a in jobs}
            for fut in as_completed(futs):
                try:
                    fut.result()
                except Exception as e:
                    failures.append((futs[fut].input, f"{type(e).__name__}: {e}"))
                bar.update(1)
    bar.close()
    done = len(jobs) - len(failures)
    print(f"painted {done} images, skipped {skipped} already finished, {len(failures)} failed, {time.time() - t0:.1f} s -> {out_dir}")
    for path, why in failures:
        print(f"  failed: {path}: {why}", file=sys.stderr)
    return 1 if failures else 0


def render_main(args: RenderArgs) -> int:
    from .export import check_output, save
    from .painting import Painting

    check_output(args.output)
    if args.medium:
        get_medium(args.medium)  # an unknown medium fails before the file is read
    p = Painting.load(args.strokes)
    if args.medium and args.medium != p.medium:
        p = dataclasses.replace(p, medium=args.medium, rendered=None)
    kw = {}
    if args.size:
        try:
            parts = [int(v) for v in args.size.lower().split("x")]
        except ValueError:
            raise ValueError(f"--size must be WxH or W, got {args.size!r}") from None
        if len(parts) not in (1, 2):
            raise ValueError(f"--size must be WxH or W, got {args.size!r}")
        for v in parts:
            check_side("--size", v)
        kw = {"width": parts[0], "height": parts[1] if len(parts) == 2 else None}
    t0 = time.time()
    if args.output.suffix.lower() in (".svg", ".json"):
        save(p, args.output)
    elif args.output.suffix.lower() in (".gif", ".mp4", ".webm"):
        from .export import write_video

        check_output(args.output)
        write_video(p, args.output, size=max(kw.get("width") or 0, kw.get("height") or 0))
    else:
        save(p, args.output, **kw)
    print(f"rendered {len(p)} strokes ({p.medium}) in {time.time() - t0:.1f} s -> {args.output}")
    return 0


COMMANDS = {"paint": (PaintArgs, main), "render": (RenderArgs, render_main)}
