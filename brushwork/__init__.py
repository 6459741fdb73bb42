"""brushwork: paint any image with brush strokes (Learning to Paint, rebuilt and extended).

Public API (imported lazily, so ``import brushwork`` stays cheap):

* ``paint(image, **options) -> Painting``  (see `brushwork.painter.painter.PaintConfig` for the options);
  ``paint(..., stop=callback)`` ends a painting early, raising ``Stopped``
* ``Painting``: strokes + frames; ``.save(path)`` by extension, ``.render(width, height)``
* ``load_agent(name_or_path)``: a trained actor ("photo", "mnist", ... or a .safetensors)
* ``load_renderer(name_or_path)``: a neural stroke renderer ("bezier" or a .safetensors)
* ``get_shape(name)``: a stroke shape (reference / soft rasteriser, SVG)
* ``get_medium(name)``: a brush medium (flat, oil, watercolor, pastel): how strokes meet the canvas
"""

__version__ = "0.1.0"

_EXPORTS = {
    "paint": "brushwork.painter.painter",
    "PaintConfig": "brushwork.painter.painter",
    "Painting": "brushwork.painter.painting",
    "Stopped": "brushwork.painter.adam",
    "load_agent": "brushwork.agent.policy",
    "load_renderer": "brushwork.render.model",
    "get_shape": "brushwork.stroke",
    "get_medium": "brushwork.medium",
}


def __getattr__(name: str):
    if name in _EXPORTS:
        import importlib

        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'brushwork' has no attribute {name!r}")


__all__ = list(_EXPORTS)
