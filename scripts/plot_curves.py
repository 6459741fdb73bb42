"""Learning curves for the model cards in docs/models.md, from the training runs' log.csv files.

    python scripts/plot_curves.py renderer runs/renderer-bezier-128 docs/images/curve_renderer_bezier.png
    python scripts/plot_curves.py agent runs/agent-photo-l2 docs/images/curve_agent_photo.png

renderer: validation PSNR vs steps and vs hours; agent: eval PSNR vs updates and vs hours.  Several
run folders may be given (comma-separated) to draw a run and its continuations as one curve.
"""

from __future__ import annotations

import csv
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


def rows(folders: str) -> list[dict]:
    out, t0 = [], 0.0
    for folder in folders.split(","):
        with open(Path(folder) / "log.csv") as f:
            part = list(csv.DictReader(f))
        for r in part:
            r["hours"] = (t0 + float(r["seconds"])) / 3600
        if part:
            t0 += float(part[-1]["seconds"])
        out += part
    return out


def main() -> None:
    if len(sys.argv) != 4 or sys.argv[1] not in ("renderer", "agent"):
        sys.exit(__doc__)
    kind, folders, dest = sys.argv[1], sys.argv[2], Path(sys.argv[3])
    data = rows(folders)
    x_key, y_key, x_label, y_label = (("step", "val_psnr", "training steps", "validation PSNR (dB)") if kind == "renderer"
                                      else ("updates", "eval_psnr", "actor updates", "held-out PSNR (dB)"))
    fig, axes = plt.subplots(1, 2, figsize=(9, 3.2))
    y = [float(r[y_key]) for r in data]
    axes[0].plot([float(r[x_key]) for r in data], y, marker=".")
    axes[0].set_xlabel(x_label)
    axes[1].plot([r["hours"] for r in data], y, marker=".")
    axes[1].set_xlabel("wall-clock hours")
    for ax in axes:
        ax.set_ylabel(y_label)
        ax.grid(alpha=0.3)
    fig.tight_layout()
    dest.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(dest, dpi=110)
    print(f"{dest}: {len(data)} points, last {y[-1]:.2f} dB, best {max(y):.2f} dB")


if __name__ == "__main__":
    main()
