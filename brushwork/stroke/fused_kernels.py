"""numba kernels of `fused` (imported only when they are first needed: importing numba takes a noticeable
fraction of a small painting's time).

One stroke per thread (``prange`` over strokes), every per-pixel intermediate in registers.  The
arithmetic mirrors `Bezier.soft_window` line by line; see `fused` for the gradient.
"""

from __future__ import annotations

import numba

from .base import EDGE, SAMPLES_SOFT

# Compile-time constants: a literal loop bound lets LLVM unroll and vectorise the sample loop (an
# argument instead made the forward several times slower).
M = SAMPLES_SOFT
INV_M = 1.0 / M
_OPTS = dict(parallel=True, cache=True, nogil=True, error_model="numpy")
_SERIAL = dict(cache=True, nogil=True, error_model="numpy")


@numba.njit(inline="always")
def coefficients(g, n, x, y):
    """B(t) - p = q + t b + t^2 a at pixel centre (x, y) of stroke n, radius ra + t rp, end opacities:
    (qx, qy, ax, ay, bx, by, ra, rp, a0, a2)."""
    p0x, p0y, p1x, p1y, p2x, p2y = g[n, 0], g[n, 1], g[n, 2], g[n, 3], g[n, 4], g[n, 5]
    return (p0x - x, p0y - y, p0x - 2.0 * p1x + p2x, p0y - 2.0 * p1y + p2y, 2.0 * (p1x - p0x), 2.0 * (p1y - p0y),
            g[n, 6], g[n, 7] - g[n, 6], g[n, 8], g[n, 9])


@numba.njit(inline="always")
def at(qx, qy, ax, ay, bx, by, t):
    """E = B(t) - p and B'(t): (ex, ey, dx, dy)."""
    return qx + t * (bx + t * ax), qy + t * (by + t * ay), bx + 2.0 * t * ax, by + 2.0 * t * ay


@numba.njit(inline="always")
def at_grad(gex, gey, gdx, gdy, t):
    """Gradients on E(t) and B'(t) (t fixed) -> on (qx, qy, bx, by, ax, ay)."""
    return gex, gey, gex * t + gdx, gey * t + gdy, gex * t * t + 2.0 * t * gdx, gey * t * t + 2.0 * t * gdy


@numba.njit(inline="always")
def state(g, n, x, y):
    """The forward of Bezier.soft_window at one pixel, with every intermediate the reverse mode needs.
    Returns (coefficients, sample step, Newton step, radius shift, opacity root, (sd, c, cov, op, tv))."""
    qx, qy, ax, ay, bx, by, ra, rp, a0, a2 = co = coefficients(g, n, x, y)
    # 1. the signed distance at M + 1 fixed t: the best t, and the last t whose disc covers p
    best, tb, tl = 0.0, 0.0, -1.0
    for j in range(M + 1):
        tj = j * INV_M
        ex = qx + (tj * bx + tj * tj * ax)
        ey = qy + (tj * by + tj * tj * ay)
        sdj = (ex * ex + ey * ey + 1e-12) ** 0.5 - (ra + tj * rp)
        if j == 0:
            best = sdj
            tl = 0.0 if sdj <= 0.0 else -1.0
        else:
            if sdj < best:
                tb = tj
                best = sdj
            if sdj <= 0.0:
                tl = tj
    lo, hi = max(tb - INV_M, 0.0), min(tb + INV_M, 1.0)
    # 2. one Newton step on the centre-line distance, from tb
    e0x, e0y, d0x, d0y = at(qx, qy, ax, ay, bx, by, tb)
    sp2 = d0x * d0x + d0y * d0y
    fp1 = sp2 + 2.0 * (e0x * ax + e0y * ay)
    fp2 = 0.1 * sp2 + 1e-6
    fp = max(fp1, fp2)
    ff = e0x * d0x + e0y * d0y
    t1r = tb - ff / fp
    t1 = min(max(t1r, lo), hi)
    # 3. the shift at which a linearly growing radius wins
    e1x, e1y, d1x, d1y = at(qx, qy, ax, ay, bx, by, t1)
    sp = (d1x * d1x + d1y * d1y + 1e-9) ** 0.5
    kr = rp / sp
    k = min(max(kr, -0.95), 0.95)
    e1 = (e1x * e1x + e1y * e1y + 1e-12) ** 0.5
    qk = (1.0 - k * k) ** 0.5
    t2r = t1 + k * e1 / (qk * sp)
    t2 = min(max(t2r, lo), hi)
    e2x, e2y, _, _ = at(qx, qy, ax, ay, bx, by, t2)
    e2 = (e2x * e2x + e2y * e2y + 1e-12) ** 0.5
    sdr = e2 - (ra + t2 * rp)
    use_r = sdr < best
    sd = sdr if use_r else best
    # 4. opacity at the last covering t: solve |E + u B'|^2 = (r + r' u)^2 for u in [0, 1/M]
    has = tl >= 0.0
    t3 = e3x = e3y = d3x = d3y = rr = qa = qb = qc = dd = root = den = ur = tvr = 0.0
    qa_free = False
    if has:  # most window pixels are outside every disc: skip the root there
        t3 = max(tl, 0.0)
        e3x, e3y, d3x, d3y = at(qx, qy, ax, ay, bx, by, t3)
        rr = ra + t3 * rp
        qa = d3x * d3x + d3y * d3y - rp * rp
        qa_free = abs(qa) >= 1e-6
        if not qa_free:
            qa = 1e-6
        qb = rr * rp - (e3x * d3x + e3y * d3y)
        qc = e3x * e3x + e3y * e3y - rr * rr
        dd = qb * qb - qa * qc
        root = max(dd, 1e-9) ** 0.5
        if qb >= 0.0:
            den = qa
            ur = (qb + root) / qa
        else:
            den = min(qb - root, -1e-9)
            ur = qc / den
        tvr = t3 + min(max(ur, 0.0), INV_M)
    tv = min(tvr, 1.0) if has else tb
    c = -sd / EDGE + 0.5
    cov = min(max(c, 0.0), 1.0)
    op = a0 + (a2 - a0) * tv
    return (co, (best, tb, tl, lo, hi), (e0x, e0y, d0x, d0y, fp1, fp2, fp, ff, t1r, t1),
            (e1x, e1y, d1x, d1y, sp, kr, k, e1, qk, t2r, t2, e2x, e2y, e2, use_r),
            (has, t3, e3x, e3y, d3x, d3y, rr, qa, qa_free, qb, qc, dd, root, den, ur, tvr), (sd, c, cov, op, tv))


