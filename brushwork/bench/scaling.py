"""`brushwork bench scaling`: how painting time and peak memory grow with the stroke count and the output
size, and whether re-rendering and process videos stay bounded in memory.

Cells, each in a fresh Python process (its peak RSS is its own; a cell that runs past ``--timeout`` is
killed and reported as timed out, one that needs more than ``--mem-limit-gib`` of address space fails
as out of memory instead of pushing the machine into swap or the OOM killer):

* **strokes**: `paint(method="agent")` at a fixed output size for 100 ... 5,000 strokes;
* **size**: `paint(method="agent")` with a fixed stroke count at 128 ... 4,096 px;
* **headline**: 1,000 strokes at 1,024 px with the default method (``auto``) and with ``agent``;
* **render**: `Painting.render` of one painting's strokes at 128 ... 4,096 px;
* **video**: GIF / MP4 process videos of those strokes (`Painting.save`), at two frame counts.

The log-log slope of time (and memory) against strokes and against output pixels is fitted and any
exponent above 1.3 is flagged.  Writes docs/benchmarks/scaling.md and docs/images/scaling_*.png.
"""

from __future__ import annotations

import json
import math
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .common import (
    agent_facts,
    command_line,
    fmt,
    fmt_seconds,
    kept_notes,
    log,
    machine,
    machine_line,
    md_table,
    pyplot,
    save_figure,
    set_threads,
    shown_path,
    text_table,
)

RESULT_TAG = "SCALING_CELL "
PHASE_TAG = "SCALING_PHASE "
FLAG_EXPONENT = 1.3
# Actors of training runs tried, in order, when the shipped "photo" agent does not exist yet.
FALLBACK_AGENTS = ("runs/agent-photo-l2/actor.safetensors", "runs/agent-photo/actor.safetensors")


@dataclass
class ScalingArgs:
    """Time and peak memory vs stroke count (100 -> 5,000) and output size (128 -> 4,096 px)."""

    image: Path | None = None  # image to paint, centre-cropped square (default: the first dev photo, astronaut)
    agent: str = "photo"  # shipped agent name or actor .safetensors (no shipped "photo": falls back to runs/agent-photo*/actor.safetensors)
    strokes: str = "100,200,500,1000,2000,5000"  # stroke counts of the stroke sweep (method agent)
    strokes_size: int = 512  # output side (px) of the stroke sweep
    sizes: str = "128,256,512,1024,2048,4096"  # output sides (px) of the size sweep and of the re-render cells
    size_strokes: int = 1000  # stroke count of the size sweep
    render_from: int = 1024  # re-render and video cells use the strokes of the size sweep's painting at this side
    videos: str = "gif,mp4"  # process video formats written from those strokes (empty: none)
    video_size: int = 1024  # long side (px) of the videos
    video_frames: str = "120,480"  # frame counts of the videos (memory should not grow with them)
    headline: bool = True  # also the target cell: --headline-strokes at --headline-size with method auto (and agent)
    headline_strokes: int = 1000
    headline_size: int = 1024
    target_s: float = 30.0  # the headline target (seconds)
    timeout: float = 600.0  # seconds per cell before it is killed and reported as timed out
    mem_limit_gib: float = 12.0  # address-space limit per cell (0 = none); above it a cell fails as out of memory
    threads: int = 1  # torch threads in every cell (0 = torch's default)
    isolate: bool = True  # a fresh process per cell (needed for memory figures and timeouts)
    doc: Path | None = Path("docs/benchmarks/scaling.md")  # markdown report (None: none)
    plots: Path | None = Path("docs/images")  # folder for scaling_*.png (None: no plots)
    json: Path | None = None  # also write the results as JSON
    from_json: Path | None = None  # only rewrite the report and plots from the --json file of an earlier run

    def lists(self) -> tuple[list[int], list[int], list[str], list[int]]:
        def ints(name: str, s: str, lo: int) -> list[int]:
            try:
                out = [int(x) for x in s.replace(" ", ",").split(",") if x.strip()]
            except ValueError:
                raise ValueError(f"--{name} must be comma-separated integers, got {s!r}") from None
            if any(v < lo for v in out):
                raise ValueError(f"--{name}: every value must be >= {lo}, got {s!r}")
            return out

        videos = [v.strip().lower().lstrip(".") for v in self.videos.split(",") if v.strip()]
        for v in videos:
            if v not in ("gif", "mp4", "webm"):
                raise ValueError(f"--videos: choose from gif, mp4, webm; got {v!r}")
        return (ints("strokes", self.strokes, 1), ints("sizes", self.sizes, 8), videos,
                ints("video-frames", self.video_frames, 1))


