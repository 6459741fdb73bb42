"""Joint refinement of all strokes of a painting, windowed: every stroke's parameters and colour are
optimised together against the target through the in-order composite, at a cost proportional to the
pixels the strokes touch (not strokes x canvas, as the dense `optimize.refine_strokes` costs).

Why: the stage optimiser places each stroke against a fixed canvas, so strokes cannot cooperate.  A
joint pass lets later strokes correct earlier ones and vice versa, a large gain for few iterations
(docs/choices.md#joint-pass); this module gets that effect at the windowed optimiser's cost and memory.

One iteration, with strokes i = 0 .. N-1 composited in order inside their fixed windows W_i
(``C_i = C_{i-1} (1 - a_i) + a_i c_i`` on W_i):

1. alphas a_i of all strokes, batched by window size, without a graph;
2. the forward composite, keeping each window's canvas before its stroke (P_i): memory = sum of windows;
3. the backward composite by hand, last stroke first, with G = dL/dC:
   dL/da_i = sum_ch G (c_i - P_i), dL/dc_i = sum_px G a_i, then G <- G (1 - a_i) on W_i;
4. per chunk of windows, the alphas again *with* a graph, back-propagated with their dL/da (so only one
   chunk's rasteriser graph exists at a time), then an Adam step on the logits.

Memory: steps 1-3 hold ~36 bytes per window pixel, so the canvas is cut into bands of rows holding
``band_pixels`` window pixels each and one iteration runs the steps band after band (the composite
is per pixel: a stroke crossing two bands is two clipped windows, and the bands' gradients add up to
the whole canvas's).  In one piece, a large painting's peak memory grew with its window pixels
(figures: docs/choices.md#memory).

Strokes stay inside their windows through per-stroke parameter bounds (`optimize_windowed.window_bounds`),
so what the loss sees is what the final render draws.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import torch
from torch import Tensor

from ..stroke import COLOR, N_PARAMS, N_SHAPE, Shape, fused
from ..stroke.base import area_chunks, windows_from_boxes
from ..stroke.bezier import Bezier
from ..stroke.canvas import paint_strokes
from .adam import Adam
from .optimize import logit

#: composite through the numba kernels when they are there (False: the Python loops; tests compare both)
FAST_COMPOSITE = True
#: window pixels per band of canvas rows in one iteration (~36 bytes of memory each: alphas, the canvas
#: under every window, gradients); a 4096 px painting of 20,000 strokes holds ~190 M window pixels
BAND_PIXELS = 1 << 23


def supports(shape: Shape) -> bool:
    """Joint refinement needs bounds that keep a stroke inside its window: bezier strokes have them."""
    return isinstance(shape, Bezier)


def _bands(boxes: Tensor, h: int, w: int, band_pixels: int) -> list[tuple[int, int]]:
    """Split the canvas rows into bands [y0, y1) whose strokes' windows hold about ``band_pixels`` pixels
    each (at least one row per band): the joint pass's memory follows one band, not the whole canvas."""
    y0 = boxes[:, 1].floor().clamp(0, h - 1).long()
    y1 = boxes[:, 3].ceil().clamp(1, h).long().clamp(min=y0 + 1)
    bw = (boxes[:, 2].ceil().clamp(1, w) - boxes[:, 0].floor().clamp(0, w - 1)).clamp(min=1)
    per_row = torch.zeros(h + 1, dtype=torch.float64)  # window pixels per canvas row (difference array)
    per_row.index_add_(0, y0, bw.double())
    per_row.index_add_(0, y1, -bw.double())
    rows = per_row[:h].cumsum(0).tolist()
    bands, start, acc = [], 0, 0.0
    for y, r in enumerate(rows):
        if acc > 0 and acc + r > band_pixels:
            bands.append((start, y))
            start, acc = y, 0.0
        acc += r
    bands.append((start, h))
    return bands


