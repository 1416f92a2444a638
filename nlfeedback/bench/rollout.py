"""Rollout throughput: steps/s with event tracking and digests against raw ``env.step``, same run.

All arms replay the same pre-drawn random action sequence on the same task from the same seeds, so the
only differences are the tracking work (events, captions, observation digest, record building) and, in
the third arm, MiniGrid's own ``gen_obs`` in place of the direct view ``Task.make_env`` installs
(``nlfeedback.envs.observation``). The arms alternate in rounds so that machine noise hits them alike.
"""

from __future__ import annotations

import platform
import time
from typing import Any

import numpy as np

from nlfeedback.envs.events import EventTracker
from nlfeedback.envs.tasks import NUM_ACTIONS, Task
from nlfeedback.trajectory import ObsDigest


def _raw_steps(task: Task, actions: np.ndarray, seed: int, minigrid_view: bool = False) -> float:
    env = task.make_env()
    if minigrid_view:
        del env.unwrapped.gen_obs  # the instance's direct view: MiniGrid's class method shows through
    env.reset(seed=seed)
    episode = 0
    t0 = time.perf_counter()
    for a in actions:
        _, _, terminated, truncated, _ = env.step(int(a))
        if terminated or truncated:
            episode += 1
            env.reset(seed=seed + episode)
    elapsed = time.perf_counter() - t0
    env.close()
    return elapsed


def _tracked_steps(task: Task, actions: np.ndarray, seed: int) -> float:
    env = EventTracker(task.make_env())
    obs, _ = env.reset(seed=seed)
    episode = 0
    digest = ObsDigest()
    digest.update(obs)
    events: list[list[str]] = []
    captions: list[str] = []
    rewards: list[float] = []
    t0 = time.perf_counter()
    for a in actions:
        obs, reward, terminated, truncated, info = env.step(int(a))
        digest.update(obs)
        events.append(info["events"])
        captions.append(info["caption"])
        rewards.append(float(reward))
        if terminated or truncated:
            episode += 1
            digest.hexdigest()
            events, captions, rewards = [], [], []
            digest = ObsDigest()
            obs, _ = env.reset(seed=seed + episode)
            digest.update(obs)
    elapsed = time.perf_counter() - t0
    env.close()
    return elapsed


def bench_rollout(task: Task, steps: int = 50_000, rounds: int = 3, seed: int = 0) -> dict[str, Any]:
    """Measure raw, tracked and MiniGrid-view steps/s over ``rounds`` alternating rounds of ``steps`` steps each."""
    rng = np.random.default_rng(seed)
    actions = rng.integers(NUM_ACTIONS, size=steps)
    _raw_steps(task, actions[:1000], seed)  # warm-up (imports, caches)
    raw_time = tracked_time = minigrid_time = 0.0
    for _ in range(rounds):
        raw_time += _raw_steps(task, actions, seed)
        tracked_time += _tracked_steps(task, actions, seed)
        minigrid_time += _raw_steps(task, actions, seed, minigrid_view=True)
    total = steps * rounds
    raw = total / raw_time
    tracked = total / tracked_time
    minigrid = total / minigrid_time
    return {
        "benchmark": "rollout",
        "task": task.name,
        "steps_per_round": steps,
        "rounds": rounds,
        "raw_steps_per_s": raw,
        "tracked_steps_per_s": tracked,
        "ratio": tracked / raw,
        "minigrid_view_steps_per_s": minigrid,
        "view_speedup": raw / minigrid,
        "machine": machine_description(),
    }


def machine_description() -> str:
    import os

    return f"{platform.machine()}, {os.cpu_count()} cores, {platform.python_implementation()} {platform.python_version()}"
