"""Environment, networks, rewards, model-based/model-free DDPG, replay and training."""

import os
import subprocess
import sys

import pytest
import torch

from brushwork.agent.ddpg import Agent, DDPGConfig, soft_update
from brushwork.agent.env import PaintEnv, make_renderer, paint_bundle
from brushwork.agent.networks import Actor, Critic, Discriminator, NetConfig, count_parameters
from brushwork.agent.replay import EpisodeReplay
from brushwork.render.model import NeuralRenderer, RendererConfig
from brushwork.stroke.synthetic import SyntheticSource

W = 32


def tiny_agent(reward="l2", algo="model-based", render=None):
    render = render or make_renderer("analytic", "bezier", W, torch.device("cpu"))
    return Agent(NetConfig(width=8, bundle=2), DDPGConfig(steps=3, reward=reward, algo=algo), render)


def batch_from(replay, n=6):
    return replay.sample(n, torch.Generator().manual_seed(0))


def filled_replay(episodes=4, steps=3, k=2):
    rp = EpisodeReplay(episodes, steps, W, 13 * k)
    g = torch.Generator().manual_seed(0)
    rp.add(torch.randint(0, 256, (episodes, steps + 1, 3, W, W), dtype=torch.uint8, generator=g),
           torch.randint(0, 256, (episodes, 3, W, W), dtype=torch.uint8, generator=g), torch.rand(episodes, steps, 13 * k, generator=g))
    return rp


def test_paper_network_sizes():
    net = NetConfig.paper()
    actor, critic, disc = Actor(net), Critic(net), Discriminator()
    assert 10.5e6 < count_parameters(actor) < 11.5e6  # the paper: about 11.2 M
    assert 10.5e6 < count_parameters(critic) < 11.5e6
    assert 0.2e6 < count_parameters(disc) < 0.35e6  # the paper: about 0.27 M
    assert actor(torch.rand(2, 9, 128, 128)).shape == (2, 65)
    assert critic(torch.rand(2, 12, 128, 128)).shape == (2,)
    assert disc(torch.rand(2, 6, 128, 128)).shape == (2,)


def test_observation_and_action_shapes():
    render = make_renderer("analytic", "bezier", W, torch.device("cpu"))
    env = PaintEnv(W, bundle=2, steps=3, render=render)
    obs = env.reset(SyntheticSource("solid", W).sample(4))
    assert obs["canvas"].dtype == torch.uint8 and obs["canvas"].shape == (4, 3, W, W)
    assert obs["target"].dtype == torch.uint8 and obs["t"].tolist() == [0] * 4
    agent = tiny_agent(render=render)
    a = agent.act(obs)
    assert a.shape == (4, 26) and float(a.min()) >= 0 and float(a.max()) <= 1
    done = False
    for _ in range(3):
        obs, done = env.step(a)
    assert done and obs["t"].tolist() == [3] * 4
    with pytest.raises(RuntimeError, match="reset"):
        env.step(a)


def test_l2_reward_is_positive_for_a_stroke_toward_the_target():
    agent = tiny_agent("l2")
    target = torch.zeros(1, 3, W, W)
    target[:, 0] = 1.0  # red
    c0 = torch.zeros(1, 3, W, W)
    red = torch.tensor([[0.1, 0.5, 0.5, 0.5, 0.9, 0.5, 0.8, 0.8, 1.0, 1.0, 1.0, 0.0, 0.0]] * 2).view(1, 26)
    green = red.clone().view(1, 2, 13)
    green[..., 10:13] = torch.tensor([0.0, 1.0, 0.0])
    c_red = paint_bundle(c0, red, agent.render, 2)
    c_green = paint_bundle(c0, green.view(1, 26), agent.render, 2)
    assert float(agent.reward(c0, c_red, target)) > 0
    assert float(agent.reward(c0, c_green, target)) < 0


@pytest.mark.slow
def test_model_based_critic_target_on_a_hand_made_example():
    agent = tiny_agent("l2")
    agent.critic_t = ConstCritic(0.25)
    rp = filled_replay()
    b = batch_from(rp)
    from brushwork.agent.env import observation_planes, to_float

    c0, c1s, tg = to_float(b["canvas"]), to_float(b["next_canvas"]), to_float(b["target"])
    with torch.no_grad():
        a_next = agent.actor_t(observation_planes(c1s, tg, b["t"] + 1, 3))
        c2 = paint_bundle(c1s, a_next, agent.render, 2)
        r_next = ((c1s - tg) ** 2).mean(dim=(1, 2, 3)) - ((c2 - tg) ** 2).mean(dim=(1, 2, 3))
        c1 = paint_bundle(c0, b["action"], agent.render, 2)
        r = ((c0 - tg) ** 2).mean(dim=(1, 2, 3)) - ((c1 - tg) ** 2).mean(dim=(1, 2, 3))
        expected = r + agent.cfg.gamma * (1 - b["done"].float()) * (0.25 + r_next)
    seen = {}
    real = torch.nn.functional.mse_loss

    def record(q, y):
        seen.setdefault("y", y.detach().clone())
        return real(q, y)

    torch.nn.functional.mse_loss = record
    try:
        agent.update(b, 1e-4, 1e-4)
    finally:
        torch.nn.functional.mse_loss = real
    assert torch.allclose(seen["y"], expected, atol=1e-6)
    assert bool(b["done"].any()) and not bool(b["done"].all())  # both kinds of rows were checked


