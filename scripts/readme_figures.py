"""Figures for the README: before/after + process animation, and the agent's coarse-to-fine progression.

    python scripts/readme_figures.py [--agent photo] [--images a.png,b.png]

Writes docs/images/example_{target,painting}.png and example_process.gif (the default `brushwork paint`
on the bundled example), docs/images/progression.png: the agent's painting after 5, 10, 25, 50, 100 and 200
strokes on several held-out photos, one row per photo, the target last; and docs/images/progression_512.png:
the agent at 512 px with 4,000 strokes, after 50, 200, 500, 1,000, 2,000 and 4,000 of them, the target last.
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


#: Stroke counts of the at-size progression (512 px, 4,000 strokes: six passes, the last two on shifted grids).
STROKES_AT_SIZE = (50, 200, 500, 1000, 2000, 4000)


def progression_at_size(agent: str, image: Path, size: int = 512, shown: int = 256) -> None:
    """One photo painted by the agent at ``size`` px with max(STROKES_AT_SIZE) strokes, shown at ``shown``
    px after each count of STROKES_AT_SIZE, and a 100 % crop of the last, the target last."""
    rgb = resize(centre_crop_square(load_image(image).rgb), (size, size))
    p = paint(rgb, method="agent", agent=agent, strokes=max(STROKES_AT_SIZE), width=size, height=size, quiet=True)
    shots = [to_uint8(p.render_tensor(shown, shown, upto=n)) for n in STROKES_AT_SIZE]
    crop = p.render()[size // 4: size // 4 + shown, size // 4: size // 4 + shown]
    target = resize(rgb, (shown, shown))
    grid = np.concatenate([np.concatenate(shots[:4], axis=1),
                           np.concatenate(shots[4:] + [crop, target], axis=1)], axis=0)
    Image.fromarray(grid).save(OUT / "progression_512.png")
    print("progression at size:", grid.shape, f"{p.metrics['psnr']:.2f} dB in {p.metrics['seconds']:.1f} s")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--agent", default="photo")
    p.add_argument("--images", default="")
    p.add_argument("--skip-example", action="store_true")
    p.add_argument("--only-size", action="store_true", help="only the at-size progression (progression_512.png)")
    a = p.parse_args()
    OUT.mkdir(parents=True, exist_ok=True)
    if not a.skip_example and not a.only_size:
        example()
    if a.images:
        images = [Path(x) for x in a.images.split(",")]
    else:
        from brushwork.data import dev_images

        images = dev_images()[:4]
    if not a.only_size:
        progression(a.agent, images)
    progression_at_size(a.agent, images[1] if len(images) > 1 else images[0])


if __name__ == "__main__":
    main()
