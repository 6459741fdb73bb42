#!/usr/bin/env python3
"""Train the at-size agent (issue 31, item 6): N minutes of a CUDA machine -> an actor for `paint(method="agent")`
at 512 px and beyond, with its logs and curves, in one folder of at most 8 files.

    python scripts/train_agent_size.py --minutes 8 --device cuda --out "$OUT" --data kitdata

Each stage is a `brushwork train-agent --algo direct` run (`brushwork.agent.train.main`; this script only
builds its settings, slices its time and packs its files), starting from the previous stage's best actor:

1. **scales** (``--scales-updates`` updates; 0 skips it): the shipped photo agent's own schedule (levels
   1x8,2x4,4x1, the painter's passes for 200 and 50 strokes, the colour fit) on 128 px tiles cut from the
   photos at every scale from ``--min-crop`` of the short side to the whole photo.
2. **size** (until the time is up; ``--size-updates`` plans its LR): the painter's own at-size schedule,
   ``--paint-strokes`` (`direct.painter_schedule`: the passes, finer passes, budgets and slot allotment
   `paint()` makes for each count on a ``--side`` px image, one count per update), on ``--side`` px crops at
   the same scales.

``--minutes`` is this run's training time; run the same command again and it resumes from OUT's last
checkpoint and trains on (the stages' progress is kept in OUT/state.json).  The trainer checkpoints into
``--work`` (default: OUT's sibling ``OUT-work``); every ``--slice-minutes`` the script packs the stage's
checkpoint, log and best actor into ``OUT/checkpoint.tar.NN`` parts of at most ``--part-mb`` MiB, each
written to a temporary file and renamed over the old one (`io.files.atomic_write`), their sha256 recorded
in state.json, written last; a fresh machine with only OUT unpacks them and goes on.  OUT holds:

* ``actor.safetensors``: the best actor of the latest stage (fp16; `brushwork paint --agent PATH`),
* ``log.jsonl``: one line per run and per evaluation (stage, updates, images, seconds, loss, train and
  held-out PSNR, ...),
* ``curves.png``: held-out and training PSNR against training minutes, one colour per stage,
* ``state.json``: settings, stages, runs, the packed checkpoint's parts and hash,
* ``checkpoint.tar.00`` ...: the packed checkpoint (``cat OUT/checkpoint.tar.* | tar -x`` unpacks it).

``--smoke``: tiny sizes for the CPU test (tests/test_train_agent_size.py).  Needs torch, numpy, pillow,
safetensors and tqdm; matplotlib is optional (without it the curves are drawn with pillow).
"""

from __future__ import annotations

import csv
import dataclasses
import hashlib
import io
import json
import math
import shutil
import sys
import tarfile
import time
from dataclasses import dataclass
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from brushwork.agent import train as agent_train  # noqa: E402
from brushwork.io.files import atomic_write  # noqa: E402
from brushwork.io.weights import load_checkpoint  # noqa: E402
from brushwork.options import dataclass_parser  # noqa: E402

STAGES = ("scales", "size")
PACKED = ("checkpoint.pt", "log.csv", "actor.safetensors")  # a stage's work files that resume it
MiB = 2**20


@dataclass
class SizeArgs:
    minutes: float = 8.0  # training time of this run (each run trains on from OUT's last checkpoint)
    out: Path = Path("runs/agent-size")  # weights, logs, curves, state and the packed checkpoint: at most --max-files
    device: str = "cuda"  # cuda, cuda:1, cpu
    work: Path | None = None  # the trainer's folders (default: OUT-work beside OUT)
    data: str = "photos"  # train-agent --data: a fetched dataset or a folder of images
    data_root: Path | None = None
    init: str = "photo"  # the actor to start from: a shipped agent name, an actor .safetensors, or none
    min_crop: float = 0.1  # tiles cut at every scale from this fraction of the photo's short side to all of it
    scales_updates: int = 300  # stage 1 (the trained schedule on tiles at several scales); 0 skips it
    size_updates: int = 20_000  # stage 2's LR plan in updates (the time usually ends it first)
    side: int = 512  # stage 2's training image side (px): the painter's passes at this output size
    paint_strokes: str = "1000,200,500,2000,4000"  # stage 2's stroke counts (the first is the held-out evaluation's)
    envs: int = 8  # images per update
    lr: float = 2e-4  # peak actor LR (warm-up then cosine to a tenth over the stage's updates)
    fit_colors: bool = True  # the final loss on the painting with the painter's colour fit
    compile: bool = False  # torch.compile the soft rasteriser (faster once compiled; off: no first-run surprises)
    eval_images: int = 16
    eval_every: int = 50  # updates between held-out evaluations
    ckpt_every: int = 50  # updates between the trainer's checkpoints
    slice_minutes: float = 4.0  # pack OUT at least this often
    reserve: float = 0.05  # of --minutes kept for start-up, the last evaluation and packing
    part_mb: int = 16  # checkpoint.tar parts of at most this many MiB
    max_files: int = 8  # files in OUT at most
    seed: int = 0
    threads: int = 0  # torch threads (0: torch's default)
    smoke: bool = False  # tiny sizes: the CPU test

    def check(self) -> None:
        if self.minutes <= 0 or self.slice_minutes <= 0:
            raise ValueError(f"--minutes and --slice-minutes must be positive, got {self.minutes}, {self.slice_minutes}")
        if not 0 <= self.reserve < 1 or self.part_mb <= 0 or self.max_files < 5:
            raise ValueError("--reserve must be in [0, 1), --part-mb positive and --max-files at least 5")
        if self.scales_updates < 0 or self.size_updates <= 0:
            raise ValueError("--scales-updates must be >= 0 and --size-updates positive")
        for stage in STAGES:
            stage_args(self, stage, None, False).check()

    @property
    def work_dir(self) -> Path:
        return Path(self.work) if self.work else Path(str(Path(self.out).resolve()) + "-work")


