"""``--algo direct``: train the actor by backpropagating the painting's error through a whole short,
coarse-to-fine rollout and the exact differentiable rasteriser.  No critic, no replay, no reward model.

One rollout paints B targets of side S = W * G (W: the actor's observation side, G: the finest grid)
in *levels*, like the painter does at inference: level ``g x T`` cuts canvas and target into g x g
disjoint square tiles, all tiles of all images are one batch, and the actor paints T steps of k
strokes on each tile (its observation is the tile resized to W, so finer grids mean smaller strokes).
With the default levels ``1x8,2x4,4x1`` and k = 5 that is 40 + 80 + 80 = 200 strokes on a 128 px
image in 13 batched steps.

``--paint-strokes N``: the rollout is instead the painter's own schedule for N strokes on the training
image (`painter_schedule`: the agent's passes plus the painter's finer one, `tiles.pass_budgets`'
shares, and a step the budget ends inside giving its slots to the tiles with the most error,
`tiles.allot_slots`), so the actor trains on exactly what `paint(method="agent")` asks of it.

Loss: log MSE of the final painting plus ``inter_weight`` x the mean log MSE after every earlier step
(log: each image's *relative* improvement counts, so late, small gains are not drowned by the first
strokes' big ones; the intermediate terms reward painting coarse to fine).  Gradients flow through
every composite and every stroke's soft alpha map into the actor; the strokes' frames and brush scale
(``native = W``) are the painter's, so the trained actor drops straight into ``paint(method="agent")``.
``--fit-colors``: the final term is on the painting with the painter's colour fit (`fitted_canvas`).
"""

from __future__ import annotations

import csv
import dataclasses
import math
import time
from pathlib import Path

import torch
from torch import Tensor
from tqdm import tqdm

from ..io.files import truncate_log
from ..io.images import resize_batch
from ..metrics import psnr_from_mse
from ..stroke import COLOR, N_PARAMS, get_shape
from ..stroke.canvas import Background, composite, stroke_colors
from .evaluate import collapse_report
from .networks import Actor, count_parameters, observation_planes


def parse_levels(spec: str) -> tuple[tuple[int, int], ...]:
    """"1x8,2x4,4x1" -> ((1, 8), (2, 4), (4, 1)): (grid, steps) per level; grids are powers of two."""
    levels = []
    for part in str(spec).replace(" ", "").split(","):
        try:
            g, t = (int(v) for v in part.lower().split("x"))
        except ValueError:
            raise ValueError(f"--levels must look like 1x8,2x4,4x1 (GRIDxSTEPS, comma-separated), got {spec!r}") from None
        if g < 1 or g & (g - 1) or t < 1:
            raise ValueError(f"--levels: grid must be a power of two and steps >= 1, got {part!r}")
        levels.append((g, t))
    if not levels:
        raise ValueError("--levels: at least one level")
    return tuple(levels)


def levels_strokes(levels, bundle: int) -> list[int]:
    """Strokes per image painted by each level: grid^2 x steps x k."""
    return [g * g * t * bundle for g, t in levels]


def to_tiles(x: Tensor, g: int) -> Tensor:
    """(B, C, S, S) -> (B g^2, C, S/g, S/g), tiles in row-major order per image."""
    if g == 1:
        return x
    b, c, s, _ = x.shape
    t = s // g
    return x.view(b, c, g, t, g, t).permute(0, 2, 4, 1, 3, 5).reshape(b * g * g, c, t, t)


def from_tiles(x: Tensor, g: int) -> Tensor:
    """Inverse of `to_tiles`."""
    if g == 1:
        return x
    n, c, t, _ = x.shape
    b = n // (g * g)
    return x.view(b, g, g, c, t, t).permute(0, 3, 1, 4, 2, 5).reshape(b, c, g * t, g * t)


def observe(x: Tensor, size: int) -> Tensor:
    """Resize tiles (N, C, t, t) to the actor's side as the painter does (`io.images.resize_batch`: area
    averaging down, bicubic up, clamped to [0, 1])."""
    return resize_batch(x, size, size)


