"""The fused (numba) vs eager torch Bezier soft rasteriser, per call: forward and forward+backward
seconds at 1 and 2 threads on 300 random strokes in 256 x 250 px windows, plus how closely the two
agree (forward difference, gradient cosine).  Figures: docs/benchmarks/rasteriser.md.

    python scripts/bench_rasteriser_calls.py [--repeats 5]
"""

import argparse
import time

import torch
import torch.nn.functional as F

from brushwork.stroke import fused, get_shape
from brushwork.stroke.base import windows_from_boxes


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--strokes", type=int, default=300)
    args = ap.parse_args()
    if not fused.enabled():
        raise SystemExit("numba is not installed (pip install numba)")
    torch.manual_seed(0)
    n, side = args.strokes, 256
    s = torch.rand(n, 10)
    s[:, 6:8] *= 0.1
    s[:, 8:10] = 0.3 + 0.7 * s[:, 8:10]
    fr = torch.tensor([0.0, 0.0, float(side)]).expand(n, 3).contiguous()
    nat = torch.full((n,), float(side))
    eager, fast = get_shape("bezier"), get_shape("bezier")
    eager.use_fused = False
    win = windows_from_boxes(eager.boxes(s, fr, nat), side, side)
    px, py = win.grids()
    print(f"{n} strokes in {win.h} x {win.w} px windows: {n * win.h * win.w / 1e6:.1f} M window pixels")
    paths = {"eager torch": eager, "fused (numba)": fast}
    t0 = time.perf_counter()
    with torch.no_grad():
        a_fast = fast.soft_window(s, fr, nat, px, py)
    print(f"first fused call (compiles, or loads numba's cache): {time.perf_counter() - t0:.2f} s")
    with torch.no_grad():
        a_eager = eager.soft_window(s, fr, nat, px, py)
    print(f"forward max |difference|: {float((a_fast - a_eager).abs().max()):.2e}")
    w = torch.rand_like(a_fast)
    grads = {}
    for name, sh in paths.items():
        z = s.clone().requires_grad_(True)
        (sh.soft_window(z, fr, nat, px, py) * w).sum().backward()
        grads[name] = z.grad
    g_e, g_f = grads["eager torch"], grads["fused (numba)"]
    print(f"gradient cosine {float(F.cosine_similarity(g_f.flatten(), g_e.flatten(), 0)):.7f}, "
          f"relative error {float((g_f - g_e).norm() / g_e.norm()):.2e}")
    print("| rasteriser | threads | forward s | forward + backward s |\n| :-- | --: | --: | --: |")
    for name, sh in paths.items():
        for threads in (1, 2):
            torch.set_num_threads(threads)
            z = s.clone().requires_grad_(True)
            (sh.soft_window(z, fr, nat, px, py) * w).sum().backward()  # warm-up (numba: this thread count's kernels)
            t0 = time.perf_counter()
            for _ in range(args.repeats):
                with torch.no_grad():
                    sh.soft_window(z, fr, nat, px, py)
            tf = (time.perf_counter() - t0) / args.repeats
            t0 = time.perf_counter()
            for _ in range(args.repeats):
                z.grad = None
                (sh.soft_window(z, fr, nat, px, py) * w).sum().backward()
            tb = (time.perf_counter() - t0) / args.repeats
            print(f"| {name} | {threads} | {tf:.2f} | {tb:.2f} |", flush=True)


if __name__ == "__main__":
    main()
