"""Windowed, batched stroke optimisation: detail at any resolution, cost proportional to the pixels
strokes touch, memory bounded whatever the stroke count.

`paint_windowed` paints a target in stages.  Stage k adds M_k strokes (M doubling), each about
L_k = coverage * side / sqrt(strokes so far) px long, at a resolution just fine enough for strokes of
that size (coarse stages run downsampled: big strokes need no detail; the last stages run at the
output's size).  In each stage:

1. seeds go where the blurred error |target - canvas| is largest, one per grid cell at most (so the
   strokes of a stage lie apart), oriented along the local edges;
2. all M strokes are optimised as one batch, each *independently* against the fixed current canvas
   inside its own pixel window (its seed's box plus a margin): per stroke the loss is the squared
   error of ``canvas (1 - a) + a c`` against the target in the window, with the colour ``c`` solved in
   closed form (least squares given the alpha), and a penalty on alpha reaching the window's border.
   Cost = sum of window pixels x iterations: independent of the canvas size; windows are processed in
   chunks of similar size, each chunk's backward run at once, so memory is bounded;
3. the stage's strokes are composited in order onto the canvas (windowed, no grad), each kept only if
   it lowers the error where it paints; rejected strokes are re-seeded in a later stage, so the stroke
   budget stays exact.  The error map is recomputed from the canvas, which only changed in windows.

Time as a budget: ``deadline`` (``time.monotonic()`` value): iterations of the remaining stages are
fitted to the time left (down to 0: strokes seeded and coloured, not optimised); with ``n_strokes``
None, stages are added until the time is up.  The result is always complete.
"""

from __future__ import annotations

import math
import os
import time
from contextlib import contextmanager
from dataclasses import dataclass, replace

import torch
import torch.nn.functional as F
from torch import Tensor
from tqdm import tqdm

from ..stroke import Shape, get_shape
from ..stroke.base import area_chunks, windows_from_boxes
from ..stroke.bezier import Bezier
from ..stroke.canvas import paint_strokes, stroke_colors
from .joint_windowed import refine_windowed
from .joint_windowed import supports as supports_joint
from .optimize import _blur, logit, oriented_strokes

_DEBUG = bool(os.environ.get("BRUSHWORK_DEBUG_OPT"))


@dataclass
class DetailConfig:
    iters: int = 40  # Adam iterations per stage (24 -> 40: +0.4 dB at 1,000 strokes, docs/benchmarks/optimizer.md)
    lr: float = 0.12  # Adam LR on the logits of the shape numbers (0.08 -> 0.12: +0.4 dB, same time)
    boost: float = 1.0  # stages of fewer than 64 strokes get up to this many times more iterations
    few_strokes: float = 2.0  # asked for fewer strokes than the preset's default (and no time budget),
    # stage and joint iterations grow by default / asked, up to this factor: the preset keeps its time
    # and the strokes get the work (`scaled_for`; the factor shrinks above FEW_STROKES_PIXELS)
    decay: float = 1.0  # the LR decays linearly to lr * decay over a stage's iterations
    first: int = 4  # strokes of the first stage (stages double)
    growth: float = 2.0  # stroke count growth per stage
    coverage: float = 1.0  # stroke length L = coverage * side / sqrt(strokes painted so far + half the stage)
    min_width: float = 4.0  # stage resolution: strokes at least this many px wide (px of that resolution);
    # 6 -> 4 halved the time at -0.1 dB; 3 lost 0.6 dB (docs/benchmarks/optimizer.md)
    max_length: float = 0.6  # longest seed, fraction of the long side
    margin: float = 0.15  # endpoints move at most this fraction of the seed's length out of its box
    grow: float = 1.5  # radii grow at most this factor over the seed's
    border: float = 0.1  # penalty weight on alpha at a window's border (shapes other than bezier)
    cell: float = 1.0  # seeds lie in distinct grid cells of side cell * L
    retries: int = 3  # extra stages for strokes that were rejected in the last stage
    chunk_pixels: int = 1 << 16  # window pixels x strokes per batched rasteriser call
    threads: int = 0  # torch intra-op threads while optimising (0: leave torch's setting, which batch mode
    # and the server set per job).  The fused kernels use them (2 threads: 4.6 s vs 6.0 s for 1,000 strokes
    # at 512 px); eager torch's small ops did not (2 threads > 5x slower under load: docs/benchmarks/optimizer.md)
    max_res: int = 0  # finest working resolution (long side, px); 0 = the target's own size
    joint_iters: int = 8  # then all strokes optimised together through the in-order composite
    # (`joint_windowed`): at 512 px / 1,000 strokes 16 joint iterations raised 22.4 to 25.3 dB
    joint_lr: float = 0.2  # Adam LR of the joint pass (0.1: -0.3 dB, 0.3: -0.3 dB at 12 iterations)
    joint_fixed: float = 0.05  # the first strokes (this fraction; the canvas-sized ones) stay fixed in it
    joint_share: float = 0.5  # with a time budget and joint_iters > 0: the stages' share of the time


