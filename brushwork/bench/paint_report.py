"""Tables, plots and the markdown report of `brushwork bench paint` (see `brushwork.bench.paint`)."""

from __future__ import annotations

from pathlib import Path

from .common import agent_facts, fmt, fmt_seconds, kept_notes, machine_line, md_table, pyplot, save_figure, text_table

PLOTS = ("bench_psnr_strokes.png", "bench_psnr_seconds.png", "bench_memory_strokes.png")

#: Quoted reference rows, by benchmark size: the greedy Go program fogleman/primitive (rotated
#: rectangles, 2 workers) on the dev photos centre-cropped to 512 px, whole process, measured side by
#: side with brushwork on this project's 2-core machine (400 and 1,000 shapes: issue 13; 500 shapes: issue 31,
#: where 400 measured again within 0.04 dB and 2 s of issue 13's; not re-run by the bench).
REFERENCES = {
    "512": [("primitive (rotated rectangles, 2 workers)", 400, 25.0, 56.0),
            ("primitive (rotated rectangles, 2 workers)", 500, 25.39, 65.8),
            ("primitive (rotated rectangles, 2 workers)", 1000, 26.8, 126.0)],
}
HEADERS = ["shape", "method", "strokes", "MSE", "PSNR dB", "SSIM", "s / image", "× paper-size time",
           "peak RSS MiB (Δ)"]


def _memory(c: dict) -> str:
    if c.get("peak_rss_mib") is None:
        return "—"
    delta = c.get("delta_rss_mib")
    return f"{c['peak_rss_mib']:.0f}" + (f" (+{delta:.0f})" if delta is not None else "")


def rows(result: dict) -> list[list[str]]:
    out = []
    for c in result["cells"]:
        if c["mode"] == "paper":
            name = "paper-size: ResNet-18 w64 actor + 11 M neural renderer"
            name += f" ({c.get('renderer', 'untrained')})" if "mean" in c else ""
            head = [c["shape"], name, str(c["strokes"])]
        else:
            head = [c["shape"], label(c["method"]), str(c["strokes"])]
        if "mean" not in c:
            out.append(head + [c.get("skipped", "—")] + [""] * (len(HEADERS) - 4))
            continue
        m = c["mean"]
        ratio = c.get("time_ratio_vs_paper")
        out.append(head + [fmt(m["mse"], 5), fmt(m["psnr"]), fmt(m["ssim"], 3), fmt_seconds(m["seconds"]),
                           "—" if ratio is None else f"{ratio:.2f}", _memory(c)])
    return out


def print_table(result: dict) -> None:
    print(text_table(HEADERS, rows(result), left=(0, 1)))


def _series(result: dict) -> dict[tuple[str, str], list[tuple[int, float, float]]]:
    """(shape, method) -> [(strokes, mean PSNR, mean seconds)] sorted by strokes."""
    out: dict[tuple[str, str], list] = {}
    for c in result["cells"]:
        if c["mode"] == "paint" and "mean" in c and c["mean"]["psnr"] is not None:
            out.setdefault((c["shape"], c["method"]), []).append((c["strokes"], c["mean"]["psnr"], c["mean"]["seconds"]))
    return {k: sorted(v) for k, v in out.items()}


def plot_names(doc: Path) -> tuple[str, ...]:
    """The plot files of the report ``doc``: ``bench_*.png`` for docs/benchmarks.md, ``{stem}_*.png`` for any
    other report, so that reports sharing an images/ folder (paint-512.md, paint-512-methods.md) keep their own."""
    prefix = "bench" if doc.stem == "benchmarks" else doc.stem
    return tuple(prefix + name.removeprefix("bench") for name in PLOTS)


#: One look per method, the same in every plot: colour, marker, line style.
STYLES = {"agent": ("tab:blue", "o", "-"), "divide": ("tab:purple", "D", "--"), "refine": ("tab:green", "^", "-"),
          "optimize": ("tab:orange", "s", "-")}


def label(method: str) -> str:
    """A method's name in the tables and plots (method ``divide``: the paper's divide pipeline)."""
    return "agent (paper divide)" if method == "divide" else method


def _style(method: str, i: int) -> dict:
    colour, marker, ls = STYLES.get(method, (f"C{i % 10}", "o", "-"))
    return {"color": colour, "marker": marker, "ls": ls, "lw": 1.8, "ms": 6}


