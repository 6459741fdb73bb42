"""`brushwork bench training`: environment steps/s and DDPG updates/s of the agent trainer.

Times, side by side in one run, the CPU-sized default (`--preset small`) and the paper's configuration
(`--preset paper-celeba`: 128 px, ResNet-18 width 64, the paper-size neural renderer, 96 envs, batch
96), with random targets and a replay of random episodes, so nothing needs fetched data or trained
weights.  Writes docs/benchmarks/training.md.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, replace
from pathlib import Path

import torch

from ..agent.ddpg import Agent
from ..agent.env import PaintEnv
from ..agent.replay import EpisodeReplay
from ..render.model import NeuralRenderer, RendererConfig, as_stroke_renderer
from ..stroke import N_PARAMS
from .common import command_line, fmt, log, machine, machine_line, md_table, set_threads, text_table


@dataclass
class TrainingBenchArgs:
    """Env steps/s and updates/s of `train-agent`: the small preset vs the paper's."""

    presets: str = "small,paper-celeba"  # train-agent presets to time, comma-separated
    steps: int = 3  # timed env steps and updates per preset (after one warm-up of each)
    threads: int = 0  # torch threads (0 = torch's default)
    compile: bool = True  # torch.compile the analytic rasteriser where a preset uses it (compile time reported apart)
    out: Path = Path("docs/benchmarks/training.md")  # markdown report
    json: Path | None = None  # also write the numbers as JSON


def _renderer(args, size: int, device):
    """The preset's renderer; a neural one gets random paper-size weights (timing only)."""
    from ..agent.env import make_renderer

    if args.renderer == "analytic":
        return make_renderer("analytic", args.shape, size, device, compile=args.compile)
    model = NeuralRenderer(RendererConfig(shape=args.shape, size=size)).eval().requires_grad_(False)
    return as_stroke_renderer(model)


def time_preset(name: str, bench: TrainingBenchArgs) -> dict:
    from ..agent.train import PRESETS

    args = replace(PRESETS[name], compile=bench.compile)
    net_cfg, ddpg_cfg = args.configs()
    device = torch.device("cpu")
    render = _renderer(args, args.size, device)
    env = PaintEnv(args.size, args.bundle, args.steps, render, args.background, device)
    agent = Agent(net_cfg, ddpg_cfg, render)
    g = torch.Generator().manual_seed(0)
    targets = torch.randint(0, 256, (args.envs, 3, args.size, args.size), dtype=torch.uint8, generator=g)
    episodes = 4
    replay = EpisodeReplay(episodes, args.steps, args.size, args.bundle * N_PARAMS)
    replay.add(torch.randint(0, 256, (episodes, args.steps + 1, 3, args.size, args.size), dtype=torch.uint8, generator=g),
               torch.randint(0, 256, (episodes, 3, args.size, args.size), dtype=torch.uint8, generator=g),
               torch.rand(episodes, args.steps, args.bundle * N_PARAMS, generator=g))
    obs = env.reset(targets)
    t0 = time.perf_counter()
    obs, _ = env.step(agent.act(obs))  # warm-up (and compilation)
    agent.update({k: v for k, v in replay.sample(args.batch, g).items()}, 3e-4, 1e-3)
    warm = time.perf_counter() - t0
    t0 = time.perf_counter()
    for _ in range(bench.steps):
        if env.t >= env.steps:
            obs = env.reset(targets)
        obs, _ = env.step(agent.act(obs))
    env_s = (time.perf_counter() - t0) / bench.steps
    t0 = time.perf_counter()
    for _ in range(bench.steps):
        agent.update(replay.sample(args.batch, g), 3e-4, 1e-3)
    upd_s = (time.perf_counter() - t0) / bench.steps
    # One batched env step paints `envs` canvases; the paper counts it as one step of its 2M.
    per_episode = args.steps * env_s + args.updates_per_episode * upd_s
    return {"preset": name, "size": args.size, "width": args.width, "envs": args.envs, "batch": args.batch,
            "renderer": args.renderer, "env_step_s": env_s, "env_steps_per_s": 1 / env_s,
            "canvas_steps_per_s": args.envs / env_s, "update_s": upd_s, "updates_per_s": 1 / upd_s,
            "episode_s": per_episode, "warmup_s": warm}


def run(bench: TrainingBenchArgs) -> list[dict]:
    threads = set_threads(bench.threads)
    rows = []
    for name in [p.strip() for p in bench.presets.split(",") if p.strip()]:
        log(f"timing preset {name} ...")
        rows.append(time_preset(name, bench))
    headers = ["preset", "canvas", "actor width", "envs", "batch", "renderer", "env steps/s", "canvas-steps/s",
               "updates/s", "s / batched episode", "warm-up s"]
    table = [[r["preset"], f"{r['size']}²", r["width"], r["envs"], r["batch"], r["renderer"], fmt(r["env_steps_per_s"], 2),
              fmt(r["canvas_steps_per_s"], 1), fmt(r["updates_per_s"], 3), fmt(r["episode_s"], 1), fmt(r["warmup_s"], 1)]
             for r in rows]
    print(text_table(headers, table))
    if len(rows) >= 2:
        ratio = rows[1]["update_s"] / rows[0]["update_s"]
        print(f"one {rows[1]['preset']} update costs {ratio:.1f}x a {rows[0]['preset']} update")
    m = machine(threads)
    text = ["# Agent training speed", "", f"Measured by `{command_line('training', bench)}` on {machine_line(m)}.", "",
            "An env step paints one action bundle on every parallel canvas (the paper counts it as one of its 2M "
            "steps); an update is one model-based DDPG update on a replay batch (discriminator, critic, actor, "
            "soft updates). Random targets and replay; neural renderers have random weights (timing only). "
            "Warm-up (first step and update, including torch.compile) is excluded and shown apart.", "",
            md_table(headers, table), ""]
    bench.out.parent.mkdir(parents=True, exist_ok=True)
    bench.out.write_text("\n".join(text))
    if bench.json:
        bench.json.write_text(json.dumps({"machine": m, "rows": rows}, indent=1))
    return rows
