"""Writing paintings: PNG/JPEG/WebP images, SVG, JSON strokes, GIF/MP4/WebM process videos.

Every writer is atomic (a half-written file never replaces a good one) and picks the format from the
file extension.  Videos are streamed: frames are rendered one at a time straight into the encoder.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Protocol

from ..io.files import atomic_write
from ..io.images import ImageError, check_writable, save_image
from ..medium import get_medium
from ..stroke import COLOR, get_shape, hex_color
from ..stroke.canvas import Background


class Painting(Protocol):
    """What the writers read of a painting (`brushwork.painter.painting.Painting` is one; declared here
    so that this module needs no import of the class whose ``save()`` calls it)."""

    strokes: object  # (N, 13) tensor
    frames: object  # (N, 3) tensor, output px
    clips: object  # (N, 4) tensor or None
    native: float
    width: int
    height: int
    shape: str
    background: Background
    medium: str

    def render(self, *args, **kwargs): ...

    def to_json(self) -> dict: ...

    def iter_frames(self, *args, **kwargs): ...

IMAGE_EXT = (".png", ".jpg", ".jpeg", ".webp")
VIDEO_EXT = (".gif", ".mp4", ".webm")
ALL_EXT = IMAGE_EXT + VIDEO_EXT + (".svg", ".json")


def check_output(path: str | Path, kinds: tuple[str, ...] = ALL_EXT) -> Path:
    """Fail early (before painting) on an unknown extension or a missing / unwritable folder."""
    path = Path(path)
    ext = path.suffix.lower()
    if ext not in kinds:
        raise ImageError(f"{path}: unsupported output type {ext or '(none)'}; use one of {', '.join(kinds)}")
    parent = path.parent if str(path.parent) else Path(".")
    if not parent.is_dir():
        raise ImageError(f"{path}: output folder {parent} does not exist")
    if not os.access(parent, os.W_OK):
        raise ImageError(f"{path}: output folder {parent} is not writable")
    if ext in IMAGE_EXT:
        check_writable(path)
    return path


def save(painting: Painting, path: str | Path, **kw) -> Path:
    """Save by extension: image, .svg, .json or video (.gif/.mp4/.webm)."""
    path = check_output(path)
    ext = path.suffix.lower()
    if ext in IMAGE_EXT:
        return save_image(path, painting.render(**kw))
    if ext == ".svg":
        return write_svg(painting, path)
    if ext == ".json":
        return write_json(painting, path)
    return write_video(painting, path, **kw)


def write_json(painting: Painting, path: str | Path) -> Path:
    text = json.dumps(painting.to_json(), separators=(",", ":"))
    return atomic_write(path, lambda tmp: Path(tmp).write_text(text))


def svg_document(painting: Painting) -> str:
    """The painting as an SVG document whose elements are the strokes' own geometry, drawn in the painting's
    medium (`brushwork.medium.Medium.svg_defs` and the other svg hooks: textures as SVG patterns and filters)."""
    shape = get_shape(painting.shape)
    medium = get_medium(getattr(painting, "medium", "flat"))
    w, h = painting.width, painting.height
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" viewBox="0 0 {w} {h}">']
    defs = medium.svg_defs(w, h)
    if defs:
        parts.append(f"<defs>{defs}</defs>")
    if not painting.background.transparent:
        parts.append(f'<rect width="{w}" height="{h}" fill="{hex_color(painting.background.rgb)}"/>')
    clip_ids: dict[tuple, str] = {}
    if painting.clips is not None:
        parts.append("<defs>")
        for c in painting.clips.tolist():
            key = tuple(round(v, 3) for v in c)
            if key not in clip_ids:
                clip_ids[key] = f"clip{len(clip_ids)}"
                x0, y0, x1, y1 = key
                parts.append(f'<clipPath id="{clip_ids[key]}"><rect x="{x0}" y="{y0}" width="{x1 - x0}" height="{y1 - y0}"/></clipPath>')
        parts.append("</defs>")
    strokes, frames = painting.strokes.tolist(), painting.frames.tolist()
    clips = painting.clips.tolist() if painting.clips is not None else [None] * len(strokes)
    group = medium.svg_group()
    if group:
        parts.append(f"<g {group}>")
    for i, (s, f, c) in enumerate(zip(strokes, frames, clips)):
        fill = hex_color(s[COLOR])
        el = shape.svg(s, tuple(f), painting.native, fill, uid=f"s{i}")
        el = medium.svg_stroke(el, i, s, tuple(f), painting.native, fill, f"s{i}")
        if c is not None:
            el = f'<g clip-path="url(#{clip_ids[tuple(round(v, 3) for v in c)]})">{el}</g>'
        parts.append(el)
    if group:
        parts.append("</g>")
    after = medium.svg_after(w, h)
    if after:
        parts.append(after)
    parts.append("</svg>")
    return "\n".join(parts)


def write_svg(painting: Painting, path: str | Path) -> Path:
    text = svg_document(painting)
    return atomic_write(path, lambda tmp: Path(tmp).write_text(text))


def write_video(painting: Painting, path: str | Path, frames: int = 0, seconds: float = 0.0, hold: float = 1.5,
                size: int = 0) -> Path:
    """The painting process as GIF / MP4 (H.264) / WebM (VP9).

    frames: number of distinct frames (default: one per stroke up to 120); seconds: duration of the
    drawing (default 4 s), followed by ``hold`` seconds of the finished painting; size: long side of
    the video in px (default: the painting's, capped at 720 for GIFs and 1080 otherwise).
    """
    import imageio.v2 as imageio

    path = Path(path)
    ext = path.suffix.lower()
    if ext not in VIDEO_EXT:
        raise ImageError(f"{path}: unsupported video type {ext}; use {', '.join(VIDEO_EXT)}")
    n = frames or min(max(len(painting), 1), 120)
    duration = seconds or 4.0
    fps = max(1.0, min(30.0, n / duration))
    cap = size or (720 if ext == ".gif" else 1080)
    scale = min(1.0, cap / max(painting.width, painting.height))
    w, h = max(2, round(painting.width * scale)), max(2, round(painting.height * scale))
    if ext != ".gif":  # H.264 / VP9 in yuv420p need even sizes
        w, h = w - w % 2, h - h % 2

    def encode(tmp: str) -> None:
        if ext == ".gif":
            writer = imageio.get_writer(tmp, mode="I", duration=1000 / fps, loop=0)
        else:
            codec = {".mp4": "libx264", ".webm": "libvpx-vp9"}[ext]
            writer = imageio.get_writer(tmp, fps=fps, codec=codec, quality=8, macro_block_size=2,
                                        pixelformat="yuv420p", ffmpeg_log_level="error")
        with writer:
            last = None
            for frame in painting.iter_frames(n, w, h):
                last = frame[..., :3] if ext != ".gif" else frame
                writer.append_data(last)
            for _ in range(round(hold * fps)):
                writer.append_data(last)

    return atomic_write(path, encode, suffix=ext)
