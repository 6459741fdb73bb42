#!/usr/bin/env python3
"""The GPU kit (issue 34): N minutes of a CUDA machine -> neural renderers for every shape and the paper's
model-based DDPG agent, neural renderer in the loop against the exact rasteriser.

    python scripts/gpu_kit.py --minutes 10 --out OUT --device cuda --data photos

It runs, in order, each phase resuming from its checkpoint in WORK when the kit is run again:

1. **renderers** (``--renderer-share`` of the time, split evenly between ``--shapes``): `brushwork
   train-renderer` for each shape at ``--renderer-size`` / ``--renderer-width`` (1.0 = the paper's 11 M
   parameters), batches rasterised on the GPU itself when its reference agrees with the CPU's
   (``--data-device auto``), else in CPU worker processes; the LR schedule follows the time budget.
2. **agent** (the rest, split evenly between two arms): ``--preset`` (the paper's model-based DDPG) twice
   with the same seed: arm ``neural`` paints through a frozen copy of the kit's renderer of its shape, arm
   ``exact`` through the analytic (exact, differentiable) rasteriser, stopped at the env steps the neural
   arm reached (``--until-steps``), so both have had the same updates at the same learning rates.  Each
   arm's final actor is then judged through both renderers on the same held-out images.
3. **export**, after every phase, so a run cut off still leaves its weights: ``OUT/summary.json``,
   ``OUT/renderers.csv``, ``OUT/agent.csv``, ``OUT/curves.png`` (when matplotlib is installed; the CSVs
   hold the same curves) and the weights (fp16 safetensors) packed into ``OUT/weights.tar.NN`` parts of
   at most ``--part-mb`` MiB: ``cat OUT/weights.tar.* | tar -x`` unpacks them.  At most ``--max-files``
   files in all and ``--max-mb`` MiB of parts; weights that do not fit are listed in the summary
   (``left_out``) and stay in WORK.

``--minutes`` is the training time of every phase together over all runs of the kit on one WORK (default:
OUT's sibling ``OUT-work``, which holds checkpoints and full logs): run the kit again with the same
arguments and it continues where it was cut off; with more minutes, it trains on.  ``--reserve`` of the
time is kept for validation, evaluation, start-up and export.  Checkpoints are written atomically, so a
run killed at any moment loses at most one checkpoint interval.  Resuming under another architecture is
refused naming the differing settings.  ``--smoke``: tiny sizes, for the CPU test (tests/test_gpu_kit.py).
"""

from __future__ import annotations

import csv
import dataclasses
import filecmp
import io
import json
import os
import shutil
import sys
import tarfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from brushwork.agent import train as agent_train  # noqa: E402
from brushwork.io.files import atomic_write  # noqa: E402
from brushwork.io.weights import load_checkpoint, read_metadata  # noqa: E402
from brushwork.options import dataclass_parser  # noqa: E402
from brushwork.render import train as renderer_train  # noqa: E402
from brushwork.stroke import SHAPES  # noqa: E402

ARMS = ("neural", "exact")
MiB = 2**20


