"""``--algo direct``: tiles, rollout, gradients, a tiny learning test, determinism, save/load, resume."""

import pytest
import torch

from brushwork.agent.direct import (
    direct_loss,
    evaluate_levels,
    from_tiles,
    levels_strokes,
    parse_levels,
    rollout,
    to_tiles,
)
from brushwork.agent.networks import Actor, NetConfig
from brushwork.stroke import get_shape
from brushwork.stroke.canvas import Background
from brushwork.stroke.synthetic import SyntheticSource

W = 32


def test_parse_levels_and_budgets():
    assert parse_levels("1x8, 2x4,4x1") == ((1, 8), (2, 4), (4, 1))
    assert levels_strokes(parse_levels("1x8,2x4,4x1"), 5) == [40, 80, 80]
    for bad in ("", "3x2", "1x0", "2by2", "1x2,x"):
        with pytest.raises(ValueError, match="--levels"):
            parse_levels(bad)


def test_tiles_round_trip_and_order():
    x = torch.arange(2 * 3 * 8 * 8, dtype=torch.float32).view(2, 3, 8, 8)
    t = to_tiles(x, 2)
    assert t.shape == (8, 3, 4, 4)
    assert torch.equal(t[1], x[0, :, :4, 4:])  # image 0, tile (row 0, col 1)
    assert torch.equal(t[6], x[1, :, 4:, :4])  # image 1, tile (row 1, col 0)
    assert torch.equal(from_tiles(t, 2), x)


def test_rollout_counts_steps_and_strokes_and_reaches_the_actor():
    torch.manual_seed(0)
    actor = Actor(NetConfig(width=8, bundle=2, norm="group")).spread_init("bezier")
    levels = parse_levels("1x2,2x1")
    target = torch.rand(3, 3, 2 * W, 2 * W)
    acts = []
    canvas, mses = rollout(actor, target, get_shape("bezier"), W, levels, Background(), acts)
    assert canvas.shape == target.shape and len(mses) == 3
    assert sum(a.shape[0] * a.shape[1] for a in acts) == 3 * sum(levels_strokes(levels, 2))
    direct_loss(mses, 0.3).backward()
    grads = [p.grad for p in actor.parameters() if p.grad is not None]
    assert grads and sum(float(g.abs().sum()) for g in grads) > 0


def test_spread_init_places_strokes_apart():
    actor = Actor(NetConfig(width=8, bundle=5, norm="group")).spread_init("bezier").eval()
    a = actor(torch.rand(2, 9, W, W)).view(2, 5, 13).detach()
    centres = (a[:, :, 0:2] + a[:, :, 4:6]) / 2
    assert float(torch.cdist(centres[0], centres[0]).add(torch.eye(5)).min()) > 0.2
    # the same slot lands near its grid position whatever the image (damped shape weights)
    assert float((centres[0] - centres[1]).abs().max()) < 0.1


def test_tiny_direct_learning_beats_flat_fill():
    """Solid-colour targets: 30 updates of the rollout's gradient take the painting from far below
    the flat fill of the mean colour (the exact answer) to within reach of it."""
    torch.manual_seed(0)
    gen = torch.Generator().manual_seed(0)
    actor = Actor(NetConfig(width=8, bundle=4, norm="group")).spread_init("circle")
    shape = get_shape("circle")
    levels = parse_levels("1x1,2x1")
    data = SyntheticSource("solid", W)
    held = data.sample(8, torch.Generator().manual_seed(1))
    before = evaluate_levels(actor, held, shape, W, levels, Background())
    opt = torch.optim.Adam(actor.parameters(), lr=1e-2)
    for _ in range(30):
        _, mses = rollout(actor, data.sample(8, gen).float() / 255, shape, W, levels, Background())
        loss = direct_loss(mses, 0.3)
        opt.zero_grad()
        loss.backward()
        opt.step()
    after = evaluate_levels(actor, held, shape, W, levels, Background())
    assert after["psnr"] > before["psnr"] + 5, (before, after)
    assert set(after) >= {"psnr@1", "psnr@2", "flat_psnr", "centre_spread", "stroke_size"}


def direct_args(tmp_path, **kw):
    from brushwork.agent.train import Args

    base = dict(algo="direct", data="solid", size=W, bundle=2, levels="1x1,2x1", envs=2, width=8, norm="group",
                spread_init=True, total_steps=6, eval_every=2, eval_images=2, ckpt_every=1, compile=False,
                out=tmp_path, threads=1, shape="circle")
    base.update(kw)
    return Args(**base)


