"""Scalar, sketch and preference critics: judgement-based, noise rates as configured, reproducible."""

from __future__ import annotations

import math

import numpy as np
import pytest

from nlfeedback.critics import CritiqueStats, TeacherNoise, critique, parse_noise
from nlfeedback.critics.cost import DEFAULT_COSTS, parse_costs
from nlfeedback.envs import get_task
from nlfeedback.errors import NlfError
from nlfeedback.policies import make_policy
from nlfeedback.rollout import rollout
from nlfeedback.truth.judgement import judge


@pytest.fixture(scope="module")
def mixed_trajs():
    task = get_task("doorkey-5x5")
    return (list(rollout(task, make_policy("expert"), 10, seed=1))
            + list(rollout(task, make_policy("expert", epsilon=0.2, mistakes=0.3), 20, seed=2))
            + list(rollout(task, make_policy("random"), 10, seed=3)))


def strip(fb):
    d = fb.to_json()
    d.pop("created_at")
    return d


def test_judgement_rewards_optimal_steps():
    traj = next(rollout(get_task("doorkey-5x5"), make_policy("expert"), 1, seed=0))
    j = judge(traj)
    assert (j.progress == 1).all() and j.steps_to_go[-1] == 0 and j.optimal_length == len(traj)
    assert j.potential[0] == 0 and j.potential[-1] == 1


def test_scalar_ratings_follow_the_judgement(mixed_trajs):
    items = list(critique(mixed_trajs, "scalar", seed=0))
    by_id = {t.id: t for t in mixed_trajs}
    expert = [f.value for f in items if by_id[f.trajectory_id].policy == "expert"]
    rand = [f.value for f in items if by_id[f.trajectory_id].policy == "random"]
    assert min(expert) == 10 and max(rand) < 6
    assert all(0 <= f.value <= 10 and f.segment == [0, len(by_id[f.trajectory_id])] for f in items)


def test_sketches_are_progress_curves(mixed_trajs):
    items = list(critique(mixed_trajs, "sketch", seed=0))
    by_id = {t.id: t for t in mixed_trajs}
    for f in items:
        t = by_id[f.trajectory_id]
        assert len(f.curve) == len(t) and all(-1 <= v <= 1 for v in f.curve)
        if t.policy == "expert":
            assert f.curve[-1] > 0.6 and np.all(np.diff(f.intent.curve) > 0)
        if any("entered:lava" in e for e in t.events):
            assert f.intent.curve[-1] == -1


def test_preferences_compare_judged_segments_and_keep_short_episodes(mixed_trajs):
    items = list(critique(mixed_trajs, "preference", budget=200, seed=0))
    by_id = {t.id: t for t in mixed_trajs}
    for f in items:
        v0, v1 = f.intent.values
        assert f.preferred == (0.5 if abs(v0 - v1) < 1e-6 else (0 if v0 > v1 else 1))
        for tid, seg in ((f.trajectory_id, f.segment), (f.other_trajectory_id, f.other_segment)):
            T = len(by_id[tid])
            assert seg == [0, T] if T <= 25 else seg[1] - seg[0] == 25
    ties = sum(f.preferred == 0.5 for f in items)
    assert ties < len(items) * 0.2  # judged values separate segments that the sparse reward cannot


def _rate(k: int, n: int, p: float) -> bool:
    """k/n within 4 standard errors of p."""
    return abs(k / n - p) <= 4 * math.sqrt(p * (1 - p) / n) + 1e-9


@pytest.mark.parametrize("kind", ["scalar", "sketch", "preference", "text"])
def test_measured_noise_rates_match_configured(kind, mixed_trajs):
    stats = CritiqueStats()
    noise = parse_noise("mistake=0.2,skip=0.1,equal=0.15")
    items = list(critique(mixed_trajs, kind, budget=1500, seed=7, noise=noise, stats=stats))
    n = len(items)
    assert n == 1500
    assert _rate(stats.skipped, stats.considered, 0.1)
    equal = sum("equal" in f.intent.noise for f in items)
    assert _rate(equal, n, 0.15)
    # mistake is drawn only when the item was not an "equal" answer
    not_equal = n - equal
    mistakes = sum("mistake" in f.intent.noise for f in items)
    if kind == "preference":  # a tie cannot be flipped: count over non-tie answers
        not_equal = sum(1 for f in items if "equal" not in f.intent.noise and f.intent.preferred != 0.5)
    assert _rate(mistakes, not_equal, 0.2)


def test_preference_mistakes_flip_answers(mixed_trajs):
    items = list(critique(mixed_trajs, "preference", budget=300, seed=3, noise=TeacherNoise(mistake=1.0)))
    for f in items:
        if f.intent.preferred != 0.5:
            assert f.preferred == 1 - f.intent.preferred


def test_stochastic_preferences_follow_bradley_terry(mixed_trajs):
    items = list(critique(mixed_trajs, "preference", budget=1500, seed=5, noise=TeacherNoise(stochastic=0.5)))
    # P(prefer other) = sigmoid(beta * (v1 - v0)): check calibration in aggregate
    p = np.array([1 / (1 + math.exp(-0.5 * (f.intent.values[1] - f.intent.values[0]))) for f in items])
    chose_other = np.array([f.preferred == 1 for f in items], dtype=float)
    assert abs(chose_other.mean() - p.mean()) < 4 * math.sqrt((p * (1 - p)).sum()) / len(items) + 0.01


def test_myopic_is_recorded_and_changes_values(mixed_trajs):
    flat = list(critique(mixed_trajs, "scalar", seed=0))
    myopic = list(critique(mixed_trajs, "scalar", seed=0, noise=TeacherNoise(myopic=0.5)))
    assert all("myopic" in f.intent.noise for f in myopic)
    assert any(a.value != b.value for a, b in zip(flat, myopic))


@pytest.mark.parametrize("kind", ["scalar", "sketch", "preference", "text"])
def test_reproducible_from_the_seed(kind, mixed_trajs):
    noise = TeacherNoise(mistake=0.1, skip=0.1, stochastic=1.0) if kind != "text" else TeacherNoise(mistake=0.1, skip=0.1)
    a = [strip(f) for f in critique(mixed_trajs, kind, budget=60, seed=11, noise=noise)]
    b = [strip(f) for f in critique(mixed_trajs, kind, budget=60, seed=11, noise=noise)]
    c = [strip(f) for f in critique(mixed_trajs, kind, budget=60, seed=12, noise=noise)]
    assert a == b and a != c


def test_cost_model(mixed_trajs):
    items = list(critique(mixed_trajs, "preference", budget=5, seed=0))
    assert all(f.annotation_seconds == DEFAULT_COSTS["preference"].base for f in items)
    costs = parse_costs("preference.base=3,scalar.per_step=0")
    items = list(critique(mixed_trajs, "scalar", budget=5, seed=0, costs=costs))
    assert all(f.annotation_seconds == DEFAULT_COSTS["scalar"].base for f in items)
    with pytest.raises(NlfError, match="--cost"):
        parse_costs("video.base=1")


def test_bad_noise_and_kind():
    with pytest.raises(NlfError, match="unknown noise"):
        parse_noise("mistakes=0.1")
    with pytest.raises(NlfError, match="in \\[0, 1\\]"):
        parse_noise("skip=2")
    with pytest.raises(NlfError, match="text feedback only"):
        list(critique([object()], "scalar", noise=TeacherNoise(vague=0.1)))  # type: ignore[list-item]
    with pytest.raises(NlfError, match="unknown feedback kind"):
        list(critique([object()], "video"))  # type: ignore[list-item]
