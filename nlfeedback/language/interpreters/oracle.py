"""``oracle-intent``: reads the critic's recorded intent, or a human remark's gold labels — the upper bound
of interpretation."""

from __future__ import annotations

from collections.abc import Sequence

from nlfeedback.errors import NlfError
from nlfeedback.feedback.schema import TextFeedback
from nlfeedback.targets import Reading
from nlfeedback.trajectory import Trajectory


class OracleInterpreter:
    name = "oracle-intent"

    def read_many(self, items: Sequence[tuple[TextFeedback, Trajectory]]) -> list[Reading]:
        out = []
        for fb, _traj in items:
            gold = fb.intent if fb.intent is not None else fb.labels
            if gold is None:
                raise NlfError(f"feedback {fb.id}: oracle-intent needs a recorded intent or gold labels")
            clauses = [c for c in gold.clauses if c.polarity != 0]
            out.append(Reading(clauses, [1.0] * len(clauses), 1.0))
        return out
