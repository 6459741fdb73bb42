"""Train a neural stroke renderer against a shape's exact reference rasteriser (docs/method.md, "Renderers").

    brushwork train-renderer --shape bezier --size 128 --steps 500000 --out runs/renderer-bezier

Batches of random strokes (all shape numbers i.i.d. U[0, 1]) are rasterised on the fly by the
reference, in a background worker process.  The LR follows the paper's schedule scaled to ``steps``
(1e-4, x0.1 at 40 %, x0.01 at 80 %).  Validation PSNR is measured on a fixed held-out set of strokes.
Checkpoints are atomic; ``--resume`` continues a killed run exactly where its last checkpoint was (under
another architecture it is refused, naming the differing settings).  ``--minutes``: a budget of training
time over all resumes; the LR schedule then follows whichever of steps and time is further along.
``--data-device train``: rasterise the batches on the training device itself (a GPU rasterises them far
faster than CPU workers) instead of in ``--workers`` CPU processes.
Under ``torchrun`` each rank draws its own strokes and gradients are averaged (DDP).
"""

from __future__ import annotations

import csv
import dataclasses
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated

import torch
from torch.utils.data import DataLoader, IterableDataset
from tqdm import tqdm

from .. import device as distributed
from ..io.files import truncate_log
from ..io.weights import resume_checkpoint, save_checkpoint, save_weights
from ..metrics import psnr_from_mse
from ..options import choices
from ..stroke import N_SHAPE, SHAPES, get_shape
from .model import NeuralRenderer, RendererConfig, count_parameters


@dataclass
class Args:
    """Train a neural renderer for one stroke shape."""

    shape: Annotated[str, choices(SHAPES, help="stroke shape to imitate")] = "bezier"
    size: int = 128  # output side in pixels: 16 * 2**k
    width: float = 1.0  # layer-width multiplier (1.0 = the paper's 11 M-parameter model at 128 px)
    steps: int = 500_000  # optimiser steps (paper: 500k)
    batch: int = 64  # strokes per step per rank (paper: 64)
    lr: float = 1e-4  # initial LR; x0.1 at 40 % and x0.01 at 80 % of the steps (paper schedule)
    val_strokes: int = 1000  # fixed held-out validation strokes
    val_every: int = 1000  # steps between validations
    ckpt_every: int = 500  # steps between checkpoints
    out: Path = Path("runs/renderer")  # output folder: checkpoint.pt, log.csv, renderer.safetensors
    resume: bool = False  # continue from out/checkpoint.pt
    minutes: float = 0.0  # training-time budget over all resumes (0 = none); the LR schedule follows steps or time
    device: str = "auto"  # auto, cpu, cuda, cuda:1, ...
    data_device: str = "cpu"  # where batches are rasterised: cpu (in --workers processes) or train (the training device)
    workers: int = 1  # data-generation processes (0 = generate in the training process)
    threads: int = 0  # torch threads for training (0 = torch's default)
    seed: int = 0
    half: bool = True  # export fp16 weights (the shipped format; `brushwork bench renderers` measures the file)
    tensorboard: bool = False  # also log to out/tb (needs the tensorboard package)

    def check(self) -> None:
        if self.shape not in SHAPES:
            raise ValueError(f"--shape must be one of {', '.join(SHAPES)}, got {self.shape!r}")
        RendererConfig(shape=self.shape, size=self.size, width=self.width).rounds  # noqa: B018  (validates size)
        for name in ("steps", "batch", "val_strokes", "val_every", "ckpt_every"):
            if getattr(self, name) <= 0:
                raise ValueError(f"--{name.replace('_', '-')} must be positive, got {getattr(self, name)}")
        if not (0 < self.lr < 1):
            raise ValueError(f"--lr must be in (0, 1), got {self.lr}")
        if self.width <= 0:
            raise ValueError(f"--width must be positive, got {self.width}")
        if self.minutes < 0:
            raise ValueError(f"--minutes must be >= 0, got {self.minutes}")
        if self.data_device not in ("cpu", "train"):
            raise ValueError(f"--data-device must be cpu or train, got {self.data_device!r}")


