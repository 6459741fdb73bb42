"""Watercolour: transparent glazes with soft, irregular wet edges, dark drying rims and pigment that
granulates into the paper.

Per stroke, at every pixel under its soft alpha, with stroke-local coordinates t (along) and v (across):

* **wet edge**: coverage fades in from the stroke's rim over a part of its radius, the fade's start
  wandering with noise (the wash's irregular, soft border);
* **drying edge**: pigment gathers at the rim as the wash dries: the pigment density rises near
  |v| = 1, so the rim is darker than the inside;
* **granulation**: pigment settles in the paper's hollows: density follows the paper texture
  (`textures.fbm_map`, in canvas texels);
* **glazing**: a layer is a transparent film: its colour is the stroke colour raised to the density
  (transmittance), and ``glaze`` of it is multiplied onto what is below (layers darken the ones under
  them) while the rest covers it.  The film is chosen so that over its own colour it gives the
  stroke's colour: over a lighter ground it shows lighter, over a darker one darker.

`finish` lays the paper's grain over everything (paint and bare paper).
"""

from __future__ import annotations

import math

import numba
import numpy as np
import torch
from torch import Tensor

from ..stroke.canvas import Background
from . import soft as S
from .base import TexturedMedium, num
from .textures import local_coords, noise2, smoothstep, texel_unit

# The look's numbers (`Watercolor.params`, in the kernel's order):
PARAMS = {
    "glaze": 0.15,  # the multiplied (glazing) part of a layer
    "edge_dark": 0.22,  # extra pigment density at a drying rim
    "granulation": 0.1,  # density swing with the paper's hollows
    "wet": 0.15,  # how far (in radii) the soft wet edge reaches into the stroke
    "bloom_texels": 9.0,  # size of the wet edge's wanderings, canvas texels
}
PAPER_TEXELS = 2.5  # paper texture lattice, texels
PAPER_GRAIN = 0.03  # paper grain on the finished image


@numba.njit(cache=True, nogil=True, error_model="numpy")
def watercolor_kernel(canvas, maps, alpha, offs, wins, geom, colors, seeds, unit, prm):
    glaze, edge_dark, granulation, wet, bloom = prm[0], prm[1], prm[2], prm[3], prm[4]
    paper, painted = maps[0], maps[1]
    nc = canvas.shape[0]
    inv = 1.0 / (unit * bloom)
    for n in range(wins.shape[0]):
        y0, x0, h, w = wins[n, 0], wins[n, 1], wins[n, 2], wins[n, 3]
        p0x, p0y, p1x, p1y, p2x, p2y, r0, r2 = (geom[n, 0], geom[n, 1], geom[n, 2], geom[n, 3], geom[n, 4],
                                                geom[n, 5], geom[n, 6], geom[n, 7])
        seed = seeds[n]
        base = offs[n]
        logc = np.log(np.maximum(colors[n, :3].astype(np.float64), 1e-3))
        for i in range(h):
            y = y0 + i
            for j in range(w):
                a = alpha[base + i * w + j]
                if a <= 0.0:
                    continue
                x = x0 + j
                t, v = local_coords(p0x, p0y, p1x, p1y, p2x, p2y, r0, r2, x + 0.5, y + 0.5)
                av = abs(v)
                nz = noise2((x + 0.5) * inv, (y + 0.5) * inv, seed)
                cov = a * (0.4 + 0.6 * smoothstep(0.0, wet, 1.0 - av + 0.25 * (nz - 0.5)))
                if cov <= 0.0:
                    continue
                # pigment migrates from the middle of a drying wash to its rim: lighter inside, darker rim
                dens = 1.0 + edge_dark * (smoothstep(0.55, 0.95, av) * (0.6 + 0.8 * nz) - 0.3)
                dens *= 1.0 + granulation * (0.5 - paper[y, x])
                g = glaze * painted[y, x]  # a glaze darkens paint below it, not the bare ground
                for k in range(nc):
                    c = colors[n, k]
                    if k < 3:
                        # The film that, glazed over its own colour, gives the stroke's colour: over a
                        # lighter ground it shows lighter, over a darker one darker (it is transparent).
                        layer = min(math.exp(dens * logc[k]) / (1.0 - g + g * c), 1.0)  # c ** dens
                        mixed = (1.0 - g) * layer + g * canvas[k, y, x] * layer
                    else:
                        mixed = c
                    canvas[k, y, x] = canvas[k, y, x] * (1.0 - cov) + cov * mixed
                painted[y, x] += (1.0 - painted[y, x]) * cov


