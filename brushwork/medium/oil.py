"""Oil: bristle streaks along each stroke, a dry-brush tail, impasto relief lit once, canvas weave.

Per stroke, at every pixel under its soft alpha, with stroke-local coordinates t (along) and v (across):

* **bristles**: value noise across the stroke with one lattice cell per bristle (bristle count from
  the stroke's width in native pixels, so a wide brush has more hairs, and the streaks scale with the
  stroke at any output size), slowly varying along it.  The bristle value B in [0, 1] scales the
  paint's brightness (ridges lighter, furrows darker) and its coverage;
* **dry-brush tail**: the brush runs out of paint along the stroke: past the middle, the bristles
  with the least paint stop covering, so the stroke ends in streaks;
* **height**: the stroke lays paint of thickness following B and its load onto a height map; new
  paint covers the old relief, keeping some of it (paint on paint builds up).

Once all strokes are down (`finish`): the canvas weave (`textures.weave_map`) is added to the height
where the paint is thin, the height is lit by one light from the upper left (Lambert + a little
specular), and the colour is multiplied by the light.  Texture coordinates are stroke-local or canvas
texels: nothing depends on the pixel size.
"""

from __future__ import annotations

import math

import numba
import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from ..stroke.canvas import Background
from .base import TexturedMedium
from .textures import curve_length, local_coords, noise2, sat, smoothstep, weave_map

# The look's numbers (`Oil.params`, in the kernel's order):
PARAMS = {
    "bristle_px": 2.4,  # bristle spacing across a stroke, native px
    "streak_px": 24.0,  # length over which a bristle's paint varies along the stroke, native px
    "brightness": 0.05,  # paint brightness swing across bristles (+-)
    "dry": 0.45,  # how much of the tail runs dry (0: none)
    "ridge": 1.0,  # height contrast between bristle ridges and furrows (0..1)
    "keep": 0.45,  # part of the relief under a stroke that shows through it (paint on paint)
}
# Finishing: relief, light, canvas.
RELIEF = 1.2  # height -> slope of the lit surface, per texel
LIGHT_AMOUNT = 0.5  # how much the lighting changes the colour
SPECULAR = 0.05
WEAVE_TEXELS = 3.0  # canvas thread spacing, texels
WEAVE_HEIGHT = 0.35


@numba.njit(cache=True, nogil=True, error_model="numpy")
def oil_kernel(canvas, maps, alpha, offs, wins, geom, colors, seeds, unit, prm):
    bristle_px, streak_px, brightness, dry, ridge, keep = prm[0], prm[1], prm[2], prm[3], prm[4], prm[5]
    height = maps[0]
    nc = canvas.shape[0]
    for n in range(wins.shape[0]):
        y0, x0, h, w = wins[n, 0], wins[n, 1], wins[n, 2], wins[n, 3]
        p0x, p0y, p1x, p1y, p2x, p2y, r0, r2, scale = (geom[n, 0], geom[n, 1], geom[n, 2], geom[n, 3], geom[n, 4],
                                                       geom[n, 5], geom[n, 6], geom[n, 7], geom[n, 8])
        seed = seeds[n]
        r_native = 0.5 * (r0 + r2) / scale
        bristles = min(max(2.0 * r_native / bristle_px, 5.0), 80.0)
        along = max(curve_length(p0x, p0y, p1x, p1y, p2x, p2y) / scale / streak_px, 0.5)
        base = offs[n]
        for i in range(h):
            y = y0 + i
            for j in range(w):
                a = alpha[base + i * w + j]
                if a <= 0.0:
                    continue
                x = x0 + j
                t, v = local_coords(p0x, p0y, p1x, p1y, p2x, p2y, r0, r2, x + 0.5, y + 0.5)
                c = (v + 1.0) * 0.5 * bristles
                b1 = noise2(c, 0.5, seed)
                b2 = noise2(c * 0.5 + 11.0, t * along, seed + 5)
                b = smoothstep(0.15, 0.85, 0.6 * b1 + 0.4 * b2)  # ridges and furrows, sharpened
                thr = -0.35 + dry * smoothstep(0.45, 1.0, t)
                side = sat((1.12 - abs(v)) / (0.1 + 0.35 * b))  # ragged sides: thin bristles stop short
                cov = a * smoothstep(thr - 0.12, thr + 0.12, b) * side
                if cov <= 0.0:
                    continue
                shade = 1.0 + brightness * (2.0 * b - 1.0)
                for k in range(nc):
                    col = colors[n, k]
                    if k < 3:
                        col = min(col * shade, 1.0)
                    canvas[k, y, x] = canvas[k, y, x] * (1.0 - cov) + cov * col
                hs = (1.0 - ridge + ridge * b) * (1.0 - 0.4 * t)  # thicker where the brush starts
                height[y, x] = height[y, x] * (1.0 - cov) + cov * (keep * height[y, x] + hs)


