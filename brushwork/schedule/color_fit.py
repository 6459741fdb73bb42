"""The best colours for strokes whose shapes are fixed (docs/method.md, "Colour fit").

Compositing (`brushwork.stroke.canvas.composite`) is linear in the strokes' colours.  After N strokes
with alpha maps A_i over a start canvas S, pixel p is

    C(p) = S(p) T(p) + sum_i c_i w_i(p),    w_i = A_i prod_{j > i} (1 - A_j),    T = prod_j (1 - A_j),

so with the shapes fixed, the colours that minimise the squared error to a target y are a least squares
with colours in [0, 1], one per channel with the same matrix: minimise 0.5 c'Gc - c'b with G = W W'
(N x N), b = W (y - S T).  The agent's colours are its guess from a 64 or 32 px view, one step at a time;
this gives each stroke the colour that is best for the painting as a whole (what it gains:
docs/choices.md#colour-fit).
"""

from __future__ import annotations

import torch
from torch import Tensor

from ..stroke import Shape
from ..stroke.base import COLOR, Windows, clip_mask
from ..stroke.canvas import paint_strokes

#: Side of the square pixel blocks G and b are summed over: a block only involves the strokes whose
#: boxes touch it, so small strokes cost their own area, not the canvas's; smaller blocks pay more per
#: block than they save (timings: docs/choices.md#colour-fit).
BLOCK = 32

#: The blocks' weights are kept to repaint the canvas (`compose`) while they take at most this many bytes;
#: beyond, the strokes are painted again and the agent's repaint (which prices strokes from them) is
#: skipped.  Sized so that the agent's at-size pyramid keeps them at 512 px / 4,000 strokes and 1,024 px /
#: 8,000 (docs/benchmarks/agent-size.md); `fit_bytes` counts them in the painter's memory check.
KEEP_BYTES = 1 << 29


def fit_bytes(n_strokes: int) -> int:
    """Peak bytes of a colour fit of ``n_strokes`` beyond the canvas: G (float64, N x N) and its
    scatter's temporaries, and the kept blocks (`KEEP_BYTES`)."""
    return 16 * n_strokes * n_strokes + KEEP_BYTES

#: Iterations of the projected, preconditioned gradient (FISTA) on the box-constrained least squares;
#: more do not change the painting measurably (docs/choices.md#colour-fit).
COLOR_FIT_ITERS = 30


@torch.no_grad()
def normal_equations(start: Tensor, target: Tensor, shape: Shape, strokes: Tensor, frames: Tensor, native,
                     clips: Tensor | None = None, block: int = BLOCK, keep_bytes: int = 0,
                     prior: tuple[list, Tensor] | None = None) -> tuple[Tensor, Tensor, Tensor, list | None]:
    """G (N, N), b (N, 3) and d (N,) = G 1 (the row sums, for the preconditioner) of the least squares
    above, float64, and the blocks or None.  start: the canvas before the strokes (>= 3, H, W); target
    (3, H, W) in [0, 1]; strokes (N, 13), frames (N, 3), clips (N, 4) or None in canvas pixels, as
    `paint_strokes`.  The blocks, each (y0, x0, h, w, stroke indices, weights w_i, T, alphas A_i), are
    kept while they take at most ``keep_bytes``; `compose` paints the canvas from them for any colours (and
    any subset of the strokes) and `removal_costs` prices every stroke, without rasterising again.
    ``prior`` = (blocks, keep): the first keep.sum() strokes are those of an earlier call's blocks (of the
    same canvas and ``block``) that ``keep`` (bool, over that call's strokes) marks, in their order; their
    alphas are taken from those blocks and only the strokes after them are rasterised."""
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
    first = 0  # strokes before this index come with their alphas (prior)
    if prior is not None:
        old_blocks, keep_old = prior
        first = int(keep_old.sum())
        position = keep_old.long().cumsum(0) - 1  # an old stroke's index among the strokes here
        by_place = {(blk[0], blk[1]): blk for blk in old_blocks}
    for y0 in range(0, h, block):
        for x0 in range(0, w, block):
            bh, bw = min(block, h - y0), min(block, w - x0)
            idx = torch.nonzero((boxes[first:, 0] < x0 + bw) & (boxes[first:, 2] > x0) & (boxes[first:, 1] < y0 + bh)
                                & (boxes[first:, 3] > y0)).flatten() + first
            m = len(idx)
            if m:
                win = Windows(torch.full((m,), x0, dtype=torch.long), torch.full((m,), y0, dtype=torch.long), bh, bw)
                px, py = win.grids(strokes.dtype)
                a = shape.soft_window(strokes[idx], frames[idx], nat[idx], px, py)
                if clips is not None:
                    a = a * clip_mask(clips[idx], px, py)
                a = a.reshape(m, -1).float()
            else:
                a = torch.zeros(0, bh * bw)
            if prior is not None and (y0, x0) in by_place:
                old = by_place[(y0, x0)]
                on = keep_old[old[4]]
                idx, a = torch.cat([position[old[4][on]], idx]), torch.cat([old[7][on], a])
                m = len(idx)
            if m == 0:
                continue
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
                kept += 8 * wts.numel()
                if kept > keep_bytes:
                    blocks = None
                else:
                    blocks.append((y0, x0, bh, bw, idx, wts, left, a))
    return G, b, d, blocks