# ------------------------------------------------------------------------------------------ agent


def resolve_agent(name: str, root: Path | None = None) -> tuple[Path, str]:
    """(actor file, note) for ``--agent``.  The shipped "photo" agent may not exist yet: then the actor of
    a training run (FALLBACK_AGENTS, under the repository root or the current folder) stands in, and
    ``note`` says so.  Raises ValueError with what to do when there is none."""
    from ..io.weights import WeightsError, resolve

    try:
        return resolve(name, "actor"), ""
    except WeightsError as e:
        if name != "photo":
            raise ValueError(f"--agent {name}: {e}") from None
        why = str(e)
    bases = [root or Path(__file__).resolve().parents[2], Path.cwd()]
    for rel in FALLBACK_AGENTS:
        for base in bases:
            p = base / rel
            if p.is_file():
                return p, (f"no shipped 'photo' agent ({why}); using the training run's actor {rel} instead "
                           "(pass --agent NAME_OR_PATH to choose)")
    raise ValueError(f"--agent photo: no shipped 'photo' agent ({why}) and no training run's actor "
                     f"({', '.join(FALLBACK_AGENTS)}); pass --agent PATH to an actor .safetensors")


def snapshot_agent(path: Path, folder: Path) -> tuple[Path, dict]:
    """Copy the actor into ``folder`` (a run still training may rewrite it mid-benchmark) -> (copy, info)."""
    from ..agent.policy import describe
    from ..io.weights import sha256

    copy = Path(folder) / "actor.safetensors"
    shutil.copyfile(path, copy)
    d = describe(copy)
    return copy, {"path": str(path), "sha256": sha256(copy)[:12],
                  **{k: d[k] for k in ("steps", "metric", "size", "bundle", "episode_steps", "shape")}}


def bench_agent(name: str, folder: Path, bench: str) -> tuple[Path, dict]:
    """`resolve_agent` + `snapshot_agent` for a bench: (copy in ``folder``, info with the fallback note, logged)."""
    path, note = resolve_agent(name)
    if note:
        log(f"bench {bench}: {note}")
    copy, info = snapshot_agent(path, folder)
    info["note"] = note
    return copy, info


def agent_line(info: dict) -> str:
    text = (f"`{shown_path(info['path'])}` (sha256 {info['sha256']}…: {agent_facts(info)}; copied before the run so it "
            "cannot change under it)")
    return text + (f". Note: {info['note']}" if info.get("note") else "")


# ------------------------------------------------------------------------------------------ cells


def current_rss_mib() -> float | None:
    from .paint import current_rss_mib as f

    return f()


def peak_rss_mib() -> float | None:
    from .paint import peak_rss_mib as f

    return f()


def source_digest() -> str:
    """Short hash of the library's Python sources (the bench modules excepted): a cell records it at its
    start, so a report can tell when the code under measurement changed during a run."""
    import hashlib

    root = Path(__file__).resolve().parents[1]
    h = hashlib.sha256()
    for p in sorted(root.rglob("*.py")):
        if p.relative_to(root).parts[0] == "bench":
            continue
        h.update(str(p.relative_to(root)).encode())
        h.update(p.read_bytes())
    return h.hexdigest()[:12]


def target_image(path: str | Path) -> np.ndarray:
    """uint8 (S, S, 3): the image's largest centred square at its own resolution."""
    from ..io.images import centre_crop_square, load_image

    return np.ascontiguousarray(centre_crop_square(load_image(path).rgb))


# The phases of `paint()` this benchmark reports (its ``metrics["phases"]``): the agent loop, refinement,
# optimisation and the render at the output size.
PHASES = ("agent_loop_s", "refine_s", "optimize_s", "output_render_s")


def print_phase(name: str, seconds: float) -> None:
    """`paint(on_phase=...)` in an isolated cell: a cell killed by its timeout still tells which phases it finished."""
    if name in PHASES:
        print(f"{PHASE_TAG}{name} {seconds:.3f}", flush=True)


