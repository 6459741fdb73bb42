"""What every medium shares: the `Medium` contract and the windowed, in-order stroke loop of the textured ones.

A medium is how a stroke meets the canvas.  The strokes are the same 13 numbers whatever the medium;
the medium decides what each stroke leaves on the canvas (coverage, colour, height, pigment) and what
happens once all strokes are down (lighting, paper).  Rendering goes through a `Session`:

    session = medium.session(shape, height, width, background, native)
    session.paint(strokes, frames, clips)     # any number of times, strokes in order
    image = session.image()                   # (C, H, W) finished image; painting may continue after

Textured media (`TexturedMedium`) take each stroke's soft alpha from the shape's own rasteriser (so the
stroke's outline is the flat stroke's), give every pixel under it stroke-local coordinates (along the
curve and across it, `textures.local_coords`) and run one numba kernel per block of strokes that
composites them in order with the medium's texture.  They need strokes with a centre curve: the
Bezier shapes.
"""

from __future__ import annotations

import re
from abc import ABC, abstractmethod

import numpy as np
import torch
from torch import Tensor

from ..stroke import Shape, get_shape
from ..stroke.bezier import Bezier
from ..stroke.canvas import Background, alpha_blocks, stroke_colors
from .textures import fbm_map, texel_unit

SEED = 20261208  # the media's fixed seed: the same strokes always give the same texture


class Session(ABC):
    """One canvas being painted in one medium."""

    def __init__(self, medium: Medium, shape: Shape, height: int, width: int, background: Background,
                 native: Tensor | float | None):
        self.medium, self.shape, self.height, self.width = medium, shape, height, width
        self.background, self.native = background, native
        self.canvas = background.canvas(height, width)
        self.count = 0  # strokes painted so far: stroke i's texture is seeded by i

    @abstractmethod
    def paint(self, strokes: Tensor, frames: Tensor, clips: Tensor | None = None) -> None:
        """Paint strokes (N, 13) through frames (N, 3) (canvas px) after those painted so far."""

    @abstractmethod
    def image(self) -> Tensor:
        """The finished image (C, H, W) of what is painted so far."""


