"""What every stroke shape shares: the 13-number layout, validation, frames and windowed soft rendering.

A stroke is 13 numbers in [0, 1]: 10 shape numbers (their meaning depends on the shape) followed by
R, G, B.  Only the shape numbers define the alpha map; colour is applied by `brushwork.stroke.canvas`.

Strokes are placed on a canvas through a *frame*: a square box ``(ox, oy, side)`` in canvas pixels
(float).  A stroke's coordinates are fractions of its frame, so the same stroke vector can be drawn on
a 128-px training canvas, on one tile of a 4096-px painting, or re-rendered at another size.  The
default frame of a square canvas of side W is ``(0, 0, W)``.

The frame side also sets the smallest brush: radii follow the reference rasteriser at a canvas of side
``native`` pixels (default: the frame side), scaled to the frame.  Keeping ``native`` fixed when a
painting is re-rendered larger makes thin strokes scale with it instead of staying 0.5 px wide.
"""

from __future__ import annotations

import copy
import warnings
from abc import ABC, abstractmethod
from dataclasses import dataclass

import torch
from torch import Tensor
from torch.utils.checkpoint import checkpoint

N_SHAPE = 10  # numbers that define the alpha map
N_PARAMS = 13  # plus R, G, B
COLOR = slice(N_SHAPE, N_PARAMS)  # strokes[:, COLOR]: the R, G, B columns
COLOR_NAMES = ("R", "G", "B")


def hex_color(rgb) -> str:
    """"#rrggbb" for three numbers in [0, 1] (a stroke's colour or a background's)."""
    r, g, b = (round(255 * min(max(float(c), 0.0), 1.0)) for c in rgb)
    return f"#{r:02x}{g:02x}{b:02x}"

# Soft edges: a pixel half inside an edge gets alpha 0.5, the ramp is one pixel wide. This is what
# box-filtering a hard edge gives, which is what the reference's 2x2 supersampling approximates.
EDGE = 1.0
# Fixed curve samples of the soft Bezier rasteriser (brackets for its refinement: bezier.py).  Here, not
# in bezier.py, because the fused kernels (fused_kernels.py) compile it in as a constant.
SAMPLES_SOFT = 6


def validate(strokes: Tensor, names: tuple[str, ...], what: str = "stroke") -> Tensor:
    """Check a (N, >=10) tensor of stroke parameters; raise ValueError naming the bad parameter.

    Values must be finite and in [0, 1]. Returns ``strokes`` unchanged (no clamping: a value outside
    the range is a bug upstream, and silently clamping would hide it).
    """
    if strokes.dim() != 2 or strokes.shape[1] < N_SHAPE:
        raise ValueError(f"{what} parameters must have shape (N, {N_SHAPE}) or (N, {N_PARAMS}), got {tuple(strokes.shape)}")
    with torch.no_grad():
        bad_nan = ~torch.isfinite(strokes)
        bad_range = (strokes < 0) | (strokes > 1)
        for mask, why in ((bad_nan, "is not finite"), (bad_range, "is outside [0, 1]")):
            if bool(mask.any()):
                n, j = (int(v) for v in mask.nonzero()[0])
                name = names[j] if j < len(names) else f"#{j}"
                raise ValueError(f"{what} {n}: parameter {name!r} (index {j}) {why}: {float(strokes[n, j])}")
    return strokes


def default_frames(n: int, size: int, device=None) -> Tensor:
    """(n, 3) frames ``(ox, oy, side)`` that cover a square canvas of side ``size``."""
    return torch.tensor([0.0, 0.0, float(size)], device=device).expand(n, 3).contiguous()


@dataclass
class Windows:
    """Per-stroke pixel windows: stroke n is evaluated on rows ``y0[n] + arange(h)`` and columns
    ``x0[n] + arange(w)`` (integer pixel indices; pixel k covers [k, k+1), its centre is k + 0.5)."""

    x0: Tensor  # (N,) long
    y0: Tensor  # (N,) long
    h: int
    w: int

    def grids(self, dtype=torch.float32) -> tuple[Tensor, Tensor]:
        """Pixel-centre coordinates: px (N, 1, w) and py (N, h, 1)."""
        dev = self.x0.device
        px = (self.x0[:, None] + torch.arange(self.w, device=dev)).to(dtype) + 0.5
        py = (self.y0[:, None] + torch.arange(self.h, device=dev)).to(dtype) + 0.5
        return px[:, None, :], py[:, :, None]