@dataclass
class KitArgs:
    minutes: float = 10.0  # training time of all phases together, over every run on this WORK
    out: Path = Path("kit-out")  # deliverables: at most --max-files files
    device: str = "cuda"  # cuda, cuda:1, cpu
    work: Path | None = None  # checkpoints and full logs (default: OUT-work beside OUT); keep it to resume
    shapes: tuple[str, ...] = SHAPES
    renderer_share: float = 0.6  # of the training time, for the renderers
    renderer_size: int = 128  # px (paper 128)
    renderer_width: float = 1.0  # layer-width multiplier (1.0 = the paper's 11 M parameters)
    renderer_batch: int = 64  # strokes per step (paper 64)
    renderer_steps: int = 500_000  # the LR plan in steps (paper 500k); the time budget usually ends the run first
    val_strokes: int = 1000
    val_every: int = 500
    ckpt_every: int = 500
    data_device: str = "auto"  # auto (the GPU when its reference matches the CPU's), train, cpu
    workers: int = -1  # CPU data processes when rasterising on the CPU (-1: cores - 2)
    preset: str = "paper-celeba"  # train-agent preset: the paper's model-based DDPG
    data: str = "photos"  # train-agent --data (a fetched dataset or a folder of images)
    data_root: Path | None = None
    agent_set: list[str] = field(default_factory=list)  # further train-agent settings, KEY=VALUE
    agent_steps: int = 0  # the agent's LR plan in env steps (0: the preset's)
    arms: tuple[str, ...] = ARMS
    compile: bool = True  # torch.compile the analytic rasteriser in the exact arm
    reserve: float = 0.15  # of --minutes kept for validation, evaluation, start-up and export
    part_mb: int = 16  # weights.tar parts of at most this many MiB
    max_files: int = 8  # files in OUT at most
    max_mb: int = 64  # MiB of weights parts at most
    seed: int = 0
    threads: int = 0  # torch threads (0: torch's default)
    smoke: bool = False  # tiny sizes and steps: the CPU test

    def check(self) -> None:
        if self.minutes <= 0:
            raise ValueError(f"--minutes must be positive, got {self.minutes}")
        bad = [s for s in self.shapes if s not in SHAPES]
        if bad:
            raise ValueError(f"--shapes: unknown {', '.join(bad)} (known: {', '.join(SHAPES)})")
        if not 0 <= self.renderer_share <= 1 or not 0 <= self.reserve < 1:
            raise ValueError("--renderer-share must be in [0, 1] and --reserve in [0, 1)")
        if any(a not in ARMS for a in self.arms):
            raise ValueError(f"--arms must be among {', '.join(ARMS)}, got {', '.join(self.arms)}")
        if self.data_device not in ("auto", "train", "cpu"):
            raise ValueError(f"--data-device must be auto, train or cpu, got {self.data_device!r}")
        if self.preset not in agent_train.PRESETS:
            raise ValueError(f"--preset must be one of {', '.join(agent_train.PRESETS)}, got {self.preset!r}")
        if self.part_mb <= 0 or self.max_files < 4 or self.max_mb < self.part_mb:
            raise ValueError("--part-mb must be positive, --max-files at least 4 and --max-mb at least --part-mb")
        agent_overrides(self)  # KEY=VALUE settings parse

    @property
    def work_dir(self) -> Path:
        return Path(self.work) if self.work else Path(str(Path(self.out).resolve()) + "-work")


# --- settings of each phase --------------------------------------------------------------------------------

SMOKE_RENDERER = dict(size=32, width=0.25, batch=4, steps=6, val_strokes=8, val_every=3, ckpt_every=3, workers=0)
SMOKE_AGENT = dict(data="solid", size=32, bundle=2, steps=2, envs=4, batch=4, width=8, warmup=4, eval_every=2, eval_images=4,
                   ckpt_every=3, log_every=1000, replay=20, total_steps=12, updates_per_episode=2, compile=False)


def agent_overrides(kit: KitArgs) -> dict:
    """--agent-set KEY=VALUE pairs as train-agent settings, typed like the preset's."""
    fields = {f.name: f for f in dataclasses.fields(agent_train.Args)}
    base = agent_train.PRESETS[kit.preset]
    out = {}
    for item in kit.agent_set:
        key, sep, value = item.partition("=")
        key = key.strip().replace("-", "_")
        if not sep or key not in fields:
            raise ValueError(f"--agent-set: expected KEY=VALUE with KEY a train-agent setting, got {item!r}")
        old = getattr(base, key)
        if isinstance(old, bool):
            out[key] = value.lower() in ("1", "true", "yes", "on")
        elif isinstance(old, (int, float)):
            out[key] = type(old)(value)
        elif isinstance(old, Path) or key in ("data_root", "init_actor"):
            out[key] = Path(value)
        else:
            out[key] = value
    return out


def renderer_args(kit: KitArgs, shape: str, minutes: float, data_device: str) -> renderer_train.Args:
    out = kit.work_dir / f"renderer-{shape}"
    workers = kit.workers if kit.workers >= 0 else max(1, (os.cpu_count() or 2) - 2)
    a = dict(shape=shape, size=kit.renderer_size, width=kit.renderer_width, batch=kit.renderer_batch, steps=kit.renderer_steps,
             val_strokes=kit.val_strokes, val_every=kit.val_every, ckpt_every=kit.ckpt_every, workers=workers)
    if kit.smoke:
        asked = {k for k, f in (("size", "renderer_size"), ("width", "renderer_width"), ("steps", "renderer_steps"),
                                ("batch", "renderer_batch")) if getattr(kit, f) != getattr(KitArgs, f)}
        a.update({k: v for k, v in SMOKE_RENDERER.items() if k not in asked})  # a setting asked for stays
    return renderer_train.Args(**a, out=out, resume=(out / "checkpoint.pt").is_file(), minutes=minutes, device=kit.device,
                               data_device=data_device, threads=kit.threads, seed=kit.seed, half=True)