def run_cell(spec: dict, isolated: bool = False) -> dict:
    """One measurement; spec: kind (paint, render, video) and its parameters.  Memory figures only when
    ``isolated`` (a fresh process per cell)."""
    set_threads(spec["threads"])
    kind = spec["kind"]
    out: dict = {}
    if kind == "paint":
        from ..painter.painter import paint
        from ..schedule.tiles import default_passes

        rgb = target_image(spec["image"])
        s = spec["size"]
        kw = dict(method=spec["method"], agent=spec["agent"], quiet=True)
        paint(np.full((16, 16, 3), 128, np.uint8), width=16, height=16, strokes=5, **kw)  # warm-up (lazy inits)
        base = current_rss_mib() if isolated else None
        t0 = time.perf_counter()
        painting = paint(rgb, width=s, height=s, strokes=spec["strokes"], on_phase=print_phase if isolated else None, **kw)
        out["seconds"] = time.perf_counter() - t0
        out.update({k: v for k, v in painting.metrics["phases"].items() if k in PHASES})
        out.update(psnr=painting.metrics["psnr"], method_used=painting.metrics["method"],
                   passes=painting.metrics.get("passes", default_passes(s, s)))
        if spec.get("save"):
            painting.save(spec["save"])
    else:
        from ..painter.painting import Painting

        painting = Painting.load(spec["painting"])
        s = spec["size"]
        if kind == "render":
            painting.render(16, 16)  # warm-up
            base = current_rss_mib() if isolated else None
            t0 = time.perf_counter()
            painting.render(s, s)
            out["seconds"] = time.perf_counter() - t0
        elif kind == "video":
            from ..painter.export import write_video

            folder = Path(tempfile.mkdtemp(prefix="brushwork-scaling-"))
            try:
                ext = spec["ext"]
                write_video(painting, folder / f"warm.{ext}", frames=2, size=16)  # warm-up (imports, ffmpeg)
                base = current_rss_mib() if isolated else None
                t0 = time.perf_counter()
                path = write_video(painting, folder / f"process.{ext}", frames=spec["frames"], size=s)
                out["seconds"] = time.perf_counter() - t0
                out["bytes"] = path.stat().st_size
            finally:
                shutil.rmtree(folder, ignore_errors=True)
        else:
            raise ValueError(f"unknown cell kind {kind!r}")
    peak = peak_rss_mib() if isolated else None
    out.update(peak_rss_mib=peak, base_rss_mib=base,
               delta_rss_mib=None if peak is None or base is None else max(0.0, peak - base))
    return out


def _worker() -> None:
    spec = json.loads(sys.stdin.read())
    limit = float(spec.get("mem_limit_gib") or 0)
    if limit > 0:
        try:
            import resource

            cap = int(limit * 2**30)
            resource.setrlimit(resource.RLIMIT_AS, (cap, cap))
        except (ImportError, ValueError, OSError):  # not on this platform: run without a cap
            pass
    t0 = time.perf_counter()
    try:
        out = run_cell(spec, isolated=True)
    except (MemoryError, RuntimeError) as e:
        msg = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        oom = isinstance(e, MemoryError) or "allocate" in msg.lower() or "memory" in msg.lower()
        out = {"error": (f"out of memory (over the {limit:g} GiB limit)" if oom and limit > 0 else
                         f"{type(e).__name__}: {msg[:200]}"), "oom": oom, "detail": msg[:300],
               "after_s": time.perf_counter() - t0, "peak_rss_mib": peak_rss_mib()}
    except (ValueError, OSError) as e:
        out = {"error": f"{type(e).__name__}: {e}"}
    print(RESULT_TAG + json.dumps(out), flush=True)


