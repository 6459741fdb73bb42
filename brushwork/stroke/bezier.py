"""Quadratic Bezier stroke with variable radius and opacity: the paper's stroke (docs/method.md, "Strokes").

Shape numbers: x0 y0 | x1 y1 (middle control point, relative: P1 = P0 + (P2 - P0) * (x1, y1)) | x2 y2 |
r0 r2 (radius at start / end) | a0 a2 (opacity at start / end).  x is the column, y the row.

The curve is monotone in x and in y (P1 lies in the box spanned by P0 and P2), so it never loops.
"""

from __future__ import annotations

import math
import zlib

import torch
from torch import Tensor

from . import fused
from .base import N_SHAPE, SAMPLES_SOFT, Shape, Windows, downsample2, hex_color, ramp, render_windowed

# Calibration of the continuous geometry against the integer reference, in pixels of the 2W
# supersampled canvas.  Reference disc centres are truncated to the 2W grid and radii truncated to
# integers; the biases are the best of a grid search (soft vs reference alpha maps), and even a
# brute-force continuous model comes only a little closer: the rest is the reference's integer jitter.
# The search: docs/choices.md#rasteriser-calibration; fidelity figures: docs/benchmarks/renderers.md.
CENTRE_BIAS_2W = 0.0
RADIUS_BIAS_2W = 0.125
SAMPLES = 100  # reference discs per stroke (t = 0, 0.01, ..., 0.99)
T_END = (SAMPLES - 1) / SAMPLES  # the last disc's t
REFERENCE_CHUNK = 1 << 16  # supersampled pixels x strokes per chunk of the reference
NEWTON_STEPS = 1  # closest-point iterations inside the best bracket


def control_points(s: Tensor) -> tuple[Tensor, Tensor, Tensor]:
    """P0, P1 (absolute), P2 as (N, 2) fractions of the frame, (x, y) order."""
    p0, p2 = s[:, 0:2], s[:, 4:6]
    p1 = p0 + (p2 - p0) * s[:, 2:4]
    return p0, p1, p2


