"""Issue 13's targets, each as a whole `brushwork paint` process (start, load, paint, render, write):
wall seconds, peak RSS of the process (os.wait4) and the PSNR the command prints, on the dev photos
centre-cropped to 512 px (the 1024 / 4096 px cells paint the first photo, resized up to that size).

    python scripts/bench_detail_targets.py --images 5 --doc docs/benchmarks/detail-targets.md
    python scripts/bench_detail_targets.py --only default seconds30 --images 2   # a subset

Prints a table; with --doc also writes it as markdown (with the machine and the command line).
"""
from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from brushwork.bench.common import machine, machine_line, md_table  # noqa: E402
from brushwork.data import dev_images  # noqa: E402
from brushwork.io.images import centre_crop_square, load_image, resize, save_image  # noqa: E402

# name: (extra CLI args, output side, all images?, target text, check(seconds, psnr, peak GiB, default psnr))
TARGETS = {
    "default": ([], 512, True, ">= 25 dB in <= 15 s", lambda s, p, m, d: p >= 25 and s <= 15),
    "strokes1000": (["--strokes", "1000"], 512, True, ">= 27.8 dB in <= 42 s", lambda s, p, m, d: p >= 27.8 and s <= 42),
    "fine1000": (["--detail", "fine", "--strokes", "1000"], 512, True, ">= 27.8 dB in <= 42 s",
                 lambda s, p, m, d: p >= 27.8 and s <= 42),
    "strokes2000": (["--strokes", "2000"], 512, True, ">= 28.5 dB in <= 60 s", lambda s, p, m, d: p >= 28.5 and s <= 60),
    "seconds30": (["--seconds", "30"], 512, True, "27-33 s, above the default",
                  lambda s, p, m, d: 27 <= s <= 33 and (d is None or p > d)),
    "draft": (["--detail", "draft"], 512, True, "(preset figure)", None),
    "fine": (["--detail", "fine"], 512, True, "(preset figure)", None),
    "1024x1000": (["--strokes", "1000"], 1024, False, "<= 30 s", lambda s, p, m, d: s <= 30),
    "1024x5000": (["--strokes", "5000"], 1024, False, "<= 120 s, <= 3 GB", lambda s, p, m, d: s <= 120 and m <= 3 / 1.074),
    "4096x20000": (["--strokes", "20000"], 4096, False, "completes, <= 6 GB", lambda s, p, m, d: m <= 6 / 1.074),
}
SUMMARY = re.compile(r"PSNR ([0-9.]+) dB")


def run_one(image: Path, args: list[str], side: int, out: Path, threads: int) -> tuple[float, float | None, float]:
    """(wall seconds, PSNR or None, peak RSS GiB) of one `brushwork paint` process."""
    env = {**os.environ}
    if threads:
        env["OMP_NUM_THREADS"] = str(threads)
    cmd = [sys.executable, "-m", "brushwork", "paint", str(image), "--width", str(side), "-o", str(out), *args]
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)
    text = proc.stdout.read()
    _, status, usage = os.wait4(proc.pid, 0)
    secs = time.perf_counter() - t0
    if status != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed:\n{text[-2000:]}")
    m = SUMMARY.search(text)
    return secs, float(m.group(1)) if m else None, usage.ru_maxrss / 2**20


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--images", type=int, default=5, help="dev photos for the 512 px cells")
    ap.add_argument("--only", nargs="*", default=list(TARGETS), choices=list(TARGETS))
    ap.add_argument("--threads", type=int, default=0, help="OMP_NUM_THREADS of the paint processes (0: unset)")
    ap.add_argument("--doc", type=Path, default=None)
    a = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="brushwork-targets-"))
    photos = []
    for p in dev_images()[: a.images]:
        q = tmp / p.name
        save_image(q, resize(np.ascontiguousarray(centre_crop_square(load_image(p).rgb)), (512, 512)))
        photos.append(q)
    rows, default_psnr = [], None
    for name in a.only:
        extra, side, every, target, check = TARGETS[name]
        try:
            res = [run_one(img, extra, side, tmp / f"{name}-{img.stem}.png", a.threads)
                   for img in (photos if every else photos[:1])]
        except RuntimeError as e:  # a cell that fails is a row saying so, not a lost report
            print(e, file=sys.stderr)
            rows.append([name, " ".join(extra) or "(none)", f"{side}", "—", "—", "—", "—", target, "**failed**"])
            continue
        secs = float(np.mean([r[0] for r in res]))
        ps = [r[1] for r in res if r[1] is not None]
        psnr = float(np.mean(ps)) if ps else None
        peak = max(r[2] for r in res)
        if name == "default":
            default_psnr = psnr
        ok = "—" if check is None else ("pass" if check(secs, psnr or 0.0, peak, default_psnr) else "**miss**")
        row = [name, " ".join(extra) or "(none)", f"{side}", str(len(res)), f"{psnr:.2f}" if psnr else "—", f"{secs:.1f}",
               f"{peak:.2f}", target, ok]
        rows.append(row)
        print(" | ".join(row), flush=True)
    headers = ["cell", "options", "px", "images", "PSNR dB", "s / image", "peak GiB", "target", "verdict"]
    table = md_table(headers, rows, "llrrrrrll")
    print(table)
    if a.doc:
        a.doc.parent.mkdir(parents=True, exist_ok=True)
        a.doc.write_text("\n".join([
            "# Issue 13 targets, whole process", "",
            f"Generated by `python {' '.join(sys.argv)}` — {machine_line(machine(a.threads or (os.cpu_count() or 1)))}.", "",
            "Each cell runs `brushwork paint IMAGE --width PX -o OUT OPTIONS` as its own process; seconds are "
            "wall time from process start to exit (mean over the images), peak GiB the largest `ru_maxrss` of "
            "those processes, PSNR the one the command prints (painting vs the target at the output size). "
            "512 px cells: the dev photos centre-cropped and resized to 512 px; 1024 / 4096 px: the first "
            "of them, resized up by the painter.", "", table, ""]))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