@numba.njit
def forward_stroke(g, n, px, py, out, live):
    """Stroke n's window (its own function, like `stroke_grad`: inlined into a prange body, numba's
    parfor pass failed on the tuples `state` returns)."""
    h, w = out.shape[1], out.shape[2]
    for i in range(h):
        y = py[n, i]
        for j in range(w):
            sd, c, cov, op, tv = state(g, n, px[n, j], y)[5]
            out[n, i, j] = cov * op
            live[n, i, j] = c >= 0.0  # inside or on the edge ramp: the gradient can be non-zero


@numba.njit(**_OPTS)
def forward(g, px, py, out, live):
    """g (N, 10) geometry (p0 p1 p2 xy, r0 r2, a0 a2; frame pixels); px (N, w), py (N, h) pixel
    centres -> out (N, h, w) alpha, and live
    (N, h, w) uint8: 1 where the gradient can be non-zero (inside the stroke or on its edge ramp), so
    that the backward skips the other pixels."""
    for n in numba.prange(out.shape[0]):
        forward_stroke(g, n, px, py, out, live)


@numba.njit(**_SERIAL)
def forward_serial(g, px, py, out, live):
    """`forward` on the calling thread only (safe to call from several Python threads at once)."""
    for n in range(out.shape[0]):
        forward_stroke(g, n, px, py, out, live)


