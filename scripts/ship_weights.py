"""Copy trained weights into brushwork/weights/ under a shipped name and record them in the manifest.

    python scripts/ship_weights.py renderer bezier runs/renderer-bezier-128/renderer.safetensors
    python scripts/ship_weights.py actor photo runs/agent-photo/actor.safetensors

The file is re-saved in fp16 (the shipped format) with its metadata unchanged; the manifest entry
records its SHA-256, which loading verifies.  Files must stay under 25 MB each and 60 MB in all.
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from brushwork.io import weights  # noqa: E402


def main() -> None:
    if len(sys.argv) != 4 or sys.argv[1] not in ("renderer", "actor"):
        sys.exit(__doc__)
    kind, name, src = sys.argv[1], sys.argv[2], Path(sys.argv[3])
    state, meta = weights.load_weights(src, kind)
    dest = weights.SHIPPED_DIR / f"{kind}-{name}.safetensors"
    weights.save_weights(dest, state, kind, meta["config"], meta["steps"], meta["metric"], meta["info"], half=True)
    size = dest.stat().st_size
    if size > 25 * 2**20:
        dest.unlink()
        sys.exit(f"{dest.name} is {size / 2**20:.1f} MB: over the 25 MB limit")
    entry = weights.register(name, dest, kind)
    total = sum((weights.SHIPPED_DIR / e["file"]).stat().st_size for e in weights.manifest().values())
    print(f"shipped {kind} {name!r}: {dest.relative_to(ROOT)} ({size / 2**20:.1f} MB, sha256 {entry['sha256'][:12]}...); "
          f"all shipped weights {total / 2**20:.1f} MB")
    if total > 60 * 2**20:
        sys.exit("warning: shipped weights exceed 60 MB in all")


if __name__ == "__main__":
    main()