def agent_args(kit: KitArgs, arm: str, renderer: str, minutes: float, until: int) -> agent_train.Args:
    out = kit.work_dir / f"agent-{arm}"
    a = dict(data=kit.data, data_root=kit.data_root, compile=kit.compile)
    if kit.agent_steps:
        a["total_steps"] = kit.agent_steps
    if kit.smoke:
        a.update(SMOKE_AGENT)
    a.update(agent_overrides(kit))
    return dataclasses.replace(agent_train.PRESETS[kit.preset], **a, renderer=renderer, out=out, minutes=minutes,
                               until_steps=until, resume=(out / "checkpoint.pt").is_file(), device=kit.device,
                               seed=kit.seed, threads=kit.threads)


def pick_data_device(kit: KitArgs, shape: str, size: int, device: torch.device) -> tuple[str, str]:
    """(data device for train-renderer, why): the GPU rasterises batches far faster than CPU workers, but is
    used only when its reference maps match the CPU's on a test batch."""
    if kit.data_device != "auto":
        return kit.data_device, "asked"
    if device.type == "cpu":
        return "cpu", "training on the CPU"
    try:
        _, on_dev = renderer_train.stroke_batch(shape, size, 16, 12345, device)
        _, on_cpu = renderer_train.stroke_batch(shape, size, 16, 12345, "cpu")
        err = float((on_dev.cpu() - on_cpu).abs().mean())
    except Exception as e:  # any failure of the reference on the device: fall back to CPU workers
        return "cpu", f"the reference failed on {device}: {type(e).__name__}: {e}"
    if err > 1e-4:
        return "cpu", f"the reference on {device} differs from the CPU's (mean abs {err:.2e})"
    return "train", f"the reference on {device} matches the CPU's (mean abs {err:.1e})"


# --- the kit's own state: runs so far, per-phase results --------------------------------------------------

def peek(path: Path) -> dict:
    """A checkpoint, memory-mapped: reading its step counts does not load the paper preset's replay (GBs)."""
    try:
        return torch.load(path, map_location="cpu", mmap=True, weights_only=False)
    except Exception:  # not mmap-able (an old format): the ordinary, checked load
        return load_checkpoint(path)


def checkpoint_seconds(path: Path, kind: str) -> tuple[float, int]:
    """(training seconds, steps) recorded in a checkpoint; (0, 0) when there is none."""
    if not path.is_file():
        return 0.0, 0
    ck = peek(path)
    if kind == "renderer":
        return float(ck.get("elapsed", 0.0)), int(ck["step"])
    return float(ck["state"]["seconds"]), int(ck["state"]["env_steps"])


def write_json(path: Path, obj: dict) -> None:
    atomic_write(path, lambda tmp: Path(tmp).write_text(json.dumps(obj, indent=2, default=str) + "\n"))


def read_csv(path: Path) -> list[dict]:
    if not path.is_file():
        return []
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


# --- phases ------------------------------------------------------------------------------------------------

def train_renderers(kit: KitArgs, state: dict, device: torch.device, budget_s: float, deadline: float) -> None:
    per_shape = budget_s / max(1, len(kit.shapes))
    for shape in kit.shapes:
        rec = state["renderers"].setdefault(shape, {})
        args = renderer_args(kit, shape, per_shape / 60, "cpu")
        spent, _ = checkpoint_seconds(args.out / "checkpoint.pt", "renderer")
        if time.time() >= deadline:
            rec["note"] = "skipped in the last run: out of time"
            continue
        if spent < per_shape:
            args.data_device, rec["data_device_why"] = pick_data_device(kit, shape, args.size, device)
            rec["data_device"] = args.data_device
            renderer_train.main(args)
        ck = peek(args.out / "checkpoint.pt")
        rec.update(steps=ck["step"], seconds=round(ck["elapsed"], 1), budget_seconds=round(per_shape, 1),
                   best_val_psnr_db=round(ck["best"], 3), config=ck["config"], note="")
        rec.update(fp16_check(args, device))
        export(kit, state)


