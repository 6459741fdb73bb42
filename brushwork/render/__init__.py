"""The neural stroke renderer: a network that draws a stroke from its parameters (`model`), and its
training on strokes drawn by the reference rasteriser (`train`).  See docs/method.md, "Renderers"."""
