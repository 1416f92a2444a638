"""Roll out a policy on a task and record every episode as a :class:`Trajectory`.

Episode ``i`` of a rollout with ``seed`` uses env seed ``episode_seeds(seed, n)[i]`` (drawn from
``numpy.random.SeedSequence(seed)``, so rollouts with different seeds do not share layouts by
construction of consecutive integers) and a policy RNG derived from the same sequence.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

import numpy as np

from nlfeedback.envs.events import EventTracker
from nlfeedback.envs.tasks import Task
from nlfeedback.policies.base import Policy
from nlfeedback.trajectory import ObsDigest, Trajectory, make_trajectory_id


def episode_seeds(seed: int, episodes: int) -> list[int]:
    """Distinct-looking env seeds for ``episodes`` episodes of a rollout seeded with ``seed``."""
    state = np.random.SeedSequence(seed).generate_state(episodes, dtype=np.uint32)
    return [int(s) for s in state]


def record_episode(task: Task, policy: Policy, env_seed: int, rng: np.random.Generator,
                   env: EventTracker | None = None) -> Trajectory:
    """Run one episode and return its trajectory record (events, captions and digest included)."""
    own_env = env is None
    env = env or EventTracker(task.make_env())
    try:
        obs, _ = env.reset(seed=env_seed)
        policy.reset(env, rng)
        digest = ObsDigest()
        digest.update(obs)
        actions: list[int] = []
        rewards: list[float] = []
        events: list[list[str]] = []
        captions: list[str] = []
        while True:
            action = int(policy.act(env, obs, rng))
            obs, reward, terminated, truncated, info = env.step(action)
            digest.update(obs)
            actions.append(action)
            rewards.append(float(reward))
            events.append(info["events"])
            captions.append(info["caption"])
            if terminated or truncated:
                break
    finally:
        if own_env:
            env.close()
    return Trajectory(
        id=make_trajectory_id(task.env_id, task.env_kwargs, env_seed, policy.label, actions),
        env_id=task.env_id,
        env_kwargs=dict(task.env_kwargs),
        seed=env_seed,
        policy=policy.label,
        actions=actions,
        rewards=rewards,
        terminated=bool(terminated),
        truncated=bool(truncated),
        events=events,
        captions=captions,
        obs_digest=digest.hexdigest(),
    )


def rollout(task: Task, policy: Policy, episodes: int, seed: int = 0) -> Iterator[Trajectory]:
    """Yield ``episodes`` trajectories of ``policy`` on ``task``; reproducible from ``seed``."""
    env = EventTracker(task.make_env())
    try:
        for i, env_seed in enumerate(episode_seeds(seed, episodes)):
            rng = np.random.default_rng([seed, i])
            yield record_episode(task, policy, env_seed, rng, env=env)
    finally:
        env.close()


@dataclass
class RolloutSummary:
    """Aggregate statistics of a set of trajectories (what ``nlf rollout`` prints at the end)."""

    episodes: int = 0
    successes: int = 0
    total_return: float = 0.0
    total_steps: int = 0
    events: Counter[str] = field(default_factory=Counter)

    def add(self, traj: Trajectory) -> None:
        self.episodes += 1
        self.successes += int(traj.success)
        self.total_return += traj.true_return
        self.total_steps += len(traj)
        for step_events in traj.events:
            self.events.update(step_events)

    @classmethod
    def of(cls, trajectories: Iterable[Trajectory]) -> RolloutSummary:
        s = cls()
        for t in trajectories:
            s.add(t)
        return s

    @property
    def success_rate(self) -> float:
        return self.successes / self.episodes if self.episodes else 0.0

    @property
    def mean_return(self) -> float:
        return self.total_return / self.episodes if self.episodes else 0.0

    @property
    def mean_length(self) -> float:
        return self.total_steps / self.episodes if self.episodes else 0.0

    def to_json(self) -> dict[str, object]:
        return {
            "episodes": self.episodes,
            "success_rate": self.success_rate,
            "mean_return": self.mean_return,
            "mean_length": self.mean_length,
            "events": dict(self.events.most_common()),
        }
