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
from nlfeedback.language.apply import interpret_feedback
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


@pytest.mark.slow  # trains a model or runs PPO
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


@pytest.mark.slow  # trains a model or runs PPO
@pytest.mark.parametrize("penalties", [False, True])
def test_shaped_rewards_cannot_pay_for_loops(sketch_reward, penalties):
    """Any cycle of states, with any actions, has a discounted learned return ≤ 0."""
    assert sketch_reward.form == "shaped" and not sketch_reward.penalties
    task = get_task("doorkey-5x5")
    from nlfeedback.reward.observations import trajectory_states

    if penalties:
        trajs = list(rollout(task, make_policy("expert", epsilon=0.3, mistakes=0.5), 20, seed=1))
        fb = list(critique(trajs, "text", budget=30, seed=1))
        by_id = {t.id: t for t in trajs}
        targets = interpret_feedback(fb, by_id, make_interpreter("oracle-intent"))
        sketch_reward, _ = train_reward(build_reward_data(fb, by_id, "text", targets=targets),
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


class _HashPolicy:
    """Deterministic, batched like SB3's predict: left / right / forward from a hash of the view."""

    def predict(self, obs, deterministic=True):
        obs = np.asarray(obs)
        batch = obs.reshape(-1, *obs.shape[-3:])
        acts = np.array([int(o.astype(np.int64).ravel() @ np.arange(o.size)) % 3 for o in batch])
        return (acts if obs.ndim == 4 else acts[0]), None


@pytest.mark.slow  # trains a model or runs PPO
@pytest.mark.parametrize("task_name", ["lavagap-5", "doorkey-5x5"])
def test_evaluation_runs_episodes_side_by_side_with_the_same_numbers_as_one_by_one(sketch_reward, task_name):
    from nlfeedback.agents.envs import make_env
    from nlfeedback.agents.evaluation import evaluate_policy

    task, policy = get_task(task_name), _HashPolicy()
    res = evaluate_policy(policy, task, 6, seed=123, reward=sketch_reward, reward_scale=0.1)
    returns, proxies, lengths, successes = [], [], [], []
    for ep in range(6):  # the reference: one episode after another
        env = make_env(task)
        obs, _ = env.reset(seed=123 + ep)
        seen, acts, ended, ret, done, success = [obs], [], [], 0.0, False, False
        while not done:
            a = int(policy.predict(obs)[0])
            obs, r, term, trunc, info = env.step(a)
            seen.append(obs), acts.append(a), ended.append(term)
            ret, done, success = ret + r, term or trunc, success or "reached:goal" in info["events"]
        s = np.stack(seen)
        proxies.append(0.1 * sketch_reward.transition_rewards(s[:-1], np.array(acts), s[1:], np.array(ended)).sum())
        returns.append(ret), lengths.append(len(acts)), successes.append(success)
    if task_name == "lavagap-5":
        assert len(set(lengths)) > 1  # episodes of different lengths ran side by side
    assert res.true_return == pytest.approx(np.mean(returns)) and res.episode_length == pytest.approx(np.mean(lengths))
    assert res.success_rate == pytest.approx(np.mean(successes))
    assert res.proxy_return == pytest.approx(np.mean(proxies), rel=1e-4, abs=1e-5)


@pytest.mark.slow  # trains a model or runs PPO
def test_wrapper_refuses_another_task(sketch_reward):
    lava = get_task("lavagap-5")
    with pytest.raises(NlfError, match="trained on MiniGrid-DoorKey-5x5-v0"):
        RewardVecEnvWrapper(make_vec_env(lava, 1, seed=0), sketch_reward, env_id=lava.env_id)


def test_gaming_flag_on_constructed_curves():
    gaming = [{"proxy_return": p, "true_return": t} for p, t in [(0.1, 0.5), (0.3, 0.6), (0.5, 0.4), (0.8, 0.2), (1.0, 0.1)]]
    healthy = [{"proxy_return": p, "true_return": t} for p, t in [(0.1, 0.1), (0.3, 0.3), (0.5, 0.6), (0.8, 0.8), (1.0, 0.9)]]
    plateau = [{"proxy_return": 1.0, "true_return": 0.9}] * 5
    jitter = [{"proxy_return": p, "true_return": t} for p, t in [(0.55, 0.959), (0.66, 0.959), (0.44, 0.912), (0.66, 0.959)]]
    assert gaming_flag(gaming) and not gaming_flag(healthy) and not gaming_flag(plateau)
    assert not gaming_flag(jitter)  # a solved task's evaluation jitter (a real acceptance curve) is not gaming
    assert not gaming_flag(gaming[:2])
    # a single dip that recovers, the proxy dipping along (default ablation, sketch b50 seed 2, 80k–110k steps)
    dip = [{"proxy_return": p, "true_return": t} for p, t in [(0.757, 0.966), (0.757, 0.966), (0.602, 0.774), (0.820, 0.966)]]
    assert not gaming_flag(dip)


@pytest.mark.slow  # trains a model or runs PPO
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
def test_oracle_ppo_solves_doorkey(tmp_path):
    """PPO on the task's reward reaches 0.9 mean true return within 100k steps. Checked on the best
    evaluation, not the last: late PPO updates on a solved task can drop one 10-episode evaluation (seed 0
    here, 2026-12-01: 0.956 at 80k and 100k steps, 0.571 at 100,352)."""
    train_agent(get_task("doorkey-5x5"), None, AgentConfig(steps=100_000, eval_every=20_000, eval_episodes=10),
                tmp_path / "run")
    curve = [json.loads(x) for x in (tmp_path / "run" / "curve.jsonl").read_text().splitlines()]
    assert max(r["true_return"] for r in curve) >= 0.9, [(r["steps"], r["true_return"]) for r in curve]


@pytest.fixture(scope="module")
def full_sketch_reward():
    task = get_task("keys-distractor-train")
    trajs = list(rollout(task, make_policy("expert", epsilon=0.2, mistakes=0.3), 20, seed=0))
    fb = list(critique(trajs, "sketch", seed=0))
    model, _ = train_reward(build_reward_data(fb, {t.id: t for t in trajs}, "sketch"), "sketch",
                            RewardConfig(epochs=2, obs_mode="full"))
    return model


@pytest.mark.slow  # trains a model
def test_a_full_view_reward_scores_the_whole_grid_the_policy_does_not_see(full_sketch_reward):
    """With a full-view model the wrapper scores each state's whole grid (``info["full_image"]``), the same
    numbers as the model gives the recorded episodes' grids by replay, while the policy keeps its 7x7 view;
    evaluation scores the same grids."""
    from nlfeedback.agents.evaluation import evaluate_policy
    from nlfeedback.reward.observations import trajectory_states

    task = get_task("keys-distractor-train")
    model = full_sketch_reward
    assert model.obs_mode == "full" and model.obs_shape == (7, 7, 3)  # the 7x7 grid happens to be 7x7 too
    with pytest.raises(NlfError, match="full_view=True"):
        RewardVecEnvWrapper(make_vec_env(task, 1, seed=0), model, env_id=task.env_id).reset()
    venv = RewardVecEnvWrapper(make_vec_env(task, 2, seed=0, full_view=True), model, env_id=task.env_id, scale=0.1)
    obs = venv.reset()
    grids = [[g] for g in np.stack([info["full_image"] for info in venv.venv.reset_infos])]
    actions_of, ended_of, got = [[], []], [[], []], [[], []]
    rng = np.random.default_rng(0)
    finished = []
    for _ in range(300):
        actions = rng.integers(0, 7, size=2)
        obs, rewards, dones, infos = venv.step(actions)
        assert obs.shape == (2, 7, 7, 3)  # the policy's view
        for i in range(2):
            actions_of[i].append(int(actions[i]))
            got[i].append(float(rewards[i]))
            grids[i].append(infos[i]["full_image"])
            ended_of[i].append(bool(dones[i] and not infos[i]["TimeLimit.truncated"]))
            if dones[i]:
                finished.append((np.stack(grids[i]), actions_of[i], ended_of[i], got[i]))
                grids[i], actions_of[i], ended_of[i], got[i] = [venv.venv.reset_infos[i]["full_image"]], [], [], []
    venv.close()
    assert finished
    for g, a, e, r in finished:
        expected = 0.1 * model.transition_rewards(g[:-1], np.array(a), g[1:], np.array(e))
        assert np.allclose(r, expected, atol=1e-5)
    # the recorded grids are what replay gives a full-view model (trajectory_states)
    traj = next(iter(rollout(task, make_policy("expert"), 1, seed=3)))
    res = evaluate_policy(_ReplayPolicy(traj.actions), task, 1, seed=traj.seed, reward=model, reward_scale=1.0)
    assert res.proxy_return == pytest.approx(float(model.step_rewards(traj).sum()), rel=1e-4, abs=1e-5)
    assert trajectory_states(traj, "full").shape == (len(traj) + 1, 7, 7, 3)


class _ReplayPolicy:
    """Plays back a fixed action list (one episode)."""

    def __init__(self, actions):
        self.actions, self.t = list(actions), 0

    def predict(self, obs, deterministic=True):
        a = self.actions[min(self.t, len(self.actions) - 1)]
        self.t += 1
        return np.full(len(np.atleast_1d(obs[..., 0, 0, 0])), a), None


def test_the_judged_reward_pays_each_episode_exactly_its_judgement():
    """PPO's ``judgement`` reference: online, step by step, the same values the critics judge by; only a spin's
    first two turns are paid late (on its third), so every episode's return is its judgement's total."""
    from nlfeedback.agents.envs import make_env
    from nlfeedback.truth.judgement import judge, spin_runs

    spins = 0
    for name in ("doorkey-5x5", "keys-distractor", "lavacrossing-9"):
        task = get_task(name)
        trajs = list(rollout(task, make_policy("expert", epsilon=0.4, mistakes=0.5), 6, seed=2))
        trajs += list(rollout(task, make_policy("random"), 2, seed=3))
        for t in trajs:
            env = make_env(task, judged=True)
            env.reset(seed=t.seed)
            steps = [env.step(a) for a in t.actions]
            paid = np.array([s[1] for s in steps])
            j = judge(t)
            assert paid.sum() == pytest.approx(j.values.sum(), abs=1e-9)
            assert [s[4]["task_reward"] for s in steps] == pytest.approx(t.rewards)
            late = {a + k for a, _ in spin_runs(t.actions) for k in range(3)}
            spins += len(spin_runs(t.actions))
            on_time = [i for i in range(len(t)) if i not in late]
            assert paid[on_time] == pytest.approx(j.values[on_time], abs=1e-9)
    assert spins > 0  # the late payment was exercised


def test_sampled_evaluation_is_seeded_and_leaves_trainings_random_stream_alone():
    """A sampled evaluation (``deterministic=False``) draws its actions from a forked, seeded RNG: the same
    seed gives the same numbers, and the global torch RNG is as it was (so PPO's course does not depend on
    how it is evaluated)."""
    import torch

    from nlfeedback.agents.evaluation import evaluate_policy
    from nlfeedback.agents.train import make_ppo

    task = get_task("doorkey-5x5")
    ppo = make_ppo(make_vec_env(task, 2, seed=0), AgentConfig(seed=0))  # untrained: near-uniform actions
    torch.manual_seed(7)
    before = torch.get_rng_state()
    a = evaluate_policy(ppo, task, 4, seed=11, deterministic=False)
    assert torch.equal(torch.get_rng_state(), before)
    b = evaluate_policy(ppo, task, 4, seed=11, deterministic=False)
    assert a == b
    c = evaluate_policy(ppo, task, 4, seed=12, deterministic=False)
    d = evaluate_policy(ppo, task, 4, seed=11, deterministic=True)
    assert a.episode_length != d.episode_length or a != c  # sampling really changes the episodes


def test_eval_actions_setting_reaches_the_agent_and_is_left_out_of_specs_at_its_default():
    from nlfeedback.experiments.config import Cell, RunSettings
    from nlfeedback.experiments.online import OnlineConfig

    cell = Cell("doorkey-5x5", "sketch", None, 10, "", 0)
    assert "eval_actions" not in cell.online_kwargs(RunSettings())  # older runs' specs still match
    kw = cell.online_kwargs(RunSettings(eval_actions="sampled"))
    assert kw["eval_actions"] == "sampled" and OnlineConfig(**kw).eval_actions == "sampled"
    with pytest.raises(ValueError, match="eval_actions"):
        RunSettings(eval_actions="greedy")
    assert "ent_coef" not in kw
    kw = cell.online_kwargs(RunSettings(ent_coef=0.05))
    assert kw["ent_coef"] == 0.05 and OnlineConfig(**kw).ent_coef == 0.05
    with pytest.raises(ValueError, match="ent_coef"):
        RunSettings(ent_coef=-1)
    with pytest.raises(NlfError, match="eval_actions must be one of"):
        OnlineConfig(eval_actions="greedy").check()


@pytest.mark.slow  # trains a model or runs PPO
def test_how_a_run_is_evaluated_does_not_change_what_it_learns(tmp_path):
    from stable_baselines3 import PPO

    task = get_task("doorkey-5x5")
    params = {}
    for mode in ("deterministic", "sampled"):
        cfg = AgentConfig(steps=512, seed=3, n_envs=2, n_steps=128, batch_size=64, eval_every=256, eval_episodes=2,
                          eval_actions=mode)
        train_agent(task, None, cfg, tmp_path / mode)
        params[mode] = PPO.load(tmp_path / mode / "policy.zip", device="cpu").policy.state_dict()
    assert all(np.array_equal(params["deterministic"][k].numpy(), params["sampled"][k].numpy()) for k in params["sampled"])


def test_the_runs_ppo_and_evaluation_settings_reach_the_agent(monkeypatch, tmp_path):
    from nlfeedback.experiments import online

    seen = {}

    class Stop(Exception):
        """Raised by the stand-in for train_agent once it has seen the agent's config."""

    def fake_train_agent(task, reward, config, out, **kw):
        seen["config"] = config
        raise Stop

    monkeypatch.setattr(online, "train_agent", fake_train_agent)
    with pytest.raises(Stop):
        online.run_online(online.OnlineConfig(kind="oracle", ent_coef=0.05, eval_actions="sampled"), tmp_path)
    assert seen["config"].ent_coef == 0.05 and seen["config"].eval_actions == "sampled"