def stage_args(a: SizeArgs, stage: str, init: Path | None, resume: bool, minutes: float = 0.0) -> agent_train.Args:
    """The train-agent settings of ``stage``: the `direct` preset (the shipped photo agent's architecture)
    with this stage's schedule, data and time."""
    base = agent_train.PRESETS["direct"]
    scales = stage == "scales"
    d = dict(data=a.data, data_root=a.data_root, min_crop=a.min_crop, envs=a.envs, lr_actor=a.lr, fit_colors=a.fit_colors,
             compile=a.compile, eval_images=a.eval_images, eval_every=a.eval_every, ckpt_every=a.ckpt_every,
             init_actor=init, resume=resume, minutes=minutes, out=a.work_dir / stage, device=a.device, seed=a.seed,
             threads=a.threads, levels="1x8,2x4,4x1", side=128 if scales else a.side,
             paint_strokes="200,50" if scales else a.paint_strokes)
    if a.smoke:
        d.update(width=8, side=64 if scales else 128, paint_strokes="50,20" if scales else "80,40", eval_images=2)
    steps = sum(int(t) for _, t in (lv.split("x") for lv in d["levels"].split(",")))
    d["total_steps"] = steps * (a.scales_updates if scales else a.size_updates)  # direct: updates = total_steps // steps
    return dataclasses.replace(base, **d)


def planned_updates(a: SizeArgs, stage: str) -> int:
    return a.scales_updates if stage == "scales" else a.size_updates


# --- OUT: state, packed checkpoint, log, curves ------------------------------------------------------------


def read_state(out: Path) -> dict:
    path = out / "state.json"
    if path.is_file():
        return json.loads(path.read_text())
    return {"stages": {}, "runs": [], "pack": None, "weights_stage": None}


def write_json(path: Path, obj) -> None:
    atomic_write(path, lambda tmp: Path(tmp).write_text(json.dumps(obj, indent=1, default=str) + "\n"))


def copy_atomic(src: Path, dst: Path) -> None:
    atomic_write(dst, lambda tmp: shutil.copyfile(src, tmp))


def pack(a: SizeArgs, stage: str, state: dict) -> None:
    """The stage's work files (`PACKED`) as OUT/checkpoint.tar.NN parts (each atomically replaced; stale
    parts removed); their hash goes into ``state["pack"]`` (state.json is written after this)."""
    folder = a.work_dir / stage
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for name in PACKED:
            if (folder / name).is_file():
                tar.add(folder / name, arcname=name)
    data = buf.getvalue()
    size = a.part_mb * MiB
    parts = [data[i : i + size] for i in range(0, len(data), size)]
    out = Path(a.out)
    if 4 + len(parts) > a.max_files:
        state["pack"] = {"stage": stage, "left_out": f"{len(data) / MiB:.0f} MiB needs {len(parts)} parts; the "
                         f"checkpoint stays in {folder} (OUT may hold {a.max_files} files)"}
        return
    names = []
    for i, chunk in enumerate(parts):
        names.append(f"checkpoint.tar.{i:02d}")
        atomic_write(out / names[-1], lambda tmp, chunk=chunk: Path(tmp).write_bytes(chunk))
    for old in out.glob("checkpoint.tar.*"):
        if old.name not in names:
            old.unlink()
    state["pack"] = {"stage": stage, "parts": names, "bytes": len(data), "sha256": hashlib.sha256(data).hexdigest()}


