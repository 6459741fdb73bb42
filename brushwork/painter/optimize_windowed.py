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
from collections.abc import Callable
from contextlib import contextmanager
from dataclasses import dataclass, field, replace

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor
from tqdm import tqdm

from ..device import available_memory
from ..medium import Medium, get_medium
from ..medium.base import stroke_geometry, texture_seeds
from ..stroke import COLOR, N_PARAMS, N_SHAPE, Shape, get_shape
from ..stroke.base import area_chunks, windows_from_boxes
from ..stroke.bezier import Bezier
from ..stroke.canvas import Background, paint_strokes, stroke_colors
from .adam import Adam, check_stop
from .joint_windowed import refine_windowed
from .joint_windowed import supports as supports_joint
from .optimize import _blur, logit, oriented_strokes

_DEBUG = bool(os.environ.get("BRUSHWORK_DEBUG_OPT"))


@dataclass
class DetailConfig:
    iters: int = 40  # Adam iterations per stage (docs/choices.md#optimiser-presets)
    lr: float = 0.12  # Adam LR on the logits of the shape numbers (docs/choices.md#optimiser-presets)
    boost: float = 1.0  # stages of fewer than 64 strokes get up to this many times more iterations
    few_strokes: float = 2.0  # asked for fewer strokes than the preset's default (and no time budget),
    # stage and joint iterations grow by default / asked, up to this factor: the preset keeps its time
    # and the strokes get the work (`scaled_for`; the factor shrinks above FEW_STROKES_PIXELS)
    decay: float = 1.0  # the LR decays linearly to lr * decay over a stage's iterations
    first: int = 4  # strokes of the first stage (stages double)
    growth: float = 2.0  # stroke count growth per stage
    coverage: float = 1.0  # stroke length L = coverage * side / sqrt(strokes painted so far + half the stage)
    min_width: float = 4.0  # stage resolution: strokes at least this many px wide (px of that resolution);
    # wider is slower for little gain, narrower loses detail (docs/choices.md#optimiser-presets)
    max_length: float = 0.6  # longest seed, fraction of the long side
    margin: float = 0.15  # endpoints move at most this fraction of the seed's length out of its box
    grow: float = 1.5  # radii grow at most this factor over the seed's
    border: float = 0.1  # penalty weight on alpha at a window's border (shapes other than bezier)
    cell: float = 1.0  # seeds lie in distinct grid cells of side cell * L
    retries: int = 3  # extra stages for strokes that were rejected in the last stage
    chunk_pixels: int = 1 << 16  # window pixels x strokes per batched rasteriser call
    threads: int = 0  # torch intra-op threads while optimising (0: leave torch's setting, which batch mode
    # and the server set per job).  The fused kernels use them; eager torch's small ops only pay their
    # synchronisation, badly so under load (docs/choices.md#threads)
    max_res: int = 0  # finest working resolution (long side, px); 0 = the target's own size
    joint_iters: int = 8  # then all strokes optimised together through the in-order composite
    # (`joint_windowed`): later strokes correct earlier ones (docs/choices.md#joint-pass)
    joint_lr: float = 0.2  # Adam LR of the joint pass (the best of those tried: docs/choices.md#joint-pass)
    joint_fixed: float = 0.05  # the first strokes (this fraction; the canvas-sized ones) stay fixed in it
    joint_share: float = 0.5  # with a time budget and joint_iters > 0: the stages' share of the time
    detail_size: float = 0.0  # > 0: seed lengths also follow the detail (`optimize.oriented_strokes`); 0: off
    texture_every: int = 4  # --medium-aware: a stage recomputes the medium's texture under its strokes every
    # this many iterations and holds it in between (1: every iteration, with the texture's own gradient;
    # docs/choices.md#media-aware)


#: Named presets (``--detail``).  Measured figures: docs/benchmarks/paint-512.md,
#: docs/benchmarks/detail-targets.md; how they were chosen: docs/choices.md#optimiser-presets.
DETAIL_PRESETS: dict[str, dict] = {
    "draft": dict(iters=12, min_width=6.0, joint_iters=0),
    "normal": dict(iters=24, joint_iters=16),
    "fine": dict(iters=40, boost=3.0, joint_iters=32),
}


