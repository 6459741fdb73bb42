"""`brushwork bench renderers`: fidelity and speed of every stroke renderer, per shape.

Fidelity: PSNR of alpha maps against the shape's exact reference rasteriser on held-out random strokes
(all ten shape numbers i.i.d. U[0, 1], drawn with a seed no training run uses).  Speed: forward and
forward+backward seconds per 1,000 strokes on this CPU.  Rows: the reference itself (timing only), the
analytic soft rasteriser (eager, torch.compile'd and fused by numba), every shipped neural renderer and any given with
``--renderer``, and an untrained paper-size neural renderer (timing only: its cost does not depend on
its weights, so the comparison exists before any renderer ships).
"""

from __future__ import annotations

import json
import warnings
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch
from torch import Tensor

from ..metrics import psnr_from_mse
from ..stroke import SHAPES, fused, get_shape
from .common import clock, command_line, fmt, fmt_seconds, log, machine, machine_line, md_table, median, set_threads, text_table

# Held-out strokes: torch.rand(n, 10) from this seed.  Renderer training draws batch i from the seed
# hash((seed, rank, i)) & 0x7FFFFFFF and validates on 10_000_019 + seed (render/train.py).
BENCH_SEED = 20_190_719


@dataclass
class RenderersArgs:
    """Stroke renderers: alpha-map PSNR against the reference and seconds per 1,000 strokes, per shape."""

    strokes: int = 1000  # held-out random strokes (seed BENCH_SEED)
    shapes: tuple[str, ...] = SHAPES  # stroke shapes to bench
    size: int = 128  # canvas side (px) for fidelity and timing
    sizes: tuple[int, ...] = (256, 512)  # further sides (px) at which the analytic rasteriser's fidelity is measured
    renderer: list[Path] = field(default_factory=list)  # neural renderer .safetensors files to bench besides the shipped ones
    compiled: bool = True  # also bench the torch.compile'd analytic rasteriser (compiling takes minutes)
    paper: bool = True  # time an untrained paper-size (11 M-parameter) neural renderer
    repeats: int = 3  # timing repeats (median reported); all renderers of a shape run once per repeat, interleaved
    batch: int = 250  # strokes per renderer call when timing
    threads: int = 1  # torch threads (0 = torch's default)
    seed: int = BENCH_SEED  # seed of the held-out strokes
    json: Path | None = None  # also write the results as JSON
    doc: Path | None = Path("docs/benchmarks/renderers.md")  # markdown report to write (None: none)
    quick: bool = False  # CI smoke test: 200 strokes, no 512 px, one timing repeat

    def resolved(self) -> RenderersArgs:
        if not self.quick:
            return self
        d = asdict(self)
        d.update(strokes=min(self.strokes, 200), sizes=tuple(s for s in self.sizes if s < 512),
                 repeats=1, renderer=list(self.renderer))
        return RenderersArgs(**d)

    def check(self) -> None:
        for s in self.shapes:
            get_shape(s)
        for name in ("strokes", "size", "repeats", "batch"):
            if getattr(self, name) <= 0:
                raise ValueError(f"--{name} must be positive, got {getattr(self, name)}")


@dataclass
class Row:
    """One renderer of one shape."""

    shape: str
    renderer: str
    kind: str  # reference, analytic, compiled, neural, paper
    size: int  # output side of its maps (px)
    render: Callable[[Tensor], Tensor] | None = field(default=None, repr=False)  # (n, 10) -> (n, size, size)
    grad: bool = True  # forward+backward is defined
    fidelity: bool = True
    psnr: dict = field(default_factory=dict)  # side -> {"set": dB, "median": dB}
    forward: list = field(default_factory=list)  # seconds per 1,000 strokes, one per repeat
    forward_backward: list = field(default_factory=list)
    compile_s: float | None = None
    note: str = ""

    def summary(self) -> dict:
        d = {k: v for k, v in asdict(self).items() if k != "render"}
        d["forward_s_per_1000"] = median(self.forward)
        d["forward_backward_s_per_1000"] = median(self.forward_backward)
        return d


def held_out(n: int, seed: int = BENCH_SEED) -> Tensor:
    return torch.rand(n, 10, generator=torch.Generator().manual_seed(seed))


