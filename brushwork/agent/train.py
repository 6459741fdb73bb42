"""Train a painting agent with DDPG (docs/method.md, "Training"): model-based by default, the paper's settings as presets.

    brushwork train-agent --preset small --data photos --out runs/agent           # CPU-sized
    brushwork train-agent --preset paper-celeba --data ~/celeba --device cuda      # the paper's

Reads top to bottom: settings -> data -> renderer -> environment -> agent -> replay -> loop of
(paint a batch of episodes, store them, run updates, log / evaluate / checkpoint).  Checkpoints are
atomic and hold everything (replay included by default), so ``--resume`` continues identically.
"""

from __future__ import annotations

import csv
import dataclasses
import math
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated

import torch
import torch.distributed as dist
from tqdm import tqdm

from .. import device as distributed
from ..io.files import truncate_log
from ..io.weights import resume_checkpoint, save_checkpoint, save_weights
from ..options import choices
from ..stroke import N_PARAMS, SHAPES
from ..stroke.canvas import NAMED
from .ddpg import Agent, DDPGConfig
from .env import PaintEnv, make_renderer, to_float
from .evaluate import run_episodes
from .networks import NORMS, NetConfig, count_parameters
from .replay import EpisodeReplay
from .targets import open_data

ALGOS = ("model-based", "model-free", "direct")
REWARDS = ("wgan", "l2", "psnr")