def windows_from_boxes(boxes: Tensor, height: int, width: int) -> Windows:
    """Windows covering float pixel boxes (N, 4) = (xmin, ymin, xmax, ymax), clipped to the canvas."""
    with torch.no_grad():
        x0 = boxes[:, 0].floor().clamp(0, width - 1).long()
        y0 = boxes[:, 1].floor().clamp(0, height - 1).long()
        x1 = boxes[:, 2].ceil().clamp(1, width).long()
        y1 = boxes[:, 3].ceil().clamp(1, height).long()
        w = int((x1 - x0).clamp(min=1).max()) if len(boxes) else 1
        h = int((y1 - y0).clamp(min=1).max()) if len(boxes) else 1
        # Shift windows that would run off the far edge back inside, so every window is in bounds.
        x0 = torch.minimum(x0, torch.full_like(x0, max(width - w, 0)))
        y0 = torch.minimum(y0, torch.full_like(y0, max(height - h, 0)))
    return Windows(x0, y0, min(h, height), min(w, width))


def place(win: Tensor, windows: Windows, height: int, width: int) -> Tensor:
    """Scatter window maps (N, h, w) into full canvases (N, height, width), zeros elsewhere.
    Differentiable in ``win``."""
    n, h, w = win.shape
    if h == height and w == width:
        return win
    dev = win.device
    rows = windows.y0[:, None] + torch.arange(h, device=dev)  # (N, h)
    cols = windows.x0[:, None] + torch.arange(w, device=dev)  # (N, w)
    flat = (rows[:, :, None] * width + cols[:, None, :]).reshape(n, -1)
    out = win.new_zeros(n, height * width)
    return out.scatter(1, flat, win.reshape(n, -1)).view(n, height, width)


def box_areas(boxes: Tensor, height: int, width: int) -> Tensor:
    """Pixel areas (N,) of float boxes (N, 4) clipped to the canvas (at least 1)."""
    with torch.no_grad():
        return (boxes[:, 2] - boxes[:, 0]).clamp(1, width) * (boxes[:, 3] - boxes[:, 1]).clamp(1, height)


def area_chunks(boxes: Tensor, height: int, width: int, budget: int):
    """Yield index tensors that group strokes of similar box size: strokes sorted by box area, each
    chunk's common window (as large as its largest member's box) times its size under ``budget``."""
    area = box_areas(boxes, height, width)
    order = torch.argsort(area)
    areas = area[order].tolist()
    start, n = 0, len(areas)
    while start < n:
        end = start + 1
        while end < n and (end + 1 - start) * (areas[end] + 1) <= budget:
            end += 1
        yield order[start:end]
        start = end


def render_windowed(boxes: Tensor, height: int, width: int, draw, budget: int) -> Tensor:
    """Render N strokes (N, height, width) evaluating each only inside its bounding box.

    boxes: (N, 4) float pixel boxes.  ``draw(idx, windows) -> (n, h, w)`` renders the strokes ``idx``
    on their windows, chunked by `area_chunks`.
    """
    maps, idxs = [], []
    for idx in area_chunks(boxes, height, width, budget):
        win = windows_from_boxes(boxes[idx], height, width)
        maps.append(place(draw(idx, win), win, height, width))
        idxs.append(idx)
    full = torch.cat(maps) if len(maps) > 1 else maps[0]
    return full[torch.argsort(torch.cat(idxs))]


