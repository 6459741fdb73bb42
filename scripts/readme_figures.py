"""Figures for the README: before/after + process animation, and the agent's coarse-to-fine progression.

    python scripts/readme_figures.py [--agent photo] [--images a.png,b.png]

Writes docs/images/example_{target,painting}.png and example_process.gif (the default `brushwork paint`
on the bundled example), and docs/images/progression.png: the agent's painting after 5, 10, 25, 50, 100 and 200
strokes on several held-out photos, one row per photo, the target last.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import torch
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from brushwork.io.images import (  # noqa: E402
    centre_crop_square,
    load_image,
    resize,
    to_uint8,  # noqa: E402
)
from brushwork.painter.painter import paint  # noqa: E402

OUT = ROOT / "docs" / "images"
# Stroke counts shown: for a k = 5 agent on the whole image, its steps 1, 2, 5, 10, 20 and 40.
STROKES = (5, 10, 25, 50, 100, 200)


def example() -> None:
    src = ROOT / "brushwork" / "assets" / "example.png"
    p = paint(src, quiet=True)
    Image.open(src).convert("RGB").save(OUT / "example_target.png")
    p.save(OUT / "example_painting.png")
    p.save(OUT / "example_process.gif")
    print("example:", p.metrics)


@torch.no_grad()
def progression(agent: str, images: list[Path], size: int = 128) -> None:
    """One row per photo: the agent's painting (method agent, its own tiling) after each count of
    STROKES, the target last.  Going through `paint()` works for every agent: the DDPG agents' 40
    whole-image steps and the direct agents' coarse-to-fine tiles alike."""
    rows = []
    for path in images:
        rgb = resize(centre_crop_square(load_image(path).rgb), (size, size))
        p = paint(rgb, method="agent", agent=agent, strokes=max(STROKES), width=size, height=size, quiet=True)
        shots = [to_uint8(p.render_tensor(size, size, upto=n)) for n in STROKES]
        rows.append(np.concatenate(shots + [rgb], axis=1))
    grid = np.concatenate(rows, axis=0)
    Image.fromarray(grid).save(OUT / "progression.png")
    print("progression:", grid.shape)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--agent", default="photo")
    p.add_argument("--images", default="")
    p.add_argument("--skip-example", action="store_true")
    a = p.parse_args()
    OUT.mkdir(parents=True, exist_ok=True)
    if not a.skip_example:
        example()
    if a.images:
        images = [Path(x) for x in a.images.split(",")]
    else:
        from brushwork.data import dev_images

        images = dev_images()[:4]
    progression(a.agent, images)


if __name__ == "__main__":
    main()
