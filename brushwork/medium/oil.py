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

from ..stroke.bezier import Bezier
from ..stroke.canvas import Background
from . import soft as S
from .base import TexturedMedium, num, svg_path_id
from .textures import band, curve_length, hash01_py, local_coords, noise2, sat, smoothstep, texel_unit, weave_map

BEZIER = Bezier()

# The look's numbers (`Oil.params`, in the kernel's order):
PARAMS = {
    "bristle_px": 2.4,  # bristle spacing across a stroke, native px
    "streak_px": 24.0,  # length over which a bristle's paint varies along the stroke, native px
    "brightness": 0.05,  # paint brightness swing across bristles (+-)
    "dry": 0.35,  # how much of the tail runs dry (0: none)
    "ridge": 1.0,  # height contrast between bristle ridges and furrows (0..1)
    "keep": 0.45,  # part of the relief under a stroke that shows through it (paint on paint)
}
# Finishing: relief, light, canvas.
RELIEF = 1.2  # height -> slope of the lit surface, per texel
LIGHT_AMOUNT = 0.45  # how much the lighting changes the colour
SPECULAR = 0.03
WEAVE_TEXELS = 3.0  # canvas thread spacing, texels
WEAVE_HEIGHT = 0.35
SVG_RELIEF = 0.5  # the SVG's bump (paint luminance) -> height, per texel


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
        fade = band(2.0 * r0 / bristles)  # bristles narrower than a pixel: towards their mean
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
                b = 0.5 + (b - 0.5) * fade
                thr = -0.35 + dry * smoothstep(0.45, 1.0, t)
                side = sat((1.25 - abs(v)) / (0.1 + 0.3 * b))  # ragged sides: some bristles stop short
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
    # clamped: a steep slope (a thin stroke's rim at a fine scale) must not turn the paint black or white
    return (1.0 + amount * (diffuse - 1.0) + specular * spec).clamp(0.7, 1.3)


class Oil(TexturedMedium):
    name = "oil"
    aware = False  # --medium-aware by default (docs/choices.md#media-aware)
    summary = "bristle streaks, dry-brush tails, impasto relief lit from the upper left, canvas weave"
    layers = 2  # the paint's height, the canvas weave

    def maps(self, height, width, unit):
        m = np.zeros((2, height, width), np.float32)
        weave_map(m[1], unit, WEAVE_TEXELS, 7)
        return m

    params = PARAMS

    def svg_defs(self, width, height):
        return svg_defs(width, height, self.params)

    def svg_group(self):
        return 'filter="url(#bw-impasto)"'

    def svg_stroke(self, element, index, stroke, frame, native, fill, uid):
        return svg_stroke(element, stroke, frame, native, fill, uid, self.params)

    def svg_after(self, width, height):
        return f'<rect width="{width}" height="{height}" fill="url(#bw-weave)"/>'

    def kernel(self, canvas, maps, alpha, offs, wins, geom, colors, seeds, unit, prm):
        oil_kernel(canvas, maps, alpha, offs, wins, geom, colors, seeds, unit, prm)

    def soft_paint(self, alpha, geom, px, py, maps, seeds, unit, color, under):
        """`oil_kernel`'s coverage and paint in torch: bristles on coverage and brightness, dry tail, ragged
        sides.  The relief is lit only once all strokes are down (`finish`): the optimiser does not see it."""
        p = self.params
        g = geom.double()
        bristles = S.per_stroke(((g[:, 6] + g[:, 7]) / g[:, 8] / p["bristle_px"]).clamp(5.0, 80.0))
        along = S.per_stroke((S.curve_length(g) / g[:, 8] / p["streak_px"]).clamp(min=0.5))
        fade = S.band(2.0 * S.per_stroke(g[:, 6]) / bristles)
        seed = S.per_stroke(seeds)
        t, v = S.local_coords(g, px, py)
        c = (v + 1.0) * 0.5 * bristles
        b1 = S.noise2(c, torch.full_like(c, 0.5), seed)
        b2 = S.noise2(c * 0.5 + 11.0, t * along, seed + 5)
        b = S.smoothstep(0.15, 0.85, 0.6 * b1 + 0.4 * b2)
        b = 0.5 + (b - 0.5) * fade
        thr = -0.35 + p["dry"] * S.smoothstep(0.45, 1.0, t)
        side = S.sat((1.25 - v.abs()) / (0.1 + 0.3 * b))
        cov = alpha * (S.smoothstep(thr - 0.12, thr + 0.12, b) * side).to(alpha.dtype)
        shade = (1.0 + p["brightness"] * (2.0 * b - 1.0)).to(alpha.dtype)[:, None]
        col = color[:, :, None, None].to(alpha.dtype)
        paint = torch.cat([(col[:, :3] * shade).clamp(max=1.0), col[:, 3:].expand(-1, -1, *shade.shape[2:])], 1)
        return cov, paint

    def finish(self, canvas: Tensor, maps: np.ndarray, unit: float, background: Background) -> Tensor:
        paint = torch.from_numpy(maps[0])
        height = paint + WEAVE_HEIGHT * torch.from_numpy(maps[1]) * (1.0 - paint.clamp(0, 1))
        shade = light(height, unit, RELIEF, LIGHT_AMOUNT, SPECULAR)
        out = canvas.clone()
        # Transparent: the colour channels carry colour x coverage; lit, they stay under the coverage.
        top = canvas[3:] if background.transparent else 1.0
        out[:3] = torch.minimum((canvas[:3] * shade).clamp(min=0), torch.as_tensor(top))
        return out