def run_cell_isolated(spec: dict, timeout: float) -> dict:
    """`run_cell` in a fresh Python process, killed after ``timeout`` seconds."""
    code = "from brushwork.bench.scaling import _worker; _worker()"
    root = str(Path(__file__).resolve().parents[2])
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([root] + ([os.environ["PYTHONPATH"]] if os.environ.get("PYTHONPATH") else []))}
    t0 = time.perf_counter()
    try:
        proc = subprocess.run([sys.executable, "-c", code], input=json.dumps(spec), capture_output=True, text=True,
                              env=env, timeout=timeout if timeout > 0 else None)
    except subprocess.TimeoutExpired as e:  # subprocess.run has killed the cell's process
        out = {"error": f"timed out (> {timeout:g} s)", "timeout": True, "after_s": time.perf_counter() - t0}
        partial = e.stdout.decode(errors="replace") if isinstance(e.stdout, bytes) else (e.stdout or "")
        for line in partial.splitlines():  # phases that finished before the kill
            if line.startswith(PHASE_TAG):
                key, value = line[len(PHASE_TAG):].split()
                out[key] = float(value)
        return out
    for line in reversed(proc.stdout.splitlines()):
        if line.startswith(RESULT_TAG):
            return json.loads(line[len(RESULT_TAG):])
    tail = "\n".join((proc.stderr or proc.stdout).strip().splitlines()[-3:])
    killed = proc.returncode in (-9, 137)
    return {"error": ("killed (exit -9: out of memory?)" if killed else f"crashed (exit {proc.returncode})") + f": {tail[-300:]}",
            "oom": killed}


# ------------------------------------------------------------------------------------------ analysis


def slope(xs: list[float], ys: list[float]) -> float | None:
    """Least-squares slope of log(y) against log(x); None with fewer than two points."""
    pts = [(x, y) for x, y in zip(xs, ys) if x and y and x > 0 and y > 0]
    if len(pts) < 2 or len({p[0] for p in pts}) < 2:
        return None
    lx, ly = np.log([p[0] for p in pts]), np.log([p[1] for p in pts])
    return float(np.polyfit(lx, ly, 1)[0])


def exponents(cells: list[dict], x_key, y_key: str) -> dict:
    """Growth exponents of y against x over the successful cells: the fit over all of them and the local
    slope between the two largest (the asymptotic growth that a blow-up would show)."""
    ok = sorted((x_key(c), c[y_key]) for c in cells if c.get(y_key))
    xs, ys = [p[0] for p in ok], [p[1] for p in ok]
    fit, last = slope(xs, ys), slope(xs[-2:], ys[-2:])
    worst = max((v for v in (fit, last) if v is not None), default=None)
    return {"fit": fit, "last": last, "points": len(ok), "range": [xs[0], xs[-1]] if xs else None,
            "flag": worst is not None and worst > FLAG_EXPONENT}


def analyse(result: dict) -> dict:
    cells = result["cells"]
    by = lambda group: [c for c in cells if group in c["groups"] and "seconds" in c]  # noqa: E731
    px = lambda c: c["size"] ** 2  # noqa: E731
    return {
        "time_vs_strokes (agent paint)": exponents(by("strokes"), lambda c: c["strokes"], "seconds"),
        "memory Δ vs strokes (agent paint)": exponents(by("strokes"), lambda c: c["strokes"], "delta_rss_mib"),
        "time_vs_pixels (agent paint)": exponents(by("size"), px, "seconds"),
        "output render time vs pixels (inside paint)": exponents(by("size"), px, "output_render_s"),
        "memory Δ vs pixels (agent paint)": exponents(by("size"), px, "delta_rss_mib"),
        "time_vs_pixels (re-render)": exponents(by("render"), px, "seconds"),
        "memory Δ vs pixels (re-render)": exponents(by("render"), px, "delta_rss_mib"),
    }


# ------------------------------------------------------------------------------------------ run


def plan(args: ScalingArgs, image: str, agent: str, workdir: Path) -> list[dict]:
    """The cells to run, deduplicated: a (method, strokes, size) painting shared by several groups runs once."""
    strokes, sizes, videos, frames = args.lists()
    base = {"image": image, "agent": agent, "threads": args.threads, "mem_limit_gib": args.mem_limit_gib}
    cells: dict[tuple, dict] = {}

    def add(group: str, spec: dict) -> None:
        key = tuple(sorted((k, v) for k, v in spec.items() if k != "save"))
        cell = cells.setdefault(key, {**base, **spec, "groups": []})
        cell["groups"].append(group)
        if spec.get("save"):
            cell["save"] = spec["save"]

    source = str(workdir / f"painting-{args.size_strokes}-{args.render_from}.json")
    for n in strokes:
        add("strokes", {"kind": "paint", "method": "agent", "strokes": n, "size": args.strokes_size})
    for s in sizes:
        add("size", {"kind": "paint", "method": "agent", "strokes": args.size_strokes, "size": s})
    render_needed = bool(sizes or videos)
    if render_needed:  # the painting whose strokes are re-rendered
        add("source", {"kind": "paint", "method": "agent", "strokes": args.size_strokes, "size": args.render_from,
                       "save": source})
    if args.headline:
        add("headline", {"kind": "paint", "method": "auto", "strokes": args.headline_strokes, "size": args.headline_size})
        add("headline", {"kind": "paint", "method": "agent", "strokes": args.headline_strokes, "size": args.headline_size})
    for s in sizes:
        add("render", {"kind": "render", "painting": source, "size": s})
    for ext in videos:
        for f in frames:
            add("video", {"kind": "video", "painting": source, "size": args.video_size, "ext": ext, "frames": f})
    return list(cells.values())