def painter_schedule(levels, n_strokes: int, side: int, bundle: int, obs: int = 0) -> tuple[tuple[int, int, int], ...]:
    """The passes `paint(method="agent")` makes with an agent trained on ``levels`` (observation side ``obs``
    px, 0: no limit on the finest tiles) painting ``n_strokes`` on a side x side image (paper tiles, the
    finer passes on): (grid, steps, strokes per image) per pass, from `tiles.agent_passes` and
    `tiles.pass_budgets` (each trained level capped at its trained strokes once there are two finer passes
    or more, as in the painter); steps = ceil(strokes / (k grid^2)), as there."""
    from ..schedule.tiles import agent_passes, pass_budgets

    passes = agent_passes(n_strokes, levels, side, side, finer=True, obs=obs)
    out = []
    for p, budget in enumerate(pass_budgets(n_strokes, passes, levels, bundle)):
        if budget > 0:
            g = 2**p
            out.append((g, max(1, math.ceil(budget / (bundle * g * g))), budget))
    return tuple(out)


def rollout(actor: Actor, target: Tensor, shape, size: int, levels, background: Background,
            actions: list | None = None, record: list | None = None) -> tuple[Tensor, list[Tensor]]:
    """Paint targets (B, 3, S, S) float in [0, 1] level by level.  Returns the final canvases
    (B, 3, S, S) and the per-image MSE (B,) after every step; differentiable in the actor's weights.
    ``levels``: (grid, steps) or (grid, steps, strokes per image) per level (`painter_schedule`); a step
    that the strokes left end inside paints only the slots `tiles.allot_slots` gives them, and the actor
    runs only on the tiles that get one, as in the painter.
    ``actions``: if a list, each whole step's (B g^2, k, 13) strokes (detached) are appended to it.
    ``record``: if a list, each step's (grid, tiles painted (m,) or None for all, alpha maps (m, k, t, t)
    with gradients, strokes (m, k, 13) detached, slot mask (m, k) or None) is appended, for `fitted_canvas`."""
    from ..schedule.tiles import allot_slots

    b, _, side, _ = target.shape
    k = actor.cfg.bundle
    canvas = background.canvas(side, side, b, target.device)
    mses: list[Tensor] = []
    for level in levels:
        g, steps = level[0], level[1]
        left = level[2] if len(level) > 2 else g * g * steps * k
        tile = side // g
        tgt = to_tiles(target, g)
        obs_t = observe(tgt, size)
        c = to_tiles(canvas, g)
        n = c.shape[0]
        for t in range(steps):
            obs_c = observe(c, size)
            used = slots = None  # a whole step: every slot of every tile
            if left < g * g * k:
                err = ((obs_c - obs_t) ** 2).sum((1, 2, 3)).detach().view(b, g * g).cpu()
                slots = torch.cat([allot_slots(e, k, left) for e in err]).to(target.device)  # (n, k)
                used = slots.any(1).nonzero().squeeze(1)
                obs_c, slots = obs_c[used], slots[used]
            m = obs_c.shape[0]
            tt = torch.full((m,), t, dtype=torch.long, device=target.device)
            a = actor(observation_planes(obs_c, obs_t if used is None else obs_t[used], tt, steps))
            strokes = a.reshape(m * k, -1)
            alpha = shape.soft(strokes, tile, tile, native=float(size), validate=False).view(m, k, tile, tile)
            if slots is not None:
                alpha = alpha * slots.to(alpha.dtype).view(m, k, 1, 1)
            painted = composite(c if used is None else c[used], alpha, stroke_colors(strokes).view(m, k, 3))
            c = painted if used is None else c.index_copy(0, used, painted)
            if actions is not None and used is None:
                actions.append(strokes.detach().view(n, k, -1))
            if record is not None:
                record.append((g, used, alpha, strokes.detach().view(m, k, -1), slots))
            left -= min(left, g * g * k)
            mses.append(((c - tgt) ** 2).view(b, -1).mean(1))
            if left <= 0:
                break
        canvas = from_tiles(c, g)
    return canvas, mses


