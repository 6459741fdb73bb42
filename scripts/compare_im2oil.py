"""brushwork's oil medium against Im2Oil (Tong et al., ACM MM 2022), the oil-painting peer, on Im2Oil's own
example images: PSNR against the input, seconds, and a side-by-side sheet with 100 % crops.

Im2Oil is not a dependency and is never vendored: run it yourself from a checkout of its repository
(its code and example images are CC0), time each image, then point this script at the checkout::

    git clone https://github.com/TZYSJTU/Im2Oil && cd Im2Oil
    pip install opencv-python-headless scipy tqdm matplotlib
    /usr/bin/time -f "%e" python Oil-Painting.py --f ./input/P1.jpg --p 4   # its README's setting
    python scripts/compare_im2oil.py --im2oil /path/to/Im2Oil --images P1,A2 --im2oil-seconds 113.6,260.0

Im2Oil paints at 8x super-sampling on the input padded by 5 px (``output/<name>-p-4/Oil_drawing.png``,
(W + 10) x 8 wide); the padding is cut off and the painting area-averaged back to the input's size
before measuring, so both paintings are measured against the same input pixels.  brushwork paints the
input at its own size with the default strokes (``paint(..., medium="oil")``).  Writes
``docs/benchmarks/im2oil.md`` and ``docs/images/im2oil_compare.png``.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageDraw

from brushwork.bench.common import machine, machine_line
from brushwork.io.images import load_image, to_tensor
from brushwork.metrics import psnr
from brushwork.painter.painter import paint

ROOT = Path(__file__).resolve().parents[1]
PAD, SSAA = 5, 8  # Im2Oil's padding (input px) and super-sampling factor (its defaults)


def im2oil_painting(checkout: Path, name: str, p: int, w: int, h: int) -> np.ndarray:
    """Im2Oil's painting of input ``name`` at the input's size, uint8 (h, w, 3)."""
    big = Image.open(checkout / "output" / f"{name}-p-{p}" / "Oil_drawing.png").convert("RGB")
    cut = big.crop((PAD * SSAA, PAD * SSAA, big.width - PAD * SSAA, big.height - PAD * SSAA))
    return np.asarray(cut.resize((w, h), Image.Resampling.BOX))


def crop(img: np.ndarray, side: int) -> np.ndarray:
    """A side x side crop from the image's centre (100 %)."""
    h, w = img.shape[:2]
    y, x = (h - side) // 2, (w - side) // 2
    return img[y : y + side, x : x + side]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--im2oil", type=Path, required=True, help="Im2Oil checkout whose output/ holds its paintings")
    ap.add_argument("--images", default="P1,A2", help="Im2Oil input names, comma-separated")
    ap.add_argument("--im2oil-seconds", default="", help="Im2Oil's measured seconds per image, comma-separated")
    ap.add_argument("--p", type=int, default=4, help="Im2Oil's --p (its README's setting: 4)")
    ap.add_argument("--medium", default="oil")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--note", default="", help="how the runs were made (load, threads), quoted in the report")
    ap.add_argument("--doc", type=Path, default=ROOT / "docs" / "benchmarks" / "im2oil.md")
    ap.add_argument("--figure", type=Path, default=ROOT / "docs" / "images" / "im2oil_compare.png")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    names = args.images.split(",")
    secs = [float(s) for s in args.im2oil_seconds.split(",")] if args.im2oil_seconds else [float("nan")] * len(names)
    rows, sheet_rows = [], []
    paint(np.full((64, 64, 3), 128, np.uint8), strokes=20, medium=args.medium, quiet=True)  # warm-up
    for name, s_peer in zip(names, secs):
        target = load_image(args.im2oil / "input" / f"{name}.jpg").rgb
        h, w = target.shape[:2]
        peer = im2oil_painting(args.im2oil, name, args.p, w, h)
        t0 = time.perf_counter()
        ours = paint(target, medium=args.medium, quiet=True)
        s_ours = time.perf_counter() - t0
        ours_img = np.ascontiguousarray(ours.render()[..., :3])  # uint8, in the medium
        t = to_tensor(target)
        p_peer = float(psnr(to_tensor(peer), t))
        p_ours = float(psnr(to_tensor(ours_img), t))
        rows.append((name, f"{w}x{h}", p_peer, s_peer, p_ours, s_ours, len(ours)))
        print(f"{name}: Im2Oil {p_peer:.2f} dB {s_peer:.1f} s | brushwork {args.medium} {p_ours:.2f} dB {s_ours:.1f} s "
              f"({len(ours)} strokes)", flush=True)
        sheet_rows.append((name, target, peer, ours_img))
    write_sheet(sheet_rows, args.figure, args.medium)
    write_doc(rows, args, machine_line(machine(args.threads)))


