import importlib.util
import sys
from pathlib import Path

import pytest
import torch

SCRIPTS = Path(__file__).resolve().parents[1] / "scripts"


@pytest.fixture(autouse=True)
def _seed_and_threads():
    # Tests share 2 cores with whatever else runs; one thread keeps timings stable and results exact.
    torch.set_num_threads(1)
    torch.manual_seed(0)
    yield


@pytest.fixture
def tiny_actor(tmp_path):
    """An untrained actor weights file (k=5, T=4, 32 px) for painter tests that need an agent."""
    from brushwork.agent.networks import Actor, NetConfig
    from brushwork.io.weights import save_weights

    cfg = NetConfig(width=8, bundle=5)
    actor = Actor(cfg)
    config = {"net": {"width": 8, "blocks": [2, 2, 2, 2], "bundle": 5, "params": 13}, "size": 32, "steps": 4,
              "shape": "bezier", "background": "black", "renderer": "analytic", "algo": "model-based",
              "reward": "l2", "data": "test"}
    path = tmp_path / "actor.safetensors"
    save_weights(path, actor.state_dict(), "actor", config)
    return path


def pytest_terminal_summary(terminalreporter):
    # One clear line when the browser tests were skipped for want of a browser (see test_server_e2e).
    reasons = {r.longrepr[2] for r in terminalreporter.stats.get("skipped", [])
               if isinstance(r.longrepr, tuple) and "browser tests skipped" in r.longrepr[2]}
    for reason in sorted(reasons):
        terminalreporter.write_line(reason.removeprefix("Skipped: "), yellow=True, bold=True)


def load_script(name: str):
    """scripts/NAME.py imported as the module NAME (the scripts are not a package)."""
    spec = importlib.util.spec_from_file_location(name, SCRIPTS / f"{name}.py")
    mod = importlib.util.module_from_spec(spec)
    sys.modules[name] = mod  # dataclasses look their module up
    spec.loader.exec_module(mod)
    return mod
