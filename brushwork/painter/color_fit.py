"""The best colours for strokes whose shapes are fixed (docs/method.md, "Colour fit").

Compositing (`brushwork.stroke.canvas.composite`) is linear in the strokes' colours.  After N strokes
with alpha maps A_i over a start canvas S, pixel p is

    C(p) = S(p) T(p) + sum_i c_i w_i(p),    w_i = A_i prod_{j > i} (1 - A_j),    T = prod_j (1 - A_j),

so with the shapes fixed, the colours that minimise the squared error to a target y are a least squares
with colours in [0, 1], one per channel with the same matrix: minimise 0.5 c'Gc - c'b with G = W W'
(N x N), b = W (y - S T).  The agent's colours are its guess from a 64 or 32 px view, one step at a time;
this gives each stroke the colour that is best for the painting as a whole (dev photos, 128 px, 200
strokes, photo agent: 20.65 -> 21.46 dB; docs/benchmarks/agents.md).
"""

from __future__ import annotations

import torch
from torch import Tensor

from ..stroke import Shape
from ..stroke.base import COLOR, Windows, clip_mask
from ..stroke.canvas import paint_strokes

#: Side of the square pixel blocks G and b are summed over: a block only involves the strokes whose
#: boxes touch it, so small strokes cost their own area, not the canvas's.  `normal_equations` for the
#: photo agent's 200 strokes at 128 px, 1 thread: blocks of 16 / 32 / 64 / 128 px 0.099 / 0.035 / 0.052 /
#: 0.217 s; at 1,024 px (photo-ddpg, 800 strokes) 64 px blocks took 6.3 s against 8.1 s for 32.
BLOCK = 32

#: The blocks' weights are kept to repaint the canvas (`compose`) while they take at most this many bytes;
#: beyond, the strokes are painted again (the agent's working canvas at 128 px / 200 strokes: ~10 MB).
KEEP_BYTES = 1 << 27

#: Iterations of the projected, preconditioned gradient (FISTA) on the box-constrained least squares.
#: Same setting, dev photos: 30 / 100 / 300 / 1,000 iterations 21.46 / 21.47 / 21.47 / 21.47 dB.
COLOR_FIT_ITERS = 30


@torch.no_grad()
def normal_equations(start: Tensor, target: Tensor, shape: Shape, strokes: Tensor, frames: Tensor, native,
                     clips: Tensor | None = None, block: int = BLOCK, keep_bytes: int = 0
                     ) -> tuple[Tensor, Tensor, Tensor, list | None]:
    """G (N, N), b (N, 3) and d (N,) = G 1 (the row sums, for the preconditioner) of the least squares
    above, float64, and the blocks or None.  start: the canvas before the strokes (>= 3, H, W); target
    (3, H, W) in [0, 1]; strokes (N, 13), frames (N, 3), clips (N, 4) or None in canvas pixels, as
    `paint_strokes`.  The blocks, each (y0, x0, h, w, stroke indices, weights w_i, T), are kept while
    they take at most ``keep_bytes``; `compose` paints the canvas from them for any colours without
    rasterising again."""
    _, h, w = target.shape
    n = len(strokes)
    frames = frames.to(strokes.dtype)
    nat = shape._native(native, frames)
    boxes = shape.boxes(strokes, frames, nat)
    if clips is not None:  # a clipped stroke only touches its clip's blocks
        c = clips.to(boxes)
        boxes = torch.stack([boxes[:, 0].maximum(c[:, 0]), boxes[:, 1].maximum(c[:, 1]),
                             boxes[:, 2].minimum(c[:, 2]), boxes[:, 3].minimum(c[:, 3])], 1)
    G = torch.zeros(n, n, dtype=torch.float64)
    b = torch.zeros(n, 3, dtype=torch.float64)
    d = torch.zeros(n, dtype=torch.float64)
    blocks: list | None = [] if keep_bytes > 0 else None
    kept = 0
    for y0 in range(0, h, block):
        for x0 in range(0, w, block):
            bh, bw = min(block, h - y0), min(block, w - x0)
            idx = torch.nonzero((boxes[:, 0] < x0 + bw) & (boxes[:, 2] > x0) & (boxes[:, 1] < y0 + bh)
                                & (boxes[:, 3] > y0)).flatten()
            if len(idx) == 0:
                continue
            m = len(idx)
            win = Windows(torch.full((m,), x0, dtype=torch.long), torch.full((m,), y0, dtype=torch.long), bh, bw)
            px, py = win.grids(strokes.dtype)
            a = shape.soft_window(strokes[idx], frames[idx], nat[idx], px, py)
            if clips is not None:
                a = a * clip_mask(clips[idx], px, py)
            a = a.reshape(m, -1).float()
            # prod_{j >= i} (1 - A_j), strokes in painting order: w_i = A_i prod_{j > i} (1 - A_j)
            keep = (1 - a).flip(0).cumprod(0).flip(0)
            wts = a * torch.cat([keep[1:], torch.ones_like(keep[:1])])
            left = keep[0]  # T: how much of the start canvas shows
            y = target[:, y0 : y0 + bh, x0 : x0 + bw].reshape(3, -1).float()
            s = start[:3, y0 : y0 + bh, x0 : x0 + bw].reshape(3, -1).float()
            # float32 within a block (the matmul is the cost), float64 across blocks
            G[idx[:, None], idx[None, :]] += (wts @ wts.T).double()
            b[idx] += (wts @ (y - s * left).T).double()
            d[idx] += (wts @ (1 - left)).double()  # sum_j w_j = 1 - T, so (G 1)_i = w_i . (1 - T)
            if blocks is not None:
                kept += 4 * wts.numel()
                if kept > keep_bytes:
                    blocks = None
                else:
                    blocks.append((y0, x0, bh, bw, idx, wts, left))
    return G, b, d, blocks


