"""The disagreement guard: fresh feedback on the agent's newest behaviour, checked against a fixed learned reward.

A mitigation for reward gaming (issue 23; docs/probes.md "The disagreement guard"). While PPO optimises a
reward model fitted once (``run.rounds = 1``), every ``guard_every`` environment steps:

1. the current policy plays ``guard_items`` episodes (sampling its actions, as the online loop's later rounds
   do), and the run's scripted critic gives ``guard_items`` feedback items of the run's kind on them
   (preferences: each fresh episode against one of the trajectories the reward was fitted on);
2. every feedback item — the fresh ones and those the reward was fitted on — is given two **scores** for
   what it judges: the feedback's own (a rating; a sketch's rise from its segment's start to its end; a
   remark's read targets, averaged over the steps it is about, weighted) and the proxy's (the learned reward
   over the same segment or steps: averaged for ratings and remarks, summed for sketches);
3. **standing** of the newest behaviour: the share of (fresh item, fitted item) pairs in which the fresh item
   scores higher (ties count half) — where the newest behaviour ranks among the behaviour the reward was
   fitted on, by the feedback and by the proxy. For preferences the pairs are the critic's own comparisons
   of a fresh segment with a fitted one: the share the critic gives to the fresh one, against the share the
   proxy's summed reward gives it. **Disagreement** = standing by the proxy − standing by the feedback: how
   much better the proxy judges the newest behaviour than the critic does. Both are ranks, so scales do not
   matter, and nothing is refitted.

The guard **fires** at the first check whose disagreement is at least :data:`MARGIN`. A guarded run would
then stop and keep the policy of the previous check (the last the feedback did not dispute; at the first
check, the untrained policy). To give the comparison with and without the guard on the same seed, the run
does not stop: the kept policy is evaluated there (as the final evaluation is: deterministic,
``eval_episodes`` episodes, layout seeds ``10000 + seed``) and PPO goes on to its last step, which is the
unguarded outcome. No checks are made after the guard fires (a guarded run asks for no more feedback).

With ``action = "refit"`` (``[run] guard_action``) a firing check does not stop the run: the reward is refitted
— a warm start from the current one, the loop's refit epochs — on the feedback it was fitted on plus every
item the checks have asked for, PPO goes on optimising the refitted reward, and the checks go on against it
(``GuardRecord.refits``). That run's end is the guarded outcome; the unguarded one is the same seed's run with
``action = "stop"`` (identical up to the first firing, since the checks leave PPO's course alone).

In the default ``stop`` mode the proxy itself is never changed. The guard's feedback and trajectories are written beside the run's
(``guard-feedback.jsonl``, ``guard-trajectories.jsonl``) and counted separately from the feedback that
fitted the reward: ``GuardRecord.items`` / ``seconds`` are what a guarded run spends on top.

An earlier version refitted a *check model* from the proxy with the fresh feedback and compared the fresh
episodes' returns under both: a reward fitted to random runs that pays for every step kept paying after the
refit, and the guard never fired on an agent that looped for the whole episode (docs/probes.md).
"""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

MARGIN = 0.25  # disagreement (a difference of two shares in [0, 1]) at which the guard fires
ACTIONS = ("stop", "refit")  # what a firing check does (module docstring)


def standing(fresh: Sequence[float], fitted: Sequence[float]) -> float:
    """The share of (fresh, fitted) pairs in which the fresh return is higher (ties count half)."""
    f = np.asarray(fresh, dtype=float)[:, None]
    r = np.asarray(fitted, dtype=float)[None, :]
    if f.size == 0 or r.size == 0:
        raise ValueError("standing needs at least one fresh and one fitted return")
    return float(((f > r) + 0.5 * (f == r)).mean())


