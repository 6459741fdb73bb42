"""Paint an image: the agent loop (SPEC 5) over coarse-to-fine tiles, gradient refinement, or stroke
optimisation from scratch -> `Painting`.

Methods:
* ``agent``: the paper's loop.  Pass 1 paints the whole image; each further pass paints a finer grid of
  square tiles (all tiles of a pass are one batch per step).  Tiles are square at every aspect ratio.
  Default tiling ``overlap``: tiles overlap by a quarter and every stroke is rendered on the full
  canvas, so strokes cross tile borders and there are no seams.  ``paper``: the paper's disjoint grid,
  each stroke clipped to its tile.
* ``refine``: the agent's strokes, then all parameters optimised jointly through the soft rasteriser.
* ``optimize``: stroke optimisation from scratch (no agent).
The stroke budget is exact: the painting holds exactly ``strokes`` strokes.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field

import numpy as np
import torch
import torch.nn.functional as F
from tqdm import tqdm

from .canvas import Background, paint_strokes
from .metrics import psnr, ssim
from .optimize import OptimizeConfig, optimize_strokes, refine_strokes  # noqa: F401  (bench_scaling wraps these names)
from .optimize_windowed import paint_windowed
from .painting import Painting, to_uint8
from .shapes import get_shape

METHODS = ("auto", "agent", "refine", "optimize")
# What "auto" means: the best method measured on the dev photos that meets the speed target
# (docs/benchmarks.md).  With the CPU-trained agents shipped so far, optimisation from scratch beats
# the agent's strokes, refined or not, by ~10 dB at 200 strokes; switch to "refine" once an agent
# that paints better than that ships.
AUTO_METHOD = "optimize"


@dataclass
class PaintConfig:
    strokes: int = 0  # exact stroke count (0 = automatic: 200 per 256 px of the long side, at least 200)
    shape: str = "bezier"  # bezier, bezier-opaque, circle, triangle
    method: str = "auto"  # auto (= AUTO_METHOD, the best measured: optimize), agent, refine, optimize
    width: int = 0  # output width in px (0 = from height / the input)
    height: int = 0  # output height in px (0 = from width / the input)
    background: str = "black"  # black (as the agent was trained), white, #rrggbb, transparent
    palette: list[str] = field(default_factory=list)  # restrict colours to these (#rrggbb), empty = any
    agent: str = "photo"  # shipped agent name or actor .safetensors
    tiles: str = "overlap"  # overlap (seam-free) or paper (disjoint tiles, strokes clipped)
    passes: int = 0  # coarse-to-fine passes (0 = by output size)
    refine_iters: int = 30  # Adam iterations of the refine method
    # Adam iterations per coarse-to-fine stage of the optimize method (the final joint pass: half as many).
    # 24 rather than 40: at 512 px (400 strokes) about 0.8 dB lower PSNR in half the time, which is what
    # brings the default painting near the 20 s target on a 2-core CPU (docs/benchmarks.md).
    optimize_iters: int = 24
    work: int = 128  # working resolution (long side, px) of refine / optimize; the agent's canvas is also at
    # least its observation size for the finest tiles.  Strokes are resolution-free: the output is
    # rendered from them at full size, so this trades detail for speed only.
    seed: int = 0
    device: str = "auto"
    compile: bool = False  # torch.compile the soft rasteriser (slow first call, faster after)
    # Time budget in seconds (optimize): alone, strokes are added until the time is up; with --strokes,
    # exactly that many strokes, iterations fitted to the time.  None: no budget.
    seconds: float | None = None
    detail: str = "normal"  # optimize presets: draft, normal, fine (docs/benchmarks/optimizer.md)
    quiet: bool = False


def output_size(w: int, h: int, cfg: PaintConfig) -> tuple[int, int]:
    if cfg.width and cfg.height:
        return cfg.width, cfg.height
    if cfg.width:
        return cfg.width, max(1, round(h * cfg.width / w))
    if cfg.height:
        return max(1, round(w * cfg.height / h)), cfg.height
    return w, h


def parse_palette(colors: list[str]) -> torch.Tensor | None:
    if not colors:
        return None
    rgb = [Background.parse(c).rgb for c in colors]
    return torch.tensor(rgb, dtype=torch.float32)


def resize_t(x: torch.Tensor, h: int, w: int) -> torch.Tensor:
    """(C, H, W) float -> (C, h, w): area-average down, bicubic up."""
    if x.shape[-2:] == (h, w):
        return x
    down = h <= x.shape[-2] and w <= x.shape[-1]
    y = F.interpolate(x[None], size=(h, w), mode="area" if down else "bicubic", align_corners=None if down else False)
    return y[0].clamp(0, 1)


def tile_grid(width: int, height: int, grid: int, mode: str) -> torch.Tensor:
    """Square tiles (n, 4) = (x0, y0, side, side) in px covering a width x height canvas with ``grid``
    tiles along the short side.  overlap: tiles 25 % larger than the grid cell; paper: disjoint cells."""
    short, long_ = min(width, height), max(width, height)
    cell = short / grid
    side = cell if (mode == "paper" or grid == 1) else min(short, cell * 1.25)
    along_long = max(1, math.ceil(long_ / cell - 1e-6))

    def starts(length: float, n: int) -> list[float]:
        if mode == "paper":
            return [min(i * cell, length - side) for i in range(n)]
        return [0.0] if n == 1 else [i * (length - side) / (n - 1) for i in range(n)]

    xs = starts(width, grid if width <= height else along_long)
    ys = starts(height, grid if height < width else (along_long if height > width else grid))
    return torch.tensor([[x, y, side, side] for y in ys for x in xs], dtype=torch.float32)


def agent_strokes(policy, target: torch.Tensor, n_strokes: int, cfg: PaintConfig, canvas: torch.Tensor,
                  passes: int, palette: torch.Tensor | None, bar: tqdm | None, native: float, emit=None):
    """Run the agent over coarse-to-fine passes on ``canvas`` (C, H, W; painted in place), the size of
    ``target`` (3, H, W).  Returns strokes (N, 13), frames (N, 3) and clips (N, 4) or None, in
    working-canvas pixels."""
    _, h, w = target.shape
    shape = get_shape(cfg.shape)
    k = policy.bundle
    per_pass = [n_strokes // passes + (1 if i < n_strokes % passes else 0) for i in range(passes)]
    out_s, out_f, out_c = [], [], []
    for p, budget in enumerate(per_pass):
        tiles = tile_grid(w, h, 2**p, cfg.tiles)
        n_t = len(tiles)
        steps = max(1, math.ceil(budget / (k * n_t)))
        frames = tiles[:, :3].repeat_interleave(k, 0)  # (n_t * k, 3): (x0, y0, side)
        clips = torch.cat([tiles[:, :2], tiles[:, :2] + tiles[:, 2:]], 1).repeat_interleave(k, 0) if cfg.tiles == "paper" else None
        left = budget
        for t in range(steps):
            crops_c, crops_t = [], []
            for x0, y0, s, _ in tiles.tolist():
                ys, xs = slice(round(y0), round(y0 + s)), slice(round(x0), round(x0 + s))
                crops_c.append(resize_t(canvas[:3, ys, xs], policy.size, policy.size))
                crops_t.append(resize_t(target[:, ys, xs], policy.size, policy.size))
            tt = torch.full((n_t,), t, dtype=torch.long)
            a = policy.act(torch.stack(crops_c), torch.stack(crops_t), tt, steps).reshape(n_t * k, -1).cpu()
            if palette is not None:
                a[:, 10:13] = palette[torch.cdist(a[:, 10:13], palette).argmin(1)]
            take = min(left, len(a))  # exact budget: drop the last strokes of the last step
            c = None if clips is None else clips[:take]
            paint_strokes(canvas, shape, a[:take], frames[:take], native=native, clips=c)
            out_s.append(a[:take])
            out_f.append(frames[:take])
            if clips is not None:
                out_c.append(c)
            left -= take
            if bar is not None:
                bar.update(take)
            if emit is not None:
                emit(a[:take], frames[:take], c)
            if left <= 0:
                break
    clips_all = torch.cat(out_c) if out_c else None
    return torch.cat(out_s), torch.cat(out_f), clips_all


def default_passes(w: int, h: int) -> int:
    """Coarse-to-fine passes by output size: 1 below 384 px on the short side, 2 below 1024, else 3."""
    short = min(w, h)
    return 1 if short < 384 else 2 if short < 1024 else 3


def paint(image, config: PaintConfig | None = None, resume: Painting | None = None, on_strokes=None,
          **overrides) -> Painting:
    """Paint ``image`` (path, PIL image, HxWx3 uint8 array or `LoadedImage`) -> `Painting`.

    Keyword overrides are `PaintConfig` fields, e.g. ``paint("cat.jpg", strokes=500, method="agent")``.
    ``resume``: a painting of this image to continue; ``strokes`` is then the new total, and the new
    strokes use its brush scale (``native``).
    ``on_strokes(event)``: called as strokes are produced (live views).  ``event`` is a dict with
    ``strokes`` (n x 13 list), ``frames`` (n x 3, output px), ``clips`` (n x 4 or None), ``done``
    (strokes so far), ``total``, ``width``, ``height``, ``shape``, ``native``, ``background`` and
    ``replace``: True when the event holds *all* strokes, replacing earlier ones (after refinement).
    """
    from .distributed import pick_device
    from .images import LoadedImage, load_image

    cfg = config or PaintConfig()
    if overrides:
        cfg = PaintConfig(**{**cfg.__dict__, **overrides})
    check(cfg)
    t0 = time.time()
    background = Background.parse(cfg.background)
    note = None
    if isinstance(image, np.ndarray):
        rgb = image
    elif hasattr(image, "convert"):
        rgb = np.asarray(image.convert("RGB"))
    else:
        loaded = image if isinstance(image, LoadedImage) else load_image(image)
        note = loaded.note
        # Transparent pixels take the background's colour (white under a transparent background).
        under = (1.0, 1.0, 1.0) if background.transparent else background.rgb
        rgb = loaded.rgb if loaded.alpha is None else loaded.composited(tuple(round(c * 255) for c in under))
    if rgb.ndim != 3 or rgb.shape[2] != 3 or rgb.dtype != np.uint8:
        raise ValueError(f"image array must be uint8 (H, W, 3), got {rgb.dtype} {rgb.shape}")
    h_in, w_in = rgb.shape[:2]
    W, H = output_size(w_in, h_in, cfg)
    method = AUTO_METHOD if cfg.method == "auto" else cfg.method
    if method == "optimize":
        from .optimize_windowed import default_strokes

        n = cfg.strokes or (0 if cfg.seconds else default_strokes(W, H, cfg.detail))
    else:
        n = cfg.strokes or max(200, round(200 * max(W, H) / 256))
    if not cfg.quiet and note:
        print(f"note: {note}")
    n_old = 0
    if resume is not None:
        if resume.shape != cfg.shape:
            raise ValueError(f"the resumed painting uses {resume.shape} strokes; pass --shape {resume.shape}")
        n_old = len(resume)
        if cfg.strokes and cfg.strokes <= n_old:
            raise ValueError(f"the resumed painting already has {n_old} strokes; ask for more with --strokes")
        n = cfg.strokes or (n_old + n if n else 0)
    from .optimize_windowed import check_memory

    # Fail before any work when the painting cannot fit in memory (never an out-of-memory kill).
    check_memory(H, W, n or int(400 * (cfg.seconds or 1)), extra_per_pixel=PAINTER_BYTES_PER_PIXEL)
    palette = parse_palette(cfg.palette)
    torch.manual_seed(cfg.seed)
    device = pick_device(cfg.device)
    from .images import to_tensor

    target_full = resize_t(to_tensor(rgb), H, W)
    policy = None
    if method in ("agent", "refine"):
        from .policy import load_agent

        policy = load_agent(cfg.agent, device)
    # Working resolution: long side cfg.work, and for the agent at least its observation size on the
    # finest tiles; never above the output.
    passes = cfg.passes or default_passes(W, H)
    if method == "optimize":  # the windowed optimiser picks each stage's resolution, up to the output's
        work = max(W, H)
    else:
        work = cfg.work if policy is None else max(cfg.work, policy.size * 2 ** (passes - 1) * max(W, H) // min(W, H))
    scale = min(1.0, work / max(W, H))
    ww, wh = max(8, round(W * scale)), max(8, round(H * scale))
    target_w = resize_t(target_full, wh, ww)
    bar = tqdm(total=n - n_old, desc=f"paint ({method})", disable=cfg.quiet, leave=False, dynamic_ncols=True, unit="stroke")
    clips = None
    # Working canvas: the background, or the resumed painting rendered at the working size.
    if resume is not None:
        old = Painting(resume.shape, ww, wh, resume.strokes, resume.scaled_frames(ww, wh), resume.native,
                       background, clips=resume.scaled_clips(ww, wh))
        canvas = old.render_tensor()
    else:
        canvas = background.canvas(wh, ww)
    start = canvas.clone()
    soft_shape = get_shape(cfg.shape, compiled=cfg.compile)  # what the optimiser differentiates through
    sx, sy = W / ww, H / wh
    to_out = torch.tensor([sx, sy, math.sqrt(sx * sy)])
    to_out_clip = torch.tensor([sx, sy, sx, sy])
    sent = [n_old]

    def emit(st: torch.Tensor, fr: torch.Tensor, cl: torch.Tensor | None, replace: bool = False) -> None:
        if on_strokes is None:
            return
        sent[0] = len(st) if replace else sent[0] + len(st)
        on_strokes({"strokes": st.tolist(), "frames": (fr * to_out).tolist(),
                    "clips": None if cl is None else (cl * to_out_clip).tolist(), "done": sent[0], "total": n,
                    "width": W, "height": H, "shape": cfg.shape, "native": native, "background": cfg.background,
                    "replace": replace})

    if method == "optimize":
        native = resume.native if resume is not None else float(max(ww, wh))
        from .optimize_windowed import detail_config

        dcfg = detail_config(cfg.detail)
        dcfg.iters = max(1, round(dcfg.iters * cfg.optimize_iters / 24))  # optimize_iters: 24 = the preset's
        # The time budget, less what rendering the result and its metrics take afterwards.
        deadline = None if not cfg.seconds else t0 + cfg.seconds * 0.95 - 0.3 - 2e-8 * W * H
        strokes, frames = paint_windowed(target_w, (n - n_old) if n else None, soft_shape, canvas, dcfg, cfg.seed,
                                         palette, progress=not cfg.quiet, native=native,
                                         on_stage=lambda s, f: emit(s, f, None),
                                         deadline=None if deadline is None else time.monotonic() + deadline - time.time())
        n = n_old + len(strokes)
        bar.total = n - n_old
        bar.update(n - n_old)
    else:
        if policy.shape != cfg.shape:
            raise ValueError(f"agent {cfg.agent!r} paints {policy.shape} strokes, not {cfg.shape}; use --method optimize for other shapes")
        native = resume.native if resume is not None else float(policy.size)
        strokes, frames, clips = agent_strokes(policy, target_w, n - n_old, cfg, canvas, passes, palette, bar, native, emit)
    if resume is not None:
        strokes, frames = torch.cat([old.strokes, strokes]), torch.cat([old.frames, frames])
        if clips is not None or old.clips is not None:
            full = torch.tensor([[0.0, 0.0, float(ww), float(wh)]])
            c_old = old.clips if old.clips is not None else full.expand(n_old, 4)
            c_new = clips if clips is not None else full.expand(n - n_old, 4)
            clips = torch.cat([c_old, c_new])
        start = background.canvas(wh, ww)
    if method == "optimize":  # its final joint pass moved every new stroke: resend them all
        emit(strokes, frames, clips, replace=True)
    if method == "refine":
        strokes = refine_strokes(target_w, strokes, frames, native, soft_shape, start, cfg.refine_iters, 0.03, palette,
                                 clips=clips)
        emit(strokes, frames, clips, replace=True)
    bar.close()
    if palette is not None:  # the optimiser rendered snapped colours; store them so
        strokes = strokes.clone()
        strokes[:, 10:13] = palette[torch.cdist(strokes[:, 10:13], palette).argmin(1)]
    frames = frames * to_out
    if clips is not None:
        clips = clips * to_out_clip
    painting = Painting(cfg.shape, W, H, strokes, frames, native=native, background=background, clips=clips,
                        target=(target_full.permute(1, 2, 0).numpy() * 255 + 0.5).astype(np.uint8))
    if method == "agent" and resume is None and (ww, wh) == (W, H):
        # The agent painted these very strokes on a full-size canvas: reuse it instead of rendering
        # them all again (a third of an agent painting's time at 128 px).
        painting._image = to_uint8(canvas)
    from .optimize_windowed import intra_threads

    with intra_threads(1):  # many small windowed ops: 1 thread is fastest, and robust under load
        out = torch.from_numpy(painting.render()[..., :3]).permute(2, 0, 1).float() / 255
    painting.metrics = {"strokes": len(painting), "method": method, "psnr": round(float(psnr(out, target_full)), 3),
                        "ssim": round(float(ssim(out, target_full)), 4), "seconds": round(time.time() - t0, 2),
                        "width": W, "height": H}
    if note:
        painting.metrics["note"] = note
    return painting


PAINTER_BYTES_PER_PIXEL = 128  # the painter's own full-size buffers: target, render, metrics (4096 px, 2,000 strokes: 3.5 GB peak RSS measured)


def check(cfg: PaintConfig) -> None:
    from .optimize_windowed import DETAIL_PRESETS, MAX_SECONDS

    if cfg.seconds is not None and not (0 < cfg.seconds <= MAX_SECONDS):
        raise ValueError(f"--seconds must be > 0 and at most {MAX_SECONDS:.0f} (a day), got {cfg.seconds}")
    if cfg.detail not in DETAIL_PRESETS:
        raise ValueError(f"--detail must be one of {', '.join(DETAIL_PRESETS)}, got {cfg.detail!r}")
    if cfg.method not in METHODS:
        raise ValueError(f"--method must be one of {', '.join(METHODS)}, got {cfg.method!r}")
    if cfg.strokes < 0:
        raise ValueError(f"--strokes must be >= 1, got {cfg.strokes}")
    if cfg.tiles not in ("overlap", "paper"):
        raise ValueError(f"--tiles must be overlap or paper, got {cfg.tiles!r}")
    for name in ("width", "height"):
        v = getattr(cfg, name)
        if v < 0 or v > 16384:
            raise ValueError(f"--{name} must be between 1 and 16384 px, got {v}")
    get_shape(cfg.shape)
    Background.parse(cfg.background)
    parse_palette(cfg.palette)
