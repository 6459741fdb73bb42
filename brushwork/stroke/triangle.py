"""Filled triangle: three vertices and an opacity (docs/method.md, "Strokes").

Shape numbers: x0 y0 | x1 y1 | x2 y2 | a | 3 unused.  x is the column, y the row.  The reference maps
each vertex to p = int(v (2W - 1) + 0.5) on the 2x supersampled canvas, gives every lattice pixel
inside the triangle or on its boundary the opacity (edge functions, either orientation), and
box-averages the 2W canvas down to W.  A zero-area triangle draws the lattice pixels of its segment.
"""

from __future__ import annotations

import torch
from torch import Tensor

from .base import N_SHAPE, Shape, Windows, downsample2, ramp, render_windowed

# Calibration of the continuous triangle against the integer reference, in pixels of the 2W
# supersampled canvas.  A vertex on 2W lattice index c is the centre of that lattice pixel, c + 0.5,
# i.e. half a 2W pixel after v (2W - 1): also the measured optimum.  Pushing the soft edges outwards (the
# reference counts lattice pixels *on* an edge as inside) gains next to nothing, so the soft triangle is
# the exact continuous one and its SVG polygon needs no offset (docs/choices.md#rasteriser-calibration).
CENTRE_BIAS_2W = 0.5
REFERENCE_CHUNK = 1 << 21  # supersampled pixels x strokes per chunk of the reference