class Medium(ABC):
    """A medium: a name, one line on what it looks like, and the `Session` that renders it."""

    name: str = ""
    summary: str = ""
    #: the medium renders on a transparent canvas (paint only, no ground texture)
    transparent_ok: bool = True
    #: the medium needs strokes with a centre curve (stroke-local coordinates): the Bezier shapes
    needs_curve: bool = True
    #: the look's numbers (name -> value), handed to the kernel in this order; `get_medium(name, **params)`
    #: changes them
    params: dict[str, float] = {}

    def __init__(self, **params: float):
        unknown = set(params) - set(type(self).params)
        if unknown:
            raise ValueError(f"medium {self.name!r} has no parameter {', '.join(sorted(unknown))}; "
                             f"it has {', '.join(type(self).params)}")
        self.params = {**type(self).params, **params}

    def prm(self) -> np.ndarray:
        return np.array(list(self.params.values()), np.float64)

    def check(self, shape: str | Shape, background: Background | str) -> None:
        """Raise ValueError when this medium cannot render ``shape`` strokes on ``background``."""
        sh = get_shape(shape)
        if self.needs_curve and not isinstance(sh, Bezier):
            raise ValueError(f"medium {self.name!r} needs strokes with a direction (bezier, bezier-opaque); "
                             f"{sh.name} strokes have none: use --medium flat")
        if Background.parse(background).transparent and not self.transparent_ok:
            raise ValueError(f"medium {self.name!r} needs a ground to paint on, not a transparent background: "
                             "use --background white (or any colour), or --medium flat / oil")

    @abstractmethod
    def session(self, shape: str | Shape, height: int, width: int, background: Background,
                native: Tensor | float | None = None) -> Session:
        """A fresh canvas of ``height`` x ``width`` to paint ``shape`` strokes on."""

    # --- vector output (brushwork.painter.export.svg_document calls these) -----------------------------
    def svg_defs(self, width: int, height: int) -> str:
        """Shared SVG definitions (filters, patterns) of a ``width`` x ``height`` document; "" for none."""
        return ""

    def svg_group(self) -> str:
        """Attributes of the ``<g>`` holding every stroke (e.g. a filter); "" for no group (flat)."""
        return ""

    def svg_stroke(self, element: str, index: int, stroke: list[float], frame: tuple[float, float, float],
                   native: float, fill: str, uid: str) -> str:
        """Stroke ``index``'s SVG (``element``, the shape's own) as this medium draws it."""
        return element

    def svg_after(self, width: int, height: int) -> str:
        """Elements over all strokes (a canvas or paper texture); "" for none."""
        return ""

    # --- what the optimiser sees (brushwork.painter.optimize_windowed, --medium-aware) --------------------
    #: the medium changes what a stroke paints (False: flat, the optimiser's own look: nothing to see)
    textured: bool = False
    #: --medium-aware's default for this medium: the optimiser paints through it when that measured better
    #: than optimising for the flat look (docs/choices.md#media-aware)
    aware: bool = False

    def soft_paint(self, alpha: Tensor, geom: Tensor, px: Tensor, py: Tensor, maps: Tensor, seeds: Tensor,
                   unit: float, color: Tensor, under: Tensor) -> tuple[Tensor, Tensor]:
        """What N strokes paint in their windows, in torch and differentiable: (coverage (N, h, w), paint
        (N, C, h, w)); the stroke turns the canvas ``under`` into ``under (1 - coverage) + coverage paint``,
        as the medium's kernel does.  alpha (N, h, w): the shape's soft alphas at pixel centres px (N, 1, w),
        py (N, h, 1) (canvas px); geom (N, 11): `stroke_geometry`; maps (N, K, h, w): the medium's layers
        under the windows; seeds (N,) int64: the strokes' texture seeds (`texture_seeds`); unit: canvas px
        per texel; color (N, C); under (N, C, h, w).  Flat: the alpha and the colour."""
        return alpha, color[:, :, None, None].expand(under.shape)

    def soft_update(self, maps: Tensor, coverage: Tensor, alpha: Tensor) -> Tensor:
        """The medium's layers (N, K, h, w) under the windows after the strokes (pigment left on paper)."""
        return maps

    def render(self, shape: str | Shape, strokes: Tensor, frames: Tensor, height: int, width: int,
               background: Background, native: Tensor | float | None = None, clips: Tensor | None = None) -> Tensor:
        """All strokes painted in order and finished: (C, H, W) float in [0, 1]."""
        s = self.session(shape, height, width, background, native)
        s.paint(strokes, frames, clips)
        return s.image()

    def __repr__(self) -> str:  # pragma: no cover - cosmetic
        return f"<medium {self.name}>"


def stroke_geometry(shape: Shape, strokes: Tensor, frames: Tensor, native: Tensor) -> Tensor:
    """The kernels' per-stroke geometry (N, 11): P0, P1, P2 (x, y), r0, r2 in canvas px, canvas px per
    native px, opacities a0, a2 (differentiable in the strokes when they carry a graph)."""
    p0, p1, p2, r0, r2, a0, a2 = shape.geometry(strokes, frames, native)
    scale = (frames[:, 2] / native).to(p0.dtype)
    return torch.cat([p0, p1, p2, r0[:, None], r2[:, None], scale[:, None], a0[:, None], a2[:, None]], 1)


def texture_seeds(first: int, n: int) -> np.ndarray:
    """Texture seeds (n,) int64 of the strokes painted ``first`` .. ``first + n - 1`` in a painting: stroke
    i's texture is seeded by i."""
    return np.arange(first, first + n, dtype=np.int64) * 7919 + SEED


