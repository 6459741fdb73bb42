"""scripts/train_agent_size.py (issue 31's GPU run) end to end on the CPU at a tiny size, so that it runs the first
time on a GPU: both stages through the real trainer, OUT's files and limits, resume from OUT alone."""

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from conftest import load_script
from PIL import Image

from brushwork.io.weights import load_weights


@pytest.fixture(scope="module")
def script():
    return load_script("train_agent_size")


def photos(folder: Path, n: int = 24) -> Path:
    """n small images; img10, img12 and img16 fall in the held-out split (1 file name in 10)."""
    folder.mkdir()
    rng = np.random.default_rng(0)
    y, x = np.mgrid[0:96, 0:128]
    for i in range(n):
        rgb = np.stack([x * 2, y * 2, ((x // (4 + i) + y // 7) % 2) * 200], 2) + rng.integers(0, 40, (96, 128, 3))
        Image.fromarray(np.clip(rgb, 0, 255).astype(np.uint8)).save(folder / f"img{i:02d}.png")
    return folder


@pytest.mark.slow
def test_train_agent_size_runs_packs_and_resumes_from_out_alone(tmp_path, script):
    data = photos(tmp_path / "photos")
    out, work = tmp_path / "out", tmp_path / "work"
    args = script.parse(["--smoke", "--device", "cpu", "--minutes", "0.12", "--out", str(out), "--work", str(work),
                         "--data", str(data), "--scales-updates", "2", "--envs", "2", "--eval-every", "2",
                         "--ckpt-every", "1", "--slice-minutes", "0.05", "--threads", "1", "--part-mb", "1"])
    assert args.smoke and args.init == "photo" and args.max_files == 8
    state = script.main(args)
    first = state["stages"]
    assert first["scales"]["done"] and first["scales"]["updates"] == 2
    assert first["size"]["updates"] >= 1 and not first["size"]["done"]
    files = sorted(p.name for p in out.iterdir())
    assert {"actor.safetensors", "log.jsonl", "curves.png", "state.json", "checkpoint.tar.00"} <= set(files)
    assert len(files) <= 8 and all((out / f).stat().st_size <= 16 * 2**20 for f in files)
    assert state["pack"]["stage"] == "size" and state["weights_stage"] == "size"
    _, meta = load_weights(out / "actor.safetensors", "actor")
    assert meta["config"]["paint_strokes"] == "80,40" and meta["config"]["algo"] == "direct"
    log = [json.loads(line) for line in (out / "log.jsonl").read_text().splitlines()]
    assert [r["event"] for r in log if "event" in r] == ["run"]
    assert {r["stage"] for r in log if "eval_psnr" in r} == {"scales", "size"}
    assert Image.open(out / "curves.png").size[0] > 100

    # A fresh machine: only OUT comes back; the second run unpacks its checkpoint and trains on.
    shutil.rmtree(work)
    state = script.main(script.parse(["--smoke", "--device", "cpu", "--minutes", "0.05", "--out", str(out), "--work",
                                      str(work), "--data", str(data), "--scales-updates", "2", "--envs", "2",
                                      "--eval-every", "2", "--ckpt-every", "1", "--slice-minutes", "0.1",
                                      "--threads", "1", "--part-mb", "1"]))
    assert state["stages"]["scales"] == first["scales"]  # done: not trained again
    assert state["stages"]["size"]["updates"] > first["size"]["updates"]  # resumed: the count continues
    assert len(state["runs"]) == 2
    log = [json.loads(line) for line in (out / "log.jsonl").read_text().splitlines()]
    size_updates = [r["updates"] for r in log if r.get("stage") == "size"]
    assert size_updates == sorted(size_updates) and size_updates[-1] > first["size"]["updates"] - 1
    assert len(list(out.iterdir())) <= 8


def test_a_damaged_pack_is_refused(tmp_path, script):
    out = tmp_path / "out"
    out.mkdir()
    (out / "checkpoint.tar.00").write_bytes(b"cut short")
    args = script.SizeArgs(out=out, work=tmp_path / "work", smoke=True, device="cpu")
    state = {"pack": {"stage": "size", "parts": ["checkpoint.tar.00"], "sha256": "0" * 64}}
    with pytest.raises(ValueError, match="sha256"):
        script.unpack(args, "size", state)
    with pytest.raises(ValueError, match="--minutes"):
        script.SizeArgs(minutes=0).check()
