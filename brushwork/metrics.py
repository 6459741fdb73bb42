"""Image quality metrics on [0, 1] float images: MSE, PSNR, SSIM.

Images are (..., C, H, W) or (..., H, W) tensors; reductions are over the last 2 or 3 axes.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor


def mse(a: Tensor, b: Tensor) -> Tensor:
    """Mean squared error per image over (C, H, W) if 3+ dims else (H, W)."""
    dims = tuple(range(max(a.dim() - 3, 0), a.dim())) if a.dim() >= 3 else (-2, -1)
    return ((a.float() - b.float()) ** 2).mean(dim=dims)


def psnr_from_mse(m: Tensor | float) -> Tensor | float:
    if isinstance(m, Tensor):
        return 10 * torch.log10(1.0 / m.clamp(min=1e-10))
    return 10 * math.log10(1.0 / max(m, 1e-10))


def psnr(a: Tensor, b: Tensor) -> Tensor:
    """PSNR in dB per image (peak 1.0)."""
    return psnr_from_mse(mse(a, b))


def ssim(a: Tensor, b: Tensor, window: int = 7, band_pixels: int = 1 << 20) -> Tensor:
    """Mean SSIM per image with a uniform ``window``, as scikit-image's default (K1=0.01, K2=0.03,
    data range 1, sample covariance). a, b: (N, C, H, W) or (C, H, W) in [0, 1].

    Computed over bands of about ``band_pixels`` output pixels per channel (overlapping by
    ``window - 1`` rows): a dozen full-size temporaries of a large image at once would dominate a
    painting's peak memory (docs/choices.md#memory)."""
    squeeze = a.dim() == 3
    if squeeze:
        a, b = a[None], b[None]
    c, h, w = a.shape[1:]
    k = torch.ones(c, 1, window, window, device=a.device) / window**2
    rows = max(1, band_pixels // max(1, w - window + 1))
    total = torch.zeros(a.shape[0], dtype=torch.float64, device=a.device)
    for y in range(0, max(1, h - window + 1), rows):
        sa = a[:, :, y : y + rows + window - 1].float()
        sb = b[:, :, y : y + rows + window - 1].float()
        total += _ssim_map(sa, sb, k, window).sum(dim=(1, 2, 3), dtype=torch.float64)
    out = (total / (c * max(1, h - window + 1) * max(1, w - window + 1))).float()
    return out[0] if squeeze else out


def _ssim_map(a: Tensor, b: Tensor, k: Tensor, window: int) -> Tensor:
    """SSIM at every valid window position of a, b (N, C, h, w)."""
    f = lambda x: F.conv2d(x, k, groups=a.shape[1])  # noqa: E731  valid-mode box filter
    n = window * window
    cov = n / (n - 1)
    ua, ub = f(a), f(b)
    vaa = cov * (f(a * a) - ua * ua)
    vbb = cov * (f(b * b) - ub * ub)
    vab = cov * (f(a * b) - ua * ub)
    c1, c2 = 0.01**2, 0.03**2
    return ((2 * ua * ub + c1) * (2 * vab + c2)) / ((ua**2 + ub**2 + c1) * (vaa + vbb + c2))
