"""The agent at size: `paint(method="agent")` on the dev photos (centre crop, N x N px) at several stroke
budgets, PSNR and seconds per image, before (another checkout's code, ``--before``) and after (this
checkout), side by side.  One thread; each checkout runs in its own Python process; a painting's
seconds are the wall time of its `paint()` call after a warm-up painting (loading the image, the agent
loop, the colour fit and repaint, rendering the output at full size, measuring), not the interpreter's
start.  Prints a markdown table and writes it to ``--doc`` (default docs/benchmarks/agent-size.md).

    python scripts/bench_agent_size.py --size 512 --strokes 200 1000 4000 --before /path/to/old/checkout
    python scripts/bench_agent_size.py --size 1024 --strokes 2000 8000 --doc docs/benchmarks/agent-size-1024.md

``--look DIR`` also writes each painting as DIR/{label}-{image}-{strokes}.png; ``--tiles`` and
``--passes`` pass through to `paint()` (e.g. ``--tiles paper --passes 3`` for the paper's divide: the whole
image, then down to 4 x 4 patches, 128 px at 512 px; `brushwork bench paint` has it as the row
"agent (paper divide)", `brushwork.bench.paint.DIVIDE`).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def cell(root: Path, size: int, strokes: list[int], extra: dict, look: str | None, label: str) -> list[dict]:
    """Paint in a fresh process with ``root``'s code first on the path; the rows it prints as JSON."""
    code = f"""
import json, sys, time
sys.path.insert(0, {str(root)!r})
import numpy as np, torch
torch.set_num_threads(1)
from brushwork import paint
from brushwork.data import dev_images
from brushwork.io.images import centre_crop_square, load_image, resize
files = dev_images()
images = [(f.stem, resize(centre_crop_square(load_image(f).rgb), ({size}, {size}))) for f in files]
kw = dict(method="agent", quiet=True, **{extra!r})
from brushwork.agent.policy import load_agent
from brushwork.bench.seams import seam_metrics
from brushwork.schedule import tiles as T
levels = load_agent("photo", torch.device("cpu")).levels

def lines(grid):
    return sorted({{round(v) for x0, _, side, _ in grid.tolist() for v in (x0, x0 + side) if 0 < v < {size}}})

def border_seams(painting, target, P, tiling):
    # border / flanks (bench seams) along the trained passes' tile borders and along the last pass's own
    if tiling == "auto":
        tiling = "shifted" if "shifted" in T.TILINGS else "paper"
    grid = lambda p: (T.pass_grid({size}, {size}, p, tiling, levels, P) if hasattr(T, "pass_grid")
                      else T.tile_grid({size}, {size}, 2**p, tiling))
    trained = sorted(set().union(*(lines(grid(p)) for p in range(1, min(len(levels), P)))))
    last = lines(grid(P - 1))
    a = seam_metrics(painting, target, trained, trained)
    b = seam_metrics(painting, target, last, last)
    return dict(seam_trained=a["flank_ratio"], seam_last=b["flank_ratio"])
paint(images[0][1], strokes={strokes[0]}, **kw)  # warm-up
for n in {strokes!r}:
    for name, im in images:
        t0 = time.perf_counter()
        out = paint(im, strokes=n, **kw)
        s = time.perf_counter() - t0
        if {look!r}:
            from PIL import Image
            Image.fromarray(out.render()[..., :3]).save(f"{{{look!r}}}/{label}-{{name}}-{{n}}.png")
        P = out.metrics.get("passes")
        seams = border_seams(out.render()[..., :3], im, P, kw.get("tiles", "auto"))
        print("ROW " + json.dumps(dict(image=name, strokes=n, psnr=out.metrics["psnr"], seconds=s,
                                       passes=P, **seams)), flush=True)
"""
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    proc = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, cwd=root)
    if proc.returncode:
        sys.exit(f"{label}: painting failed:\n{proc.stderr[-3000:]}")
    return [json.loads(line[4:]) for line in proc.stdout.splitlines() if line.startswith("ROW ")]


