"""The disagreement guard: fresh feedback on the agent's newest behaviour, checked against a fixed learned reward.

A mitigation for reward gaming (issue 23; docs/probes.md "The disagreement guard"). While PPO optimises a
reward model fitted once (``run.rounds = 1``), every ``guard_every`` environment steps:

1. the current policy plays ``guard_items`` episodes (sampling its actions, as the online loop's later rounds
   do), and the run's scripted critic gives ``guard_items`` feedback items of the run's kind on them
   (preferences: on them and as many of the fitted trajectories, so that pairs can span both);
2. a **check model** is refitted from the proxy (a warm start, the loop's refit epochs) on all the feedback
   the proxy was fitted on plus the fresh items: the reward as it would be had the fresh feedback been known;
3. **standing** of the fresh episodes under a model: the share of (fresh, fitted) trajectory pairs in which
   the fresh episode has the higher return under that model (ties count half) — where the newest behaviour
   ranks among the behaviour the reward was fitted on. **Disagreement** = standing under the proxy − standing
   under the check model: how much worse the fresh feedback judges the newest behaviour than the proxy does.
   Both are ranks, so the two models' scales do not matter.

The guard **fires** at the first check whose disagreement is at least :data:`MARGIN`. A guarded run would
then stop and keep the policy of the previous check (the last the feedback did not dispute; at the first
check, the untrained policy). To give the comparison with and without the guard on the same seed, the run
does not stop: the kept policy is evaluated there (as the final evaluation is: deterministic,
``eval_episodes`` episodes, layout seeds ``10000 + seed``) and PPO goes on to its last step, which is the
unguarded outcome. No checks are made after the guard fires (a guarded run asks for no more feedback).

The proxy itself is never changed. The guard's feedback and trajectories are written beside the run's
(``guard-feedback.jsonl``, ``guard-trajectories.jsonl``) and counted separately from the feedback that
fitted the reward: ``GuardRecord.items`` / ``seconds`` are what a guarded run spends on top.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field, replace
from typing import Any

import numpy as np

MARGIN = 0.25  # disagreement (a difference of two shares in [0, 1]) at which the guard fires


def standing(fresh: Sequence[float], fitted: Sequence[float]) -> float:
    """The share of (fresh, fitted) pairs in which the fresh return is higher (ties count half)."""
    f = np.asarray(fresh, dtype=float)[:, None]
    r = np.asarray(fitted, dtype=float)[None, :]
    if f.size == 0 or r.size == 0:
        raise ValueError("standing needs at least one fresh and one fitted return")
    return float(((f > r) + 0.5 * (f == r)).mean())


def returns(model: Any, trajectories: Sequence[Any]) -> list[float]:
    """Each trajectory's return under a reward model (the sum of its normalised step rewards)."""
    return [float(np.sum(model.step_rewards(t))) for t in trajectories]


@dataclass
class GuardCheck:
    steps: int
    episodes: int
    items: int
    standing_proxy: float
    standing_check: float

    @property
    def disagreement(self) -> float:
        return self.standing_proxy - self.standing_check

    def to_json(self) -> dict[str, Any]:
        return {**asdict(self), "disagreement": round(self.disagreement, 4)}


@dataclass
class GuardRecord:
    """What the guard did in one run (``summary.json``'s ``guard``)."""

    every: int
    items_per_check: int
    margin: float = MARGIN
    checks: list[GuardCheck] = field(default_factory=list)
    fired_at: int | None = None  # steps of the check that fired; None: it never fired
    kept_steps: int | None = None  # steps of the policy a guarded run keeps (the check before)
    kept: dict[str, float] | None = None  # that policy's evaluation (as the final evaluation is made)
    items: int = 0  # feedback items the checks asked for (until the guard fired)
    seconds: float = 0.0

    def to_json(self) -> dict[str, Any]:
        return {"every": self.every, "items_per_check": self.items_per_check, "margin": self.margin,
                "checks": [c.to_json() for c in self.checks], "fired_at": self.fired_at,
                "kept_steps": self.kept_steps, "kept": self.kept, "items": self.items,
                "seconds": round(self.seconds, 2)}