def progress(step: int, elapsed: float, args: Args) -> float:
    """How far the run is along its plan, in [0, 1]: steps done, or training time spent of ``--minutes``."""
    return max(step / args.steps, elapsed / (60 * args.minutes) if args.minutes else 0.0)


def lr_at(step: int, args: Args, elapsed: float = 0.0) -> float:
    """The paper's schedule (1e-4 -> 1e-5 at 200k -> 1e-6 at 400k of 500k) scaled to the run's `progress`."""
    f = progress(step, elapsed, args)
    if f >= 0.8:
        return args.lr * 0.01
    if f >= 0.4:
        return args.lr * 0.1
    return args.lr


def stroke_batch(shape_name: str, size: int, batch: int, seed: int, device="cpu") -> tuple[torch.Tensor, torch.Tensor]:
    """(strokes (B, 10), reference alpha (B, size, size)) drawn from ``seed`` alone, rasterised on ``device``.

    When the shape has exact x/y symmetry, half the batch is the transposed copy of the other half:
    the reference is the expensive part, and a transposed stroke is a new, exact training example.
    """
    g = torch.Generator().manual_seed(seed)
    shape = get_shape(shape_name)
    half = batch // 2 if shape.xy_pairs else batch
    strokes = torch.rand(half, N_SHAPE, generator=g).to(device)
    alpha = shape.reference(strokes, size)
    if half < batch:
        extra = batch - half
        strokes = torch.cat([strokes, shape.transpose(strokes[:extra])])
        alpha = torch.cat([alpha, alpha[:extra].transpose(1, 2)])
    return strokes, alpha


class StrokeStream(IterableDataset):
    """Batches for steps start, start+1, ...; the batch of step i depends only on (seed, rank, i),
    so a resumed run sees the same data it would have seen."""

    def __init__(self, args: Args, rank: int, start: int, device="cpu"):
        self.args, self.rank, self.start, self.device = args, rank, start, device

    def __iter__(self):
        a = self.args
        step = self.start
        while True:
            yield stroke_batch(a.shape, a.size, a.batch, batch_seed(a.seed, self.rank, step), self.device)
            step += 1


def batch_seed(seed: int, rank: int, step: int) -> int:
    return hash((seed, rank, step)) & 0x7FFFFFFF


def validation_set(args: Args, device="cpu") -> tuple[torch.Tensor, torch.Tensor]:
    """The held-out strokes and their reference maps, rasterised on ``device`` (the same strokes on any)."""
    # A seed no training batch uses (training seeds are hashes of tuples).
    return stroke_batch(args.shape, args.size, args.val_strokes, 10_000_019 + args.seed, device)


@torch.no_grad()
def evaluate(model: torch.nn.Module, val: tuple[torch.Tensor, torch.Tensor], device, chunk: int = 250) -> float:
    """Validation PSNR (dB) of alpha maps over the whole held-out set."""
    model.eval()
    err, n = 0.0, 0
    for i in range(0, len(val[0]), chunk):
        x, y = val[0][i : i + chunk].to(device), val[1][i : i + chunk].to(device)
        err += float(((model(x) - y) ** 2).mean(dim=(1, 2)).sum())
        n += len(x)
    model.train()
    return float(psnr_from_mse(err / n))


