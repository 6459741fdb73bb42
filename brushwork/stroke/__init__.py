"""Stroke shapes, registered in one place: ``get_shape(name)``.

Adding a shape = one new module with a `Shape` subclass (parameter names, reference and soft
rasterisers, SVG element, and the web page's live drawing: `Shape.live_primitives` + `Shape.live_js`),
plus its class in ``_REGISTRY`` below.  Nothing else branches on shape names.  See docs/method.md,
"Strokes" and "Rasterisers".
"""

from __future__ import annotations

from .base import COLOR, N_PARAMS, N_SHAPE, Shape, hex_color, validate
from .bezier import Bezier, BezierOpaque
from .circle import Circle
from .triangle import Triangle

_REGISTRY: dict[str, type[Shape]] = {
    cls.name: cls for cls in (Bezier, BezierOpaque, Circle, Triangle)
}
SHAPES = tuple(_REGISTRY)


def get_shape(name: str | Shape, compiled: bool = False) -> Shape:
    """The shape called ``name`` (e.g. "bezier"); raises ValueError listing the known shapes.
    ``compiled``: its soft rasteriser compiled with torch.compile (see `Shape.compiled`)."""
    if isinstance(name, Shape):
        return name.compiled() if compiled else name
    try:
        shape = _REGISTRY[name]()
    except KeyError:
        raise ValueError(f"unknown stroke shape {name!r}; choose one of {', '.join(SHAPES)}") from None
    if not compiled:
        return shape
    if name not in _COMPILED:  # one compiled copy per process: compiling is slow
        _COMPILED[name] = shape.compiled()
    return _COMPILED[name]


_COMPILED: dict[str, Shape] = {}


__all__ = ["COLOR", "N_PARAMS", "N_SHAPE", "SHAPES", "Shape", "get_shape", "hex_color", "validate"]