class DisagreementGuard:
    """The checks of one run (module docstring). ``fitted``: the trajectories the proxy was fitted on;
    ``items`` and ``trajectories``: the feedback it was fitted on and all its trajectories."""

    def __init__(self, *, task: Any, kind: str, proxy: Any, fitted: Sequence[Any], items: Sequence[Any],
                 trajectories: dict[str, Any], interp: Any, reward_config: Any, every: int, items_per_check: int,
                 seed: int, phrasing: str, noise: Any, eval_episodes: int, reward_scale: float | None,
                 traj_writer: Any, fb_writer: Any, form: str) -> None:
        self.task, self.kind, self.proxy, self.interp = task, kind, proxy, interp
        self.fitted = list(fitted)
        self.items, self.trajectories = list(items), dict(trajectories)
        self.reward_config, self.seed, self.phrasing, self.noise, self.form = reward_config, seed, phrasing, noise, form
        self.eval_episodes, self.reward_scale = eval_episodes, reward_scale
        self.traj_writer, self.fb_writer = traj_writer, fb_writer
        self.record = GuardRecord(every=every, items_per_check=items_per_check, margin=MARGIN)
        self._fitted_proxy = returns(proxy, self.fitted)
        self._snapshot: tuple[int, Any] | None = None

    @property
    def fired(self) -> bool:
        return self.record.fired_at is not None

    def remember(self, steps: int, ppo: Any) -> None:
        """Keep the current policy as the one a guarded run would fall back to."""
        self._snapshot = (steps, copy.deepcopy(ppo.policy))

    def check(self, steps: int, ppo: Any) -> GuardCheck:
        """One check at ``steps`` (the module docstring's 1–3); fires the guard when the disagreement reaches
        the margin, else remembers the current policy."""
        from nlfeedback.critics import critique
        from nlfeedback.language.apply import interpret_feedback
        from nlfeedback.policies.checkpoint import CheckpointPolicy
        from nlfeedback.reward.data import build_reward_data
        from nlfeedback.reward.train import train_reward
        from nlfeedback.rollout import rollout

        n = self.record.items_per_check
        c = len(self.record.checks)
        check_seed = self.seed * 1000 + 500 + c  # the check's episodes, pairs and feedback
        policy = CheckpointPolicy(model=ppo, name=f"guard-check{c}", deterministic=False)
        fresh = list(rollout(self.task, policy, n, seed=check_seed))
        for t in fresh:
            if t.id not in self.trajectories:
                self.trajectories[t.id] = t
                self.traj_writer.write(t.to_json())
        pool = fresh
        if self.kind == "preference":
            rng = np.random.default_rng(check_seed)
            pick = rng.choice(len(self.fitted), size=min(n, len(self.fitted)), replace=False)
            pool = fresh + [self.fitted[i] for i in pick]
        said = list(critique(pool, self.kind, budget=n, seed=check_seed, split=self.phrasing,
                             noise=self.noise, name=f"guard-check{c}"))
        self.fb_writer.write_all(said)
        self.record.items += len(said)
        self.record.seconds += sum(fb.annotation_seconds for fb in said)
        items = self.items + said
        targets = interpret_feedback(items, self.trajectories, self.interp) if self.interp is not None else None
        data = build_reward_data(items, self.trajectories, self.kind, targets=targets, form=self.form)
        cfg = replace(self.reward_config, seed=self.reward_config.seed + 1 + c)
        check_model, _ = train_reward(data, self.kind, cfg, init=self.proxy)
        result = GuardCheck(
            steps=int(steps), episodes=len(fresh), items=len(said),
            standing_proxy=round(standing(returns(self.proxy, fresh), self._fitted_proxy), 4),
            standing_check=round(standing(returns(check_model, fresh), returns(check_model, self.fitted)), 4))
        self.record.checks.append(result)
        if result.disagreement >= self.record.margin:
            self._fire(steps)
        else:
            self.remember(steps, ppo)
        return result

    def _fire(self, steps: int) -> None:
        from nlfeedback.agents.evaluation import evaluate_policy

        if self._snapshot is None:
            raise RuntimeError("the guard fired before any policy was remembered: call remember() before check()")
        kept_steps, policy = self._snapshot
        self.record.fired_at, self.record.kept_steps = int(steps), kept_steps
        self.record.kept = evaluate_policy(policy, self.task, self.eval_episodes, seed=10_000 + self.seed,
                                           reward=self.proxy, reward_scale=self.reward_scale).to_json()
