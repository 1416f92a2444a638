"""Readings to per-step targets and general rules (nlfeedback/targets.py)."""

from __future__ import annotations

import numpy as np

from nlfeedback.envs import get_task
from nlfeedback.feedback.schema import Clause
from nlfeedback.policies import make_policy
from nlfeedback.rollout import rollout
from nlfeedback.targets import Reading, rule_targets, targets_from_reading


def test_general_rule_lands_on_other_trajectories(lava_traj):
    others = [t for t in rollout(get_task("lavagap-7"), make_policy("expert", mistakes=0.4), 150, seed=8)
              if any("entered:lava" in e for e in t.events)]
    assert others
    reading = Reading([Clause(steps=[], polarity=-1, strength=1.0, moment="lava", scope="general",
                              pattern="entered:lava")], [0.9], 0.9)
    from nlfeedback.targets import rules_of

    rules = rules_of(reading)
    for other in others[:3]:
        targets, weights = rule_targets(rules, other)
        lava = [i for i, e in enumerate(other.events) if "entered:lava" in e]
        assert list(np.flatnonzero(weights)) == lava and (targets[lava] == -1).all()


def test_targets_from_reading_prefers_specific_clauses():
    broad = Clause(steps=[0, 1, 2, 3], polarity=1, strength=1.0, moment="episode")
    spec = Clause(steps=[2], polarity=-1, strength=1.0, moment="wall_bump")
    targets, weights = targets_from_reading(Reading([broad, spec], [1.0, 1.0], 1.0), 4)
    assert list(targets) == [1, 1, -1, 1] and list(weights) == [0.5, 0.5, 1.0, 0.5]
