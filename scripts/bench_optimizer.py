"""Side-by-side: the joint stage optimiser (scripts/dense_optimizer.py at a working size) vs the windowed one
(paint_windowed at the output size), on the dev photos centre-cropped to SIZE px, one process.

    PYTHONPATH=. python scripts/bench_optimizer.py --size 512 --strokes 400 1000 --images 2 --threads 1
"""
from __future__ import annotations

import argparse
import resource
import time

import numpy as np
import torch
from dense_optimizer import OptimizeConfig, optimize_strokes  # scripts/dense_optimizer.py, beside this file

from brushwork.data import dev_images
from brushwork.io.images import centre_crop_square, load_image, resize, to_tensor
from brushwork.metrics import psnr
from brushwork.painter.optimize_windowed import detail_config, paint_windowed
from brushwork.stroke.canvas import Background, paint_strokes


def load(path, size):
    rgb = load_image(path).rgb
    return to_tensor(resize(np.ascontiguousarray(centre_crop_square(rgb)), (size, size)))


def render(strokes, frames, native, size, side):
    c = Background().canvas(size, size)
    return paint_strokes(c, "bezier", strokes, frames * (size / side), native)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--size", type=int, default=512)
    ap.add_argument("--strokes", type=int, nargs="+", default=[400])
    ap.add_argument("--images", type=int, default=2)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--methods", nargs="+", default=["old", "new"])
    ap.add_argument("--detail", default="normal")
    ap.add_argument("--set", nargs="*", default=[], help="DetailConfig overrides k=v")
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    over = {k: type(getattr(detail_config("normal"), k))(v) for k, v in (s.split("=") for s in a.set)}
    imgs = [load(p, a.size) for p in dev_images()[: a.images]]
    rows = []
    for n in a.strokes:
        for meth in a.methods:
            ps, ts = [], []
            for img in imgs:
                t0 = time.perf_counter()
                if meth == "old":
                    tw = torch.nn.functional.interpolate(img[None], size=(128, 128), mode="area")[0]
                    s, f = optimize_strokes(tw, n, "bezier", Background().canvas(128, 128), OptimizeConfig(iters=24, final_iters=12),
                                            progress=False, native=128.0)
                    out = render(s, f, 128.0, a.size, 128)
                else:
                    cfg = detail_config(a.detail, **over)
                    s, f = paint_windowed(img, n, "bezier", Background().canvas(a.size, a.size), cfg, progress=False)
                    out = render(s, f, float(a.size), a.size, a.size)
                assert len(s) == n, (len(s), n)
                ts.append(time.perf_counter() - t0)
                ps.append(float(psnr(out, img)))
            rows.append((n, meth, np.mean(ps), np.mean(ts), ps))
            print(f"{n:6d} {meth:4s} {np.mean(ps):6.2f} dB {np.mean(ts):7.1f} s  {[round(p, 2) for p in ps]}  "
                  f"maxrss {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB", flush=True)


if __name__ == "__main__":
    main()
