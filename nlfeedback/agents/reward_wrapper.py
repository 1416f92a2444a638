"""``RewardVecEnvWrapper``: replaces the env's reward with a learned one, keeps the true reward in ``info``.

The reward model scores the observation the agent acted on and the action taken, for all envs of the
vector in one batched call per step, normalised with the model's training statistics and scaled by
``scale``. ``info["true_reward"]`` keeps the task's reward and ``info["learned_reward"]`` the new one;
``terminal_observation`` is passed through untouched. It sits below SB3's ``VecTransposeImage``, so it
sees the env's own HWC images.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from stable_baselines3.common.vec_env import VecEnv, VecEnvWrapper

from nlfeedback.reward.model import RewardModel


class RewardVecEnvWrapper(VecEnvWrapper):
    def __init__(self, venv: VecEnv, model: RewardModel, *, env_id: str, scale: float = 0.1) -> None:
        super().__init__(venv)
        model.check_task(env_id, venv.observation_space.shape)
        self.model = model
        self.scale = scale
        self._last_obs: np.ndarray | None = None
        self._actions: np.ndarray | None = None

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
        learned = self.scale * self.model(self._last_obs, self._actions.reshape(-1))
        for i, info in enumerate(infos):
            info["true_reward"] = float(true_rewards[i])
            info["learned_reward"] = float(learned[i])
        self._last_obs = np.asarray(obs)  # after a done this is already the next episode's first observation
        return obs, learned.astype(np.float32), dones, infos
