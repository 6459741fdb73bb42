"""Agents on the dev photos the way the painter uses them: `paint(method="agent")` at N x N px (centre
crop), mean PSNR and seconds per image after a warm-up, next to the flat fill of each image's mean
colour.  One thread; the table goes to stdout (markdown).

    python scripts/eval_agents_dev.py photo photo-ddpg circle:circle triangle:triangle --strokes 50 200

An argument is AGENT[:SHAPE] (a shipped name or an actor .safetensors; SHAPE defaults to bezier).
`--other N` paints N photos that are *not* dev photos instead (how the finer pass's shares were chosen
without tuning on the benchmark images), e.g.

    python scripts/eval_agents_dev.py photo --tiles paper --other 30 --strokes 200 --shares 1,2,2 1,1,3
    python scripts/eval_agents_dev.py photo-ddpg --tiles overlap --other 30 --strokes 200 --passes 1 2 3 4
    python scripts/eval_agents_dev.py photo --tiles paper --other 30 --strokes 50 200 --decay 100 0.5 0
    python scripts/eval_agents_dev.py photo --tiles auto --other 30 --strokes 50 200 --repaint 0 0.2 0.3 0.4 0.5
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from brushwork import paint  # noqa: E402
from brushwork.data import dev_images  # noqa: E402
from brushwork.data.catalog import DEV_NAMES, data_root  # noqa: E402
from brushwork.io.images import centre_crop_square, load_image, resize  # noqa: E402
from brushwork.schedule import tiles  # noqa: E402


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("agents", nargs="+")
    p.add_argument("--strokes", type=int, nargs="+", default=[50, 200])
    p.add_argument("--size", type=int, default=128)
    p.add_argument("--tiles", default="overlap")
    p.add_argument("--method", default="agent")
    p.add_argument("--refine-iters", type=int, default=None, help="Adam iterations of refine (default: the painter's)")
    p.add_argument("--reseed", type=float, nargs="+", default=[None],
                   help="refine: fractions of the agent's strokes re-placed, one row each (default: the painter's)")
    p.add_argument("--other", type=int, default=0, help="paint this many photos that are not dev photos "
                   "(a fixed shuffle of the fetched photos) instead of the dev photos")
    p.add_argument("--passes", type=int, nargs="+", default=[0], help="coarse-to-fine passes, one row each (0: the painter's)")
    p.add_argument("--no-finer", action="store_true", help="without the painter's finer pass (--no-finer)")
    p.add_argument("--no-fit-colors", action="store_true", help="the agent's own colours (--no-fit-colors)")
    p.add_argument("--shares", nargs="+", default=[None],
                   help="the finer pass's budget shares (coarse,finest,finer; tiles.FINER_SHARES), one row each")
    p.add_argument("--repaint", type=float, nargs="+", default=[None],
                   help="the agent's repaint fraction (--repaint), one row each (default: the painter's)")
    p.add_argument("--decay", type=float, nargs="+", default=[None],
                   help="tiles.ALLOT_DECAY: how a step cut short by the budget shares its slots, one row each")
    a = p.parse_args()
    torch.set_num_threads(1)
    if a.other:
        every = sorted(f for f in (data_root() / "photos").rglob("*.png") if f.stem not in DEV_NAMES)
        files = [every[i] for i in np.random.default_rng(0).permutation(len(every))[: a.other]]
    else:
        files = dev_images()
    images = [resize(centre_crop_square(load_image(f).rgb), (a.size, a.size)) for f in files]
    flat = np.mean([10 * np.log10(1 / np.mean((im / 255.0 - (im / 255.0).mean((0, 1))) ** 2)) for im in images])
    method = a.method if a.refine_iters is None else f"{a.method} ({a.refine_iters} iterations)"
    which = f"{len(images)} photos that are not dev photos" if a.other else f"dev photos ({len(images)})"
    print(f"{which}, {a.size} px, method {method}, tiles {a.tiles}, 1 thread; flat fill {flat:.2f} dB\n")
    rows = [(f, n, sh, d, r) for f in a.reseed for n in a.passes for sh in a.shares for d in a.decay for r in a.repaint]
    print("| agent | shape | reseed | passes | shares | decay | repaint | strokes | PSNR (dB) | above flat | s / image |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for spec in a.agents:
        agent, _, shape = spec.partition(":")
        shape = shape or "bezier"
        for fraction, passes, shares, decay, repaint in rows:
            if shares is not None:
                tiles.FINER_SHARES = tuple(int(x) for x in shares.split(","))  # an experiment's override
            if decay is not None:
                tiles.ALLOT_DECAY = decay  # an experiment's override
            kw = dict(method=a.method, agent=agent, shape=shape, tiles=a.tiles, quiet=True, passes=passes,
                      finer=not a.no_finer, fit_colors=not a.no_fit_colors)
            if a.refine_iters is not None:
                kw["refine_iters"] = a.refine_iters
            if fraction is not None:
                kw["reseed"] = fraction
            if repaint is not None:
                kw["repaint"] = repaint
            paint(images[0], strokes=a.strokes[0], **kw)  # warm-up
            for n in a.strokes:
                res = []
                for im in images:
                    t0 = time.perf_counter()
                    out = paint(im, strokes=n, **kw)
                    res.append((out.metrics["psnr"], time.perf_counter() - t0))
                ps, sec = np.mean([r[0] for r in res]), np.mean([r[1] for r in res])
                print(f"| {agent} | {shape} | {'default' if fraction is None else f'{fraction:g}'} | "
                      f"{passes or 'default'} | {shares or 'default'} | {'default' if decay is None else f'{decay:g}'} | "
                      f"{'default' if repaint is None else f'{repaint:g}'} | "
                      f"{n} | {ps:.2f} | {ps - flat:+.2f} | {sec:.3f} |",
                      flush=True)


if __name__ == "__main__":
    main()