def neural_renderers(shapes: tuple[str, ...], extra: list[Path], size: int | None = None) -> list[tuple[str, object]]:
    """(label, model) of the shipped neural renderers and of the given files, for the benched shapes.  A given
    file made for a shape not benched, or for another ``size`` than the bench's, is refused naming both
    (a shipped renderer of another shape is only skipped; one of another size is compared at its own)."""
    from ..io.weights import WeightsError, manifest
    from ..render.model import load_renderer

    out = []
    for n in (n for n, e in manifest().items() if e.get("kind") == "renderer"):
        model = load_renderer(n)
        if model.config.shape in shapes:
            out.append((f"neural (shipped '{n}')", model))
        else:
            log(f"bench renderers: skipping shipped {n!r}: a {model.config.shape} renderer, not among {', '.join(shapes)}")
    for p in extra:
        model = load_renderer(str(p), size=size)
        if model.config.shape not in shapes:
            raise WeightsError(f"{p}: a {model.config.shape} renderer at {model.config.size} px, but the bench asks for "
                               f"{', '.join(shapes)} at {size} px (pass --shapes {model.config.shape})")
        out.append((f"neural ({p})", model))
    return out


def build_rows(args: RenderersArgs) -> list[Row]:
    from ..render.model import NeuralRenderer, RendererConfig, as_stroke_renderer, count_parameters

    neural = neural_renderers(args.shapes, args.renderer, args.size)
    rows: list[Row] = []
    for name in args.shapes:
        sh = get_shape(name)
        rows.append(Row(name, "reference", "reference", args.size, lambda x, sh=sh: sh.reference(x, args.size),
                        grad=False, fidelity=False, note="exact, not differentiable; PSNR = inf by definition"))
        eager = get_shape(name)
        eager.use_fused = False  # the torch code, whether or not numba is there
        rows.append(Row(name, "analytic (eager)", "analytic", args.size,
                        lambda x, sh=eager: sh.soft(x, args.size, validate=False)))
        if sh.use_fused and fused.enabled():
            rows.append(Row(name, "analytic (fused, numba)", "fused", args.size,
                            lambda x, sh=sh: sh.soft(x, args.size, validate=False),
                            note="the default on CPUs; first call compiles (or loads numba's cache)"))
        if args.compiled:
            shc = get_shape(name, compiled=True)
            rows.append(Row(name, "analytic (torch.compile)", "compiled", args.size,
                            lambda x, sh=shc: sh.soft(x, args.size, validate=False)))
        mine = [(label, m) for label, m in neural if m.config.shape == name]
        for label, m in mine:
            meta = getattr(m, "meta", {})
            val = meta.get("metric", {}).get("val_psnr_db")
            note = f"{count_parameters(m) / 1e6:.2f} M params, {meta.get('steps', '?')} steps"
            note += f", its own validation {val} dB" if val is not None else ""
            rows.append(Row(name, label, "neural", m.config.size, as_stroke_renderer(m), note=note))
        if not mine:
            rows.append(Row(name, "neural", "neural", args.size, None, grad=False, fidelity=False, note="not shipped"))
    if args.paper:
        model = NeuralRenderer(RendererConfig.paper()).eval().requires_grad_(False)
        rows.append(Row("any", "neural, paper size, untrained", "paper", model.config.size, as_stroke_renderer(model),
                        fidelity=False, note=f"{count_parameters(model) / 1e6:.2f} M params, random weights: timing only"))
    return rows


