"""PPO on learned rewards: the wrapper, the gaming flag, evaluation, and a short real run."""

from __future__ import annotations

import json

import numpy as np
import pytest

from nlfeedback.agents.envs import make_vec_env
from nlfeedback.agents.evaluation import gaming_flag
from nlfeedback.agents.reward_wrapper import RewardVecEnvWrapper
from nlfeedback.agents.train import AgentConfig, train_agent
from nlfeedback.critics import critique
from nlfeedback.envs import get_task
from nlfeedback.errors import NlfError
from nlfeedback.language.interpreters import make_interpreter
from nlfeedback.policies import make_policy
from nlfeedback.reward.data import build_reward_data
from nlfeedback.reward.train import RewardConfig, train_reward
from nlfeedback.rollout import rollout


@pytest.fixture(scope="module")
def sketch_reward():
    task = get_task("doorkey-5x5")
    trajs = list(rollout(task, make_policy("expert", epsilon=0.2, mistakes=0.3), 30, seed=0))
    fb = list(critique(trajs, "sketch", seed=0))
    model, _ = train_reward(build_reward_data(fb, {t.id: t for t in trajs}, "sketch"), "sketch", RewardConfig(epochs=3))
    return model


def test_wrapper_replaces_reward_and_keeps_truth_and_terminal_obs(sketch_reward):
    task = get_task("doorkey-5x5")
    venv = RewardVecEnvWrapper(make_vec_env(task, 2, seed=0), sketch_reward, env_id=task.env_id, scale=0.1)
    obs = venv.reset()
    rng = np.random.default_rng(0)
    saw_done = False
    for _ in range(600):
        actions = rng.integers(0, 7, size=2)
        prev = obs
        obs, rewards, dones, infos = venv.step(actions)
        nxt = np.array([infos[i]["terminal_observation"] if dones[i] else obs[i] for i in range(2)])
        ended = np.array([dones[i] and not infos[i]["TimeLimit.truncated"] for i in range(2)])
        expected = 0.1 * sketch_reward.transition_rewards(prev, actions, nxt, ended)
        assert np.allclose(rewards, expected, atol=1e-5)
        for i, info in enumerate(infos):
            assert info["learned_reward"] == pytest.approx(float(rewards[i]), abs=1e-6)
            assert "true_reward" in info
            if dones[i]:
                saw_done = True
                assert info["terminal_observation"].shape == (7, 7, 3)
    assert saw_done
    venv.close()


@pytest.mark.parametrize("penalties", [False, True])
def test_shaped_rewards_cannot_pay_for_loops(sketch_reward, penalties):
    """Any cycle of states, with any actions, has a discounted learned return ≤ 0."""
    assert sketch_reward.form == "shaped" and not sketch_reward.penalties
    task = get_task("doorkey-5x5")
    from nlfeedback.reward.observations import trajectory_states

    if penalties:
        trajs = list(rollout(task, make_policy("expert", epsilon=0.3, mistakes=0.5), 20, seed=1))
        fb = list(critique(trajs, "text", budget=30, seed=1))
        sketch_reward, _ = train_reward(build_reward_data(fb, {t.id: t for t in trajs}, "text",
                                                          interpreter=make_interpreter("oracle-intent")),
                                        "text", RewardConfig(epochs=2, penalties=True))
        assert sketch_reward.penalties

    states = np.concatenate([trajectory_states(t, "partial") for t in rollout(task, make_policy("random"), 5, seed=3)])
    rng = np.random.default_rng(0)
    g = sketch_reward.gamma
    for n in (1, 2, 3, 6):
        for _ in range(40):
            cycle = states[rng.choice(len(states), size=n)]
            loop = np.concatenate([cycle, cycle[:1]])
            r = sketch_reward.transition_rewards(loop[:-1], rng.integers(0, 7, size=n), loop[1:])
            assert float(np.sum(g ** np.arange(n) * r)) <= 1e-5


