"""Typed command-line options shared by the commands' dataclasses (tyro reads them for --help)."""

from __future__ import annotations

import argparse
import dataclasses
from pathlib import Path

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


class _Help(argparse.ArgumentDefaultsHelpFormatter, argparse.RawDescriptionHelpFormatter):
    pass


def dataclass_parser(cls, description: str | None, paths: tuple[str, ...] = ()) -> argparse.ArgumentParser:
    """An argparse parser with one ``--flag-name`` per field of the dataclass ``cls``, its default the
    field's: booleans as ``--x/--no-x``, tuples and lists as lists of values, the fields named in ``paths``
    as `Path`, the rest by the default's type.  Standard library only: for the scripts that must run on a
    machine without tyro (the GPU kits); the package's commands use tyro."""
    p = argparse.ArgumentParser(description=description, formatter_class=_Help)
    d = cls()
    for f in dataclasses.fields(cls):
        flag = "--" + f.name.replace("_", "-")
        default = getattr(d, f.name)
        if isinstance(default, bool):
            p.add_argument(flag, action=argparse.BooleanOptionalAction, default=default)
        elif isinstance(default, (tuple, list)):
            p.add_argument(flag, nargs="*", default=default)
        elif f.name in paths:
            p.add_argument(flag, type=Path, default=default)
        else:
            p.add_argument(flag, type=type(default), default=default)
    return p