def git_rev(root: Path) -> str:
    try:
        return subprocess.run(["git", "-C", str(root), "rev-parse", "--short", "HEAD"], capture_output=True, text=True,
                              check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "?"


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--size", type=int, default=512)
    p.add_argument("--strokes", type=int, nargs="+", default=[200, 1000, 4000])
    p.add_argument("--before", type=Path, default=None, help="another checkout to compare with (its code, same photos)")
    p.add_argument("--tiles", default=None)
    p.add_argument("--passes", type=int, default=None)
    p.add_argument("--look", default=None, help="write the paintings as PNGs to this folder")
    p.add_argument("--doc", type=Path, default=ROOT / "docs/benchmarks/agent-size.md")
    a = p.parse_args()
    extra = {k: v for k, v in (("tiles", a.tiles), ("passes", a.passes)) if v is not None}
    if a.look:
        Path(a.look).mkdir(parents=True, exist_ok=True)
    runs = [("after", ROOT)] + ([("before", a.before.resolve())] if a.before else [])
    results = {}
    for label, root in runs:
        t0 = time.time()
        results[label] = cell(root, a.size, a.strokes, extra, a.look, label)
        print(f"{label} ({root}, {git_rev(root)}): {time.time() - t0:.0f} s", file=sys.stderr)
    names = sorted({r["image"] for r in results["after"]})
    head = "| strokes | " + " | ".join(f"{lab} PSNR (dB) | {lab} s / image | {lab} passes | {lab} seams: trained "
                                      f"borders | {lab} seams: last pass" for lab, _ in runs) + " |"
    lines = [head, "|" + "---|" * (1 + 5 * len(runs))]
    for n in a.strokes:
        cells = []
        for label, _ in runs:
            rows = [r for r in results[label] if r["strokes"] == n]
            ps = sum(r["psnr"] for r in rows) / len(rows)
            sec = sum(r["seconds"] for r in rows) / len(rows)
            st = sum(r["seam_trained"] for r in rows) / len(rows)
            sl = sum(r["seam_last"] for r in rows) / len(rows)
            cells.append(f"{ps:.2f} | {sec:.2f} | {rows[0]['passes']} | {st:.3f} | {sl:.3f}")
        lines.append(f"| {n:,} | " + " | ".join(cells) + " |")
    table = "\n".join(lines)
    opts = ", ".join(f"{k}={v!r}" for k, v in extra.items()) or "the painter's defaults"
    cmd = "python scripts/bench_agent_size.py " + " ".join(sys.argv[1:])
    doc = (f"# The agent at {a.size} px\n\nGenerated by `{cmd}` on {platform.processor() or platform.machine()} "
           f"({os.cpu_count()} logical CPUs), 1 torch thread, Python {platform.python_version()}.\n\n"
           f"* `paint(method=\"agent\", {opts})` on the dev photos ({len(names)}: {', '.join(names)}), "
           f"centre-cropped square and resized to {a.size} x {a.size} px; mean PSNR of the output.\n"
           "* Seconds: the wall time of one `paint()` call after a warm-up painting (the agent loop, the colour "
           "fit and repaint, the full-size render and the metrics), not the interpreter's start.\n"
           "* Seams (`brushwork bench seams`' border / flanks, ±2 px bands against 2-16 px beside them, about 1 "
           "without seams): along the tile borders of the trained passes 1 .. 2 (the grids every nested pass shares) "
           "and along the last pass's own tile borders (those no later pass crosses).\n"
           + "".join(f"* {label}: `{root}` at {git_rev(root)}.\n" for label, root in runs)
           + f"\n{table}\n\n## Per image\n\n| image | strokes | "
           + " | ".join(f"{lab} PSNR | {lab} s" for lab, _ in runs) + " |\n|" + "---|" * (2 + 2 * len(runs)) + "\n")
    for n in a.strokes:
        for name in names:
            cs = []
            for label, _ in runs:
                r = next(r for r in results[label] if r["strokes"] == n and r["image"] == name)
                cs.append(f"{r['psnr']:.2f} | {r['seconds']:.2f}")
            doc += f"| {name} | {n:,} | " + " | ".join(cs) + " |\n"
    print(table)
    if a.doc:
        a.doc.write_text(doc)
        print(f"wrote {a.doc}", file=sys.stderr)


if __name__ == "__main__":
    main()