def fp16_check(args: renderer_train.Args, device: torch.device) -> dict:
    """The exported (fp16) renderer's validation PSNR beside the fp32 one it was exported at: what storing it
    in half precision costs (`brushwork bench renderers` measures the same file)."""
    from brushwork.render.model import load_renderer

    path = args.out / "renderer.safetensors"
    model = load_renderer(str(path), device, shape=args.shape, size=args.size)
    fp16 = renderer_train.evaluate(model, renderer_train.validation_set(args, device if args.data_device == "train" else "cpu"), device)
    fp32 = model.meta["metric"].get("val_psnr_db")
    return {"exported_steps": model.meta["steps"], "exported_val_psnr_db_fp32": fp32, "exported_val_psnr_db_fp16": round(fp16, 3),
            "fp16_loss_db": round(fp32 - fp16, 3) if fp32 is not None else None}


def train_agent(kit: KitArgs, state: dict, budget_s: float, deadline: float) -> None:
    per_arm = budget_s / max(1, len(kit.arms))
    work = kit.work_dir
    shape = agent_args(kit, "neural", "analytic", 0, 0).shape
    trained = work / f"renderer-{shape}" / "renderer.safetensors"
    frozen = work / "agent-neural" / "renderer.safetensors"
    reached = 0
    for arm in kit.arms:
        rec = state["agent"].setdefault(arm, {})
        if arm == "neural":
            if not frozen.is_file():  # the renderer this arm paints with, frozen at its first start
                frozen.parent.mkdir(parents=True, exist_ok=True)
                if trained.is_file():
                    shutil.copy2(trained, frozen)
            renderer = str(frozen) if frozen.is_file() else "neural"
            rec["renderer"] = (f"the kit's {shape} renderer as it was when this arm started ({read_metadata(frozen)['steps']} steps)"
                               if frozen.is_file() else f"the shipped {shape} renderer (the kit trained none)")
        else:
            renderer = "analytic"
            rec["renderer"] = "the analytic (exact, differentiable) rasteriser"
        ckpt = work / f"agent-{arm}" / "checkpoint.pt"
        spent, steps = checkpoint_seconds(ckpt, "agent")
        # The neural arm takes its share; the exact arm may use whatever the neural one left, to match its steps.
        until = reached if (arm == "exact" and "neural" in kit.arms) else 0
        cap = budget_s - checkpoint_seconds(work / "agent-neural" / "checkpoint.pt", "agent")[0] if until else per_arm
        left = min(cap - spent, deadline - time.time())
        if "neural" in kit.arms and arm == "exact" and reached == 0:
            rec["note"] = "not run: the neural arm has no steps to match"
        elif until and steps >= until:
            rec["note"] = ""  # already level with the neural arm
        elif left <= 0:
            rec["note"] = "time budget spent" if spent >= cap else "skipped in the last run: out of time"
        else:
            args = agent_args(kit, arm, renderer, left / 60, until)
            agent_train.main(args)
            rec["note"] = ""
        if ckpt.is_file():
            ck = peek(ckpt)
            s = ck["state"]
            rec.update(env_steps=s["env_steps"], updates=s["updates"], seconds=round(s["seconds"], 1),
                       budget_seconds=round(cap, 1), best_eval_psnr_db=round(s["best_psnr"], 3), identity=ck["identity"])
            if arm == "neural":
                reached = s["env_steps"]
        export(kit, state)
    if set(ARMS) <= set(kit.arms):
        a, b = (state["agent"].get(x, {}).get("updates") for x in ARMS)
        state["equal_updates"] = a is not None and a == b
    judge_arms(kit, state)
    export(kit, state)


def judge_arms(kit: KitArgs, state: dict) -> None:
    """Each arm's best actor, painting the same held-out images through each renderer: what the renderer's
    error does to the agent."""
    from brushwork.agent.evaluate import evaluate_policy
    from brushwork.agent.policy import load_agent
    from brushwork.agent.targets import open_data

    work = kit.work_dir
    renderers = {"exact": "analytic"}
    if (work / "agent-neural" / "renderer.safetensors").is_file():
        renderers["neural"] = str(work / "agent-neural" / "renderer.safetensors")
    for arm in kit.arms:
        actor = work / f"agent-{arm}" / "actor.safetensors"
        if not actor.is_file():
            continue
        args = agent_args(kit, arm, "analytic", 0, 0)
        targets = open_data(args, "test", 0).sample(args.eval_images, torch.Generator().manual_seed(12345))
        policy = load_agent(str(actor), kit.device)
        state["agent"][arm]["judged_psnr_db"] = {
            name: round(evaluate_policy(policy, targets, r)["psnr"], 3) for name, r in renderers.items()}


