"""Interpret a whole feedback file: targets for every text item, and general rules spread to every trajectory."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence

from nlfeedback.feedback.schema import FeedbackBase, TextFeedback
from nlfeedback.language.interpreters.base import Interpreter, interpret_many
from nlfeedback.targets import Targets, spread_rules
from nlfeedback.trajectory import Trajectory

BATCH = 256


def interpret_feedback(items: Sequence[FeedbackBase], trajectories: Mapping[str, Trajectory], interp: Interpreter, *,
                       apply_rules: bool = True) -> Iterator[Targets]:
    """Yield targets for each text item (other kinds are skipped); with ``apply_rules``, every general rule
    also yields targets (``rule_of`` set) for each *other* trajectory where its pattern matches."""
    text = [fb for fb in items if isinstance(fb, TextFeedback)]
    for i in range(0, len(text), BATCH):
        batch = text[i:i + BATCH]
        for t in interpret_many(interp, [(fb, trajectories[fb.trajectory_id]) for fb in batch]):
            yield t
            if apply_rules:
                yield from spread_rules(t, trajectories)