def write_sheet(rows, path: Path, medium: str, cell: int = 256, crop_side: int = 128) -> None:
    """Per image: input, Im2Oil, brushwork (each shown at ``cell`` px), then 100 % crops of both, 2x enlarged."""
    label, gap = 20, 4
    cols = ["input", "Im2Oil", f"brushwork {medium}", "Im2Oil, crop 2x", f"brushwork {medium}, crop 2x"]
    sheet = Image.new("RGB", (len(cols) * (cell + gap), label + len(rows) * (cell + gap)), "white")
    draw = ImageDraw.Draw(sheet)
    for k, c in enumerate(cols):
        draw.text((k * (cell + gap) + 4, 4), c, fill="black")
    for r, (_, target, peer, ours) in enumerate(rows):
        y = label + r * (cell + gap)
        for k, img in enumerate((target, peer, ours)):
            sheet.paste(Image.fromarray(img).resize((cell, cell), Image.Resampling.LANCZOS), (k * (cell + gap), y))
        for k, img in enumerate((peer, ours)):
            c = Image.fromarray(np.ascontiguousarray(crop(img, crop_side))).resize((cell, cell), Image.Resampling.NEAREST)
            sheet.paste(c, ((3 + k) * (cell + gap), y))
    path.parent.mkdir(parents=True, exist_ok=True)
    sheet.save(path)
    print(f"wrote {path}")


def write_doc(rows, args, machine_text: str) -> None:
    def f(x, d=2):
        return "—" if x != x else f"{x:.{d}f}"

    lines = ["# Oil against Im2Oil", "",
             "Generated by `scripts/compare_im2oil.py`; do not edit by hand.", "",
             f"Machine: {machine_text}.", "",
             f"Im2Oil's own example images (CC0), its README's setting (`--p {args.p}`), run from its checkout and "
             "timed as a whole process; its painting cut from its padding and area-averaged to the input's size. "
             f"brushwork: `paint(image, medium=\"{args.medium}\")` at the input's size, default strokes, "
             f"{args.threads} thread(s), seconds of the `paint()` call. PSNR of the final painting against the input.", "",
             *([args.note, ""] if args.note else []),
             "| image | size | Im2Oil dB | Im2Oil s | brushwork dB | brushwork s | brushwork strokes | time ratio |",
             "| :-- | :-- | --: | --: | --: | --: | --: | --: |"]
    for name, size, pp, sp, po, so, n in rows:
        lines.append(f"| {name} | {size} | {f(pp)} | {f(sp, 1)} | {f(po)} | {f(so, 1)} | {n} | {f(sp / so, 1)} |")
    mean = lambda i: sum(r[i] for r in rows) / len(rows)  # noqa: E731
    lines.append(f"| **mean** | | {f(mean(2))} | {f(mean(3), 1)} | {f(mean(4))} | {f(mean(5), 1)} | | "
                 f"{f(mean(3) / mean(5), 1)} |")
    lines += ["", "![Im2Oil and brushwork side by side](../images/im2oil_compare.png)", "",
              "Reproduce (after running Im2Oil on the same images, see the script's docstring):", "", "```",
              f"python scripts/compare_im2oil.py --im2oil /path/to/Im2Oil --images {args.images} "
              f"--im2oil-seconds {args.im2oil_seconds}" + (f" --note '{args.note}'" if args.note else ""), "```", ""]
    args.doc.parent.mkdir(parents=True, exist_ok=True)
    args.doc.write_text("\n".join(lines))
    print(f"wrote {args.doc}")


if __name__ == "__main__":
    main()
