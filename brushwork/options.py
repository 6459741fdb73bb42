"""Typed command-line options shared by the commands' dataclasses (tyro reads them for --help)."""

from __future__ import annotations

import tyro


def choices(options, *more: str, help: str | None = None) -> tyro.conf.arg:
    """For ``Annotated[str, choices(...)]``: a flag whose values are a fixed set, listed in --help.  The
    command's own check validates the value (one clear error line, as for every other option)."""
    return tyro.conf.arg(metavar="{" + ",".join([*options, *more]) + "}", help=help)
