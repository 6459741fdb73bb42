"""Filled circle: centre, radius and opacity (docs/method.md, "Strokes").

Shape numbers: cx cy | r | a | 6 unused.  x is the column, y the row.  The reference is exactly one
disc of the Bezier reference: the centre maps to p = int(v (2W - 1) + 0.5) on the 2x supersampled
canvas, the radius to R = int(1 + floor(r W / 2)), every lattice pixel with dx^2 + dy^2 <= R^2 gets
the opacity, and the 2W canvas is box-averaged down to W.
"""

from __future__ import annotations

import torch
from torch import Tensor

from .base import N_SHAPE, Shape, Windows, downsample2, ramp, render_windowed

# Calibration of the continuous disc against the integer reference, in pixels of the 2W
# supersampled canvas, fitted on random strokes (alpha maps, soft vs reference).
# CENTRE_BIAS_2W: a disc centred on 2W lattice index c covers the lattice pixels whose *centres*
# (c + 0.5) lie within R, so its centre is half a 2W pixel after v (2W - 1).  RADIUS_BIAS_2W:
# R = 1 + floor(r W / 2) is 0.5 + r W / 2 on average; the lattice disc (pixels on the circle count
# fully) and the ramp's one-pixel edge nearly cancel, leaving a small best bias.  Both are the measured
# optima: docs/choices.md#rasteriser-calibration.
CENTRE_BIAS_2W = 0.5
RADIUS_BIAS_2W = 0.05
REFERENCE_CHUNK = 1 << 21  # supersampled pixels x strokes per chunk of the reference


class Circle(Shape):
    name = "circle"
    params = ("cx", "cy", "r", "a", "unused4", "unused5", "unused6", "unused7", "unused8", "unused9")
    xy_pairs = ((0, 1),)

    # --- exact reference ---------------------------------------------------------------------
    @torch.no_grad()
    def reference(self, strokes: Tensor, size: int) -> Tensor:
        """(N, >=10) -> alpha (N, size, size): one filled lattice disc of value a, 2x2 box downsample."""
        s = strokes[:, :N_SHAPE].double()
        big = 2 * size
        c = torch.floor(s[:, 0:2] * (big - 1) + 0.5).long()  # (N, 2) as (col, row)
        rad = (1 + torch.floor(s[:, 2] * size / 2)).long()
        val = s[:, 3].float()
        cx, cy = c[:, 0], c[:, 1]
        boxes = torch.stack([cx - rad, cy - rad, cx + rad + 1, cy + rad + 1], 1).float()

        def draw(idx: Tensor, win: Windows) -> Tensor:
            dev = s.device
            cols = (win.x0[:, None] + torch.arange(win.w, device=dev))[:, None, :]  # (m, 1, w)
            rows = (win.y0[:, None] + torch.arange(win.h, device=dev))[:, :, None]  # (m, h, 1)
            dx2 = (cols - cx[idx, None, None]) ** 2
            dy2 = (rows - cy[idx, None, None]) ** 2
            inside = dx2 + dy2 <= (rad[idx] ** 2)[:, None, None]
            return inside.float() * val[idx, None, None]

        return downsample2(render_windowed(boxes, big, big, draw, REFERENCE_CHUNK))

    def place(self, cx, cy, length, angle, side):
        s = torch.full((len(cx), N_SHAPE), 0.5)
        s[:, 0], s[:, 1] = cx / side, cy / side
        s[:, 2] = length / 2 * 4 / side  # radius ~ length / 2 (r_px ~ v side / 4)
        s[:, 3] = 0.9
        return s.clamp(0.01, 0.99)

    # --- soft, differentiable ------------------------------------------------------------------
    def geometry(self, s: Tensor, frames: Tensor, native: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        """Centre (N, 2) in canvas pixels, radius (N,) in canvas pixels, opacity (N,).

        As `Bezier.geometry`: a fraction v maps to v (native - 1/2) native pixels and a radius to
        (1 + v native / 2) / 2 native pixels (less the calibrated biases), scaled to the frame.
        """
        scale = frames[:, 2] / native
        k = ((native - 0.5) * scale)[:, None]
        centre = frames[:, :2] + (CENTRE_BIAS_2W / 2) * scale[:, None] + s[:, 0:2] * k
        radius = (0.5 + s[:, 2] * native / 2 - RADIUS_BIAS_2W) / 2 * scale
        return centre, radius.clamp(min=0.25), s[:, 3]

    def boxes(self, strokes, frames, native):
        centre, radius, _ = self.geometry(strokes, frames, native)
        r = (radius + 1.0)[:, None]
        return torch.cat([centre - r, centre + r], 1).detach()

    def soft_window(self, strokes, frames, native, px, py):
        """Coverage = one-pixel ramp of the signed distance to the disc, times the opacity."""
        centre, radius, a = self.geometry(strokes, frames, native)
        v = lambda x: x[:, None, None]  # noqa: E731  (N,) -> (N, 1, 1)
        dx, dy = px - v(centre[:, 0]), py - v(centre[:, 1])
        sd = torch.sqrt(dx * dx + dy * dy + 1e-12) - v(radius)
        return ramp(-sd) * v(a)

    # --- SVG -----------------------------------------------------------------------------------
    def live_primitives(self, strokes: Tensor, frames: Tensor, native: Tensor) -> Tensor:
        """cx cy r a per stroke (`geometry`)."""
        c, r, a = self.geometry(strokes, frames, native)
        return torch.cat([c, r[:, None], a[:, None]], 1)

    live_js = """(ctx, d) => {
      const [cx, cy, r, a, R, G, B] = d;
      ctx.globalAlpha = Math.max(0, Math.min(1, a));
      ctx.fillStyle = rgb(R, G, B);
      ctx.beginPath();
      ctx.arc(cx, cy, Math.max(0.25, r), 0, 2 * Math.PI);
      ctx.fill();
    }"""

    def svg(self, stroke, frame, native, fill, uid: str = "") -> str:
        """``<circle>`` with the soft rasteriser's centre and radius, ``fill-opacity`` = a."""
        s = torch.tensor([list(stroke)[:N_SHAPE]], dtype=torch.float64)
        f = torch.tensor([list(frame)], dtype=torch.float64)
        centre, radius, a = self.geometry(s, f, torch.tensor([float(native)], dtype=torch.float64))
        ident = f' id="{uid}"' if uid else ""
        return (
            f'<circle{ident} cx="{float(centre[0, 0]):.3f}" cy="{float(centre[0, 1]):.3f}" '
            f'r="{float(radius[0]):.3f}" fill="{fill}" fill-opacity="{float(a[0]):.4f}"/>'
        )