def label(c: dict) -> str:
    if c["kind"] == "paint":
        return f"paint {c['method']} {c['strokes']} strokes @ {c['size']} px"
    if c["kind"] == "render":
        return f"re-render @ {c['size']} px"
    return f"{c['ext']} video {c['frames']} frames @ {c['size']} px"


def run(args: ScalingArgs) -> dict:
    if args.from_json:
        result = json.loads(Path(args.from_json).read_text())
        report(result, args)
        return result
    command = command_line("scaling", args, skip=("json",))
    args.lists()  # validate before any work
    threads = set_threads(args.threads)
    if args.image is None:
        from ..data import dev_images

        image = dev_images()[0]
    else:
        image = Path(args.image)
        if not image.is_file():
            raise ValueError(f"--image {image}: no such file")
    workdir = Path(tempfile.mkdtemp(prefix="brushwork-scaling-"))
    try:
        agent, agent_info = bench_agent(args.agent, workdir, "scaling")
        h, w = target_image(image).shape[:2]
        result = {"command": command, "machine": machine(threads), "image": str(image), "image_size": [w, h],
                  "agent": agent_info, "isolated": args.isolate, "timeout_s": args.timeout,
                  "mem_limit_gib": args.mem_limit_gib, "target_s": args.target_s,
                  "headline": {"strokes": args.headline_strokes, "size": args.headline_size}, "cells": []}
        todo = plan(args, str(image), str(agent), workdir)
        log(f"bench scaling: {len(todo)} cells, {threads} thread(s), timeout {args.timeout:g} s and "
            f"{args.mem_limit_gib:g} GiB per cell; image {image.name}")
        for spec in todo:
            t0 = time.perf_counter()
            source = source_digest()
            if "painting" in spec and not Path(spec["painting"]).is_file():
                out = {"error": "no painting to re-render (its paint cell failed)", "skipped": True}
            elif args.isolate:
                out = run_cell_isolated(spec, args.timeout)
            else:
                try:
                    out = run_cell(spec)
                except (ValueError, OSError, RuntimeError, MemoryError) as e:
                    out = {"error": f"{type(e).__name__}: {e}"}
            cell = {k: v for k, v in spec.items() if k not in ("image", "agent", "threads", "mem_limit_gib", "painting", "save")}
            cell.update(out)
            cell["source"] = source
            result["cells"].append(cell)
            mem = f", peak RSS {out['peak_rss_mib']:.0f} MiB" if out.get("peak_rss_mib") else ""
            what = out.get("error") or f"{out['seconds']:.2f} s{mem}"
            log(f"  {label(cell)}: {what} ({time.perf_counter() - t0:.0f} s)")
        result["exponents"] = analyse(result)
        result["sources"] = sorted({c["source"] for c in result["cells"]} | {source_digest()})
        if len(result["sources"]) > 1:
            log("bench scaling: WARNING: the library's sources changed during the run (see the report)")
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps(result, indent=1) + "\n")
    report(result, args)
    return result


def report(result: dict, args: ScalingArgs) -> None:
    print_tables(result)
    if args.doc:
        plots = plot(result, args.plots) if args.plots else []
        write_doc(Path(args.doc), result, plots)
        log(f"bench scaling: wrote {args.doc}" + (f" and {len(plots)} plot(s)" if plots else ""))


# ------------------------------------------------------------------------------------------ report

HEADERS = ["cell", "strokes", "output px", "passes", "seconds", "agent loop s", "output render s", "refine s",
           "PSNR dB", "peak RSS MiB (Δ)"]