def unpack(a: SizeArgs, stage: str, state: dict) -> bool:
    """Restore the stage's work files from OUT's parts when the work folder has no checkpoint of it (a fresh
    machine); True when it did.  A pack whose hash does not match is refused, naming the files."""
    p = state.get("pack") or {}
    folder = a.work_dir / stage
    if (folder / "checkpoint.pt").is_file() or p.get("stage") != stage or not p.get("parts"):
        return False
    data = b"".join((Path(a.out) / n).read_bytes() for n in p["parts"])
    if hashlib.sha256(data).hexdigest() != p["sha256"]:
        raise ValueError(f"{a.out}/checkpoint.tar.*: the parts do not match state.json's sha256 (a copy cut short?)")
    folder.mkdir(parents=True, exist_ok=True)
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        for m in tar.getmembers():
            if m.name in PACKED:
                (folder / m.name).write_bytes(tar.extractfile(m).read())
    return True


def stage_rows(a: SizeArgs, stage: str) -> list[dict]:
    """The trainer's evaluation rows of ``stage`` (its log.csv) as dicts of numbers."""
    path = a.work_dir / stage / "log.csv"
    if not path.is_file():
        return []
    rows = []
    with open(path, newline="") as f:
        for r in csv.DictReader(f):
            row = {"stage": stage}
            for k, v in r.items():
                try:
                    row[k] = float(v) if k not in ("updates", "images") else int(float(v))
                except (TypeError, ValueError):
                    row[k] = v
            rows.append(row)
    return rows


def write_log(a: SizeArgs, stage: str, state: dict) -> list[dict]:
    """OUT/log.jsonl: the runs, the evaluation rows of the stages before (kept from the previous log) and of
    ``stage`` (from its log.csv); returns the evaluation rows."""
    path = Path(a.out) / "log.jsonl"
    old = [json.loads(line) for line in path.read_text().splitlines() if line.strip()] if path.is_file() else []
    kept = [r for r in old if "event" not in r and r.get("stage") != stage]
    rows = kept + stage_rows(a, stage)
    lines = [{"event": "run", **r} for r in state["runs"]] + rows
    atomic_write(path, lambda tmp: Path(tmp).write_text("".join(json.dumps(r) + "\n" for r in lines)))
    return rows


def curves(rows: list[dict], path: Path) -> None:
    """Held-out and training PSNR against training minutes (the stages one after the other)."""
    offset, series = 0.0, {}
    for stage in STAGES:
        pts = [r for r in rows if r.get("stage") == stage and isinstance(r.get("eval_psnr"), float)]
        if pts:
            series[stage] = [((offset + r["seconds"]) / 60, r["eval_psnr"], r.get("train_psnr")) for r in pts]
            offset += pts[-1]["seconds"]
    if not series:
        return
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return curves_pillow(series, path)

    def draw(tmp: str) -> None:
        fig, ax = plt.subplots(figsize=(7, 4), dpi=110)
        for i, (stage, pts) in enumerate(series.items()):
            ax.plot([p[0] for p in pts], [p[1] for p in pts], marker="o", color=f"C{i}", label=f"{stage}: held-out")
            train = [(p[0], p[2]) for p in pts if isinstance(p[2], float) and math.isfinite(p[2])]
            if train:
                ax.plot(*zip(*train), ls=":", color=f"C{i}", label=f"{stage}: training (smoothed)")
        ax.set_xlabel("training minutes")
        ax.set_ylabel("PSNR (dB)")
        ax.set_title("at-size agent (scripts/train_agent_size.py)", fontsize=10)
        ax.grid(True, alpha=0.3)
        ax.legend(fontsize=8)
        fig.tight_layout()
        fig.savefig(tmp, format="png")
        plt.close(fig)

    atomic_write(path, draw, suffix=".png")


def curves_pillow(series: dict, path: Path) -> None:
    """The held-out curves drawn with pillow alone (a machine without matplotlib)."""
    from PIL import Image, ImageDraw

    w, h, m = 700, 400, 50
    img = Image.new("RGB", (w, h), "white")
    g = ImageDraw.Draw(img)
    pts = [p for s in series.values() for p in s]
    x0, x1 = 0.0, max(p[0] for p in pts) or 1.0
    y0, y1 = min(p[1] for p in pts), max(p[1] for p in pts)
    y0, y1 = (y0 - 0.5, y1 + 0.5) if y1 - y0 < 1 else (y0, y1)
    to = lambda p: (m + (p[0] - x0) / (x1 - x0) * (w - 2 * m), h - m - (p[1] - y0) / (y1 - y0) * (h - 2 * m))  # noqa: E731
    g.rectangle([m, m, w - m, h - m], outline="black")
    g.text((m, h - m + 8), f"0 .. {x1:.1f} training minutes", fill="black")
    g.text((4, m - 14), f"held-out PSNR {y0:.2f} .. {y1:.2f} dB", fill="black")
    for i, (stage, s) in enumerate(series.items()):
        colour = ("#1f77b4", "#ff7f0e", "#2ca02c")[i % 3]
        xy = [to(p) for p in s]
        if len(xy) > 1:
            g.line(xy, fill=colour, width=2)
        for x, y in xy:
            g.ellipse([x - 3, y - 3, x + 3, y + 3], fill=colour)
        g.text((w - m - 120, m + 8 + 14 * i), stage, fill=colour)
    atomic_write(path, lambda tmp: img.save(tmp, format="PNG"), suffix=".png")


