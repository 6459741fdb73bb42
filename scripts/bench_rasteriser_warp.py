"""NVIDIA warp-lang vs the shipped numba kernel for the Bezier soft rasteriser's forward, per call on
the CPU (issue 13 item 2: the side-by-side choice of a JIT).  warp is *not* a brushwork dependency:

    pip install warp-lang && python scripts/bench_rasteriser_warp.py [--repeats 5]

The warp kernel is the forward of `fused_kernels.state` (the arithmetic of `Bezier.soft_window`), one
thread per pixel, float32; it is checked against the torch path before timing.  Figures:
docs/benchmarks/rasteriser.md.
"""

import argparse
import time

import torch
import warp as wp

from brushwork.stroke import fused, get_shape
from brushwork.stroke.base import EDGE, SAMPLES_SOFT, windows_from_boxes

M = SAMPLES_SOFT


@wp.func
def at_e(q: wp.vec2, a: wp.vec2, b: wp.vec2, t: float):
    return q + t * (b + t * a)


@wp.kernel
def bezier_forward(g: wp.array2d(dtype=float), px: wp.array2d(dtype=float), py: wp.array2d(dtype=float),
                   out: wp.array3d(dtype=float)):
    n, i, j = wp.tid()
    x = px[n, j]
    y = py[n, i]
    q = wp.vec2(g[n, 0] - x, g[n, 1] - y)
    a = wp.vec2(g[n, 0] - 2.0 * g[n, 2] + g[n, 4], g[n, 1] - 2.0 * g[n, 3] + g[n, 5])
    b = wp.vec2(2.0 * (g[n, 2] - g[n, 0]), 2.0 * (g[n, 3] - g[n, 1]))
    ra = g[n, 6]
    rp = g[n, 7] - g[n, 6]
    inv = 1.0 / float(M)
    # warp needs a variable reassigned inside a dynamic loop declared with its type's constructor
    best = float(0.0)  # noqa: UP018
    tb = float(0.0)  # noqa: UP018
    tl = float(-1.0)  # noqa: UP018
    for k in range(M + 1):
        tj = float(k) * inv
        e = q + (tj * b + tj * tj * a)
        sdj = wp.sqrt(wp.dot(e, e) + 1e-12) - (ra + tj * rp)
        if k == 0:
            best = sdj
            if sdj <= 0.0:
                tl = 0.0
        else:
            if sdj < best:
                tb = tj
                best = sdj
            if sdj <= 0.0:
                tl = tj
    lo = wp.max(tb - inv, 0.0)
    hi = wp.min(tb + inv, 1.0)
    e0 = at_e(q, a, b, tb)
    d0 = b + 2.0 * tb * a
    sp2 = wp.dot(d0, d0)
    fp = wp.max(sp2 + 2.0 * wp.dot(e0, a), 0.1 * sp2 + 1e-6)
    t1 = wp.clamp(tb - wp.dot(e0, d0) / fp, lo, hi)
    e1 = at_e(q, a, b, t1)
    d1 = b + 2.0 * t1 * a
    sp = wp.sqrt(wp.dot(d1, d1) + 1e-9)
    kk = wp.clamp(rp / sp, -0.95, 0.95)
    el1 = wp.sqrt(wp.dot(e1, e1) + 1e-12)
    t2 = wp.clamp(t1 + kk * el1 / (wp.sqrt(1.0 - kk * kk) * sp), lo, hi)
    e2 = at_e(q, a, b, t2)
    sdr = wp.sqrt(wp.dot(e2, e2) + 1e-12) - (ra + t2 * rp)
    sd = wp.min(sdr, best)
    tv = tb
    if tl >= 0.0:
        t3 = tl
        e3 = at_e(q, a, b, t3)
        d3 = b + 2.0 * t3 * a
        rr = ra + t3 * rp
        qa = wp.dot(d3, d3) - rp * rp
        if wp.abs(qa) < 1e-6:
            qa = 1e-6
        qb = rr * rp - wp.dot(e3, d3)
        qc = wp.dot(e3, e3) - rr * rr
        root = wp.sqrt(wp.max(qb * qb - qa * qc, 1e-9))
        ur = float(0.0)  # noqa: UP018 (mutated in a branch: warp needs the constructor)
        if qb >= 0.0:
            ur = (qb + root) / qa
        else:
            ur = qc / wp.min(qb - root, -1e-9)
        tv = wp.min(t3 + wp.clamp(ur, 0.0, inv), 1.0)
    cov = wp.clamp(-sd / float(EDGE) + 0.5, 0.0, 1.0)
    out[n, i, j] = cov * (g[n, 8] + (g[n, 9] - g[n, 8]) * tv)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--strokes", type=int, default=300)
    args = ap.parse_args()
    wp.init()
    torch.manual_seed(0)  # the strokes of scripts/bench_rasteriser_calls.py
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
    p0, p1, p2, r0, r2, a0, a2 = eager.geometry(s, fr, nat)
    g = torch.cat([p0, p1, p2, r0[:, None], r2[:, None], a0[:, None], a2[:, None]], 1).float().contiguous()
    gw = wp.from_numpy(g.numpy(), dtype=float, device="cpu")
    pxw = wp.from_numpy(px.reshape(n, -1).contiguous().numpy(), dtype=float, device="cpu")
    pyw = wp.from_numpy(py.reshape(n, -1).contiguous().numpy(), dtype=float, device="cpu")
    out = wp.zeros((n, win.h, win.w), dtype=float, device="cpu")
    t0 = time.perf_counter()
    wp.launch(bezier_forward, dim=(n, win.h, win.w), inputs=[gw, pxw, pyw, out], device="cpu")
    wp.synchronize()
    print(f"first warp launch (compiles with warp's bundled clang, or loads its cache): {time.perf_counter() - t0:.2f} s")
    with torch.no_grad():
        ref = eager.soft_window(s, fr, nat, px, py)
    print(f"warp forward max |difference| vs torch: {float((torch.from_numpy(out.numpy()) - ref).abs().max()):.2e}")
    print("| rasteriser | threads | forward s |\n| :-- | --: | --: |")
    t0 = time.perf_counter()
    for _ in range(args.repeats):
        wp.launch(bezier_forward, dim=(n, win.h, win.w), inputs=[gw, pxw, pyw, out], device="cpu")
    wp.synchronize()
    print(f"| warp-lang {wp.config.version} (CPU) | 1 (warp runs CPU kernels serially) | "
          f"{(time.perf_counter() - t0) / args.repeats:.2f} |")
    for threads in (1, 2):
        torch.set_num_threads(threads)
        with torch.no_grad():
            fast.soft_window(s, fr, nat, px, py)  # warm-up
            t0 = time.perf_counter()
            for _ in range(args.repeats):
                fast.soft_window(s, fr, nat, px, py)
        print(f"| fused (numba), shipped | {threads} | {(time.perf_counter() - t0) / args.repeats:.2f} |", flush=True)


if __name__ == "__main__":
    assert fused.enabled(), "numba is not installed"
    main()