class ConstCritic(torch.nn.Module):
    def __init__(self, value):
        super().__init__()
        self.value = value

    def forward(self, planes):
        return torch.full((planes.shape[0],), self.value)


def test_update_trains_actor_through_a_frozen_renderer():
    neural = NeuralRenderer(RendererConfig(size=W, width=0.25)).eval().requires_grad_(False)
    render = lambda s: neural(s[:, :10])  # noqa: E731
    agent = tiny_agent("wgan", render=render)
    before_r = {k: v.clone() for k, v in neural.state_dict().items()}
    before_a = {k: v.clone() for k, v in agent.actor.state_dict().items()}
    # The actor's only gradient path is critic(render(actor(s))): check it reaches the actor.
    agent.update(batch_from(filled_replay()), 1e-3, 1e-3)
    assert all(torch.equal(before_r[k], v) for k, v in neural.state_dict().items())
    changed = [k for k, v in agent.actor.state_dict().items() if v.is_floating_point() and not torch.equal(before_a[k], v)]
    assert any("weight" in k for k in changed)


def test_model_free_patch_q_update_runs():
    agent = tiny_agent("wgan", algo="model-free")
    logs = agent.update(batch_from(filled_replay()), 1e-3, 1e-3)
    assert all(torch.isfinite(torch.tensor(v)) for v in logs.values())
    q = agent.critic(torch.rand(2, 9 + 26, W, W))
    assert q.dim() == 3  # one Q per patch


def test_soft_update_moves_targets_by_tau():
    src, tgt = torch.nn.BatchNorm1d(3), torch.nn.BatchNorm1d(3)
    with torch.no_grad():
        src.weight.fill_(1.0)
        tgt.weight.fill_(0.0)
        src.running_mean.fill_(5.0)
    soft_update(tgt, src, 0.1)
    assert torch.allclose(tgt.weight, torch.full((3,), 0.1))
    assert torch.equal(tgt.running_mean, src.running_mean)  # BatchNorm statistics copied


def test_replay_wraps_around_and_stores_targets_once():
    rp = EpisodeReplay(3, 2, 8, 13)
    for e in range(5):
        rp.add(torch.full((1, 3, 3, 8, 8), e, dtype=torch.uint8), torch.full((1, 3, 8, 8), e, dtype=torch.uint8),
               torch.full((1, 2, 13), float(e)))
    assert rp.count == 5 and rp.pos == 2 and len(rp) == 6
    assert sorted(int(rp.target[i, 0, 0, 0]) for i in range(3)) == [2, 3, 4]
    b = rp.sample(50, torch.Generator().manual_seed(0))
    assert set(b["target"][:, 0, 0, 0].tolist()) <= {2, 3, 4}
    assert torch.equal(b["done"], b["t"] == 1)
    # per episode: T + 1 = 3 canvases, one target, T actions; divided by T = 2 transitions
    assert rp.bytes_per_transition() == pytest.approx((3 * 192 + 192 + 2 * 13 * 4) / 2)


def tiny_train_args(tmp_path, **kw):
    from brushwork.agent.train import Args

    base = dict(data="solid", size=W, bundle=2, steps=2, envs=8, batch=16, width=8, warmup=4, eval_every=5,
                eval_images=16, ckpt_every=5, log_every=1000, replay=50, total_steps=40, compile=False,
                out=tmp_path, threads=1)
    base.update(kw)
    return Args(**base)


@pytest.mark.slow
def test_train_agent_resume_continues_identically(tmp_path, monkeypatch):
    from brushwork.agent import train as train_agent

    fast = dict(total_steps=14, updates_per_episode=3, eval_every=100)
    train_agent.main(tiny_train_args(tmp_path / "a", **fast))
    real = train_agent.save_checkpoint
    calls = []

    def save_then_die(path, payload):
        real(path, payload)
        calls.append(1)
        raise KeyboardInterrupt

    monkeypatch.setattr(train_agent, "save_checkpoint", save_then_die)
    with pytest.raises(KeyboardInterrupt):
        train_agent.main(tiny_train_args(tmp_path / "b", **fast))
    monkeypatch.setattr(train_agent, "save_checkpoint", real)
    train_agent.main(tiny_train_args(tmp_path / "b", resume=True, **fast))
    a = torch.load(tmp_path / "a" / "checkpoint.pt", weights_only=False)
    b = torch.load(tmp_path / "b" / "checkpoint.pt", weights_only=False)
    assert a["state"]["updates"] == b["state"]["updates"] > 0
    for k, v in a["agent"].items():
        assert torch.equal(v, b["agent"][k]), k