@numba.njit(inline="always")
def pixel_grad(g, n, x, y, go):
    """Reverse mode of `state` at one pixel: go * d alpha / d (qx qy bx by ax ay ra rp a0 a2).  The
    sample t's (tb, tl) and the brackets are constants, as in torch's autograd of Bezier.soft_window."""
    co, smp, newton, shift, opac, res = state(g, n, x, y)
    qx, qy, ax, ay, bx, by, ra, rp, a0, a2 = co
    best, tb, tl, lo, hi = smp
    e0x, e0y, d0x, d0y, fp1, fp2, fp, ff, t1r, t1 = newton
    e1x, e1y, d1x, d1y, sp, kr, k, e1, qk, t2r, t2, e2x, e2y, e2, use_r = shift
    has, t3, e3x, e3y, d3x, d3y, rr, qa, qa_free, qb, qc, dd, root, den, ur, tvr = opac
    sd, c, cov, op, tv = res
    g_qx = g_qy = g_bx = g_by = g_ax = g_ay = g_ra = g_rp = 0.0
    if c < 0.0:  # outside the stroke and its edge ramp: alpha is 0 here whatever the parameters
        return g_qx, g_qy, g_bx, g_by, g_ax, g_ay, g_ra, g_rp, 0.0, 0.0
    g_a0 = go * cov * (1.0 - tv)
    g_a2 = go * cov * tv
    if c <= 1.0:
        g_sd = -go * op / EDGE
        ts = t2 if use_r else tb  # the t of sd = min(best sample, refined)
        ex, ey, _, _ = at(qx, qy, ax, ay, bx, by, ts)
        en = (ex * ex + ey * ey + 1e-12) ** 0.5
        ux, uy = g_sd * ex / en, g_sd * ey / en  # d sd / d E
        d = at_grad(ux, uy, 0.0, 0.0, ts)
        g_qx, g_qy, g_bx, g_by, g_ax, g_ay = g_qx + d[0], g_qy + d[1], g_bx + d[2], g_by + d[3], g_ax + d[4], g_ay + d[5]
        g_ra -= g_sd
        g_rp -= g_sd * ts
        if use_r and lo < t2r < hi:
            # d sdr / d t2 = u . B'(t2) - rp
            g_t2 = ux * (bx + 2.0 * t2 * ax) + uy * (by + 2.0 * t2 * ay) - g_sd * rp
            g_t1 = g_t2
            # t2 = t1 + S, S = k e1 / (qk sp)
            g_e1 = g_t2 * k / (qk * sp)
            g_sp = -g_t2 * k * e1 / (qk * sp * sp)
            if -0.95 < kr < 0.95:
                g_k = g_t2 * e1 / (sp * qk * qk * qk)
                g_rp += g_k / sp
                g_sp -= g_k * rp / (sp * sp)
            g_e1x, g_e1y = g_e1 * e1x / e1, g_e1 * e1y / e1
            g_d1x, g_d1y = g_sp * d1x / sp, g_sp * d1y / sp
            g_t1 += g_e1x * d1x + g_e1y * d1y + 2.0 * (g_d1x * ax + g_d1y * ay)
            d = at_grad(g_e1x, g_e1y, g_d1x, g_d1y, t1)
            g_qx, g_qy, g_bx, g_by, g_ax, g_ay = g_qx + d[0], g_qy + d[1], g_bx + d[2], g_by + d[3], g_ax + d[4], g_ay + d[5]
            if lo < t1r < hi:
                # t1 = tb - ff / fp
                g_ff = -g_t1 / fp
                g_fp = g_t1 * ff / (fp * fp)
                g_e0x, g_e0y = g_ff * d0x, g_ff * d0y
                g_d0x, g_d0y = g_ff * e0x, g_ff * e0y
                if fp1 >= fp2:
                    g_sp2 = g_fp
                    g_e0x += 2.0 * g_fp * ax
                    g_e0y += 2.0 * g_fp * ay
                    g_ax += 2.0 * g_fp * e0x
                    g_ay += 2.0 * g_fp * e0y
                else:
                    g_sp2 = 0.1 * g_fp
                g_d0x += 2.0 * g_sp2 * d0x
                g_d0y += 2.0 * g_sp2 * d0y
                d = at_grad(g_e0x, g_e0y, g_d0x, g_d0y, tb)
                g_qx, g_qy, g_bx, g_by = g_qx + d[0], g_qy + d[1], g_bx + d[2], g_by + d[3]
                g_ax, g_ay = g_ax + d[4], g_ay + d[5]
    if has and 0.0 < ur < INV_M and tvr < 1.0:
        g_u = go * cov * (a2 - a0)
        g_qa = g_qb = g_qc = g_root = 0.0
        if qb >= 0.0:
            g_qb += g_u / qa
            g_root += g_u / qa
            g_qa -= g_u * ur / qa
        else:
            g_qc += g_u / den
            if qb - root < -1e-9:
                g_den = -g_u * qc / (den * den)
                g_qb += g_den
                g_root -= g_den
        if dd >= 1e-9:
            g_dd = g_root / (2.0 * root)
            g_qb += 2.0 * qb * g_dd
            g_qa -= qc * g_dd
            g_qc -= qa * g_dd
        g_e3x = -d3x * g_qb + 2.0 * e3x * g_qc
        g_e3y = -d3y * g_qb + 2.0 * e3y * g_qc
        g_d3x = -e3x * g_qb
        g_d3y = -e3y * g_qb
        if qa_free:
            g_d3x += 2.0 * d3x * g_qa
            g_d3y += 2.0 * d3y * g_qa
            g_rp -= 2.0 * rp * g_qa
        g_rr = rp * g_qb - 2.0 * rr * g_qc
        g_rp += rr * g_qb + t3 * g_rr
        g_ra += g_rr
        d = at_grad(g_e3x, g_e3y, g_d3x, g_d3y, t3)
        g_qx, g_qy, g_bx, g_by, g_ax, g_ay = g_qx + d[0], g_qy + d[1], g_bx + d[2], g_by + d[3], g_ax + d[4], g_ay + d[5]
    return g_qx, g_qy, g_bx, g_by, g_ax, g_ay, g_ra, g_rp, g_a0, g_a2


