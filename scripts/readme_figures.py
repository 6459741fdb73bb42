"""Figures for the README: before/after + process animation, and the agent's coarse-to-fine progression.

    python scripts/readme_figures.py [--agent photo] [--images a.png,b.png]

Writes docs/images/example_{target,painting}.png and example_process.gif (the default `brushwork paint`
on the bundled example), and docs/images/progression.png: the agent's canvas after 1, 2, 5, 10, 20 and
40 steps (5 strokes each) on several held-out photos, one row per photo, the target last.
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

from brushwork.agent.policy import load_agent  # noqa: E402
from brushwork.io.images import (  # noqa: E402
    centre_crop_square,
    load_image,
    resize,
    to_tensor,
    to_uint8,  # noqa: E402
)
from brushwork.painter.painter import paint  # noqa: E402
from brushwork.stroke.canvas import Background, paint_strokes  # noqa: E402

OUT = ROOT / "docs" / "images"
STEPS = (1, 2, 5, 10, 20, 40)


def example() -> None:
    src = ROOT / "brushwork" / "assets" / "example.png"
    p = paint(src, quiet=True)
    Image.open(src).convert("RGB").save(OUT / "example_target.png")
    p.save(OUT / "example_painting.png")
    p.save(OUT / "example_process.gif")
    print("example:", p.metrics)


@torch.no_grad()
def progression(agent: str, images: list[Path], size: int = 128) -> None:
    policy = load_agent(agent)
    rows = []
    for path in images:
        rgb = resize(centre_crop_square(load_image(path).rgb), (size, size))
        target = to_tensor(rgb)
        canvas = Background.parse(policy.background).canvas(size, size)
        frames = torch.tensor([0.0, 0.0, float(size)]).expand(policy.bundle, 3)
        shots = []
        for t in range(max(STEPS)):
            a = policy.act(canvas[None], target[None], torch.tensor([t]), max(STEPS))[0]
            paint_strokes(canvas, policy.shape, a, frames, native=float(policy.size))
            if t + 1 in STEPS:
                shots.append(to_uint8(canvas))
        rows.append(np.concatenate(shots + [rgb], axis=1))
    grid = np.concatenate(rows, axis=0)
    Image.fromarray(grid).save(OUT / "progression.png")
    print("progression:", grid.shape)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--agent", default="photo-ddpg")
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