#: Named presets (``--detail``).  Measured figures: docs/benchmarks/optimizer.md.
DETAIL_PRESETS: dict[str, dict] = {
    "draft": dict(iters=12, min_width=6.0, joint_iters=0),
    "normal": dict(iters=24, joint_iters=16),
    "fine": dict(iters=40, boost=3.0, joint_iters=32),
}


#: Default stroke count per 512 px of the output's long side, by preset (--strokes 0).  With the fused
#: rasteriser, 2,000 strokes (29.4 dB) paint in the time 1,000 with more joint iterations (28.0 dB) take.
DEFAULT_STROKES = {"draft": 1000, "normal": 2000, "fine": 4000}
MAX_SECONDS = 86400.0


def default_strokes(width: int, height: int, detail: str = "normal") -> int:
    """The optimiser's stroke count when none is asked: by preset, linear in the long side."""
    return max(200, round(DEFAULT_STROKES[detail] * max(width, height) / 512))


# Above this output area the extra iterations for few strokes shrink in proportion: their cost grows
# with the canvas (window pixels), and at 1024 x 1024 the doubled iterations took 1,000 strokes from
# 20.2 s to 36.5 s (24.9 -> 25.8 dB), past the 30 s the preset is meant to keep there.
FEW_STROKES_PIXELS = 512 * 512


def scaled_for(cfg: DetailConfig, n_strokes: int | None, default: int, pixels: int) -> DetailConfig:
    """``cfg`` with iterations scaled for painting ``n_strokes`` where the preset's default is ``default``
    strokes on an output of ``pixels`` px: by default / n_strokes, between 1 and ``cfg.few_strokes`` x
    min(1, FEW_STROKES_PIXELS / pixels).  None (a time budget alone) or more strokes than the default:
    unchanged."""
    if not n_strokes or n_strokes >= default:
        return cfg
    f = max(1.0, min(cfg.few_strokes * min(1.0, FEW_STROKES_PIXELS / pixels), default / n_strokes))
    return replace(cfg, iters=max(1, round(cfg.iters * f)), joint_iters=round(cfg.joint_iters * f))


def detail_config(name: str, **overrides) -> DetailConfig:
    if name not in DETAIL_PRESETS:
        raise ValueError(f"--detail must be one of {', '.join(DETAIL_PRESETS)}, got {name!r}")
    return replace(DetailConfig(), **{**DETAIL_PRESETS[name], **overrides})


# --- memory ---------------------------------------------------------------------------------------
BYTES_PER_PIXEL = 64  # target, canvas, error maps and temporaries of the optimiser, per working pixel
BYTES_PER_STROKE = 600  # stroke tensors and their Python lists (JSON, live events), per stroke