class _Band:
    """The strokes whose windows cross rows [y0, y1), their windows clipped to those rows (band-relative
    coordinates), chunked by size for batched rasteriser calls, and the fused composite's layout."""

    def __init__(self, y0: int, y1: int, boxes: Tensor, w: int, chunk_pixels: int, fast: bool):
        self.y0, self.y1 = y0, y1
        hb = y1 - y0
        inside = (boxes[:, 3] > y0) & (boxes[:, 1] < y1)
        self.idx = torch.nonzero(inside).flatten()  # ascending: the painting order
        b = boxes[self.idx].clone()
        b[:, 1] = b[:, 1].clamp(min=y0) - y0
        b[:, 3] = b[:, 3].clamp(max=y1) - y0
        n = len(self.idx)
        self.chunks = []  # (band-local stroke indices, pixel grids px (m, 1, w), py (m, h, 1) in canvas px)
        where = torch.empty(n, 2, dtype=torch.long)  # band-local stroke -> (chunk, row)
        x0 = torch.empty(n, dtype=torch.long)
        yy = torch.empty(n, dtype=torch.long)
        sizes = []
        for k, loc in enumerate(area_chunks(b, hb, w, chunk_pixels)):
            win = windows_from_boxes(b[loc], hb, w)
            px, py = win.grids()
            self.chunks.append((loc, px, py + y0))
            where[loc, 0] = k
            where[loc, 1] = torch.arange(len(loc))
            x0[loc], yy[loc] = win.x0, win.y0
            sizes.append((win.h, win.w))
        self.order = where.tolist()
        self.sizes = [sizes[k] for k, _ in self.order]
        self.x0, self.yy = x0.tolist(), yy.tolist()
        self.fast = None
        if fast:  # all chunks' alphas flat, chunk after chunk; per stroke its offset, window size, position
            numel = [len(loc) * hh * ww for (loc, _, _), (hh, ww) in zip(self.chunks, sizes)]
            base = [0]
            for v in numel[:-1]:
                base.append(base[-1] + v)
            offs = torch.tensor([base[k] + j * hh * ww for (k, j), (hh, ww) in zip(self.order, self.sizes)],
                                dtype=torch.long)
            self.fast = (offs, torch.tensor([s[0] for s in self.sizes], dtype=torch.long),
                         torch.tensor([s[1] for s in self.sizes], dtype=torch.long), yy, x0)


def refine_windowed(target: Tensor, strokes: Tensor, frames: Tensor, native: Tensor, shape: Shape, canvas: Tensor,
                    bounds, iters: int, lr: float, chunk_pixels: int = 1 << 16, fixed_colors: bool = False,
                    deadline: float | None = None, fixed: int = 0, band_pixels: int = BAND_PIXELS,
                    on_iter=None, stop: Callable[[], bool] | None = None) -> tuple[Tensor, list[float]]:
    """Refine strokes (N, 13) jointly so that their in-order painting over ``canvas`` (C, H, W) matches
    ``target`` (3, H, W).  frames (N, 3) and native (N,) in pixels of this canvas; ``bounds(strokes, frames,
    native)`` -> (lo, hi, boxes): per-stroke ranges of the 10 shape numbers (n, 10) and window boxes (n, 4).
    ``on_iter()``: after each step; ``stop()``: before each step (`adam.Stopped`).  ``fixed_colors``: keep
    the colours (e.g. snapped to a palette).  Stops at ``deadline``
    (``time.monotonic()``).  ``fixed``: the first strokes stay as they are, painted into the canvas
    once; the first, canvas-sized strokes hold most of the window pixels (at 500 strokes the first 6 %
    held 47 %).  ``band_pixels``: window pixels per band of rows (memory: ~36 bytes each).  Returns (the
    strokes, the refined ones those of the lowest loss seen; the loss per iteration: MSE per RGB value)."""
    if fixed > 0:
        if fixed >= len(strokes) or iters <= 0:
            return strokes, []
        base = paint_strokes(canvas.clone(), shape, strokes[:fixed], frames[:fixed], native[:fixed])
        rest, losses = refine_windowed(target, strokes[fixed:], frames[fixed:], native[fixed:], shape, base, bounds,
                                       iters, lr, chunk_pixels, fixed_colors, deadline, band_pixels=band_pixels,
                                       on_iter=on_iter, stop=stop)
        return torch.cat([strokes[:fixed], rest]), losses
    n = len(strokes)
    if n == 0 or iters <= 0:
        return strokes, []
    ch_n, h, w = canvas.shape
    lo, hi, boxes = bounds(strokes, frames, native)
    span = hi - lo
    # The composite is per pixel, so bands of rows are independent: each band paints the strokes that
    # cross it (their windows clipped to it), and the bands' gradients add up to the whole canvas's.
    fast = FAST_COMPOSITE and fused.usable(canvas, target) and canvas.dtype == torch.float32 and canvas.is_contiguous()
    bands = [_Band(y0, y1, boxes, w, chunk_pixels, fast) for y0, y1 in _bands(boxes, h, w, band_pixels)]
    # the shape numbers' logits within their windows' bounds, then the colours' logits: one Adam
    zall = torch.cat([logit(((strokes[:, :N_SHAPE] - lo) / span).clamp(0.002, 0.998)),
                      logit(strokes[:, COLOR].clamp(0.002, 0.998))], 1)
    z, zc = zall[:, :N_SHAPE], zall[:, COLOR]  # views: the Adam step updates them in place
    opt = Adam(zall, stop=stop)
    par = lambda z: lo + span * torch.sigmoid(z)  # noqa: E731
    tgt = target[:3]
    scale = 2.0 / tgt.numel()  # d mean((C - T)^2) / dC
    best, best_loss, losses = strokes.clone(), float("inf"), []
    for it in range(iters + 1):  # the last pass only measures the final step's loss
        last = it == iters or (deadline is not None and time.monotonic() > deadline)
        s = par(z)
        col = torch.sigmoid(zc) if not fixed_colors else strokes[:, COLOR]
        colors = col if ch_n == 3 else torch.cat([col, torch.ones(n, 1)], 1)
        zg = z.detach().requires_grad_(True)
        gc = torch.zeros(n, ch_n)
        sq = 0.0
        for band in bands:
            sq += _band_step(band, s, zg, lo, span, colors, frames, native, shape, canvas, tgt, scale, gc, last)
        loss = sq / tgt.numel()
        losses.append(loss)
        if loss < best_loss:
            best_loss = loss
            best = torch.cat([s.detach(), col.detach()], 1)
        if last:
            break
        with torch.no_grad():
            grad = torch.zeros(n, N_PARAMS)
            if zg.grad is not None:
                grad[:, :N_SHAPE] = zg.grad
            if not fixed_colors:
                sc = torch.sigmoid(zc)
                grad[:, COLOR] = gc[:, :3] * sc * (1 - sc)
        opt.step(grad, lr)
        if on_iter is not None:
            on_iter()
    return best.clamp(0.0, 1.0), losses


