"""Actor, critic and discriminator (docs/method.md, "Agent"), sizes configurable; the paper's are the defaults of
`NetConfig.paper()`.

* ResNet-18 topology whose every stage downsamples (stem conv stride 2, then four stages each starting
  with stride 2), global average pool, linear head.  The actor uses BatchNorm; the critic replaces it
  with weight-normalised convolutions and TReLU activations.
* Discriminator: five weight-normalised 5x5 stride-2 convolutions (6->16->32->64->128->1), TReLU
  after the first four, averaged to one score (PatchGAN-like; `patches` returns the map).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor, nn
from torch.nn.utils.parametrizations import weight_norm

from ..stroke.base import N_PARAMS
from ..stroke.canvas import coord_planes


class TReLU(nn.Module):
    """ReLU(x - alpha) + alpha with one learnable threshold alpha (init 0)."""

    def __init__(self) -> None:
        super().__init__()
        self.alpha = nn.Parameter(torch.zeros(1))

    def forward(self, x: Tensor) -> Tensor:
        return torch.relu(x - self.alpha) + self.alpha


def conv(cin: int, cout: int, k: int, stride: int, wn: bool, bias: bool | None = None) -> nn.Module:
    c = nn.Conv2d(cin, cout, k, stride, k // 2, bias=wn if bias is None else bias)
    return weight_norm(c) if wn else c


class Block(nn.Module):
    """ResNet basic block; BatchNorm + ReLU, or (wn=True) weight norm + TReLU."""

    def __init__(self, cin: int, cout: int, stride: int, wn: bool):
        super().__init__()
        self.c1 = conv(cin, cout, 3, stride, wn)
        self.c2 = conv(cout, cout, 3, 1, wn)
        self.n1 = nn.Identity() if wn else nn.BatchNorm2d(cout)
        self.n2 = nn.Identity() if wn else nn.BatchNorm2d(cout)
        self.a1 = TReLU() if wn else nn.ReLU(inplace=True)
        self.a2 = TReLU() if wn else nn.ReLU(inplace=True)
        self.short: nn.Module = nn.Identity()
        if stride != 1 or cin != cout:
            self.short = nn.Sequential(conv(cin, cout, 1, stride, wn), nn.Identity() if wn else nn.BatchNorm2d(cout))

    def forward(self, x: Tensor) -> Tensor:
        y = self.a1(self.n1(self.c1(x)))
        y = self.n2(self.c2(y))
        return self.a2(y + self.short(x))


class ResNet(nn.Module):
    """(B, cin, H, W) -> (B, out). Every stage halves the resolution: H -> H/32 before pooling."""

    def __init__(self, cin: int, out: int, width: int = 64, blocks: tuple[int, ...] = (2, 2, 2, 2), wn: bool = False):
        super().__init__()
        self.stem = nn.Sequential(conv(cin, width, 3, 2, wn), nn.Identity() if wn else nn.BatchNorm2d(width),
                                  TReLU() if wn else nn.ReLU(inplace=True))
        layers, c = [], width
        for i, n in enumerate(blocks):
            cout = width * 2**i
            for j in range(n):
                layers.append(Block(c, cout, 2 if j == 0 else 1, wn))
                c = cout
        self.stages = nn.Sequential(*layers)
        self.head = nn.Linear(c, out)
        self.features = c

    def trunk(self, x: Tensor) -> Tensor:
        return self.stages(self.stem(x))

    def forward(self, x: Tensor) -> Tensor:
        return self.head(self.trunk(x).mean(dim=(2, 3)))



def observation_planes(canvas: Tensor, target: Tensor, t: Tensor, steps: int) -> Tensor:
    """Actor input (B, 9, W, W): canvas, target (float [0, 1]), t/T plane, CoordConv x, y."""
    b, _, h, w = canvas.shape
    tp = (t.to(canvas.dtype) / steps).view(b, 1, 1, 1).expand(b, 1, h, w)
    return torch.cat([canvas, target, tp, coord_planes(b, h, w, canvas.device, canvas.dtype)], 1)

@dataclass(frozen=True)
class NetConfig:
    width: int = 64  # channels of the first stage (paper 64)
    blocks: tuple[int, ...] = (2, 2, 2, 2)  # ResNet-18
    bundle: int = 5  # strokes per action (k)
    params: int = N_PARAMS  # numbers per stroke

    @staticmethod
    def paper() -> NetConfig:
        return NetConfig()


class Actor(nn.Module):
    """obs planes (B, 9, W, W) = canvas, target, t/T, coord x, coord y -> actions (B, k*13) in [0, 1]."""

    def __init__(self, cfg: NetConfig):
        super().__init__()
        self.cfg = cfg
        self.net = ResNet(9, cfg.bundle * cfg.params, cfg.width, cfg.blocks, wn=False)

    def forward(self, planes: Tensor) -> Tensor:
        return torch.sigmoid(self.net(planes))


class Critic(nn.Module):
    """Model-based value V(C_t, C_t+1, target, (t+1)/T, coords): (B, 12, W, W) -> (B,)."""

    def __init__(self, cfg: NetConfig, cin: int = 12, patch: bool = False):
        super().__init__()
        self.patch = patch
        self.net = ResNet(cin, 1, cfg.width, cfg.blocks, wn=True)
        if patch:
            self.patch_head = weight_norm(nn.Conv2d(self.net.features, 1, 1))

    def forward(self, planes: Tensor) -> Tensor:
        if self.patch:  # model-free baseline: one Q per image patch (B, h, w)
            return self.patch_head(self.net.trunk(planes))[:, 0]
        return self.net(planes)[:, 0]


class Discriminator(nn.Module):
    """WGAN critic on (target, canvas) pairs: (B, 6, W, W) -> score (B,); `patches` -> (B, h, w)."""

    def __init__(self, widths: tuple[int, ...] = (16, 32, 64, 128)):
        super().__init__()
        layers: list[nn.Module] = []
        c = 6
        for w in widths:
            layers += [conv(c, w, 5, 2, wn=True), TReLU()]
            c = w
        layers.append(conv(c, 1, 5, 2, wn=True))
        self.net = nn.Sequential(*layers)

    def patches(self, x: Tensor) -> Tensor:
        return self.net(x)[:, 0]

    def forward(self, x: Tensor) -> Tensor:
        return self.patches(x).mean(dim=(1, 2))


def count_parameters(m: nn.Module) -> int:
    return sum(p.numel() for p in m.parameters())