class Watercolor(TexturedMedium):
    name = "watercolor"
    aware = True  # --medium-aware by default (docs/choices.md#media-aware)
    summary = "transparent glazes, soft wet edges, dark drying rims, pigment granulating into the paper"
    layers = 2  # the paper's texture, how much paint lies on each pixel
    transparent_ok = False  # glazes need a ground below them

    def maps(self, height, width, unit):
        return self.paper_maps(height, width, unit, PAPER_TEXELS, 11, 2.2)

    params = PARAMS

    def kernel(self, canvas, maps, alpha, offs, wins, geom, colors, seeds, unit, prm):
        watercolor_kernel(canvas, maps, alpha, offs, wins, geom, colors, seeds, unit, prm)

    def soft_paint(self, alpha, geom, px, py, maps, seeds, unit, color, under):
        """`watercolor_kernel`'s coverage and paint in torch: the wet edge, the drying rim and the
        granulation (pigment density), the glaze over paint already down."""
        p = self.params
        g = geom.double()
        inv = 1.0 / (unit * p["bloom_texels"])
        t, v = S.local_coords(g, px, py)
        av = v.abs()
        nz = S.noise2((px.double() * inv).expand_as(v), (py.double() * inv).expand_as(v), S.per_stroke(seeds))
        cov = alpha * (0.4 + 0.6 * S.smoothstep(0.0, p["wet"], 1.0 - av + 0.25 * (nz - 0.5))).to(alpha.dtype)
        dens = 1.0 + p["edge_dark"] * (S.smoothstep(0.55, 0.95, av) * (0.6 + 0.8 * nz) - 0.3)
        dens = (dens * (1.0 + p["granulation"] * (0.5 - maps[:, 0].double())))[:, None]
        gl = (p["glaze"] * maps[:, 1].double())[:, None]
        col = color.double()[:, :, None, None]
        c3 = col[:, :3]
        layer = (torch.exp(dens * torch.log(c3.clamp(min=1e-3))) / (1.0 - gl + gl * c3)).clamp(max=1.0)
        mixed = (1.0 - gl) * layer + gl * under[:, :3].double() * layer
        paint = torch.cat([mixed, col[:, 3:].expand(-1, -1, *mixed.shape[2:])], 1).to(alpha.dtype)
        return cov, paint

    def soft_update(self, maps, coverage, alpha):
        painted = maps[:, 1] + (1.0 - maps[:, 1]) * coverage
        return torch.stack([maps[:, 0], painted.to(maps.dtype)], 1)

    def finish(self, canvas: Tensor, maps: np.ndarray, unit: float, background: Background) -> Tensor:
        return self.paper_grain(canvas, maps, PAPER_GRAIN)

    # --- SVG: one filter on the group of strokes (granulation into an feTurbulence paper, ragged wet edges
    # by a small displacement) and the paper's grain over everything.  Glazes are drawn as covering layers
    # and the drying rims are left out: per-stroke filters would make the file slow to draw.
    def svg_defs(self, width, height):
        unit = texel_unit(height, width)
        gran = self.params["granulation"]
        paper = (f'<feTurbulence type="fractalNoise" baseFrequency="{1 / (PAPER_TEXELS * unit):.4f}" numOctaves="3" '
                 f'seed="11" result="noise"/>'
                 f'<feColorMatrix in="noise" type="matrix" values="0 0 0 0 0.5  0 0 0 0 0.5  0 0 0 0 0.5  '
                 f'2.2 0 0 0 -0.6" result="paper"/>')
        bloom = self.params["bloom_texels"] * unit
        return (f'<filter id="bw-watercolor" filterUnits="userSpaceOnUse" x="0" y="0" width="{width}" height="{height}" '
                f'color-interpolation-filters="sRGB">{paper}'
                f'<feTurbulence type="fractalNoise" baseFrequency="{1 / bloom:.4f}" numOctaves="2" seed="5" result="wet"/>'
                f'<feDisplacementMap in="SourceGraphic" in2="wet" scale="{num(1.5 * unit)}" xChannelSelector="R" '
                f'yChannelSelector="G" result="ragged"/>'
                f'<feFlood flood-color="#000" flood-opacity="1" result="black"/>'
                f'<feComposite in="black" in2="paper" operator="in" result="hollows"/>'
                f'<feComposite in="ragged" in2="hollows" operator="arithmetic" k1="0" k2="1" k3="{-0.25 * gran:.3f}" '
                f'k4="{0.1 * gran:.3f}" result="granulated"/>'
                f'<feComposite in="granulated" in2="SourceGraphic" operator="in"/></filter>'
                f'<filter id="bw-paper" filterUnits="userSpaceOnUse" x="0" y="0" width="{width}" height="{height}">'
                f'{paper}<feComposite in="paper" in2="SourceGraphic" operator="in"/></filter>')

    def svg_group(self):
        return 'filter="url(#bw-watercolor)"'

    def svg_after(self, width, height):
        return (f'<rect width="{width}" height="{height}" fill="#000" filter="url(#bw-paper)" '
                f'opacity="{PAPER_GRAIN:.3f}"/>')
