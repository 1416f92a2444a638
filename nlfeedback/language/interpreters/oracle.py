"""Gold as a reading. ``oracle-intent`` reads the critic's recorded intent, or a human remark's gold labels —
the upper bound of interpretation. :class:`SecondLabelling` reads another person's labels of the same
remarks: scored against the first labelling, it measures how far two careful people agree on what a remark
means — the ceiling a reader can be expected to reach on that data."""

from __future__ import annotations

from collections.abc import Sequence

from nlfeedback.errors import NlfError
from nlfeedback.feedback.schema import TextFeedback, TextIntent, TextLabels
from nlfeedback.targets import Reading
from nlfeedback.trajectory import Trajectory


def gold_reading(gold: TextIntent | TextLabels) -> Reading:
    """The reading a gold intent or labelling gives: its clauses that judge (polarity ±1), fully sure."""
    clauses = [c for c in gold.clauses if c.polarity != 0]
    return Reading(clauses, [1.0] * len(clauses), 1.0)


class OracleInterpreter:
    name = "oracle-intent"

    def read_many(self, items: Sequence[tuple[TextFeedback, Trajectory]]) -> list[Reading]:
        out = []
        for fb, _traj in items:
            gold = fb.intent if fb.intent is not None else fb.labels
            if gold is None:
                raise NlfError(f"feedback {fb.id}: oracle-intent needs a recorded intent or gold labels")
            out.append(gold_reading(gold))
        return out


class SecondLabelling:
    """Reads each remark as a second labeller did: ``other`` holds records with the same ids and texts as
    the remarks scored, each with its own ``labels``. ``source`` names where they came from, for errors."""

    name = "second-labelling"

    def __init__(self, other: Sequence[TextFeedback], source: str = "the second labelling") -> None:
        self.source = source
        self.by_id: dict[str, TextFeedback] = {}
        for fb in other:
            if fb.labels is None:
                raise NlfError(f"{source}: feedback {fb.id} has no 'labels'")
            if fb.id in self.by_id:
                raise NlfError(f"{source}: feedback id {fb.id} appears twice")
            self.by_id[fb.id] = fb

    def read_many(self, items: Sequence[tuple[TextFeedback, Trajectory]]) -> list[Reading]:
        out = []
        for fb, _traj in items:
            other = self.by_id.get(fb.id)
            if other is None:
                raise NlfError(f"feedback {fb.id}: not labelled in {self.source}")
            if other.text != fb.text or other.trajectory_id != fb.trajectory_id:
                raise NlfError(f"feedback {fb.id}: {self.source} labels another text or trajectory under this id")
            assert other.labels is not None
            out.append(gold_reading(other.labels))
        return out