@torch.no_grad()
def measure_fidelity(rows: list[Row], args: RenderersArgs, strokes: Tensor) -> None:
    """Fill each row's ``psnr`` at its size (and the analytic rows at ``args.sizes`` too)."""
    jobs: dict[tuple[str, int], list[tuple[Row, Callable]]] = {}
    for r in rows:
        if r.render is None or not r.fidelity:
            continue
        jobs.setdefault((r.shape, r.size), []).append((r, r.render))
        if r.kind == "analytic":
            sh = get_shape(r.shape)
            for s in args.sizes:
                if s != r.size:
                    jobs.setdefault((r.shape, s), []).append((r, lambda x, sh=sh, s=s: sh.soft(x, s, validate=False)))
    for (name, size), todo in jobs.items():
        t0 = clock()
        ref_fn = get_shape(name).reference
        chunk = max(4, (1 << 22) // (size * size))
        errs: list[list[Tensor]] = [[] for _ in todo]
        for i in range(0, len(strokes), chunk):
            x = strokes[i : i + chunk]
            ref = ref_fn(x, size)
            for j, (_, fn) in enumerate(todo):
                errs[j].append(((fn(x).float() - ref) ** 2).mean(dim=(1, 2)))
        for (r, _), e in zip(todo, errs):
            e = torch.cat(e).double()
            per = psnr_from_mse(e).clamp(max=MAX_PSNR)
            r.psnr[str(size)] = {"set": float(psnr_from_mse(float(e.mean()))), "median": float(per.median())}
        done = ", ".join(f"{r.renderer} {r.psnr[str(size)]['set']:.2f} dB" for r, _ in todo)
        log(f"  fidelity {name} @ {size} px: {done} ({clock() - t0:.0f} s)")


def timed_pass(fn: Callable, strokes: Tensor, batch: int, grad: bool) -> float:
    """Seconds to render all ``strokes`` in batches; ``grad``: forward + ``out.sum().backward()``."""
    t0 = clock()
    for i in range(0, len(strokes), batch):
        x = strokes[i : i + batch]
        if grad:
            x = x.clone().requires_grad_(True)
            fn(x).sum().backward()
        else:
            with torch.no_grad():
                fn(x)
    return clock() - t0


def warm_up(rows: list[Row], args: RenderersArgs, strokes: Tensor) -> None:
    """Run every renderer once (forward and forward+backward on one batch) before anything is measured.
    For the torch.compile'd rows this compiles: its time is their ``compile_s``, followed by one full
    untimed pass so that window sizes not seen yet do not compile inside a measurement."""
    first = strokes[: args.batch]
    for r in rows:
        if r.render is None:
            continue
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            t0 = clock()
            timed_pass(r.render, first, args.batch, False)
            if r.grad:
                timed_pass(r.render, first, args.batch, True)
            if r.kind in ("compiled", "fused"):
                r.compile_s = clock() - t0
                timed_pass(r.render, strokes, args.batch, False)
                timed_pass(r.render, strokes, args.batch, True)
                log(f"  compiled {r.shape}: first calls {r.compile_s:.0f} s, then {clock() - t0 - r.compile_s:.0f} s "
                    "for one full pass")
        failed = [w for w in caught if "torch.compile" in str(w.message)]
        if failed:
            r.note = f"compile failed, ran eager: {failed[0].message}"


def measure_speed(rows: list[Row], args: RenderersArgs, strokes: Tensor) -> None:
    """Time every renderer ``repeats`` times, interleaved, so background load affects them alike."""
    timed = [r for r in rows if r.render is not None]
    per_1000 = 1000.0 / len(strokes)
    for rep in range(args.repeats):
        for r in timed:
            r.forward.append(timed_pass(r.render, strokes, args.batch, False) * per_1000)
            if r.grad:
                r.forward_backward.append(timed_pass(r.render, strokes, args.batch, True) * per_1000)
        log(f"  timing repeat {rep + 1}/{args.repeats}: " + ", ".join(
            f"{r.shape}/{r.renderer} {r.forward[-1]:.2f}" + (f"+{r.forward_backward[-1]:.2f}" if r.grad else "")
            for r in timed))


def run(args: RenderersArgs) -> dict:

    command = command_line("renderers", args, skip=("json",))
    args = args.resolved()
    args.check()
    threads = set_threads(args.threads)
    info = {"command": command, "machine": machine(threads)}
    log(f"bench renderers: {args.strokes} strokes, shapes {', '.join(args.shapes)}, {threads} thread(s)")
    strokes = held_out(args.strokes, args.seed)
    rows = build_rows(args)
    warm_up(rows, args, strokes)
    measure_fidelity(rows, args, strokes)
    measure_speed(rows, args, strokes)
    goals = targets(rows, args)
    headers, body = table(rows, args)
    print(text_table(headers, body, left=(0, 1, -1)))
    print()
    print(text_table(["target", "measured", "verdict"], [list(g) for g in goals], left=(0, 2)))
    result = {**info, "seed": args.seed, "strokes": args.strokes, "size": args.size, "batch": args.batch,
              "repeats": args.repeats, "rows": [r.summary() for r in rows],
              "targets": [dict(zip(("target", "measured", "verdict"), g)) for g in goals]}
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps(result, indent=2, default=str) + "\n")
    if args.doc:
        write_doc(Path(args.doc), rows, args, info, goals)
        log(f"bench renderers: wrote {args.doc}")
    return result


# --- the report: tables, targets and the markdown page ----------------------------------------------

MAX_PSNR = 100.0  # per-stroke PSNR of an exact match (MSE clamped at 1e-10)


def targets(rows: list[Row], args: RenderersArgs) -> list[tuple[str, str, str]]:
    """(target, measured, verdict) lines for the issue's goals."""
    out = []
    key = str(args.size)
    for r in rows:
        if r.kind == "analytic" and key in r.psnr:
            v = r.psnr[key]["set"]
            verdict = ("pass" if v >= 30 else "FAIL") if args.size == 128 else "n/a (target is at 128 px)"
            out.append((f"analytic vs reference ≥ 30 dB ({r.shape}, {args.size} px)", f"{v:.2f} dB", verdict))
    shipped = [r for r in rows if r.kind == "neural" and r.shape == "bezier" and "shipped" in r.renderer]
    if "bezier" in args.shapes:
        if not shipped:
            out.append(("shipped neural bezier renderer vs reference ≥ 26 dB", "not shipped", "open"))
        for r in shipped:
            v = r.psnr.get(str(r.size), {}).get("set")
            out.append((f"{r.renderer} vs reference ≥ 26 dB", f"{fmt(v)} dB", "pass" if v and v >= 26 else "FAIL"))
    neural = shipped or [r for r in rows if r.kind == "paper"]
    for a in (r for r in rows if r.shape == "bezier" and r.kind in ("analytic", "compiled", "fused")):
        for n in neural:
            fa, fn_ = median(a.forward_backward), median(n.forward_backward)
            if fa is None or fn_ is None:
                continue
            out.append((f"{a.renderer} forward+backward no slower than {n.renderer} (bezier, 1,000 strokes)",
                        f"{fa:.2f} s vs {fn_:.2f} s ({fa / fn_:.2f}x)", "pass" if fa <= fn_ else "FAIL"))
    return out


