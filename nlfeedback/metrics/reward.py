"""Reward metrics: a learned reward against the ground truth on held-out trajectories.

* ``reward_spearman``: Spearman rank correlation between the learned r(s, a) and the dense ground truth
  (the judged step values of :mod:`nlfeedback.truth.judgement`: progress plus event values) over all steps.
  The task's own reward is sparse (non-zero only at the goal), so a rank correlation against it says
  little; the judged values are its documented dense shaping.
* ``event_sign_agreement``: for steps with each event — stepping into lava (should be negative), reaching
  the goal (+), picking up the door's key (+), unlocking the door (+), bumping into a wall (−) — the share
  where the normalised learned reward has that sign.

* ``epic_distance`` (Gleave et al. 2021): both rewards are canonicalised,
  C(R)(s, a, s′) = R(s, a, s′) + E[γR(s′, A, S′) − R(s, A, S′) − γR(S, A, S′)], which removes potential
  shaping, and compared by the Pearson distance √((1 − ρ)/2) over sampled transitions: 0 for rewards
  that order every policy alike, up to 1. Here the comparison is against the task's own reward (1 for
  the step that reaches the goal, else 0; MiniGrid's discount for time is left out). Transitions
  (s, a, s′) come from the held-out trajectories; S, S′ are drawn from all their states and A uniformly
  from the actions; expectations are Monte-Carlo means over ``mc`` draws.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
from scipy.stats import spearmanr

from nlfeedback.envs.tasks import NUM_ACTIONS
from nlfeedback.reward.model import RewardModel
from nlfeedback.reward.observations import trajectory_states
from nlfeedback.trajectory import Trajectory
from nlfeedback.truth.judgement import judge

EVENTS = {"lava": ("entered:lava", -1), "goal": ("reached:goal", 1), "key": ("picked_up:key", 1),
          "door": ("unlocked:door", 1), "wall_bump": ("bumped:wall", -1)}


def reward_metrics(model: RewardModel, trajectories: Sequence[Trajectory], *, epic_transitions: int = 1000,
                   epic_mc: int = 64) -> dict[str, Any]:
    """The metrics above on ``trajectories``; EPIC on at most ``epic_transitions`` of their transitions with
    ``epic_mc`` Monte-Carlo draws (its cost grows with their product)."""
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
    epic = epic_against_task(model, trajectories, max_transitions=epic_transitions, mc=epic_mc)
    rho = float(spearmanr(lv, tv).statistic) if len(lv) > 2 and lv.std() > 0 and tv.std() > 0 else float("nan")
    return {
        "trajectories": len(trajectories), "steps": int(len(lv)),
        "reward_spearman": round(rho, 4),
        "epic_distance": round(epic, 4),
        "event_sign_agreement": {k: (round(float(np.mean(v)), 4) if v else None) for k, v in agree.items()},
        "event_counts": {k: len(v) for k, v in agree.items()},
    }


# A reward over a table of states: ``(state index, action, next state index) → reward``, all arrays.
IndexedReward = Callable[[np.ndarray, np.ndarray, np.ndarray], np.ndarray]


def epic_distance(r1: IndexedReward, r2: IndexedReward, transitions: np.ndarray, n_states: int, *,
                  gamma: float = 0.99, mc: int = 64, seed: int = 0) -> float:
    """EPIC distance between two rewards on ``transitions`` (rows of state index, action, next index),
    with S, S′ uniform over the ``n_states`` states and A uniform over the actions."""
    rng = np.random.default_rng(seed)
    s, a, s2 = (transitions[:, k].astype(np.int64) for k in range(3))
    A = rng.integers(0, NUM_ACTIONS, size=mc)
    S2 = rng.integers(0, n_states, size=mc)
    S = rng.integers(0, n_states, size=mc)

    def canonical(r: IndexedReward) -> np.ndarray:
        states = np.unique(np.concatenate([s, s2]))
        # E[R(x, A, S′)] for every state x that appears, in one batched call
        xs = np.repeat(states, mc)
        mean_from = r(xs, np.tile(A, len(states)), np.tile(S2, len(states))).reshape(len(states), mc).mean(1)
        lookup = dict(zip(states.tolist(), mean_from))
        from_s = np.array([lookup[x] for x in s.tolist()])
        from_s2 = np.array([lookup[x] for x in s2.tolist()])
        const = float(r(S, A, S2).mean())
        return r(s, a, s2) + gamma * from_s2 - from_s - gamma * const

    c1, c2 = canonical(r1), canonical(r2)
    if c1.std() == 0 or c2.std() == 0:
        return float("nan")
    rho = float(np.corrcoef(c1, c2)[0, 1])
    return float(np.sqrt(max(0.0, 1 - rho) / 2))


def epic_against_task(model: RewardModel, trajectories: Sequence[Trajectory], *, max_transitions: int = 1000,
                      mc: int = 64, seed: int = 0) -> float:
    """EPIC distance between ``model`` and the task's reward on the transitions of ``trajectories``."""
    images, goal, end, rows = [], [], [], []
    for t in trajectories:
        states = trajectory_states(t, model.obs_mode)
        base = sum(len(x) for x in images)
        images.append(states)
        reached = np.zeros(len(states), dtype=bool)
        ended = np.zeros(len(states), dtype=bool)
        if t.terminated:
            ended[-1] = True
            reached[-1] = any(e.startswith("reached:goal") for e in t.events[-1])
        goal.append(reached)
        end.append(ended)
        rows += [(base + k, t.actions[k], base + k + 1) for k in range(len(t.actions))]
    obs, goal_state, end_state = np.concatenate(images), np.concatenate(goal), np.concatenate(end)
    rows = np.asarray(rows)
    rng = np.random.default_rng(seed)
    if len(rows) > max_transitions:
        rows = rows[rng.choice(len(rows), size=max_transitions, replace=False)]

    def learned(i: np.ndarray, a: np.ndarray, j: np.ndarray) -> np.ndarray:
        return np.concatenate([model.transition_rewards(obs[i[k:k + 8192]], a[k:k + 8192], obs[j[k:k + 8192]],
                                                        end_state[j[k:k + 8192]]) for k in range(0, len(i), 8192)])

    def task(i: np.ndarray, a: np.ndarray, j: np.ndarray) -> np.ndarray:
        return goal_state[j].astype(np.float64)

    return epic_distance(learned, task, rows, len(obs), gamma=model.gamma, mc=mc, seed=seed)
