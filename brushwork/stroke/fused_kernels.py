"""numba kernels of `fused` (imported only when they are first needed: importing numba takes ~0.3 s).

One stroke per thread (``prange`` over strokes), every per-pixel intermediate in registers.  The
arithmetic mirrors `Bezier.soft_window` line by line; see `fused` for the gradient.
"""

from __future__ import annotations

import numba

from .base import EDGE, SAMPLES_SOFT

# Compile-time constants: a literal loop bound lets LLVM unroll and vectorise the sample loop (an
# argument instead made the forward 8x slower).
M = SAMPLES_SOFT
INV_M = 1.0 / M
_OPTS = dict(parallel=True, cache=True, nogil=True, error_model="numpy")
_SERIAL = dict(cache=True, nogil=True, error_model="numpy")


@numba.njit(inline="always")
def pixel(g, n, x, y):
    """At pixel centre (x, y) of stroke n: (alpha, t of the minimal sd, opacity, the opacity's t,
    coverage, d coverage / d sd, qx, qy).  Mirrors Bezier.soft_window."""
    p0x, p0y, p1x, p1y, p2x, p2y = g[n, 0], g[n, 1], g[n, 2], g[n, 3], g[n, 4], g[n, 5]
    ra, rp, a0, a2 = g[n, 6], g[n, 7] - g[n, 6], g[n, 8], g[n, 9]
    ax, ay = p0x - 2.0 * p1x + p2x, p0y - 2.0 * p1y + p2y
    bx, by = 2.0 * (p1x - p0x), 2.0 * (p1y - p0y)
    qx, qy = p0x - x, p0y - y
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
    t = tb
    # one Newton step on the centre-line distance
    ex, ey = qx + t * (bx + t * ax), qy + t * (by + t * ay)
    dx, dy = bx + 2.0 * t * ax, by + 2.0 * t * ay
    sp2 = dx * dx + dy * dy
    fp = max(sp2 + 2.0 * (ex * ax + ey * ay), 0.1 * sp2 + 1e-6)
    t = min(max(t - (ex * dx + ey * dy) / fp, lo), hi)
    # the shift at which a linearly growing radius wins
    ex, ey = qx + t * (bx + t * ax), qy + t * (by + t * ay)
    dx, dy = bx + 2.0 * t * ax, by + 2.0 * t * ay
    sp = (dx * dx + dy * dy + 1e-9) ** 0.5
    k = min(max(rp / sp, -0.95), 0.95)
    t = min(max(t + k * (ex * ex + ey * ey + 1e-12) ** 0.5 / ((1.0 - k * k) ** 0.5 * sp), lo), hi)
    ex, ey = qx + t * (bx + t * ax), qy + t * (by + t * ay)
    sdr = (ex * ex + ey * ey + 1e-12) ** 0.5 - (ra + t * rp)
    if sdr < best:
        sd, tsd = sdr, t
    else:
        sd, tsd = best, tb
    # opacity at the last covering t
    if tl >= 0.0:
        t = tl
        ex, ey = qx + t * (bx + t * ax), qy + t * (by + t * ay)
        dx, dy = bx + 2.0 * t * ax, by + 2.0 * t * ay
        rr = ra + t * rp
        qa = dx * dx + dy * dy - rp * rp
        if abs(qa) < 1e-6:
            qa = 1e-6
        qb = rr * rp - (ex * dx + ey * dy)
        qc = ex * ex + ey * ey - rr * rr
        root = max(qb * qb - qa * qc, 1e-9) ** 0.5
        if qb >= 0.0:
            u = (qb + root) / qa
        else:
            u = qc / min(qb - root, -1e-9)
        u = min(max(u, 0.0), INV_M)
        tv = min(t + u, 1.0)
    else:
        tv = tb
    c = -sd / EDGE + 0.5
    dcov = -1.0 / EDGE if 0.0 <= c <= 1.0 else 0.0
    cov = min(max(c, 0.0), 1.0)
    op = a0 + (a2 - a0) * tv
    return cov * op, tsd, op, tv, cov, dcov, qx, qy