def fitted_canvas(target: Tensor, background: Background, record: list, shape, size: int) -> Tensor:
    """The rollout's painting (B, 3, S, S) repainted with the painter's fitted colours (`schedule.color_fit`:
    the best colours for the strokes' shapes, per image, by the exact rasteriser), from the rollout's
    ``record``.  The colours are constants and the alpha maps keep their gradients: the fitted error is a
    minimum over colours, so its gradient in the shapes is the partial one at the minimiser (the envelope
    theorem), and the shapes learn to be good *for the colours the painter will give them*."""
    from ..schedule.color_fit import fit_colors

    b, _, side, _ = target.shape
    k = record[0][3].shape[1]
    colours = [torch.zeros(r[3].shape[0], k, 3, device=target.device) for r in record]
    start = background.canvas(side, side, device=target.device)
    for i in range(b):
        st, fr, where = [], [], []
        for j, (g, used, _, strokes, slots) in enumerate(record):
            tiles = used if used is not None else torch.arange(strokes.shape[0], device=target.device)
            mine = (tiles // (g * g) == i).nonzero().squeeze(1)  # this image's rows of the step
            cell = tiles[mine] % (g * g)
            tile = side // g
            sl = slots[mine] if slots is not None else torch.ones(len(mine), k, dtype=torch.bool, device=target.device)
            rows, slot = sl.nonzero(as_tuple=True)
            st.append(strokes[mine][rows, slot])
            fr.append(torch.stack([(cell % g)[rows] * tile, (cell // g)[rows] * tile,
                                   torch.full_like(rows, tile)], 1).float())
            where.append((j, mine[rows], slot))
        frames = torch.cat(fr)
        fitted = fit_colors(start, target[i], shape, torch.cat(st), frames, float(size),
                            torch.cat([frames[:, :2], frames[:, :2] + frames[:, 2:]], 1))[:, COLOR]
        o = 0
        for j, rows, slot in where:
            colours[j][rows, slot] = fitted[o : o + len(rows)]
            o += len(rows)
    canvas = background.canvas(side, side, b, target.device)
    for (g, used, alpha, _, _), col in zip(record, colours):
        c = to_tiles(canvas, g)
        c = composite(c, alpha, col) if used is None else c.index_copy(0, used, composite(c[used], alpha, col))
        canvas = from_tiles(c, g)
    return canvas


def direct_loss(mses: list[Tensor], inter_weight: float) -> Tensor:
    """log MSE of the final canvas + inter_weight x mean log MSE of the earlier steps (batch mean)."""
    logs = torch.stack([torch.log(m + 1e-6) for m in mses])  # (steps, B)
    loss = logs[-1].mean()
    if inter_weight > 0 and len(mses) > 1:
        loss = loss + inter_weight * logs[:-1].mean()
    return loss


@torch.no_grad()
def evaluate_levels(actor: Actor, targets: Tensor, shape, size: int, levels, background: Background,
                    fit: bool = False) -> dict:
    """Held-out painting in eval mode, with what shows collapse: PSNR after steps 1, 5, 10, 20 and the
    last (batched steps), the flat-colour baseline (each image's mean colour) on the same images, and
    the spread across images of every stroke slot's centre and its mean size (fractions of its tile).

    ``fit``: ``psnr`` (and ``own_psnr``, the agent's own colours) is that of the painting with the colour
    fit (`fitted_canvas`).  targets: (B, 3, S, S) uint8 or float.  Returns a flat dict of floats (PSNR in dB)."""
    was = actor.training
    actor.eval()
    tg = targets.float() / 255 if targets.dtype == torch.uint8 else targets.float()
    acts: list[Tensor] = []
    record: list | None = [] if fit else None
    _, mses = rollout(actor, tg, shape, size, levels, background, acts, record)
    actor.train(was)
    out = collapse_report(mses, acts, tg, shape.name)
    out["psnr"] = out[f"psnr@{len(mses)}"]
    if fit:
        out["own_psnr"] = out["psnr"]
        fitted = fitted_canvas(tg, background, record, shape, size)
        out["psnr"] = float(psnr_from_mse(((fitted - tg) ** 2).flatten(1).mean(1)).mean())
    return out


# --- "where to paint" pre-training (the Paint Transformer trick) ---------------------------------------
def random_strokes(n: int, shape_name: str, gen: torch.Generator) -> Tensor:
    """(n, 13) random strokes of moderate size: centres anywhere, brush radii and extents up to about a
    third of the frame, fairly opaque, any colour."""
    s = torch.rand(n, N_PARAMS, generator=gen)
    if shape_name.startswith("bezier"):
        c = torch.rand(n, 2, generator=gen)
        half = (torch.rand(n, 2, generator=gen) - 0.5) * 0.4  # endpoints within +-0.2 of the centre
        s[:, 0:2], s[:, 4:6] = c - half, c + half
        s[:, 6:8] = 0.02 + 0.2 * s[:, 6:8]
        s[:, 8:10] = 0.6 + 0.4 * s[:, 8:10]
    elif shape_name == "circle":
        s[:, 2] = 0.03 + 0.25 * s[:, 2]
        s[:, 3] = 0.6 + 0.4 * s[:, 3]
    elif shape_name == "triangle":
        c = torch.rand(n, 1, 2, generator=gen)
        s[:, 0:6] = (c + (torch.rand(n, 3, 2, generator=gen) - 0.5) * 0.5).reshape(n, 6)
        s[:, 6] = 0.6 + 0.4 * s[:, 6]
    return s.clamp(0, 1)


def reversed_strokes(s: Tensor, shape_name: str) -> Tensor:
    """The same Bezier strokes drawn from the other end (P0 <-> P2, the relative middle point 1 - (x1, y1),
    radii and opacities swapped); other shapes are returned unchanged."""
    if not shape_name.startswith("bezier"):
        return s
    r = s.clone()
    r[..., 0:2], r[..., 4:6] = s[..., 4:6], s[..., 0:2]
    r[..., 2:4] = 1 - s[..., 2:4]
    r[..., 6], r[..., 7], r[..., 8], r[..., 9] = s[..., 7], s[..., 6], s[..., 9], s[..., 8]
    return r


def matched_l1(pred: Tensor, true: Tensor, shape) -> Tensor:
    """Mean L1 between predicted and true strokes (B, k, 13) under the best one-to-one matching of the
    k slots (exact over all k! permutations; k <= 7), a stroke and its reversal counting as the same
    stroke; only the numbers the shape reads, plus colour.  Returns (B,)."""
    import itertools

    idx = list(shape.used) + list(range(N_PARAMS))[COLOR]
    p = pred[..., idx]
    cost = torch.minimum((p[:, :, None] - true[:, None, :, idx]).abs().mean(-1),
                         (p[:, :, None] - reversed_strokes(true, shape.name)[:, None, :, idx]).abs().mean(-1))
    k = pred.shape[1]
    if k > 7:
        raise ValueError(f"--pretrain matches all k! slot orders: bundle {k} is too large (at most 7)")
    perms = torch.tensor(list(itertools.permutations(range(k))), device=pred.device)  # (P, k)
    total = cost[:, torch.arange(k, device=pred.device)[None, :], perms].sum(-1)  # (B, P)
    return total.min(1).values / k


def pretrain_step(actor: Actor, shape, size: int, batch: int, steps: int, background: Background,
                  gen: torch.Generator, pixel_weight: float = 1.0) -> tuple[Tensor, dict]:
    """One batch of "where to paint" supervision: a canvas of 0..2k random strokes, a target that is
    that canvas plus k more; the actor, told a random step t of ``steps``, must name those k strokes
    (`matched_l1`) and its strokes' painting must match the target (pixel MSE x ``pixel_weight``)."""
    k = actor.cfg.bundle
    device = next(actor.parameters()).device
    m = int(torch.randint(0, 2 * k + 1, (1,), generator=gen))
    canvas = background.canvas(size, size, batch)
    if m:
        old = random_strokes(batch * m, shape.name, gen)
        alpha = shape.soft(old, size, validate=False).view(batch, m, size, size)
        canvas = composite(canvas, alpha, stroke_colors(old).view(batch, m, 3))
    new = random_strokes(batch * k, shape.name, gen)
    alpha = shape.soft(new, size, validate=False).view(batch, k, size, size)
    target = composite(canvas, alpha, stroke_colors(new).view(batch, k, 3))
    t = torch.randint(0, steps, (batch,), generator=gen)
    canvas, target, t, new = canvas.to(device), target.to(device), t.to(device), new.to(device)
    a = actor(observation_planes(canvas, target, t, steps)).view(batch, k, -1)
    match = matched_l1(a, new.view(batch, k, -1), shape).mean()
    alpha = shape.soft(a.reshape(batch * k, -1), size, validate=False).view(batch, k, size, size)
    painted = composite(canvas, alpha, stroke_colors(a.reshape(batch * k, -1)).view(batch, k, 3))
    pixel = ((painted - target) ** 2).mean()
    return match + pixel_weight * pixel, {"match_l1": match.item(), "pixel_mse": pixel.item()}


def main(args) -> Path:
    """Train with ``--algo direct`` (``args``: `brushwork.agent.train.Args`).  Top to bottom: settings ->
    data -> rasteriser -> actor -> resume -> loop of (rollout, loss, step, log / evaluate / checkpoint)."""
    from ..io.weights import resume_checkpoint, save_checkpoint, save_weights
    from .targets import open_data

    # --- settings ------------------------------------------------------------------------------
    _, device = args.prepare()
    torch.manual_seed(args.seed)
    gen = torch.Generator().manual_seed(args.seed)
    levels = parse_levels(args.levels)
    grid = max(g for g, _ in levels)
    side = args.side or args.size * grid  # default: the finest tiles are observed at their own resolution
    if side % grid:
        raise ValueError(f"--side {side} must be a multiple of the finest grid {grid}")
    steps = sum(t for _, t in levels)
    strokes = sum(levels_strokes(levels, args.bundle))
    updates = max(1, args.total_steps // steps)
    # what one rollout paints: the levels, or the painter's passes for each --paint-strokes count
    plans = ([painter_schedule(levels, int(n), side, args.bundle, args.size) for n in args.paint_strokes.split(",")]
             if args.paint_strokes else [levels])
    if any(side % p[0] for plan in plans for p in plan):
        raise ValueError(f"--side {side} must be a multiple of the painter's finest grid {max(p[0] for plan in plans for p in plan)}")
    net_cfg, _ = args.configs()
    out = Path(args.out)
    background = Background.parse(args.background)

    # --- data, rasteriser, actor -----------------------------------------------------------------
    data = open_data(dataclasses.replace(args, size=side), "train", args.seed)
    eval_targets = open_data(dataclasses.replace(args, size=side), "test", 0).sample(
        args.eval_images, torch.Generator().manual_seed(12345))
    shape = get_shape(args.shape, compiled=args.compile)
    eval_shape = get_shape(args.shape)  # eval batches vary in size: no recompiles
    actor = Actor(net_cfg).to(device)
    if args.spread_init:
        actor.spread_init(args.shape)
    if args.init_actor is not None and not args.resume:
        from ..io.weights import load_state_strict, load_weights

        state_init, _ = load_weights(args.init_actor, "actor")
        load_state_strict(actor, state_init, args.init_actor)
    opt = torch.optim.Adam(actor.parameters(), lr=args.lr_actor)
    state = {"updates": 0, "seconds": 0.0, "best_psnr": -math.inf, "images": 0}
    ckpt_path, log_path = out / "checkpoint.pt", out / "log.csv"
    if args.resume:
        ck = resume_checkpoint(ckpt_path, args.identity(), map_location=device)
        actor.load_state_dict(ck["actor"])
        opt.load_state_dict(ck["opt"])
        gen.set_state(ck["gen"])
        torch.set_rng_state(ck["torch_rng"])
        state.update(ck["state"])
        truncate_log(log_path, "updates", state["updates"])  # rows a killed run logged after its last checkpoint
    out.mkdir(parents=True, exist_ok=True)
    if args.paint_strokes:
        print("painter's passes (grid x steps: strokes): " + "; ".join(
            f"{n}: " + ", ".join(f"{g}x{t}:{m}" for g, t, m in plan) for n, plan in zip(args.paint_strokes.split(","), plans)))
    print(f"agent: direct, levels {args.levels} ({strokes} strokes on {side}px in {steps} batched steps), "
          f"{args.shape}, actor {count_parameters(actor) / 1e6:.2f} M ({args.norm} norm), batch {args.envs}, "
          f"{updates} updates planned, device {device}")
    cols = ["updates", "images", "seconds", "loss", "train_psnr", "eval_psnr", "flat_psnr", "centre_spread", "stroke_size"]
    if not log_path.exists():
        log_path.write_text(",".join(cols) + ",steps_psnr\n")

    def lr_at(u: int) -> float:  # linear warm-up over args.lr_warmup updates, then cosine to a tenth of lr_actor
        warm = min(1.0, (u + 1) / args.lr_warmup) if args.lr_warmup else 1.0
        return warm * args.lr_actor * (0.1 + 0.45 * (1 + math.cos(math.pi * min(1.0, u / updates))))

    def checkpoint() -> None:
        save_checkpoint(ckpt_path, {"actor": actor.state_dict(), "opt": opt.state_dict(), "gen": gen.get_state(),
                                    "torch_rng": torch.get_rng_state(), "state": dict(state), "identity": args.identity(),
                                    "args": {k: str(v) for k, v in dataclasses.asdict(args).items()}})

    def export(path: Path, metrics: dict) -> None:
        config = {"net": dataclasses.asdict(net_cfg), "size": args.size, "steps": steps, "shape": args.shape,
                  "background": args.background, "renderer": "analytic", "algo": "direct", "reward": "log-mse",
                  "data": args.data, "levels": [list(x) for x in levels]}
        if args.paint_strokes:
            config["paint_strokes"] = args.paint_strokes
        if args.fit_colors:
            config["fit_colors"] = True
        save_weights(path, actor.state_dict(), "actor", config, steps=state["updates"], metric=metrics,
                     info={"images": state["images"], "seconds": round(state["seconds"], 1), "device": str(device)},
                     half=True)

    def evaluate_now() -> None:  # held-out eval: print, log row, export when best
        ev = evaluate_levels(actor, eval_targets.to(device), eval_shape, args.size, plans[0], background,
                                 args.fit_colors)
        per_step = {k: v for k, v in ev.items() if k.startswith("psnr@")}
        bar.write(f"update {state['updates']} ({state['seconds'] / 60:.1f} min): eval {ev['psnr']:.2f} dB "
                  + (f"with the colour fit ({ev['own_psnr']:.2f} own colours) " if "own_psnr" in ev else "")
                  + f"(flat {ev['flat_psnr']:.2f}), per step " + " ".join(f"{k[5:]}:{v:.2f}" for k, v in per_step.items())
                  + f", centre spread {ev['centre_spread']:.3f}, size {ev['stroke_size']:.3f}")
        with open(log_path, "a", newline="") as f:
            row = [state["updates"], state["images"], round(state["seconds"], 1), f"{smooth.get('loss', math.nan):.5g}",
                   f"{smooth.get('train_psnr', math.nan):.3f}", f"{ev['psnr']:.3f}", f"{ev['flat_psnr']:.3f}",
                   f"{ev['centre_spread']:.4f}", f"{ev['stroke_size']:.4f}",
                   " ".join(f"{k[5:]}:{v:.2f}" for k, v in per_step.items())]
            csv.writer(f).writerow(row)
        if ev["psnr"] > state["best_psnr"]:
            state["best_psnr"] = ev["psnr"]
            export(out / "actor.safetensors", {"eval_psnr_db": round(ev["psnr"], 3), "flat_psnr_db": round(ev["flat_psnr"], 3),
                                               "eval_images": args.eval_images, "eval_side": side,
                                               "strokes": sum(p[2] for p in plans[0]) if args.paint_strokes else strokes,
                                               **{k: round(v, 3) for k, v in per_step.items()}})

    # --- loop -------------------------------------------------------------------------------------
    bar = tqdm(total=updates, initial=state["updates"], dynamic_ncols=True, desc="agent (direct)", unit="update")
    t_last, smooth = time.time(), {}
    deadline = time.time() + args.minutes * 60 if args.minutes else math.inf
    while state.get("pretrained", 0) < args.pretrain and time.time() < deadline:
        for gr in opt.param_groups:
            gr["lr"] = args.lr_actor
        loss, logs = pretrain_step(actor, eval_shape, args.size, args.pretrain_batch, steps, background, gen)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        state["pretrained"] = state.get("pretrained", 0) + 1
        now = time.time()
        state["seconds"] += now - t_last
        t_last = now
        if state["pretrained"] % args.eval_every == 0 or state["pretrained"] == args.pretrain:
            ev = evaluate_levels(actor, eval_targets.to(device), eval_shape, args.size, plans[0], background,
                                 args.fit_colors)
            bar.write(f"pretrain {state['pretrained']}/{args.pretrain} ({state['seconds'] / 60:.1f} min): match L1 "
                      f"{logs['match_l1']:.4f}, pixel MSE {logs['pixel_mse']:.5f}; eval {ev['psnr']:.2f} dB, centre spread "
                      f"{ev['centre_spread']:.3f}, size {ev['stroke_size']:.3f}")
            checkpoint()
    if args.init_actor is not None and state["updates"] == 0 and not args.pretrain:
        evaluate_now()  # the starting point: the run then exports only what beats the weights it started from
        t_last = time.time()
    while state["updates"] < updates and time.time() < deadline:
        target = data.sample(args.envs, gen).to(device).float() / 255
        for gr in opt.param_groups:
            gr["lr"] = lr_at(state["updates"])
        plan = plans[int(torch.randint(len(plans), (1,), generator=gen))] if len(plans) > 1 else plans[0]
        record: list | None = [] if args.fit_colors else None
        _, mses = rollout(actor, target, shape, args.size, plan, background, None, record)
        if args.fit_colors:  # the final painting as the painter will colour it
            mses[-1] = ((fitted_canvas(target, background, record, eval_shape, args.size) - target) ** 2).flatten(1).mean(1)
        loss = direct_loss(mses, args.inter_weight)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        if args.grad_clip > 0:
            torch.nn.utils.clip_grad_norm_(actor.parameters(), args.grad_clip)
        opt.step()
        state["updates"] += 1
        state["images"] += args.envs
        now = time.time()
        state["seconds"] += now - t_last
        t_last = now
        for key, v in (("loss", loss.item()), ("train_psnr", float(psnr_from_mse(mses[-1].detach()).mean()))):
            smooth[key] = v if key not in smooth else 0.9 * smooth[key] + 0.1 * v
        bar.update(1)
        bar.set_postfix(psnr=f"{smooth['train_psnr']:.2f}dB")
        last = state["updates"] >= updates or time.time() >= deadline
        if state["updates"] % args.eval_every == 0 or last or state["updates"] == 1:
            evaluate_now()
            t_last = time.time()
        if state["updates"] % args.ckpt_every == 0 or last:
            checkpoint()
    bar.close()
    print(f"done: {state['updates']} updates, {state['seconds'] / 3600:.2f} h; best eval PSNR {state['best_psnr']:.2f} dB "
          f"-> {out / 'actor.safetensors'}")
    return out / "actor.safetensors"