def available_memory() -> int:
    """Bytes of memory available to this process (MemAvailable; a cgroup limit if lower)."""
    avail = None
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    avail = int(line.split()[1]) * 1024
                    break
    except OSError:
        pass
    for p in ("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes"):
        try:
            v = open(p).read().strip()
            if v.isdigit() and int(v) < (1 << 60):
                avail = min(avail, int(v)) if avail else int(v)
        except OSError:
            pass
    if avail is None:
        try:
            avail = os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
        except (ValueError, OSError):
            avail = 1 << 34
    return int(avail)


def required_memory(height: int, width: int, n_strokes: int, extra_per_pixel: int = 0, extra_bytes: int = 0) -> int:
    """Estimated peak bytes of painting ``n_strokes`` at height x width with this optimiser (plus
    ``extra_per_pixel`` and ``extra_bytes`` of the caller's own)."""
    return ((BYTES_PER_PIXEL + extra_per_pixel) * height * width + BYTES_PER_STROKE * n_strokes + (256 << 20)
            + extra_bytes)


def check_memory(height: int, width: int, n_strokes: int, extra_per_pixel: int = 0, extra_bytes: int = 0,
                 what: str = "") -> None:
    """Raise ValueError (one line, before any work) if the request cannot fit in memory (``what``: how
    the request is described, default its strokes and size)."""
    need = required_memory(height, width, n_strokes, extra_per_pixel, extra_bytes)
    have = available_memory()
    if need > have:
        what = what or f"{n_strokes} strokes at {width}x{height}"
        raise ValueError(f"painting {what} needs about {need / 2**30:.1f} GB of memory, "
                         f"only {have / 2**30:.1f} GB is available: ask for a smaller size or fewer strokes")


@contextmanager
def intra_threads(n: int):
    """Run a block with n torch intra-op threads (0: unchanged).  Windowed rendering issues many small
    ops: under a concurrent load extra threads only add synchronisation (measured: a 512 px render of
    107 strokes took 0.23 s with 1 thread, 35.7 s with 2 on a loaded 2-core machine)."""
    old = torch.get_num_threads()
    if n:
        torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(old)


# --- helpers --------------------------------------------------------------------------------------
def _resize(x: Tensor, h: int, w: int) -> Tensor:
    if x.shape[-2:] == (h, w):
        return x
    return F.interpolate(x[None], size=(h, w), mode="area")[0]


def _error_map(target: Tensor, canvas: Tensor, k: int) -> Tensor:
    return _blur((target - canvas[:3]).abs().sum(0, keepdim=True), k)[0]


def _pick_seeds(err: Tensor, cell: int, m: int, gen: torch.Generator) -> tuple[Tensor, Tensor]:
    """Up to m pixel positions (iy, ix), at most one per cell x cell block, drawn with probability
    ~ error^2 among the blocks' maxima (without replacement)."""
    h, w = err.shape
    cell = max(1, min(cell, h, w))
    v, idx = F.max_pool2d(err[None, None], cell, stride=cell, ceil_mode=True, return_indices=True)
    v, idx = v.flatten(), idx.flatten()
    p = v.clamp(min=0) ** 2 + 1e-12
    m = min(m, len(p))
    pick = torch.multinomial(p / p.sum(), m, replacement=False, generator=gen)
    sel = idx[pick]
    return sel // w, sel % w


