"""`Painting`: the result of painting an image — strokes, their frames, and everything to re-render them.

A painting is resolution-independent: strokes are 13 numbers in [0, 1] placed through square frames
``(ox, oy, side)`` in pixels of the painting's own ``width`` x ``height``; rendering at another size
scales the frames.  ``native`` is the canvas side the brush sizes refer to (see `brushwork.stroke`).
``medium`` is how the strokes meet the canvas (`brushwork.medium`: flat, oil, ...): the same strokes
render in any medium.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from ..io.images import check_side, to_uint8
from ..medium import DEFAULT as DEFAULT_MEDIUM
from ..medium import get_medium
from ..stroke import N_PARAMS, get_shape, hex_color
from ..stroke.canvas import Background

JSON_FORMAT = "brushwork-strokes"
JSON_VERSION = 1

#: The most strokes a stroke file may hold (far beyond any painting's budget: 20,000 at 4,096 px).
MAX_STROKES = 1_000_000
#: Bytes per stroke of a written stroke file at most (13 numbers of 6 decimals, a frame, a clip, brackets):
#: a file of B bytes holds at least B / this many strokes, known before parsing it.
MAX_JSON_BYTES_PER_STROKE = 256
#: Peak memory of `json.loads` and the tensors per byte of stroke file, with a margin over the measured
#: ratio (docs/choices.md#memory).
JSON_PARSE_BYTES_PER_BYTE = 10
#: The header (format, size, brush scale) comes first in a file `to_json` wrote: read this much of it.
HEADER_BYTES = 4096


def check_stroke_file(path: Path) -> None:
    """Refuse a stroke file before parsing it whole: too many strokes for its size, too large to parse in
    the memory available, or a width / height in its header outside what --width takes."""
    from ..device import available_memory

    size = path.stat().st_size
    if size // MAX_JSON_BYTES_PER_STROKE > MAX_STROKES:
        raise ValueError(f"{path}: {size / 1e6:,.0f} MB holds over {MAX_STROKES:,} strokes, the most a painting holds")
    need, avail = size * JSON_PARSE_BYTES_PER_BYTE, available_memory()
    if need > avail:
        raise ValueError(f"{path}: parsing this {size / 1e6:,.0f} MB stroke file needs ~{need / 2**30:.1f} GiB; "
                         f"{avail / 2**30:.1f} GiB is available")
    with open(path, "rb") as f:
        head = f.read(HEADER_BYTES).decode("utf-8", "replace")
    for side in ("width", "height"):
        m = re.search(rf'"{side}"\s*:\s*(-?[0-9.eE+]+)', head)
        if m:
            try:
                v = int(m.group(1))
            except ValueError:
                v = m.group(1)
            check_side(f"{path}: {side}", v)


@dataclass
class Painting:
    shape: str
    width: int
    height: int
    strokes: torch.Tensor  # (N, 13) in [0, 1]
    frames: torch.Tensor  # (N, 3) (ox, oy, side) in pixels of width x height
    native: float = 128.0
    background: Background = field(default_factory=Background)
    metrics: dict = field(default_factory=dict)
    clips: torch.Tensor | None = None  # optional (N, 4) (x0, y0, x1, y1) px: paint stays inside
    target: np.ndarray | None = None  # uint8 (H, W, 3) the painting was made from, if known
    rendered: np.ndarray | None = field(default=None, repr=False)  # the render at width x height, once made
    medium: str = DEFAULT_MEDIUM  # how the strokes meet the canvas (brushwork.medium)

    def __post_init__(self) -> None:
        self.strokes = self.strokes.detach().float().cpu()
        self.frames = self.frames.detach().float().cpu()
        if self.strokes.dim() != 2 or self.strokes.shape[1] != N_PARAMS:
            raise ValueError(f"strokes must be (N, {N_PARAMS}), got {tuple(self.strokes.shape)}")
        if self.frames.shape != (len(self.strokes), 3):
            raise ValueError(f"frames must be (N, 3) with N = {len(self.strokes)}, got {tuple(self.frames.shape)}")
        if self.clips is not None:
            self.clips = self.clips.detach().float().cpu()
            if self.clips.shape != (len(self.strokes), 4):
                raise ValueError(f"clips must be (N, 4) with N = {len(self.strokes)}, got {tuple(self.clips.shape)}")
        get_shape(self.shape).validate(self.strokes)
        get_medium(self.medium).check(self.shape, self.background)

    def __len__(self) -> int:
        return len(self.strokes)

    # --- rendering ----------------------------------------------------------------------------
    def scaled_frames(self, width: int, height: int) -> torch.Tensor:
        """Frames for rendering at width x height.  Positions scale per axis; sides by the geometric
        mean, so strokes keep their shape if the aspect ratio changes."""
        sx, sy = width / self.width, height / self.height
        return self.frames * torch.tensor([sx, sy, math.sqrt(sx * sy)])

    def scaled_clips(self, width: int, height: int) -> torch.Tensor | None:
        if self.clips is None:
            return None
        sx, sy = width / self.width, height / self.height
        return self.clips * torch.tensor([sx, sy, sx, sy])

    def _size(self, width: int | None, height: int | None) -> tuple[int, int]:
        if width is None and height is None:
            return self.width, self.height
        if height is None:
            height = max(1, round(self.height * width / self.width))
        if width is None:
            width = max(1, round(self.width * height / self.height))
        return int(width), int(height)

    def render_tensor(self, width: int | None = None, height: int | None = None, upto: int | None = None,
                      medium: str | None = None) -> torch.Tensor:
        """The painting as a float tensor (C, H, W) in [0, 1]; C = 4 with a transparent background.
        ``medium``: render in this medium instead of the painting's own."""
        width, height = self._size(width, height)
        n = len(self) if upto is None else upto
        clips = self.scaled_clips(width, height)
        session = get_medium(medium or self.medium).session(self.shape, height, width, self.background, self.native)
        session.paint(self.strokes[:n], self.scaled_frames(width, height)[:n], None if clips is None else clips[:n])
        return session.image()

    def render(self, width: int | None = None, height: int | None = None) -> np.ndarray:
        """uint8 (H, W, 3) or (H, W, 4) image of the painting."""
        if width is None and height is None and self.rendered is not None:
            return self.rendered
        img = to_uint8(self.render_tensor(width, height))
        if width is None and height is None:
            self.rendered = img
        return img

    @property
    def image(self) -> np.ndarray:
        return self.render()

    def iter_frames(self, count: int = 100, width: int | None = None, height: int | None = None) -> Iterator[np.ndarray]:
        """``count`` uint8 frames of the painting process (after evenly spaced stroke counts, the last
        being the finished painting), rendered one after another so none are kept in memory."""
        width, height = self._size(width, height)
        session = get_medium(self.medium).session(self.shape, height, width, self.background, self.native)
        frames = self.scaled_frames(width, height)
        clips = self.scaled_clips(width, height)
        count = max(1, min(count, max(len(self), 1)))
        done = 0
        for k in range(1, count + 1):
            upto = round(k * len(self) / count)
            if upto > done:
                session.paint(self.strokes[done:upto], frames[done:upto], None if clips is None else clips[done:upto])
                done = upto
            yield to_uint8(session.image())

    # --- files ------------------------------------------------------------------------------
    def to_json(self) -> dict:
        bg = "transparent" if self.background.transparent else hex_color(self.background.rgb)
        return {
            "format": JSON_FORMAT,
            "version": JSON_VERSION,
            "shape": self.shape,
            "width": self.width,
            "height": self.height,
            "native": self.native,
            "background": bg,
            "medium": self.medium,
            "params": list(get_shape(self.shape).names),
            "strokes": [[round(v, 6) for v in s] for s in self.strokes.tolist()],
            "frames": [[round(v, 4) for v in f] for f in self.frames.tolist()],
            "clips": None if self.clips is None else [[round(v, 4) for v in c] for c in self.clips.tolist()],
            "metrics": self.metrics,
        }

    @staticmethod
    def from_json(data: dict, source: str = "<json>") -> Painting:
        if data.get("format") != JSON_FORMAT:
            raise ValueError(f"{source}: not a brushwork stroke file (format={data.get('format')!r})")
        if int(data.get("version", 0)) > JSON_VERSION:
            raise ValueError(f"{source}: stroke file version {data['version']} is newer than this brushwork supports ({JSON_VERSION})")
        for side in ("width", "height"):
            v = data.get(side)
            if isinstance(v, float) and v.is_integer():
                v = int(v)
            check_side(f"{source}: {side}", v)
        if isinstance(data.get("strokes"), list) and len(data["strokes"]) > MAX_STROKES:
            raise ValueError(f"{source}: {len(data['strokes']):,} strokes; a painting holds at most {MAX_STROKES:,}")
        try:
            strokes = torch.tensor(data["strokes"], dtype=torch.float32).reshape(-1, N_PARAMS)
            frames = torch.tensor(data["frames"], dtype=torch.float32).reshape(-1, 3)
            clips = data.get("clips")
            clips = None if clips is None else torch.tensor(clips, dtype=torch.float32).reshape(-1, 4)
            medium = data.get("medium", DEFAULT_MEDIUM)
            try:
                get_medium(medium)
            except ValueError as e:
                raise ValueError(f"{source}: {e}") from None
            return Painting(
                shape=data["shape"], width=int(data["width"]), height=int(data["height"]), strokes=strokes,
                frames=frames, native=float(data.get("native", 128)), clips=clips,
                background=Background.parse(data.get("background", "black")), metrics=data.get("metrics", {}),
                medium=medium,
            )
        except (KeyError, TypeError, RuntimeError) as e:
            raise ValueError(f"{source}: malformed stroke file ({type(e).__name__}: {e})") from None

    @staticmethod
    def load(path: str | Path) -> Painting:
        """A painting from its JSON stroke file; a file too large to parse in the memory available, or
        holding more than `MAX_STROKES`, or of a size outside what --width takes, is refused before it is
        parsed whole."""
        path = Path(path)
        try:
            check_stroke_file(path)
            data = json.loads(path.read_text())
        except FileNotFoundError:
            raise ValueError(f"{path}: no such stroke file") from None
        except (json.JSONDecodeError, UnicodeDecodeError) as e:
            raise ValueError(f"{path}: not a JSON stroke file ({e})") from None
        return Painting.from_json(data, str(path))

    def save(self, path: str | Path) -> Path:
        """Save by extension: .png/.jpg/.webp image, .svg, .json strokes, .gif/.mp4/.webm process video."""
        from . import export

        return export.save(self, path)