# --- the run -----------------------------------------------------------------------------------------------


def stage_progress(a: SizeArgs, stage: str) -> dict:
    path = a.work_dir / stage / "checkpoint.pt"
    if not path.is_file():
        return {"updates": 0, "seconds": 0.0, "best_psnr": None}
    s = load_checkpoint(path)["state"]
    best = s.get("best_psnr")
    return {"updates": int(s["updates"]), "seconds": round(float(s["seconds"]), 1),
            "best_psnr": None if best is None or not math.isfinite(best) else round(float(best), 3)}


def start_actor(a: SizeArgs, stage: str, state: dict) -> Path | None:
    """What ``stage`` starts from when it has no checkpoint: the previous stage's best actor (OUT's copy),
    else --init."""
    i = STAGES.index(stage)
    before = [s for s in STAGES[:i] if planned_updates(a, s) > 0]
    if before and state.get("weights_stage") == before[-1] and (Path(a.out) / "actor.safetensors").is_file():
        copy = a.work_dir / f"init-{stage}.safetensors"  # OUT's file is replaced as this stage exports
        copy_atomic(Path(a.out) / "actor.safetensors", copy)
        return copy
    if a.smoke or a.init.lower() == "none":
        return None
    from brushwork.io.weights import resolve

    return resolve(a.init, "actor")


def main(a: SizeArgs) -> dict:
    a.check()
    t0 = time.time()
    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    state = read_state(out)
    state["settings"] = {k: str(v) for k, v in dataclasses.asdict(a).items()}
    state["runs"].append({"started": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t0)), "minutes": a.minutes,
                          "device": a.device, "cuda": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
                          "torch": torch.__version__})
    deadline = t0 + a.minutes * 60 * (1 - a.reserve)
    while True:
        todo = [s for s in STAGES if planned_updates(a, s) > 0 and not state["stages"].get(s, {}).get("done")]
        left = deadline - time.time()
        if not todo or left < 1:
            break
        stage = todo[0]
        unpack(a, stage, state)
        before = stage_progress(a, stage)
        resume = (a.work_dir / stage / "checkpoint.pt").is_file()
        init = None if resume else start_actor(a, stage, state)
        minutes = min(a.slice_minutes * 60, left) / 60
        print(f"train_agent_size: stage {stage}, {'resuming at update ' + str(before['updates']) if resume else 'from ' + str(init)}, "
              f"{minutes:.2f} min", flush=True)
        agent_train.main(stage_args(a, stage, init, resume, minutes))
        now = stage_progress(a, stage)
        done = now["updates"] >= planned_updates(a, stage)
        state["stages"][stage] = {**now, "planned": planned_updates(a, stage), "done": done}
        if (a.work_dir / stage / "actor.safetensors").is_file():
            copy_atomic(a.work_dir / stage / "actor.safetensors", out / "actor.safetensors")
            state["weights_stage"] = stage
        if (a.work_dir / stage / "checkpoint.pt").is_file():
            pack(a, stage, state)
        rows = write_log(a, stage, state)
        curves(rows, out / "curves.png")
        state["runs"][-1]["seconds"] = round(time.time() - t0, 1)
        write_json(out / "state.json", state)  # last: it names the parts just written
        if now["updates"] == before["updates"] and not done:
            break  # no update in a whole slice: too little time left for one
    state["runs"][-1]["seconds"] = round(time.time() - t0, 1)
    write_json(out / "state.json", state)
    files = sorted(p.name for p in out.iterdir() if p.is_file() and not p.name.startswith("."))
    progress = ", ".join(f"{s} {v['updates']}/{v['planned']} updates" for s, v in state["stages"].items())
    print(f"train_agent_size: {progress}; OUT {out}: {', '.join(files)}", flush=True)
    return state


def parse(argv: list[str] | None = None) -> SizeArgs:
    return SizeArgs(**vars(dataclass_parser(SizeArgs, __doc__, paths=("out", "work", "data_root")).parse_args(argv)))


if __name__ == "__main__":
    main(parse())
