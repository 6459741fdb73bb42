"""Typed command-line options shared by the commands' dataclasses (tyro reads them for --help)."""

from __future__ import annotations

try:
    import tyro
except ImportError:  # a machine with the trainers but not the CLI's parser (the GPU kit imports the trainers alone)
    tyro = None


def choices(options, *more: str, help: str | None = None) -> tyro.conf.arg | None:
    """For ``Annotated[str, choices(...)]``: a flag whose values are a fixed set, listed in --help.  The
    command's own check validates the value (one clear error line, as for every other option)."""
    if tyro is None:
        return None
    return tyro.conf.arg(metavar="{" + ",".join([*options, *more]) + "}", help=help)
