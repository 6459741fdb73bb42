"""Metrics: SSIM computed in bands equals the whole-image computation."""
import pytest
import torch

from brushwork.metrics import ssim


def test_ssim_in_bands_is_the_whole_image_ssim():
    g = torch.Generator().manual_seed(0)
    a = torch.rand(3, 61, 47, generator=g)
    b = (a + 0.1 * torch.randn(3, 61, 47, generator=g)).clamp(0, 1)
    whole = ssim(a, b, band_pixels=1 << 30)
    for band in (1, 41, 300, 2000):  # one row per band up to a few bands
        assert float(ssim(a, b, band_pixels=band)) == pytest.approx(float(whole), abs=1e-6)
    assert float(ssim(a, a)) == pytest.approx(1.0, abs=1e-6)
    assert float(ssim(a, b)) < 0.99
    assert ssim(torch.stack([a, b]), torch.stack([b, b])).shape == (2,)