def plot(result: dict, folder: Path, names: tuple[str, ...] = PLOTS) -> list[Path]:
    """PSNR vs strokes and PSNR vs seconds (one curve per method and shape; on the seconds plot every point
    is labelled with its stroke count) and peak memory vs strokes (matplotlib, Agg) into ``folder`` as
    ``names``; returns the files written ([] without matplotlib)."""
    plt = pyplot("paint")
    if plt is None:
        return []
    series = _series(result)
    if not series:
        return []
    folder.mkdir(parents=True, exist_ok=True)
    paper = next((c for c in result["cells"] if c["mode"] == "paper" and "mean" in c), None)
    refs = REFERENCES.get(str(result["size"]), [])
    one_shape = len({s for s, _ in series}) == 1
    title = f"mean over {len(result['images'])} image(s), {result['size']}" + ("" if result["size"] == "native" else " px")
    files = []
    for name, xi, xlabel in ((names[0], 0, "strokes"), (names[1], 2, "seconds per image")):
        fig, ax = plt.subplots(figsize=(8.5, 4.6), dpi=110)
        for i, ((shape, method), pts) in enumerate(series.items()):
            ax.plot([p[xi] for p in pts], [p[1] for p in pts], **_style(method, i),
                    label=label(method) if one_shape else f"{label(method)} ({shape})")
            if xi == 2:  # which budget each point is
                for p in pts:
                    ax.annotate(f"{p[0]:,}", (p[2], p[1]), textcoords="offset points", xytext=(5, -11), fontsize=7,
                                color=_style(method, i)["color"])
        if refs:  # quoted, not measured by this run
            ax.plot([r[1] if xi == 0 else r[3] for r in refs], [r[2] for r in refs], ls=":", marker="x",
                    color="grey", label=refs[0][0] + ", quoted")
        if xi == 2 and paper:
            ax.axvline(paper["mean"]["seconds"], color="grey", ls="--", lw=1)
            ax.text(paper["mean"]["seconds"], ax.get_ylim()[0], " paper-size, 200 strokes", rotation=90,
                    va="bottom", fontsize=7, color="grey")
        ax.set_xscale("log")
        from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

        if xi == 0:  # ticks at the stroke budgets, plain numbers
            ax.set_xticks(sorted({p[0] for pts in series.values() for p in pts} | ({r[1] for r in refs})))
            ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:,.0f}"))
        else:  # plain seconds at 1, 2, 5 x 10^n
            ax.xaxis.set_major_locator(LogLocator(subs=(1.0, 2.0, 5.0)))
            ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
        ax.xaxis.set_minor_formatter(NullFormatter())
        ax.set_xlabel(xlabel + " (log scale)")
        ax.set_ylabel("mean PSNR (dB), higher is better")
        ax.set_title(f"PSNR vs {xlabel.split()[0]}: {title}", fontsize=10)
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False)
        files.append(save_figure(fig, folder / name))
    mem = _memory_series(result)
    if mem:
        fig, ax = plt.subplots(figsize=(8.5, 4.6), dpi=110)
        for i, ((shape, method), pts) in enumerate(mem.items()):
            ax.plot([p[0] for p in pts], [p[1] for p in pts], **_style(method, i),
                    label=label(method) if len({s for s, _ in mem}) == 1 else f"{label(method)} ({shape})")
        ax.set_xscale("log")
        ax.set_xlabel("strokes (log scale)")
        ax.set_ylabel("peak RSS of the process (MiB)")
        ax.set_ylim(bottom=0)
        ax.set_title(f"peak memory: {title}", fontsize=10)
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False)
        files.append(save_figure(fig, folder / names[2]))
    return files


def _memory_series(result: dict) -> dict[tuple[str, str], list[tuple[int, float]]]:
    """(shape, method) -> [(strokes, peak RSS MiB)] of the isolated cells."""
    out: dict[tuple[str, str], list] = {}
    for c in result["cells"]:
        if c["mode"] == "paint" and c.get("peak_rss_mib") is not None:
            out.setdefault((c["shape"], c["method"]), []).append((c["strokes"], c["peak_rss_mib"]))
    return {k: sorted(v) for k, v in out.items()}


def per_image(result: dict) -> list[list[str]]:
    out = []
    for c in result["cells"]:
        for r in c.get("images", []):
            if "psnr" not in r:
                continue
            out.append([r["image"], f"{r['width']}×{r['height']}", c["shape"], label(c["method"]), str(c["strokes"]),
                        fmt(r["mse"], 5), fmt(r["psnr"]), fmt(r["ssim"], 3), fmt_seconds(r["seconds"])])
    return out