def main(args: Args) -> Path:
    args.check()
    d, device = distributed.setup(args.device)
    if args.threads:
        torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    out = Path(args.out)
    ckpt_path, log_path = out / "checkpoint.pt", out / "log.csv"
    config = RendererConfig(shape=args.shape, size=args.size, width=args.width)
    model = NeuralRenderer(config).to(device)
    opt = torch.optim.Adam(model.parameters(), lr=args.lr)
    step, best, elapsed = 0, float("-inf"), 0.0
    if args.resume:
        ck = resume_checkpoint(ckpt_path, config.to_dict(), map_location=device, key="config")
        model.load_state_dict(ck["model"])
        opt.load_state_dict(ck["opt"])
        step, best, elapsed = ck["step"], ck["best"], ck.get("elapsed", 0.0)
        truncate_log(log_path, "step", step)  # rows a killed run logged after its last checkpoint
    net = torch.nn.parallel.DistributedDataParallel(model) if d.enabled else model
    val = validation_set(args, device if args.data_device == "train" else "cpu") if d.main else None
    writer = None
    if d.main:
        out.mkdir(parents=True, exist_ok=True)
        print(f"renderer {config} — {count_parameters(model) / 1e6:.2f} M parameters, device {device}, world {d.world}")
        if args.tensorboard:
            from torch.utils.tensorboard import SummaryWriter

            writer = SummaryWriter(str(out / "tb"))
        if not log_path.exists():
            log_path.write_text("step,seconds,lr,train_loss,val_psnr\n")

    def checkpoint() -> None:
        if d.main:
            save_checkpoint(ckpt_path, {"model": model.state_dict(), "opt": opt.state_dict(), "step": step,
                                        "best": best, "elapsed": elapsed, "config": config.to_dict(),
                                        "args": {k: str(v) for k, v in dataclasses.asdict(args).items()}})

    def export(path: Path, psnr: float) -> None:
        save_weights(path, model.state_dict(), "renderer", config.to_dict(), steps=step,
                     metric={"val_psnr_db": round(psnr, 3), "val_strokes": args.val_strokes},
                     info={"lr": args.lr, "batch": args.batch * d.world, "seconds": round(elapsed, 1),
                           "device": str(device)}, half=args.half)

    on_device = args.data_device == "train"
    workers = 0 if on_device else args.workers
    loader = DataLoader(StrokeStream(args, d.rank, step, device if on_device else "cpu"), batch_size=None,
                        num_workers=workers, prefetch_factor=4 if workers else None, persistent_workers=False)
    data = iter(loader)
    bar = tqdm(total=args.steps, initial=step, disable=not d.main, dynamic_ncols=True, desc="renderer")
    t_last, loss_avg = time.time(), None
    budget = 60 * args.minutes if args.minutes else float("inf")
    while step < args.steps and elapsed < budget:
        x, y = next(data)
        x, y = x.to(device, non_blocking=True), y.to(device, non_blocking=True)
        for g in opt.param_groups:
            g["lr"] = lr_at(step, args, elapsed)
        loss = torch.nn.functional.mse_loss(net(x), y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        step += 1
        now = time.time()
        elapsed += now - t_last
        t_last = now
        li = loss.item()
        loss_avg = li if loss_avg is None else 0.98 * loss_avg + 0.02 * li
        bar.update(1)
        if step % 50 == 0:
            bar.set_postfix(loss=f"{loss_avg:.2e}", best=f"{best:.2f}dB")
        last = step == args.steps or elapsed >= budget
        if d.main and (step % args.val_every == 0 or last):
            v = evaluate(model, val, device)
            with open(log_path, "a", newline="") as f:
                csv.writer(f).writerow([step, round(elapsed, 1), lr_at(step - 1, args, elapsed), f"{loss_avg:.6g}", f"{v:.3f}"])
            if writer:
                writer.add_scalar("val/psnr", v, step)
                writer.add_scalar("train/loss", loss_avg, step)
            if v > best:
                best = v
                export(out / "renderer.safetensors", v)
            t_last = time.time()  # validation time is not training time
        if step % args.ckpt_every == 0 or last:
            checkpoint()
    bar.close()
    if d.main:
        final = evaluate(model, val, device)
        print(f"done: {step} steps, {elapsed / 3600:.2f} h, final val PSNR {final:.2f} dB, best {best:.2f} dB "
              f"-> {out / 'renderer.safetensors'}")
    distributed.cleanup(d)
    return out / "renderer.safetensors"
