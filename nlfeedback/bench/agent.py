"""PPO throughput with the learned-reward wrapper against PPO on the true reward (same config, same run).

A sketch reward model is fitted quickly on noisy-expert DoorKey rollouts first (not timed). Each arm then
trains PPO for ``steps`` environment steps without evaluation callbacks; the arms alternate over
``rounds``, and the ratio is the median of the rounds' ratios (learned fps / oracle fps of the same round),
so the slow drifts of a shared machine cancel. One torch thread, as in sweeps.
"""

from __future__ import annotations

import statistics
import time
from typing import Any

import torch
from nlfeedback.agents.envs import make_vec_env
from nlfeedback.agents.reward_wrapper import RewardVecEnvWrapper
from nlfeedback.agents.train import AgentConfig, make_ppo
from nlfeedback.bench.rollout import machine_description
from nlfeedback.critics import critique
from nlfeedback.envs.tasks import get_task
from nlfeedback.policies import make_policy
from nlfeedback.reward.data import build_reward_data
from nlfeedback.reward.train import RewardConfig, train_reward
from nlfeedback.rollout import rollout


def _fps(task, reward, config: AgentConfig, steps: int) -> float:
    venv = make_vec_env(task, config.n_envs, config.seed)
    if reward is not None:
        venv = RewardVecEnvWrapper(venv, reward, env_id=task.env_id, scale=config.reward_scale)
    model = make_ppo(venv, config)
    t0 = time.perf_counter()
    model.learn(steps)
    elapsed = time.perf_counter() - t0
    venv.close()
    return model.num_timesteps / elapsed


def bench_agent(steps: int = 10_000, rounds: int = 5, seed: int = 0) -> dict[str, Any]:
    torch.set_num_threads(1)
    task = get_task("doorkey-5x5")
    trajs = list(rollout(task, make_policy("expert", epsilon=0.2, mistakes=0.3), 40, seed=seed))
    fb = list(critique(trajs, "sketch", seed=seed))
    reward, _ = train_reward(build_reward_data(fb, {t.id: t for t in trajs}, "sketch"), "sketch",
                             RewardConfig(epochs=3))
    config = AgentConfig(seed=seed)
    oracle, learned = [], []
    for _ in range(rounds):
        oracle.append(_fps(task, None, config, steps))
        learned.append(_fps(task, reward, config, steps))
    ratios = sorted(l_ / o for o, l_ in zip(oracle, learned))
    return {"benchmark": "agent", "task": task.name, "steps_per_round": steps, "rounds": rounds,
            "oracle_fps": round(statistics.mean(oracle), 1), "learned_reward_fps": round(statistics.mean(learned), 1),
            "ratio": round(statistics.median(ratios), 3), "round_ratios": [round(r, 3) for r in ratios],
            "machine": machine_description()}
