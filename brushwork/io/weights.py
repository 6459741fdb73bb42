"""Weights and checkpoints: the one place models are written to and read from disk.

* Shipped / exported weights are safetensors files whose metadata carries everything needed to rebuild
  the model: ``format`` ("brushwork"), ``format_version``, ``kind`` ("renderer", "actor"), ``config``
  (JSON), ``steps``, ``metric`` (JSON: e.g. validation PSNR) and free-form ``info`` (JSON).
* Weights shipped in ``brushwork/weights/`` are listed in ``manifest.json`` with their SHA-256; loading
  a shipped name verifies the checksum.
* Training checkpoints (model + optimiser + step) are ``torch.save`` files written atomically, so a run
  killed at any moment can ``--resume`` from the last complete one.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from .files import atomic_write

FORMAT = "brushwork"
FORMAT_VERSION = 1
SHIPPED_DIR = Path(__file__).resolve().parent.parent / "weights"
MANIFEST = SHIPPED_DIR / "manifest.json"


class WeightsError(ValueError):
    """A weights file is missing, corrupt, of the wrong kind, or fails its checksum."""


def sha256(path: str | Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def save_weights(
    path: str | Path,
    state: dict[str, torch.Tensor],
    kind: str,
    config: dict,
    steps: int = 0,
    metric: dict | None = None,
    info: dict | None = None,
    half: bool = False,
) -> Path:
    """Write a model's tensors and its metadata as safetensors (atomically). ``half`` stores floats
    as fp16 (loading casts back to fp32)."""
    tensors = {}
    for k, v in state.items():
        v = v.detach().cpu()
        if half and v.is_floating_point():
            v = v.half()
        tensors[k] = v.contiguous()
    meta = {
        "format": FORMAT,
        "format_version": str(FORMAT_VERSION),
        "kind": kind,
        "config": json.dumps(config, sort_keys=True),
        "steps": str(int(steps)),
        "metric": json.dumps(metric or {}, sort_keys=True),
        "info": json.dumps(info or {}, sort_keys=True),
    }
    return atomic_write(path, lambda tmp: save_file(tensors, tmp, metadata=meta))


def read_metadata(path: str | Path) -> dict[str, Any]:
    """The decoded metadata of a brushwork safetensors file (config/metric/info as dicts)."""
    from safetensors import safe_open

    path = Path(path)
    try:
        with safe_open(str(path), framework="pt") as f:
            meta = f.metadata() or {}
    except (SafetensorError, OSError, ValueError) as e:
        raise WeightsError(f"{path}: not a readable safetensors file ({e})") from None
    return _decode(meta, path)


def _decode(meta: dict, path: Path) -> dict[str, Any]:
    if meta.get("format") != FORMAT:
        raise WeightsError(f"{path}: not a brushwork weights file (metadata format={meta.get('format')!r})")
    if int(meta.get("format_version", "0")) > FORMAT_VERSION:
        raise WeightsError(f"{path}: format version {meta['format_version']} is newer than this brushwork "
                           f"({FORMAT_VERSION}); upgrade brushwork")
    out = dict(meta)
    for key in ("config", "metric", "info"):
        out[key] = json.loads(meta.get(key, "{}"))
    out["steps"] = int(meta.get("steps", "0"))
    return out


def load_weights(path: str | Path, kind: str | None = None) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """(float32 state dict, metadata) of a weights file; WeightsError naming the file if anything is off."""
    path = Path(path)
    if not path.is_file():
        raise WeightsError(f"{path}: no such weights file")
    meta = read_metadata(path)
    if kind is not None and meta.get("kind") != kind:
        raise WeightsError(f"{path}: holds a {meta.get('kind')!r} model, expected a {kind!r}")
    try:
        state = load_file(str(path))
    except (SafetensorError, OSError, ValueError) as e:
        raise WeightsError(f"{path}: corrupt or truncated weights ({e})") from None
    state = {k: (v.float() if v.is_floating_point() else v) for k, v in state.items()}
    return state, meta


def manifest() -> dict[str, dict]:
    if not MANIFEST.is_file():
        return {}
    return json.loads(MANIFEST.read_text())


def resolve(name_or_path: str | Path, kind: str) -> Path:
    """Path of a shipped weights name (checksum verified) or of a user-given file."""
    entries = manifest()
    name = str(name_or_path)
    if name in entries:
        entry = entries[name]
        if entry.get("kind") != kind:
            raise WeightsError(f"{name!r} is a shipped {entry.get('kind')} model, not a {kind}")
        path = SHIPPED_DIR / entry["file"]
        if not path.is_file():
            raise WeightsError(f"{path}: shipped weights {name!r} are missing from the installation")
        digest = sha256(path)
        if digest != entry["sha256"]:
            raise WeightsError(f"{path}: checksum mismatch for {name!r} (sha256 {digest[:12]}..., "
                               f"manifest {entry['sha256'][:12]}...): the file is corrupt")
        return path
    path = Path(name).expanduser()
    if path.is_file():
        return path
    known = ", ".join(k for k, e in entries.items() if e.get("kind") == kind) or "none"
    raise WeightsError(f"{name}: no such file, and not a shipped {kind} (shipped: {known})")


def register(name: str, path: str | Path, kind: str) -> dict:
    """Add or update a manifest entry for a file in the shipped weights folder."""
    path = Path(path)
    entries = manifest()
    entries[name] = {"file": path.name, "kind": kind, "sha256": sha256(path), "bytes": path.stat().st_size}
    atomic_write(MANIFEST, lambda tmp: Path(tmp).write_text(json.dumps(entries, indent=2, sort_keys=True) + "\n"))
    return entries[name]


def load_state_strict(model: torch.nn.Module, state: dict[str, torch.Tensor], path: str | Path) -> None:
    """load_state_dict that names the file when tensors are missing, unexpected or of the wrong shape."""
    own = model.state_dict()
    missing = sorted(set(own) - set(state))
    extra = sorted(set(state) - set(own))
    wrong = sorted(k for k in set(own) & set(state) if own[k].shape != state[k].shape)
    if missing or extra or wrong:
        parts = []
        if missing:
            parts.append(f"missing {missing[:3]}")
        if extra:
            parts.append(f"unexpected {extra[:3]}")
        if wrong:
            k = wrong[0]
            parts.append(f"wrong shape for {k}: file {tuple(state[k].shape)}, model {tuple(own[k].shape)}")
        raise WeightsError(f"{path}: weights do not fit the model ({'; '.join(parts)})")
    model.load_state_dict(state)


# --- training checkpoints -----------------------------------------------------------------------
def save_checkpoint(path: str | Path, payload: dict) -> Path:
    """Atomically torch.save a training checkpoint (models, optimisers, step, config, RNG states)."""
    return atomic_write(path, lambda tmp: torch.save(payload, tmp))


def load_checkpoint(path: str | Path, map_location="cpu") -> dict:
    path = Path(path)
    if not path.is_file():
        raise WeightsError(f"{path}: no checkpoint to resume from")
    try:
        return torch.load(path, map_location=map_location, weights_only=False)
    except Exception as e:  # torch raises several types for a damaged file
        raise WeightsError(f"{path}: corrupt checkpoint ({e})") from None


def settings_diff(saved: dict, asked: dict) -> str:
    """The settings that differ, one line: ``width 0.25 -> 0.5, fc [512] -> (absent)`` (checkpoint's -> asked);
    empty when none do."""
    missing = object()
    keys = list(saved) + [k for k in asked if k not in saved]
    show = lambda v: "(absent)" if v is missing else repr(v)  # noqa: E731
    return ", ".join(f"{k} {show(saved.get(k, missing))} -> {show(asked.get(k, missing))}" for k in keys
                     if saved.get(k, missing) != asked.get(k, missing))


def resume_checkpoint(path: str | Path, identity: dict, map_location="cpu", key: str = "identity") -> dict:
    """`load_checkpoint`, refused (WeightsError naming the differing settings, one line) unless it was written
    by a run with the same ``identity`` (the settings a resumed run must share), stored under ``key``."""
    ck = load_checkpoint(path, map_location=map_location)
    saved = ck.get(key)
    if not isinstance(saved, dict):
        raise WeightsError(f"{path}: not a checkpoint of this kind of run (it has no {key!r})")
    diff = settings_diff(saved, identity)
    if diff:
        raise WeightsError(f"{path}: checkpoint was trained with other settings (checkpoint's -> this run's): {diff}; "
                           "use another --out, or the checkpoint's settings")
    return ck