def compose(canvas: Tensor, start: Tensor, colors: Tensor, blocks: list, keep: Tensor | None = None) -> Tensor:
    """Paint ``canvas`` (>= 3, H, W) in place, RGB only: ``start`` T + sum_i c_i w_i over the blocks that
    `normal_equations` recorded, for colours (N, 3); pixels outside every block keep the start.  ``keep``
    (N,) bool: only those strokes, in their order (their weights recomputed from the alphas)."""
    canvas[:3] = start[:3]
    for y0, x0, bh, bw, idx, wts, left, a in blocks:
        if keep is not None:
            on = keep[idx]
            idx, a = idx[on], a[on]
            suffix = (1 - a).flip(0).cumprod(0).flip(0)
            wts = a * torch.cat([suffix[1:], torch.ones_like(suffix[:1])])
            left = suffix[0] if len(a) else torch.ones(bh * bw)
        s = start[:3, y0 : y0 + bh, x0 : x0 + bw].reshape(3, -1)
        canvas[:3, y0 : y0 + bh, x0 : x0 + bw] = (s * left + colors[idx].T.to(wts) @ wts).view(3, bh, bw)
    return canvas


def removal_costs(blocks: list, start: Tensor, target: Tensor, colors: Tensor, n: int) -> Tensor:
    """How much the squared error (summed over RGB in [0, 1]) of the painting of ``blocks`` (from
    `normal_equations`) with colours (N, 3) grows when each stroke alone is removed -> (N,) float64, as
    `reseed.removal_costs` measures it by painting, here from the kept weights alone: removing stroke i
    changes the canvas by -w_i (c_i - X_{i-1}), and the canvas under it is a weighted mean of what lies
    below, X_{i-1} = (S T + sum_{j<i} c_j w_j) / (T + sum_{j<i} w_j) (both sides times prod_{j>=i}(1 - A_j)).
    Where a stroke is fully opaque the mean is 0/0 and reads as black (the cost is then overestimated)."""
    cost = torch.zeros(n, dtype=torch.float64)
    for y0, x0, bh, bw, idx, wts, left, _ in blocks:
        s = start[:3, y0 : y0 + bh, x0 : x0 + bw].reshape(3, -1).float()
        y = target[:, y0 : y0 + bh, x0 : x0 + bw].reshape(3, -1).float()
        c = colors[idx].T.to(wts)[:, :, None]  # (3, m, 1)
        cw = c * wts[None]  # (3, m, px)
        below = s[:, None] * left + cw.cumsum(1) - cw  # S T + sum_{j<i} c_j w_j
        under = below / (left + wts.cumsum(0) - wts).clamp(min=1e-8)[None]
        dlt = wts[None] * (c - under)  # what stroke i adds to the final canvas
        r = s * left + cw.sum(1) - y  # the final residual
        cost[idx] += ((dlt * dlt).sum((0, 2)) - 2 * (r[:, None] * dlt).sum((0, 2))).double()
    return cost


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
               clips: Tensor | None = None, iters: int = COLOR_FIT_ITERS, canvas: Tensor | None = None,
               blocks_out: list | None = None, prior: tuple[list, Tensor] | None = None) -> Tensor:
    """``strokes`` (N, 13) with the colours that paint ``target`` (3, H, W) best over ``start`` (C, H, W)
    with their shapes as they are (a new tensor; see the module docstring).  ``canvas`` (C, H, W), if
    given, is repainted with them (as `paint_strokes` would, from the alpha maps already computed).
    ``blocks_out``: if a list, `normal_equations`' blocks are appended to it (none when too large);
    ``prior``: as in `normal_equations`."""
    out = strokes.clone()
    if len(strokes) == 0:
        if canvas is not None:
            canvas.copy_(start)
        return out
    G, b, d, blocks = normal_equations(start, target, shape, strokes, frames, native, clips,
                                       keep_bytes=KEEP_BYTES if canvas is not None or blocks_out is not None else 0,
                                       prior=prior)
    if blocks_out is not None and blocks is not None:
        blocks_out.extend(blocks)
    out[:, COLOR] = solve_box(G, b, d, strokes[:, COLOR], iters)
    if canvas is not None and blocks is not None:
        compose(canvas, start, out[:, COLOR], blocks)
    elif canvas is not None:  # too large to have kept the alpha maps: paint again
        canvas.copy_(paint_strokes(start.clone(), shape, out, frames, native=native, clips=clips))
    return out
