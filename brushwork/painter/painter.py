"""Paint an image -> `Painting` (docs/method.md, "Painter").

Methods:
* ``agent``: the paper's loop over coarse-to-fine tiles (`agent_loop.agent_strokes`).
* ``refine``: the agent's strokes, then all parameters optimised jointly through the soft rasteriser
  (`refine`: windowed for bezier strokes).
* ``optimize``: stroke optimisation from scratch (no agent).
The stroke budget is exact: the painting holds exactly ``strokes`` strokes.

`paint` reads top to bottom; each step is a named function below it.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import torch
from tqdm import tqdm

from ..device import pick_device
from ..io.images import MIN_SIDE, LoadedImage, check_side, load_image, output_size, resize_t, to_tensor, to_uint8
from ..medium import DEFAULT as DEFAULT_MEDIUM
from ..medium import MEDIA, get_medium
from ..metrics import psnr, ssim
from ..schedule.color_fit import fit_bytes, fit_colors
from ..schedule.tiles import TILINGS, agent_passes, crop_bytes, default_passes, resolve_tiling
from ..stroke import SHAPES, get_shape
from ..stroke.canvas import Background, snap_to_palette
from .adam import check_stop
from .agent_loop import agent_strokes
from .joint_windowed import refine_windowed
from .joint_windowed import supports as supports_joint
from .optimize import refine_strokes
from .optimize_windowed import (
    DETAIL_PRESETS,
    MAX_SECONDS,
    check_memory,
    default_strokes,
    detail_config,
    intra_threads,
    paint_windowed,
    scaled_for,
    window_bounds,
)
from .painting import Painting
from .repaint import repaint_weakest
from .reseed import reseed

METHODS = ("auto", "agent", "refine", "optimize")
# What "auto" means: the best method measured on the dev photos that meets the speed target.  With the
# CPU-trained agents shipped so far, optimisation from scratch paints better than the agent's strokes and
# at least as well as refining them, at every size; switch to "refine" once an agent that changes that
# ships.  Chosen by measurement: docs/choices.md#auto-method.
AUTO_METHOD = "optimize"

# The fixed choices, as types: the CLI (tyro) lists them in --help.
ShapeName = Literal[SHAPES]  # every registered shape
MediumName = Literal[MEDIA]  # every registered medium
Method = Literal[METHODS]
Tiling = Literal[TILINGS]
Detail = Literal[tuple(DETAIL_PRESETS)]


@dataclass
class PaintConfig:
    strokes: int = 0  # exact stroke count (0 = automatic: optimize: by --detail and size; agent: 200 per 256 px, >= 200)
    shape: ShapeName = "bezier"  # the stroke shape
    method: Method = "auto"  # auto (= AUTO_METHOD, the best measured: optimize), agent, refine, optimize
    width: int = 0  # output width in px (0 = from height / the input)
    height: int = 0  # output height in px (0 = from width / the input)
    background: str = "black"  # black (as the agent was trained), white, grey, transparent or #rrggbb
    # how the strokes meet the canvas: flat (the optimiser's own look), oil, watercolor, pastel (brushwork.medium);
    # the strokes are placed for the medium's look (--medium-aware, below), the medium renders them (PNG, SVG,
    # video, metrics); a resumed painting keeps its medium unless another one than flat is asked for
    medium: MediumName = DEFAULT_MEDIUM
    # optimize (bezier): place and colour the strokes for the medium's look: the stages optimise through its
    # texture (`Medium.soft_paint`) and paint their canvas in it, the joint pass stays flat; off: optimised
    # for the flat look, the medium renders them after.  None: the medium's own default (`Medium.aware`:
    # on for watercolor and pastel, off for oil, as measured: docs/choices.md#media-aware).  No effect
    # with flat or the agent methods
    medium_aware: bool | None = None
    palette: list[str] = field(default_factory=list)  # restrict colours to these (#rrggbb), empty = any
    agent: str = "photo"  # shipped agent name or actor .safetensors
    # auto (the agent's training tiling: shifted for agents trained on tiles), overlap (seam-free), paper (the
    # paper's nested disjoint tiles, strokes clipped) or shifted (paper tiles, passes finer than the trained
    # levels on shifted grids when there are two or more: no border left that nothing crosses)
    tiles: Tiling = "auto"
    passes: int = 0  # the agent's coarse-to-fine passes (0 = its trained levels, or by output size; plus --finer's)
    # agent and refine: finer tiles as the budget and the output allow: for an agent trained on tiles, passes
    # beyond its trained levels, each a grid twice as fine, while the finest gives each tile a stroke and its
    # tiles stay at least half the agent's view on the output; for one trained on whole images, passes until
    # the finest grid's share falls under a stroke per 16 tiles (a pass's last step paints where the error
    # is); not for agents trained on digits (docs/method.md, "Painter")
    finer: bool = True
    # agent and refine: give the agent's strokes the colours that are best for the whole painting with their
    # shapes as they are (a least squares, `color_fit`; not with --palette or a transparent background)
    fit_colors: bool = True
    # agent, with the colour fit: then re-paint this fraction of the agent's strokes, those whose removal
    # costs least, with the agent on a grid one step finer than its last pass, where the error is largest,
    # and fit the colours again (`repaint`; 0 = off)
    repaint: float = 0.3
    # refine (bezier): re-place this fraction of the agent's strokes, those whose removal costs least, by
    # the optimiser's strokes where the error is largest, before the joint pass (0 = off)
    reseed: float = 0.5
    # Adam iterations of the refine method's joint pass: more paint sharper and take longer; the default
    # keeps refine faster than optimize at 128 px (docs/choices.md#refine-iterations)
    refine_iters: int = 40
    # Scales the optimize method's Adam iterations per stage: 24 = the --detail preset's own number.
    optimize_iters: int = 24
    # Working resolution (long side, px) of refine and of the agent's canvas (at least the agent's
    # observation size on the finest tiles, up to the output's: with many passes the output's own
    # resolution); optimize works up to the output's size by itself.  Strokes
    # are resolution-free: the output is rendered from them at full size.
    work: int = 128
    # Time budget in seconds (optimize): alone, strokes are added until the time is up; with --strokes,
    # exactly that many strokes, iterations fitted to the time.  None: no budget.
    seconds: float | None = None
    detail: Detail = "normal"  # optimize presets: draft, normal, fine (docs/benchmarks/optimizer.md)
    seed: int = 0  # seeds the optimiser's own generator (no global RNG is touched)
    device: str = "auto"
    compile: bool = False  # torch.compile the soft rasteriser (slow first call, faster after)
    quiet: bool = False


def paint(image, config: PaintConfig | None = None, resume: Painting | None = None, on_strokes=None,
          on_phase: Callable[[str, float], None] | None = None, stop: Callable[[], bool] | None = None,
          **overrides) -> Painting:
    """Paint ``image`` (path, PIL image, HxWx3 uint8 array or `LoadedImage`) -> `Painting`.

    Keyword overrides are `PaintConfig` fields, e.g. ``paint("cat.jpg", strokes=500, method="agent")``.
    ``resume``: a painting of this image to continue; ``strokes`` is then the new total, and the new
    strokes use its brush scale (``native``).
    ``on_strokes(event)``: called as strokes are produced (live views).  ``event`` is a dict with
    ``strokes`` (n x 13 list), ``frames`` (n x 3, output px), ``clips`` (n x 4 or None), ``done``
    (strokes so far), ``total``, ``width``, ``height``, ``shape``, ``native``, ``background`` and
    ``replace``: True when the event holds *all* strokes, replacing earlier ones (after refinement).
    ``on_phase(name, seconds)``: called as each phase ends; the phases' times are also in
    ``metrics["phases"]``.
    ``stop()``: asked before every optimiser iteration and every agent step; when it returns True the
    painting ends at once, raising `adam.Stopped` (the web app's cancel).
    """
    cfg = merge_config(config, overrides)
    phases = Phases(on_phase)
    t0 = time.time()
    with phases("load_s"):
        plan = plan_painting(image, cfg, resume)
    plan.stop = stop
    live = LiveView(on_strokes, plan)
    with phases("optimize_s" if plan.method == "optimize" else "agent_loop_s"):
        strokes, frames, clips, native = produce_strokes(plan, resume, live)
    if plan.old is not None:
        strokes, frames, clips = append_to(plan.old, strokes, frames, clips, plan.ww, plan.wh)
    if plan.method == "optimize":  # its final joint pass moved every new stroke: resend them all
        live(strokes, frames, clips, replace=True)
    check_stop(stop)
    if plan.method == "refine":
        with phases("refine_s"):
            strokes, frames, clips = refine(plan, strokes, frames, clips, native)
        live(strokes, frames, clips, replace=True)
    painting = build_painting(plan, strokes, frames, clips, native, live)
    with phases("output_render_s"), intra_threads(1):  # many small windowed ops: 1 thread is fastest
        out = to_tensor(painting.render()[..., :3])
    painting.metrics = measure(painting, out, plan, time.time() - t0, phases.seconds)
    return painting


# --- the steps, in the order paint() takes them ----------------------------------------------------


def merge_config(config: PaintConfig | None, overrides: dict) -> PaintConfig:
    """``config`` (or the defaults) with keyword ``overrides``, checked."""
    cfg = config or PaintConfig()
    if overrides:
        cfg = PaintConfig(**{**cfg.__dict__, **overrides})
    check(cfg)
    return cfg


class Phases:
    """Wall-clock seconds per named phase of one painting (``with phases("name_s"): ...``)."""

    def __init__(self, report: Callable[[str, float], None] | None = None):
        self.seconds: dict[str, float] = {}
        self.report = report

    @contextmanager
    def __call__(self, name: str) -> Iterator[None]:
        t0 = time.perf_counter()
        try:
            yield
        finally:
            self.seconds[name] = self.seconds.get(name, 0.0) + time.perf_counter() - t0
            if self.report is not None:
                self.report(name, self.seconds[name])


@dataclass
class Plan:
    """What `paint` settles before the first stroke: sizes, budget, method, agent, targets and canvas."""

    cfg: PaintConfig
    background: Background
    note: str | None  # about the input (e.g. "first frame of an animation")
    W: int  # output size
    H: int
    ww: int  # working-canvas size
    wh: int
    n_old: int  # strokes of the resumed painting
    n: int  # strokes of the finished painting
    method: str  # agent, refine or optimize ("auto" resolved)
    policy: object  # the agent (agent, refine) or None
    passes: int  # the agent's coarse-to-fine passes
    target_full: torch.Tensor  # (3, H, W)
    target: torch.Tensor  # (3, wh, ww)
    palette: torch.Tensor | None
    old: Painting | None  # the resumed painting at the working size
    canvas: torch.Tensor  # what the new strokes are painted on (C, wh, ww)
    start: torch.Tensor  # what refinement paints over: the background (the resumed strokes are refined too)
    deadline: float | None = None  # time.monotonic() by which the optimiser must stop (--seconds)
    stop: Callable[[], bool] | None = None  # the caller's stop callback (`paint`)
    medium: str = DEFAULT_MEDIUM  # the painting's medium (--medium, or the resumed painting's)


def plan_painting(image, cfg: PaintConfig, resume: Painting | None) -> Plan:
    """Load the input, then size, budget, method, agent, targets and the starting canvas."""
    background = Background.parse(cfg.background)
    rgb, note = load_rgb(image, background)
    W, H = output_size(rgb.shape[1], rgb.shape[0], cfg.width, cfg.height, minimum=MIN_SIDE)
    method = AUTO_METHOD if cfg.method == "auto" else cfg.method
    n_old, n = stroke_budget(cfg, method, W, H, resume)
    # Fail before any work when the painting cannot fit in memory (never an out-of-memory kill).
    check_memory(H, W, n or int(400 * (cfg.seconds or 1)), extra_per_pixel=PAINTER_BYTES_PER_PIXEL)
    if not cfg.quiet and note:
        print(f"note: {note}")
    device = pick_device(cfg.device)
    policy = load_policy(cfg, method, device)
    passes = cfg.passes or (agent_passes(n, policy.levels, W, H, cfg.finer and not policy.whole_images, policy.size)
                            if policy is not None else default_passes(W, H))
    ww, wh = working_size(W, H, cfg, method, policy, passes)
    if policy is not None:
        check_schedule(cfg, policy, passes, n, ww, wh)
    target_full = resize_t(to_tensor(rgb), H, W)
    old, canvas = starting_canvas(resume, background, ww, wh)
    start = canvas.clone() if resume is None else background.canvas(wh, ww)
    # The time budget, less what rendering the result and measuring it take afterwards.
    deadline = None if not cfg.seconds else time.monotonic() + cfg.seconds * 0.95 - 0.3 - 2e-8 * W * H
    return Plan(cfg, background, note, W, H, ww, wh, n_old, n, method, policy, passes, target_full,
                resize_t(target_full, wh, ww), parse_palette(cfg.palette), old, canvas, start, deadline,
                medium=resumed_medium(cfg, resume))


def load_rgb(image, background: Background) -> tuple[np.ndarray, str | None]:
    """The input as uint8 (H, W, 3) and a note about it (e.g. "first frame of an animation") or None.
    Transparent pixels take the background's colour (white under a transparent background)."""
    note = None
    if isinstance(image, np.ndarray):
        rgb = image
    elif hasattr(image, "convert"):
        rgb = np.asarray(image.convert("RGB"))
    else:
        loaded = image if isinstance(image, LoadedImage) else load_image(image)
        note = loaded.note
        under = (1.0, 1.0, 1.0) if background.transparent else background.rgb
        rgb = loaded.rgb if loaded.alpha is None else loaded.composited(tuple(round(c * 255) for c in under))
    if rgb.ndim != 3 or rgb.shape[2] != 3 or rgb.dtype != np.uint8:
        raise ValueError(f"image array must be uint8 (H, W, 3), got {rgb.dtype} {rgb.shape}")
    return rgb, note


def stroke_budget(cfg: PaintConfig, method: str, W: int, H: int, resume: Painting | None) -> tuple[int, int]:
    """(strokes already painted, total strokes the painting will hold); total 0 = as many as --seconds allow."""
    n = cfg.strokes or (0 if cfg.seconds and method == "optimize" else auto_strokes(method, W, H, cfg.detail))
    if resume is None:
        return 0, n
    if resume.shape != cfg.shape:
        raise ValueError(f"the resumed painting uses {resume.shape} strokes; pass --shape {resume.shape}")
    get_medium(resumed_medium(cfg, resume)).check(cfg.shape, cfg.background)
    n_old = len(resume)
    if cfg.strokes and cfg.strokes <= n_old:
        raise ValueError(f"the resumed painting already has {n_old} strokes; ask for more with --strokes")
    return n_old, cfg.strokes or (n_old + n if n else 0)


def auto_strokes(method: str, width: int, height: int, detail: str = "normal") -> int:
    """The stroke count when none is asked (``--strokes 0``): optimize (and auto) by ``--detail`` and the
    output's long side (`default_strokes`); the agent's methods 200 per 256 px of it, at least 200."""
    if method in ("auto", "optimize"):
        return default_strokes(width, height, detail)
    return max(200, round(200 * max(width, height) / 256))


def resumed_medium(cfg: PaintConfig, resume: Painting | None) -> str:
    """The painting's medium: --medium, or the resumed painting's when --medium is left at flat."""
    if resume is not None and cfg.medium == DEFAULT_MEDIUM:
        return resume.medium
    return cfg.medium


def load_policy(cfg: PaintConfig, method: str, device: torch.device):
    """The agent for the agent and refine methods (None for optimize); it must paint ``cfg.shape``."""
    if method not in ("agent", "refine"):
        return None
    from ..agent.policy import load_agent

    policy = load_agent(cfg.agent, device)
    if policy.shape != cfg.shape:
        raise ValueError(f"agent {cfg.agent!r} paints {policy.shape} strokes, not {cfg.shape}; use --method optimize for other shapes")
    return policy


def working_size(W: int, H: int, cfg: PaintConfig, method: str, policy, passes: int) -> tuple[int, int]:
    """The working canvas (width, height): long side ``cfg.work``, and for the agent at least its
    observation size on the finest tiles; never above the output."""
    if method == "optimize":
        return W, H  # the windowed optimiser picks each stage's resolution, up to the output's
    work = cfg.work if policy is None else max(cfg.work, policy.size * 2 ** (passes - 1) * max(W, H) // min(W, H))
    scale = min(1.0, work / max(W, H))
    return max(8, round(W * scale)), max(8, round(H * scale))


def check_schedule(cfg: PaintConfig, policy, passes: int, n: int, ww: int, wh: int) -> None:
    """Fail in one line, before any work, when the agent's passes cannot be painted: a finest grid
    of tiles under 2 px (--passes), or crops, colour fit and canvas that do not fit in memory."""
    if cfg.passes and 2 ** passes > min(ww, wh):  # tiles of 2 px at least (a shifted grid moves them by half)
        raise ValueError(f"--passes {passes}: the finest grid ({2 ** (passes - 1)} tiles along the short side) is too fine "
                         f"for the {min(ww, wh)} px working canvas; ask for at most {int(math.log2(min(ww, wh)))}")
    extra = crop_bytes(ww, wh, passes, policy.size) + (fit_bytes(n) if cfg.fit_colors else 0)
    check_memory(wh, ww, n, extra_per_pixel=PAINTER_BYTES_PER_PIXEL, extra_bytes=extra,
                 what=f"{n} strokes in {passes} passes on a {ww}x{wh} working canvas")


def parse_palette(colors: list[str]) -> torch.Tensor | None:
    """--palette's colours as (P, 3) in [0, 1], or None for any colour; a bad entry is named."""
    if not colors:
        return None
    rgb = []
    for c in colors:
        b = None
        try:
            b = Background.parse(c)
        except ValueError:
            pass
        if b is None or b.transparent:
            raise ValueError(f"--palette: {c!r} is not a colour; use #rrggbb, black, white or grey")
        rgb.append(b.rgb)
    return torch.tensor(rgb, dtype=torch.float32)


def starting_canvas(resume: Painting | None, background: Background, ww: int, wh: int):
    """(the resumed painting at the working size or None, the canvas to paint on (C, wh, ww))."""
    if resume is None:
        return None, background.canvas(wh, ww)
    old = Painting(resume.shape, ww, wh, resume.strokes, resume.scaled_frames(ww, wh), resume.native, background,
                   clips=resume.scaled_clips(ww, wh))
    return old, old.render_tensor()


class LiveView:
    """Sends the strokes produced so far to ``on_strokes`` (see `paint`), in output pixels."""

    def __init__(self, on_strokes, plan: Plan):
        self.on_strokes, self.cfg, self.done, self.total = on_strokes, plan.cfg, plan.n_old, plan.n
        self.size = (plan.W, plan.H)
        sx, sy = plan.W / plan.ww, plan.H / plan.wh
        self.to_out = torch.tensor([sx, sy, math.sqrt(sx * sy)])  # frames (x0, y0, side): working -> output px
        self.to_out_clip = torch.tensor([sx, sy, sx, sy])
        self.native = 0.0  # the brush scale, set once the method has chosen it
        self.medium = plan.medium

    def __call__(self, st: torch.Tensor, fr: torch.Tensor, cl: torch.Tensor | None, replace: bool = False) -> None:
        if self.on_strokes is None:
            return
        self.done = len(st) if replace else self.done + len(st)
        width, height = self.size
        self.on_strokes({"strokes": st.tolist(), "frames": (fr * self.to_out).tolist(),
                         "clips": None if cl is None else (cl * self.to_out_clip).tolist(), "done": self.done,
                         "total": self.total, "width": width, "height": height, "shape": self.cfg.shape,
                         "native": self.native, "background": self.cfg.background, "replace": replace,
                         "medium": self.medium})


def aware(cfg: PaintConfig, medium: str) -> bool:
    """Whether the optimiser paints through ``medium`` (--medium-aware, else the medium's own default)."""
    return get_medium(medium).aware if cfg.medium_aware is None else cfg.medium_aware


def recolors(plan: Plan) -> bool:
    """Whether the agent's strokes get fitted colours (`color_fit`): --fit-colors, and neither a palette
    (its colours are fixed) nor a transparent canvas (the fit is for an opaque one)."""
    return plan.cfg.fit_colors and plan.palette is None and not plan.background.transparent


def produce_strokes(plan: Plan, resume: Painting | None, live: LiveView):
    """The new strokes, painted over ``plan.canvas`` (in place for the agent): (strokes, frames, clips or
    None, native brush scale), in working pixels.  optimize: from scratch; agent and refine: the agent's loop."""
    cfg, n = plan.cfg, plan.n - plan.n_old
    bar = tqdm(total=n, desc=f"paint ({plan.method})", disable=cfg.quiet, leave=False, dynamic_ncols=True, unit="stroke")
    try:
        if plan.method == "optimize":
            native = resume.native if resume is not None else float(max(plan.ww, plan.wh))
            live.native = native
            dcfg = detail_config(cfg.detail)
            if plan.deadline is None:  # a time budget fits the iterations itself
                dcfg = scaled_for(dcfg, n, default_strokes(plan.W, plan.H, cfg.detail), plan.W * plan.H)
            dcfg.iters = max(1, round(dcfg.iters * cfg.optimize_iters / 24))
            strokes, frames = paint_windowed(plan.target, n or None, get_shape(cfg.shape, compiled=cfg.compile), plan.canvas,
                                             dcfg, cfg.seed, plan.palette, progress=not cfg.quiet, native=native,
                                             on_stage=lambda s, f: live(s, f, None), deadline=plan.deadline,
                                             on_refined=lambda s, f: live(s, f, None, replace=True), stop=plan.stop,
                                             medium=plan.medium if aware(cfg, plan.medium) else None, index0=plan.n_old)
            plan.n = plan.n_old + len(strokes)  # a time budget alone decides the count
            bar.total = len(strokes)
            bar.update(len(strokes))
            return strokes, frames, None, native
        native = resume.native if resume is not None else float(plan.policy.size)
        live.native = native
        recolor = repaint = None
        if recolors(plan):
            shape = get_shape(cfg.shape)

            def recolor(start, st, fr, cl, canvas, blocks_out=None):
                return fit_colors(start, plan.target, shape, st, fr, native, cl, canvas=canvas, blocks_out=blocks_out)

            if plan.method == "agent" and cfg.repaint > 0:
                def repaint(start, st, fr, cl, canvas, blocks, grid):
                    return repaint_weakest(plan.policy, plan.target, start, canvas, shape, st, fr, cl, native,
                                           cfg.repaint, grid, blocks)

        strokes, frames, clips = agent_strokes(plan.policy, plan.target, n, cfg.shape,
                                               resolve_tiling(cfg.tiles, plan.policy), plan.canvas, plan.passes,
                                               plan.palette, bar, native, live, recolor, repaint, stop=plan.stop)
        return strokes, frames, clips, native
    finally:
        bar.close()


# The refine method's joint pass (`refine`): its Adam LR, and the fraction of the strokes, the first and
# canvas-sized ones, kept as they are.  A larger LR than the optimiser's stages pays because the agent's
# strokes start far from their best; keeping the first strokes fixed saves time, since those large strokes
# hold most of the window pixels, but once the weakest strokes are re-seeded (`reseed`), keeping fewer of
# them fixed paints better, so only the first tenth stays.  Re-seeding works because the agent places the
# coarse layers well and the optimiser's seeds add the detail the agent's fixed layout misses.  Chosen by
# measurement: docs/choices.md#refine-lr-and-fixed-strokes, docs/choices.md#reseed.
REFINE_LR = 0.2
REFINE_FIXED = 0.1


def refine(plan: Plan, strokes: torch.Tensor, frames: torch.Tensor, clips: torch.Tensor | None, native: float):
    """All strokes (N, 13) optimised together against the target, ``cfg.refine_iters`` Adam iterations ->
    (strokes, frames, clips).  Bezier strokes: first the ``cfg.reseed`` fraction of the weakest strokes
    is replaced where the error is (`reseed.reseed`; the new strokes come last, frames the whole
    canvas), then the windowed joint pass (`joint_windowed.refine_windowed`: cost by the pixels the
    strokes touch, not strokes x canvas), which paints every stroke whole, so the refined strokes are
    returned unclipped (clips None) and the painting is what the pass optimised.  Other shapes: the
    dense pass (`optimize.refine_strokes`), frames and clips kept, no re-seeding."""
    cfg = plan.cfg
    shape = get_shape(cfg.shape, compiled=cfg.compile)
    if not supports_joint(shape):
        return refine_strokes(plan.target, strokes, frames, native, shape, plan.start, cfg.refine_iters, 0.03,
                              plan.palette, clips=clips, stop=plan.stop), frames, clips
    dcfg = detail_config(cfg.detail)  # the windows' margins: as the optimiser's joint pass
    if cfg.reseed > 0:
        strokes, frames = reseed(plan.target, plan.start, shape, strokes, frames, native, cfg.reseed, dcfg, cfg.seed,
                                 plan.palette, stop=plan.stop)
        if recolors(plan):  # the seeds' colours too (docs/choices.md#reseed)
            strokes = fit_colors(plan.start, plan.target, shape, strokes, frames, native)
    out, _ = refine_windowed(plan.target, strokes, frames.contiguous(), torch.full((len(strokes),), float(native)), shape,
                             plan.start.clone(), lambda st, f, n: window_bounds(shape, st, f, n, dcfg), cfg.refine_iters,
                             REFINE_LR, dcfg.chunk_pixels, fixed_colors=plan.palette is not None,
                             fixed=int(REFINE_FIXED * len(strokes)), stop=plan.stop)
    return out, frames, None


def append_to(old: Painting, strokes: torch.Tensor, frames: torch.Tensor, clips: torch.Tensor | None, ww: int, wh: int):
    """The resumed painting's strokes followed by the new ones (clips: the full canvas where one side has none)."""
    n_old, n_new = len(old), len(strokes)
    if clips is not None or old.clips is not None:
        full = torch.tensor([[0.0, 0.0, float(ww), float(wh)]])
        c_old = old.clips if old.clips is not None else full.expand(n_old, 4)
        c_new = clips if clips is not None else full.expand(n_new, 4)
        clips = torch.cat([c_old, c_new])
    return torch.cat([old.strokes, strokes]), torch.cat([old.frames, frames]), clips


def build_painting(plan: Plan, strokes: torch.Tensor, frames: torch.Tensor, clips: torch.Tensor | None, native: float,
                   live: LiveView) -> Painting:
    """The `Painting`, in output pixels, colours snapped to the palette (the optimiser rendered them
    snapped; store them so).  When the agent painted these very strokes on a full-size canvas, that
    canvas is its image (rendering them all again is a third of an agent painting's time at 128 px)."""
    if plan.palette is not None:
        strokes = snap_to_palette(strokes, plan.palette)
    reuse = plan.method == "agent" and plan.old is None and (plan.ww, plan.wh) == (plan.W, plan.H)
    medium = plan.medium
    reuse = reuse and medium == DEFAULT_MEDIUM  # the agent's canvas is the flat look
    return Painting(plan.cfg.shape, plan.W, plan.H, strokes, frames * live.to_out, native=native,
                    background=plan.background, clips=None if clips is None else clips * live.to_out_clip,
                    target=to_uint8(plan.target_full), rendered=to_uint8(plan.canvas) if reuse else None, medium=medium)


def measure(painting: Painting, out: torch.Tensor, plan: Plan, seconds: float, phases: dict[str, float]) -> dict:
    """The painting's metrics: strokes, method, PSNR, SSIM, seconds, size, phase timings (and the input's note)."""
    t0 = time.perf_counter()
    target = plan.target_full
    metrics = {"strokes": len(painting), "method": plan.method, "psnr": round(float(psnr(out, target)), 3),
               "ssim": round(float(ssim(out, target)), 4), "seconds": 0.0, "width": painting.width,
               "height": painting.height}
    phases["measure_s"] = time.perf_counter() - t0
    metrics["seconds"] = round(seconds + phases["measure_s"], 2)
    metrics["phases"] = {k: round(v, 3) for k, v in phases.items()}
    if plan.policy is not None:
        metrics["passes"] = plan.passes  # the agent's coarse-to-fine passes (--passes, --finer)
    if plan.note:
        metrics["note"] = plan.note
    return metrics


# The painter's own full-size buffers per output pixel (target, render, metrics).  The estimate stays
# conservative: a refused painting costs a retry, a killed one its whole run (docs/choices.md#memory).
PAINTER_BYTES_PER_PIXEL = 128


def check(cfg: PaintConfig) -> None:
    if cfg.seconds is not None and not (0 < cfg.seconds <= MAX_SECONDS):
        raise ValueError(f"--seconds must be > 0 and at most {MAX_SECONDS:.0f} (a day), got {cfg.seconds}")
    if cfg.detail not in DETAIL_PRESETS:
        raise ValueError(f"--detail must be one of {', '.join(DETAIL_PRESETS)}, got {cfg.detail!r}")
    if cfg.method not in METHODS:
        raise ValueError(f"--method must be one of {', '.join(METHODS)}, got {cfg.method!r}")
    if not 0 <= cfg.reseed < 1:
        raise ValueError(f"--reseed must be in [0, 1) (the fraction of the agent's strokes re-placed), got {cfg.reseed}")
    if not 0 <= cfg.repaint < 1:
        raise ValueError(f"--repaint must be in [0, 1) (the fraction of the agent's strokes re-painted), got {cfg.repaint}")
    if cfg.strokes < 0:
        raise ValueError(f"--strokes must be >= 1, got {cfg.strokes}")
    if cfg.tiles not in TILINGS:
        raise ValueError(f"--tiles must be one of {', '.join(TILINGS)}, got {cfg.tiles!r}")
    for name in ("width", "height"):
        if getattr(cfg, name):  # 0: from the other side / the input
            check_side(f"--{name}", getattr(cfg, name))
    get_shape(cfg.shape)
    Background.parse(cfg.background)
    parse_palette(cfg.palette)
    get_medium(cfg.medium).check(cfg.shape, cfg.background)