# --- SVG: per-stroke bristle stripes (a shared pattern turned and scaled to each stroke, clipped to its
# outline), one lighting filter on the group of strokes (relief from the paint's luminance), a weave.
SVG_ROWS = 16  # bristles in the shared stripe tile


def svg_defs(width: int, height: int, params: dict) -> str:
    unit = texel_unit(height, width)
    rows = []
    for k in range(SVG_ROWS):
        b = float(hash01_py(k, 0, 3))  # furrows: black at an opacity, i.e. the paint's colour times 1 - it
        rows.append(f'<rect y="{k}" width="64" height="1" fill="#000" fill-opacity="{b:.2f}"/>')
    stripes = (f'<pattern id="bw-bristle" patternUnits="userSpaceOnUse" width="64" height="{SVG_ROWS}">'
               + "".join(rows) + "</pattern>")
    # Lighting: the strokes' luminance, blurred half a texel, as the height; shade = 1 + amount (light - 1).
    elev = 45.0
    kd = 0.5 / math.sin(math.radians(elev))  # flat ground lit to 0.5
    light = (f'<filter id="bw-impasto" filterUnits="userSpaceOnUse" x="0" y="0" width="{width}" height="{height}" '
             f'color-interpolation-filters="sRGB">'
             f'<feColorMatrix in="SourceGraphic" type="luminanceToAlpha" result="lum"/>'
             f'<feGaussianBlur in="lum" stdDeviation="{num(0.5 * unit)}" result="bump"/>'
             f'<feDiffuseLighting in="bump" surfaceScale="{num(SVG_RELIEF * unit)}" diffuseConstant="{kd:.4f}" '
             f'lighting-color="#ffffff" result="light"><feDistantLight azimuth="230" elevation="{elev:.0f}"/>'
             f'</feDiffuseLighting>'
             f'<feComposite in="SourceGraphic" in2="light" operator="arithmetic" k1="{2 * LIGHT_AMOUNT:.3f}" '
             f'k2="{1 - LIGHT_AMOUNT + params["brightness"]:.3f}" k3="0" k4="0"/></filter>')
    p = WEAVE_TEXELS * unit
    weave = (f'<pattern id="bw-weave" patternUnits="userSpaceOnUse" width="{num(2 * p)}" height="{num(2 * p)}">'
             f'<rect width="{num(p)}" height="{num(p)}" fill="#000" fill-opacity="0.025"/>'
             f'<rect x="{num(p)}" y="{num(p)}" width="{num(p)}" height="{num(p)}" fill="#000" fill-opacity="0.025"/>'
             f'</pattern>')
    return stripes + light + weave


def svg_stroke(element: str, stroke, frame, native: float, fill: str, uid: str, params: dict) -> str:
    element, pid = svg_path_id(element, fill, uid)
    if not pid:
        return element
    s = torch.tensor([list(stroke)[:10]], dtype=torch.float64)
    f = torch.tensor([list(frame)[:3]], dtype=torch.float64)
    p0, p1, p2, r0, r2, a0, a2 = (x[0] for x in BEZIER.geometry(s, f, torch.tensor([float(native)], dtype=torch.float64)))
    scale = float(frame[2]) / float(native)
    spacing = params["bristle_px"] * scale
    r = max(float(r0), float(r2))
    dx, dy = float(p2[0] - p0[0]), float(p2[1] - p0[1])
    angle = math.degrees(math.atan2(dy, dx)) if math.hypot(dx, dy) > 1e-6 else 0.0
    # rows of the tile across the stroke, centred on its start: row k at distance (k - 8) * spacing
    tr = (f"translate({num(float(p0[0]))},{num(float(p0[1]))}) rotate({angle:.1f}) "
          f"scale({num(params['streak_px'] * scale / 16)},{spacing:.3f}) translate(0,{-SVG_ROWS / 2})")
    pts = torch.stack([p0, p1, p2])
    x0, y0 = (pts.amin(0) - r - 1).tolist()
    x1, y1 = (pts.amax(0) + r + 1).tolist()
    opacity = float(a0 + a2) / 2 * min(1.0, 2 * params["brightness"])
    return (f'{element}<pattern id="{uid}b" href="#bw-bristle" patternTransform="{tr}"/>'
            f'<clipPath id="{uid}c"><use href="#{pid}"/></clipPath>'
            f'<rect x="{num(x0)}" y="{num(y0)}" width="{num(x1 - x0)}" height="{num(y1 - y0)}" fill="url(#{uid}b)" '
            f'fill-opacity="{opacity:.3f}" clip-path="url(#{uid}c)"/>')
