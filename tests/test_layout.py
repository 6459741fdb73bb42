"""The package's shape: no import circles, and the arrows the architecture forbids never appear.

Every import counts, at module level or inside a function (a lazy import is still a dependency).
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

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
        typing_only = {id(n) for block in ast.walk(tree) if isinstance(block, ast.If)
                       and ast.unparse(block.test) in ("TYPE_CHECKING", "typing.TYPE_CHECKING")
                       for stmt in block.body for n in ast.walk(stmt)}
        for node in ast.walk(tree):
            if id(node) in typing_only:  # annotations only, never executed
                continue
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


def test_forbidden_arrows():
    graph = import_graph()

    def deps(prefix: str) -> set[str]:
        return set().union(*(reaches(graph, m) | {m} for m in graph if m == prefix or m.startswith(prefix + ".")))

    def inside(mods: set[str], prefix: str) -> set[str]:
        return {m for m in mods if m == prefix or m.startswith(prefix + ".")}

    stroke = deps("brushwork.stroke")
    for other in ("brushwork.render", "brushwork.agent", "brushwork.painter", "brushwork.bench", "brushwork.server"):
        assert not inside(stroke, other), f"stroke geometry imports {other}"
    painter = deps("brushwork.painter.painter")
    training = {"brushwork.agent.train", "brushwork.agent.ddpg", "brushwork.agent.replay", "brushwork.render.train",
                "brushwork.data"}
    assert not {m for m in painter if any(m == t or m.startswith(t + ".") for t in training)}, "painting imports training code"
    # The core: what `paint()` and the public API run on (the training commands are CLIs themselves).
    core = set().union(*(deps(p) for p in ("brushwork.stroke", "brushwork.render.model", "brushwork.agent.policy",
                                           "brushwork.painter.painter", "brushwork.painter.painting", "brushwork.io")))
    assert not {m for m in core if m.endswith(".cli") or m == "brushwork.cli"}, "the core imports a CLI"
    assert not inside(core, "brushwork.server") and not inside(core, "brushwork.bench")


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
