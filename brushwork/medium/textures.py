"""Procedural textures for the media: seeded, deterministic, resolution-free (numba).

Nothing here is a bitmap: every texture is a function of continuous coordinates, so it is the same
picture at any output size.  Two kinds of coordinates are used:

* **stroke-local** ``(t, v)``: t in [0, 1] along the stroke's centre curve, v in [-1, 1] across it
  (signed distance / radius).  Bristles, dry-brush tails and wet edges live here, so they scale and
  turn with the stroke (`local_coords`).
* **canvas texels**: canvas pixels divided by ``unit = long side / 512``.  A 512 px painting has one
  texel per pixel, a 4,096 px poster eight pixels per texel: canvas weave and paper tooth keep their
  size relative to the picture (`texel_unit`).

Noise is value noise on an integer lattice with a 32-bit integer hash (no global random state).
"""

from __future__ import annotations

import math

import numba
import numpy as np

TEXELS = 512.0  # canvas texels along the long side (a 512 px painting: one texel per pixel)
_NJIT = dict(cache=True, nogil=True, error_model="numpy")


def texel_unit(height: int, width: int) -> float:
    """Canvas pixels per texel: the size of the canvas textures follows the canvas, not the pixel."""
    return max(height, width) / TEXELS


@numba.njit(inline="always", **_NJIT)
def hash01(i, j, seed):
    """A number in [0, 1) from two lattice coordinates and a seed (integer hash, no state)."""
    h = (i * 374761393 + j * 668265263 + seed * 1442695041) & 0xFFFFFFFF
    h = ((h ^ (h >> 13)) * 1274126177) & 0xFFFFFFFF
    h = (h ^ (h >> 16)) & 0xFFFFFFFF
    return h / 4294967296.0


def hash01_py(i: int, j: int, seed: int) -> float:
    """`hash01` in plain Python (for the SVG writers)."""
    h = (i * 374761393 + j * 668265263 + seed * 1442695041) & 0xFFFFFFFF
    h = ((h ^ (h >> 13)) * 1274126177) & 0xFFFFFFFF
    h = (h ^ (h >> 16)) & 0xFFFFFFFF
    return h / 4294967296.0


@numba.njit(inline="always", **_NJIT)
def smooth(f):
    return f * f * (3.0 - 2.0 * f)


@numba.njit(inline="always", **_NJIT)
def sat(x):
    return 0.0 if x < 0.0 else (1.0 if x > 1.0 else x)


@numba.njit(inline="always", **_NJIT)
def smoothstep(e0, e1, x):
    return smooth(sat((x - e0) / (e1 - e0)))


@numba.njit(inline="always", **_NJIT)
def noise2(x, y, seed):
    """Smooth value noise in [0, 1] on the unit lattice."""
    fx, fy = math.floor(x), math.floor(y)
    ix, iy = np.int64(fx), np.int64(fy)
    u, w = smooth(x - fx), smooth(y - fy)
    a = hash01(ix, iy, seed)
    b = hash01(ix + 1, iy, seed)
    c = hash01(ix, iy + 1, seed)
    d = hash01(ix + 1, iy + 1, seed)
    return a + (b - a) * u + (c - a) * w + (a - b - c + d) * u * w