def scores(items: Sequence[Any], proxy: Any, trajectories: Mapping[str, Any],
           targets: Mapping[str, Any] | None = None) -> tuple[list[float], list[float]]:
    """Each rating, sketch or remark's score by the feedback and by the proxy (the module docstring's step 2),
    as two lists in the items' order; a remark read as about no step is left out of both. ``targets``: the
    read targets of each remark on its own trajectory, by feedback id (text only)."""
    from nlfeedback.feedback.schema import ScalarFeedback, SketchFeedback, TextFeedback

    rewards: dict[str, np.ndarray] = {}
    said, proxied = [], []
    for fb in items:
        if fb.trajectory_id not in rewards:
            rewards[fb.trajectory_id] = np.asarray(proxy.step_rewards(trajectories[fb.trajectory_id]), dtype=float)
        r = rewards[fb.trajectory_id]
        a, b = fb.segment
        if isinstance(fb, TextFeedback):
            t = (targets or {}).get(fb.id)
            if t is None:
                raise ValueError(f"no targets for remark {fb.id}")
            w = np.asarray(t.weights, dtype=float)
            if w.sum() <= 0:
                continue
            said.append(float((w * t.targets).sum() / w.sum()))
            proxied.append(float((w * r).sum() / w.sum()))
        elif isinstance(fb, ScalarFeedback):
            said.append(float(fb.value))
            proxied.append(float(r[a:b].mean()))
        elif isinstance(fb, SketchFeedback):
            said.append(float(fb.curve[-1] - (0.0 if a == 0 else fb.curve[0])))
            proxied.append(float(r[a:b].sum() if a == 0 else r[a + 1:b].sum()))
        else:
            raise ValueError(f"scores takes ratings, sketches and remarks, not {fb.kind}")
    return said, proxied


def pair_standing(pairs: Sequence[Any], fresh_ids: set[str], proxy: Any,
                  trajectories: Mapping[str, Any]) -> tuple[float, float]:
    """For preferences between a fresh segment and a fitted one: the share the critic gives to the fresh one
    and the share the proxy's summed reward gives it (ties and "can't tell" count half)."""
    rewards: dict[str, np.ndarray] = {}

    def summed(tid: str, a: int, b: int) -> float:
        if tid not in rewards:
            rewards[tid] = np.asarray(proxy.step_rewards(trajectories[tid]), dtype=float)
        return float(rewards[tid][a:b].sum())

    by_critic, by_proxy = [], []
    for fb in pairs:
        first_fresh = fb.trajectory_id in fresh_ids
        if first_fresh == (fb.other_trajectory_id in fresh_ids):
            continue  # not a fresh-against-fitted comparison
        (a, b), (c, d) = fb.segment, fb.other_segment
        mine, other = summed(fb.trajectory_id, a, b), summed(fb.other_trajectory_id, c, d)
        first_wins_critic = 1.0 - float(fb.preferred)  # preferred: 0 this segment, 1 the other, 0.5 can't tell
        first_wins_proxy = 1.0 if mine > other else 0.5 if mine == other else 0.0
        by_critic.append(first_wins_critic if first_fresh else 1.0 - first_wins_critic)
        by_proxy.append(first_wins_proxy if first_fresh else 1.0 - first_wins_proxy)
    if not by_critic:
        raise ValueError("no preference compares a fresh segment with a fitted one")
    return float(np.mean(by_proxy)), float(np.mean(by_critic))


@dataclass
class GuardCheck:
    steps: int
    episodes: int
    items: int
    standing_proxy: float
    standing_feedback: float

    @property
    def disagreement(self) -> float:
        return self.standing_proxy - self.standing_feedback

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
    action: str = "stop"  # "stop" | "refit" (module docstring)
    refits: list[int] = field(default_factory=list)  # refit mode: steps of the checks that refitted the reward
    seconds: float = 0.0

    def to_json(self) -> dict[str, Any]:
        return {"every": self.every, "items_per_check": self.items_per_check, "margin": self.margin,
                "checks": [c.to_json() for c in self.checks], "fired_at": self.fired_at,
                "kept_steps": self.kept_steps, "kept": self.kept, "items": self.items,
                "seconds": round(self.seconds, 2), "action": self.action, "refits": list(self.refits)}