@numba.njit
def stroke_grad(g, n, px, py, go, live):
    """Sum over stroke n's window of `pixel_grad` (its own function: inside a prange body, numba's
    parfor pass hoisted the zero-initialised accumulators out of the loop, mixing strokes' sums)."""
    h, w = go.shape[1], go.shape[2]
    s0 = s1 = s2 = s3 = s4 = s5 = s6 = s7 = s8 = s9 = 0.0  # scalars: kept in registers
    for i in range(h):
        y = py[n, i]
        for j in range(w):
            gij = go[n, i, j]
            if live[n, i, j] and gij != 0.0:
                r = pixel_grad(g, n, px[n, j], y, gij)
                s0 += r[0]
                s1 += r[1]
                s2 += r[2]
                s3 += r[3]
                s4 += r[4]
                s5 += r[5]
                s6 += r[6]
                s7 += r[7]
                s8 += r[8]
                s9 += r[9]
    return s0, s1, s2, s3, s4, s5, s6, s7, s8, s9


@numba.njit(inline="always")
def backward_stroke(g, n, px, py, go, live, gg):
    acc = stroke_grad(g, n, px, py, go, live)
    # (qx qy bx by ax ay ra rp) -> (p0 p1 p2, r0 r2): qx = p0x - x, bx = 2 (p1x - p0x),
    # ax = p0x - 2 p1x + p2x, ra = r0, rp = r2 - r0
    gg[n, 0] = acc[0] - 2.0 * acc[2] + acc[4]
    gg[n, 1] = acc[1] - 2.0 * acc[3] + acc[5]
    gg[n, 2] = 2.0 * acc[2] - 2.0 * acc[4]
    gg[n, 3] = 2.0 * acc[3] - 2.0 * acc[5]
    gg[n, 4] = acc[4]
    gg[n, 5] = acc[5]
    gg[n, 6] = acc[6] - acc[7]
    gg[n, 7] = acc[7]
    gg[n, 8] = acc[8]
    gg[n, 9] = acc[9]


@numba.njit(**_OPTS)
def backward(g, px, py, go, live, gg):
    """go (N, h, w) dL/dalpha -> gg (N, 10) dL/dg, the reverse mode of `forward` (as torch's autograd
    of Bezier.soft_window computes it, to rounding)."""
    for n in numba.prange(go.shape[0]):
        backward_stroke(g, n, px, py, go, live, gg)


@numba.njit(**_SERIAL)
def backward_serial(g, px, py, go, live, gg):
    """`backward` on the calling thread only."""
    for n in range(go.shape[0]):
        backward_stroke(g, n, px, py, go, live, gg)


# --- in-order windowed compositing (the joint pass: painter/joint_windowed.py) ---------------------
@numba.njit(**_SERIAL)
def composite_forward(canvas, alphas, offs, hs, ws, y0, x0, colors, prev):
    """Paint strokes in order over canvas (C, H, W) in place: canvas = canvas (1 - a) + a c in each
    stroke's window.  alphas: all windows' alphas, flat; stroke i's (hs[i], ws[i]) window starts at
    offs[i] there, at canvas row y0[i], column x0[i].  prev (C, len(alphas)): the canvas under each
    window before its stroke (what the backward needs).  Serial: each stroke paints over the last."""
    nc = canvas.shape[0]
    for i in range(offs.shape[0]):
        o, h, w, r0, c0 = offs[i], hs[i], ws[i], y0[i], x0[i]
        for r in range(h):
            for c in range(w):
                a = alphas[o + r * w + c]
                for k in range(nc):
                    v = canvas[k, r0 + r, c0 + c]
                    prev[k, o + r * w + c] = v
                    canvas[k, r0 + r, c0 + c] = v + a * (colors[i, k] - v)


@numba.njit(**_SERIAL)
def composite_backward(grad, alphas, offs, hs, ws, y0, x0, colors, prev, galpha, gcolor):
    """Reverse of `composite_forward`, strokes in reverse order: grad (C, H, W) dL/dcanvas of the
    result (consumed in place) -> galpha (len(alphas),) dL/dalpha, gcolor (N, C) dL/dcolour."""
    nc = grad.shape[0]
    for i in range(offs.shape[0] - 1, -1, -1):
        o, h, w, r0, c0 = offs[i], hs[i], ws[i], y0[i], x0[i]
        for r in range(h):
            for c in range(w):
                a = alphas[o + r * w + c]
                ga = 0.0
                for k in range(nc):
                    g = grad[k, r0 + r, c0 + c]
                    ga += g * (colors[i, k] - prev[k, o + r * w + c])
                    gcolor[i, k] += g * a
                    grad[k, r0 + r, c0 + c] = g * (1.0 - a)
                galpha[o + r * w + c] = ga
