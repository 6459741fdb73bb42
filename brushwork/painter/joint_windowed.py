"""Joint refinement of all strokes of a painting, windowed: every stroke's parameters and colour are
optimised together against the target through the in-order composite, at a cost proportional to the
pixels the strokes touch (not strokes x canvas, as the dense `optimize.refine_strokes` costs).

Why: the stage optimiser places each stroke against a fixed canvas, so strokes cannot cooperate.  A
joint pass lets later strokes correct earlier ones and vice versa: on a 256 px photo with 500 strokes,
20 dense joint iterations raised 21.6 to 24.0 dB (docs/benchmarks/optimizer.md); this module gets that
effect at the windowed optimiser's cost and memory.

One iteration, with strokes i = 0 .. N-1 composited in order inside their fixed windows W_i
(``C_i = C_{i-1} (1 - a_i) + a_i c_i`` on W_i):

1. alphas a_i of all strokes, batched by window size, without a graph;
2. the forward composite, keeping each window's canvas before its stroke (P_i): memory = sum of windows;
3. the backward composite by hand, last stroke first, with G = dL/dC:
   dL/da_i = sum_ch G (c_i - P_i), dL/dc_i = sum_px G a_i, then G <- G (1 - a_i) on W_i;
4. per chunk of windows, the alphas again *with* a graph, back-propagated with their dL/da (so only one
   chunk's rasteriser graph exists at a time), then an Adam step on the logits.

Strokes stay inside their windows through per-stroke parameter bounds (`optimize_windowed._bounds`),
so what the loss sees is what the final render draws.
"""

from __future__ import annotations

import time

import torch
from torch import Tensor

from ..stroke import Shape, fused
from ..stroke.base import area_chunks, windows_from_boxes
from ..stroke.bezier import Bezier
from ..stroke.canvas import paint_strokes
from .optimize import logit

#: composite through the numba kernels when they are there (False: the Python loops; tests compare both)
FAST_COMPOSITE = True


def supports(shape: Shape) -> bool:
    """Joint refinement needs bounds that keep a stroke inside its window: bezier strokes have them."""
    return isinstance(shape, Bezier)