@dataclass
class Args:
    """Train a painting agent (DDPG). Pick a --preset, then override any setting."""

    preset: str = "small"  # settings preset (small, paper-mnist, paper-svhn, paper-celeba, paper-imagenet)
    data: str = "photos"  # mnist, fashion, photos, faces, solid, strokes, or a folder of images
    data_root: Path | None = None  # where `brushwork data fetch` put the datasets (default: its default)
    # (held-out crops keep 0.25, so that every run's curve is measured on the same images)
    min_crop: float = 0.25  # training crops of folder data: side in [min_crop, 1] of the shorter side (1 = whole images)
    size: int = 64  # canvas side W in pixels (paper 128)
    shape: Annotated[str, choices(SHAPES, help="stroke shape")] = "bezier"
    renderer: str = "analytic"  # analytic (soft rasteriser), neural (shipped), or a renderer .safetensors
    compile: bool = True  # torch.compile the analytic rasteriser (slow to compile, then much faster)
    bundle: int = 5  # strokes per step k (paper 5)
    steps: int = 40  # steps per episode T: strokes = k T (paper: 1 MNIST, 8 SVHN, 40 CelebA, 80 ImageNet)
    envs: int = 16  # parallel canvases per rank (paper 96)
    batch: int = 32  # replay batch per update (paper 96)
    width: int = 32  # ResNet width of actor and critic (paper 64)
    algo: Annotated[str, choices(ALGOS, help="model-based (paper DDPG), model-free (patch-Q DDPG) or direct (backprop through "
                                            "the rollout, no critic)")] = "model-based"
    patch_q: bool = True  # model-free: one Q per image patch (the paper's baseline) or one per image
    reward: Annotated[str, choices(REWARDS, help="DDPG reward: wgan (paper), l2, or psnr (10 log10(e_t / e_t+1): sums to the "
                                                 "episode's PSNR gain)")] = "wgan"
    discount: float = 0.95  # per-stroke discount; the per-step gamma is discount ** bundle (paper)
    tau: float = 0.001  # soft target update rate
    noise: float | None = None  # exploration noise std (default: 0 model-based, 0.05 model-free)
    replay: int = 800  # replay capacity in episodes (paper 800)
    warmup: int = 400  # batched env steps before updates start (paper 400)
    updates_per_episode: int = 10  # updates after each batched episode (paper 10)
    total_steps: int = 200_000  # batched env steps in all (paper 2M)
    lr_critic: float = 3e-4  # then /3 at 20 % and /10 at 40 % of the updates (paper schedule)
    lr_actor: float = 1e-3
    warmstart: int = 0  # greedy actor pre-training updates (gamma 0, L2 reward, no critic) before DDPG
    init_actor: Path | None = None  # start the actor (and its target) from these actor weights
    critic_warmup: int = 0  # DDPG: first updates in which only the critic learns (actor LR 0), so that a fresh
    # critic's early, arbitrary gradients do not undo an --init-actor before it has learned anything
    background: Annotated[str, choices(NAMED, "transparent", "#rrggbb", help="canvas background (paper: black)")] = "black"
    norm: Annotated[str, choices(NORMS, help="actor normalisation: batch (paper) or group (no batch statistics)")] = "batch"
    spread_init: bool = False  # start the k strokes of a step spread over the canvas at moderate size
    levels: str = "1x8,2x4,4x1"  # direct: coarse-to-fine levels GRIDxSTEPS (tiles per side x steps); images are size x max grid
    side: int = 0  # direct: training image side in px (0 = size x the finest grid, so the finest tiles are seen at
    # their own resolution; smaller is cheaper: strokes are frame-relative, so they paint any size)
    paint_strokes: str = ""  # direct: paint like `paint()` does for these stroke counts, e.g. 200,50 (one per update)
    # instead of --levels as given: the painter's passes, finer pass and slot allotment (the first count is the
    # held-out evaluation's); --levels stays the agent's nominal levels, from which the painter plans
    fit_colors: bool = False  # direct: final loss on the painting with the painter's colour fit (as `paint()` colours it)
    # (schedule.color_fit, on by default in `paint`): shapes trained for the colours they will be given
    inter_weight: float = 0.3  # direct: weight of the intermediate steps' log MSE (the final step's is 1)
    pretrain: int = 0  # direct: "where to paint" updates first (predict k random strokes added to a random canvas)
    pretrain_batch: int = 64  # direct: batch of those updates
    grad_clip: float = 1.0  # direct: gradient norm clip (0 = off)
    lr_warmup: int = 100  # direct: the actor LR rises linearly over this many first updates: Adam's first steps move
    # every weight by ~lr whatever its gradient, which undoes much of a trained actor when training on from
    # it (--init-actor; docs/choices.md#lr-warm-up); 0 = off
    minutes: float = 0.0  # stop (checkpoint + export) after this many minutes of this run (0 = no limit)
    until_steps: int = 0  # DDPG: stop (checkpoint, export) after this many env steps (0 = --total-steps), LR plan unchanged
    eval_every: int = 50  # batched episodes between evaluations
    eval_images: int = 32  # held-out images per evaluation
    ckpt_every: int = 20  # batched episodes between checkpoints
    save_replay: bool = True  # include the replay in checkpoints (exact resume; big)
    log_every: int = 100  # updates between log lines
    out: Path = Path("runs/agent")  # checkpoint.pt, log.csv, actor.safetensors, tb/
    resume: bool = False  # continue from out/checkpoint.pt
    device: str = "auto"
    seed: int = 0
    deterministic: bool = False  # torch deterministic algorithms (slower)
    threads: int = 0  # torch threads (0 = default)
    tensorboard: bool = False  # log scalars and images to out/tb (needs tensorboard)

    @property
    def total_updates(self) -> int:
        episodes = max(0, self.total_steps - self.warmup) // self.steps
        return max(1, episodes * self.updates_per_episode)

    def check(self) -> None:
        if self.shape not in SHAPES:
            raise ValueError(f"--shape must be one of {', '.join(SHAPES)}")
        for f in ("size", "bundle", "steps", "envs", "batch", "width", "replay", "updates_per_episode", "total_steps",
                  "eval_every", "eval_images", "ckpt_every", "log_every"):
            if getattr(self, f) <= 0:
                raise ValueError(f"--{f.replace('_', '-')} must be positive, got {getattr(self, f)}")
        if self.size < 32 or self.size & (self.size - 1):
            raise ValueError(f"--size must be a power of two >= 32, got {self.size}")
        if self.algo not in ALGOS:
            raise ValueError(f"--algo must be one of {', '.join(ALGOS)}, got {self.algo!r}")
        if self.reward not in REWARDS:
            raise ValueError(f"--reward must be one of {', '.join(REWARDS)}, got {self.reward!r}")
        if self.norm not in NORMS:
            raise ValueError(f"--norm must be one of {', '.join(NORMS)}, got {self.norm!r}")
        if self.algo == "direct":
            from .direct import parse_levels

            parse_levels(self.levels)
            if self.paint_strokes:
                try:
                    counts = [int(v) for v in self.paint_strokes.split(",")]
                except ValueError:
                    raise ValueError(f"--paint-strokes must be comma-separated stroke counts, got {self.paint_strokes!r}") from None
                if min(counts) <= 0:
                    raise ValueError(f"--paint-strokes must be positive, got {self.paint_strokes!r}")
        if self.lr_warmup < 0:
            raise ValueError(f"--lr-warmup must be >= 0, got {self.lr_warmup}")
        if self.minutes < 0 or self.until_steps < 0:
            raise ValueError(f"--minutes and --until-steps must be >= 0, got {self.minutes} and {self.until_steps}")
        if not 0 < self.min_crop <= 1:
            raise ValueError(f"--min-crop must be in (0, 1], got {self.min_crop}")
        if not (0 <= self.discount <= 1 and 0 < self.tau <= 1):
            raise ValueError("--discount must be in [0, 1] and --tau in (0, 1]")
        if self.warmup < 0 or self.warmstart < 0 or self.critic_warmup < 0 or (self.noise is not None and self.noise < 0):
            raise ValueError("--warmup, --warmstart, --critic-warmup and --noise must be >= 0")

    def prepare(self):
        """Check the settings, join the process group if any, set threads and determinism: (Dist, device)."""
        self.check()
        d, device = distributed.setup(self.device)
        if self.threads:
            torch.set_num_threads(self.threads)
        if self.deterministic:
            torch.use_deterministic_algorithms(True)
        return d, device

    def configs(self) -> tuple[NetConfig, DDPGConfig]:
        noise = self.noise if self.noise is not None else (0.0 if self.algo == "model-based" else 0.05)
        return (NetConfig(width=self.width, bundle=self.bundle, norm=self.norm),
                DDPGConfig(steps=self.steps, algo=self.algo, patch_q=self.patch_q, reward=self.reward,
                           gamma=self.discount**self.bundle, tau=self.tau, noise=noise))

    def identity(self) -> dict:
        """Settings a checkpoint must share with a run that resumes it."""
        keys = ("size", "shape", "renderer", "bundle", "steps", "envs", "width", "algo", "patch_q", "reward", "replay", "background")
        ident = {k: getattr(self, k) for k in keys}
        if self.norm != "batch":
            ident["norm"] = self.norm
        if self.algo == "direct":  # the DDPG-only settings do not matter; the rollout's do
            for k in ("renderer", "steps", "patch_q", "reward", "replay"):
                ident.pop(k)
            ident["levels"] = self.levels
            ident["side"] = self.side
            if self.paint_strokes:
                ident["paint_strokes"] = self.paint_strokes
            if self.fit_colors:
                ident["fit_colors"] = True
            if self.pretrain:
                ident["pretrain"] = self.pretrain
        return ident