class Bezier(Shape):
    name = "bezier"
    params = ("x0", "y0", "x1", "y1", "x2", "y2", "r0", "r2", "a0", "a2")
    opaque = False
    xy_pairs = ((0, 1), (2, 3), (4, 5))
    use_fused = True  # use the fused CPU kernel when it is available (False: always the torch code)

    def opacities(self, s: Tensor) -> tuple[Tensor, Tensor]:
        return s[:, 8], s[:, 9]

    # --- exact reference (docs/method.md, "Rasterisers") ------------------------------------
    @torch.no_grad()
    def reference(self, strokes: Tensor, size: int) -> Tensor:
        """(N, >=10) -> alpha (N, size, size). 2x supersampled, 100 discs, later discs overwrite."""
        s = strokes[:, :N_SHAPE].double()
        big = 2 * size
        p0, p1, p2 = control_points(s)
        to_px = lambda v: torch.floor(v * (big - 1) + 0.5)  # noqa: E731  p = int(v (2W-1) + 0.5)
        p0, p1, p2 = to_px(p0), to_px(p1), to_px(p2)
        r0 = 1 + torch.floor(s[:, 6] * size / 2)
        r2 = 1 + torch.floor(s[:, 7] * size / 2)
        a0, a2 = self.opacities(s)
        t = (torch.arange(SAMPLES, dtype=torch.float64, device=s.device) * (1.0 / SAMPLES))[None, :, None]
        pts = torch.trunc((1 - t) ** 2 * p0[:, None] + 2 * t * (1 - t) * p1[:, None] + t**2 * p2[:, None])
        t = t[..., 0]
        rad = torch.trunc((1 - t) * r0[:, None] + t * r2[:, None])  # (N, 100)
        val = ((1 - t) * a0[:, None] + t * a2[:, None]).float()
        cx = pts[..., 0].long()
        cy = pts[..., 1].long()
        rad2 = (rad * rad).long()
        irad = rad.long()
        boxes = torch.stack(
            [(cx - irad).amin(1), (cy - irad).amin(1), (cx + irad).amax(1) + 1, (cy + irad).amax(1) + 1], 1
        ).float()

        def draw(idx: Tensor, win: Windows) -> Tensor:
            # Index (1-based) of the last disc covering each pixel; 0 = none.  Discs are visited in
            # order and later ones overwrite, as the reference's painter's algorithm does.
            m = len(idx)
            cols = (win.x0[:, None] + torch.arange(win.w, device=s.device))[:, None, :]  # (m, 1, w)
            rows = (win.y0[:, None] + torch.arange(win.h, device=s.device))[:, :, None]  # (m, h, 1)
            ccx, ccy, rr2 = cx[idx], cy[idx], rad2[idx]
            last = torch.zeros(m, win.h, win.w, dtype=torch.uint8, device=s.device)
            for i in range(SAMPLES):
                dx2 = (cols - ccx[:, i, None, None]) ** 2
                thr = rr2[:, i, None, None] - (rows - ccy[:, i, None, None]) ** 2
                last.masked_fill_(dx2 <= thr, i + 1)
            vals = torch.cat([val.new_zeros(m, 1), val[idx]], dim=1)  # index 0 -> alpha 0
            return torch.gather(vals, 1, last.view(m, -1).long()).view(m, win.h, win.w)

        canvas = render_windowed(boxes, big, big, draw, REFERENCE_CHUNK)
        return downsample2(canvas)

    # --- soft, differentiable (docs/method.md, "Rasterisers") -------------------------------
    def geometry(self, s: Tensor, frames: Tensor, native: Tensor):
        """Continuous pixel geometry: P0, P1, P2 (N, 2), radii r0, r2 (N,), opacities a0, a2 (N,).

        Mirrors the reference at a canvas of side ``native``: a fraction v maps to v (2n - 1) on the
        2n grid, i.e. v (n - 1/2) native pixels, and an endpoint radius to (1 + v n / 2) / 2 native
        pixels, both scaled to the frame's side.  The reference's last disc is at t = 0.99, not 1, so
        the continuous stroke is the curve's [0, 0.99] part: itself a quadratic Bezier with
        P1' = P0 + 0.99 (P1 - P0), P2' = B(0.99), and radius / opacity at 0.99 for the end.
        """
        scale = frames[:, 2] / native  # frame px per native px
        origin = frames[:, :2]
        p0, p1, p2 = control_points(s)
        k = ((native - 0.5) * scale)[:, None]
        off = origin + (CENTRE_BIAS_2W / 2) * scale[:, None]
        p0, p1, p2 = off + p0 * k, off + p1 * k, off + p2 * k
        e = T_END
        p1, p2 = p0 + e * (p1 - p0), (1 - e) ** 2 * p0 + 2 * e * (1 - e) * p1 + e * e * p2
        r0 = (0.5 + s[:, 6] * native / 2 - RADIUS_BIAS_2W) / 2 * scale
        r2 = (0.5 + s[:, 7] * native / 2 - RADIUS_BIAS_2W) / 2 * scale
        a0, a2 = self.opacities(s)
        r2, a2 = r0 + e * (r2 - r0), a0 + e * (a2 - a0)
        return p0, p1, p2, r0.clamp(min=0.25), r2.clamp(min=0.25), a0, a2

    def boxes(self, strokes, frames, native):
        p0, p1, p2, r0, r2, *_ = self.geometry(strokes, frames, native)
        pts = torch.stack([p0, p1, p2], 1)
        r = torch.maximum(r0, r2)[:, None] + 1.0
        return torch.cat([pts.amin(1) - r, pts.amax(1) + r], 1).detach()

    def soft_window(self, strokes, frames, native, px, py):
        """Soft alpha at pixel centres px (N, 1, w), py (N, h, 1) -> (N, h, w).

        The stroke is the union of discs swept along the curve, radius linear in t.  Per pixel:
        1. the signed distance sd(t) = |B(t) - p| - r(t) at SAMPLES_SOFT + 1 fixed t (cheap: the
           x and y parts are separable), keeping the best t and the last t whose disc covers p;
        2. refine the minimum inside the best sample's bracket: Newton steps on the centre-line
           distance, then the shift along the tangent at which a linearly growing radius wins
           (t += k d / sqrt(1 - k^2) / |B'|, k = r' / |B'|);
        3. coverage = one-pixel ramp of the minimum sd; opacity read at the last covering t (the
           reference's "later discs overwrite"), refined by solving |E + u B'|^2 = (r + r' u)^2.

        On a CPU with numba this runs as one fused kernel for forward and backward (`fused`: the same
        numbers, much faster: docs/benchmarks/rasteriser.md); the torch code below is the reference, and the
        path on GPUs.
        """
        p0, p1, p2, r0, r2, a0, a2 = self.geometry(strokes, frames, native)
        if self.use_fused and fused.usable(strokes, px, py):
            return fused.bezier_alpha(p0, p1, p2, r0, r2, a0, a2, px, py)
        v = lambda x: x[:, None, None]  # noqa: E731  (N,) -> (N, 1, 1)
        # B(t) - p = q + t b + t^2 a;  B'(t) = b + 2 t a;  B'' = 2 a.
        ax, ay = v(p0[:, 0] - 2 * p1[:, 0] + p2[:, 0]), v(p0[:, 1] - 2 * p1[:, 1] + p2[:, 1])
        bx, by = v(2 * (p1[:, 0] - p0[:, 0])), v(2 * (p1[:, 1] - p0[:, 1]))
        qx, qy = v(p0[:, 0]) - px, v(p0[:, 1]) - py  # (N, 1, w), (N, h, 1)
        ra, rp = v(r0), v(r2 - r0)
        m = SAMPLES_SOFT

        def at(t):  # E = B(t) - p and B'(t)
            return qx + t * (bx + t * ax), qy + t * (by + t * ay), bx + (2 * t) * ax, by + (2 * t) * ay

        for j in range(m + 1):
            tj = j / m
            ex, ey = qx + (tj * bx + tj * tj * ax), qy + (tj * by + tj * tj * ay)
            sdj = torch.sqrt(ex * ex + ey * ey + 1e-12) - (ra + tj * rp)
            if j == 0:
                best, tb = sdj, torch.zeros_like(sdj)
                tl = torch.where(sdj <= 0, 0.0, -1.0)
            else:
                tb = torch.where(sdj < best, tj, tb)
                best = torch.minimum(best, sdj)
                tl = torch.where(sdj <= 0, tj, tl)
        tb = tb.detach()
        lo, hi = (tb - 1 / m).clamp(min=0.0), (tb + 1 / m).clamp(max=1.0)
        t = tb
        for _ in range(NEWTON_STEPS):
            ex, ey, dx, dy = at(t)
            sp2 = dx * dx + dy * dy
            fp = torch.maximum(sp2 + 2 * (ex * ax + ey * ay), 0.1 * sp2 + 1e-6)
            t = torch.minimum(torch.maximum(t - (ex * dx + ey * dy) / fp, lo), hi)
        ex, ey, dx, dy = at(t)
        sp = torch.sqrt(dx * dx + dy * dy + 1e-9)
        k = (rp / sp).clamp(-0.95, 0.95)
        t = torch.minimum(torch.maximum(t + k * torch.sqrt(ex * ex + ey * ey + 1e-12) / (torch.sqrt(1 - k * k) * sp), lo), hi)
        ex, ey, _, _ = at(t)
        sd = torch.minimum(best, torch.sqrt(ex * ex + ey * ey + 1e-12) - (ra + t * rp))
        # Last covering t: between the last covering sample tl and the next sample.
        has = tl >= 0
        t = tl.clamp(min=0.0)
        ex, ey, dx, dy = at(t)
        rr = ra + t * rp
        qa = dx * dx + dy * dy - rp * rp
        qa = torch.where(qa.abs() < 1e-6, 1e-6, qa)
        qb = rr * rp - (ex * dx + ey * dy)
        qc = ex * ex + ey * ey - rr * rr
        root = torch.sqrt((qb * qb - qa * qc).clamp(min=1e-9))
        # Stable roots; both branches stay finite so torch.where's unused branch cannot leak NaN
        # gradients (qb - root < 0 whenever qb < 0).
        u = torch.where(qb >= 0, (qb + root) / qa, qc / torch.minimum(qb - root, torch.full_like(qb, -1e-9)))
        u = u.clamp(0.0, 1 / m)
        tv = torch.where(has, (t + u).clamp(max=1.0), tb)
        return ramp(-sd) * (v(a0) + v(a2 - a0) * tv)

    def place(self, cx, cy, length, angle, side):
        n = len(cx)
        dx, dy = torch.cos(angle) * length / 2, torch.sin(angle) * length / 2
        s = torch.empty(n, N_SHAPE)
        s[:, 0], s[:, 1] = (cx - dx) / side, (cy - dy) / side
        s[:, 4], s[:, 5] = (cx + dx) / side, (cy + dy) / side
        s[:, 2:4] = 0.5
        s[:, 6:8] = (length / 5 * 4 / side)[:, None]  # radius ~ length / 5 (r_px ~ v side / 4)
        s[:, 8:10] = 0.9
        return s.clamp(0.01, 0.99)

    # --- SVG ---------------------------------------------------------------------------------
    def live_primitives(self, strokes: Tensor, frames: Tensor, native: Tensor) -> Tensor:
        """x0 y0 x1 y1 x2 y2 r0 r2 a0 a2 per stroke (`geometry`)."""
        p0, p1, p2, r0, r2, a0, a2 = self.geometry(strokes, frames, native)
        return torch.cat([p0, p1, p2, r0[:, None], r2[:, None], a0[:, None], a2[:, None]], 1)

    # Discs along the curve, closer than half the smaller radius: their union is the swept stroke.
    # Opacity linear along the stroke ("later discs overwrite"): a gradient along the chord.
    live_js = """(ctx, d) => {
      const [x0, y0, x1, y1, x2, y2, r0, r2, a0, a2, R, G, B] = d;
      const len = Math.hypot(x1 - x0, y1 - y0) + Math.hypot(x2 - x1, y2 - y1);
      const rmin = Math.max(0.35, Math.min(r0, r2));
      const k = Math.max(2, Math.min(256, Math.ceil(len / (0.5 * rmin))));
      ctx.beginPath();
      for (let j = 0; j <= k; j++) {
        const t = j / k, u = 1 - t;
        const x = u * u * x0 + 2 * t * u * x1 + t * t * x2;
        const y = u * u * y0 + 2 * t * u * y1 + t * t * y2;
        const r = r0 + (r2 - r0) * t;
        ctx.moveTo(x + r, y);
        ctx.arc(x, y, r, 0, 2 * Math.PI);
      }
      const chord = Math.hypot(x2 - x0, y2 - y0);
      if (Math.abs(a2 - a0) < 1 / 255 || chord < 0.5) {
        ctx.globalAlpha = Math.max(0, Math.min(1, (a0 + a2) / 2));
        ctx.fillStyle = rgb(R, G, B);
      } else {
        ctx.globalAlpha = 1;
        const g = ctx.createLinearGradient(x0, y0, x2, y2);
        g.addColorStop(0, rgba(R, G, B, a0));
        g.addColorStop(1, rgba(R, G, B, a2));
        ctx.fillStyle = g;
      }
      ctx.fill("nonzero");
    }"""

    def svg(self, stroke, frame, native, fill, uid: str = "") -> str:
        """The soft rasteriser's stroke as SVG, in canvas pixels.

        Shape: one ``<path>`` (nonzero fill) whose subpaths are K + 1 discs sampled along the curve
        and the tangent hulls of consecutive discs: their union is the swept stroke, and because it is
        one path the renderer antialiases the union's outline once (separate elements would darken
        the rim where their edges overlap).  K grows with the curve's bend and the opacity change.

        Opacity ("later discs overwrite"): a luminance ``<mask>`` that paints the same discs and hulls
        in order, opaque, in the grey of their opacity, so each point keeps the grey of the last disc
        covering it, exactly the reference's painter's algorithm.  A first pass with discs 1 px larger
        fills the antialiased rim outside the exact union.  A constant-opacity stroke (e.g.
        ``bezier-opaque``) is a plain path with ``fill-opacity``.  Ids: ``{uid}m``.
        Masks render correctly in browsers, Inkscape, librsvg and resvg; cairosvg ignores mask
        luminance (the stroke then shows at full opacity).
        """
        s = torch.tensor([list(stroke)[:N_SHAPE]], dtype=torch.float64)
        f = torch.tensor([list(frame)[:3]], dtype=torch.float64)
        p0, p1, p2, r0, r2, a0, a2 = (
            x[0] for x in self.geometry(s, f, torch.tensor([float(native)], dtype=torch.float64))
        )
        a0, a2, r0, r2 = float(a0), float(a2), float(r0), float(r2)
        bend = float((p0 - 2 * p1 + p2).norm())  # chord-to-curve gap of a step 1/K is bend / (4 K^2)
        k = max(4, min(64, math.ceil(max(math.sqrt(bend / 0.2), abs(a2 - a0) * 48))))
        t = torch.linspace(0, 1, k + 1, dtype=torch.float64)[:, None]
        pts = ((1 - t) ** 2 * p0 + 2 * t * (1 - t) * p1 + t**2 * p2).tolist()
        rad = [r0 + (r2 - r0) * j / k for j in range(k + 1)]
        alpha = [a0 + (a2 - a0) * j / k for j in range(k + 1)]
        num = lambda x: f"{x:.2f}".rstrip("0").rstrip(".")  # noqa: E731

        def disc(c, r):  # four quarter arcs: robust to rounding, unlike two half circles
            (x, y), arc = c, f"A{num(r)},{num(r)} 0 0 1 "
            return (f"M{num(x + r)},{num(y)}{arc}{num(x)},{num(y + r)}{arc}{num(x - r)},{num(y)}"
                    f"{arc}{num(x)},{num(y - r)}{arc}{num(x + r)},{num(y)}Z")

        def hull(c1, r1, c2, r2):  # quad between the outer tangents of two discs, positive winding
            dx, dy = c2[0] - c1[0], c2[1] - c1[1]
            d = math.hypot(dx, dy)
            if d <= abs(r2 - r1) + 1e-9:
                return ""  # one disc contains the other
            ux, uy = dx / d, dy / d
            sn = (r1 - r2) / d
            cs = math.sqrt(max(1.0 - sn * sn, 0.0))
            m1 = (ux * sn - uy * cs, uy * sn + ux * cs)
            m2 = (ux * sn + uy * cs, uy * sn - ux * cs)
            q = [(c1[0] + r1 * m1[0], c1[1] + r1 * m1[1]), (c2[0] + r2 * m1[0], c2[1] + r2 * m1[1]),
                 (c2[0] + r2 * m2[0], c2[1] + r2 * m2[1]), (c1[0] + r1 * m2[0], c1[1] + r1 * m2[1])]
            if sum(q[i][0] * q[i - 3][1] - q[i - 3][0] * q[i][1] for i in range(4)) < 0:
                q.reverse()
            return "M" + "L".join(f"{num(x)},{num(y)}" for x, y in q) + "Z"

        shape = "".join(disc(pts[j], rad[j]) + (hull(pts[j], rad[j], pts[j + 1], rad[j + 1]) if j < k else "")
                        for j in range(k + 1))
        if not uid:  # ids must not collide between strokes; identical strokes may share one
            uid = f"b{zlib.crc32(repr((list(stroke)[:N_SHAPE], list(frame)[:3], native)).encode()):08x}"
        ident = f' id="{uid}"'
        if abs(a2 - a0) < 0.5 / 255:
            return f'<path{ident} d="{shape}" fill="{fill}" fill-opacity="{(a0 + a2) / 2:.4f}"/>'
        grey = lambda a: hex_color((a, a, a))  # noqa: E731
        layers = []
        for grow in (1.0, 0.0):
            for j in range(k + 1):
                if j:
                    h = hull(pts[j - 1], rad[j - 1] + grow, pts[j], rad[j] + grow)
                    if h:
                        layers.append(f'<path d="{h}" fill="{grey((alpha[j - 1] + alpha[j]) / 2)}"/>')
                (x, y), r = pts[j], rad[j] + grow
                layers.append(f'<circle cx="{num(x)}" cy="{num(y)}" r="{num(r)}" fill="{grey(alpha[j])}"/>')
        margin = max(rad) + 2.0
        x0, y0 = min(p[0] for p in pts) - margin, min(p[1] for p in pts) - margin
        x1, y1 = max(p[0] for p in pts) + margin, max(p[1] for p in pts) + margin
        mask = (f'<mask id="{uid}m" maskUnits="userSpaceOnUse" x="{num(x0)}" y="{num(y0)}" '
                f'width="{num(x1 - x0)}" height="{num(y1 - y0)}" style="color-interpolation:sRGB">'
                + "".join(layers) + "</mask>")
        return f'<g{ident}><defs>{mask}</defs><path d="{shape}" fill="{fill}" mask="url(#{uid}m)"/></g>'


class BezierOpaque(Bezier):
    """Bezier with opacity fixed at 1: shape numbers 8 and 9 are ignored."""

    name = "bezier-opaque"
    params = ("x0", "y0", "x1", "y1", "x2", "y2", "r0", "r2", "unused8", "unused9")
    opaque = True

    def opacities(self, s: Tensor) -> tuple[Tensor, Tensor]:
        one = torch.ones_like(s[:, 0])
        return one, one
