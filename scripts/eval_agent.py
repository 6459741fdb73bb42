"""Evaluate a trained agent on its held-out data: the paper's loop (T steps of k strokes at the agent's
canvas size W), mean L2 and PSNR over N held-out images, and a picture grid.

    python scripts/eval_agent.py mnist --data mnist [--images 256] [--grid docs/images/agent_mnist.png]
    python scripts/eval_agent.py runs/agent-photo-wgan/actor.safetensors --data photos

The same images (seed 2024) for every agent of a data source, painted through the analytic rasteriser.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from brushwork.agent import train as train_agent  # noqa: E402
from brushwork.agent.direct import evaluate_levels  # noqa: E402
from brushwork.agent.evaluate import evaluate_policy  # noqa: E402
from brushwork.agent.policy import load_agent  # noqa: E402
from brushwork.stroke import get_shape  # noqa: E402
from brushwork.stroke.canvas import Background  # noqa: E402


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("agent", help="shipped agent name or actor .safetensors")
    p.add_argument("--data", required=True, help="mnist, fashion, photos, faces or a folder of images")
    p.add_argument("--images", type=int, default=256)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--grid", type=Path, help="write 8 targets above their paintings as a PNG")
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    policy = load_agent(a.agent)
    if policy.levels:  # --algo direct: its coarse-to-fine rollout on images of side W x finest grid
        side = policy.size * max(g for g, _ in policy.levels)
        args = train_agent.Args(data=a.data, size=side, shape=policy.shape)
        targets = train_agent.open_data(args, "test", 0).sample(a.images, torch.Generator().manual_seed(2024))
        r = evaluate_levels(policy.actor, targets, get_shape(policy.shape), policy.size, policy.levels,
                            Background.parse(policy.background))
        what = f"levels {policy.levels} x {policy.bundle} strokes at {side} px"
    else:
        args = train_agent.Args(data=a.data, size=policy.size, shape=policy.shape)
        targets = train_agent.open_data(args, "test", 0).sample(a.images, torch.Generator().manual_seed(2024))
        r = evaluate_policy(policy, targets)
        what = f"{policy.steps} x {policy.bundle} strokes at {policy.size} px: L2 {r['l2']:.5f}"
    steps = " ".join(f"{k[5:]}: {v:.2f}" for k, v in r.items() if k.startswith("psnr@"))
    print(f"{a.agent}: {a.images} held-out {a.data} images, {what}, PSNR {r['psnr']:.2f} dB "
          f"(flat fill {r['flat_psnr']:.2f} dB); PSNR after step {steps}; stroke centre spread across images "
          f"{r['centre_spread']:.3f}, stroke size {r['stroke_size']:.3f} (fractions of the tile)")
    if a.grid:
        from PIL import Image

        if "canvases" not in r:
            raise SystemExit("--grid: only for DDPG agents")
        rows = [torch.cat(list(r["targets"][:8]), 2), torch.cat(list(r["canvases"][:8]), 2)]
        img = torch.cat(rows, 1).permute(1, 2, 0).numpy()
        a.grid.parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(img).resize((img.shape[1] * 2, img.shape[0] * 2), Image.NEAREST).save(a.grid)


if __name__ == "__main__":
    main()