def gaussian_blur(img: Tensor, sigma: float) -> Tensor:
    """Separable Gaussian blur of (C, H, W), replicate borders."""
    if sigma < 0.3:
        return img
    r = max(1, math.ceil(2.5 * sigma))
    x = torch.arange(-r, r + 1, dtype=img.dtype)
    k = torch.exp(-0.5 * (x / sigma) ** 2)
    k = k / k.sum()
    c = img.shape[0]
    out = F.pad(img[None], (r, r, 0, 0), mode="replicate")
    out = F.conv2d(out, k.view(1, 1, 1, -1).expand(c, 1, 1, -1), groups=c)
    out = F.pad(out, (0, 0, r, r), mode="replicate")
    return F.conv2d(out, k.view(1, 1, -1, 1).expand(c, 1, -1, 1), groups=c)[0]


def light(height: Tensor, unit: float, relief: float, amount: float, specular: float) -> Tensor:
    """Shading (H, W) of a height map (texel units) lit from the upper left: 1 on flat ground."""
    hgt = gaussian_blur(height[None], 0.5 * unit)[0]
    pad = F.pad(hgt[None, None], (1, 1, 1, 1), mode="replicate")[0, 0]
    gx = (pad[1:-1, 2:] - pad[1:-1, :-2]) * (0.5 * unit * relief)  # slope per texel
    gy = (pad[2:, 1:-1] - pad[:-2, 1:-1]) * (0.5 * unit * relief)
    lx, ly, lz = -0.45, -0.55, 0.70
    norm = torch.rsqrt(gx * gx + gy * gy + 1.0)
    ndotl = (-gx * lx - gy * ly + lz) * norm
    diffuse = ndotl / lz  # 1 on flat ground
    hx, hy, hz = lx, ly, lz + 1.0
    hn = math.sqrt(hx * hx + hy * hy + hz * hz)
    ndoth = ((-gx * hx - gy * hy + hz) * norm / hn).clamp(min=0.0)
    flat_h = hz / hn
    spec = ndoth.pow(24) - flat_h**24
    return 1.0 + amount * (diffuse - 1.0) + specular * spec


class Oil(TexturedMedium):
    name = "oil"
    summary = "bristle streaks, dry-brush tails, impasto relief lit from the upper left, canvas weave"
    layers = 1  # the paint's height

    params = PARAMS

    def kernel(self, canvas, maps, alpha, offs, wins, geom, colors, seeds, unit, prm):
        oil_kernel(canvas, maps, alpha, offs, wins, geom, colors, seeds, unit, prm)

    def finish(self, canvas: Tensor, maps: np.ndarray, unit: float, background: Background) -> Tensor:
        h, w = canvas.shape[1:]
        weave = np.empty((h, w), np.float32)
        weave_map(weave, unit, WEAVE_TEXELS, 7)
        paint = torch.from_numpy(maps[0])
        height = paint + WEAVE_HEIGHT * torch.from_numpy(weave) * (1.0 - paint.clamp(0, 1))
        shade = light(height, unit, RELIEF, LIGHT_AMOUNT, SPECULAR)
        out = canvas.clone()
        # Transparent: the colour channels carry colour x coverage; lit, they stay under the coverage.
        top = canvas[3:] if background.transparent else 1.0
        out[:3] = torch.minimum((canvas[:3] * shade).clamp(min=0), torch.as_tensor(top))
        return out