_PAPER = dict(size=128, renderer="neural", envs=96, batch=96, width=64, total_steps=2_000_000)
PRESETS: dict[str, Args] = {
    "small": Args(),
    # Backprop through a 200-stroke coarse-to-fine rollout at 128 px (32 px observations), no critic.
    "direct": Args(preset="direct", algo="direct", size=32, width=32, envs=8, norm="group", spread_init=True,
                   levels="1x8,2x4,4x1", side=64, lr_actor=5e-4, total_steps=13 * 20_000, eval_every=100, ckpt_every=50),
    "paper-mnist": Args(preset="paper-mnist", data="mnist", steps=1, **_PAPER),
    "paper-svhn": Args(preset="paper-svhn", data="photos", steps=8, **_PAPER),
    "paper-celeba": Args(preset="paper-celeba", data="faces", steps=40, **_PAPER),
    "paper-imagenet": Args(preset="paper-imagenet", data="photos", steps=80, **_PAPER),
}


def lr_at(update: int, args: Args) -> tuple[float, float]:
    """Paper: (3e-4, 1e-3) -> (1e-4, 3e-4) after 1e5 -> (3e-5, 1e-4) after 2e5 of 5e5 updates; scaled.
    The actor's LR is 0 in the first ``args.critic_warmup`` updates."""
    f = update / args.total_updates
    div = (1.0, 1.0) if f < 0.2 else (3.0, 10 / 3) if f < 0.4 else (10.0, 10.0)
    return args.lr_critic / div[0], (0.0 if update < args.critic_warmup else args.lr_actor / div[1])


def evaluate(agent: Agent, env: PaintEnv, targets: torch.Tensor, shape: str = "bezier") -> dict[str, float]:
    """Paint held-out targets with the eval-mode actor: mean L2 (MSE) and PSNR of the final canvases, plus
    the collapse report (`evaluate.collapse_report`: PSNR per step, flat fill, stroke spread)."""
    r = run_episodes(env, agent.act, targets, shape)
    return {"eval_l2": r["l2"], "eval_psnr": r["psnr"], **{k: v for k, v in r.items() if k not in ("l2", "psnr", "canvases", "targets")}}


