"""``oracle-intent``: reads the critic's recorded intent — the upper bound of interpretation."""

from __future__ import annotations

from collections.abc import Sequence

from nlfeedback.errors import NlfError
from nlfeedback.feedback.schema import TextFeedback
from nlfeedback.language.targets import Reading
from nlfeedback.trajectory import Trajectory


class OracleInterpreter:
    name = "oracle-intent"

    def read_many(self, items: Sequence[tuple[TextFeedback, Trajectory]]) -> list[Reading]:
        out = []
        for fb, _traj in items:
            if fb.intent is None:
                raise NlfError(f"feedback {fb.id}: oracle-intent needs a recorded intent (human feedback has none)")
            clauses = [c for c in fb.intent.clauses if c.polarity != 0]
            out.append(Reading(clauses, [1.0] * len(clauses), 1.0))
        return out
