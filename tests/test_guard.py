"""The disagreement guard (issue 23's mitigation; nlfeedback/experiments/guard.py): its rank statistic, its
settings' validation, and real runs of the online loop with and without it."""

from __future__ import annotations

import pytest
import torch

from nlfeedback.errors import NlfError
from nlfeedback.experiments.config import Cell, ConfigError, RunSettings, parse_config
from nlfeedback.experiments.guard import standing
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


def test_the_guard_needs_a_fixed_reward():
    with pytest.raises(ConfigError, match=r"guard_every: the disagreement guard checks a fixed reward: it needs "
                                          r"rounds = 1, not 5"):
        parse_config('[grid]\ntasks = ["doorkey-5x5"]\nkinds = ["sketch"]\nbudgets = [60]\n[run]\nguard_every = 50000\n')
    with pytest.raises(ConfigError, match="guard_every: must be a whole number"):
        parse_config('[grid]\ntasks = ["doorkey-5x5"]\nkinds = ["sketch"]\nbudgets = [60]\n[run]\nrounds = 1\n'
                     'guard_every = -1\n')
    with pytest.raises(NlfError, match="needs rounds = 1"):
        OnlineConfig(kind="scalar", rounds=2, guard_every=1000).check()


def test_guard_settings_reach_feedback_cells_only_and_are_left_out_at_their_defaults():
    run = RunSettings(rounds=1, guard_every=50_000, guard_items=6)
    sketch, oracle = Cell("doorkey-5x5", "sketch", None, 60, "", 0), Cell("doorkey-5x5", "oracle", None, None, "", 0)
    assert sketch.online_kwargs(run)["guard_every"] == 50_000 and sketch.online_kwargs(run)["guard_items"] == 6
    assert "guard_every" not in oracle.online_kwargs(run)
    assert "guard_every" not in sketch.online_kwargs(RunSettings(rounds=1))  # older runs' specs still match


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