def _band_step(band: _Band, s: Tensor, zg: Tensor, lo: Tensor, span: Tensor, colors: Tensor, frames: Tensor,
               native: Tensor, shape: Shape, canvas: Tensor, tgt: Tensor, scale: float, gc: Tensor,
               measure_only: bool) -> float:
    """One band of one iteration: forward composite of its strokes, its summed squared error (returned),
    and unless ``measure_only`` the gradients: of the shape logits into ``zg.grad`` (through the
    rasteriser), of the colours (C per stroke) added into ``gc``."""
    y0, y1 = band.y0, band.y1
    gidx = band.idx
    with torch.no_grad():
        C = canvas[:, y0:y1].clone()
        if len(gidx) == 0:
            diff = C[:3] - tgt[:, y0:y1]
            return float((diff * diff).sum())
        alphas = [shape.soft_window(s[gidx[loc]], frames[gidx[loc]], native[gidx[loc]], px, py)
                  for loc, px, py in band.chunks]
        cols = colors[gidx]
        prev = []
        if band.fast is not None:  # the same loops as below, compiled (numba): no Python per stroke
            flat = torch.cat([a.reshape(-1) for a in alphas]).to(C.dtype)
            sizes = [a.numel() for a in alphas]
            del alphas
            prev_flat = fused.composite_in_order(C, flat, *band.fast, cols.to(C.dtype))
        else:
            cl = cols.unbind(0)
            for i, (k, j) in enumerate(band.order):
                hh, ww = band.sizes[i]
                view = C[:, band.yy[i] : band.yy[i] + hh, band.x0[i] : band.x0[i] + ww]
                prev.append(view.clone())
                a = alphas[k][j]
                view.add_(a * (cl[i][:, None, None] - view))
        diff = C[:3] - tgt[:, y0:y1]
        sq = float((diff * diff).sum())
        if measure_only:
            return sq
        G = torch.zeros_like(C)
        G[:3] = diff * scale
        del diff
        if band.fast is not None:
            gflat, gcol = fused.composite_in_order_backward(G, flat, *band.fast, cols.to(G.dtype), prev_flat)
            del prev_flat, flat
            ga = [g.view(len(loc), py.shape[1], px.shape[-1])
                  for g, (loc, px, py) in zip(gflat.split(sizes), band.chunks)]
        else:
            ga = [torch.zeros_like(a) for a in alphas]
            gcol = torch.zeros(len(gidx), G.shape[0])
            for i in range(len(gidx) - 1, -1, -1):
                k, j = band.order[i]
                hh, ww = band.sizes[i]
                g = G[:, band.yy[i] : band.yy[i] + hh, band.x0[i] : band.x0[i] + ww]
                a = alphas[k][j]
                ga[k][j] = (g * (cl[i][:, None, None] - prev[i])).sum(0)
                gcol[i] = (g * a).sum((1, 2))
                g.mul_(1 - a)
            del prev
        gc.index_add_(0, gidx, gcol)
    for (loc, px, py), g in zip(band.chunks, ga):  # one chunk's rasteriser graph at a time
        i = gidx[loc]
        sk = lo[i] + span[i] * torch.sigmoid(zg[i])
        shape.soft_window(sk, frames[i], native[i], px, py).backward(g)
    return sq
