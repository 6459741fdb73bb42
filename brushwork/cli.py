"""The ``brushwork`` command: thin subcommands that parse typed arguments and call one function.

Each subcommand is a dataclass (its fields are the flags, their comments the help) and a function.
Commands with presets (``train-agent --preset paper-celeba``) take the preset's values as defaults.
"""

from __future__ import annotations

import importlib
import sys

import tyro

# name -> (module, one-line help). Modules are imported only when their command runs.
COMMANDS: dict[str, tuple[str, str]] = {
    "paint": ("brushwork.painter.cli", "paint an image (or a folder of images) with brush strokes"),
    "render": ("brushwork.painter.cli", "re-render a JSON stroke file at any size"),
    "train-renderer": ("brushwork.render.train", "train a neural stroke renderer"),
    "train-agent": ("brushwork.agent.train", "train a painting agent (DDPG)"),
    "data": ("brushwork.data.cli", "fetch the offline training datasets"),
    "bench": ("brushwork.bench.cli", "benchmarks: renderers, paint"),
    "serve": ("brushwork.server", "start the web app"),
}


def usage() -> str:
    width = max(map(len, COMMANDS))
    lines = ["usage: brushwork COMMAND [OPTIONS]   (brushwork COMMAND --help for its options)", "", "commands:"]
    lines += [f"  {name:<{width}}  {text}" for name, (_, text) in COMMANDS.items()]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] in ("-h", "--help"):
        print(usage())
        return 0 if argv else 2
    if argv[0] in ("-V", "--version"):
        from . import __version__

        print(__version__)
        return 0
    name, rest = argv[0], argv[1:]
    if name not in COMMANDS:
        print(f"brushwork: unknown command {name!r}\n\n{usage()}", file=sys.stderr)
        return 2
    module = importlib.import_module(COMMANDS[name][0])
    # A module serving several commands exposes COMMANDS = {name: (Args, main)}; else Args + main.
    args_type, fn = getattr(module, "COMMANDS", {}).get(name, (getattr(module, "Args", None), getattr(module, "main", None)))
    default = None
    presets = getattr(module, "PRESETS", None)
    if presets:
        preset = _take_preset(rest, presets)
        default = presets[preset]
    args = tyro.cli(args_type, args=rest, default=default, prog=f"brushwork {name}",
                    description=(module.__doc__ or "").strip().split("\n\n")[0])
    try:
        result = fn(args)
    except (ValueError, OSError, RuntimeError) as e:
        print(f"brushwork {name}: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"brushwork {name}: interrupted", file=sys.stderr)
        return 130
    return result if isinstance(result, int) else 0


def _take_preset(rest: list[str], presets: dict) -> str:
    """Find --preset NAME (or --preset=NAME) in argv; the default preset is the first."""
    name = next(iter(presets))
    for i, a in enumerate(rest):
        if a == "--preset" and i + 1 < len(rest):
            name = rest[i + 1]
        elif a.startswith("--preset="):
            name = a.split("=", 1)[1]
    if name not in presets:
        print(f"brushwork: unknown preset {name!r}; choose one of {', '.join(presets)}", file=sys.stderr)
        raise SystemExit(2)
    return name


if __name__ == "__main__":
    sys.exit(main())