def _seed(shape: Shape, target: Tensor, err: Tensor, m: int, length: float, cell: int, side: float,
          gen: torch.Generator) -> Tensor:
    """m strokes (m, 13) at the error's maxima, ~length px long along the local edges."""
    iy, ix = _pick_seeds(err, cell, m, gen)
    m = len(iy)
    k = max(1, int(length // 4) | 1)
    return oriented_strokes(shape, target, iy, ix, length, k, side, target[:, iy, ix].T, gen)


def _gather(img: Tensor, x0: Tensor, y0: Tensor, h: int, w: int) -> Tensor:
    """Windows (n, C, h, w) of img (C, H, W) at rows y0 + arange(h), columns x0 + arange(w)."""
    rows = (y0[:, None] + torch.arange(h))[:, :, None]
    cols = (x0[:, None] + torch.arange(w))[:, None, :]
    return img[:, rows, cols].permute(1, 0, 2, 3)


def _ring(x0: Tensor, y0: Tensor, h: int, w: int, height: int, width: int) -> Tensor:
    """(n, h, w) 1 on each window's border rows / columns that are not the canvas's edge."""
    n = len(x0)
    r = torch.zeros(n, h, w)
    r[:, 0, :] += (y0 > 0).float()[:, None]
    r[:, -1, :] += (y0 + h < height).float()[:, None]
    r[:, :, 0] += (x0 > 0).float()[:, None]
    r[:, :, -1] += (x0 + w < width).float()[:, None]
    return r.clamp(max=1)


def _closed_color(a: Tensor, cw: Tensor, tw: Tensor, palette: Tensor | None) -> Tensor:
    """Least-squares colour (n, 3) of strokes with alpha a (n, 1, h, w) over canvas windows cw
    (n, 3, h, w) against target windows tw: argmin_c sum (cw (1 - a) + a c - tw)^2."""
    num = (a * (a * cw + tw - cw)).sum((2, 3))
    den = (a * a).sum((2, 3)).clamp(min=1e-6)
    c = (num / den).clamp(0.0, 1.0)
    if palette is not None:
        c = palette[torch.cdist(c, palette).argmin(1)]
    return c


class _Chunk:
    """Strokes of a stage sharing one window size, with their fixed canvas and target windows."""

    def __init__(self, idx, win, canvas, target, height, width, frames, native):
        self.idx = idx
        self.win = win
        self.px, self.py = win.grids()
        self.cw = _gather(canvas[:3], win.x0, win.y0, win.h, win.w)
        self.tw = _gather(target, win.x0, win.y0, win.h, win.w)
        self.ring = _ring(win.x0, win.y0, win.h, win.w, height, width)
        self.frames, self.native = frames[idx], native[idx]
        self.base = ((self.cw - self.tw) ** 2).sum((1, 2, 3))  # error without the stroke

    def loss(self, shape, s, palette, border):
        a = shape.soft_window(s, self.frames, self.native, self.px, self.py)[:, None]
        with torch.no_grad():
            c = _closed_color(a, self.cw, self.tw, palette)
        res = a * (c[:, :, None, None] - self.cw) + (self.cw - self.tw)
        err = (res * res).sum((1, 2, 3))
        pen = (a[:, 0] * self.ring).sum((1, 2))
        return err, pen, c


def window_bounds(shape, init, frames, native, cfg):
    """Per-stroke parameter ranges lo, hi (m, 10) that keep each stroke inside its window, and the
    windows' float boxes (m, 4).  Bezier strokes: endpoints within the seed's endpoint box grown by
    ``margin`` x its length, radii up to ``grow`` x the seed's; other shapes: [0, 1] (the border
    penalty keeps them in)."""
    m = len(init)
    lo, hi = torch.zeros(m, 10), torch.ones(m, 10)
    if not isinstance(shape, Bezier):
        boxes = shape.boxes(init, frames, native)
        length = torch.maximum(boxes[:, 2] - boxes[:, 0], boxes[:, 3] - boxes[:, 1])
        pad = (cfg.margin * length + 2)[:, None]
        return lo, hi, torch.cat([boxes[:, :2] - pad, boxes[:, 2:] + pad], 1)
    p0, _, p2, r0, r2, *_ = shape.geometry(init, frames, native)
    pts = torch.stack([p0, p2], 1)
    length = (p2 - p0).norm(dim=1)
    scale = frames[:, 2] / native
    rmax = torch.maximum(r0, r2) * cfg.grow + 0.5
    mar = (cfg.margin * length + 1)[:, None]
    e_lo, e_hi = pts.amin(1) - mar, pts.amax(1) + mar
    k = ((native - 0.5) * scale)[:, None]
    org = frames[:, :2]
    v_lo, v_hi = (e_lo - org) / k, (e_hi - org) / k
    lo[:, [0, 1]], hi[:, [0, 1]] = v_lo, v_hi
    lo[:, [4, 5]], hi[:, [4, 5]] = v_lo, v_hi
    s_r = ((2 * rmax / scale - 0.375) * 2 / native)[:, None]
    hi[:, 6:8] = s_r
    lo, hi = lo.clamp(0, 1), hi.clamp(0, 1)
    hi = torch.maximum(hi, lo + 1e-3)
    pad = (rmax + 1.5)[:, None]
    return lo, hi, torch.cat([e_lo - pad, e_hi + pad], 1)


def _optimise_stage(shape, init, frames, native, canvas, target, cfg, iters, palette, deadline, bar):
    """Optimise strokes init (m, 13) independently in their windows; returns (m, 13) with colours."""
    h, w = target.shape[-2:]
    lo, hi, boxes = window_bounds(shape, init, frames, native, cfg)
    chunks = [_Chunk(idx, windows_from_boxes(boxes[idx], h, w), canvas, target, h, w, frames, native)
              for idx in area_chunks(boxes, h, w, cfg.chunk_pixels)]
    span = hi - lo
    u0 = ((init[:, :10] - lo) / span).clamp(0.002, 0.998)
    z = logit(u0).requires_grad_(True)
    par = lambda z: lo + span * torch.sigmoid(z)  # noqa: E731
    # Adam by hand: torch.optim's first step costs seconds (it imports torch._dynamo).
    m1, m2 = torch.zeros_like(z), torch.zeros_like(z)
    b1, b2 = 0.9, 0.999
    for it in range(iters):
        if deadline is not None and time.monotonic() > deadline:
            break
        lr = cfg.lr * (1 - (1 - cfg.decay) * it / max(1, iters - 1))  # linear decay to lr * decay
        z.grad = None
        tot = 0.0
        for ch in chunks:
            err, pen, _ = ch.loss(shape, par(z)[ch.idx], palette, cfg.border)
            (err.sum() + cfg.border * pen.sum()).backward()
            if _DEBUG:
                tot += float((err.detach() - ch.base).sum())
        if _DEBUG and it in (0, iters - 1):
            print(f"  iter {it}: gain {-tot:.2f} chunks {len(chunks)} px {sum(len(c.idx) * c.win.h * c.win.w for c in chunks)}")
        with torch.no_grad():
            g = z.grad
            m1.mul_(b1).add_(g, alpha=1 - b1)
            m2.mul_(b2).addcmul_(g, g, value=1 - b2)
            step = lr / (1 - b1 ** (it + 1))
            z.addcdiv_(m1, (m2 / (1 - b2 ** (it + 1))).sqrt_().add_(1e-8), value=-step)
        if bar is not None:
            bar.update(1)
    out = torch.empty(len(init), 13)
    with torch.no_grad():
        s = par(z)
        out[:, :10] = s
        for ch in chunks:
            _, _, c = ch.loss(shape, s[ch.idx], palette, cfg.border)
            out[ch.idx, 10:13] = c
    return out.clamp(0.0, 1.0)


@torch.no_grad()
def window_alphas(shape: Shape, strokes: Tensor, frames: Tensor, native: Tensor, h: int, w: int) -> list:
    """Each stroke's soft alpha inside its own window of an (h, w) canvas: a list of N tuples
    (alpha (hh, ww), y0, x0), computed in chunks of about ``4 * shape.chunk_pixels`` window pixels."""
    boxes = shape.boxes(strokes, frames, native)
    alphas: list = [None] * len(strokes)
    for idx in area_chunks(boxes, h, w, shape.chunk_pixels * 4):
        win = windows_from_boxes(boxes[idx], h, w)
        px, py = win.grids()
        a = shape.soft_window(strokes[idx], frames[idx], native[idx], px, py)
        for k, i in enumerate(idx.tolist()):
            alphas[i] = (a[k], int(win.y0[k]), int(win.x0[k]))
    return alphas


@torch.no_grad()
def _composite_accept(canvas, target, shape, strokes, frames, native, force: bool = False) -> Tensor:
    """Composite strokes in order onto canvas (in place, windowed), each only if it lowers the squared
    error where it paints (all if ``force``).  Returns the boolean mask of the kept strokes."""
    ch_n, h, w = canvas.shape
    keep = torch.zeros(len(strokes), dtype=torch.bool)
    colors = stroke_colors(strokes, ch_n)
    alphas = window_alphas(shape, strokes, frames, native, h, w)
    for i in range(len(strokes)):
        a, y0, x0 = alphas[i]
        alphas[i] = None  # free each window once painted
        hh, ww = a.shape
        view = canvas[:, y0 : y0 + hh, x0 : x0 + ww]
        tv = target[:, y0 : y0 + hh, x0 : x0 + ww]
        new = view * (1 - a) + a * colors[i, :, None, None]
        if force or float(((new[:3] - tv) ** 2).sum()) < float(((view[:3] - tv) ** 2).sum()):
            view.copy_(new)
            keep[i] = True
    return keep


def stage_plan(n_strokes: int | None, cfg: DetailConfig) -> list[int]:
    """Stroke counts of the stages: cfg.first, then growing by cfg.growth, summing to n_strokes (the
    last stage takes the remainder).  None: a long open-ended plan (cut by the time budget)."""
    counts, total = [], 0
    m = float(cfg.first)
    limit = n_strokes if n_strokes is not None else 10**9
    while total < limit:
        k = min(int(round(m)), limit - total)
        if n_strokes is not None and limit - total - k < 0.5 * k * cfg.growth:
            k = limit - total  # fold a small remainder into this stage
        counts.append(k)
        total += k
        m *= cfg.growth
        if n_strokes is None and len(counts) >= 40:
            break
    return counts


def paint_windowed(
    target: Tensor,
    n_strokes: int | None,
    shape_name: str | Shape,
    canvas: Tensor,
    cfg: DetailConfig | None = None,
    seed: int = 0,
    palette: Tensor | None = None,
    progress: bool = True,
    native: float | None = None,
    on_stage=None,
    deadline: float | None = None,
    on_refined=None,
    painted: int = 0,
) -> tuple[Tensor, Tensor]:
    """Paint ``target`` (3, H, W) in [0, 1] with exactly ``n_strokes`` strokes over ``canvas`` (C, H, W).

    Returns (strokes (N, 13), frames (N, 3)), every frame the square (0, 0, max(H, W)), as
    `optimize_strokes` does.  ``n_strokes`` None: as many as ``deadline`` allows (at least one stage).
    ``on_stage(strokes, frames)``: called with each stage's kept strokes; ``on_refined(strokes, frames)``:
    with all strokes after the joint pass (they replace the earlier ones).  ``painted``: strokes already on
    ``canvas`` that count towards the stroke size (L ~ side / sqrt(strokes so far)): the new strokes are
    sized as the detail that follows them, not as a first layer.
    """
    cfg = cfg if cfg is not None else DetailConfig()
    if n_strokes is None and deadline is None:
        raise ValueError("paint_windowed needs a stroke count or a deadline")
    threads = torch.get_num_threads()
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    try:
        start = time.monotonic()
        shape = get_shape(shape_name)
        joint = cfg.joint_iters > 0 and supports_joint(shape)
        stage_deadline = deadline if deadline is None or not joint else start + (deadline - start) * cfg.joint_share
        strokes, frames = _paint_windowed(target, n_strokes, shape, canvas, cfg, seed, palette, progress, native,
                                          on_stage, stage_deadline, painted)
        if joint and len(strokes):
            strokes = _joint(target, strokes, shape, canvas, cfg, palette, progress, native, deadline)
            if on_refined is not None:
                on_refined(strokes, frames)
        return strokes, frames
    finally:
        torch.set_num_threads(threads)


def _joint(target, strokes, shape, canvas, cfg, palette, progress, native, deadline):
    """The joint pass (`joint_windowed.refine_windowed`) at the finest working resolution."""
    _, H, W = target.shape
    side = float(max(H, W))
    f = min(1.0, cfg.max_res / side) if cfg.max_res else 1.0
    hs, ws = max(1, round(H * f)), max(1, round(W * f))
    n = len(strokes)
    fr = torch.tensor([0.0, 0.0, side * f]).expand(n, 3).contiguous()
    nat = torch.full((n,), (side if native is None else float(native)) * f)
    bar = tqdm(total=cfg.joint_iters, desc="joint", disable=not progress, leave=False, dynamic_ncols=True, unit="iter")
    out, _ = refine_windowed(_resize(target, hs, ws), strokes, fr, nat, shape, _resize(canvas, hs, ws),
                             lambda st, f_, n_: window_bounds(shape, st, f_, n_, cfg), cfg.joint_iters, cfg.joint_lr,
                             cfg.chunk_pixels, fixed_colors=palette is not None, deadline=deadline,
                             fixed=int(cfg.joint_fixed * n), on_iter=lambda: bar.update(1))
    bar.close()
    return out


def _paint_windowed(target, n_strokes, shape, canvas, cfg, seed, palette, progress, native, on_stage, deadline,
                    painted=0):
    _, H, W = target.shape
    side = float(max(H, W))
    native = side if native is None else float(native)
    gen = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)
    plan = stage_plan(n_strokes, cfg)
    full_res = float(cfg.max_res) if cfg.max_res else side
    rate = None  # seconds per window pixel x iteration, measured
    kept: list[Tensor] = []
    n_kept = 0
    cur_f, cur_canvas, cur_target = None, None, None
    bar = tqdm(total=sum(plan) if n_strokes is not None else None, desc="optimize", disable=not progress,
               leave=False, dynamic_ncols=True, unit="stroke")
    carry = 0
    k = 0
    retries = 0
    while True:
        if k < len(plan):
            m = plan[k] + carry
        elif carry and retries < cfg.retries:
            m, retries = carry, retries + 1
        elif carry:  # last resort: keep the remaining strokes whatever they do (exact budget)
            m, retries = carry, retries + 1
        else:
            break
        if n_strokes is None and deadline is not None and k > 0 and time.monotonic() > deadline:
            break
        carry = 0
        force = k >= len(plan) and retries > cfg.retries
        # Stroke scale and the resolution that suits it.
        length = min(cfg.max_length * side, cfg.coverage * side / math.sqrt(painted + n_kept + 0.5 * m))
        f = min(full_res / side, max(16.0 / side, cfg.min_width / (0.4 * length)))
        hs, ws = max(1, round(H * f)), max(1, round(W * f))
        if cur_f is None or (hs, ws) != cur_canvas.shape[-2:]:
            cur_f = f
            cur_target = _resize(target, hs, ws)
            cur_canvas = _resize(canvas, hs, ws).clone()
            if kept:
                prev = torch.cat(kept)
                fr = torch.tensor([0.0, 0.0, side * f]).expand(len(prev), 3)
                paint_strokes(cur_canvas, shape, prev, fr, native * f)
        f = cur_f
        ls = length * f  # stroke length in stage px
        err = _error_map(cur_target, cur_canvas, max(1, int(ls // 4) | 1))
        init = _seed(shape, cur_target, err, m, ls, max(1, int(cfg.cell * ls)), side * f, gen)
        if len(init) < m:
            carry += m - len(init)
        fr = torch.tensor([0.0, 0.0, side * f]).expand(len(init), 3).contiguous()
        nat = torch.full((len(init),), native * f)
        # Iterations fitted to the time left: the remaining planned work shares it.
        # Stages of few strokes are cheap: more iterations there (up to cfg.boost x).
        iters = round(cfg.iters * min(cfg.boost, max(1.0, 64 / max(1, len(init)))))
        if deadline is not None and len(init):
            boxes = shape.boxes(init, fr, nat)
            bw = (boxes[:, 2] - boxes[:, 0]) * (1 + 2 * cfg.margin) + 4
            bh = (boxes[:, 3] - boxes[:, 1]) * (1 + 2 * cfg.margin) + 4
            work = float((bw.clamp(max=ws) * bh.clamp(max=hs)).sum())
            left = deadline - time.monotonic()
            if n_strokes is not None:
                # This stage's share of the time left: its strokes' share of the strokes left (the work
                # per stroke is about constant: each stage's resolution follows its stroke size).
                share = left * len(init) / max(1, n_strokes - n_kept)
            else:
                share = left
            est = rate if rate is not None else 6e-7 / max(1, torch.get_num_threads() ** 0.7)
            fit = int(share / max(est * work, 1e-9))
            iters = max(0, min(iters, fit))
            if n_strokes is None and fit < max(2, cfg.iters // 4) and k > 0:
                # Not enough time for this stage: a smaller one that fits, or stop.
                scale = fit / max(2, cfg.iters // 4)
                keep_n = int(len(init) * scale)
                if keep_n < 1:
                    break
                init, fr, nat = init[:keep_n], fr[:keep_n], nat[:keep_n]
                iters = max(2, cfg.iters // 4)
        t0 = time.monotonic()
        new = _optimise_stage(shape, init, fr, nat, cur_canvas, cur_target, cfg, iters, palette, deadline, None) \
            if len(init) else init
        if iters > 0 and len(init):
            boxes = shape.boxes(init, fr, nat)
            bw = (boxes[:, 2] - boxes[:, 0]) * (1 + 2 * cfg.margin) + 4
            bh = (boxes[:, 3] - boxes[:, 1]) * (1 + 2 * cfg.margin) + 4
            work = float((bw.clamp(max=ws) * bh.clamp(max=hs)).sum())
            r = (time.monotonic() - t0) / max(1.0, work * iters)
            rate = r if rate is None else 0.5 * (rate + r)
        keep = _composite_accept(cur_canvas, cur_target, shape, new, fr, nat, force=force) if len(new) else \
            torch.zeros(0, dtype=torch.bool)
        good = new[keep]
        kept.append(good)
        n_kept += len(good)
        carry += int((~keep).sum())
        bar.update(len(good))
        if _DEBUG:
            mse = float(((cur_canvas[:3] - cur_target) ** 2).mean())
            print(f"stage {k}: m={len(init)} kept={len(good)} L={length:.1f}px f={f:.3f} res={ws}x{hs} iters={iters} "
                  f"t={time.monotonic() - t0:.2f}s psnr@res={-10 * math.log10(max(mse, 1e-10)):.2f}", flush=True)
        if on_stage is not None and len(good):
            on_stage(good, torch.tensor([0.0, 0.0, side]).expand(len(good), 3))
        k += 1
        if n_strokes is not None and n_kept >= n_strokes:
            break
        if n_strokes is None and deadline is not None and time.monotonic() > deadline:
            break
    bar.close()
    strokes = torch.cat(kept) if kept else torch.zeros(0, 13)
    if n_strokes is not None:
        strokes = strokes[:n_strokes]
    frames = torch.tensor([0.0, 0.0, side]).expand(len(strokes), 3).contiguous()
    return strokes, frames