@numba.njit(inline="always", **_NJIT)
def local_coords(p0x, p0y, p1x, p1y, p2x, p2y, r0, r2, x, y):
    """Stroke-local coordinates of point (x, y) on the quadratic Bezier P0 P1 P2 with radius r0 -> r2:
    (t, v): the curve parameter of the closest centre-line point, and the signed distance across the
    stroke over the radius there (negative on the left of the direction of travel)."""
    ax, ay = p0x - 2.0 * p1x + p2x, p0y - 2.0 * p1y + p2y
    bx, by = 2.0 * (p1x - p0x), 2.0 * (p1y - p0y)
    qx, qy = p0x - x, p0y - y
    best, tb = 1e30, 0.0
    for j in range(9):
        t = j / 8.0
        ex, ey = qx + t * (bx + t * ax), qy + t * (by + t * ay)
        d2 = ex * ex + ey * ey
        if d2 < best:
            best, tb = d2, t
    t = tb
    for _ in range(3):  # Newton on d/dt |B(t) - p|^2 / 2
        ex, ey = qx + t * (bx + t * ax), qy + t * (by + t * ay)
        dx, dy = bx + 2.0 * t * ax, by + 2.0 * t * ay
        f1 = ex * dx + ey * dy
        f2 = dx * dx + dy * dy + 2.0 * (ex * ax + ey * ay)
        if f2 <= 1e-9:
            break
        t = min(max(t - f1 / f2, 0.0), 1.0)
    ex, ey = qx + t * (bx + t * ax), qy + t * (by + t * ay)
    dx, dy = bx + 2.0 * t * ax, by + 2.0 * t * ay
    dist = math.sqrt(ex * ex + ey * ey)
    cross = dx * (-ey) - dy * (-ex)  # tangent x (p - B(t))
    r = r0 + t * (r2 - r0)
    v = dist / max(r, 1e-6)
    return t, (-v if cross < 0.0 else v)


@numba.njit(**_NJIT)
def curve_length(p0x, p0y, p1x, p1y, p2x, p2y):
    """Arc length of a quadratic Bezier (16 chords)."""
    total, lx, ly = 0.0, p0x, p0y
    for j in range(1, 17):
        t = j / 16.0
        u = 1.0 - t
        x = u * u * p0x + 2.0 * t * u * p1x + t * t * p2x
        y = u * u * p0y + 2.0 * t * u * p1y + t * t * p2y
        total += math.sqrt((x - lx) ** 2 + (y - ly) ** 2)
        lx, ly = x, y
    return total


@numba.njit(inline="always", **_NJIT)
def band(step_px):
    """Weight of a texture detail ``step_px`` pixels across: 1 from two pixels up, fading to 0 at half a
    pixel.  Details finer than a pixel would alias; averaged away, as a larger render downsampled would."""
    return smoothstep(0.5, 2.0, step_px)


@numba.njit(**_NJIT)
def fbm_map(out, unit, scale, octaves, seed):
    """Fill ``out`` (H, W) with fractal noise in [0, 1] whose lattice step is ``scale`` canvas texels; octaves
    finer than a pixel fade out (`band`) towards the mean."""
    h, w = out.shape
    k = 1.0 / (unit * scale)
    weights = np.empty(octaves)
    norm, amp = 0.0, 1.0
    for o in range(octaves):
        weights[o] = amp * band(unit * scale / 2.0**o)
        norm += amp
        amp *= 0.5
    for i in range(h):
        for j in range(w):
            x, y = (j + 0.5) * k, (i + 0.5) * k
            total = 0.0
            for o in range(octaves):
                if weights[o] > 0.0:
                    total += weights[o] * (noise2(x, y, seed + 101 * o) - 0.5)
                x, y = 2.0 * x + 17.3, 2.0 * y + 9.1
            out[i, j] = 0.5 + total / norm


@numba.njit(**_NJIT)
def weave_map(out, unit, period, seed):
    """Fill ``out`` (H, W) with a plain canvas weave in [0, 1]: threads ``period`` texels apart, going over
    and under each other in a checkerboard, each thread's thickness wavering a little."""
    h, w = out.shape
    k = 1.0 / (unit * period)
    fade = band(unit * period / 2.0)  # a thread narrower than a pixel: towards the mean
    for i in range(h):
        for j in range(w):
            x, y = (j + 0.5) * k, (i + 0.5) * k
            cx, cy = math.floor(x), math.floor(y)
            warp = (np.int64(cx) + np.int64(cy)) % 2 == 0
            fx, fy = x - cx, y - cy
            if warp:  # the vertical thread is on top: its cross-section across x
                prof = math.sin(math.pi * fx)
                jit = hash01(np.int64(cx), 0, seed)
            else:
                prof = math.sin(math.pi * fy)
                jit = hash01(0, np.int64(cy), seed + 1)
            v = prof * (0.8 + 0.2 * jit) * (0.85 + 0.15 * noise2(x * 3.0, y * 3.0, seed + 2))
            out[i, j] = 0.5 + (v - 0.5) * fade
