"""The online loop: budget schedule, a short real run of every round, and the CLI."""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from typer.testing import CliRunner

import nlfeedback
from cli.main import app
from nlfeedback.errors import NlfError
from nlfeedback.experiments.online import OnlineConfig, budget_schedule, run_online, step_schedule
from nlfeedback.feedback.store import read_feedback
from nlfeedback.reward.model import RewardModel
from nlfeedback.trajectory import load_trajectories


@given(st.integers(1, 2000), st.integers(1, 12), st.floats(0.05, 1.0))
def test_budget_schedule_spends_exactly_the_budget(budget, rounds, share):
    plan = budget_schedule(budget, rounds, share)
    assert len(plan) == rounds and sum(plan) == budget and min(plan) >= 0
    assert sum(step_schedule(budget * 7, rounds)) == budget * 7


def test_bad_online_configs_are_refused():
    with pytest.raises(NlfError, match="online kind must be one of"):
        OnlineConfig(kind="telepathy").check()
    with pytest.raises(NlfError, match="reward_form must be one of"):
        OnlineConfig(reward_form="potential").check()
    with pytest.raises(NlfError, match="unknown agent settings: n_env"):
        OnlineConfig(agent={"n_env": 2}).check()


TINY = dict(budget=12, rounds=2, steps=2048, eval_every=1024, eval_episodes=2, initial_episodes=10,
            episodes_per_round=4, reward_epochs=2, refit_epochs=1, agent={"n_envs": 4})


@pytest.mark.slow  # trains a model or runs PPO
def test_online_rounds_write_feedback_rewards_and_curve(tmp_path):
    out = tmp_path / "run"
    messages: list[str] = []
    summary = run_online(OnlineConfig(kind="sketch", seed=3, **TINY), out, progress=messages.append)
    trajs = load_trajectories(out / "trajectories.jsonl")
    items = read_feedback(out / "feedback.jsonl", trajs).records
    assert len(items) == 12 == summary["feedback"]["items"]
    assert summary["feedback"]["annotator_seconds"] == pytest.approx(sum(fb.annotation_seconds for fb in items),
                                                                     abs=0.05)
    # round 2 critiques the agent's own (sampled) trajectories
    online = {t.id for t in trajs.values() if t.policy.startswith("checkpoint(online-round1")}
    assert online and any(fb.trajectory_id in online for fb in items)
    assert RewardModel.load(out / "reward-round1.pt").form == "shaped"
    curve = [json.loads(x) for x in (out / "curve.jsonl").read_text().splitlines()]
    assert [c["feedback_items"] for c in curve] == [6, 12] and curve == summary["curve"]
    assert summary["reward_metrics"]["event_sign_agreement"].keys() >= {"goal", "key"}
    assert 0.0 <= summary["reward_metrics"]["epic_distance"] <= 1.0
    assert summary["interpretation"] is None and summary["config"]["seed"] == 3
    saved = json.loads((out / "summary.json").read_text())
    assert saved["final"] == summary["final"] and "stable_baselines3" in saved["versions"]
    assert any("round 2/2" in m for m in messages)
    assert summary["interpreter"] is None
    if (Path(nlfeedback.__file__).resolve().parent.parent / ".git").exists():  # a git checkout: its commit
        assert re.fullmatch(r"[0-9a-f]{40}(\+dirty)?", summary["source_revision"])


@pytest.mark.slow  # trains a model or runs PPO
def test_online_text_reports_interpretation_metrics(tmp_path):
    summary = run_online(OnlineConfig(kind="text", interpreter="oracle-intent", reward_updates=1, **TINY),
                         tmp_path / "t")
    assert summary["interpretation"]["overall"]["sign_error_rate"] == 0.0
    # each fit capped at one gradient step, in whole epochs: one epoch instead of reward_epochs = 2
    assert RewardModel.load(tmp_path / "t" / "reward-round0.pt").meta["config"]["epochs"] == 1
    assert summary["final"]["feedback_items"] == 12
    assert summary["interpreter"] == {"name": "oracle-intent"}


@pytest.mark.slow  # trains a model or runs PPO
def test_text_plus_preference_is_one_reward_from_both_kinds(tmp_path):
    """The combined arm: each round's items split between text and preferences (text gets the odd one), one
    reward model fitted to both, interpretation metrics over its text items."""
    out = tmp_path / "tp"
    summary = run_online(OnlineConfig(kind="text+preference", interpreter="oracle-intent", **{**TINY, "budget": 13}),
                         out)
    trajs = load_trajectories(out / "trajectories.jsonl")
    items = read_feedback(out / "feedback.jsonl", trajs).records
    by_round = [[fb.kind for fb in items if fb.source.name == f"online-round{k}"] for k in range(2)]
    plan = budget_schedule(13, 2)  # [6, 7]
    assert [(r.count("text"), r.count("preference")) for r in by_round] == [((n + 1) // 2, n // 2) for n in plan]
    assert summary["feedback"]["items"] == 13
    assert RewardModel.load(out / "reward-round1.pt").kind == "mixed"
    assert summary["interpretation"]["overall"]["items"] == sum((n + 1) // 2 for n in plan)
    assert summary["interpreter"] == {"name": "oracle-intent"}
    with pytest.raises(NlfError, match="guard checks one kind"):
        OnlineConfig(kind="text+preference", rounds=1, guard_every=100).check()


@pytest.mark.slow  # runs PPO
def test_the_judgement_reference_trains_ppo_on_the_dense_judgement(tmp_path):
    summary = run_online(OnlineConfig(kind="judgement", steps=2048, eval_every=1024, eval_episodes=2, seed=1),
                         tmp_path / "j")
    assert summary["feedback"]["items"] == 0 and summary["final"]["steps"] >= 2048
    saved = json.loads((tmp_path / "j" / "summary.json").read_text())
    assert saved["config"]["kind"] == "judgement" and saved["feedback"]["items"] == 0


def test_text_runs_record_the_trained_checkpoint_they_read_with():
    from nlfeedback.experiments.online import _interpreter_record
    from nlfeedback.language.interpreters.trained import default_checkpoint

    record = _interpreter_record(OnlineConfig(kind="text", interpreter="trained"))
    assert record["name"] == "trained" and record["checkpoint"] == str(default_checkpoint())
    assert record["sha256"] == hashlib.sha256(default_checkpoint().read_bytes()).hexdigest()[:16]
    assert _interpreter_record(OnlineConfig(kind="scalar")) is None


@pytest.mark.slow  # trains a model or runs PPO
def test_train_agent_online_cli(tmp_path):
    out = tmp_path / "cli"
    r = CliRunner().invoke(app, ["train-agent", "--online", "--critic", "preference", "--budget", "8", "--rounds",
                                 "1", "--steps", "1024", "--eval-every", "1024", "--eval-episodes", "2",
                                 "--reward-form", "action", "--initial", "random", "--out", str(out), "--json"],
                           catch_exceptions=False)
    assert r.exit_code == 0, r.output
    summary = json.loads(r.output)
    assert summary["feedback"]["items"] == 8 and summary["config"]["kind"] == "preference"
    assert summary["config"]["reward_form"] == "action" and summary["config"]["initial"] == "random"
    assert RewardModel.load(out / "reward-round0.pt").form == "action"
    trajs = load_trajectories(out / "trajectories.jsonl").values()
    assert trajs and all(t.policy.startswith("random") or t.policy.startswith("checkpoint") for t in trajs)
    r = CliRunner().invoke(app, ["train-agent", "--critic", "sketch", "--out", str(out)], catch_exceptions=False)
    assert r.exit_code == 1 and "--critic only goes with --online" in r.output