def test_direct_training_is_deterministic_saves_loads_and_paints(tmp_path):
    from brushwork import paint
    from brushwork.agent.policy import load_agent
    from brushwork.agent.train import main
    from brushwork.io.weights import load_weights

    a = main(direct_args(tmp_path / "a"))
    b = main(direct_args(tmp_path / "b"))
    sa, meta = load_weights(a, "actor")
    sb, _ = load_weights(b, "actor")
    assert all(torch.equal(sa[k], sb[k]) for k in sa)
    assert meta["config"]["algo"] == "direct" and meta["config"]["levels"] == [[1, 1], [2, 1]]
    header = (tmp_path / "a" / "log.csv").read_text().splitlines()[0]
    assert "flat_psnr" in header and "centre_spread" in header
    policy = load_agent(a)
    assert policy.levels == ((1, 1), (2, 1)) and policy.shape == "circle"
    p = paint(torch.zeros(64, 64, 3, dtype=torch.uint8).numpy() + 120, strokes=9, method="agent", agent=str(a),
              shape="circle", quiet=True)
    assert len(p) == 9


def test_direct_resume_refuses_other_levels(tmp_path):
    from brushwork.agent.train import main
    from brushwork.io.weights import WeightsError

    main(direct_args(tmp_path))
    with pytest.raises(WeightsError, match="levels"):
        main(direct_args(tmp_path, levels="1x2", resume=True))


def test_training_on_from_weights_logs_its_start_and_never_exports_worse(tmp_path):
    """--init-actor: the starting weights are evaluated first (update 0), so the exported actor is the
    start or something that beat it on the same held-out images."""
    from brushwork.agent.train import main
    from brushwork.io.weights import load_weights

    start = main(direct_args(tmp_path / "a"))
    _, meta_start = load_weights(start, "actor")
    on = main(direct_args(tmp_path / "b", init_actor=start, lr_actor=0.5, lr_warmup=0))  # a huge LR: updates hurt
    rows = (tmp_path / "b" / "log.csv").read_text().splitlines()[1:]
    first = rows[0].split(",")
    assert first[0] == "0" and float(first[5]) == pytest.approx(meta_start["metric"]["eval_psnr_db"], abs=2e-3)
    _, meta_on = load_weights(on, "actor")
    assert meta_on["metric"]["eval_psnr_db"] >= float(first[5]) - 1e-3


def test_lr_warmup_is_checked():
    from brushwork.agent.train import Args

    with pytest.raises(ValueError, match="lr-warmup"):
        Args(lr_warmup=-1).check()


def test_min_crop_reaches_training_crops_only(tmp_path):
    """--min-crop sets the training crops' scale; held-out crops keep the default, so curves compare."""
    import numpy as np
    from PIL import Image

    from brushwork.agent.targets import open_data
    from brushwork.agent.train import Args
    from brushwork.data import split_of

    rng = np.random.default_rng(0)
    names = [f"im{i:03d}.png" for i in range(40)]
    for n in names:
        Image.fromarray(rng.integers(0, 256, (30, 40, 3), dtype=np.uint8)).save(tmp_path / n)
    assert any(split_of(n) == "test" for n in names)
    args = Args(data=str(tmp_path), size=16, min_crop=0.8)
    assert open_data(args, "train", 0).min_crop == 0.8
    assert open_data(args, "test", 0).min_crop == 0.25
    with pytest.raises(ValueError, match="min-crop"):
        Args(min_crop=0).check()


def test_painter_schedule_follows_the_painters_passes():
    from brushwork.agent.direct import painter_schedule

    levels = parse_levels("1x8,2x4,4x1")
    assert painter_schedule(levels, 200, 128, 5) == ((1, 4, 20), (2, 1, 20), (4, 1, 80), (8, 1, 80))
    assert painter_schedule(levels, 50, 128, 5) == ((1, 2, 10), (2, 1, 20), (4, 1, 20))
    # at size (512 px, 4,000 strokes, 32 px observations): two finer passes and more, the trained levels capped at
    # their trained strokes (8 x 5, 4 x 4 x 5, 16 x 5) and the finest tiles at 16 px, as `paint()` plans them
    from brushwork.schedule.tiles import agent_passes, pass_budgets

    plan = painter_schedule(levels, 4000, 512, 5, 32)
    assert [p[0] for p in plan] == [1, 2, 4, 8, 16, 32] and sum(p[2] for p in plan) == 4000
    assert [p[2] for p in plan] == pass_budgets(4000, agent_passes(4000, levels, 512, 512, obs=32), levels, 5)
    assert [p[2] for p in plan][:3] == [40, 80, 80]