class DisagreementGuard:
    """The checks of one run (module docstring). ``fitted``: the trajectories the proxy was fitted on;
    ``items`` and ``trajectories``: the feedback it was fitted on and all its trajectories."""

    def __init__(self, *, task: Any, kind: str, proxy: Any, fitted: Sequence[Any], items: Sequence[Any],
                 trajectories: dict[str, Any], interp: Any, every: int, items_per_check: int,
                 seed: int, phrasing: str, noise: Any, eval_episodes: int, reward_scale: float | None,
                 traj_writer: Any, fb_writer: Any, action: str = "stop", reward_config: Any = None,
                 eval_actions: str = "deterministic") -> None:
        if action not in ACTIONS:
            raise ValueError(f"guard action must be one of {ACTIONS}, got {action!r}")
        if action == "refit" and reward_config is None:
            raise ValueError("a refitting guard needs the reward config to refit with")
        self.task, self.kind, self.proxy, self.interp = task, kind, proxy, interp
        self.fitted = list(fitted)
        self.items, self.trajectories = list(items), dict(trajectories)
        self.seed, self.phrasing, self.noise = seed, phrasing, noise
        self.eval_episodes, self.reward_scale, self.eval_actions = eval_episodes, reward_scale, eval_actions
        self.traj_writer, self.fb_writer = traj_writer, fb_writer
        self.record = GuardRecord(every=every, items_per_check=items_per_check, margin=MARGIN, action=action)
        self.reward_config = reward_config
        self.asked: list[Any] = []  # every item the checks asked for
        self._fitted_scores = None if kind == "preference" else scores(self.items, proxy, self.trajectories,
                                                                      self._targets(self.items))
        self._snapshot: tuple[int, Any] | None = None

    def _targets(self, items: Sequence[Any]) -> dict[str, Any] | None:
        """What the run's interpreter reads in each remark, on the remark's own trajectory."""
        if self.interp is None:
            return None
        from nlfeedback.language.apply import interpret_feedback

        return {t.feedback_id: t for t in interpret_feedback(items, self.trajectories, self.interp, apply_rules=False)}

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
        from nlfeedback.policies.checkpoint import CheckpointPolicy
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
        if self.kind == "preference":  # each fresh episode against a fitted trajectory
            rng = np.random.default_rng(check_seed)
            said = [fb for i, t in enumerate(fresh)
                    for fb in critique([t, self.fitted[int(rng.integers(len(self.fitted)))]], "preference",
                                       budget=1, seed=check_seed * 100 + i, split=self.phrasing, noise=self.noise,
                                       name=f"guard-check{c}")]
        else:
            said = list(critique(fresh, self.kind, budget=n, seed=check_seed, split=self.phrasing,
                                 noise=self.noise, name=f"guard-check{c}"))
        self.fb_writer.write_all(said)
        self.asked += said
        self.record.items += len(said)
        self.record.seconds += sum(fb.annotation_seconds for fb in said)
        if self.kind == "preference":
            by_proxy, by_feedback = pair_standing(said, {t.id for t in fresh}, self.proxy, self.trajectories)
        else:
            fresh_said, fresh_proxy = scores(said, self.proxy, self.trajectories, self._targets(said))
            fitted_said, fitted_proxy = self._fitted_scores  # type: ignore[misc]
            if fresh_said and fitted_said:
                by_proxy, by_feedback = standing(fresh_proxy, fitted_proxy), standing(fresh_said, fitted_said)
            else:  # every fresh remark was read as about nothing: no evidence either way
                by_proxy = by_feedback = 0.5
        result = GuardCheck(steps=int(steps), episodes=len(fresh), items=len(said),
                            standing_proxy=round(by_proxy, 4), standing_feedback=round(by_feedback, 4))
        self.record.checks.append(result)
        if result.disagreement >= self.record.margin:
            if self.record.action == "refit":
                self._refit(steps)
            else:
                self._fire(steps)
        else:
            self.remember(steps, ppo)
        return result

    def _refit(self, steps: int) -> None:
        """Refit the reward on what it was fitted on plus every item the checks asked for (a warm start from
        the current reward) and check against the refitted one from now on."""
        from dataclasses import replace

        from nlfeedback.language.apply import interpret_feedback
        from nlfeedback.reward.data import build_reward_data
        from nlfeedback.reward.train import train_reward

        items = self.items + self.asked
        targets = None if self.interp is None else interpret_feedback(items, self.trajectories, self.interp)
        data = build_reward_data(items, self.trajectories, self.kind, targets=targets, form=self.reward_config.form)
        cfg = replace(self.reward_config, seed=self.reward_config.seed + 1 + len(self.record.refits))
        self.proxy, _ = train_reward(data, self.kind, cfg, init=self.proxy)
        self.items, self.asked = items, []
        known = {t.id for t in self.fitted}
        self.fitted += [self.trajectories[tid] for tid in dict.fromkeys(fb.trajectory_id for fb in self.items)
                        if tid not in known]
        if self.kind != "preference":
            self._fitted_scores = scores(self.items, self.proxy, self.trajectories, self._targets(self.items))
        self.record.refits.append(int(steps))

    def _fire(self, steps: int) -> None:
        from nlfeedback.agents.evaluation import evaluate_policy

        if self._snapshot is None:
            raise RuntimeError("the guard fired before any policy was remembered: call remember() before check()")
        kept_steps, policy = self._snapshot
        self.record.fired_at, self.record.kept_steps = int(steps), kept_steps
        self.record.kept = evaluate_policy(policy, self.task, self.eval_episodes, seed=10_000 + self.seed,
                                           reward=self.proxy, reward_scale=self.reward_scale,
                                           deterministic=self.eval_actions == "deterministic").to_json()
