"""The dense coarse-to-fine optimiser: the baseline `scripts/bench_optimizer.py` compares the windowed
optimiser (brushwork.painter.optimize_windowed, the painter's) against.  Not part of the package.

Strokes are added in stages; each stage seeds its strokes where the canvas is most wrong (size shrinking
stage by stage, colour read from the target, direction along the local edges) and optimises them with
Adam against the target, every stroke rendered on the whole canvas, the strokes of earlier stages held
fixed underneath; a final pass optimises all strokes jointly (`refine_strokes`).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor
from tqdm import tqdm

from brushwork.painter.optimize import _blur, optimise_logits, oriented_strokes, refine_strokes, render_soft
from brushwork.stroke import Shape, get_shape


@dataclass
class OptimizeConfig:
    stages: int = 4  # coarse-to-fine stages (stroke count doubles each stage)
    iters: int = 40  # Adam iterations per stage
    final_iters: int = 60  # joint iterations over all strokes at the end
    lr: float = 0.08  # Adam LR on the logits
    min_res: int = 32  # stages run at half resolution per stage before the last (big strokes need no
    # detail), down to this long side; the last stage and the joint pass run at full resolution


def seed_strokes(shape, target: Tensor, canvas: Tensor, n: int, scale: float, side: float, gen: torch.Generator) -> Tensor:
    """n new strokes (n, 13) where |target - canvas| is largest, about ``scale`` px long, oriented
    along the local edges, coloured from the target; frame side ``side`` px at the origin."""
    _, h, w = target.shape
    k = max(1, int(scale // 2) | 1)
    err = _blur((target - canvas[:3]).abs().sum(0, keepdim=True), k)[0]
    prob = (err.flatten() + 1e-6) ** 2
    idx = torch.multinomial(prob / prob.sum(), n, replacement=n > prob.numel(), generator=gen)
    iy, ix = idx // w, idx % w
    return oriented_strokes(shape, target, iy, ix, scale, k, side, _blur(target, k)[:, iy, ix].T, gen)


def optimize_strokes(
    target: Tensor,
    n_strokes: int,
    shape_name: str | Shape,
    canvas: Tensor,
    cfg: OptimizeConfig = OptimizeConfig(),  # noqa: B008  (never mutated)
    seed: int = 0,
    palette: Tensor | None = None,
    progress: bool = True,
    native: float | None = None,
    on_stage=None,
) -> tuple[Tensor, Tensor]:
    """Paint ``target`` (3, H, W) in [0, 1] with exactly ``n_strokes`` strokes over ``canvas`` (C, H, W:
    the background, or a painting to continue).  Returns (strokes (N, 13), frames (N, 3)); the frame
    of every stroke is the square (0, 0, max(H, W)); ``native`` sets the brush scale (default: that side).
    ``on_stage(strokes, frames)`` is called with each stage's new strokes (live views).
    """
    shape = get_shape(shape_name)
    _, h, w = target.shape
    side = float(max(h, w))
    native = side if native is None else native
    gen = torch.Generator().manual_seed(seed)
    # Stage sizes double: n, 2n, 4n ... summing to n_strokes.
    st = max(1, min(cfg.stages, n_strokes))
    weights = [2**i for i in range(st)]
    counts = [max(1, n_strokes * wgt // sum(weights)) for wgt in weights]
    counts[-1] += n_strokes - sum(counts)
    frames_all = torch.tensor([0.0, 0.0, side]).expand(n_strokes, 3).contiguous()
    done: list[Tensor] = []
    total = st * cfg.iters + cfg.final_iters
    bar = tqdm(total=total, desc="optimize", disable=not progress, leave=False, dynamic_ncols=True)
    for i, n in enumerate(counts):
        # Stage resolution: full for the last stage, halved per stage before it (>= min_res).  Strokes are
        # frame-relative, so a stroke optimised on a smaller frame is the same stroke at full size.
        f = min(1.0, max(cfg.min_res / side, 2.0 ** (i - (st - 1))))
        hi, wi = max(1, round(h * f)), max(1, round(w * f))
        tgt = target if f == 1.0 else F.interpolate(target[None], size=(hi, wi), mode="area")[0]
        with torch.no_grad():
            base = canvas if f == 1.0 else F.interpolate(canvas[None], size=(hi, wi), mode="area")[0]
            if done:
                prev = torch.cat(done)
                base = render_soft(shape, prev, frames_all[: len(prev)] * f, native * f, base, palette)
        scale = side * f * 0.5 / (2 ** (i * 0.75))
        init = seed_strokes(shape, tgt, base, n, scale, side * f, gen)
        fr = frames_all[:n] * f
        new = optimise_logits(init, lambda s, fr=fr, tgt=tgt, base=base, f=f: F.mse_loss(
            render_soft(shape, s, fr, native * f, base, palette)[:3], tgt), cfg.iters, cfg.lr, bar)
        done.append(new)
        if on_stage is not None:
            on_stage(new, frames_all[:n])
    strokes = torch.cat(done)
    if cfg.final_iters:
        strokes = refine_strokes(target, strokes, frames_all, native, shape_name, canvas, cfg.final_iters, cfg.lr * 0.5, palette, bar)
    bar.close()
    return strokes, frames_all