def main(args: Args) -> Path:
    if args.algo == "direct":  # its own loop: no critic, replay or environment steps
        from .direct import main as direct_main

        return direct_main(args)
    # --- settings ------------------------------------------------------------------------------
    d, device = args.prepare()
    torch.manual_seed(args.seed + 1000 * d.rank)
    gen = torch.Generator().manual_seed(args.seed + 1000 * d.rank)  # data and replay sampling
    out = Path(args.out)
    net_cfg, ddpg_cfg = args.configs()

    # --- data, renderer, environment, agent, replay ---------------------------------------------
    train_data = open_data(args, "train", args.seed + d.rank)
    eval_targets = open_data(args, "test", 0).sample(args.eval_images, torch.Generator().manual_seed(12345)) if d.main else None
    render = make_renderer(args.renderer, args.shape, args.size, device, compile=args.compile)
    env = PaintEnv(args.size, args.bundle, args.steps, render, args.background, device)
    eval_env = PaintEnv(args.size, args.bundle, args.steps, render, args.background, device)
    agent = Agent(net_cfg, ddpg_cfg, render).to(device)
    if d.enabled:
        for p in agent.state_dict().values():
            dist.broadcast(p, 0)

        def sync(module: torch.nn.Module) -> None:
            for p in module.parameters():
                if p.grad is not None:
                    dist.all_reduce(p.grad)
                    p.grad /= d.world

        agent.sync = sync
    if args.init_actor is not None and not args.resume:
        from ..io.weights import load_state_strict, load_weights

        state_init, _ = load_weights(args.init_actor, "actor")
        load_state_strict(agent.actor, state_init, args.init_actor)
        agent.actor_t.load_state_dict(agent.actor.state_dict())
    replay = EpisodeReplay(args.replay, args.steps, args.size, args.bundle * N_PARAMS)
    state = {"env_steps": 0, "episodes": 0, "updates": 0, "warmstart_done": 0, "seconds": 0.0, "best_psnr": -math.inf}
    ckpt_path, log_path = out / "checkpoint.pt", out / "log.csv"
    if args.resume:
        ck = resume_checkpoint(ckpt_path, args.identity(), map_location=device)
        agent.load_state_dict(ck["agent"])
        for name in ("opt_actor", "opt_critic", "opt_disc"):
            getattr(agent, name).load_state_dict(ck[name])
        if "replay" in ck:
            replay.load_state_dict(ck["replay"])
        gen.set_state(ck["gen"])
        torch.set_rng_state(ck["torch_rng"])
        state.update(ck["state"])
        if d.main:
            truncate_log(log_path, "episodes", state["episodes"])  # rows a killed run logged after its last checkpoint
    if d.main:
        out.mkdir(parents=True, exist_ok=True)
        print(f"agent: {args.algo}, reward {args.reward}, {args.bundle}x{args.steps} strokes at {args.size}px, renderer "
              f"{args.renderer}, actor {count_parameters(agent.actor) / 1e6:.2f} M, critic {count_parameters(agent.critic) / 1e6:.2f} M, "
              f"replay {replay.nbytes / 2**20:.0f} MiB ({replay.bytes_per_transition() / 1024:.1f} KiB/transition), "
              f"{args.total_updates} updates planned, device {device}, world {d.world}")
        if not log_path.exists():
            log_path.write_text("episodes,env_steps,updates,seconds,critic_loss,actor_loss,q,reward,disc_loss,eval_l2,eval_psnr,"
                                "flat_psnr,centre_spread,stroke_size,steps_psnr\n")
    writer = None
    if d.main and args.tensorboard:
        from torch.utils.tensorboard import SummaryWriter

        writer = SummaryWriter(str(out / "tb"))

    def checkpoint() -> None:
        if not d.main:
            return
        payload = {"agent": agent.state_dict(), "opt_actor": agent.opt_actor.state_dict(),
                   "opt_critic": agent.opt_critic.state_dict(), "opt_disc": agent.opt_disc.state_dict(),
                   "gen": gen.get_state(), "torch_rng": torch.get_rng_state(), "state": dict(state),
                   "identity": args.identity(), "args": {k: str(v) for k, v in dataclasses.asdict(args).items()}}
        if args.save_replay:
            payload["replay"] = replay.state_dict()
        save_checkpoint(ckpt_path, payload)

    def export(path: Path, metrics: dict) -> None:
        config = {"net": dataclasses.asdict(net_cfg), "size": args.size, "steps": args.steps, "shape": args.shape,
                  "background": args.background, "renderer": args.renderer, "algo": args.algo, "reward": args.reward,
                  "data": args.data}
        save_weights(path, agent.actor.state_dict(), "actor", config, steps=state["updates"], metric=metrics,
                     info={"env_steps": state["env_steps"], "seconds": round(state["seconds"], 1), "device": str(device),
                           "world": d.world}, half=True)

    # --- greedy warm start (optional) -------------------------------------------------------------
    bar = tqdm(total=args.total_steps, initial=state["env_steps"], disable=not d.main, dynamic_ncols=True, desc="agent", unit="step")
    t_last = time.time()
    acc: dict[str, float] = {}

    def log_metrics(m: dict[str, float]) -> None:
        for k, v in m.items():
            acc[k] = 0.95 * acc.get(k, v) + 0.05 * v

    # --- main loop: paint a batch of episodes, store, update ---------------------------------------
    deadline = time.time() + args.minutes * 60 if args.minutes else math.inf
    stop_steps = min(args.total_steps, args.until_steps or args.total_steps)
    while state["env_steps"] < stop_steps and time.time() < deadline:
        obs = env.reset(train_data.sample(args.envs, gen).to(device))
        canvases, actions = [obs["canvas"].cpu()], []
        for _ in range(args.steps):
            a = agent.act(obs, ddpg_cfg.noise, gen)
            obs, _ = env.step(a)
            canvases.append(obs["canvas"].cpu())
            actions.append(a.cpu())
        replay.add(torch.stack(canvases, 1), env.target.cpu(), torch.stack(actions, 1))
        state["env_steps"] += args.steps
        state["episodes"] += 1
        bar.update(args.steps)
        if state["env_steps"] > args.warmup:
            for _ in range(args.updates_per_episode):
                batch = {k: v.to(device) for k, v in replay.sample(args.batch, gen).items()}
                if state["warmstart_done"] < args.warmstart:
                    log_metrics(agent.warmstart(batch, args.lr_actor))
                    state["warmstart_done"] += 1
                    continue
                log_metrics(agent.update(batch, *lr_at(state["updates"], args)))
                state["updates"] += 1
                if d.main and state["updates"] % args.log_every == 0:
                    bar.write(f"update {state['updates']}: " + ", ".join(f"{k} {v:.4g}" for k, v in sorted(acc.items())))
                    if writer:
                        for k, v in acc.items():
                            writer.add_scalar(f"train/{k}", v, state["updates"])
        now = time.time()
        state["seconds"] += now - t_last
        t_last = now
        last = state["env_steps"] >= stop_steps or time.time() >= deadline
        if d.main and (state["episodes"] % args.eval_every == 0 or last):
            ev = evaluate(agent, eval_env, eval_targets.to(device), args.shape)
            bar.set_postfix(psnr=f"{ev['eval_psnr']:.2f}dB")
            bar.write(f"eval after {state['updates']} updates: {ev['eval_psnr']:.2f} dB (flat fill {ev['flat_psnr']:.2f}), "
                      + " ".join(f"{k}:{v:.2f}" for k, v in ev.items() if k.startswith("psnr@"))
                      + f", centre spread {ev['centre_spread']:.3f}, stroke size {ev['stroke_size']:.3f}")
            with open(log_path, "a", newline="") as f:
                csv.writer(f).writerow([state["episodes"], state["env_steps"], state["updates"], round(state["seconds"], 1)]
                                       + [f"{acc.get(k, float('nan')):.5g}"
                                          for k in ("critic_loss", "actor_loss", "q", "reward", "disc_loss")]
                                       + [f"{ev['eval_l2']:.6g}", f"{ev['eval_psnr']:.3f}", f"{ev['flat_psnr']:.3f}",
                                          f"{ev['centre_spread']:.4f}", f"{ev['stroke_size']:.4f}",
                                          " ".join(f"{k[5:]}:{v:.2f}" for k, v in ev.items() if k.startswith("psnr@"))])
            if writer:
                writer.add_scalar("eval/psnr", ev["eval_psnr"], state["updates"])
                writer.add_scalar("eval/l2", ev["eval_l2"], state["updates"])
                writer.add_images("eval/canvas", to_float(eval_env.canvas[:8]), state["updates"])
                writer.add_images("eval/target", to_float(eval_env.target[:8]), state["updates"])
            if ev["eval_psnr"] > state["best_psnr"]:
                state["best_psnr"] = ev["eval_psnr"]
                export(out / "actor.safetensors", {"eval_psnr_db": round(ev["eval_psnr"], 3), "eval_l2": ev["eval_l2"],
                                                   "eval_images": args.eval_images})
            t_last = time.time()
        if state["episodes"] % args.ckpt_every == 0 or last:
            checkpoint()
    bar.close()
    if d.main:
        print(f"done: {state['updates']} updates, {state['env_steps']} env steps, {state['seconds'] / 3600:.2f} h; "
              f"best eval PSNR {state['best_psnr']:.2f} dB -> {out / 'actor.safetensors'}")
    distributed.cleanup(d)
    return out / "actor.safetensors"
