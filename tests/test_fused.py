"""The fused numba kernels of the Bezier soft rasteriser against the torch code they replace."""

import pytest
import torch

from brushwork.stroke import fused, get_shape
from brushwork.stroke.base import windows_from_boxes

pytestmark = pytest.mark.skipif(not fused.enabled(), reason="numba is not installed")


def _strokes(n, dtype, seed=0):
    g = torch.Generator().manual_seed(seed)
    s = torch.rand(n, 10, generator=g, dtype=dtype)
    s[:, 6:8] *= 0.15  # thin to medium strokes, so edges, ends and interiors all occur
    s[:, 8:10] = 0.3 + 0.7 * s[:, 8:10]
    return s


def _setup(n, side, dtype):
    shape = get_shape("bezier")
    s = _strokes(n, dtype)
    fr = torch.tensor([0.0, 0.0, float(side)], dtype=dtype).expand(n, 3).contiguous()
    nat = torch.full((n,), float(side), dtype=dtype)
    win = windows_from_boxes(shape.boxes(s, fr, nat), side, side)
    px, py = win.grids(dtype)
    return shape, s, fr, nat, px, py


def _alpha(shape, use_fused, s, fr, nat, px, py):
    shape.use_fused = use_fused
    try:
        return shape.soft_window(s, fr, nat, px, py)
    finally:
        shape.use_fused = True


@pytest.mark.parametrize("dtype,tol", [(torch.float64, 1e-7), (torch.float32, 1e-4)])
def test_forward_matches_torch(dtype, tol):
    shape, s, fr, nat, px, py = _setup(24, 96, dtype)
    a_t = _alpha(shape, False, s, fr, nat, px, py)
    a_f = _alpha(shape, True, s, fr, nat, px, py)
    assert a_f.dtype == a_t.dtype and a_f.shape == a_t.shape
    assert float(a_t.max()) > 0.5  # the strokes paint something in their windows
    assert float((a_f - a_t).abs().max()) < tol


@pytest.mark.slow
def test_backward_matches_autograd_and_finite_differences():
    shape, s, fr, nat, px, py = _setup(16, 64, torch.float64)
    w = torch.rand(16, py.shape[1], px.shape[2], generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    grads = {}
    for use in (False, True):
        z = s.clone().requires_grad_(True)
        (_alpha(shape, use, z, fr, nat, px, py) * w).sum().backward()
        grads[use] = z.grad
    assert grads[False].abs().sum() > 0
    assert torch.allclose(grads[True], grads[False], rtol=1e-6, atol=1e-8)
    # Finite differences of the fused forward, per stroke (the loss is a sum of per-stroke terms).  The
    # rasteriser is piecewise smooth (the best sample switches), so a few strokes may sit on a switch.
    eps = 1e-6
    for k in range(10):
        d = torch.zeros_like(s)
        d[:, k] = eps
        lp = (_alpha(shape, True, s + d, fr, nat, px, py) * w).sum((1, 2))
        lm = (_alpha(shape, True, s - d, fr, nat, px, py) * w).sum((1, 2))
        fd, an = (lp - lm) / (2 * eps), grads[True][:, k]
        ok = (fd - an).abs() <= 1e-4 * an.abs() + 1e-6
        assert ok.float().mean() >= 0.8, f"shape number {k}: {int((~ok).sum())} of {len(ok)} strokes off"


def test_fused_is_deterministic_and_off_switch(monkeypatch):
    shape, s, fr, nat, px, py = _setup(12, 64, torch.float32)
    a1 = _alpha(shape, True, s, fr, nat, px, py)
    a2 = _alpha(shape, True, s, fr, nat, px, py)
    assert torch.equal(a1, a2)
    monkeypatch.setenv("BRUSHWORK_FUSED", "0")
    assert not fused.usable(s, px)


@pytest.mark.slow
def test_concurrent_calls_from_python_threads():
    """The web server paints in threads: parallel kernels launched from two threads at once must not
    abort (numba's workqueue layer is not thread-safe; `fused` serialises them)."""
    import threading

    shape, s, fr, nat, px, py = _setup(32, 96, torch.float32)
    want = _alpha(shape, True, s, fr, nat, px, py)
    old = torch.get_num_threads()
    torch.set_num_threads(2)
    got, errors = [], []

    def work():
        try:
            for _ in range(5):
                z = s.clone().requires_grad_(True)
                a = shape.soft_window(z, fr, nat, px, py)
                a.sum().backward()
                got.append(a.detach())
        except Exception as e:  # reported below
            errors.append(e)

    try:
        threads = [threading.Thread(target=work) for _ in range(3)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    finally:
        torch.set_num_threads(old)
    assert not errors
    assert len(got) == 15 and all(torch.equal(g, want) for g in got)
