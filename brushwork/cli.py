"""The ``brushwork`` command: thin subcommands that parse typed arguments and call one function."""

from __future__ import annotations

import sys
from typing import Annotated, Union

import tyro


def _commands() -> dict:
    # Imported lazily so `brushwork --help` stays fast and a command's deps load only when used.
    from . import train_renderer

    return {
        "train-renderer": (train_renderer.Args, train_renderer.main),
    }


def main(argv: list[str] | None = None) -> int:
    commands = _commands()
    spec = Union[tuple(Annotated[a, tyro.conf.subcommand(name)] for name, (a, _) in commands.items())]  # type: ignore
    args = tyro.cli(spec, args=argv, description="brushwork: paint images with brush strokes.")
    for _, (a, fn) in commands.items():
        if type(args) is a:
            try:
                fn(args)
            except (ValueError, OSError) as e:
                print(f"brushwork: error: {e}", file=sys.stderr)
                return 2
            except KeyboardInterrupt:
                print("brushwork: interrupted", file=sys.stderr)
                return 130
            return 0
    return 2


if __name__ == "__main__":
    sys.exit(main())
