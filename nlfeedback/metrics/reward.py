"""Reward metrics: a learned reward against the ground truth on held-out trajectories.

* ``reward_spearman``: Spearman rank correlation between the learned r(s, a) and the dense ground truth
  (the judged step values of :mod:`nlfeedback.envs.judgement`: progress plus event values) over all steps.
  The task's own reward is sparse (non-zero only at the goal), so a rank correlation against it says
  little; the judged values are its documented dense shaping.
* ``event_sign_agreement``: for steps with each event — stepping into lava (should be negative), reaching
  the goal (+), picking up the door's key (+), unlocking the door (+), bumping into a wall (−) — the share
  where the normalised learned reward has that sign.

(EPIC distance is not implemented yet.)
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from scipy.stats import spearmanr

from nlfeedback.envs.judgement import judge
from nlfeedback.reward.model import RewardModel
from nlfeedback.trajectory import Trajectory

EVENTS = {"lava": ("entered:lava", -1), "goal": ("reached:goal", 1), "key": ("picked_up:key", 1),
          "door": ("unlocked:door", 1), "wall_bump": ("bumped:wall", -1)}


def reward_metrics(model: RewardModel, trajectories: Sequence[Trajectory]) -> dict[str, Any]:
    learned, truth = [], []
    agree: dict[str, list[bool]] = {k: [] for k in EVENTS}
    for t in trajectories:
        r = model.step_rewards(t)
        j = judge(t)
        learned.append(r)
        truth.append(j.values)
        for s, events in enumerate(t.events):
            for name, (prefix, sign) in EVENTS.items():
                if any(e.startswith(prefix) for e in events):
                    if name == "key" and j.door_color and not any(e == f"picked_up:key:{j.door_color}" for e in events):
                        continue
                    agree[name].append(bool(np.sign(r[s]) == sign))
    lv, tv = np.concatenate(learned), np.concatenate(truth)
    rho = float(spearmanr(lv, tv).statistic) if len(lv) > 2 and lv.std() > 0 and tv.std() > 0 else float("nan")
    return {
        "trajectories": len(trajectories), "steps": int(len(lv)),
        "reward_spearman": round(rho, 4),
        "event_sign_agreement": {k: (round(float(np.mean(v)), 4) if v else None) for k, v in agree.items()},
        "event_counts": {k: len(v) for k, v in agree.items()},
    }
