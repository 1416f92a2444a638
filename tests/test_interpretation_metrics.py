"""Interpretation metrics (nlfeedback/metrics/interpretation.py) on hand-computed examples."""

from __future__ import annotations

import numpy as np

from nlfeedback.feedback.schema import Clause, Source, TextFeedback, TextIntent
from nlfeedback.metrics.interpretation import Tally, flip_failed, score
from nlfeedback.targets import Targets


def _t(targets, weights):
    return Targets("fb", "traj", "x", np.array(targets, float), np.array(weights, float), 1.0)


def test_metrics_hand_computed():
    tally = Tally()
    tally.add_item({1: -1, 2: -1}, _t([0, -1, 1, 0.5, 0], [0, 1, 1, 1, 0]))
    tally.add_item({0: 1}, _t([0, 0, 0], [0, 0, 0]))  # abstained: a sign error and a miss
    d = tally.as_dict()
    assert d["sign_error_rate"] == round(2 / 3, 4)
    # attributed {1,2,3} vs {1,2}; nothing vs {0}: tp 2, fp 1, fn 1
    assert d["attribution_precision"] == round(2 / 3, 4) and d["attribution_recall"] == round(2 / 3, 4)
    assert d["attribution_f1"] == round(2 / 3, 4)


def test_flip_failure_hand_computed():
    intended = {1: -1, 2: -1}
    assert not flip_failed(intended, _t([0, -1, -1], [0, 1, 1]), _t([0, 1, 1], [0, 1, 1]))
    assert flip_failed(intended, _t([0, -1, -1], [0, 1, 1]), _t([0, -1, -0.5], [0, 1, 1]))
    assert flip_failed(intended, _t([0, -1, -1], [0, 1, 1]), _t([0, 0, 0], [0, 0, 0]))


def test_score_breaks_down_by_category_and_split(lava_traj):
    intent = TextIntent(type="imperative", categories=["imperative", "negation"], split="heldout", template="x",
                        clauses=[Clause(steps=[0], polarity=-1, strength=1.0)])
    fb = TextFeedback(id="fb-1", trajectory_id=lava_traj.id, segment=[0, len(lava_traj)],
                      source=Source(type="critic", name="language"), created_at="2026-11-25T10:00:00Z",
                      annotation_seconds=1.0, text="don't", intent=intent)
    T = len(lava_traj)
    right = _t([-1] + [0] * (T - 1), [1] + [0] * (T - 1))
    rep = score([fb], [right]).to_json()
    assert rep["overall"]["sign_error_rate"] == 0 and rep["by_split"]["heldout"]["attribution_f1"] == 1
    assert set(rep["by_category"]) == {"imperative", "negation"}
