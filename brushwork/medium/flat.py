"""Flat: today's look, the default.  Each stroke is its colour under its soft alpha, composited "over"
(`brushwork.stroke.canvas.paint_strokes`): no texture, no ground, any shape, any background."""

from __future__ import annotations

from torch import Tensor

from ..stroke import get_shape
from ..stroke.canvas import Background, paint_strokes
from .base import Medium, Session


class FlatSession(Session):
    def paint(self, strokes: Tensor, frames: Tensor, clips: Tensor | None = None) -> None:
        paint_strokes(self.canvas, self.shape, strokes, frames, self.native, clips=clips)
        self.count += len(strokes)

    def image(self) -> Tensor:
        return self.canvas  # nothing to finish: the canvas is the image


class Flat(Medium):
    name = "flat"
    summary = "soft-edged flat colour (the optimiser's own rendering)"
    needs_curve = False

    def session(self, shape, height, width, background, native=None) -> Session:
        return FlatSession(self, get_shape(shape), height, width, Background.parse(background), native)


__all__ = ["Flat"]
