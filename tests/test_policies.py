"""Rollout policies: the expert solves every suite task; noise and blunders show up as events."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest

from nlfeedback.envs import SUITE, get_task
from nlfeedback.errors import NlfError
from nlfeedback.policies import make_policy
from nlfeedback.policies.expert import ExpertPolicy
from nlfeedback.rollout import RolloutSummary, record_episode, rollout


@pytest.mark.parametrize("task", [t.name for t in SUITE])
def test_clean_expert_solves_every_task(task):
    trajs = list(rollout(get_task(task), make_policy("expert"), 60, seed=11))
    summary = RolloutSummary.of(trajs)
    assert summary.success_rate >= 0.95
    assert not any("entered:lava" in ev for t in trajs for ev in t.events)


def test_rollouts_are_reproducible_from_the_seed():
    task = get_task("keys-distractor")
    a = list(rollout(task, make_policy("expert", epsilon=0.2, mistakes=0.3), 5, seed=4))
    b = list(rollout(task, make_policy("expert", epsilon=0.2, mistakes=0.3), 5, seed=4))
    c = list(rollout(task, make_policy("expert", epsilon=0.2, mistakes=0.3), 5, seed=5))
    assert [t.to_json() for t in a] == [t.to_json() for t in b]
    assert [t.id for t in a] != [t.id for t in c]


@pytest.mark.parametrize("task, kinds", [
    ("doorkey-5x5", {"spin", "bump", "detour", "drop"}),
    ("keys-distractor", {"wrong_object"}),
    ("lavagap-7", {"lava"}),
])
def test_mistakes_inject_every_blunder_kind(task, kinds):
    the_task = get_task(task)
    policy = ExpertPolicy(mistakes=0.3)
    seen: Counter[str] = Counter()
    for i in range(40):
        record_episode(the_task, policy, env_seed=i, rng=np.random.default_rng(i))
        seen.update(k for _, k in policy.blunders)
    assert kinds <= set(seen), seen


def test_blunders_are_visible_as_events():
    trajs = list(rollout(get_task("keys-distractor"), make_policy("expert", mistakes=0.3), 40, seed=0))
    counts = Counter(e for t in trajs for ev in t.events for e in ev)
    assert counts["bumped:wall"] > 0
    # the wrong key is picked up at least once: more pick-ups than unlocks
    pickups = sum(v for k, v in counts.items() if k.startswith("picked_up:key"))
    unlocks = sum(v for k, v in counts.items() if k.startswith("unlocked:door"))
    assert pickups > unlocks
    assert RolloutSummary.of(trajs).success_rate > 0.8


def test_epsilon_noise_rate():
    task = get_task("doorkey-5x5")
    clean = RolloutSummary.of(rollout(task, make_policy("expert"), 30, seed=1))
    noisy = RolloutSummary.of(rollout(task, make_policy("expert", epsilon=0.3), 30, seed=1))
    assert noisy.mean_length > clean.mean_length
    assert noisy.events["did_nothing"] > 0 and clean.events["did_nothing"] == 0


def test_random_policy_and_bad_names():
    trajs = list(rollout(get_task("empty-6x6"), make_policy("random"), 3, seed=0))
    assert all(t.policy == "random" for t in trajs)
    with pytest.raises(NlfError, match="unknown policy"):
        make_policy("genius")
    with pytest.raises(NlfError, match="--epsilon"):
        make_policy("expert", epsilon=1.5)
    with pytest.raises(NlfError, match="--checkpoint"):
        make_policy("checkpoint")