def test_shaped_terminal_value_replaces_the_next_state():
    """On a step that ends the episode the reward reads G(s, a), not Φ(s′)."""
    import torch

    from nlfeedback.reward.model import NUM_ACTIONS, shaped_rewards

    out = torch.zeros(2, 1 + 2 * NUM_ACTIONS)
    out[:, 1 + NUM_ACTIONS + 2] = 5.0  # G(s, forward) = 5
    out_next = torch.full((2, 1 + 2 * NUM_ACTIONS), 3.0)
    r = shaped_rewards(out, out_next, torch.tensor([2, 2]), torch.tensor([True, False]), 0.9)
    phi = torch.nn.functional.softplus(torch.tensor(0.0))
    assert r[0] == pytest.approx(0.9 * 5.0 - phi) and r[1] == pytest.approx(0.9 * float(
        torch.nn.functional.softplus(torch.tensor(3.0))) - phi)


@pytest.mark.parametrize("penalties", [False, True])
def test_inference_rewards_match_the_training_formula(penalties):
    """The numpy inference path (wrapper, evaluation) computes what the torch training loss fits."""
    import torch

    from nlfeedback.reward.model import NUM_ACTIONS, RewardModel, shaped_rewards

    gen = torch.Generator().manual_seed(0)
    out, out_next = torch.randn(50, 1 + 2 * NUM_ACTIONS, generator=gen) * 4, torch.randn(50, 1 + 2 * NUM_ACTIONS) * 4
    actions = torch.randint(0, NUM_ACTIONS, (50,), generator=gen)
    term = torch.rand(50, generator=gen) < 0.3
    model = RewardModel([], "partial", (7, 7, 3), "env", "text", mean=0.0, std=2.0, gamma=0.9, penalties=penalties)
    expected = shaped_rewards(out, out_next, actions, term, 0.9, penalties).numpy() / 2.0
    assert np.allclose(model.rewards_from_outputs(out, out_next, actions.numpy(), term.numpy()), expected, atol=1e-5)


def test_wrapper_refuses_another_task(sketch_reward):
    lava = get_task("lavagap-5")
    with pytest.raises(NlfError, match="trained on MiniGrid-DoorKey-5x5-v0"):
        RewardVecEnvWrapper(make_vec_env(lava, 1, seed=0), sketch_reward, env_id=lava.env_id)


def test_gaming_flag_on_constructed_curves():
    gaming = [{"proxy_return": p, "true_return": t} for p, t in [(0.1, 0.5), (0.3, 0.6), (0.5, 0.4), (0.8, 0.2), (1.0, 0.1)]]
    healthy = [{"proxy_return": p, "true_return": t} for p, t in [(0.1, 0.1), (0.3, 0.3), (0.5, 0.6), (0.8, 0.8), (1.0, 0.9)]]
    plateau = [{"proxy_return": 1.0, "true_return": 0.9}] * 5
    assert gaming_flag(gaming) and not gaming_flag(healthy) and not gaming_flag(plateau)
    assert not gaming_flag(gaming[:2])


def test_short_real_ppo_run_on_a_learned_reward(tmp_path, sketch_reward):
    summary = train_agent(get_task("doorkey-5x5"), sketch_reward,
                          AgentConfig(steps=2048, n_envs=4, eval_every=1024, eval_episodes=2), tmp_path / "run")
    assert (tmp_path / "run" / "policy.zip").exists()
    curve = [json.loads(x) for x in (tmp_path / "run" / "curve.jsonl").read_text().splitlines()]
    assert len(curve) >= 2 and {"true_return", "success_rate", "proxy_return", "violations", "gaming"} <= set(curve[0])
    saved = json.loads((tmp_path / "run" / "summary.json").read_text())
    assert saved["reward"] == "sketch" and saved["seed"] == 0 and "stable_baselines3" in saved["versions"]
    assert summary["final"]["steps"] >= 2048


@pytest.mark.slow
def test_oracle_ppo_solves_doorkey():
    summary = train_agent(get_task("doorkey-5x5"), None, AgentConfig(steps=100_000, eval_every=50_000, eval_episodes=10))
    assert summary["final"]["true_return"] >= 0.9
