"""Brush media, registered in one place: ``get_medium(name)``.

A medium is how a stroke meets the canvas (docs/method.md, "Media"): the strokes stay the same 13
numbers, the medium decides the texture, the compositing and the finishing (lighting, paper).  Adding
a medium = one new module with a `Medium` subclass, plus its class in ``_REGISTRY`` below.  Nothing else
branches on medium names.
"""

from __future__ import annotations

from .base import Medium, Session
from .flat import Flat
from .oil import Oil
from .pastel import Pastel
from .watercolor import Watercolor

_REGISTRY: dict[str, type[Medium]] = {cls.name: cls for cls in (Flat, Oil, Watercolor, Pastel)}
MEDIA = tuple(_REGISTRY)
DEFAULT = "flat"


def get_medium(name: str | Medium, **params: float) -> Medium:
    """The medium called ``name`` (e.g. "oil"); raises ValueError listing the known media.  ``params``:
    changes to the textured media's look numbers (`TexturedMedium.params`)."""
    if isinstance(name, Medium):
        return name
    try:
        cls = _REGISTRY[name]
    except (KeyError, TypeError):
        raise ValueError(f"unknown medium {name!r}; choose one of {', '.join(MEDIA)}") from None
    return cls(**params)


__all__ = ["DEFAULT", "MEDIA", "Medium", "Session", "get_medium"]
