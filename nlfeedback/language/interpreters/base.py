"""The interpreter interface and registry."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from nlfeedback.errors import NlfError
from nlfeedback.feedback.schema import TextFeedback
from nlfeedback.targets import Reading, Targets, rules_of, targets_from_reading
from nlfeedback.trajectory import Trajectory

INTERPRETERS = ("keyword", "zero-shot", "trained", "oracle-intent")
MIN_CONFIDENCE = 0.5  # below this a reading abstains: zero weights


class Interpreter(Protocol):
    name: str

    def read_many(self, items: Sequence[tuple[TextFeedback, Trajectory]]) -> list[Reading]:
        """What each remark says about its trajectory (batched, so encoders run once per batch)."""


def _finish(interp: Interpreter, fb: TextFeedback, traj: Trajectory, reading: Reading) -> Targets:
    T = len(traj)
    if reading.confidence < MIN_CONFIDENCE or not reading.clauses:
        reading = Reading.abstain(reading.confidence)
    targets, weights = targets_from_reading(reading, T)
    return Targets(fb.id, traj.id, interp.name, targets, weights, reading.confidence, rules_of(reading))


def interpret_many(interp: Interpreter, items: Sequence[tuple[TextFeedback, Trajectory]]) -> list[Targets]:
    """Targets for each ``(feedback, trajectory)`` pair."""
    readings = interp.read_many(items)
    return [_finish(interp, fb, traj, r) for (fb, traj), r in zip(items, readings)]


def interpret(interp: Interpreter, fb: TextFeedback, traj: Trajectory) -> Targets:
    """``interpret(feedback, trajectory) -> targets, weights, confidence`` (as a :class:`Targets`)."""
    return interpret_many(interp, [(fb, traj)])[0]


def make_interpreter(name: str, *, checkpoint: str | None = None) -> Interpreter:
    if name == "oracle-intent":
        from nlfeedback.language.interpreters.oracle import OracleInterpreter

        return OracleInterpreter()
    if name == "keyword":
        from nlfeedback.language.interpreters.keyword import KeywordInterpreter

        return KeywordInterpreter()
    if name == "zero-shot":
        from nlfeedback.language.interpreters.zero_shot import ZeroShotInterpreter

        return ZeroShotInterpreter()
    if name == "trained":
        from nlfeedback.language.interpreters.trained import TrainedInterpreter

        return TrainedInterpreter.load(checkpoint)
    raise NlfError(f"unknown interpreter {name!r}; valid: {', '.join(INTERPRETERS)}")
