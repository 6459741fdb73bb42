"""Neural renderer, weights files and renderer training."""

import json

import pytest
import torch

from brushwork.io import weights
from brushwork.io.weights import WeightsError, load_weights, save_weights
from brushwork.render.model import NeuralRenderer, RendererConfig, count_parameters, load_renderer
from brushwork.stroke import get_shape


def test_paper_renderer_size_and_shape():
    m = NeuralRenderer(RendererConfig.paper())
    assert abs(count_parameters(m) - 11.04e6) < 0.05e6  # the paper: about 11.0 M
    assert m(torch.rand(2, 10)).shape == (2, 128, 128)
    small = NeuralRenderer(RendererConfig(size=64, width=0.25))
    out = small(torch.rand(3, 10))
    assert out.shape == (3, 64, 64) and out.min().item() >= 0 and out.max().item() <= 1


def test_bad_renderer_size():
    with pytest.raises(ValueError, match="16 \\* 2"):
        NeuralRenderer(RendererConfig(size=100))


def test_neural_renderer_overfits_a_small_batch():
    torch.manual_seed(0)
    x = torch.rand(8, 10)
    y = get_shape("bezier").reference(x, 32)
    m = NeuralRenderer(RendererConfig(size=32, width=0.25))
    opt = torch.optim.Adam(m.parameters(), lr=2e-3)
    first = None
    for _ in range(300):
        loss = torch.nn.functional.mse_loss(m(x), y)
        first = first if first is not None else loss.item()
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert loss.item() < 0.2 * first


def test_save_load_round_trip_is_bit_exact(tmp_path):
    m = NeuralRenderer(RendererConfig(size=32, width=0.25))
    p = save_weights(tmp_path / "r.safetensors", m.state_dict(), "renderer", m.config.to_dict(), steps=7,
                     metric={"val_psnr_db": 12.5})
    loaded = load_renderer(str(p))
    for k, v in m.state_dict().items():
        assert torch.equal(loaded.state_dict()[k], v), k
    assert loaded.config == m.config and loaded.meta["steps"] == 7 and loaded.meta["metric"]["val_psnr_db"] == 12.5
    x = torch.rand(4, 10)
    assert torch.equal(loaded(x), m.eval()(x))
    # fp16 storage: loads back as the fp16-rounded weights
    p16 = save_weights(tmp_path / "h.safetensors", m.state_dict(), "renderer", m.config.to_dict(), half=True)
    state, _ = load_weights(p16)
    for k, v in m.state_dict().items():
        assert torch.equal(state[k], v.half().float())