def test_rollout_on_the_painters_schedule_paints_what_the_painter_paints(tmp_path):
    """--paint-strokes: the training rollout (soft rasteriser, batched tiles, slot allotment) and
    `paint(method="agent")` (exact rasteriser, its own loop) give the same painting, to the rasterisers'
    difference; and the cut steps paint exactly the budget."""
    import numpy as np

    from brushwork import paint
    from brushwork.agent.direct import painter_schedule
    from brushwork.agent.policy import load_agent
    from brushwork.agent.train import main
    from brushwork.metrics import psnr_from_mse

    policy = load_agent(main(direct_args(tmp_path, shape="bezier")))
    rng = np.random.default_rng(0)
    img = (rng.random((4, 4, 3)) * 255).astype(np.uint8).repeat(16, 0).repeat(16, 1)  # 64 px, 16 px blocks
    n = 46  # levels 1x1,2x1 plus the finer 4 x 4 pass: 46 strokes end inside steps
    plan = painter_schedule(policy.levels, n, 64, policy.bundle)
    assert len(plan) == 3 and sum(p[2] for p in plan) == n
    acts = []
    target = torch.from_numpy(img).permute(2, 0, 1)[None].float() / 255
    with torch.no_grad():
        _, mses = rollout(policy.actor.eval(), target, get_shape("bezier"), W, plan,
                          Background.parse(policy.background), acts)
    out = paint(img, strokes=n, method="agent", agent=str(tmp_path / "actor.safetensors"), shape="bezier",
                tiles="paper", fit_colors=False, quiet=True)
    assert len(out) == n
    assert float(psnr_from_mse(mses[-1])) == pytest.approx(out.metrics["psnr"], abs=0.02)


def test_paint_strokes_is_checked_kept_and_must_match_on_resume(tmp_path):
    from brushwork.agent.train import Args, main
    from brushwork.io.weights import WeightsError, load_weights

    for bad in ("x", "10,-1"):
        with pytest.raises(ValueError, match="--paint-strokes"):
            Args(algo="direct", paint_strokes=bad).check()
    _, meta = load_weights(main(direct_args(tmp_path, paint_strokes="12,6")), "actor")
    assert meta["config"]["paint_strokes"] == "12,6" and meta["metric"]["strokes"] == 12
    with pytest.raises(WeightsError, match="paint_strokes"):
        main(direct_args(tmp_path, paint_strokes="6", resume=True))


def test_load_agent_caches_until_the_file_changes(tmp_path):
    import os

    from brushwork.agent.policy import load_agent
    from brushwork.agent.train import main

    a = main(direct_args(tmp_path / "a"))
    b = main(direct_args(tmp_path / "b", seed=1))
    first = load_agent(a)
    assert load_agent(str(a)) is first
    os.replace(b, a)  # an atomic re-export, as training does
    second = load_agent(a)
    assert second is not first
    assert any(not torch.equal(p, q) for p, q in zip(first.actor.parameters(), second.actor.parameters()))


def test_fit_colors_loss_is_the_painters_fitted_painting_and_trains_the_shapes(tmp_path):
    """--fit-colors: `fitted_canvas` repaints the rollout with `paint`'s fitted colours (same PSNR as the
    painter with its colour fit on), its error is no worse than the agent's own colours, and its gradient
    reaches the actor through the shapes only."""
    import copy

    import numpy as np

    from brushwork import paint
    from brushwork.agent.direct import fitted_canvas, painter_schedule
    from brushwork.agent.policy import load_agent
    from brushwork.agent.train import main
    from brushwork.metrics import psnr_from_mse

    policy = load_agent(main(direct_args(tmp_path, shape="bezier", fit_colors=True)))
    rng = np.random.default_rng(1)
    img = (rng.random((4, 4, 3)) * 255).astype(np.uint8).repeat(16, 0).repeat(16, 1)
    n = 46
    plan = painter_schedule(policy.levels, n, 64, policy.bundle)
    target = torch.from_numpy(img).permute(2, 0, 1)[None].float() / 255
    record = []
    actor = copy.deepcopy(policy.actor).requires_grad_(True)  # the loaded policy is shared: not changed
    bg = Background.parse(policy.background)
    _, mses = rollout(actor, target, get_shape("bezier"), W, plan, bg, None, record)
    fitted = fitted_canvas(target, bg, record, get_shape("bezier"), W)
    mse = ((fitted - target) ** 2).mean()
    out = paint(img, strokes=n, method="agent", agent=str(tmp_path / "actor.safetensors"), shape="bezier",
                tiles="paper", quiet=True, repaint=0.0)  # the fit, without the repaint after it
    assert float(psnr_from_mse(mse.detach())) == pytest.approx(out.metrics["psnr"], abs=0.02)
    assert float(mse.detach()) <= float(mses[-1].detach()) + 1e-6
    mse.backward()
    assert any(p.grad is not None and float(p.grad.abs().sum()) > 0 for p in actor.parameters())
