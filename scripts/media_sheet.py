"""The media sheet (docs/images/media_sheet.png): the example photo in every medium at two stroke budgets,
plus 100 % crops that show each medium's texture.

    python scripts/media_sheet.py                       # paints the example twice (about a minute), then draws
    python scripts/media_sheet.py --cache /tmp/sheet    # keep / reuse the two paintings' JSON there

Rows: the media.  Columns: the painting at the small and the large budget (512 px, shown at half size),
then a 100 % crop of the large-budget painting at 512 px and at 1,024 px (the same strokes re-rendered:
the texture follows the painting, not the pixel).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageDraw

from brushwork.io.images import to_uint8
from brushwork.medium import MEDIA
from brushwork.painter.painter import paint
from brushwork.painter.painting import Painting

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "brushwork" / "assets" / "example.png"
CELL, LABEL, GAP = 256, 22, 4


def painting(budget: int, size: int, cache: Path | None) -> Painting:
    path = cache / f"example-{size}-{budget}.json" if cache else None
    if path is not None and path.exists():
        return Painting.load(path)
    p = paint(EXAMPLE, strokes=budget, width=size, quiet=True)
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        p.save(path)
    return p


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--budgets", default="300,2000")
    ap.add_argument("--size", type=int, default=512)
    ap.add_argument("--crop", default="150,40", help="x,y of the crop's top left corner at --size px")
    ap.add_argument("--cache", type=Path, default=None)
    ap.add_argument("-o", "--output", type=Path, default=ROOT / "docs" / "images" / "media_sheet.png")
    args = ap.parse_args()
    torch.set_num_threads(1)
    small, large = (painting(int(b), args.size, args.cache) for b in args.budgets.split(","))
    cx, cy = (int(v) for v in args.crop.split(","))
    cols = [f"{len(small)} strokes", f"{len(large)} strokes", f"100 % crop, {args.size} px", f"100 % crop, {2 * args.size} px"]
    width = LABEL * 5 + 4 * (CELL + GAP)
    sheet = Image.new("RGB", (width, LABEL + len(MEDIA) * (CELL + GAP)), "white")
    draw = ImageDraw.Draw(sheet)
    for k, c in enumerate(cols):
        draw.text((LABEL * 5 + k * (CELL + GAP) + 4, 5), c, fill="black")
    for r, medium in enumerate(MEDIA):
        y = LABEL + r * (CELL + GAP)
        draw.text((4, y + CELL // 2 - 6), medium, fill="black")
        a = to_uint8(small.render_tensor(medium=medium))[..., :3]
        b = to_uint8(large.render_tensor(medium=medium))[..., :3]
        big = to_uint8(large.render_tensor(2 * args.size, 2 * args.size, medium=medium))[..., :3]
        tiles = [Image.fromarray(a).resize((CELL, CELL), Image.LANCZOS), Image.fromarray(b).resize((CELL, CELL), Image.LANCZOS),
                 Image.fromarray(np.ascontiguousarray(b[cy : cy + CELL, cx : cx + CELL])),
                 Image.fromarray(np.ascontiguousarray(big[2 * cy + CELL // 2 : 2 * cy + CELL // 2 + CELL,
                                                          2 * cx + CELL // 2 : 2 * cx + CELL // 2 + CELL]))]
        for k, tile in enumerate(tiles):
            sheet.paste(tile, (LABEL * 5 + k * (CELL + GAP), y))
    args.output.parent.mkdir(parents=True, exist_ok=True)
    sheet.save(args.output, optimize=True)
    print(f"wrote {args.output}")


if __name__ == "__main__":
    main()