def table(rows: list[Row], args: RenderersArgs) -> tuple[list[str], list[list[str]]]:
    sizes = [str(args.size)] + [str(s) for s in args.sizes if s != args.size]
    headers = ["shape", "renderer"] + [f"PSNR {s} px (set / median)" for s in sizes] + [
        f"forward s/1000 @{args.size}", f"fwd+bwd s/1000 @{args.size}", "notes"]
    body = []
    for r in rows:
        cells = []
        for i, s in enumerate(sizes):
            if r.kind == "reference":
                cells.append("inf" if i == 0 else "")
            elif i == 0 and str(r.size) in r.psnr:
                p = r.psnr[str(r.size)]
                cells.append(f"{p['set']:.2f} / {p['median']:.2f}" + ("" if r.size == args.size else f" (at {r.size} px)"))
            elif i > 0 and s in r.psnr:
                cells.append(f"{r.psnr[s]['set']:.2f} / {r.psnr[s]['median']:.2f}")
            else:
                cells.append("—" if i == 0 else "")
        note = r.note
        if r.compile_s is not None:
            note = f"compile (first calls) {r.compile_s:.0f} s, excluded" + (f"; {note}" if note else "")
        if r.render is not None and r.size != args.size:
            note = f"outputs {r.size} px" + (f"; {note}" if note else "")
        fb = fmt_seconds(median(r.forward_backward)) if r.grad else ("n/a" if r.render is not None else "—")
        body.append([r.shape, r.renderer, *cells, fmt_seconds(median(r.forward)), fb, note])
    return headers, body


def write_doc(path: Path, rows: list[Row], args: RenderersArgs, info: dict, goals) -> None:
    headers, body = table(rows, args)
    md = [
        "# Stroke renderers: fidelity and speed", "",
        f"Generated by `{info['command']}` — {machine_line(info['machine'])}.", "",
        md_table(headers, body, "ll" + "r" * (len(headers) - 3) + "l"), "",
        "## Targets", "", md_table(["target", "measured", "verdict"], [list(g) for g in goals], "lrl"), "",
        "## How it is measured", "",
        f"* **Strokes**: {args.strokes} held-out random strokes, `torch.rand({args.strokes}, 10)` from a "
        f"`torch.Generator` seeded {args.seed} (all ten shape numbers i.i.d. U[0, 1], as in training). Renderer "
        "training draws batch *i* from seed `hash((seed, rank, i)) & 0x7FFFFFFF` and validates on seed "
        "`10_000_019 + seed`, so these strokes are not among them.",
        "* **Fidelity**: PSNR (peak 1) of each renderer's alpha maps against the shape's reference rasteriser at "
        "the same size. *set* = PSNR of the mean squared error over all strokes and pixels; *median* = median of "
        f"the per-stroke PSNRs (an exact match counts as {MAX_PSNR:.0f} dB). A neural renderer is compared at "
        "its own output size.",
        f"* **Speed**: seconds per 1,000 strokes at {args.size} px, rendered in batches of {args.batch}; median of "
        f"{args.repeats} repeat(s), all renderers run once per repeat, interleaved, so background load hits them "
        "alike. *forward* runs under `torch.no_grad()`; *fwd+bwd* is `out.sum().backward()` including the "
        "forward, with the stroke parameters requiring grad and neural weights frozen (as when the actor "
        "trains through the renderer). Every renderer is warmed up first (one batch, forward and fwd+bwd); for "
        "torch.compile that first call compiles: its time is reported in the notes and excluded, and one "
        "further untimed pass over all strokes follows.",
        f"* **Threads**: `torch.set_num_threads({info['machine']['threads']})`.",
        "* The untrained paper-size renderer has the shipped architecture's cost (weights do not change it), so "
        "it stands in for the neural renderer's speed until one ships.", "",
        "## Reproduce", "", "```sh", info["command"], "```", "",
    ]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(md))