# --- export ------------------------------------------------------------------------------------------------

def export(kit: KitArgs, state: dict) -> None:
    """Write OUT's deliverables now (atomically), so a run cut off after this point still has them."""
    out, work = Path(kit.out), kit.work_dir
    out.mkdir(parents=True, exist_ok=True)
    written = ["summary.json"]
    for name, key, rows in (("renderers.csv", "shape", [(s, work / f"renderer-{s}" / "log.csv") for s in kit.shapes]),
                            ("agent.csv", "arm", [(a, work / f"agent-{a}" / "log.csv") for a in kit.arms])):
        table = [{key: who, **row} for who, path in rows for row in read_csv(path)]
        if table:
            cols = list(dict.fromkeys(k for row in table for k in row))

            def write(tmp, table=table, cols=cols):
                with open(tmp, "w", newline="") as f:
                    w = csv.DictWriter(f, cols)
                    w.writeheader()
                    w.writerows(table)

            atomic_write(out / name, write)
            written.append(name)
    try:
        if plot_curves(kit, out / "curves.png"):
            written.append("curves.png")
    except Exception as e:  # a figure is never worth the weights: the CSVs hold the same curves
        state["curves_error"] = f"{type(e).__name__}: {e}"
    files = [(f"renderer-{s}.safetensors", work / f"renderer-{s}" / "renderer.safetensors") for s in kit.shapes]
    files += [(f"actor-{a}.safetensors", work / f"agent-{a}" / "actor.safetensors") for a in kit.arms]
    frozen = work / "agent-neural" / "renderer.safetensors"
    same = [n for n, p in files[: len(kit.shapes)] if frozen.is_file() and p.is_file() and filecmp.cmp(frozen, p, shallow=False)]
    if same:  # the neural arm's renderer is one of the renderers packed already
        state["neural_arm_renderer"] = f"the same file as {same[0]}"
    else:
        files += [("renderer-neural-arm.safetensors", frozen)]
    parts, packed, left = pack(files, out, kit.part_mb * MiB,
                               max_parts=min(kit.max_files - len(written), kit.max_mb // kit.part_mb))
    state["outputs"] = written + parts
    state["packed"] = packed
    state["left_out"] = left
    state["unpack"] = f"cat {out}/weights.tar.* | tar -x -C DEST" if parts else ""
    write_json(out / "summary.json", state)


def pack(files: list[tuple[str, Path]], out: Path, part_bytes: int, max_parts: int) -> tuple[list[str], list[str], list[str]]:
    """Tar ``files`` (name in the archive, path) that exist, in order, into ``out/weights.tar.00``, ``.01``, ...
    of at most ``part_bytes`` each and at most ``max_parts`` parts; a file that would not fit is left out.
    Returns (part names, packed names, left-out "name (path, bytes)" lines)."""
    budget = part_bytes * max(0, max_parts)
    buf = io.BytesIO()
    packed, left = [], []
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for name, path in files:
            if not path.is_file():
                continue
            size = path.stat().st_size
            if buf.tell() + 512 + size + 1024 * 10 > budget:  # header, data, the end blocks and padding
                left.append(f"{name} ({path}, {size} bytes): over the output limits")
                continue
            tar.add(path, arcname=name)
            packed.append(name)
    data = buf.getvalue() if packed else b""
    parts = []
    for i in range(0, len(data), part_bytes):
        name = f"weights.tar.{len(parts):02d}"
        chunk = data[i : i + part_bytes]
        atomic_write(out / name, lambda tmp, chunk=chunk: Path(tmp).write_bytes(chunk))
        parts.append(name)
    for stale in out.glob("weights.tar.*"):
        if stale.name not in parts:
            stale.unlink()
    return parts, packed, left


def plot_curves(kit: KitArgs, path: Path) -> bool:
    """curves.png (renderer validation PSNR per shape, agent evaluation PSNR per arm) when matplotlib is
    installed; False (the CSVs hold the same curves) when it is not."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return False
    work = kit.work_dir
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4))
    for s in kit.shapes:
        rows = read_csv(work / f"renderer-{s}" / "log.csv")
        if rows:
            left.plot([int(r["step"]) for r in rows], [float(r["val_psnr"]) for r in rows], label=s)
    left.set(xlabel="step", ylabel="validation PSNR (dB)", title="neural renderers vs the reference")
    for a in kit.arms:
        rows = read_csv(work / f"agent-{a}" / "log.csv")
        if rows:
            right.plot([int(r["updates"]) for r in rows], [float(r["eval_psnr"]) for r in rows],
                       label=f"{a} (painting through its own renderer)")
    right.set(xlabel="DDPG updates", ylabel="held-out PSNR (dB)", title=f"{kit.preset}: neural vs exact renderer")
    for ax in (left, right):
        if ax.lines:
            ax.legend()
        ax.grid(alpha=0.3)
    fig.tight_layout()
    atomic_write(path, lambda tmp: fig.savefig(tmp, dpi=100, format="png"), suffix=".png")
    plt.close(fig)
    return True


# --- the kit -----------------------------------------------------------------------------------------------

def main(kit: KitArgs) -> dict:
    kit.check()
    start = time.time()
    if kit.threads:
        torch.set_num_threads(kit.threads)
    from brushwork.device import pick_device

    device = pick_device(kit.device)
    work = kit.work_dir
    work.mkdir(parents=True, exist_ok=True)
    # The agent's data first: a missing dataset should stop the kit before it spends any GPU time.
    from brushwork.agent.targets import open_data

    agent = agent_args(kit, "exact", "analytic", 0, 0)
    open_data(agent, "test", 0)
    if "neural" in kit.arms and agent.shape in kit.shapes and kit.renderer_share > 0:
        r = renderer_args(kit, agent.shape, 0, "cpu")
        if r.size < agent.size:  # the agent's environment would refuse it, after the renderers' minutes
            raise ValueError(f"the neural arm paints {agent.size} px canvases, but --renderer-size is {r.size} px: "
                             f"train renderers of at least {agent.size} px, or set the agent's size with --agent-set size={r.size}")
    state_path = work / "kit.json"
    state = json.loads(state_path.read_text()) if state_path.is_file() else {"runs": [], "renderers": {}, "agent": {}}
    run = {"started": time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(start)), "minutes": kit.minutes,
           "device": str(device), "torch": torch.__version__,
           "gpu": torch.cuda.get_device_name(device) if device.type == "cuda" else None, "finished": False}
    state["runs"].append(run)
    state["kit"] = {k: str(v) if isinstance(v, Path) else v for k, v in dataclasses.asdict(kit).items()}
    state["work"] = str(work)
    train_s = 60 * kit.minutes * (1 - kit.reserve)
    deadline = start + 60 * kit.minutes * (1 - kit.reserve / 2)  # this run's own wall-clock limit for starting work
    try:
        if kit.shapes and kit.renderer_share > 0:
            train_renderers(kit, state, device, train_s * kit.renderer_share, deadline)
        if kit.arms and kit.renderer_share < 1:
            train_agent(kit, state, train_s * (1 - kit.renderer_share), deadline)
        run["finished"] = True
    finally:
        run["wall_seconds"] = round(time.time() - start, 1)
        write_json(state_path, state)
        export(kit, state)
    return state


def parse(argv: list[str] | None = None) -> KitArgs:
    p = dataclass_parser(KitArgs, __doc__, paths=("work", "data_root"))
    ns = vars(p.parse_args(argv))
    for k in ("shapes", "arms"):
        ns[k] = tuple(v for item in ns[k] for v in item.split(",") if v)
    return KitArgs(**ns)


def stop_on_sigterm() -> None:
    """A machine's time limit usually ends a job with SIGTERM: turn it into KeyboardInterrupt, so that `main`
    still writes the summary and packs the weights of the last checkpoint before it exits."""
    import signal

    def handler(signum, frame):
        raise KeyboardInterrupt(f"signal {signum}")

    signal.signal(signal.SIGTERM, handler)


if __name__ == "__main__":
    stop_on_sigterm()
    result = main(parse())
    print(json.dumps({k: result.get(k) for k in ("renderers", "agent", "equal_updates", "outputs", "left_out")}, indent=2, default=str))
