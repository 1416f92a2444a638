"""Interpreter output: per-step reward targets and weights (``nlf.targets/1``), and general rules.

A *reading* is what an interpreter understood from one remark: clauses (steps, polarity, strength,
scope) each with a confidence. ``targets_from_reading`` turns it into per-step ``targets`` in [−1, 1]
and ``weights`` in [0, 1] (0 = the remark is not about this step). Remarks about the whole episode
(evaluations, vague remarks) weigh half as much per step as remarks about specific steps, and specific
clauses override broad ones on the steps they name.

A clause with ``scope = "general"`` is a rule: its event ``pattern`` is applied to every trajectory
(``rule_targets``), not only the one it was said about.

A remark whose writer fixed the reading shown to them (a read-back with verdict ``fixed``) is not read
again: ``fixed_targets`` makes its targets from the corrected clauses (its gold ``labels``) at confidence
1, interpreter ``FIXED``, and spreads its rules as an interpreter's are.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from nlfeedback.feedback.readback import is_fixed
from nlfeedback.feedback.schema import Clause, FeedbackBase
from nlfeedback.trajectory import Trajectory
from nlfeedback.truth.judgement import judge
from nlfeedback.truth.moments import pattern_steps

TARGETS_SCHEMA = "nlf.targets/1"
BROAD = ("episode", "vague")
BROAD_WEIGHT = 0.5
FIXED = "fixed-by-writer"  # the ``interpreter`` of targets made from a fixed read-back's labels


@dataclass(frozen=True)
class Reading:
    clauses: list[Clause]
    confidences: list[float]
    confidence: float

    @staticmethod
    def abstain(confidence: float = 0.0) -> Reading:
        return Reading([], [], confidence)


@dataclass(frozen=True)
class Targets:
    feedback_id: str
    trajectory_id: str
    interpreter: str
    targets: np.ndarray  # (T,) in [-1, 1]
    weights: np.ndarray  # (T,) in [0, 1]
    confidence: float
    rules: list[dict[str, Any]] = field(default_factory=list)
    rule_of: str | None = None  # set when these targets come from another remark's general rule

    def to_json(self) -> dict[str, Any]:
        rec: dict[str, Any] = {
            "schema": TARGETS_SCHEMA, "feedback_id": self.feedback_id, "trajectory_id": self.trajectory_id,
            "interpreter": self.interpreter,
            "targets": [round(float(v), 4) for v in self.targets],
            "weights": [round(float(v), 4) for v in self.weights],
            "confidence": round(float(self.confidence), 4),
        }
        if self.rules:
            rec["rules"] = self.rules
        if self.rule_of:
            rec["rule_of"] = self.rule_of
        return rec


def _is_broad(c: Clause, T: int) -> bool:
    return c.moment in BROAD or (len(c.steps) == T and T > 3)


def targets_from_reading(reading: Reading, T: int) -> tuple[np.ndarray, np.ndarray]:
    targets = np.zeros(T, dtype=np.float64)
    weights = np.zeros(T, dtype=np.float64)
    ordered = sorted(zip(reading.clauses, reading.confidences), key=lambda cc: not _is_broad(cc[0], T))
    specific = np.zeros(T, dtype=bool)
    for clause, conf in ordered:
        broad = _is_broad(clause, T)
        w = conf * (BROAD_WEIGHT if broad else 1.0)
        for s in clause.steps:
            if not 0 <= s < T or clause.polarity == 0:
                continue
            if broad and specific[s]:
                continue
            if not broad and specific[s] and weights[s] >= w:
                continue
            targets[s] = clause.polarity * clause.strength
            weights[s] = w
            specific[s] |= not broad
    return targets, weights


def rules_of(reading: Reading) -> list[dict[str, Any]]:
    return [{"pattern": c.pattern, "polarity": c.polarity, "strength": c.strength, "confidence": round(conf, 4)}
            for c, conf in zip(reading.clauses, reading.confidences) if c.scope == "general" and c.pattern]


def rule_targets(rules: Sequence[dict[str, Any]], traj: Trajectory) -> tuple[np.ndarray, np.ndarray]:
    """Targets and weights that general rules give on any trajectory (every step their pattern matches)."""
    T = len(traj)
    targets = np.zeros(T)
    weights = np.zeros(T)
    if not rules:
        return targets, weights
    j = judge(traj)
    for r in rules:
        for s in pattern_steps(r["pattern"], traj, j):
            if r["confidence"] >= weights[s]:
                targets[s] = r["polarity"] * r["strength"]
                weights[s] = r["confidence"]
    return targets, weights


def fixed_targets(items: Sequence[FeedbackBase], trajectories: Mapping[str, Trajectory], *,
                  apply_rules: bool = True) -> Iterator[Targets]:
    """Targets of every fixed read-back remark in ``items`` (others are skipped) from its gold labels; with
    ``apply_rules``, its general rules also give targets (``rule_of`` set) on each other trajectory they match."""
    for fb in items:
        if not is_fixed(fb):
            continue
        traj = trajectories[fb.trajectory_id]
        clauses = list(fb.labels.clauses)  # type: ignore[attr-defined]
        reading = Reading(clauses, [1.0] * len(clauses), 1.0)
        targets, weights = targets_from_reading(reading, len(traj))
        t = Targets(fb.id, traj.id, FIXED, targets, weights, 1.0, rules_of(reading))
        yield t
        if apply_rules:
            yield from spread_rules(t, trajectories)


def spread_rules(t: Targets, trajectories: Mapping[str, Trajectory]) -> Iterator[Targets]:
    """The targets ``t``'s general rules give on every *other* trajectory where their pattern matches
    (``rule_of`` set to the remark)."""
    if not t.rules:
        return
    for other in trajectories.values():
        if other.id == t.trajectory_id:
            continue
        targets, weights = rule_targets(t.rules, other)
        if weights.any():
            yield Targets(t.feedback_id, other.id, t.interpreter, targets, weights, t.confidence,
                          rule_of=t.feedback_id)