#: Default stroke count per 512 px of the output's long side, by preset (--strokes 0).  More strokes beat
#: more iterations on fewer strokes in the same time (docs/choices.md#default-stroke-count).
DEFAULT_STROKES = {"draft": 1000, "normal": 2000, "fine": 4000}
MAX_SECONDS = 86400.0


def default_strokes(width: int, height: int, detail: str = "normal") -> int:
    """The optimiser's stroke count when none is asked: by preset, linear in the long side."""
    return max(200, round(DEFAULT_STROKES[detail] * max(width, height) / 512))


# Above this output area the extra iterations for few strokes shrink in proportion: their cost grows
# with the canvas (window pixels), and at 1024 x 1024 the full factor would take the preset well past the
# time it is meant to keep there (docs/choices.md#few-strokes).
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
    ops: under a concurrent load extra threads only add synchronisation (docs/choices.md#threads)."""
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
          gen: torch.Generator, detail: float = 0.0) -> Tensor:
    """m strokes (m, 13) at the error's maxima, ~length px long along the local edges."""
    iy, ix = _pick_seeds(err, cell, m, gen)
    m = len(iy)
    k = max(1, int(length // 4) | 1)
    return oriented_strokes(shape, target, iy, ix, length, k, side, target[:, iy, ix].T, gen, detail)


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


def _closed_color(a: Tensor, cw: Tensor, tw: Tensor, palette: Tensor | None, gain: Tensor | None = None) -> Tensor:
    """Least-squares colour (n, 3) of strokes with alpha a (n, 1, h, w) over canvas windows cw
    (n, 3, h, w) against target windows tw: argmin_c sum (cw (1 - a) + a g c - tw)^2, where ``gain`` g
    (n, 3, h, w) scales the colour (a medium's brightness texture; None: 1, the flat stroke)."""
    ag = a if gain is None else a * gain
    num = (ag * (a * cw + tw - cw)).sum((2, 3))
    den = (ag * ag).sum((2, 3)).clamp(min=1e-6)
    c = (num / den).clamp(0.0, 1.0)
    if palette is not None:
        c = palette[torch.cdist(c, palette).argmin(1)]
    return c


@dataclass
class _Texture:
    """A textured medium as a stage sees it (--medium-aware): its layers (K, h, w) at the stage's
    resolution, canvas px per texel, and the painting index the stage's first stroke would get."""

    medium: Medium
    maps: Tensor
    unit: float
    first: int


class _Chunk:
    """Strokes of a stage sharing one window size, with their fixed canvas and target windows."""

    def __init__(self, idx, win, canvas, target, height, width, frames, native, tex: _Texture | None = None):
        self.idx = idx
        self.win = win
        self.px, self.py = win.grids()
        self.cw = _gather(canvas[:3], win.x0, win.y0, win.h, win.w)
        self.tw = _gather(target, win.x0, win.y0, win.h, win.w)
        self.ring = _ring(win.x0, win.y0, win.h, win.w, height, width)
        self.frames, self.native = frames[idx], native[idx]
        self.base = ((self.cw - self.tw) ** 2).sum((1, 2, 3))  # error without the stroke
        self.tex = tex
        if tex is not None:  # the medium's layers under the windows, the texture seeds, the colour so far
            self.mw = _gather(tex.maps, win.x0, win.y0, win.h, win.w)
            self.seeds = torch.from_numpy(texture_seeds(tex.first, len(frames)))[idx]
            self.color: Tensor | None = None
            self.held: tuple[Tensor, Tensor] | None = None  # the texture (coverage factor, gain) held
            self.calls = 0

    def loss(self, shape, s, palette, border, every: int = 1):
        a = shape.soft_window(s, self.frames, self.native, self.px, self.py)[:, None]
        if self.tex is not None:
            return self._textured_loss(shape, s, a, palette, every)
        with torch.no_grad():
            c = _closed_color(a, self.cw, self.tw, palette)
        res = a * (c[:, :, None, None] - self.cw) + (self.cw - self.tw)
        err = (res * res).sum((1, 2, 3))
        pen = (a[:, 0] * self.ring).sum((1, 2))
        return err, pen, c

    def _textured_loss(self, shape, s, a, palette, every):
        """The loss through the medium (`Medium.soft_paint`): coverage k, paint p = g c with the gain g
        taken at the last colour (exact for oil and pastel, whose paint is the colour times a brightness;
        watercolour's density makes it a fixed point, refined as the colour is), the colour in closed form.
        ``every`` > 1: the texture (k / alpha and g) is recomputed every ``every`` calls without a graph and
        held in between: the gradient reaches the stroke through its alpha under the texture."""
        tex = self.tex
        if self.color is None:
            with torch.no_grad():
                self.color = _closed_color(a, self.cw, self.tw, palette)
        c0 = self.color.clamp(0.02, 1.0)  # the gain at a colour of 0 would be 0 (0 / 0): the colour could not leave it
        if every <= 1:
            geom = stroke_geometry(shape, s, self.frames, self.native)
            k, paint = tex.medium.soft_paint(a[:, 0], geom, self.px, self.py, self.mw, self.seeds, tex.unit, c0,
                                             self.cw)
            k = k[:, None]
            g = paint[:, :3] / c0[:, :, None, None]
        else:
            if self.held is None or self.calls % every == 0:
                with torch.no_grad():
                    geom = stroke_geometry(shape, s.detach(), self.frames, self.native)
                    m, paint = tex.medium.soft_paint(torch.ones_like(a[:, 0]), geom, self.px, self.py, self.mw,
                                                     self.seeds, tex.unit, c0, self.cw)
                    # pixels the stroke does not reach yet take the flat coverage until the next refresh:
                    # a texture that ends at the stroke's edge (oil's ragged sides) must not pin it there
                    m = torch.where(a[:, 0].detach() > 0.02, m, torch.ones_like(m))
                    self.held = (m[:, None], paint[:, :3] / c0[:, :, None, None])
            self.calls += 1
            k, g = a * self.held[0], self.held[1]
        with torch.no_grad():
            c = _closed_color(k, self.cw, self.tw, palette, g)
        self.color = c
        res = k * (g * c[:, :, None, None] - self.cw) + (self.cw - self.tw)
        err = (res * res).sum((1, 2, 3))
        pen = (a[:, 0] * self.ring).sum((1, 2))
        return err, pen, c


def window_bounds(shape, init, frames, native, cfg):
    """Per-stroke parameter ranges lo, hi (m, 10) that keep each stroke inside its window, and the
    windows' float boxes (m, 4).  Bezier strokes: endpoints within the seed's endpoint box grown by
    ``margin`` x its length, radii up to ``grow`` x the seed's; other shapes: [0, 1] (the border
    penalty keeps them in)."""
    m = len(init)
    lo, hi = torch.zeros(m, N_SHAPE), torch.ones(m, N_SHAPE)
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


def _optimise_stage(shape, init, frames, native, canvas, target, cfg, iters, palette, deadline, bar, stop=None,
                    tex: _Texture | None = None):
    """Optimise strokes init (m, 13) independently in their windows; returns (m, 13) with colours.
    ``tex``: the medium they are optimised for (None: flat)."""
    h, w = target.shape[-2:]
    lo, hi, boxes = window_bounds(shape, init, frames, native, cfg)
    chunks = [_Chunk(idx, windows_from_boxes(boxes[idx], h, w), canvas, target, h, w, frames, native, tex)
              for idx in area_chunks(boxes, h, w, cfg.chunk_pixels)]
    span = hi - lo
    u0 = ((init[:, :N_SHAPE] - lo) / span).clamp(0.002, 0.998)
    z = logit(u0).requires_grad_(True)
    par = lambda z: lo + span * torch.sigmoid(z)  # noqa: E731
    opt = Adam(z, stop=stop)
    for it in range(iters):
        if deadline is not None and time.monotonic() > deadline:
            break
        lr = cfg.lr * (1 - (1 - cfg.decay) * it / max(1, iters - 1))  # linear decay to lr * decay
        z.grad = None
        tot = 0.0
        for ch in chunks:
            err, pen, _ = ch.loss(shape, par(z)[ch.idx], palette, cfg.border, cfg.texture_every)
            (err.sum() + cfg.border * pen.sum()).backward()
            if _DEBUG:
                tot += float((err.detach() - ch.base).sum())
        if _DEBUG and it in (0, iters - 1):
            print(f"  iter {it}: gain {-tot:.2f} chunks {len(chunks)} px {sum(len(c.idx) * c.win.h * c.win.w for c in chunks)}")
        opt.step(z.grad, lr)
        if bar is not None:
            bar.update(1)
    out = torch.empty(len(init), N_PARAMS)
    with torch.no_grad():
        s = par(z)
        out[:, :N_SHAPE] = s
        for ch in chunks:
            if ch.tex is not None:
                ch.held = None  # the final colour under the final texture
            _, _, c = ch.loss(shape, s[ch.idx], palette, cfg.border, cfg.texture_every)
            out[ch.idx, COLOR] = c
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


@torch.no_grad()
def _composite_accept_textured(canvas: Tensor, maps: Tensor, target: Tensor, medium: Medium, unit: float, first: int,
                               shape: Shape, strokes: Tensor, frames: Tensor, native: Tensor,
                               force: bool = False) -> Tensor:
    """`_composite_accept` in a textured medium: each stroke painted by the medium's own kernel onto canvas
    and its layers ``maps`` (in place), kept if it lowers the squared error where it paints (all if
    ``force``), undone if not; a kept stroke gets the painting's next index (``first``, then up), so its
    texture is the one the final rendering draws.  Returns the boolean mask of the kept strokes."""
    ch_n, h, w = canvas.shape
    keep = torch.zeros(len(strokes), dtype=torch.bool)
    cn, mn = canvas.numpy(), maps.numpy()
    colors = stroke_colors(strokes, ch_n).float().contiguous().numpy()
    geom = stroke_geometry(shape, strokes.double(), frames.double(), native.double()).numpy()
    alphas = window_alphas(shape, strokes, frames, native, h, w)
    prm, offs = medium.prm(), np.zeros(1, np.int64)
    for i in range(len(strokes)):
        a, y0, x0 = alphas[i]
        alphas[i] = None
        hh, ww = a.shape
        view, tv = canvas[:, y0 : y0 + hh, x0 : x0 + ww], target[:, y0 : y0 + hh, x0 : x0 + ww]
        old, old_maps = view.clone(), maps[:, y0 : y0 + hh, x0 : x0 + ww].clone()
        medium.kernel(cn, mn, a.float().contiguous().reshape(-1).numpy(), offs, np.array([[y0, x0, hh, ww]], np.int64),
                      geom[i : i + 1], colors[i : i + 1], texture_seeds(first + int(keep.sum()), 1), unit, prm)
        if force or float(((view[:3] - tv) ** 2).sum()) < float(((old[:3] - tv) ** 2).sum()):
            keep[i] = True
        else:
            view.copy_(old)
            maps[:, y0 : y0 + hh, x0 : x0 + ww] = old_maps
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
    stop: Callable[[], bool] | None = None,
    medium: str | Medium | None = None,
    index0: int = 0,
) -> tuple[Tensor, Tensor]:
    """Paint ``target`` (3, H, W) in [0, 1] with exactly ``n_strokes`` strokes over ``canvas`` (C, H, W).

    Returns (strokes (N, 13), frames (N, 3)), every frame the square (0, 0, max(H, W)), as
    `optimize_strokes` does.  ``n_strokes`` None: as many as ``deadline`` allows (at least one stage).
    ``on_stage(strokes, frames)``: called with each stage's kept strokes; ``on_refined(strokes, frames)``:
    with all strokes after the joint pass (they replace the earlier ones).  ``painted``: strokes already on
    ``canvas`` that count towards the stroke size (L ~ side / sqrt(strokes so far)): the new strokes are
    sized as the detail that follows them, not as a first layer.  ``stop()``: checked before every
    iteration of every stage and of the joint pass; True raises `adam.Stopped`.  ``medium``: a textured
    medium (`brushwork.medium`) the strokes are placed and coloured for (--medium-aware): the stages see
    its coverage and paint (`Medium.soft_paint`) and paint their canvas with its kernel; the joint pass
    stays flat (docs/method.md, "Media").  None or flat: the flat optimiser, unchanged.  ``index0``: the
    painting index of the first new stroke (a resumed painting's stroke count: it seeds their texture).
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
        medium = get_medium(medium) if medium is not None else None
        if medium is not None and not medium.textured:
            medium = None  # flat: the optimiser's own look
        strokes, frames = _paint_windowed(target, n_strokes, shape, canvas, cfg, seed, palette, progress, native,
                                          on_stage, stage_deadline, painted, stop, medium, index0)
        if joint and len(strokes):
            strokes = _joint(target, strokes, shape, canvas, cfg, palette, progress, native, deadline, stop)
            if on_refined is not None:
                on_refined(strokes, frames)
        return strokes, frames
    finally:
        torch.set_num_threads(threads)


def _joint(target, strokes, shape, canvas, cfg, palette, progress, native, deadline, stop=None):
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
                             fixed=int(cfg.joint_fixed * n), on_iter=lambda: bar.update(1), stop=stop)
    bar.close()
    return out


@dataclass
class _Run:
    """One windowed painting in progress: what `_paint_windowed`'s steps read and update."""

    target: Tensor  # (3, H, W) at the output's size
    canvas: Tensor  # (C, H, W) what the strokes are painted over
    shape: Shape
    cfg: DetailConfig
    palette: Tensor | None
    native: float  # the brush scale at the output's size
    n_strokes: int | None
    painted: int  # strokes already on the canvas (they count towards the stroke size)
    deadline: float | None
    gen: torch.Generator
    stop: Callable[[], bool] | None
    medium: Medium | None = None  # a textured medium the stages see (None: flat)
    index0: int = 0  # the painting index of the first new stroke (texture seeds)
    kept: list[Tensor] = field(default_factory=list)  # each stage's kept strokes
    n_kept: int = 0
    carry: int = 0  # strokes a stage could not seed or did not keep: the next stage's to place
    rate: float | None = None  # seconds per window pixel x iteration, measured
    f: float | None = None  # the current stage resolution (fraction of the output's size)
    stage_canvas: Tensor | None = None  # canvas and target at that resolution
    stage_target: Tensor | None = None
    stage_maps: Tensor | None = None  # the medium's layers at that resolution (textured media)
    unit: float = 1.0  # canvas px per texel at that resolution

    def texture(self) -> _Texture | None:
        """The medium as the next stage sees it (None: flat)."""
        if self.medium is None:
            return None
        return _Texture(self.medium, self.stage_maps, self.unit, self.index0 + self.n_kept)

    @property
    def side(self) -> float:
        return float(max(self.target.shape[1:]))


def _paint_windowed(target, n_strokes, shape, canvas, cfg, seed, palette, progress, native, on_stage, deadline,
                    painted=0, stop=None, medium=None, index0=0):
    """The stages: each seeds strokes where the error is, optimises them in their windows and keeps those
    that help; returns (strokes (N, 13), frames (N, 3): the whole canvas) at most ``n_strokes``."""
    run = _Run(target, canvas, shape, cfg, palette, float(max(target.shape[1:])) if native is None else float(native),
               n_strokes, painted, deadline, torch.Generator().manual_seed(seed), stop, medium, index0)
    plan = stage_plan(n_strokes, cfg)
    bar = tqdm(total=sum(plan) if n_strokes is not None else None, desc="optimize", disable=not progress,
               leave=False, dynamic_ncols=True, unit="stroke")
    for k, m, force in _stages(run, plan):
        check_stop(stop)
        length = _stage_resolution(run, m)
        init, fr, nat = _stage_seeds(run, m, length)
        iters = _stage_iterations(run, init, fr, nat)
        if iters is None:  # out of time for any stage
            break
        init, fr, nat, iters = iters
        t0 = time.monotonic()
        new = _optimise_stage(shape, init, fr, nat, run.stage_canvas, run.stage_target, cfg, iters, palette, deadline,
                              None, stop, run.texture()) if len(init) else init
        _measure_rate(run, init, fr, nat, iters, time.monotonic() - t0)
        good = _keep_helpful(run, new, fr, nat, force)
        bar.update(len(good))
        if _DEBUG:
            mse = float(((run.stage_canvas[:3] - run.stage_target) ** 2).mean())
            print(f"stage {k}: m={len(init)} kept={len(good)} L={length:.1f}px f={run.f:.3f} "
                  f"res={tuple(run.stage_canvas.shape[1:])} iters={iters} t={time.monotonic() - t0:.2f}s "
                  f"psnr@res={-10 * math.log10(max(mse, 1e-10)):.2f}", flush=True)
        if on_stage is not None and len(good):
            on_stage(good, torch.tensor([0.0, 0.0, run.side]).expand(len(good), 3))
        if n_strokes is not None and run.n_kept >= n_strokes:
            break
        if n_strokes is None and deadline is not None and time.monotonic() > deadline:
            break
    bar.close()
    strokes = torch.cat(run.kept) if run.kept else torch.zeros(0, N_PARAMS)
    if n_strokes is not None:
        strokes = strokes[:n_strokes]
    return strokes, torch.tensor([0.0, 0.0, run.side]).expand(len(strokes), 3).contiguous()


def _stages(run: _Run, plan: list[int]):
    """Yield (stage index, strokes to place, force): the planned stages, each with the strokes carried
    over; then up to ``cfg.retries`` stages for what is still carried; then one that keeps whatever it
    paints (``force``: the budget is exact).  A time budget alone ends the stages at its deadline."""
    k = retries = 0
    while True:
        if k < len(plan):
            m = plan[k] + run.carry
        elif run.carry:
            m, retries = run.carry, retries + 1
        else:
            return
        if run.n_strokes is None and run.deadline is not None and k > 0 and time.monotonic() > run.deadline:
            return
        run.carry = 0
        yield k, m, k >= len(plan) and retries > run.cfg.retries
        k += 1


def _stage_resolution(run: _Run, m: int) -> float:
    """The stroke length (output px) for a stage of m strokes, and the resolution that suits it: the
    stage's canvas and target are re-made (the kept strokes painted again) when it changes."""
    cfg, side = run.cfg, run.side
    _, H, W = run.target.shape
    length = min(cfg.max_length * side, cfg.coverage * side / math.sqrt(run.painted + run.n_kept + 0.5 * m))
    full_res = float(cfg.max_res) if cfg.max_res else side
    f = min(full_res / side, max(16.0 / side, cfg.min_width / (0.4 * length)))
    hs, ws = max(1, round(H * f)), max(1, round(W * f))
    if run.f is None or (hs, ws) != run.stage_canvas.shape[-2:]:
        run.f = f
        run.stage_target = _resize(run.target, hs, ws)
        run.stage_canvas = _resize(run.canvas, hs, ws).clone()
        if run.medium is not None:  # the kept strokes in the medium, its layers with them
            sess = run.medium.session(run.shape, hs, ws, Background.parse("black"), run.native * f)
            sess.canvas, sess.count = run.stage_canvas.float().contiguous(), run.index0
            if run.kept:
                prev = torch.cat(run.kept)
                sess.paint(prev, torch.tensor([0.0, 0.0, side * f]).expand(len(prev), 3))
            run.stage_canvas, run.stage_maps, run.unit = sess.canvas, torch.from_numpy(sess.maps), sess.unit
        elif run.kept:
            prev = torch.cat(run.kept)
            paint_strokes(run.stage_canvas, run.shape, prev, torch.tensor([0.0, 0.0, side * f]).expand(len(prev), 3),
                          run.native * f)
    return length


def _stage_seeds(run: _Run, m: int, length: float) -> tuple[Tensor, Tensor, Tensor]:
    """Up to m new strokes (n, 13) where the stage's error is, ~length px long, with their frames (n, 3)
    and brush scales (n,) at the stage's resolution; the strokes it could not seed are carried."""
    ls = length * run.f  # stroke length in stage px
    err = _error_map(run.stage_target, run.stage_canvas, max(1, int(ls // 4) | 1))
    init = _seed(run.shape, run.stage_target, err, m, ls, max(1, int(run.cfg.cell * ls)), run.side * run.f, run.gen,
                 run.cfg.detail_size)
    run.carry += m - len(init)
    fr = torch.tensor([0.0, 0.0, run.side * run.f]).expand(len(init), 3).contiguous()
    return init, fr, torch.full((len(init),), run.native * run.f)


def _window_work(run: _Run, init: Tensor, fr: Tensor, nat: Tensor) -> float:
    """Window pixels the stage's strokes optimise in (the unit of the time model)."""
    hs, ws = run.stage_canvas.shape[-2:]
    boxes = run.shape.boxes(init, fr, nat)
    bw = (boxes[:, 2] - boxes[:, 0]) * (1 + 2 * run.cfg.margin) + 4
    bh = (boxes[:, 3] - boxes[:, 1]) * (1 + 2 * run.cfg.margin) + 4
    return float((bw.clamp(max=ws) * bh.clamp(max=hs)).sum())


def _stage_iterations(run: _Run, init: Tensor, fr: Tensor, nat: Tensor):
    """(init, fr, nat, iterations) for the stage: ``cfg.iters``, more for stages of few strokes (they are
    cheap: up to ``cfg.boost`` x), fitted to the time left under a deadline (this stage's share of it:
    its strokes' share of the strokes left); with a time budget alone, a stage that cannot fit is cut
    to the strokes that can.  None: no time for any stage, stop."""
    cfg = run.cfg
    iters = round(cfg.iters * min(cfg.boost, max(1.0, 64 / max(1, len(init)))))
    if run.deadline is None or not len(init):
        return init, fr, nat, iters
    left = run.deadline - time.monotonic()
    share = left * len(init) / max(1, run.n_strokes - run.n_kept) if run.n_strokes is not None else left
    est = run.rate if run.rate is not None else 6e-7 / max(1, torch.get_num_threads() ** 0.7)
    fit = int(share / max(est * _window_work(run, init, fr, nat), 1e-9))
    iters = max(0, min(iters, fit))
    if run.n_strokes is None and fit < max(2, cfg.iters // 4) and run.kept:  # not the first stage
        keep_n = int(len(init) * fit / max(2, cfg.iters // 4))
        if keep_n < 1:
            return None
        init, fr, nat = init[:keep_n], fr[:keep_n], nat[:keep_n]
        iters = max(2, cfg.iters // 4)
    return init, fr, nat, iters


def _measure_rate(run: _Run, init: Tensor, fr: Tensor, nat: Tensor, iters: int, seconds: float) -> None:
    """Update the time model: seconds per window pixel x iteration (a running mean)."""
    if iters > 0 and len(init):
        r = seconds / max(1.0, _window_work(run, init, fr, nat) * iters)
        run.rate = r if run.rate is None else 0.5 * (run.rate + r)


def _keep_helpful(run: _Run, new: Tensor, fr: Tensor, nat: Tensor, force: bool) -> Tensor:
    """Paint the stage's strokes that lower the error (all if ``force``) onto the stage canvas; the
    others are carried to the next stage.  Returns the kept strokes."""
    if not len(new):
        keep = torch.zeros(0, dtype=torch.bool)
    elif run.medium is not None:
        keep = _composite_accept_textured(run.stage_canvas, run.stage_maps, run.stage_target, run.medium, run.unit,
                                          run.index0 + run.n_kept, run.shape, new, fr, nat, force=force)
    else:
        keep = _composite_accept(run.stage_canvas, run.stage_target, run.shape, new, fr, nat, force=force)
    good = new[keep]
    run.kept.append(good)
    run.n_kept += len(good)
    run.carry += int((~keep).sum())
    return good
