"""Neural stroke renderer (docs/method.md, "Renderers"): 10 shape numbers -> alpha map, FC stack + PixelShuffle.

The paper's model (``RendererConfig.paper()``) maps 10 numbers through FC 10-512-1024-2048-4096,
reshapes to 16 channels at 16x16, and upsamples three times with [conv3x3, ReLU, conv3x3,
PixelShuffle(2)] to one 128x128 channel: about 11.0 M parameters.  Other sizes add or remove
upsampling rounds (64 px = two rounds); ``width`` scales every layer.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import asdict, dataclass

import torch
from torch import Tensor, nn

from ..stroke.base import N_SHAPE


@dataclass(frozen=True)
class RendererConfig:
    """Architecture of a neural renderer; stored in every weights file."""

    shape: str = "bezier"  # stroke shape the renderer imitates
    size: int = 128  # output side in pixels (16 * 2**rounds)
    width: float = 1.0  # multiplies every layer's width (1.0 = paper)
    fc: tuple[int, ...] = (512, 1024, 2048)  # hidden FC widths before the 16x16 feature map (paper)
    channels: int = 16  # channels of the 16x16 feature map (paper)

    @staticmethod
    def paper() -> RendererConfig:
        return RendererConfig()

    @property
    def rounds(self) -> int:
        r = math.log2(self.size / 16)
        if self.size < 16 or r != int(r):
            raise ValueError(f"renderer size must be 16 * 2**k (16, 32, 64, 128, 256, ...), got {self.size}")
        return int(r)

    def to_dict(self) -> dict:
        d = asdict(self)
        d["fc"] = list(self.fc)
        return d

    @staticmethod
    def from_dict(d: dict) -> RendererConfig:
        d = dict(d)
        d["fc"] = tuple(d.get("fc", (512, 1024, 2048)))
        return RendererConfig(**d)


class NeuralRenderer(nn.Module):
    """(N, 10) stroke shape numbers in [0, 1] -> alpha (N, size, size) in [0, 1]."""

    def __init__(self, config: RendererConfig = RendererConfig()):
        super().__init__()
        self.config = config
        w = config.width
        c0 = max(4, int(round(config.channels * w)))
        dims = [10] + [max(8, int(round(h * w))) for h in config.fc] + [c0 * 16 * 16]
        fcs: list[nn.Module] = []
        for i in range(len(dims) - 1):
            fcs += [nn.Linear(dims[i], dims[i + 1]), nn.ReLU(inplace=True)]
        self.fc = nn.Sequential(*fcs)
        self.c0 = c0
        # Each round: conv (c -> 2c), ReLU, conv (2c -> 4c'), PixelShuffle(2) -> c' = c/2 channels.
        # The paper: 16 -> 32 -> 32 => 8; 8 -> 16 -> 16 => 4; 4 -> 8 -> 4 => 1.
        blocks: list[nn.Module] = []
        c = c0
        for i in range(config.rounds):
            last = i == config.rounds - 1
            out = 1 if last else max(1, c // 2)
            mid = 2 * c
            blocks += [
                nn.Conv2d(c, mid, 3, padding=1),
                nn.ReLU(inplace=True),
                nn.Conv2d(mid, 4 * out, 3, padding=1),
                nn.PixelShuffle(2),
            ]
            c = out
        self.conv = nn.Sequential(*blocks)

    def forward(self, x: Tensor) -> Tensor:
        x = self.fc(x[:, :N_SHAPE])
        x = x.view(-1, self.c0, 16, 16)
        return torch.sigmoid(self.conv(x))[:, 0]


def as_stroke_renderer(model: nn.Module, size: int | None = None) -> Callable[[Tensor], Tensor]:
    """The network as a stroke renderer: strokes (N, >= 10) -> alpha (N, size, size).  Only the shape
    numbers go in; with ``size`` other than the model's own the alpha is resized (bilinear, antialiased)."""
    own = getattr(getattr(model, "config", None), "size", None)
    if size is None or size == own:
        return lambda s: model(s[:, :N_SHAPE])
    return lambda s: torch.nn.functional.interpolate(model(s[:, :N_SHAPE])[:, None], size=(size, size), mode="bilinear",
                                                     align_corners=False, antialias=True)[:, 0]


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def load_renderer(name_or_path: str = "bezier", device: str | torch.device = "cpu", shape: str | None = None,
                  size: int | None = None) -> NeuralRenderer:
    """A frozen neural renderer from a shipped name ("bezier") or a .safetensors path.

    The file alone rebuilds the model (its config is in the metadata); shipped files are checked
    against their SHA-256.  ``shape`` / ``size``: what the caller will draw with it; a file made for
    another shape or output size is refused, naming both.  Raises `brushwork.io.weights.WeightsError`
    naming the file on any problem.
    """
    from ..io.weights import WeightsError, load_state_strict, load_weights, resolve

    path = resolve(name_or_path, "renderer")
    state, meta = load_weights(path, "renderer")
    config = RendererConfig.from_dict(meta["config"])
    if (shape is not None and config.shape != shape) or (size is not None and config.size != size):
        raise WeightsError(f"{path}: a {config.shape} renderer at {config.size} px, but a {shape or config.shape} renderer "
                           f"at {size or config.size} px was asked for")
    model = NeuralRenderer(config)
    load_state_strict(model, state, path)
    model.meta = meta
    return model.to(device).eval().requires_grad_(False)