def _mem(c: dict) -> str:
    if c.get("peak_rss_mib") is None:
        return "—"
    if "error" in c:
        return f"{c['peak_rss_mib']:.0f} when it failed"
    d = c.get("delta_rss_mib")
    return f"{c['peak_rss_mib']:.0f}" + (f" (+{d:.0f})" if d is not None else "")


def _status(c: dict) -> str:
    if "error" not in c:
        return fmt_seconds(c["seconds"])
    if c.get("timeout"):
        return f"**{c['error']}**"
    if c.get("oom"):
        after = f" after {c['after_s']:.0f} s" if c.get("after_s") else ""
        m = re.search(r"allocate (\d+) bytes", c.get("detail") or "")
        tried = f", allocating {int(m.group(1)) / 2**20:.0f} MiB" if m else ""
        return f"**{c['error']}**{after}{tried}"
    return f"**{c['error']}**"


def paint_rows(result: dict, group: str) -> list[list[str]]:
    from ..schedule.tiles import default_passes

    out = []
    cells = [c for c in result["cells"] if group in c["groups"] and c["kind"] == "paint"]
    if group != "headline":
        cells.sort(key=lambda c: (c["strokes"], c["size"]))
    for c in cells:
        name = f"paint, {c['method']}" + (f" (→ {c['method_used']})" if c.get("method_used") not in (None, c["method"]) else "")
        out.append([name, str(c["strokes"]), f"{c['size']}²", str(c.get("passes") or default_passes(c["size"], c["size"])), _status(c),
                    fmt(c.get("agent_loop_s")), fmt(c.get("output_render_s")), fmt(c.get("refine_s")),
                    fmt(c.get("psnr")), _mem(c)])
    return out


def _bytes(n: int) -> str:
    return f"{n / 2**20:.1f} MiB" if n >= 2**20 else f"{n / 2**10:.0f} KiB"


def other_rows(result: dict, kind: str) -> list[list[str]]:
    out = []
    for c in result["cells"]:
        if c["kind"] != kind:
            continue
        extra = (f"{c['ext'].upper()}, {c['frames']} frames" + (f", {_bytes(c['bytes'])} file" if c.get("bytes") else "")
                 if kind == "video" else "Painting.render")
        out.append([extra, f"{c['size']}²", _status(c), _mem(c)])
    return out


def headline_rows(result: dict) -> list[list[str]]:
    h, target = result["headline"], result["target_s"]
    out = []
    for c in result["cells"]:
        if "headline" not in c["groups"]:
            continue
        if "seconds" in c:
            verdict = ("**pass**" if c["seconds"] <= target else "**FAIL**") + f" ({c['seconds'] / target:.2f}× the target)"
        elif c.get("timeout"):
            verdict = f"**FAIL** (> {result['timeout_s'] / target:.0f}× the target: unfinished when killed)"
        else:
            verdict = "**FAIL**"
        method = c["method"] + (f" (→ {c['method_used']})" if c.get("method_used") not in (None, c["method"]) else "")
        out.append([f"{h['strokes']} strokes at {h['size']} px, method {method}", _status(c), f"≤ {target:g} s", verdict])
    return out


def exponent_rows(result: dict) -> list[list[str]]:
    out = []
    for name, e in result["exponents"].items():
        if not e["points"]:
            continue
        rng = e["range"]
        unit = "strokes" if "strokes" in name else "px²"
        span = f"{rng[0]:g}–{rng[1]:g} {unit}" if unit == "strokes" else f"{math.isqrt(int(rng[0]))}²–{math.isqrt(int(rng[1]))}² px"
        out.append([name.replace("_", " "), span, str(e["points"]), fmt(e["fit"]), fmt(e["last"]),
                    "**> 1.3: super-linear**" if e["flag"] else "ok"])
    return out


def print_tables(result: dict) -> None:
    for title, group in (("stroke sweep", "strokes"), ("size sweep", "size"), ("headline", "headline")):
        rows = paint_rows(result, group)
        if rows:
            print(f"\n{title}:\n" + text_table(HEADERS, rows, left=(0,)))
    for title, kind in (("re-render", "render"), ("video", "video")):
        rows = other_rows(result, kind)
        if rows:
            print(f"\n{title}:\n" + text_table(["what", "output px", "seconds", "peak RSS MiB (Δ)"], rows, left=(0,)))
    rows = exponent_rows(result)
    if rows:
        table = text_table(["quantity", "range", "points", "fit", "last step", "flag"], rows, left=(0, 1, 5))
        print("\ngrowth exponents (log-log slopes):\n" + table)
    for r in headline_rows(result):
        print(" ".join(r))