def test_truncated_weights_are_rejected(tmp_path):
    m = NeuralRenderer(RendererConfig(size=32, width=0.25))
    p = save_weights(tmp_path / "r.safetensors", m.state_dict(), "renderer", m.config.to_dict())
    data = p.read_bytes()
    bad = tmp_path / "truncated.safetensors"
    bad.write_bytes(data[: len(data) // 2])
    with pytest.raises(WeightsError, match="truncated.safetensors"):
        load_renderer(str(bad))
    junk = tmp_path / "junk.safetensors"
    junk.write_bytes(b"not weights at all")
    with pytest.raises(WeightsError, match="junk.safetensors"):
        load_renderer(str(junk))


def test_wrong_shapes_are_rejected(tmp_path):
    m = NeuralRenderer(RendererConfig(size=32, width=0.25))
    cfg = m.config.to_dict()
    cfg["width"] = 0.5  # the file claims another architecture than its tensors have
    p = save_weights(tmp_path / "wrong.safetensors", m.state_dict(), "renderer", cfg)
    with pytest.raises(WeightsError, match="wrong.safetensors.*(shape|missing)"):
        load_renderer(str(p))


def test_wrong_kind_and_missing_file(tmp_path):
    m = NeuralRenderer(RendererConfig(size=32, width=0.25))
    p = save_weights(tmp_path / "a.safetensors", m.state_dict(), "actor", m.config.to_dict())
    with pytest.raises(WeightsError, match="actor"):
        load_renderer(str(p))
    with pytest.raises(WeightsError, match="no such file"):
        load_renderer(str(tmp_path / "nope.safetensors"))


def test_manifest_checksum_is_verified(tmp_path, monkeypatch):
    monkeypatch.setattr(weights, "SHIPPED_DIR", tmp_path)
    monkeypatch.setattr(weights, "MANIFEST", tmp_path / "manifest.json")
    m = NeuralRenderer(RendererConfig(size=32, width=0.25))
    p = save_weights(tmp_path / "renderer-test.safetensors", m.state_dict(), "renderer", m.config.to_dict())
    weights.register("test", p, "renderer")
    assert load_renderer("test").config == m.config
    entries = json.loads((tmp_path / "manifest.json").read_text())
    entries["test"]["sha256"] = "0" * 64
    (tmp_path / "manifest.json").write_text(json.dumps(entries))
    with pytest.raises(WeightsError, match="checksum mismatch"):
        load_renderer("test")


def test_shipped_weights_match_manifest():
    for name, entry in weights.manifest().items():
        path = weights.SHIPPED_DIR / entry["file"]
        assert path.stat().st_size <= 25 * 2**20, f"{name} is over 25 MB"
        assert weights.sha256(path) == entry["sha256"], name
    total = sum((weights.SHIPPED_DIR / e["file"]).stat().st_size for e in weights.manifest().values())
    assert total <= 60 * 2**20


def test_shipped_agents_load_by_name_and_act():
    from brushwork.agent.policy import load_agent

    actors = [n for n, e in weights.manifest().items() if e["kind"] == "actor"]
    assert "mnist" in actors
    for name in actors:
        policy = load_agent(name)
        w = policy.size
        canvas, target = torch.zeros(2, 3, w, w), torch.rand(2, 3, w, w)
        a = policy.act(canvas, target, torch.zeros(2, dtype=torch.long), policy.steps)
        assert a.shape == (2, policy.bundle, 13) and 0 <= float(a.min()) and float(a.max()) <= 1, name


def test_train_renderer_resumes_exactly(tmp_path, monkeypatch):
    from brushwork.render import train as train_renderer
    from brushwork.render.train import Args, main

    common = dict(size=32, width=0.25, batch=4, val_strokes=8, val_every=2, ckpt_every=2, workers=0, half=False)
    main(Args(steps=4, out=tmp_path / "a", **common))
    # Same run, killed right after its first checkpoint (step 2), then resumed.
    real = train_renderer.save_checkpoint

    def save_then_die(path, payload):
        real(path, payload)
        raise KeyboardInterrupt

    monkeypatch.setattr(train_renderer, "save_checkpoint", save_then_die)
    with pytest.raises(KeyboardInterrupt):
        main(Args(steps=4, out=tmp_path / "b", **common))
    monkeypatch.setattr(train_renderer, "save_checkpoint", real)
    main(Args(steps=4, out=tmp_path / "b", resume=True, **common))
    a = torch.load(tmp_path / "a" / "checkpoint.pt", weights_only=False)
    b = torch.load(tmp_path / "b" / "checkpoint.pt", weights_only=False)
    assert a["step"] == b["step"] == 4
    for k in a["model"]:
        assert torch.equal(a["model"][k], b["model"][k]), k
    meta = weights.read_metadata(tmp_path / "a" / "renderer.safetensors")
    assert meta["kind"] == "renderer" and "val_psnr_db" in meta["metric"]


def test_train_renderer_rejects_resume_of_other_config(tmp_path):
    from brushwork.render.train import Args, main

    common = dict(batch=2, val_strokes=4, val_every=1, ckpt_every=1, workers=0, out=tmp_path)
    main(Args(steps=1, size=32, width=0.25, **common))
    with pytest.raises(WeightsError, match="checkpoint"):
        main(Args(steps=2, size=32, width=0.5, resume=True, **common))


def test_train_renderer_bad_args():
    from brushwork.render.train import Args

    with pytest.raises(ValueError, match="shape"):
        Args(shape="blob").check()
    with pytest.raises(ValueError, match="steps"):
        Args(steps=0).check()


def test_renderer_for_another_shape_or_size_is_refused_naming_both(tmp_path):
    from brushwork.agent.env import make_renderer

    m = NeuralRenderer(RendererConfig(shape="circle", size=32, width=0.25))
    p = save_weights(tmp_path / "circle32.safetensors", m.state_dict(), "renderer", m.config.to_dict(), half=True)
    assert load_renderer(str(p), shape="circle", size=32).config == m.config
    with pytest.raises(WeightsError, match=r"circle32.safetensors: a circle renderer at 32 px, but a bezier renderer at 32 px"):
        load_renderer(str(p), shape="bezier")
    with pytest.raises(WeightsError, match=r"a circle renderer at 32 px, but a circle renderer at 64 px"):
        load_renderer(str(p), size=64)
    # the agent's environment: another shape, or a renderer smaller than the canvas (it would be upsampled)
    with pytest.raises(WeightsError, match=r"a circle renderer at 32 px, but a triangle renderer"):
        make_renderer(str(p), "triangle", 32, torch.device("cpu"))
    with pytest.raises(WeightsError, match=r"circle renderer at 32 px cannot paint a circle canvas of 64 px"):
        make_renderer(str(p), "circle", 64, torch.device("cpu"))
    assert make_renderer(str(p), "circle", 32, torch.device("cpu"))(torch.rand(2, 13)).shape == (2, 32, 32)
    # the bench: a given file must be of a benched shape and of the bench's size
    from brushwork.bench.renderers import neural_renderers

    with pytest.raises(WeightsError, match=r"a circle renderer at 32 px, but the bench asks for bezier, triangle at 32 px"):
        neural_renderers(("bezier", "triangle"), [p], 32)
    with pytest.raises(WeightsError, match=r"a circle renderer at 32 px, but a circle renderer at 128 px"):
        neural_renderers(("circle",), [p], 128)
    assert [m.config.shape for _, m in neural_renderers(("circle",), [p], 32)][-1] == "circle"


def test_resume_under_another_architecture_names_the_settings(tmp_path):
    from brushwork.render.train import Args, main

    common = dict(batch=2, val_strokes=4, val_every=1, ckpt_every=1, workers=0, out=tmp_path, size=32)
    main(Args(steps=1, width=0.25, **common))
    with pytest.raises(WeightsError) as e:
        main(Args(steps=2, width=0.5, resume=True, **common))
    msg = str(e.value)
    assert "\n" not in msg and "width 0.25 -> 0.5" in msg and "checkpoint.pt" in msg and "size" not in msg


def test_train_renderer_minutes_budget_and_time_schedule(tmp_path):
    from brushwork.render.train import Args, lr_at, main, progress

    a = Args(steps=1000, minutes=10)
    assert progress(100, 0, a) == 0.1 and progress(100, 300, a) == 0.5  # time further along than steps
    assert lr_at(100, a, 0) == a.lr and lr_at(100, a, 300) == a.lr * 0.1 and lr_at(100, a, 590) == a.lr * 0.01
    assert lr_at(900, Args(steps=1000), 10**6) == a.lr * 0.01  # without --minutes time does not count
    # A budget of ~0 s of training: one step, then checkpoint and export.
    main(Args(steps=1000, minutes=1e-9, size=32, width=0.25, batch=2, val_strokes=4, workers=0, out=tmp_path))
    ck = torch.load(tmp_path / "checkpoint.pt", weights_only=False)
    assert ck["step"] == 1 and (tmp_path / "renderer.safetensors").is_file()
    with pytest.raises(ValueError, match="minutes"):
        Args(minutes=-1).check()
    with pytest.raises(ValueError, match="data-device"):
        Args(data_device="gpu").check()


def test_train_renderer_data_on_the_training_device_trains_identically(tmp_path):
    """--data-device train draws the same batches in the training process (no workers) as the workers do."""
    from brushwork.render.train import Args, main

    common = dict(steps=2, size=32, width=0.25, batch=2, val_strokes=4, val_every=1, ckpt_every=1, half=False)
    main(Args(out=tmp_path / "a", workers=0, **common))
    main(Args(out=tmp_path / "b", workers=3, data_device="train", device="cpu", **common))
    a = torch.load(tmp_path / "a" / "checkpoint.pt", weights_only=False)["model"]
    b = torch.load(tmp_path / "b" / "checkpoint.pt", weights_only=False)["model"]
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_truncate_log_drops_rows_past_the_checkpoint(tmp_path):
    from brushwork.io.files import truncate_log

    p = tmp_path / "log.csv"
    p.write_text("step,val\n2,1\n4,2\n6,3\n")
    assert truncate_log(p, "step", 4) == 1 and p.read_text().splitlines() == ["step,val", "2,1", "4,2"]
    assert truncate_log(p, "step", 4) == 0 and truncate_log(tmp_path / "none.csv", "step", 1) == 0
