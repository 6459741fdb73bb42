"""Fused CPU kernels (numba) for the Bezier soft rasteriser (forward and backward in one pass per pixel)
and for the joint pass's in-order windowed composite (`composite_in_order`, and its backward).

The eager torch rasteriser (`Bezier.soft_window`) evaluates ~100 elementwise ops per pixel, each a
separate pass over the window tensor with its own temporaries; on a CPU it is bound by memory traffic
and per-op overhead, and torch's intra-op threads do not help on windows of a few thousand pixels.
These kernels compute the same alpha with every intermediate in registers, one stroke per thread.
Measured side by side with eager torch and torch.compile: docs/benchmarks/rasteriser.md.

Forward: the same arithmetic as `Bezier.soft_window`, in float64 (it matches the float32 torch result
to ~3e-5, torch's own rounding).  Backward: the reverse mode of that arithmetic written out by hand
(through the Newton step, the radius shift and the opacity's root), so the gradient is the one torch's
autograd computes, to rounding (tests/test_fused.py checks both against torch and finite differences).
The backward recomputes the forward per pixel instead of saving intermediates: memory is the inputs.

Nothing here is compiled at import: `kernels()` builds them on first use (numba caches the machine
code on disk, so later processes load it quickly).  Without numba (``pip install numba``) or with
``BRUSHWORK_FUSED=0`` the torch rasteriser is used.
"""

from __future__ import annotations

import functools
import os
import threading
from contextlib import contextmanager

import torch
from torch import Tensor


def enabled() -> bool:
    """True when the fused kernels can be used: numba importable and not switched off."""
    if os.environ.get("BRUSHWORK_FUSED", "1").lower() in ("0", "false", "no", "off"):
        return False
    return kernels() is not None


def usable(*tensors: Tensor) -> bool:
    """True when these tensors can go through the fused kernels (CPU, float32 / float64) and numba is
    there.  Under torch.compile tracing the torch path is used."""
    if not all(t.device.type == "cpu" and t.dtype in (torch.float32, torch.float64) for t in tensors):
        return False
    if torch.compiler.is_compiling():
        return False
    return enabled()


@functools.cache
def kernels():
    """The `fused_kernels` module (its numba kernels compile on their first call); None without numba."""
    try:
        from . import fused_kernels
    except ImportError:  # numba not installed
        return None
    return fused_kernels


# numba's default threading layer (workqueue) must not run parallel kernels from two Python threads at
# once (the web server paints in threads): parallel calls take this lock; with one thread per job the
# serial kernels run, concurrently, without it.
_PARALLEL = threading.Lock()


@contextmanager
def _launch(name: str):
    """The kernel to call now: the parallel one (under the lock, with numba's worker count following
    torch's intra-op threads: batch mode and the server set those per job), or the serial one."""
    k = kernels()
    n = torch.get_num_threads()
    if n <= 1:
        yield getattr(k, name + "_serial")
        return
    import numba

    with _PARALLEL:
        old = numba.get_num_threads()
        numba.set_num_threads(max(1, min(n, numba.config.NUMBA_NUM_THREADS)))
        try:
            yield getattr(k, name)
        finally:
            numba.set_num_threads(old)


class _FusedBezier(torch.autograd.Function):
    """alpha = f(g, px, py) by the numba kernels; g (N, 10) float64 geometry, px / py in the output's
    dtype (float32 or float64: numba compiles one version of each kernel per dtype)."""

    @staticmethod
    def forward(ctx, g, px, py):
        gd = g.detach().double().contiguous()
        px, py = px.detach().contiguous(), py.detach().contiguous()
        out = torch.empty(g.shape[0], py.shape[1], px.shape[1], dtype=px.dtype)
        live = torch.empty(out.shape, dtype=torch.uint8)
        if out.numel():
            with _launch("forward") as fwd:
                fwd(gd.numpy(), px.numpy(), py.numpy(), out.numpy(), live.numpy())
        ctx.save_for_backward(gd, px, py, live)
        ctx.dtype = g.dtype
        return out

    @staticmethod
    def backward(ctx, go):
        gd, px, py, live = ctx.saved_tensors
        gg = torch.zeros(gd.shape, dtype=torch.float64)
        if go.numel():
            with _launch("backward") as bwd:
                bwd(gd.numpy(), px.numpy(), py.numpy(), go.detach().to(px.dtype).contiguous().numpy(), live.numpy(),
                    gg.numpy())
        return gg.to(ctx.dtype), None, None


def bezier_alpha(p0: Tensor, p1: Tensor, p2: Tensor, r0: Tensor, r2: Tensor, a0: Tensor, a2: Tensor,
                 px: Tensor, py: Tensor) -> Tensor:
    """Soft alpha (N, h, w) of N Bezier strokes given their frame-pixel geometry (`Bezier.geometry`:
    control points (N, 2), radii and end opacities (N,)) at pixel centres px (N, 1, w), py (N, h, 1)."""
    g = torch.cat([p0, p1, p2, r0[:, None], r2[:, None], a0[:, None], a2[:, None]], 1)
    n, dtype = g.shape[0], torch.promote_types(g.dtype, px.dtype)  # the dtype torch's path would give
    pxe = px.expand(n, 1, px.shape[-1]).reshape(n, -1).to(dtype)
    pye = py.expand(n, py.shape[-2], 1).reshape(n, -1).to(dtype)
    return _FusedBezier.apply(g, pxe, pye)


def composite_in_order(canvas: Tensor, alphas: Tensor, offs: Tensor, hs: Tensor, ws: Tensor, y0: Tensor, x0: Tensor,
                       colors: Tensor) -> Tensor:
    """Paint N strokes in order over ``canvas`` (C, H, W) in place, each ``canvas (1 - a) + a c`` inside
    its window: ``alphas`` all windows' alphas, flat; stroke i's window (hs[i] x ws[i]) starts at
    alphas[offs[i]] and at canvas pixel (y0[i], x0[i]); colors (N, C).  Index tensors int64.  Returns
    the canvas under each window before its stroke, (C, len(alphas)), for `composite_in_order_backward`."""
    prev = torch.empty(canvas.shape[0], alphas.numel(), dtype=canvas.dtype)
    kernels().composite_forward(canvas.numpy(), alphas.numpy(), offs.numpy(), hs.numpy(), ws.numpy(), y0.numpy(),
                                x0.numpy(), colors.contiguous().numpy(), prev.numpy())
    return prev


def composite_in_order_backward(grad: Tensor, alphas: Tensor, offs: Tensor, hs: Tensor, ws: Tensor, y0: Tensor,
                                x0: Tensor, colors: Tensor, prev: Tensor) -> tuple[Tensor, Tensor]:
    """Reverse of `composite_in_order`: ``grad`` (C, H, W) dL/dcanvas after all strokes (overwritten)
    -> (dL/dalphas, flat like ``alphas``; dL/dcolors (N, C))."""
    galpha = torch.empty(alphas.numel(), dtype=grad.dtype)
    gcolor = torch.zeros(colors.shape, dtype=grad.dtype)
    kernels().composite_backward(grad.numpy(), alphas.numpy(), offs.numpy(), hs.numpy(), ws.numpy(), y0.numpy(),
                                 x0.numpy(), colors.contiguous().numpy(), prev.numpy(), galpha.numpy(), gcolor.numpy())
    return galpha, gcolor