PLOTS = ("scaling_strokes.png", "scaling_size.png")
COLORS = {"paint": "C0", "render part": "C1", "render": "C2", "guide": "grey", "failed": "red"}


def plot(result: dict, folder: Path) -> list[Path]:
    """Time and peak-memory Δ against strokes and against output pixels (log-log); [] without matplotlib."""
    plt = pyplot("scaling")
    if plt is None:
        return []
    from matplotlib.ticker import NullFormatter
    cells = result["cells"]
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)

    def pts(group, kind, x, y):
        p = sorted((x(c), c[y]) for c in cells if group in c["groups"] and c["kind"] == kind and c.get(y))
        return [q[0] for q in p], [q[1] for q in p]

    def failed(group, kind, x):
        return sorted(x(c) for c in cells if group in c["groups"] and c["kind"] == kind and "error" in c)

    n_size = next((c["strokes"] for c in cells if "size" in c["groups"]), "?")
    s_size = next((c["size"] for c in cells if "strokes" in c["groups"]), "?")
    figs = [
        (PLOTS[0], lambda c: c["strokes"], "strokes", lambda v: f"{v:g}",
         [("paint (agent)", "strokes", "paint", "seconds", COLORS["paint"], "-"),
          ("  of which output render", "strokes", "paint", "output_render_s", COLORS["render part"], "--")],
         f"paint(method='agent') at {s_size}×{s_size} px against the stroke count"),
        (PLOTS[1], lambda c: c["size"] ** 2, "output pixels", lambda v: f"{math.isqrt(int(v))}²",
         [("paint (agent)", "size", "paint", "seconds", COLORS["paint"], "-"),
          ("  of which output render", "size", "paint", "output_render_s", COLORS["render part"], "--"),
          ("re-render (Painting.render)", "render", "render", "seconds", COLORS["render"], "-")],
         f"{n_size} strokes against the output size"),
    ]
    files = []
    for name, x, xlabel, tick, lines, title in figs:
        fig, axes = plt.subplots(1, 2, figsize=(10.5, 4.2), dpi=110)
        for ax, metric, ylabel in ((axes[0], "time", "seconds"), (axes[1], "memory", "peak RSS above baseline (MiB)")):
            xs_all: set = set()
            for text, group, kind, y, color, ls in lines:
                if metric == "memory":
                    if y != "seconds":
                        continue
                    y = "delta_rss_mib"
                xs, ys = pts(group, kind, x, y)
                if xs:
                    ax.plot(xs, ys, marker="o" if ls == "-" else "x", ls=ls, color=color, label=text.strip())
                    xs_all |= set(xs)
                    if y in ("seconds", "delta_rss_mib") and text.startswith("paint"):
                        ax.plot([xs[0], xs[-1]], [ys[0], ys[0] * xs[-1] / xs[0]], color=COLORS["guide"], ls=":", lw=1,
                                label="slope 1 (linear) from the first point")
                for fx in failed(group, kind, x):
                    ax.axvline(fx, color=color, ls=(0, (2, 3)), lw=1)
                    xs_all.add(fx)
            if any(failed(g, k, x) for _, g, k, *_ in lines):
                ax.plot([], [], color="k", ls=(0, (2, 3)), lw=1, label="cell timed out / out of memory")
            if metric == "time":
                ax.axhline(result["target_s"], color=COLORS["failed"], lw=0.8, alpha=0.5,
                           label=f"{result['target_s']:g} s (headline target)")
            ax.set_xscale("log")
            ax.set_yscale("log")
            if xs_all:
                ax.set_xticks(sorted(xs_all))
                ax.set_xticklabels([tick(v) for v in sorted(xs_all)], fontsize=7)
                ax.xaxis.set_minor_formatter(NullFormatter())
            ax.set_xlabel(xlabel + " (log)")
            ax.set_ylabel(ylabel + " (log)")
            ax.grid(True, which="both", alpha=0.3)
            if ax.get_legend_handles_labels()[0]:
                ax.legend(fontsize=7)
        fig.suptitle(title, fontsize=10)
        files.append(save_figure(fig, folder / name))
    return files