class Triangle(Shape):
    name = "triangle"
    params = ("x0", "y0", "x1", "y1", "x2", "y2", "a", "unused7", "unused8", "unused9")
    xy_pairs = ((0, 1), (2, 3), (4, 5))

    # --- exact reference ---------------------------------------------------------------------
    @torch.no_grad()
    def reference(self, strokes: Tensor, size: int) -> Tensor:
        """(N, >=10) -> alpha (N, size, size): lattice pixels inside or on the triangle get a."""
        s = strokes[:, :N_SHAPE].double()
        big = 2 * size
        v = torch.floor(s[:, 0:6] * (big - 1) + 0.5).long().view(-1, 3, 2)  # (N, 3, (col, row))
        val = s[:, 6].float()
        lo, hi = v.amin(1), v.amax(1)  # (N, 2)
        boxes = torch.cat([lo, hi + 1], 1).float()

        def draw(idx: Tensor, win: Windows) -> Tensor:
            dev = s.device
            cols = (win.x0[:, None] + torch.arange(win.w, device=dev))[:, None, :]  # (m, 1, w)
            rows = (win.y0[:, None] + torch.arange(win.h, device=dev))[:, :, None]  # (m, h, 1)
            vv = v[idx]
            pos = neg = None
            for i in range(3):
                ax, ay = vv[:, i, 0, None, None], vv[:, i, 1, None, None]
                bx, by = vv[:, (i + 1) % 3, 0, None, None], vv[:, (i + 1) % 3, 1, None, None]
                e = (bx - ax) * (rows - ay) - (by - ay) * (cols - ax)  # (m, h, w)
                pos = e >= 0 if pos is None else pos & (e >= 0)
                neg = e <= 0 if neg is None else neg & (e <= 0)
            # The box test only matters for zero-area triangles, whose edge functions all vanish on
            # the whole supporting line: it keeps the segment.
            low, high = lo[idx], hi[idx]
            in_box = (
                (cols >= low[:, 0, None, None]) & (cols <= high[:, 0, None, None])
                & (rows >= low[:, 1, None, None]) & (rows <= high[:, 1, None, None])
            )
            return ((pos | neg) & in_box).float() * val[idx, None, None]

        return downsample2(render_windowed(boxes, big, big, draw, REFERENCE_CHUNK))

    # --- soft, differentiable ------------------------------------------------------------------
    def place(self, cx, cy, length, angle, side):
        s = torch.full((len(cx), N_SHAPE), 0.5)
        for i, off in enumerate((0.0, 2.1, 4.2)):  # a slightly irregular triangle around the centre
            s[:, 2 * i] = (cx + torch.cos(angle + off) * length / 2) / side
            s[:, 2 * i + 1] = (cy + torch.sin(angle + off) * length / 2) / side
        s[:, 6] = 0.9
        return s.clamp(0.01, 0.99)

    def geometry(self, s: Tensor, frames: Tensor, native: Tensor) -> tuple[Tensor, Tensor]:
        """Vertices (N, 3, 2) in canvas pixels ((x, y) order) and opacity (N,).

        As `Bezier.geometry`: a fraction v maps to v (native - 1/2) native pixels (plus the
        calibrated centre bias), scaled to the frame.
        """
        scale = frames[:, 2] / native
        k = ((native - 0.5) * scale)[:, None, None]
        off = (frames[:, :2] + (CENTRE_BIAS_2W / 2) * scale[:, None])[:, None, :]
        return off + s[:, 0:6].view(-1, 3, 2) * k, s[:, 6]

    def boxes(self, strokes, frames, native):
        verts, _ = self.geometry(strokes, frames, native)
        return torch.cat([verts.amin(1) - 1.0, verts.amax(1) + 1.0], 1).detach()

    def soft_window(self, strokes, frames, native, px, py):
        """Coverage = one-pixel ramp of the exact signed distance to the triangle, times the opacity.

        Distance: the nearest point over the three edge segments; sign: inside when the pixel is
        strictly on the same side of all three edges (either orientation).  A zero-area triangle is
        never "inside", so it renders as its (soft, one pixel wide) segment.
        """
        verts, a = self.geometry(strokes, frames, native)
        e = verts.roll(-1, dims=1) - verts  # (N, 3, 2) edge vectors
        # Orientation (+1, -1, or 0 for zero area): cross products times it are > 0 strictly inside.
        o = torch.sign(e[:, 0, 0] * e[:, 1, 1] - e[:, 0, 1] * e[:, 1, 0]).detach()[:, None, None]
        d2 = cmin = None
        for i in range(3):
            ax, ay = verts[:, i, 0, None, None], verts[:, i, 1, None, None]
            ex, ey = e[:, i, 0, None, None], e[:, i, 1, None, None]
            inv = 1.0 / (ex * ex + ey * ey).clamp(min=1e-6)  # an edge < 1e-3 px acts as a point
            vx, vy = px - ax, py - ay  # (N, 1, w), (N, h, 1)
            t = ((vx * ex + vy * ey) * inv).clamp(0.0, 1.0)
            qx, qy = vx - ex * t, vy - ey * t
            di = qx * qx + qy * qy
            d2 = di if d2 is None else torch.minimum(d2, di)
            with torch.no_grad():  # the inside test has no gradient
                cross = (o * ex) * vy - (o * ey) * vx
                cmin = cross if cmin is None else torch.minimum(cmin, cross)
        d = torch.sqrt(d2 + 1e-12)
        sd = torch.where(cmin > 0, -d, d)
        return ramp(-sd) * a[:, None, None]

    # --- live view and SVG ----------------------------------------------------------------------
    def live_primitives(self, strokes: Tensor, frames: Tensor, native: Tensor) -> Tensor:
        """x0 y0 x1 y1 x2 y2 a per stroke (`geometry`)."""
        v, a = self.geometry(strokes, frames, native)
        return torch.cat([v.reshape(-1, 6), a[:, None]], 1)

    # A zero-area triangle still shows as a thin line (the outline).
    live_js = """(ctx, d) => {
      const [x0, y0, x1, y1, x2, y2, a, R, G, B] = d;
      ctx.globalAlpha = Math.max(0, Math.min(1, a));
      ctx.fillStyle = rgb(R, G, B);
      ctx.beginPath();
      ctx.moveTo(x0, y0); ctx.lineTo(x1, y1); ctx.lineTo(x2, y2); ctx.closePath();
      ctx.fill();
      ctx.strokeStyle = ctx.fillStyle;
      ctx.lineWidth = 0.5;
      ctx.stroke();
    }"""

    def svg(self, stroke, frame, native, fill, uid: str = "") -> str:
        """``<polygon>`` through the soft rasteriser's vertices, ``fill-opacity`` = a."""
        s = torch.tensor([list(stroke)[:N_SHAPE]], dtype=torch.float64)
        f = torch.tensor([list(frame)], dtype=torch.float64)
        nat = torch.tensor([float(native)], dtype=torch.float64)
        verts, a = self.geometry(s, f, nat)
        pts = " ".join(f"{float(x):.3f},{float(y):.3f}" for x, y in verts[0].tolist())
        ident = f' id="{uid}"' if uid else ""
        return f'<polygon{ident} points="{pts}" fill="{fill}" fill-opacity="{float(a[0]):.4f}"/>'
