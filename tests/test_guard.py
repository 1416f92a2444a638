"""The disagreement guard (issue 23's mitigation; nlfeedback/experiments/guard.py): its rank statistic, its
settings' validation, and real runs of the online loop with and without it."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from nlfeedback.errors import NlfError
from nlfeedback.experiments.config import Cell, ConfigError, RunSettings, parse_config
from nlfeedback.experiments.guard import pair_standing, scores, standing
from nlfeedback.experiments.online import OnlineConfig, run_online
from nlfeedback.feedback.store import read_feedback
from nlfeedback.trajectory import load_trajectories


def test_standing_is_the_share_of_pairs_the_fresh_episodes_win():
    assert standing([1.0], [0.0, 2.0]) == 0.5
    assert standing([3.0, -1.0], [0.0, 1.0, 2.0]) == pytest.approx(3 / 6)
    assert standing([1.0], [1.0, 0.0]) == pytest.approx(0.75)  # a tie counts half
    assert standing([5.0, 6.0], [1.0]) == 1.0 and standing([0.0], [1.0, 2.0]) == 0.0
    with pytest.raises(ValueError):
        standing([], [1.0])


class _Proxy:
    """A stand-in reward model: fixed step rewards per trajectory."""

    def __init__(self, rewards):
        self.rewards = rewards

    def step_rewards(self, traj):
        return np.asarray(self.rewards[traj], dtype=float)


def _item(kind, traj, segment, **kw):
    """A feedback record with only the fields the guard reads (pydantic's construct: no validation)."""
    from nlfeedback.feedback import schema

    cls = {"scalar": schema.ScalarFeedback, "sketch": schema.SketchFeedback, "text": schema.TextFeedback,
           "preference": schema.PreferenceFeedback}[kind]
    return cls.model_construct(kind=kind, trajectory_id=traj, segment=list(segment), id=f"{kind}-{traj}", **kw)


def test_scores_put_the_feedback_and_the_proxy_on_the_same_footing():
    from types import SimpleNamespace

    proxy = _Proxy({"a": [1.0, 2.0, 3.0, 4.0], "b": [0.0, 0.0, -1.0, 5.0]})
    items = [_item("scalar", "a", (0, 4), value=3), _item("scalar", "b", (1, 3), value=-2),
             _item("sketch", "a", (0, 2), curve=[0.2, 0.5]), _item("sketch", "b", (1, 4), curve=[0.3, 0.1, 0.9]),
             _item("text", "a", (0, 4), text="x"), _item("text", "b", (0, 4), text="y")]
    targets = {"text-a": SimpleNamespace(targets=np.array([1.0, 0.0, -1.0, 0.0]), weights=np.array([1.0, 0, 3.0, 0])),
               "text-b": SimpleNamespace(targets=np.zeros(4), weights=np.zeros(4))}  # read as about nothing
    said, proxied = scores(items, proxy, {k: k for k in proxy.rewards}, targets)
    assert said == pytest.approx([3, -2, 0.5, 0.9 - 0.3, (1 - 3) / 4])
    # ratings: the mean reward over the segment; sketches: the reward summed over the rise (from the
    # segment's first point on); remarks: the weighted mean over the steps they are about
    assert proxied == pytest.approx([2.5, -0.5, 3.0, -1.0 + 5.0, (1 + 9) / 4])


def test_pair_standing_counts_only_fresh_against_fitted_comparisons():
    proxy = _Proxy({"new1": [5.0, 5.0], "new2": [0.0, 0.0], "old": [1.0, 1.0], "old2": [2.0, 2.0]})
    pairs = [_item("preference", "new1", (0, 2), other_trajectory_id="old", other_segment=[0, 2], preferred=1),
             _item("preference", "old", (0, 2), other_trajectory_id="new2", other_segment=[0, 2], preferred=0),
             _item("preference", "old", (0, 2), other_trajectory_id="old2", other_segment=[0, 2], preferred=0),
             _item("preference", "new1", (0, 2), other_trajectory_id="new2", other_segment=[0, 2], preferred=0.5)]
    by_proxy, by_critic = pair_standing(pairs, {"new1", "new2"}, proxy, {k: k for k in proxy.rewards})
    # the proxy gives new1 the first comparison and old the second; the critic preferred old both times
    assert (by_proxy, by_critic) == (0.5, 0.0)
    with pytest.raises(ValueError, match="no preference compares a fresh segment"):
        pair_standing(pairs[2:], {"new1", "new2"}, proxy, {k: k for k in proxy.rewards})


def test_the_guard_needs_a_fixed_reward():
    with pytest.raises(ConfigError, match=r"guard_every: the disagreement guard checks a fixed reward: it needs "
                                          r"rounds = 1, not 5"):
        parse_config('[grid]\ntasks = ["doorkey-5x5"]\nkinds = ["sketch"]\nbudgets = [60]\n[run]\nguard_every = 50000\n')
    with pytest.raises(ConfigError, match="guard_every: must be a whole number"):
        parse_config('[grid]\ntasks = ["doorkey-5x5"]\nkinds = ["sketch"]\nbudgets = [60]\n[run]\nrounds = 1\n'
                     'guard_every = -1\n')
    with pytest.raises(NlfError, match="needs rounds = 1"):
        OnlineConfig(kind="scalar", rounds=2, guard_every=1000).check()


def test_run_settings_reach_feedback_cells_only_and_are_left_out_at_their_defaults():
    run = RunSettings(rounds=1, guard_every=50_000, guard_items=6)
    sketch, oracle = Cell("doorkey-5x5", "sketch", None, 60, "", 0), Cell("doorkey-5x5", "oracle", None, None, "", 0)
    assert sketch.online_kwargs(run)["guard_every"] == 50_000 and sketch.online_kwargs(run)["guard_items"] == 6
    assert "guard_every" not in oracle.online_kwargs(run)
    assert "guard_every" not in sketch.online_kwargs(RunSettings(rounds=1))  # older runs' specs still match
    assert "reward_form" not in sketch.online_kwargs(run)  # likewise the reward's form at its default
    assert "reward_updates" not in sketch.online_kwargs(run)
    capped = RunSettings(rounds=3, reward_updates=300)
    assert sketch.online_kwargs(capped)["reward_updates"] == 300 and "reward_updates" not in oracle.online_kwargs(capped)
    assert sketch.online_kwargs(RunSettings(rounds=1, reward_form="action"))["reward_form"] == "action"


TINY = dict(kind="scalar", budget=8, rounds=1, steps=3072, eval_every=1024, eval_episodes=2, initial_episodes=10,
            reward_epochs=2, refit_epochs=1, agent={"n_envs": 4})


@pytest.mark.slow  # runs PPO twice
def test_a_guarded_run_records_the_kept_policy_and_ppo_goes_on_as_without_it(tmp_path, monkeypatch):
    from stable_baselines3 import PPO

    import nlfeedback.experiments.guard as guard_module

    plain = run_online(OnlineConfig(seed=1, **TINY), tmp_path / "plain")
    assert "guard" not in plain
    monkeypatch.setattr(guard_module, "MARGIN", -1.0)  # any disagreement fires: the first check does
    guarded = run_online(OnlineConfig(seed=1, guard_every=1024, guard_items=3, **TINY), tmp_path / "guarded")
    g = guarded["guard"]
    assert [c["steps"] for c in g["checks"]] == [1024] and g["fired_at"] == 1024 and g["margin"] == -1.0
    assert g["kept_steps"] == 0 and set(g["kept"]) >= {"true_return", "success_rate", "proxy_return"}
    # the checks' feedback is written beside the run's and counted apart from the budget
    trajs = load_trajectories(tmp_path / "guarded" / "guard-trajectories.jsonl")
    extra = read_feedback(tmp_path / "guarded" / "guard-feedback.jsonl", trajs).records
    assert len(extra) == 3 == g["items"] and guarded["feedback"]["items"] == 8
    assert all(t.policy.startswith("checkpoint(guard-check0") for t in trajs.values())
    # PPO's course is untouched by the checks: the same seed ends with the same policy and the same curve
    a = PPO.load(tmp_path / "plain" / "policy.zip", device="cpu").policy.state_dict()
    b = PPO.load(tmp_path / "guarded" / "policy.zip", device="cpu").policy.state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert [c["true_return"] for c in plain["curve"]] == [c["true_return"] for c in guarded["curve"]]


@pytest.mark.slow  # runs PPO
def test_the_guard_fires_on_a_reward_fitted_to_random_runs_that_the_agent_games(tmp_path):
    """The flaw setting of the gaming probe: a plain r(s, a) fitted to ratings of random runs pays for every
    step; PPO learns to collect it without ever reaching the goal, and the fresh ratings say so."""
    cfg = OnlineConfig(kind="scalar", budget=30, rounds=1, steps=20480, eval_every=10240, eval_episodes=4,
                       reward_form="action", initial="random", guard_every=10240, seed=0)
    g = run_online(cfg, tmp_path / "run")["guard"]
    first = g["checks"][0]
    assert g["fired_at"] == first["steps"] and first["disagreement"] >= g["margin"]
    assert first["standing_proxy"] > first["standing_feedback"]


@pytest.mark.slow  # runs PPO
def test_a_refitting_guard_refits_the_reward_with_the_checks_feedback_and_goes_on(tmp_path, monkeypatch):
    import nlfeedback.experiments.guard as guard_module
    from nlfeedback.reward.model import RewardModel

    monkeypatch.setattr(guard_module, "MARGIN", -1.0)  # every check fires
    summary = run_online(OnlineConfig(seed=1, guard_every=1024, guard_items=3, guard_action="refit", **TINY),
                         tmp_path / "run")
    g = summary["guard"]
    assert g["action"] == "refit" and g["refits"] == [1024, 2048] and g["fired_at"] is None
    assert [c["steps"] for c in g["checks"]] == [1024, 2048] and g["items"] == 6  # checks go on after a refit
    first, refitted = (RewardModel.load(tmp_path / "run" / name) for name in ("reward-round0.pt", "reward-guard2.pt"))
    a, b = first.members[0].state_dict(), refitted.members[0].state_dict()
    assert any(not torch.equal(a[k], b[k]) for k in a)  # a different reward from the first refit on
    with pytest.raises(NlfError, match="guard_action must be stop or refit"):
        OnlineConfig(guard_action="retry", **{**TINY, "guard_every": 1024}).check()
