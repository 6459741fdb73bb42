"""Painting an image: the painter (`painter.paint`, thin, calling named steps), its coarse-to-fine
tiles, stroke optimisation, the `Painting` result, its export formats and the paint/render CLI.
Never imports training code.  See docs/method.md, "Painter"."""