def write_doc(path: Path, result: dict) -> None:
    plots = plot(result, path.parent / "images", plot_names(path))
    names = ", ".join(Path(p).stem for p in result["images"])
    size = ("native size (no crop, no resize)" if result["size"] == "native"
            else f"centre-cropped square and resized to {result['size']}×{result['size']} px (Lanczos)")
    a = result.get("agent") or {}
    if not a:
        agent = "not used"
    elif "error" in a:
        agent = f"`{a['agent']}`: none found ({a['error']}), so the agent and refine rows are skipped"
    else:
        agent = f"`{a['agent']}` ({a['path']}: {agent_facts(a)})"
    ssim_impl = {r.get("ssim_impl") for c in result["cells"] for r in c.get("images", []) if r.get("ssim_impl")}
    md = [
        "# Painting benchmarks", "",
        f"Generated by `{result['command']}` — {machine_line(result['machine'])}.", "",
    ]
    if result.get("quick"):
        md += ["> **Quick run** (`--quick`: the first 2 images, 50 strokes unless `--strokes` is given) — a smoke "
               "test, not the full benchmark; run the command without `--quick` for the full tables.", ""]
    md += [
        f"* **Images** ({len(result['images'])}): {names}; {size}.",
        f"* **Agent**: {agent}.",
    ]
    if result.get("divide"):
        d = result["divide"]
        md += [f"* **agent (paper divide)**: Learning to Paint's divide pipeline, the same agent through "
               f"`paint(method=\"agent\", tiles=\"{d['tiles']}\", passes={d['passes']}, finer={d['finer']})`: "
               "the paper's disjoint nested tiles, every stroke clipped to its tile, and a fixed pyramid (the whole "
               f"image, then finer grids down to {2 ** (d['passes'] - 1)} × {2 ** (d['passes'] - 1)} patches, "
               "whatever the budget and the output; `brushwork.bench.paint.DIVIDE`). The budget splits over the "
               "passes as the agent's trained levels do (grid² × steps), not as the paper's equal steps per tile. "
               "Colour fit and repaint as in the agent row, whose tiling and pyramid are the painter's own "
               "(`tiles=\"auto\"`, `--finer`)."]
    md += [
        "",
        "## Means over the images", "",
        md_table(HEADERS, rows(result), "lllrrrrrr"), "",
    ] + kept_notes(path) + [""]
    refs = REFERENCES.get(str(result["size"]), [])
    if refs:
        md += ["Reference, quoted (not run by this benchmark): the greedy program "
               "[fogleman/primitive](https://github.com/fogleman/primitive), measured side by side with brushwork on "
               "the same 2-core machine, dev photos centre-cropped to 512 px, whole process (issue 13; issue 31 ran 500 "
               "shapes with `primitive -m 5 -j 2 -r 512 -s 512 -n 500`, and 400 again within 0.04 dB):", "",
               md_table(["program", "shapes", "PSNR dB", "s / image"],
                        [[r[0], str(r[1]), fmt(r[2]), fmt_seconds(r[3])] for r in refs], "lrrr"), ""]
    if plots:
        md += ["## Plots", ""] + [f"![{p.stem.replace('_', ' ')}](images/{p.name})" for p in plots] + [""]
    md += [
        "## How it is measured", "",
        "* **Quality** of the painting rendered at the target's size against the target, both uint8 RGB: MSE "
        "and PSNR on [0, 1] values (peak 1), SSIM = `skimage.metrics.structural_similarity(target, painting, "
        f"channel_axis=2, data_range=255)` (implementation used: {', '.join(sorted(ssim_impl)) or '—'}). "
        "Means are over images (mean of per-image PSNRs).",
        "* **Seconds per image**: wall time of one `brushwork.paint()` call as a caller sees it (for agent "
        "and refine it includes loading the actor's weights, which `paint()` does on every call), after one tiny "
        "warm-up painting; mean over the images.",
        "* **Peak memory**: " + ("each (shape, method, strokes) cell runs in a fresh Python process that paints "
                                 "all images one after another; *peak RSS* is that process's `ru_maxrss` (Python, "
                                 "torch runtime and all tensors), and Δ is the part above its RSS just before the "
                                 "first timed painting (after importing torch, loading the models and the warm-up)."
                                 if result.get("isolated") else "not measured (cells ran in one process, `--no-isolate`)."),
        ("* **Paper-size reference row**: an untrained `Actor(NetConfig(width=64))` (ResNet-18) and the paper-size "
        "`NeuralRenderer` (11 M parameters; the shipped bezier renderer if it has that configuration, else "
        "random weights) paint each image at 128×128 with the paper's loop: 40 steps of k = 5 strokes, canvas "
        "stored as uint8 between steps (`brushwork.bench.paint.paper_paint`). Its quality is meaningless (untrained); "
        "its time is the cost of the paper's architecture on this machine, and *× paper-size time* = a row's "
         "seconds per image ÷ this row's." if any(c["mode"] == "paper" for c in result["cells"])
         else "* **Paper-size reference row**: not run (`--no-paper`)."),
        f"* **Threads**: `torch.set_num_threads({result['machine']['threads']})` in every process.", "",
    ]
    detail = per_image(result)
    if detail:
        md += ["## Per image", "", "<details><summary>every image and cell</summary>", "",
               md_table(["image", "size", "shape", "method", "strokes", "MSE", "PSNR dB", "SSIM", "s"], detail,
                        "lllllrrrr"), "", "</details>", ""]
    md += ["## Reproduce", "", "```sh", "pip install -e '.[bench]'   # scikit-image (SSIM), matplotlib (plots)",
           "brushwork data fetch --only photos   # the dev photos (scikit-image's colour photos)", result["command"], "```", ""]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(md))
