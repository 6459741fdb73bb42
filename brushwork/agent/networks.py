"""Actor, critic and discriminator (docs/method.md, "Agent"), sizes configurable; the paper's are the defaults of
`NetConfig.paper()`.

* ResNet-18 topology whose every stage downsamples (stem conv stride 2, then four stages each starting
  with stride 2), global average pool, linear head.  The actor uses BatchNorm; the critic replaces it
  with weight-normalised convolutions and TReLU activations.
* Discriminator: five weight-normalised 5x5 stride-2 convolutions (6->16->32->64->128->1), TReLU
  after the first four, averaged to one score (PatchGAN-like; `patches` returns the map).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import Tensor, nn
from torch.nn.utils.parametrizations import weight_norm

from ..stroke.base import N_PARAMS, N_SHAPE
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


NORMS = ("batch", "group")


def norm_layer(c: int, wn: bool, norm: str = "batch") -> nn.Module:
    """The normalisation after a convolution: none with weight norm (the critic), else BatchNorm (the
    paper's actor) or GroupNorm (``norm="group"``: no batch statistics, so train and eval mode paint
    alike whatever the batch mixes; see docs/training.md)."""
    if wn:
        return nn.Identity()
    if norm == "group":
        return nn.GroupNorm(min(8, c), c)
    if norm != "batch":
        raise ValueError(f"norm must be one of {', '.join(NORMS)}, got {norm!r}")
    return nn.BatchNorm2d(c)


class Block(nn.Module):
    """ResNet basic block; BatchNorm (or GroupNorm) + ReLU, or (wn=True) weight norm + TReLU."""

    def __init__(self, cin: int, cout: int, stride: int, wn: bool, norm: str = "batch"):
        super().__init__()
        self.c1 = conv(cin, cout, 3, stride, wn)
        self.c2 = conv(cout, cout, 3, 1, wn)
        self.n1 = norm_layer(cout, wn, norm)
        self.n2 = norm_layer(cout, wn, norm)
        self.a1 = TReLU() if wn else nn.ReLU(inplace=True)
        self.a2 = TReLU() if wn else nn.ReLU(inplace=True)
        self.short: nn.Module = nn.Identity()
        if stride != 1 or cin != cout:
            self.short = nn.Sequential(conv(cin, cout, 1, stride, wn), norm_layer(cout, wn, norm))

    def forward(self, x: Tensor) -> Tensor:
        y = self.a1(self.n1(self.c1(x)))
        y = self.n2(self.c2(y))
        return self.a2(y + self.short(x))


class ResNet(nn.Module):
    """(B, cin, H, W) -> (B, out). Every stage halves the resolution: H -> H/32 before pooling."""

    def __init__(self, cin: int, out: int, width: int = 64, blocks: tuple[int, ...] = (2, 2, 2, 2), wn: bool = False,
                 norm: str = "batch"):
        super().__init__()
        self.stem = nn.Sequential(conv(cin, width, 3, 2, wn), norm_layer(width, wn, norm),
                                  TReLU() if wn else nn.ReLU(inplace=True))
        layers, c = [], width
        for i, n in enumerate(blocks):
            cout = width * 2**i
            for j in range(n):
                layers.append(Block(c, cout, 2 if j == 0 else 1, wn, norm))
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
    norm: str = "batch"  # actor normalisation: batch (paper) or group

    @staticmethod
    def paper() -> NetConfig:
        return NetConfig()


# Shape numbers of a stroke centred at (x, y) (fractions of the frame) about ``r`` across, per shape;
# used by `Actor.spread_init`.  bezier: a short horizontal stroke, radius ~ r/2, opacity 0.8.
SPREAD_DEFAULTS = {
    "bezier": lambda x, y, r: [x - r / 2, y, 0.5, 0.5, x + r / 2, y, r, r, 0.8, 0.8],
    "bezier-opaque": lambda x, y, r: [x - r / 2, y, 0.5, 0.5, x + r / 2, y, r, r, 0.5, 0.5],
    "circle": lambda x, y, r: [x, y, r, 0.8, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5],
    "triangle": lambda x, y, r: [x - r / 2, y + r / 3, x + r / 2, y + r / 3, x, y - r / 2, 0.8, 0.5, 0.5, 0.5],
}


class Actor(nn.Module):
    """obs planes (B, 9, W, W) = canvas, target, t/T, coord x, coord y -> actions (B, k*13) in [0, 1]."""

    def __init__(self, cfg: NetConfig):
        super().__init__()
        self.cfg = cfg
        self.net = ResNet(9, cfg.bundle * cfg.params, cfg.width, cfg.blocks, wn=False, norm=cfg.norm)

    def spread_init(self, shape: str = "bezier", gain: float = 0.1) -> Actor:
        """Start the k strokes of a step spread over the canvas at moderate size instead of all at the
        centre (sigmoid(0) = 0.5 for every number): the head's bias places stroke j on a quincunx /
        grid position, short, fairly opaque, mid-grey; the weights of its shape numbers are scaled by
        ``gain`` so that the image first only nudges these positions (colours keep the usual init).
        Why: docs/training.md ("Collapse")."""
        k, p = self.cfg.bundle, self.cfg.params
        n = math.ceil(math.sqrt(k))
        pos = [((i % n + 0.5) / n, (i // n + 0.5) / n) for i in range(k)]
        if k == 5:
            pos = [(0.25, 0.25), (0.75, 0.25), (0.25, 0.75), (0.75, 0.75), (0.5, 0.5)]
        bias = torch.full((k, p), 0.5)
        for j, (x, y) in enumerate(pos):
            bias[j, :N_SHAPE] = torch.tensor(SPREAD_DEFAULTS.get(shape, SPREAD_DEFAULTS["bezier"])(x, y, 0.5 / n))
        bias = bias.clamp(0.02, 0.98)
        head = self.net.head
        with torch.no_grad():
            # Only the shape numbers start damped: the colours must follow the image from the start.
            w = head.weight.view(k, p, -1)
            w[:, :N_SHAPE].mul_(gain)
            head.bias.copy_((torch.log(bias) - torch.log1p(-bias)).view(-1))
        return self

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
