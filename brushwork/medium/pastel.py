"""Pastel (the dry medium): coverage broken by the paper's tooth, building up with pressure.

The paper is a tooth height map (`textures.fbm_map`, in canvas texels).  A pastel stick touches only
the tooth's peaks above ``1 - pressure``: pressure is the stroke's opacity there times a profile that
rises to the middle of the stroke; the deepest hollows still get ``floor`` of the pigment.  Pigment left on the paper fills the hollows (a
second layer, ``fill``), so later strokes over the same place reach deeper: coverage builds up with
layers and pressure.  The stick's own grain draws faint streaks along the stroke (stroke-local
coordinates).  `finish` lays the paper's grain over everything.
"""

from __future__ import annotations

import math

import numba
import numpy as np
import torch
from torch import Tensor

from ..stroke.canvas import Background
from . import soft as S
from .base import TexturedMedium
from .textures import band, curve_length, local_coords, noise2, smoothstep, texel_unit

# The look's numbers (`Pastel.params`, in the kernel's order):
PARAMS = {
    "grain_px": 2.0,  # stick grain spacing across a stroke, native px
    "fill": 0.6,  # how much one full stroke fills the tooth's hollows
    "soft": 0.12,  # softness of the tooth threshold
    "floor": 0.6,  # coverage the deepest hollows still get
    "grain": 0.08,  # brightness swing of the stick's grain
}
TOOTH_TEXELS = 3.0  # paper tooth lattice, texels
PAPER_GRAIN = 0.08


@numba.njit(cache=True, nogil=True, error_model="numpy")
def pastel_kernel(canvas, maps, alpha, offs, wins, geom, colors, seeds, unit, prm):
    grain_px, fill_rate, soft, floor, grain = prm[0], prm[1], prm[2], prm[3], prm[4]
    tooth, fill = maps[0], maps[1]
    nc = canvas.shape[0]
    for n in range(wins.shape[0]):
        y0, x0, h, w = wins[n, 0], wins[n, 1], wins[n, 2], wins[n, 3]
        p0x, p0y, p1x, p1y, p2x, p2y, r0, r2, scale = (geom[n, 0], geom[n, 1], geom[n, 2], geom[n, 3], geom[n, 4],
                                                       geom[n, 5], geom[n, 6], geom[n, 7], geom[n, 8])
        a0, a2 = geom[n, 9], geom[n, 10]
        seed = seeds[n]
        grains = min(max((r0 + r2) / scale / grain_px, 4.0), 80.0)
        along = max(curve_length(p0x, p0y, p1x, p1y, p2x, p2y) / scale / 30.0, 0.5)
        fade = band((r0 + r2) / grains)  # grain finer than a pixel: towards its mean
        base = offs[n]
        for i in range(h):
            y = y0 + i
            for j in range(w):
                a = alpha[base + i * w + j]
                if a <= 0.0:
                    continue
                x = x0 + j
                t, v = local_coords(p0x, p0y, p1x, p1y, p2x, p2y, r0, r2, x + 0.5, y + 0.5)
                g = 0.5 + (noise2((v + 1.0) * 0.5 * grains, t * along, seed) - 0.5) * fade
                # pressure: the stroke's opacity there, rising to the middle of the stroke
                press = (a0 + (a2 - a0) * t) * (0.85 + 0.15 * math.sin(math.pi * t))
                surf = tooth[y, x] + fill[y, x] + 0.3 * (g - 0.5)
                thr = 1.0 - press
                cov = a * (floor + (1.0 - floor) * smoothstep(thr - soft, thr + soft, surf))
                if cov <= 0.0:
                    continue
                shade = 1.0 + grain * (g - 0.5)
                for k in range(nc):
                    c = colors[n, k]
                    if k < 3:
                        c = min(c * shade, 1.0)
                    canvas[k, y, x] = canvas[k, y, x] * (1.0 - cov) + cov * c
                fill[y, x] = min(fill[y, x] + fill_rate * cov * a, 1.0)


