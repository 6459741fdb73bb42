"""Shared pieces of the benchmarks: machine description, markdown tables, number formatting, timing."""

from __future__ import annotations

import dataclasses
import datetime
import math
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

import torch


def set_threads(threads: int) -> int:
    """Set torch's intra-op threads (0 = leave torch's default) and return the number in use."""
    if threads > 0:
        torch.set_num_threads(threads)
    return torch.get_num_threads()


def cpu_model() -> str:
    """The CPU model name from /proc/cpuinfo (Linux), else what `platform` knows."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.lower().startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "unknown CPU"


def git_revision() -> str:
    """Short commit of the source tree (+ "-dirty" when it has uncommitted changes); "" outside git."""
    root = Path(__file__).resolve().parent.parent
    try:
        rev = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=root, capture_output=True, text=True,
                             timeout=10).stdout.strip()
        if not rev:
            return ""
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=root,
                               capture_output=True, text=True, timeout=10).stdout.strip()
        return rev + ("-dirty" if dirty else "")
    except (OSError, subprocess.SubprocessError):
        return ""


def machine(threads: int) -> dict:
    """Where and with what a benchmark ran."""
    return {
        "cpu": cpu_model(),
        "cpu_count": os.cpu_count(),
        "threads": threads,
        "torch": torch.__version__,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "date": datetime.datetime.now().astimezone().isoformat(timespec="seconds"),
        "revision": git_revision(),
    }


def machine_line(m: dict) -> str:
    rev = f", brushwork {m['revision']}" if m.get("revision") else ""
    return (f"{m['cpu']} ({m['cpu_count']} logical CPUs), torch {m['torch']} with {m['threads']} "
            f"thread(s), Python {m['python']}, {m['date']}{rev}")


def command_line(sub: str, args, skip: tuple[str, ...] = ()) -> str:
    """The `brushwork bench SUB ...` command that reproduces ``args`` (fields that differ from defaults)."""
    parts = ["brushwork", "bench", sub]
    for f in dataclasses.fields(args):
        if f.name in skip:
            continue
        value = getattr(args, f.name)
        default = f.default if f.default is not dataclasses.MISSING else (
            f.default_factory() if f.default_factory is not dataclasses.MISSING else None)  # type: ignore[misc]
        if value == default:
            continue
        flag = "--" + f.name.replace("_", "-")
        if isinstance(value, bool):
            parts.append(flag if value else "--no-" + f.name.replace("_", "-"))
        elif isinstance(value, (list, tuple)):
            parts += [flag, *map(str, value)] if value else [flag]
        else:
            parts += [flag, str(value)]
    return " ".join(parts)


def md_table(headers: list[str], rows: list[list], align: str = "") -> str:
    """A GitHub markdown table; ``align``: one letter per column (l, r, c), default left then right."""
    align = align or "l" + "r" * (len(headers) - 1)
    sep = {"l": ":--", "r": "--:", "c": ":-:"}
    out = ["| " + " | ".join(headers) + " |", "| " + " | ".join(sep[a] for a in align) + " |"]
    out += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(out)


def text_table(headers: list[str], rows: list[list], left: tuple[int, ...] = (0,)) -> str:
    """A plain fixed-width table for the terminal; columns ``left`` (indices, negative from the end) are
    left-aligned, the others right-aligned."""
    cells = [headers] + [[str(c) for c in r] for r in rows]
    n = len(headers)
    widths = [max(len(r[i]) for r in cells) for i in range(n)]
    lefts = {i % n for i in left}
    line = lambda r: "  ".join(c.ljust(w) if i in lefts else c.rjust(w) for i, (c, w) in enumerate(zip(r, widths))).rstrip()  # noqa: E731
    return "\n".join([line(headers), "  ".join("-" * w for w in widths)] + [line(r) for r in cells[1:]])


def fmt(x, digits: int = 2, none: str = "—") -> str:
    """A number for a table: ``none`` for None/NaN, "inf" for infinity."""
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return none
    if isinstance(x, float) and math.isinf(x):
        return "inf"
    return f"{x:.{digits}f}"


def fmt_seconds(s) -> str:
    if s is None:
        return "—"
    return f"{s:.3f}" if s < 1 else f"{s:.2f}" if s < 100 else f"{s:.0f}"


def median(xs: list[float]) -> float | None:
    return statistics.median(xs) if xs else None


def clock() -> float:
    return time.perf_counter()


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


NOTES_START, NOTES_END = "<!-- notes:start (kept when the report is regenerated) -->", "<!-- notes:end -->"


def kept_notes(path: Path) -> list[str]:
    """The hand-written block between NOTES_START and NOTES_END of an existing report (analysis of the
    numbers that a rerun should not erase), as lines; a placeholder block when there is none."""
    try:
        text = Path(path).read_text()
    except OSError:
        text = ""
    a, b = text.find(NOTES_START), text.find(NOTES_END)
    if a >= 0 and b > a:
        return text[a : b + len(NOTES_END)].splitlines()
    return [NOTES_START, NOTES_END]


def pyplot(bench: str, what: str = "plots"):
    """matplotlib.pyplot on the Agg backend, or None (logged: "bench BENCH: ... no WHAT") without matplotlib."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        log(f"bench {bench}: matplotlib is not installed (pip install brushwork[bench]); no {what}")
        return None
    return plt


def save_figure(fig, path: Path) -> Path:
    """Lay out, write and close a matplotlib figure; returns ``path``."""
    import matplotlib.pyplot as plt

    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return path


def shown_path(path: str) -> str:
    """``path`` relative to the current folder when it lies inside it (reports should not name home folders)."""
    try:
        return str(Path(path).resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)


def agent_facts(info: dict) -> str:
    """What a report says of an agent (`agent.policy.describe`'s dict): shape, observation, k, T, updates
    and the training metric stored in its file."""
    metric = ", ".join(f"{k} {v:.4g}" if isinstance(v, float) else f"{k} {v}" for k, v in (info.get("metric") or {}).items())
    return (f"{info.get('shape')} strokes, {info.get('size')} px observations, k = {info.get('bundle')}, "
            f"T = {info.get('episode_steps')}, {info.get('steps')} updates" + (f"; {metric}" if metric else ""))