def test_train_agent_rejects_other_config_on_resume(tmp_path):
    from brushwork.agent import train as train_agent
    from brushwork.io.weights import WeightsError

    train_agent.main(tiny_train_args(tmp_path, total_steps=6, updates_per_episode=1))
    with pytest.raises(WeightsError, match="other settings") as e:
        train_agent.main(tiny_train_args(tmp_path, total_steps=20, width=16, resume=True))
    assert "width 8 -> 16" in str(e.value) and "\n" not in str(e.value) and "size" not in str(e.value)


def test_train_agent_until_steps_stops_early_on_the_same_plan(tmp_path):
    """--until-steps: two arms stopped at the same env steps have had the same updates at the same LRs."""
    from brushwork.agent import train as train_agent

    args = tiny_train_args(tmp_path, total_steps=20, until_steps=8, updates_per_episode=1)
    train_agent.main(args)
    ck = torch.load(tmp_path / "checkpoint.pt", weights_only=False)
    assert ck["state"]["env_steps"] == 8 and ck["state"]["updates"] == 2  # episodes 3 and 4 (warm-up: 4 steps)
    assert args.total_updates == 8  # the LR plan is still --total-steps'
    with pytest.raises(ValueError, match="until-steps"):
        tiny_train_args(tmp_path, until_steps=-1).check()


@pytest.mark.slow
def test_critic_warmup_keeps_the_initial_actor(tmp_path):
    """--critic-warmup: the actor's weights stay those of --init-actor while only the critic learns."""
    from brushwork.agent import train as train_agent
    from brushwork.agent.networks import Actor
    from brushwork.io.weights import load_weights

    train_agent.main(tiny_train_args(tmp_path / "a", total_steps=10, updates_per_episode=2))
    init = tmp_path / "a" / "actor.safetensors"
    state, _ = load_weights(init, "actor")
    params = {n for n, _ in Actor(NetConfig(width=8, bundle=2)).named_parameters()}

    def actor_params(run, **kw):
        train_agent.main(tiny_train_args(tmp_path / run, total_steps=14, updates_per_episode=3, init_actor=init, **kw))
        ck = torch.load(tmp_path / run / "checkpoint.pt", weights_only=False)
        assert ck["state"]["updates"] > 0
        return {n: ck["agent"][f"actor.{n}"] for n in params}

    held = actor_params("b", critic_warmup=10**6)
    assert all(torch.equal(v, state[n].float()) for n, v in held.items())
    moved = actor_params("c")
    assert any(not torch.equal(v, state[n].float()) for n, v in moved.items())


def test_train_agent_bad_config():
    from brushwork.agent.train import Args

    for bad in (dict(size=48), dict(algo="ppo"), dict(reward="l1"), dict(envs=0), dict(discount=2.0), dict(critic_warmup=-1)):
        with pytest.raises(ValueError):
            Args(**bad).check()


@pytest.mark.slow
def test_tiny_learning_beats_do_nothing_and_random(tmp_path):
    """Solid-colour targets: a few hundred model-based updates clearly beat doing nothing and a random policy."""
    from brushwork.agent import train as train_agent
    from brushwork.agent.env import PaintEnv
    from brushwork.agent.policy import load_agent
    from brushwork.metrics import psnr_from_mse

    args = tiny_train_args(tmp_path, reward="l2", total_steps=60, lr_actor=3e-3, eval_every=10)
    train_agent.main(args)
    policy = load_agent(str(tmp_path / "actor.safetensors"))
    targets = SyntheticSource("solid", W).sample(32, torch.Generator().manual_seed(99))
    render = make_renderer("analytic", "bezier", W, torch.device("cpu"))

    def score(act) -> float:
        env = PaintEnv(W, 2, 2, render)
        obs = env.reset(targets)
        for _ in range(2):
            obs, _ = env.step(act(obs))
        return float(psnr_from_mse(env.l2()).mean())

    from brushwork.agent.env import to_float

    trained = score(lambda o: policy.act(to_float(o["canvas"]), to_float(o["target"]), o["t"], 2).flatten(1))
    nothing = score(lambda o: torch.zeros(32, 26))  # zero opacity: the canvas stays black
    g = torch.Generator().manual_seed(1)
    rand = score(lambda o: torch.rand(32, 26, generator=g))
    assert trained > nothing + 6 and trained > rand + 4, (trained, nothing, rand)


@pytest.mark.slow
@pytest.mark.skipif(sys.platform != "linux", reason="torchrun smoke test on Linux")
def test_torchrun_two_process_smoke(tmp_path):
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2", "-m", "brushwork",
           "train-agent", "--data", "solid", "--size", "32", "--bundle", "2", "--steps", "2", "--envs", "4",
           "--batch", "8", "--width", "8", "--warmup", "2", "--total-steps", "8", "--eval-every", "2",
           "--eval-images", "4", "--ckpt-every", "2", "--replay", "10", "--no-compile", "--threads", "1",
           "--out", str(tmp_path)]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=240, env=env)
    assert r.returncode == 0, r.stderr[-2000:]
    assert (tmp_path / "checkpoint.pt").exists() and "world 2" in r.stdout
