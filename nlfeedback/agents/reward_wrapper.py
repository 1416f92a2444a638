"""``RewardVecEnvWrapper``: replaces the env's reward with a learned one, keeps the true reward in ``info``.

The reward model scores the transition — the observation the agent acted on, the action, the
observation it led to (``terminal_observation`` at an episode's end) and whether the step ended the
episode (terminated, as opposed to cut off by the time limit) — for all envs of the vector in one
batched call per step, normalised with the model's training statistics and scaled by ``scale`` (by
default the model's ``default_scale``). ``info["true_reward"]`` keeps the task's reward and ``info["learned_reward"]`` the new one;
``terminal_observation`` is passed through untouched. It sits below SB3's ``VecTransposeImage``, so it
sees the env's own HWC images.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from stable_baselines3.common.vec_env import VecEnv, VecEnvWrapper

from nlfeedback.reward.model import RewardModel


class RewardVecEnvWrapper(VecEnvWrapper):
    def __init__(self, venv: VecEnv, model: RewardModel, *, env_id: str, scale: float | None = None) -> None:
        super().__init__(venv)
        model.check_task(env_id, venv.observation_space.shape)
        self.model = model
        self.scale = model.default_scale if scale is None else scale
        self._last_obs: np.ndarray | None = None
        self._actions: np.ndarray | None = None

    def set_model(self, model: RewardModel) -> None:
        """Swap in a refitted reward model (the online loop does this between rounds)."""
        model.check_task(self.model.env_id, self.venv.observation_space.shape)
        self.model = model

    def reset(self) -> Any:
        obs = self.venv.reset()
        self._last_obs = np.asarray(obs)
        return obs

    def step_async(self, actions: np.ndarray) -> None:
        self._actions = np.asarray(actions)
        self.venv.step_async(actions)

    def step_wait(self) -> Any:
        obs, true_rewards, dones, infos = self.venv.step_wait()
        assert self._last_obs is not None and self._actions is not None, "reset() before step()"
        next_obs = np.array(obs, copy=True)
        terminated = np.zeros(len(dones), dtype=bool)
        for i, done in enumerate(dones):
            if done:
                if "terminal_observation" in infos[i]:
                    next_obs[i] = infos[i]["terminal_observation"]
                terminated[i] = not infos[i].get("TimeLimit.truncated", False)
        learned = self.scale * self.model.transition_rewards(self._last_obs, self._actions.reshape(-1), next_obs,
                                                             terminated)
        for i, info in enumerate(infos):
            info["true_reward"] = float(true_rewards[i])
            info["learned_reward"] = float(learned[i])
        self._last_obs = np.asarray(obs)  # after a done this is already the next episode's first observation
        return obs, learned.astype(np.float32), dones, infos