class TexturedSession(Session):
    """The textured media's loop: alpha windows from the shape, local coordinates, the medium's kernel."""

    def __init__(self, medium: TexturedMedium, shape, height, width, background, native):
        super().__init__(medium, shape, height, width, background, native)
        self.unit = texel_unit(height, width)
        self.maps = medium.maps(height, width, self.unit)  # (K, H, W) float32: the medium's own layers
        self.medium: TexturedMedium = medium

    @torch.no_grad()
    def paint(self, strokes: Tensor, frames: Tensor, clips: Tensor | None = None, budget: int = 1 << 22) -> None:
        shape = self.shape
        n = len(strokes)
        if n == 0:
            return
        strokes, frames = strokes.float(), frames.to(torch.float32)
        native = shape._native(self.native, frames)
        geom = stroke_geometry(shape, strokes.double(), frames.double(), native.double()).numpy()
        colors = stroke_colors(strokes, self.canvas.shape[0]).float().contiguous().numpy()
        canvas = self.canvas.numpy()
        clips = None if clips is None else clips.float()
        for i, j, alphas in alpha_blocks(shape, strokes, frames, native, self.height, self.width, clips, budget):
            flat, wins, offs, off = [], np.empty((j - i, 4), np.int64), np.empty(j - i, np.int64), 0
            for s_idx in range(i, j):
                a, y0, x0 = alphas.pop(s_idx)
                wins[s_idx - i] = (y0, x0, a.shape[0], a.shape[1])
                offs[s_idx - i] = off
                off += a.numel()
                flat.append(a.reshape(-1))
            alpha = torch.cat(flat).float().contiguous().numpy()
            seeds = texture_seeds(self.count + i, j - i)
            self.medium.kernel(canvas, self.maps, alpha, offs, wins, np.ascontiguousarray(geom[i:j]),
                               np.ascontiguousarray(colors[i:j]), seeds, self.unit, self.medium.prm())
        self.count += n

    def image(self) -> Tensor:
        return self.medium.finish(self.canvas, self.maps, self.unit, self.background)


class TexturedMedium(Medium):
    """A medium rendered by `TexturedSession`: its maps, its per-block kernel, its finishing step."""

    #: the medium's own canvas-sized layers (height, pigment, paper...), their count
    layers: int = 0
    textured = True

    def session(self, shape, height, width, background, native=None) -> Session:
        self.check(shape, background)
        return TexturedSession(self, get_shape(shape), height, width, Background.parse(background), native)

    def maps(self, height: int, width: int, unit: float) -> np.ndarray:
        """The medium's layers at the start of a painting, (layers, H, W) float32."""
        return np.zeros((self.layers, height, width), np.float32)

    def paper_maps(self, height: int, width: int, unit: float, texels: float, seed: int, contrast: float) -> np.ndarray:
        """`maps` for a medium on paper: layer 0 the paper's surface (fractal noise ``texels`` canvas units
        across, ``contrast`` around its mean, in [0, 1]), the other layers zero."""
        m = np.zeros((self.layers, height, width), np.float32)
        fbm_map(m[0], unit, texels, 3, seed)
        m[0] = np.clip((m[0] - 0.5) * contrast + 0.5, 0.0, 1.0)
        return m

    @staticmethod
    def paper_grain(canvas: Tensor, maps: np.ndarray, strength: float) -> Tensor:
        """``canvas`` with the paper (layer 0 of ``maps``) showing through as a grain of ``strength``."""
        return (canvas * (1.0 + strength * (torch.from_numpy(maps[0]) - 0.5))).clamp(0, 1)

    @abstractmethod
    def kernel(self, canvas: np.ndarray, maps: np.ndarray, alpha: np.ndarray, offs: np.ndarray, wins: np.ndarray,
               geom: np.ndarray, colors: np.ndarray, seeds: np.ndarray, unit: float, prm: np.ndarray) -> None:
        """Paint one block of strokes in order, in place.  canvas (C, H, W); alpha: the strokes' soft alphas,
        flat, stroke k's window (wins[k] = y0, x0, h, w) from alpha[offs[k]]; geom (n, 11): P0, P1, P2 (x, y),
        r0, r2 in canvas px, canvas px per native px, opacities a0, a2; colors (n, C); seeds (n,); prm: `params`' values."""

    @abstractmethod
    def finish(self, canvas: Tensor, maps: np.ndarray, unit: float, background: Background) -> Tensor:
        """The finished image (a new tensor) from the painted canvas and the medium's layers."""


def svg_path_id(element: str, fill: str, uid: str) -> tuple[str, str]:
    """(element with an id on its filled outline path, that id): the outline a medium's overlays clip to.
    The shape's element is either that path (with its id) or a group whose path is filled ``fill``."""
    m = re.search(r'<path( id="([^"]*)")? d="[^"]*" fill="' + re.escape(fill) + '"', element)
    if m is None:
        return element, ""
    if m.group(2):
        return element, m.group(2)
    pid = uid + "p"
    return element[: m.start()] + f'<path id="{pid}"' + element[m.start() + 5:], pid


def num(x: float) -> str:
    """A short SVG number."""
    return f"{x:.2f}".rstrip("0").rstrip(".")
