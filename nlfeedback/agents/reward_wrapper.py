"""``RewardVecEnvWrapper``: replaces the env's reward with a learned one, keeps the true reward in ``info``.

The reward model (anything that meets :class:`RewardFunction`) scores the transition — the observation the
agent acted on, the action, the observation it led to (``terminal_observation`` at an episode's end) and whether the step ended the
episode (terminated, as opposed to cut off by the time limit) — for all envs of the vector in one
batched call per step, normalised with the model's training statistics and scaled by ``scale`` (by
default the model's ``default_scale``). ``info["true_reward"]`` keeps the task's reward and ``info["learned_reward"]`` the new one;
``terminal_observation`` is passed through untouched. It sits below SB3's ``VecTransposeImage``, so it
sees the env's own HWC images.
"""

from __future__ import annotations

from typing import Any, Protocol

import numpy as np
from stable_baselines3.common.vec_env import VecEnv, VecEnvWrapper


class RewardFunction(Protocol):
    """What the wrapper needs of a reward model (:class:`nlfeedback.reward.model.RewardModel` is one).

    The wrapper scores each state once: :meth:`outputs` of a batch of observations, then
    :meth:`rewards_from_outputs` of the outputs of ``s`` and ``s′``.
    """

    env_id: str
    """The environment the model was trained on."""

    @property
    def default_scale(self) -> float:
        """The factor applied to the rewards unless the wrapper is given ``scale``."""
        ...

    def check_task(self, env_id: str, obs_shape: tuple[int, ...]) -> None:
        """Raise :class:`nlfeedback.errors.NlfError` if the model cannot score this task's observations."""
        ...

    def outputs(self, images: np.ndarray) -> Any:
        """Per-state outputs of a batch ``(N, H, W, 3)`` of observations (anything ``np.asarray`` takes)."""
        ...

    def rewards_from_outputs(self, out: np.ndarray, out_next: np.ndarray | None, actions: np.ndarray,
                             terminated: np.ndarray | None = None) -> np.ndarray:
        """``(N,)`` rewards of the transitions ``(s, a, s′)`` from the :meth:`outputs` of ``s`` and ``s′``;
        ``terminated`` marks steps that ended their episode (not by the time limit)."""
        ...


class RewardVecEnvWrapper(VecEnvWrapper):
    def __init__(self, venv: VecEnv, model: RewardFunction, *, env_id: str, scale: float | None = None) -> None:
        super().__init__(venv)
        model.check_task(env_id, venv.observation_space.shape)
        self.model = model
        self.scale = model.default_scale if scale is None else scale
        self._last_obs: np.ndarray | None = None
        self._last_out = None  # the model's outputs for _last_obs (each state is scored once)
        self._actions: np.ndarray | None = None

    def set_model(self, model: RewardFunction) -> None:
        """Swap in a refitted reward model (the online loop does this between rounds)."""
        model.check_task(self.model.env_id, self.venv.observation_space.shape)
        self.model = model
        if self._last_obs is not None:
            self._last_out = np.asarray(model.outputs(self._last_obs))

    def reset(self) -> Any:
        obs = self.venv.reset()
        self._last_obs = np.asarray(obs)
        self._last_out = np.asarray(self.model.outputs(self._last_obs))
        return obs

    def step_async(self, actions: np.ndarray) -> None:
        self._actions = np.asarray(actions)
        self.venv.step_async(actions)

    def step_wait(self) -> Any:
        obs, true_rewards, dones, infos = self.venv.step_wait()
        assert self._last_obs is not None and self._actions is not None, "reset() before step()"
        obs = np.asarray(obs)
        done = np.flatnonzero(dones)
        terminated = np.zeros(len(dones), dtype=bool)
        finals = []
        for i in done:
            finals.append(infos[i].get("terminal_observation", obs[i]))
            terminated[i] = not infos[i].get("TimeLimit.truncated", False)
        # one network pass: every next observation, plus the last observation of each finished episode
        finals = np.asarray(finals, dtype=obs.dtype).reshape(-1, *obs.shape[1:])
        out = np.asarray(self.model.outputs(np.concatenate([obs, finals]) if len(finals) else obs))
        out_now = out[:len(obs)]
        out_next = out_now
        if len(finals):
            out_next = out_now.copy()
            out_next[done] = out[len(obs):]
        learned = self.scale * self.model.rewards_from_outputs(self._last_out, out_next, self._actions.reshape(-1),
                                                               terminated)
        for i, info in enumerate(infos):
            info["true_reward"] = float(true_rewards[i])
            info["learned_reward"] = float(learned[i])
        self._last_obs, self._last_out = obs, out_now  # after a done: already the next episode's first state
        return obs, learned.astype(np.float32), dones, infos
