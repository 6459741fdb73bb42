"""The package's shape: no import circles, and the arrows the architecture forbids never appear.

Every import counts, at module level, inside a function (a lazy import is still a dependency) or under
``TYPE_CHECKING`` (a circle of annotations is still a circle).  The arrows are ../shared/LAYOUT.md's "never"
list, which the README's layout map restates.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1] / "brushwork"


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def import_graph() -> dict[str, set[str]]:
    modules = {module_name(p): p for p in ROOT.rglob("*.py")}
    graph: dict[str, set[str]] = {m: set() for m in modules}
    for mod, path in modules.items():
        package = mod if path.name == "__init__.py" else mod.rpartition(".")[0]
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom):
                if node.level:
                    base = package.split(".")
                    base = base[: len(base) - (node.level - 1)]
                    target = ".".join(base + ([node.module] if node.module else []))
                else:
                    target = node.module or ""
                names = [target] + [f"{target}.{a.name}" for a in node.names]
            elif isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            else:
                continue
            for name in names:
                if name in modules and name != mod:
                    graph[mod].add(name)
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    out: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return out


def reaches(graph: dict[str, set[str]], start: str) -> set[str]:
    seen, todo = set(), [start]
    while todo:
        for w in graph[todo.pop()]:
            if w not in seen:
                seen.add(w)
                todo.append(w)
    return seen


def test_no_import_circles():
    # A package's __init__ importing its own modules is not a circle of ideas: ignore those edges.
    graph = {m: {w for w in ws if not m.startswith(w + ".")} for m, ws in import_graph().items()}
    assert cycles(graph) == []


PACKAGES = ("stroke", "medium", "io", "schedule", "render", "agent", "painter", "data", "server", "bench")


def inside(mods: set[str], *prefixes: str) -> set[str]:
    """The modules of ``mods`` in any of the packages / modules ``prefixes`` (e.g. "brushwork.agent")."""
    return {m for m in mods if any(m == p or m.startswith(p + ".") for p in prefixes)}


def direct(graph: dict[str, set[str]], prefix: str) -> set[str]:
    """What the modules of ``prefix`` import directly, outside ``prefix`` itself."""
    return {w for m, ws in graph.items() if m == prefix or m.startswith(prefix + ".") for w in ws} - inside(set(graph), prefix)


def clis(mods: set[str]) -> set[str]:
    return {m for m in mods if m == "brushwork.cli" or m.endswith(".cli")}


def forbidden(graph: dict[str, set[str]]) -> list[str]:
    """Every arrow the architecture forbids, as "a -> b" lines (empty: the layout holds)."""
    bad = []

    def deny(frm: str, mods: set[str], why: str) -> None:
        bad.extend(f"{frm} -> {m} ({why})" for m in sorted(mods))

    top = {f"brushwork.{p}" for p in PACKAGES}
    stroke = direct(graph, "brushwork.stroke")
    deny("stroke", stroke - {"brushwork.metrics"}, "geometry imports nothing above it")
    medium = direct(graph, "brushwork.medium")
    deny("medium", medium - inside(medium, "brushwork.stroke"), "a medium knows strokes and pixels, nothing above them")
    deny("io", direct(graph, "brushwork.io"), "io uses only the standard library and third-party packages")
    schedule = direct(graph, "brushwork.schedule")
    deny("schedule", inside(schedule, *(top - {"brushwork.stroke", "brushwork.io"})) | clis(schedule),
         "the schedule sits below painting and training")
    agent = direct(graph, "brushwork.agent")
    deny("agent", inside(agent, "brushwork.painter", "brushwork.server") | clis(agent), "training shares the schedule, not the painter")
    render = direct(graph, "brushwork.render")
    deny("render", inside(render, "brushwork.agent", "brushwork.painter") | clis(render), "the renderer knows no agent")
    painter = direct(graph, "brushwork.painter")
    deny("painter", inside(painter, "brushwork.agent") - {"brushwork.agent.policy", "brushwork.agent"},
         "painter -> agent only for the policy")
    deny("painter", inside(painter, "brushwork.data", "brushwork.server"), "painting needs no datasets or web app")
    for m, ws in graph.items():
        if not inside({m}, "brushwork.bench"):
            deny(m, inside(ws, "brushwork.bench"), "nothing imports bench")
    return bad


def test_forbidden_arrows():
    assert forbidden(import_graph()) == []
    graph = import_graph()

    def deps(prefix: str) -> set[str]:
        return set().union(*(reaches(graph, m) | {m} for m in graph if m == prefix or m.startswith(prefix + ".")))

    painter = deps("brushwork.painter.painter")
    training = {"brushwork.agent.train", "brushwork.agent.ddpg", "brushwork.agent.replay", "brushwork.render.train",
                "brushwork.data"}
    assert not {m for m in painter if any(m == t or m.startswith(t + ".") for t in training)}, "painting imports training code"
    # The core: what `paint()` and the public API run on (the training commands are CLIs themselves).
    core = set().union(*(deps(p) for p in ("brushwork.stroke", "brushwork.render.model", "brushwork.agent.policy",
                                           "brushwork.painter.painter", "brushwork.painter.painting", "brushwork.io")))
    assert not clis(core), "the core imports a CLI"
    assert not inside(core, "brushwork.server") and not inside(core, "brushwork.bench")


@pytest.mark.parametrize("frm, to", [
    ("brushwork.stroke.canvas", "brushwork.agent.policy"),
    ("brushwork.stroke.canvas", "brushwork.medium.oil"),
    ("brushwork.medium.oil", "brushwork.painter.painting"),
    ("brushwork.io.images", "brushwork.stroke.base"),
    ("brushwork.schedule.tiles", "brushwork.painter.painting"),
    ("brushwork.agent.direct", "brushwork.painter.agent_loop"),
    ("brushwork.agent.train", "brushwork.cli"),
    ("brushwork.render.train", "brushwork.agent.env"),
    ("brushwork.render.model", "brushwork.painter.cli"),
    ("brushwork.painter.painter", "brushwork.agent.ddpg"),
    ("brushwork.server.app", "brushwork.bench.common"),
])
def test_the_layout_test_catches_each_forbidden_arrow(frm, to):
    """Each rule can fail: add one forbidden arrow to the real graph and it is reported."""
    graph = import_graph()
    graph[frm] = graph[frm] | {to}
    assert any(line.startswith(f"{frm.split('.')[1]} -> {to}") or line.startswith(f"{frm} -> {to}")
               for line in forbidden(graph)), forbidden(graph)


def test_the_circle_test_catches_a_circle():
    """A circle is found wherever its arrows come from (`import_graph` exempts no TYPE_CHECKING block)."""
    graph = import_graph()
    graph["brushwork.painter.painting"] = graph["brushwork.painter.painting"] | {"brushwork.painter.export"}
    graph["brushwork.painter.export"] = graph["brushwork.painter.export"] | {"brushwork.painter.painting"}
    assert any("brushwork.painter.export" in c for c in cycles(graph))


def test_readme_map_matches_the_tree():
    """Every package and module of brushwork/ is in the README's layout map, and every .py it names exists."""
    readme = (ROOT.parent / "README.md").read_text()
    layout = readme[readme.index("## Layout"):]
    layout = layout[: layout.index("```", layout.index("```") + 3)]
    for path in sorted(ROOT.iterdir()):
        if path.name.startswith((".", "_")) and path.name not in ("__init__.py", "__main__.py") or path.name == "__pycache__":
            continue
        name = path.name + "/" if path.is_dir() else path.name
        assert name in layout, f"README layout map lacks brushwork/{name}"
    folders = {p.name for p in ROOT.iterdir() if p.is_dir()}
    current = None
    for line in layout.splitlines():
        head = line[2:].split(" ", 1)[0] if line.startswith("  ") and not line.startswith("   ") else ""
        if head.endswith("/"):
            current = head.rstrip("/")
        for mod in re.findall(r"\b([a-z_]+\.py)\b", line):
            where = [ROOT / mod] + ([ROOT / current / mod] if current in folders else [])
            assert any(p.exists() for p in where), f"README names {mod} (under {current}/), which does not exist"
