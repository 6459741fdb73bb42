"""The GPU kit (scripts/gpu_kit.py) at a tiny size on the CPU, so that it runs the first time on a GPU: the real
renderer training, DDPG updates of both arms, checkpoints, a kill in the middle of a checkpoint write, resume,
judging and export under the output limits; and the atomic writes it relies on."""

import io
import json
import sys
import tarfile
from pathlib import Path

import pytest
import torch
from conftest import load_script

from brushwork.io import weights
from brushwork.io.weights import WeightsError, load_checkpoint, load_weights, save_checkpoint, save_weights
from brushwork.render.model import NeuralRenderer, RendererConfig, load_renderer
from brushwork.stroke import SHAPES

KIT_PATH = Path(__file__).resolve().parents[1] / "scripts" / "gpu_kit.py"


@pytest.fixture(scope="module")
def kit():
    return load_script("gpu_kit")


class Killed(BaseException):
    """A process killed in the middle of a write (BaseException, like KeyboardInterrupt)."""


def half_writing_save(real_save, when):
    """A torch.save that writes half the file and dies, when ``when(path)`` says so; else the real one."""

    def save(obj, f, *a, **kw):
        if not when(str(f)):
            return real_save(obj, f, *a, **kw)
        buf = io.BytesIO()
        real_save(obj, buf, *a, **kw)
        Path(f).write_bytes(buf.getvalue()[: len(buf.getvalue()) // 2])
        raise Killed

    return save


def test_a_kill_during_a_checkpoint_write_loses_only_that_checkpoint(tmp_path, monkeypatch):
    path = tmp_path / "checkpoint.pt"
    save_checkpoint(path, {"step": 1, "w": torch.ones(1000)})
    monkeypatch.setattr(torch, "save", half_writing_save(torch.save, lambda f: True))
    with pytest.raises(Killed):
        save_checkpoint(path, {"step": 2, "w": torch.zeros(1000)})
    monkeypatch.undo()
    assert load_checkpoint(path)["step"] == 1
    assert [p.name for p in tmp_path.iterdir()] == ["checkpoint.pt"]  # no half-written temporary left


def test_a_kill_during_a_weights_write_keeps_the_previous_file(tmp_path, monkeypatch):
    m = NeuralRenderer(RendererConfig(size=32, width=0.25))
    path = save_weights(tmp_path / "r.safetensors", m.state_dict(), "renderer", m.config.to_dict(), steps=1, half=True)
    before = path.read_bytes()

    def dies_halfway(tensors, filename, metadata=None):
        Path(filename).write_bytes(before[: len(before) // 2])
        raise Killed

    monkeypatch.setattr(weights, "save_file", dies_halfway)
    with pytest.raises(Killed):
        save_weights(path, m.state_dict(), "renderer", m.config.to_dict(), steps=2, half=True)
    assert path.read_bytes() == before and load_renderer(str(path)).meta["steps"] == 1
    assert [p.name for p in tmp_path.iterdir()] == ["r.safetensors"]


def run_kit(kit, tmp_path, **kw):
    args = dict(smoke=True, device="cpu", minutes=30.0, out=tmp_path / "out", work=tmp_path / "work", threads=1)
    args.update(kw)
    return kit.main(kit.KitArgs(**args))


@pytest.mark.slow
def test_kit_smoke_kill_resume_export(kit, tmp_path, monkeypatch):
    work = tmp_path / "work"
    # Run 1 is killed while writing the bezier renderer's second checkpoint (step 6 of 6, after it logged step 6).
    calls = []

    def second_bezier_checkpoint(f):
        if "renderer-bezier/.checkpoint.pt" in f:
            calls.append(f)
            return len(calls) == 2
        return False

    monkeypatch.setattr(torch, "save", half_writing_save(torch.save, second_bezier_checkpoint))
    with pytest.raises(Killed):
        run_kit(kit, tmp_path)
    monkeypatch.undo()
    assert load_checkpoint(work / "renderer-bezier" / "checkpoint.pt")["step"] == 3  # the previous checkpoint
    assert sorted(p.name for p in (work / "renderer-bezier").iterdir()) == ["checkpoint.pt", "log.csv", "renderer.safetensors"]
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert summary["runs"][-1]["finished"] is False

    # Run 2 resumes: every renderer to its 6 steps, both arms of the agent to the same updates, then judges and exports.
    state = run_kit(kit, tmp_path)
    assert state["runs"][-1]["finished"] and len(state["runs"]) == 2
    for shape in SHAPES:
        rec = state["renderers"][shape]
        assert rec["steps"] == 6 and rec["exported_steps"] in (3, 6) and rec["data_device"] == "cpu", shape
        assert abs(rec["fp16_loss_db"]) < 0.5 and rec["exported_val_psnr_db_fp16"] > 0, shape  # fp16 costs ~nothing
    rows = (tmp_path / "out" / "renderers.csv").read_text().splitlines()
    assert rows[0].startswith("shape,step,") and sum(r.startswith("bezier,") for r in rows) == 2  # steps 3 and 6, once each
    neural, exact = state["agent"]["neural"], state["agent"]["exact"]
    assert neural["updates"] > 0 and neural["updates"] == exact["updates"] and state["equal_updates"]
    assert neural["env_steps"] == exact["env_steps"] == 12
    assert neural["identity"]["renderer"].endswith("agent-neural/renderer.safetensors")
    assert exact["identity"]["renderer"] == "analytic"
    for arm in (neural, exact):
        assert set(arm["judged_psnr_db"]) == {"neural", "exact"}

    # The outputs: within the file limits, and the packed weights unpack into loadable files.
    out = tmp_path / "out"
    files = sorted(p.name for p in out.iterdir())
    assert len(files) <= 8 and all(p.stat().st_size <= 16 * 2**20 for p in out.iterdir())
    assert files == sorted(state["outputs"]) and "summary.json" in files and "agent.csv" in files
    assert state["neural_arm_renderer"] == "the same file as renderer-bezier.safetensors"  # packed once
    data = b"".join((out / n).read_bytes() for n in files if n.startswith("weights.tar."))
    dest = tmp_path / "unpacked"
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        tar.extractall(dest, filter="data")
    for shape in SHAPES:
        r = load_renderer(str(dest / f"renderer-{shape}.safetensors"), shape=shape, size=32)
        assert r.meta["steps"] == 6 and next(iter(load_weights(dest / f"renderer-{shape}.safetensors")[0].values())).dtype == torch.float32
    from safetensors import safe_open

    with safe_open(str(dest / "renderer-bezier.safetensors"), framework="pt") as f:  # stored as fp16
        assert {f.get_tensor(k).dtype for k in f.keys()} == {torch.float16}
    from brushwork.agent.policy import load_agent

    for arm in ("neural", "exact"):
        assert load_agent(str(dest / f"actor-{arm}.safetensors")).size == 32

    # Run 3 asks for another renderer architecture on the same work folder: refused, one line naming it.
    with pytest.raises(WeightsError) as e:
        run_kit(kit, tmp_path, agent_set=[], renderer_width=0.5)
    assert "width 0.25 -> 0.5" in str(e.value) and "\n" not in str(e.value)


def test_pack_respects_the_limits(kit, tmp_path):
    files = []
    for name, n in (("a.bin", 3000), ("b.bin", 9000), ("c.bin", 100)):
        (tmp_path / name).write_bytes(bytes(range(256)) * (n // 256) + b"x" * (n % 256))
        files.append((name, tmp_path / name))
    out = tmp_path / "out"
    out.mkdir()
    (out / "weights.tar.07").write_bytes(b"stale")
    parts, packed, left = kit.pack(files + [("missing.bin", tmp_path / "nope")], out, part_bytes=4096, max_parts=4)
    assert packed == ["a.bin", "c.bin"] and len(left) == 1 and left[0].startswith("b.bin")  # 9 kB would pass 4 x 4 kB
    assert sorted(p.name for p in out.iterdir()) == parts and all((out / p).stat().st_size <= 4096 for p in parts)
    with tarfile.open(fileobj=io.BytesIO(b"".join((out / p).read_bytes() for p in parts))) as tar:
        assert tar.extractfile("a.bin").read() == (tmp_path / "a.bin").read_bytes()


def test_kit_bad_arguments(kit, tmp_path):
    for bad in (dict(minutes=0), dict(shapes=("blob",)), dict(arms=("fast",)), dict(data_device="tpu"), dict(preset="huge"),
                dict(agent_set=["nonsense=1"]), dict(agent_set=["envs"]), dict(max_files=2)):
        with pytest.raises(ValueError):
            kit.KitArgs(**bad).check()
    with pytest.raises(ValueError, match="neural arm paints 32 px canvases, but --renderer-size is 16 px"):
        kit.main(kit.KitArgs(smoke=True, device="cpu", out=tmp_path / "o", renderer_size=16))
    assert not (tmp_path / "o-work" / "renderer-bezier").exists()  # refused before any training
    args = kit.parse(["--minutes", "3", "--out", "o", "--shapes", "circle,triangle", "--no-compile", "--agent-set", "envs=32"])
    assert args.shapes == ("circle", "triangle") and args.compile is False and args.minutes == 3.0
    assert kit.agent_overrides(args) == {"envs": 32}
    assert args.work_dir.name == "o-work"


def test_kit_imports_without_the_cli_parser():
    """The GPU machines' Python has torch, numba, safetensors, tqdm and pillow but not tyro: the kit (the
    trainers, not the CLI) must import there."""
    import subprocess

    code = ("import sys, importlib.util; sys.modules['tyro'] = None; "
            f"spec = importlib.util.spec_from_file_location('gpu_kit', {str(KIT_PATH)!r}); "
            "m = importlib.util.module_from_spec(spec); sys.modules['gpu_kit'] = m; spec.loader.exec_module(m); "
            "m.KitArgs(out='o').check(); print(m.agent_args(m.KitArgs(), 'exact', 'analytic', 1, 0).preset)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip().endswith("paper-celeba")