def refine_windowed(target: Tensor, strokes: Tensor, frames: Tensor, native: Tensor, shape: Shape, canvas: Tensor,
                    bounds, iters: int, lr: float, chunk_pixels: int = 1 << 16, fixed_colors: bool = False,
                    deadline: float | None = None, fixed: int = 0,
                    on_iter=None) -> tuple[Tensor, list[float]]:
    """Refine strokes (N, 13) jointly so that their in-order painting over ``canvas`` (C, H, W) matches
    ``target`` (3, H, W).  frames (N, 3) and native (N,) in pixels of this canvas; ``bounds(strokes, frames,
    native)`` -> (lo, hi, boxes): per-stroke ranges of the 10 shape numbers (n, 10) and window boxes (n, 4).
    ``on_iter()``: after each step.  ``fixed_colors``: keep the colours (e.g. snapped to a palette).  Stops at ``deadline``
    (``time.monotonic()``).  ``fixed``: the first strokes stay as they are, painted into the canvas
    once; the first, canvas-sized strokes hold most of the window pixels (at 500 strokes the first 6 %
    held 47 %).  Returns (the strokes, the refined ones those of the lowest loss seen; the loss per
    iteration: MSE per RGB value)."""
    if fixed > 0:
        if fixed >= len(strokes) or iters <= 0:
            return strokes, []
        base = paint_strokes(canvas.clone(), shape, strokes[:fixed], frames[:fixed], native[:fixed])
        rest, losses = refine_windowed(target, strokes[fixed:], frames[fixed:], native[fixed:], shape, base, bounds,
                                       iters, lr, chunk_pixels, fixed_colors, deadline, on_iter=on_iter)
        return torch.cat([strokes[:fixed], rest]), losses
    n = len(strokes)
    if n == 0 or iters <= 0:
        return strokes, []
    ch_n, h, w = canvas.shape
    lo, hi, boxes = bounds(strokes, frames, native)
    span = hi - lo
    chunks = []  # (stroke indices, windows, pixel grids)
    where = torch.empty(n, 2, dtype=torch.long)  # stroke -> (chunk, row)
    for k, idx in enumerate(area_chunks(boxes, h, w, chunk_pixels)):
        win = windows_from_boxes(boxes[idx], h, w)
        chunks.append((idx, win, win.grids()))
        where[idx, 0] = k
        where[idx, 1] = torch.arange(len(idx))
    order = where.tolist()
    x0 = torch.empty(n, dtype=torch.long)
    y0 = torch.empty(n, dtype=torch.long)
    for idx, win, _ in chunks:
        x0[idx], y0[idx] = win.x0, win.y0
    x0l, y0l = x0.tolist(), y0.tolist()
    sizes = [(chunks[k][1].h, chunks[k][1].w) for k, _ in order]

    # The fused composite's layout: alphas of all chunks flat, chunk after chunk; per stroke its offset,
    # window size and position (int64 arrays for the numba kernels).
    fast = None
    if FAST_COMPOSITE and fused.usable(canvas, target) and canvas.dtype == torch.float32 and canvas.is_contiguous():
        numel = [len(idx) * win.h * win.w for idx, win, _ in chunks]
        base = [0]
        for v in numel[:-1]:
            base.append(base[-1] + v)
        offs = torch.tensor([base[k] + j * sizes[i][0] * sizes[i][1] for i, (k, j) in enumerate(order)], dtype=torch.long)
        fast = (offs, torch.tensor([h_ for h_, _ in sizes], dtype=torch.long),
                torch.tensor([w_ for _, w_ in sizes], dtype=torch.long), y0.clone(), x0.clone())
    z = logit(((strokes[:, :10] - lo) / span).clamp(0.002, 0.998))
    zc = logit(strokes[:, 10:13].clamp(0.002, 0.998))
    par = lambda z: lo + span * torch.sigmoid(z)  # noqa: E731
    m1, m2 = torch.zeros(n, 13), torch.zeros(n, 13)
    b1, b2 = 0.9, 0.999
    tgt = target[:3]
    scale = 2.0 / tgt.numel()  # d mean((C - T)^2) / dC
    best, best_loss, losses = strokes.clone(), float("inf"), []
    for it in range(iters + 1):  # the last pass only measures the final step's loss
        s = par(z)
        col = torch.sigmoid(zc) if not fixed_colors else strokes[:, 10:13]
        with torch.no_grad():
            alphas = [shape.soft_window(s[idx], frames[idx], native[idx], px, py) for idx, _, (px, py) in chunks]
            colors = col if ch_n == 3 else torch.cat([col, torch.ones(n, 1)], 1)
            cl = colors.unbind(0)
            C = canvas.clone()
            prev = []
            if fast is not None:  # the same loops as below, compiled (numba): ~10 us of Python per stroke saved
                flat = torch.cat([a.reshape(-1) for a in alphas]).to(C.dtype)
                prev_flat = fused.composite_in_order(C, flat, *fast, colors.to(C.dtype))
            for i, (k, j) in enumerate(order if fast is None else ()):
                hh, ww = sizes[i]
                view = C[:, y0l[i] : y0l[i] + hh, x0l[i] : x0l[i] + ww]
                prev.append(view.clone())
                a = alphas[k][j]
                view.add_(a * (cl[i][:, None, None] - view))
            diff = C[:3] - tgt
            loss = float((diff * diff).mean())
        losses.append(loss)
        if loss < best_loss:
            best_loss = loss
            best = torch.cat([s.detach(), col.detach()], 1)
        if it == iters or (deadline is not None and time.monotonic() > deadline):
            break
        with torch.no_grad():
            G = torch.zeros_like(C)
            G[:3] = diff * scale
            if fast is not None:
                gflat, gc = fused.composite_in_order_backward(G, flat, *fast, colors.to(C.dtype), prev_flat)
                ga = [g.view_as(a) for g, a in zip(gflat.split([a.numel() for a in alphas]), alphas)]
                del prev_flat
            else:
                ga = [torch.zeros_like(a) for a in alphas]
                gc = torch.zeros(n, ch_n)
            for i in range(n - 1, -1, -1) if fast is None else ():
                k, j = order[i]
                hh, ww = sizes[i]
                g = G[:, y0l[i] : y0l[i] + hh, x0l[i] : x0l[i] + ww]
                a = alphas[k][j]
                ga[k][j] = (g * (cl[i][:, None, None] - prev[i])).sum(0)
                gc[i] = (g * a).sum((1, 2))
                g.mul_(1 - a)
        del prev
        zg = z.detach().requires_grad_(True)
        for (idx, _, (px, py)), g in zip(chunks, ga):  # one chunk's graph at a time
            sk = lo[idx] + span[idx] * torch.sigmoid(zg[idx])
            shape.soft_window(sk, frames[idx], native[idx], px, py).backward(g)
        with torch.no_grad():
            grad = torch.zeros(n, 13)
            grad[:, :10] = zg.grad
            if not fixed_colors:
                sc = torch.sigmoid(zc)
                grad[:, 10:13] = gc[:, :3] * sc * (1 - sc)
            m1.mul_(b1).add_(grad, alpha=1 - b1)
            m2.mul_(b2).addcmul_(grad, grad, value=1 - b2)
            step = (m1 / (1 - b1 ** (it + 1))) / ((m2 / (1 - b2 ** (it + 1))).sqrt() + 1e-8) * lr
            z = z - step[:, :10]
            zc = zc - step[:, 10:13]
        if on_iter is not None:
            on_iter()
    return best.clamp(0.0, 1.0), losses