@numba.njit(inline="always")
def forward_stroke(g, n, px, py, out, live):
    h, w = out.shape[1], out.shape[2]
    for i in range(h):
        y = py[n, i]
        for j in range(w):
            r = pixel(g, n, px[n, j], y)
            out[n, i, j] = r[0]
            live[n, i, j] = r[4] > 0.0 or r[5] != 0.0


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
    """Reverse mode of `pixel` at one pixel: go * d alpha / d (qx qy bx by ax ay ra rp a0 a2).  Steps
    as in the forward; the sample t's (tb, tl) and the brackets are constants, as in torch's autograd
    of Bezier.soft_window."""
    p0x, p0y, p1x, p1y, p2x, p2y = g[n, 0], g[n, 1], g[n, 2], g[n, 3], g[n, 4], g[n, 5]
    ra, rp, a0, a2 = g[n, 6], g[n, 7] - g[n, 6], g[n, 8], g[n, 9]
    ax, ay = p0x - 2.0 * p1x + p2x, p0y - 2.0 * p1y + p2y
    bx, by = 2.0 * (p1x - p0x), 2.0 * (p1y - p0y)
    qx, qy = p0x - x, p0y - y
    # --- forward, keeping what the adjoint needs ---
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
    t0 = tb
    e0x, e0y = qx + t0 * (bx + t0 * ax), qy + t0 * (by + t0 * ay)
    d0x, d0y = bx + 2.0 * t0 * ax, by + 2.0 * t0 * ay
    sp2 = d0x * d0x + d0y * d0y
    fp1 = sp2 + 2.0 * (e0x * ax + e0y * ay)
    fp2 = 0.1 * sp2 + 1e-6
    fp = max(fp1, fp2)
    ff = e0x * d0x + e0y * d0y
    t1r = t0 - ff / fp
    t1 = min(max(t1r, lo), hi)
    t1_free = lo < t1r < hi
    e1x, e1y = qx + t1 * (bx + t1 * ax), qy + t1 * (by + t1 * ay)
    d1x, d1y = bx + 2.0 * t1 * ax, by + 2.0 * t1 * ay
    sp = (d1x * d1x + d1y * d1y + 1e-9) ** 0.5
    kr = rp / sp
    k = min(max(kr, -0.95), 0.95)
    k_free = -0.95 < kr < 0.95
    e1 = (e1x * e1x + e1y * e1y + 1e-12) ** 0.5
    qk = (1.0 - k * k) ** 0.5
    t2r = t1 + k * e1 / (qk * sp)
    t2 = min(max(t2r, lo), hi)
    t2_free = lo < t2r < hi
    e2x, e2y = qx + t2 * (bx + t2 * ax), qy + t2 * (by + t2 * ay)
    e2 = (e2x * e2x + e2y * e2y + 1e-12) ** 0.5
    sdr = e2 - (ra + t2 * rp)
    use_r = sdr < best
    sd = sdr if use_r else best
    c = -sd / EDGE + 0.5
    if c < 0.0:  # outside the stroke and its edge ramp: alpha is 0 here whatever the parameters
        return 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0
    has = tl >= 0.0
    tv = tb
    if has:
        t3 = tl
        e3x, e3y = qx + t3 * (bx + t3 * ax), qy + t3 * (by + t3 * ay)
        d3x, d3y = bx + 2.0 * t3 * ax, by + 2.0 * t3 * ay
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
        u = min(max(ur, 0.0), INV_M)
        tvr = t3 + u
        tv = min(tvr, 1.0)
    cov = min(max(c, 0.0), 1.0)
    op = a0 + (a2 - a0) * tv
    # --- adjoint ---
    g_qx = g_qy = g_bx = g_by = g_ax = g_ay = g_ra = g_rp = 0.0
    g_a0 = go * cov * (1.0 - tv)
    g_a2 = go * cov * tv
    if 0.0 <= c <= 1.0:
        g_sd = -go * op / EDGE
        if not use_r:
            ex, ey = qx + tb * (bx + tb * ax), qy + tb * (by + tb * ay)
            en = (ex * ex + ey * ey + 1e-12) ** 0.5
            ux, uy = g_sd * ex / en, g_sd * ey / en
            g_qx += ux
            g_qy += uy
            g_bx += ux * tb
            g_by += uy * tb
            g_ax += ux * tb * tb
            g_ay += uy * tb * tb
            g_ra -= g_sd
            g_rp -= g_sd * tb
        else:
            ux, uy = g_sd * e2x / e2, g_sd * e2y / e2  # d sdr / d e2
            g_qx += ux
            g_qy += uy
            g_bx += ux * t2
            g_by += uy * t2
            g_ax += ux * t2 * t2
            g_ay += uy * t2 * t2
            g_ra -= g_sd
            g_rp -= g_sd * t2
            if t2_free:
                # d sdr / d t2 = u . B'(t2) - rp
                g_t2 = ux * (bx + 2.0 * t2 * ax) + uy * (by + 2.0 * t2 * ay) - g_sd * rp
                g_t1 = g_t2
                # t2 = t1 + S, S = k e1 / (qk sp)
                g_e1 = g_t2 * k / (qk * sp)
                g_sp = -g_t2 * k * e1 / (qk * sp * sp)
                if k_free:
                    g_k = g_t2 * e1 / (sp * qk * qk * qk)
                    g_rp += g_k / sp
                    g_sp -= g_k * rp / (sp * sp)
                g_e1x, g_e1y = g_e1 * e1x / e1, g_e1 * e1y / e1
                g_d1x, g_d1y = g_sp * d1x / sp, g_sp * d1y / sp
                g_t1 += g_e1x * d1x + g_e1y * d1y + 2.0 * (g_d1x * ax + g_d1y * ay)
                g_qx += g_e1x
                g_qy += g_e1y
                g_bx += g_e1x * t1 + g_d1x
                g_by += g_e1y * t1 + g_d1y
                g_ax += g_e1x * t1 * t1 + 2.0 * t1 * g_d1x
                g_ay += g_e1y * t1 * t1 + 2.0 * t1 * g_d1y
                if t1_free:
                    # t1 = t0 - ff / fp
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
                    g_qx += g_e0x
                    g_qy += g_e0y
                    g_bx += g_e0x * t0 + g_d0x
                    g_by += g_e0y * t0 + g_d0y
                    g_ax += g_e0x * t0 * t0 + 2.0 * t0 * g_d0x
                    g_ay += g_e0y * t0 * t0 + 2.0 * t0 * g_d0y
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
        g_qx += g_e3x
        g_qy += g_e3y
        g_bx += g_e3x * t3 + g_d3x
        g_by += g_e3y * t3 + g_d3y
        g_ax += g_e3x * t3 * t3 + 2.0 * t3 * g_d3x
        g_ay += g_e3y * t3 * t3 + 2.0 * t3 * g_d3y
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
