"""Torch twins of the textures' numba functions, differentiable: what the optimiser sees of a medium.

The numba kernels (`textures`) paint; these compute the same numbers on tensors, so that a medium's
coverage and paint colour (`TexturedMedium.soft_paint`) can be part of the optimiser's loss with
gradients.  Noise uses the same integer hash and lattice, so the values match the kernels' to rounding
(tests/test_media.py).  Textures are computed in float64 (the kernels' precision).

`local_coords` finds the closest centre-line point without a graph (the kernel's 9 samples and 3 Newton
steps), then adds one Newton step's *change* with a graph and subtracts its value: the value stays the
kernel's and the gradient of t is the implicit one (dt = -d(f')/f'' at the minimum), so t and v are
differentiable in the stroke's geometry.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

M32 = 0xFFFFFFFF


def hash01(i: Tensor, j: Tensor, seed: Tensor) -> Tensor:
    """`textures.hash01` on int64 tensors (broadcast) -> float64 in [0, 1)."""
    h = (i * 374761393 + j * 668265263 + seed * 1442695041) & M32
    h = ((h ^ (h >> 13)) * 1274126177) & M32
    h = (h ^ (h >> 16)) & M32
    return h.double() / 4294967296.0


def smooth(f: Tensor) -> Tensor:
    return f * f * (3.0 - 2.0 * f)


def sat(x: Tensor) -> Tensor:
    return x.clamp(0.0, 1.0)


def smoothstep(e0, e1, x: Tensor) -> Tensor:
    return smooth(sat((x - e0) / (e1 - e0)))


def band(step_px: Tensor) -> Tensor:
    return smoothstep(0.5, 2.0, step_px)


def noise2(x: Tensor, y: Tensor, seed: Tensor) -> Tensor:
    """`textures.noise2`: smooth value noise in [0, 1] (differentiable in x and y)."""
    fx, fy = torch.floor(x.detach()), torch.floor(y.detach())
    ix, iy = fx.long(), fy.long()
    u, w = smooth(x - fx), smooth(y - fy)
    a = hash01(ix, iy, seed)
    b = hash01(ix + 1, iy, seed)
    c = hash01(ix, iy + 1, seed)
    d = hash01(ix + 1, iy + 1, seed)
    return a + (b - a) * u + (c - a) * w + (a - b - c + d) * u * w


def local_coords(geom: Tensor, x: Tensor, y: Tensor) -> tuple[Tensor, Tensor]:
    """Stroke-local (t, v) (n, h, w) at pixel centres x (n, 1, w), y (n, h, 1) of strokes with geometry
    ``geom`` (n, >= 8: P0, P1, P2, r0, r2 in canvas px), as `textures.local_coords`; differentiable."""
    g = geom.double()[:, :, None, None]
    x, y = x.double(), y.double()
    p0x, p0y, p1x, p1y, p2x, p2y, r0, r2 = (g[:, k] for k in range(8))
    ax, ay = p0x - 2.0 * p1x + p2x, p0y - 2.0 * p1y + p2y
    bx, by = 2.0 * (p1x - p0x), 2.0 * (p1y - p0y)
    qx, qy = p0x - x, p0y - y

    def at(t, qx, qy, ax, ay, bx, by):
        return qx + t * (bx + t * ax), qy + t * (by + t * ay), bx + 2.0 * t * ax, by + 2.0 * t * ay

    with torch.no_grad():
        qxd, qyd, axd, ayd, bxd, byd = (z.detach() for z in (qx, qy, ax, ay, bx, by))
        best = tb = None
        for j in range(9):
            t = j / 8.0
            ex, ey = qxd + t * (bxd + t * axd), qyd + t * (byd + t * ayd)
            d2 = ex * ex + ey * ey
            if best is None:
                best, tb = d2, torch.zeros_like(d2)
            else:
                better = d2 < best
                best = torch.where(better, d2, best)
                tb = torch.where(better, torch.full_like(tb, t), tb)
        t, done = tb, torch.zeros(tb.shape, dtype=torch.bool)
        for _ in range(3):  # Newton on d/dt |B(t) - p|^2 / 2; a pixel whose f'' <= 1e-9 stops there
            ex, ey, dx, dy = at(t, qxd, qyd, axd, ayd, bxd, byd)
            f1 = ex * dx + ey * dy
            f2 = dx * dx + dy * dy + 2.0 * (ex * axd + ey * ayd)
            done = done | (f2 <= 1e-9)
            t = torch.where(done, t, (t - f1 / f2.clamp(min=1e-9)).clamp(0.0, 1.0))
        inner = (t > 0.0) & (t < 1.0)
    # the implicit gradient of t: one Newton step's change with a graph, its value taken off again
    ex, ey, dx, dy = at(t, qx, qy, ax, ay, bx, by)
    f1 = ex * dx + ey * dy
    f2 = (dx * dx + dy * dy + 2.0 * (ex * ax + ey * ay)).clamp(min=1e-9)
    step = torch.where(inner, -f1 / f2, torch.zeros_like(f1))
    t = t + (step - step.detach())
    ex, ey, dx, dy = at(t, qx, qy, ax, ay, bx, by)
    dist = torch.sqrt(ex * ex + ey * ey + 1e-18)
    cross = dx * (-ey) - dy * (-ex)
    r = r0 + t * (r2 - r0)
    v = dist / r.clamp(min=1e-6)
    return t, torch.where(cross < 0.0, -v, v)


def curve_length(geom: Tensor) -> Tensor:
    """`textures.curve_length` of each stroke (n,) (16 chords), float64."""
    g = geom.double()
    t = torch.arange(17, dtype=torch.float64) / 16.0
    u = 1.0 - t
    x = u * u * g[:, 0:1] + 2.0 * t * u * g[:, 2:3] + t * t * g[:, 4:5]
    y = u * u * g[:, 1:2] + 2.0 * t * u * g[:, 3:4] + t * t * g[:, 5:6]
    return torch.sqrt(x.diff(dim=1) ** 2 + y.diff(dim=1) ** 2).sum(1)


def per_stroke(x: Tensor) -> Tensor:
    """(n,) -> (n, 1, 1), to broadcast over windows."""
    return x[:, None, None]


PI = math.pi
