"""``RewardVecEnvWrapper``: replaces the env's reward with a learned one, keeps the true reward in ``info``.

The reward model (anything that meets :class:`RewardFunction`) scores the transition — the observation the
agent acted on, the action, the observation it led to (``terminal_observation`` at an episode's end) and whether the step ended the
episode (terminated, as opposed to cut off by the time limit) — for all envs of the vector in one
batched call per step, normalised with the model's training statistics and scaled by ``scale`` (by
default the model's ``default_scale``). ``info["true_reward"]`` keeps the task's reward and ``info["learned_reward"]`` the new one;
``terminal_observation`` is passed through untouched. It sits below SB3's ``VecTransposeImage``, so it
sees the env's own HWC images. A model with ``obs_mode == "full"`` scores the whole grid instead of the
agent's partial view: the envs must put it in ``info["full_image"]`` (``make_vec_env(…, full_view=True)``,
:class:`~nlfeedback.agents.envs.FullGridInfo`); the policy still sees its partial view.
"""

from __future__ import annotations

from typing import Any, Protocol

import numpy as np
from stable_baselines3.common.vec_env import VecEnv, VecEnvWrapper

from nlfeedback.agents.envs import FULL_IMAGE
from nlfeedback.errors import NlfError


class RewardFunction(Protocol):
    """What the wrapper needs of a reward model (:class:`nlfeedback.reward.model.RewardModel` is one).

    The wrapper scores each state once: :meth:`outputs` of a batch of observations, then
    :meth:`rewards_from_outputs` of the outputs of ``s`` and ``s′``.
    """

    env_id: str
    """The environment the model was trained on."""

    obs_mode: str
    """What it scores: ``partial`` (the agent's observation) or ``full`` (``info["full_image"]``)."""

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
        self.full = model.obs_mode == "full"
        self.env_id = env_id
        if not self.full:  # a full-view model's shape is checked on the first reset's grids
            model.check_task(env_id, venv.observation_space.shape)
        self.model = model
        self.scale = model.default_scale if scale is None else scale
        self._last_images: np.ndarray | None = None  # what the model scored of the current states
        self._last_out = None  # the model's outputs for _last_images (each state is scored once)
        self._actions: np.ndarray | None = None

    def set_model(self, model: RewardFunction) -> None:
        """Swap in a refitted reward model (the online loop does this between rounds)."""
        if (model.obs_mode == "full") != self.full:
            raise NlfError(f"cannot swap a {model.obs_mode}-view reward model into a "
                           f"wrapper scoring {'full' if self.full else 'partial'} views")
        shape = self._last_images.shape[1:] if self._last_images is not None else self.venv.observation_space.shape
        model.check_task(self.model.env_id, tuple(shape))
        self.model = model
        if self._last_images is not None:
            self._last_out = np.asarray(model.outputs(self._last_images))

    def _full(self, infos: list[dict[str, Any]]) -> np.ndarray:
        try:
            return np.stack([info[FULL_IMAGE] for info in infos])
        except KeyError:
            raise NlfError("a full-view reward model needs the whole grid in each step's info: make the envs "
                           "with make_vec_env(..., full_view=True)") from None

    def reset(self) -> Any:
        obs = self.venv.reset()
        if self.full:
            self._last_images = self._full(self.venv.reset_infos)
            self.model.check_task(self.env_id, self._last_images.shape[1:])
        else:
            self._last_images = np.asarray(obs)
        self._last_out = np.asarray(self.model.outputs(self._last_images))
        return obs

    def step_async(self, actions: np.ndarray) -> None:
        self._actions = np.asarray(actions)
        self.venv.step_async(actions)

    def step_wait(self) -> Any:
        obs, true_rewards, dones, infos = self.venv.step_wait()
        assert self._last_images is not None and self._actions is not None, "reset() before step()"
        obs = np.asarray(obs)
        done = np.flatnonzero(dones)
        terminated = np.zeros(len(dones), dtype=bool)
        for i in done:
            terminated[i] = not infos[i].get("TimeLimit.truncated", False)
        if self.full:  # after a done, the state now is the next episode's first: its grid is a reset info
            finals = self._full([infos[i] for i in done]) if len(done) else np.zeros((0, *self._last_images.shape[1:]))
            now = self._full([self.venv.reset_infos[i] if dones[i] else infos[i] for i in range(len(dones))])
        else:
            finals = [infos[i].get("terminal_observation", obs[i]) for i in done]
            now = obs
        # one network pass: every next state, plus the last state of each finished episode
        finals = np.asarray(finals, dtype=now.dtype).reshape(-1, *now.shape[1:])
        out = np.asarray(self.model.outputs(np.concatenate([now, finals]) if len(finals) else now))
        out_now = out[:len(now)]
        out_next = out_now
        if len(finals):
            out_next = out_now.copy()
            out_next[done] = out[len(now):]
        learned = self.scale * self.model.rewards_from_outputs(self._last_out, out_next, self._actions.reshape(-1),
                                                               terminated)
        for i, info in enumerate(infos):
            info["true_reward"] = float(true_rewards[i])
            info["learned_reward"] = float(learned[i])
        self._last_images, self._last_out = now, out_now  # after a done: already the next episode's first state
        return obs, learned.astype(np.float32), dones, infos