def write_doc(path: Path, result: dict, plots: list[Path]) -> None:
    m = result["machine"]
    iso = result["isolated"]
    h = result["headline"]
    md = ["# Scaling: time and memory vs strokes and output size", "",
          f"Generated by `{result['command']}` — {machine_line(m)}.", "",
          f"* **Image**: `{Path(result['image']).name}`, its centred {result['image_size'][0]}×{result['image_size'][1]} "
          "square (resized to each output size by `paint()`).",
          f"* **Agent**: {agent_line(result['agent'])}.",
          "* **Cells**: " + (f"each in a fresh Python process with `torch.set_num_threads({m['threads']})`, killed after "
                             f"{result['timeout_s']:g} s (*timed out*) and limited to {result['mem_limit_gib']:g} GiB of "
                             "address space (*out of memory*: the allocation that failed would have pushed the "
                             "process past it)." if iso else "in one process (`--no-isolate`): no memory figures, no timeouts."),
          "* **Peak RSS** is the cell process's `ru_maxrss`; Δ is the part above its RSS after imports, loading "
          "and a 16-px warm-up, i.e. what the measured call itself added.",
          "* **Phases** of a `paint()` call: *agent loop* = `agent_strokes` on the working canvas (256 px long side, "
          "whatever the output size), *output render* = `Painting.render()` at the output size (for the PSNR "
          "in `painting.metrics`), *refine* = `refine_strokes` (method auto/refine); the rest is target resizing, "
          "SSIM and weight loading.",
          "* Timings are wall-clock on a shared 2-core machine (other jobs were running): compare ratios and "
          "slopes, not single numbers.", ""]
    if len(result.get("sources", [])) > 1:
        first = result["cells"][0].get("source")
        changed = [label(c) for c in result["cells"] if c.get("source") != first]
        md += ["> **Warning**: the library's source files changed while this run was going on (digests "
               f"{', '.join(result['sources'])}); cells that started on other code than the first: "
               + (", ".join(changed) if changed else "none (it changed after the last cell started)") + ".", ""]
    md += [f"## Target: {h['strokes']} strokes at {h['size']} px in ≤ {result['target_s']:g} s", "",
           md_table(["cell", "seconds", "target", "verdict"], headline_rows(result), "lrrl"), ""]
    md += kept_notes(path) + [""]
    md += ["## Growth exponents", "",
           "Log-log slope of the measured quantity against strokes or output pixels: *fit* over all successful "
           "cells, *last step* between the two largest (what a blow-up shows first). 1 = linear; fixed costs "
           f"pull slopes below 1 at the small end. Flagged above {FLAG_EXPONENT}.", "",
           md_table(["quantity", "range", "points", "fit", "last step", "flag"], exponent_rows(result), "llrrrl"), ""]
    for title, group in (("Stroke sweep (method agent)", "strokes"), ("Output-size sweep (method agent)", "size"),
                         ("Headline cells", "headline")):
        rows = paint_rows(result, group)
        if rows:
            md += [f"## {title}", "", md_table(HEADERS, rows, "lrrrrrrrrr"), ""]
    src = next((c for c in result["cells"] if "source" in c["groups"]), None)
    src_txt = f"the {src['strokes']}-stroke painting made at {src['size']} px" if src else "one painting"
    for title, kind, note in (
            ("Re-rendering", "render", f"`Painting.render(S, S)` of {src_txt} (the same strokes at every size)."),
            ("Process videos", "video", f"`Painting.save(...)` → `export.write_video(frames=F, size=S)` of {src_txt}; "
                                        "frames are rendered incrementally by `Painting.iter_frames`, plus 1.5 s of held final frames.")):
        rows = other_rows(result, kind)
        if rows:
            md += [f"## {title}", "", note, "", md_table(["what", "output px", "seconds", "peak RSS MiB (Δ)"], rows, "lrrr"), ""]
    if plots:
        rel = lambda p: os.path.relpath(p, path.parent).replace(os.sep, "/")  # noqa: E731
        md += ["## Plots", ""] + [f"![{p.stem.replace('_', ' ')}]({rel(p)})" for p in plots] + [""]
    md += ["## Reproduce", "", "```sh", "pip install -e '.[bench]'", "brushwork data fetch --only photos",
           result["command"], "```", ""]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(md))

