"""Scripted critics of every kind behind one function: trajectories in, feedback records out.

``critique(trajectories, kind, budget=…, seed=…)`` yields up to ``budget`` records (default: one per
trajectory). Trajectories are visited in a seeded random order, cycling when the budget exceeds them.
Skipped items (``skip`` noise) do not count against the budget; they are counted in :class:`CritiqueStats`.
Everything is reproducible from the seed (but ``created_at``, the wall-clock time of writing).
"""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

import numpy as np

from nlfeedback.critics.cost import DEFAULT_COSTS, KindCost
from nlfeedback.critics.language import LanguageCritic
from nlfeedback.critics.noise import TeacherNoise
from nlfeedback.critics.preference import DEFAULT_SEGMENT, choose_segment, noisy_preference, true_preference
from nlfeedback.critics.scalar import SCALE, noisy_rating, true_rating
from nlfeedback.critics.sketch import noisy_curve, true_curve
from nlfeedback.errors import NlfError
from nlfeedback.feedback.schema import (
    KINDS,
    FeedbackBase,
    PreferenceFeedback,
    PreferenceIntent,
    ScalarFeedback,
    ScalarIntent,
    SketchFeedback,
    SketchIntent,
    Source,
    TextFeedback,
)
from nlfeedback.feedback.store import utc_now
from nlfeedback.trajectory import Trajectory
from nlfeedback.truth.judgement import judge


@dataclass
class CritiqueStats:
    considered: int = 0
    written: int = 0
    skipped: int = 0
    noise: Counter[str] = field(default_factory=Counter)


def feedback_id(kind: str, seed: int, index: int, *parts: str) -> str:
    h = hashlib.sha256("|".join([kind, str(seed), str(index), *parts]).encode()).hexdigest()
    return f"fb-{h[:16]}"


def _segment(T: int, length: int | None, rng: np.random.Generator) -> tuple[int, int]:
    return (0, T) if length is None else choose_segment(T, length, rng)


def critique(
    trajectories: Sequence[Trajectory],
    kind: str,
    *,
    budget: int | None = None,
    seed: int = 0,
    split: str = "train",
    noise: TeacherNoise | None = None,
    costs: dict[str, KindCost] | None = None,
    segment_length: int | None = None,
    stats: CritiqueStats | None = None,
    name: str | None = None,
) -> Iterator[FeedbackBase]:
    """Yield scripted feedback of ``kind`` on ``trajectories`` (see the module docstring)."""
    if kind not in KINDS:
        raise NlfError(f"unknown feedback kind {kind!r}; valid: {', '.join(KINDS)}")
    if not trajectories:
        raise NlfError("no trajectories to critique")
    noise = noise or TeacherNoise()
    noise.check_kind(kind)
    if kind == "preference" and len(trajectories) < 2:
        raise NlfError("preferences need at least two trajectories")
    if segment_length is not None and segment_length < 1:
        raise NlfError("--segment-length must be >= 1")
    cost = (costs or DEFAULT_COSTS)[kind]
    stats = stats if stats is not None else CritiqueStats()
    budget = len(trajectories) if budget is None else budget
    rng = np.random.default_rng(seed)
    source = Source(type="critic", name=name or {"text": "language"}.get(kind, kind), noise=noise.active())
    language = LanguageCritic(split, noise) if kind == "text" else None
    if kind == "preference" and segment_length is None:
        segment_length = DEFAULT_SEGMENT
    order: list[int] = []
    attempts = 0
    max_attempts = 20 * max(budget, 1) + 100
    while stats.written < budget:
        if attempts >= max_attempts:
            raise NlfError(f"gave up after {attempts} attempts with {stats.written} of {budget} items "
                           "(is skip noise close to 1?)")
        attempts += 1
        if not order:
            order = list(rng.permutation(len(trajectories)))
        traj = trajectories[order.pop()]
        stats.considered += 1
        item_rng = np.random.default_rng([seed, attempts])
        fb_id = feedback_id(kind, seed, attempts, traj.id)
        common = dict(id=fb_id, trajectory_id=traj.id, source=source, created_at=utc_now())
        record: FeedbackBase | None = None
        T = len(traj)
        if kind == "text":
            remark = language.remark(traj, item_rng)  # type: ignore[union-attr]
            if remark is not None:
                record = TextFeedback(**common, segment=[0, T], text=remark.text, intent=remark.intent,
                                      annotation_seconds=cost.seconds(T, len(remark.text.split())))
        elif kind == "scalar":
            a, b = _segment(T, segment_length, item_rng)
            r = true_rating(judge(traj), a, b, noise.gamma)
            given = noisy_rating(r, noise, item_rng)
            if given is not None:
                value, applied = given
                if noise.gamma < 1.0:
                    applied = ["myopic", *applied]
                record = ScalarFeedback(**common, segment=[a, b], value=value, scale=list(SCALE),
                                        intent=ScalarIntent(value=round(true_rating(judge(traj), a, b), 4),
                                                            noise=applied),
                                        annotation_seconds=cost.seconds(b - a))
        elif kind == "sketch":
            a, b = _segment(T, segment_length, item_rng)
            j = judge(traj)
            curve = true_curve(j, a, b)
            drawn = noisy_curve(curve, noise, item_rng, j.values[a:b])
            if drawn is not None:
                values, applied = drawn
                record = SketchFeedback(**common, segment=[a, b], curve=[round(float(v), 4) for v in values],
                                        intent=SketchIntent(curve=[round(float(v), 4) for v in curve], noise=applied),
                                        annotation_seconds=cost.seconds(b - a))
        else:  # preference
            others = [i for i in range(len(trajectories)) if trajectories[i].id != traj.id]
            other = trajectories[others[int(item_rng.integers(len(others)))]]
            a, b = choose_segment(T, segment_length, item_rng)  # type: ignore[arg-type]
            c, d = choose_segment(len(other), segment_length, item_rng)  # type: ignore[arg-type]
            v0 = judge(traj).segment_value(a, b, noise.gamma)
            v1 = judge(other).segment_value(c, d, noise.gamma)
            given = noisy_preference(v0, v1, noise, item_rng)
            if given is not None:
                answer, applied = given
                if noise.gamma < 1.0:
                    applied = ["myopic", *applied]
                t0, t1 = judge(traj).segment_value(a, b), judge(other).segment_value(c, d)
                record = PreferenceFeedback(
                    **common, segment=[a, b], other_trajectory_id=other.id, other_segment=[c, d],
                    preferred=answer, annotation_seconds=cost.seconds((b - a) + (d - c)),
                    intent=PreferenceIntent(preferred=true_preference(t0, t1),
                                            values=[round(t0, 4), round(t1, 4)], noise=applied))
        if record is None:
            stats.skipped += 1
            continue
        for n in record.intent.noise:  # type: ignore[union-attr]
            stats.noise[n] += 1
        stats.written += 1
        yield record