class Shape(ABC):
    """A stroke shape: parameter names, exact reference rasteriser, soft rasteriser, SVG element."""

    name: str = ""
    #: names of the 10 shape numbers, in order (unused slots are named "unused*")
    params: tuple[str, ...] = ()
    #: (x, y) index pairs among the shape numbers; swapping them transposes the reference's alpha map
    #: exactly (used to double the renderer's training data for free)
    xy_pairs: tuple[tuple[int, int], ...] = ()
    #: recompute each chunk's intermediates in backward instead of keeping them (memory bounded) when
    #: a call evaluates more than this many window pixels (about 400 bytes each are kept otherwise);
    #: below it, keeping them saves the recomputation (a sizeable share of forward + backward)
    checkpoint_chunks: bool = True
    checkpoint_above: int = 2_000_000
    #: per-call chunking of the soft rasteriser: at most this many window pixels x strokes at once
    chunk_pixels: int = 1 << 15
    #: the shape has a fused CPU kernel (stroke/fused.py) and uses it when numba is there
    use_fused: bool = False

    @property
    def names(self) -> tuple[str, ...]:
        return self.params + COLOR_NAMES

    @property
    def used(self) -> tuple[int, ...]:
        """Indices of the shape numbers this shape actually reads."""
        return tuple(i for i, n in enumerate(self.params) if not n.startswith("unused"))

    def transpose(self, strokes: Tensor) -> Tensor:
        """Strokes whose alpha maps are the transposes of ``strokes``' (x and y swapped)."""
        out = strokes.clone()
        for i, j in self.xy_pairs:
            out[:, i], out[:, j] = strokes[:, j], strokes[:, i]
        return out

    def validate(self, strokes: Tensor) -> Tensor:
        return validate(strokes, self.names)

    def compiled(self) -> Shape:
        """A copy whose soft rasteriser is compiled with torch.compile (inductor: fused C++ loops on
        CPU, Triton on CUDA).  The first calls compile (slow; new window sizes may trigger a recompile),
        after which forward and backward are much faster on CPU (docs/benchmarks/rasteriser.md).
        If compilation fails (no C++ compiler, unsupported platform) it warns once and stays eager."""
        shape = copy.copy(self)
        # Compiled kernels keep few intermediates, and activation checkpointing around a compiled
        # function is not supported by torch (it asserts in backward): no checkpointing here.
        shape.checkpoint_chunks = False
        fast = torch.compile(type(self).soft_window, dynamic=True)
        ok = [True]

        def soft_window(*args):
            if ok[0]:
                try:
                    return fast(shape, *args)
                except Exception as e:  # inductor raises many types; eager is always correct
                    warnings.warn(f"torch.compile of the {self.name} rasteriser failed ({type(e).__name__}); "
                                  "using eager mode", stacklevel=2)
                    ok[0] = False
            return type(self).soft_window(shape, *args)

        shape.soft_window = soft_window  # type: ignore[method-assign]
        return shape

    # --- exact reference -------------------------------------------------------------------
    @abstractmethod
    def reference(self, strokes: Tensor, size: int) -> Tensor:
        """Exact, non-differentiable rasteriser: (N, >=10) -> alpha (N, size, size) float32 in [0, 1]."""

    # --- soft, differentiable --------------------------------------------------------------
    @abstractmethod
    def boxes(self, strokes: Tensor, frames: Tensor, native: Tensor) -> Tensor:
        """Float pixel bounding boxes (N, 4) = (xmin, ymin, xmax, ymax) of each stroke's soft alpha."""

    @abstractmethod
    def soft_window(self, strokes: Tensor, frames: Tensor, native: Tensor, px: Tensor, py: Tensor) -> Tensor:
        """Soft alpha of N strokes at pixel centres px (N, 1, w), py (N, h, 1) -> (N, h, w)."""

    def soft(
        self,
        strokes: Tensor,
        height: int,
        width: int | None = None,
        frames: Tensor | None = None,
        native: Tensor | float | None = None,
        validate: bool = True,
        clips: Tensor | None = None,
    ) -> Tensor:
        """Differentiable alpha maps (N, height, width) of N strokes.

        frames: (N, 3) ``(ox, oy, side)`` in pixels; default: the square ``(0, 0, height)``.
        native: canvas side (px) whose brush sizes the strokes use; default: each frame's side.
        clips: optional (N, 4) pixel rectangles ``(x0, y0, x1, y1)``; alpha is zero outside them.
        Only each stroke's bounding box is evaluated, so cost follows stroke area.
        """
        width = height if width is None else width
        if validate:
            self.validate(strokes)
        n = strokes.shape[0]
        if frames is None:
            frames = default_frames(n, min(height, width), strokes.device)
        frames = frames.to(strokes.dtype)
        native = self._native(native, frames)
        if n == 0:
            return strokes.new_zeros(0, height, width)
        boxes = self.boxes(strokes, frames, native)

        # Under autograd, each chunk's many per-pixel intermediates would stay alive until backward
        # (hundreds of MB for a few dozen large strokes): recompute them in backward instead.
        grad = (self.checkpoint_chunks and torch.is_grad_enabled() and strokes.requires_grad
                and float(box_areas(boxes, height, width).sum()) > self.checkpoint_above)

        def draw(idx: Tensor, win: Windows) -> Tensor:
            px, py = win.grids(strokes.dtype)
            if grad:
                alpha = checkpoint(self.soft_window, strokes[idx], frames[idx], native[idx], px, py, use_reentrant=False)
            else:
                alpha = self.soft_window(strokes[idx], frames[idx], native[idx], px, py)
            return alpha if clips is None else alpha * clip_mask(clips[idx], px, py)

        return render_windowed(boxes, height, width, draw, self.chunk_pixels)

    @staticmethod
    def _native(native, frames: Tensor) -> Tensor:
        if native is None:
            return frames[:, 2]
        if isinstance(native, Tensor):
            return native.to(frames).expand(frames.shape[0])
        return torch.full((frames.shape[0],), float(native), dtype=frames.dtype, device=frames.device)

    # --- seeding for optimisation --------------------------------------------------------------
    @abstractmethod
    def place(self, cx: Tensor, cy: Tensor, length: Tensor, angle: Tensor, side: float) -> Tensor:
        """Shape numbers (n, 10) of opaque strokes centred at (cx, cy) px, about ``length`` px long
        along ``angle`` (radians), in a frame of side ``side`` px at the origin; used to seed
        stroke optimisation.  Values are clamped to [0.01, 0.99]."""

    # --- the web page's live view ---------------------------------------------------------
    #: JavaScript drawing one stroke on the page's canvas: a function expression ``(ctx, d) => ...``
    #: where ``d`` holds the stroke's `live_primitives` row, then R, G, B (0..255).  It may call the
    #: page's helpers ``rgb(R, G, B)`` and ``rgba(R, G, B, a)``.  Empty: the page shows the final PNG only.
    live_js: str = ""

    def live_primitives(self, strokes: Tensor, frames: Tensor, native: Tensor) -> Tensor | None:
        """(N, P) numbers in output pixels that `live_js` draws each stroke from (float64 in, float64
        out); None when the shape has no live drawing."""
        return None

    # --- vector output ---------------------------------------------------------------------
    @abstractmethod
    def svg(
        self, stroke: list[float], frame: tuple[float, float, float], native: float, fill: str, uid: str = ""
    ) -> str:
        """One SVG element (string) drawing the stroke's geometry in canvas pixels, coloured ``fill``
        (a CSS colour), with the stroke's opacity.  ``uid``: a prefix, unique per stroke in the
        document, from which the element builds the ids it needs (masks, gradients)."""

    def __repr__(self) -> str:  # pragma: no cover - cosmetic
        return f"<shape {self.name}>"


def clip_mask(clips: Tensor, px: Tensor, py: Tensor) -> Tensor:
    """(N, h, w) 1 where pixel centres px (N, 1, w), py (N, h, 1) lie inside clips (N, 4) = (x0, y0, x1, y1)."""
    c = clips.to(px.dtype)[:, :, None, None]
    inx = (px >= c[:, 0]) & (px < c[:, 2])
    iny = (py >= c[:, 1]) & (py < c[:, 3])
    return (inx & iny).to(px.dtype)


def downsample2(canvas: Tensor) -> Tensor:
    """2x2 box average (N, 2W, 2W) -> (N, W, W): the reference's final step."""
    n, h, w = canvas.shape
    return canvas.view(n, h // 2, 2, w // 2, 2).mean(dim=(2, 4))


def ramp(x: Tensor) -> Tensor:
    """Coverage of a pixel whose centre is ``x`` pixels inside an edge: 0 outside, 1 inside, linear
    over one pixel. Its gradient is non-zero on the edge only, like a real rasteriser's."""
    return (x / EDGE + 0.5).clamp(0.0, 1.0)