class Pastel(TexturedMedium):
    name = "pastel"
    aware = True  # --medium-aware by default (docs/choices.md#media-aware)
    summary = "dry pigment caught by the paper's tooth, building up with pressure and layers"
    layers = 2  # the paper's tooth, the pigment filling it
    transparent_ok = False  # the tooth belongs to a paper

    def maps(self, height, width, unit):
        return self.paper_maps(height, width, unit, TOOTH_TEXELS, 23, 2.5)

    params = PARAMS

    def kernel(self, canvas, maps, alpha, offs, wins, geom, colors, seeds, unit, prm):
        pastel_kernel(canvas, maps, alpha, offs, wins, geom, colors, seeds, unit, prm)

    def soft_paint(self, alpha, geom, px, py, maps, seeds, unit, color, under):
        """`pastel_kernel`'s coverage and paint in torch: the tooth (and the pigment already in it) against
        the stroke's pressure, the stick's grain."""
        p = self.params
        g = geom.double()
        grains = S.per_stroke(((g[:, 6] + g[:, 7]) / g[:, 8] / p["grain_px"]).clamp(4.0, 80.0))
        along = S.per_stroke((S.curve_length(g) / g[:, 8] / 30.0).clamp(min=0.5))
        fade = S.band(S.per_stroke(g[:, 6] + g[:, 7]) / grains)
        t, v = S.local_coords(g, px, py)
        grain = 0.5 + (S.noise2((v + 1.0) * 0.5 * grains, t * along, S.per_stroke(seeds)) - 0.5) * fade
        a0, a2 = S.per_stroke(g[:, 9]), S.per_stroke(g[:, 10])
        press = (a0 + (a2 - a0) * t) * (0.85 + 0.15 * torch.sin(S.PI * t))
        surf = maps[:, 0].double() + maps[:, 1].double() + 0.3 * (grain - 0.5)
        thr = 1.0 - press
        cov = alpha * (p["floor"] + (1.0 - p["floor"]) * S.smoothstep(thr - p["soft"], thr + p["soft"], surf)).to(alpha.dtype)
        shade = (1.0 + p["grain"] * (grain - 0.5)).to(alpha.dtype)[:, None]
        col = color[:, :, None, None].to(alpha.dtype)
        paint = torch.cat([(col[:, :3] * shade).clamp(max=1.0), col[:, 3:].expand(-1, -1, *shade.shape[2:])], 1)
        return cov, paint

    def soft_update(self, maps, coverage, alpha):
        fill = (maps[:, 1] + self.params["fill"] * coverage * alpha).clamp(max=1.0)
        return torch.stack([maps[:, 0], fill.to(maps.dtype)], 1)

    def finish(self, canvas: Tensor, maps: np.ndarray, unit: float, background: Background) -> Tensor:
        return self.paper_grain(canvas, maps, PAPER_GRAIN)

    # --- SVG: the tooth as an feTurbulence mask on the group of strokes (the ground shows in the hollows,
    # at most 1 - floor of it) and the paper's grain over everything.
    def svg_defs(self, width, height):
        unit = texel_unit(height, width)
        floor = self.params["floor"]
        depth = (1 - floor) * 0.375  # how much ground the deepest hollows show once layers filled them
        tooth = (f'<feTurbulence type="fractalNoise" baseFrequency="{1 / (TOOTH_TEXELS * unit):.4f}" numOctaves="3" '
                 f'seed="23" result="noise"/>')
        return (f'<filter id="bw-pastel" filterUnits="userSpaceOnUse" x="0" y="0" width="{width}" height="{height}" '
                f'color-interpolation-filters="sRGB">{tooth}'
                f'<feColorMatrix in="noise" type="matrix" values="0 0 0 0 0  0 0 0 0 0  0 0 0 0 0  '
                f'{5 * depth:.3f} 0 0 0 {1 - 2.5 * depth:.3f}" result="reach"/>'
                f'<feComposite in="SourceGraphic" in2="reach" operator="in"/></filter>'
                f'<filter id="bw-tooth" filterUnits="userSpaceOnUse" x="0" y="0" width="{width}" height="{height}">'
                f'{tooth}<feColorMatrix in="noise" type="matrix" values="0 0 0 0 0.5  0 0 0 0 0.5  0 0 0 0 0.5  '
                f'2.5 0 0 0 -0.75" result="paper"/><feComposite in="paper" in2="SourceGraphic" operator="in"/></filter>')

    def svg_group(self):
        return 'filter="url(#bw-pastel)"'

    def svg_after(self, width, height):
        return (f'<rect width="{width}" height="{height}" fill="#000" filter="url(#bw-tooth)" '
                f'opacity="{PAPER_GRAIN:.3f}"/>')
