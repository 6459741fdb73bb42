"""A trained painting policy (the actor) ready for inference: `load_agent(name_or_path)`.

The weights file carries the actor's configuration (network sizes, canvas size W, bundle k, steps T,
stroke shape, background), so the file alone rebuilds it.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import Tensor

from .networks import Actor, NetConfig, observation_planes

#: Datasets of whole, centred objects (the digit arrays): training never crops them (`targets.open_data`),
#: and the painter gives an agent trained on them no finer tiles than the output size asks for.  Defined
#: here, not in `brushwork.data`, because painting must not import the training data code.
WHOLE_IMAGE_DATASETS = ("mnist", "fashion")


@dataclass
class Policy:
    actor: Actor
    size: int  # observation side W the actor was trained at
    bundle: int  # strokes per step k
    steps: int  # steps per episode T it was trained with
    shape: str
    background: str
    meta: dict
    #: coarse-to-fine (grid, steps) levels it was trained on (``--algo direct``), else None
    levels: tuple[tuple[int, int], ...] | None = None

    @property
    def whole_images(self) -> bool:
        """Trained on whole, uncropped images (the digit arrays, `WHOLE_IMAGE_DATASETS`), not on crops."""
        return str(self.meta.get("config", {}).get("data", "")).strip().lower() in WHOLE_IMAGE_DATASETS

    @torch.no_grad()
    def act(self, canvas: Tensor, target: Tensor, t: Tensor, steps: int) -> Tensor:
        """Strokes (B, k, 13) for canvases and targets (B, 3, h, w) float in [0, 1] (resized to the
        actor's W with area averaging), step t (B,) of a ``steps``-step budget."""
        w = self.size
        if canvas.shape[-2:] != (w, w):
            canvas = F.interpolate(canvas, size=(w, w), mode="area")
            target = F.interpolate(target, size=(w, w), mode="area")
        # The actor was trained on uint8 observations: quantise the same way.
        canvas = (canvas.clamp(0, 1) * 255).floor() / 255
        target = (target.clamp(0, 1) * 255).round() / 255
        a = self.actor(observation_planes(canvas, target, t, steps))
        return a.view(a.shape[0], self.bundle, -1)


def describe(name_or_path: str | Path) -> dict:
    """What a shipped agent or actor file says about itself, without loading its weights: ``path``,
    ``shape``, ``size`` (W), ``bundle`` (k), ``episode_steps`` (T), training ``steps`` and ``metric``.
    Raises `WeightsError` when it is missing, unreadable or not an actor."""
    from ..io.weights import WeightsError, read_metadata, resolve

    path = resolve(name_or_path, "actor")
    meta = read_metadata(path)
    if meta.get("kind") != "actor":
        raise WeightsError(f"{path}: not an actor")
    cfg = meta.get("config", {})
    return {"path": str(path), "shape": cfg.get("shape", "bezier"), "size": cfg.get("size"),
            "bundle": cfg.get("net", {}).get("bundle"), "episode_steps": cfg.get("steps"), "steps": meta.get("steps"),
            "metric": meta.get("metric", {})}


#: (shipped name or absolute path, device) -> (file, its (mtime_ns, size, inode) when loaded, Policy):
#: `load_agent`'s cache
_LOADED: dict[tuple[str, str], tuple[Path, tuple[int, int, int], Policy]] = {}


def load_agent(name_or_path: str = "photo", device: str | torch.device = "cpu") -> Policy:
    """A shipped agent ("photo", "mnist", ...) or an actor .safetensors written by train-agent.

    Cached per (name, device) while the file is unchanged (same mtime, size and inode): building the actor and
    verifying a shipped file's checksum is a large part of a small `paint()` (docs/choices.md#agent-cache).  The
    cached Policy is shared: its actor is in eval mode with gradients off, and callers must not change it."""
    from ..io.weights import manifest, resolve

    name = str(name_or_path)
    key = (name if name in manifest() else str(Path(name).expanduser().resolve()), str(device))
    hit = _LOADED.get(key)
    if hit is not None:
        path, sig, policy = hit
        try:
            st = path.stat()
        except OSError:
            st = None
        if st is not None and (st.st_mtime_ns, st.st_size, st.st_ino) == sig:
            return policy
    path = resolve(name_or_path, "actor").resolve()
    st = path.stat()
    policy = _build(path, device)
    _LOADED[key] = (path, (st.st_mtime_ns, st.st_size, st.st_ino), policy)
    return policy


def _build(path: Path, device) -> Policy:
    from ..io.weights import load_state_strict, load_weights

    state, meta = load_weights(path, "actor")
    cfg = meta["config"]
    net = cfg["net"]
    actor = Actor(NetConfig(width=net["width"], blocks=tuple(net["blocks"]), bundle=net["bundle"], params=net["params"],
                            norm=net.get("norm", "batch")))
    load_state_strict(actor, state, path)
    actor.to(device).eval().requires_grad_(False)
    levels = tuple(tuple(x) for x in cfg["levels"]) if cfg.get("levels") else None
    return Policy(actor, cfg["size"], net["bundle"], cfg["steps"], cfg["shape"], cfg.get("background", "black"), meta,
                  levels)