def compose(canvas: Tensor, start: Tensor, colors: Tensor, blocks: list) -> Tensor:
    """Paint ``canvas`` (>= 3, H, W) in place, RGB only: ``start`` T + sum_i c_i w_i over the blocks that
    `normal_equations` recorded, for colours (N, 3); pixels outside every block keep the start."""
    canvas[:3] = start[:3]
    for y0, x0, bh, bw, idx, wts, left in blocks:
        s = start[:3, y0 : y0 + bh, x0 : x0 + bw].reshape(3, -1)
        canvas[:3, y0 : y0 + bh, x0 : x0 + bw] = (s * left + colors[idx].T.to(wts) @ wts).view(3, bh, bw)
    return canvas


def solve_box(G: Tensor, b: Tensor, d: Tensor, x0: Tensor, iters: int = COLOR_FIT_ITERS) -> Tensor:
    """argmin over x in [0, 1]^(N, C) of 0.5 x'Gx - x'b, from x0 (N, C), by FISTA with the diagonal
    preconditioner D = diag(d), d = G 1: for G >= 0 elementwise D - G is positive semidefinite, so each
    projected step x - D^-1 (Gx - b) is a majorise-minimise step.  Rows with d = 0 (strokes that show
    nowhere) keep x0."""
    x = x0.double().clamp(0, 1)
    live = d > 1e-12
    inv = torch.where(live, 1 / d.clamp(min=1e-12), torch.zeros_like(d))[:, None]
    z, t = x, 1.0
    for _ in range(iters):
        x_new = (z - inv * (G @ z - b)).clamp(0, 1)
        t_new = (1 + (1 + 4 * t * t) ** 0.5) / 2
        z = x_new + ((t - 1) / t_new) * (x_new - x)
        x, t = x_new, t_new
    return x.to(x0.dtype)


def fit_colors(start: Tensor, target: Tensor, shape: Shape, strokes: Tensor, frames: Tensor, native,
               clips: Tensor | None = None, iters: int = COLOR_FIT_ITERS, canvas: Tensor | None = None) -> Tensor:
    """``strokes`` (N, 13) with the colours that paint ``target`` (3, H, W) best over ``start`` (C, H, W)
    with their shapes as they are (a new tensor; see the module docstring).  ``canvas`` (C, H, W), if
    given, is repainted with them (as `paint_strokes` would, from the alpha maps already computed)."""
    out = strokes.clone()
    if len(strokes) == 0:
        if canvas is not None:
            canvas.copy_(start)
        return out
    G, b, d, blocks = normal_equations(start, target, shape, strokes, frames, native, clips,
                                       keep_bytes=KEEP_BYTES if canvas is not None else 0)
    out[:, COLOR] = solve_box(G, b, d, strokes[:, COLOR], iters)
    if canvas is not None and blocks is not None:
        compose(canvas, start, out[:, COLOR], blocks)
    elif canvas is not None:  # too large to have kept the alpha maps: paint again
        canvas.copy_(paint_strokes(start.clone(), shape, out, frames, native=native, clips=clips))
    return out
