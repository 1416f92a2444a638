"""Vectorised MiniGrid environments for PPO: the image observation, events in ``info`` (and, for a reward
model that sees the whole grid, the full grid in ``info["full_image"]``); for the ``judgement`` reference,
the critics' dense judgement as the reward (:class:`JudgedReward`)."""

from __future__ import annotations

import gymnasium as gym
import torch
from minigrid.wrappers import ImgObsWrapper
from stable_baselines3.common.torch_layers import BaseFeaturesExtractor
from stable_baselines3.common.vec_env import DummyVecEnv
from torch import nn

from nlfeedback.envs.events import LEFT, RIGHT, EventTracker
from nlfeedback.envs.tasks import Task
from nlfeedback.policies.checkpoint import full_grid_obs

FULL_IMAGE = "full_image"


class FullGridInfo(gym.Wrapper):
    """Adds the whole grid, encoded as ``FullyObsWrapper`` does (:func:`full_grid_obs`), to the ``info`` of
    every reset and step as ``info["full_image"]`` — what a full-view reward model scores, beside the
    partial view the policy sees. At an episode's end it is the final state's grid."""

    def reset(self, **kwargs):
        obs, info = self.env.reset(**kwargs)
        return obs, {**info, FULL_IMAGE: full_grid_obs(self.env)}

    def step(self, action):
        obs, reward, terminated, truncated, info = self.env.step(action)
        return obs, reward, terminated, truncated, {**info, FULL_IMAGE: full_grid_obs(self.env)}


class JudgedReward(gym.Wrapper):
    """The reward is the judged value of each step (:mod:`nlfeedback.truth.judgement`), computed online: the
    progress-potential difference plus the step's event values — what the critics judge by, and what a
    learned reward at best recovers, so PPO on it is the ceiling of learning from feedback. The task's own
    reward is kept in ``info["task_reward"]``.

    Spinning is judged after the fact (≥ 3 turns in a row are worth −0.5 each instead of their progress):
    online, the third turn of a run also pays the difference for the two before it, so every episode's
    return equals its judgement's total exactly; within a spin, rewards arrive up to two steps late."""

    def __init__(self, env: gym.Env) -> None:
        super().__init__(env)
        self._floor = 0.0
        self._distance = 0.0
        self._door: str | None = None
        self._turns: list[float] = []  # the progress of each turn of the current run of turns

    def reset(self, **kwargs):
        from nlfeedback.truth.judgement import judged_distance, layout_floor, locked_door_color

        obs, info = self.env.reset(**kwargs)
        self._door = locked_door_color(self.env)
        self._floor = layout_floor(self.env)
        self._distance = judged_distance(self.env, self._floor)
        self._turns = []
        return obs, info

    def step(self, action):
        from nlfeedback.truth.judgement import (PROGRESS_SCALE, SPIN_MIN_TURNS, SPIN_VALUE, door_locked,
                                                event_value, judged_distance)

        needed = door_locked(self.env)
        obs, reward, terminated, truncated, info = self.env.step(action)
        distance = judged_distance(self.env, self._floor)
        progress = (self._distance - distance) / PROGRESS_SCALE
        self._distance = distance
        value = progress + sum(event_value(e, self._door, needed) for e in info.get("events", ()))
        if int(action) in (LEFT, RIGHT):
            self._turns.append(progress)
            if len(self._turns) >= SPIN_MIN_TURNS:
                value += SPIN_VALUE - progress
                if len(self._turns) == SPIN_MIN_TURNS:  # the run is a spin: its first turns too
                    value += sum(SPIN_VALUE - p for p in self._turns[:-1])
        else:
            self._turns = []
        return obs, float(value), terminated, truncated, {**info, "task_reward": reward}


def make_env(task: Task, full_view: bool = False, judged: bool = False) -> gym.Env:
    """One env: the partial-view image as observation; events and captions in ``info`` (with ``full_view``
    also the whole grid, :class:`FullGridInfo`; with ``judged`` the judged value as the reward,
    :class:`JudgedReward`)."""
    env: gym.Env = EventTracker(task.make_env())
    if judged:
        env = JudgedReward(env)
    return ImgObsWrapper(FullGridInfo(env) if full_view else env)


def make_vec_env(task: Task, n_envs: int, seed: int, full_view: bool = False, judged: bool = False) -> DummyVecEnv:
    venv = DummyVecEnv([lambda: make_env(task, full_view, judged) for _ in range(n_envs)])
    venv.seed(seed)
    return venv


class MinigridFeatures(BaseFeaturesExtractor):
    """A small CNN for MiniGrid's 7×7×3 codes. SB3 hands it channels-first tensors (``VecTransposeImage``);
    images are not scaled by 255 (``normalize_images=False``): the codes are small integers."""

    def __init__(self, observation_space: gym.spaces.Box, features_dim: int = 128) -> None:
        super().__init__(observation_space, features_dim)
        c = observation_space.shape[0]
        self.cnn = nn.Sequential(
            nn.Conv2d(c, 16, 2), nn.ReLU(), nn.Conv2d(16, 32, 2), nn.ReLU(), nn.Conv2d(32, 64, 2), nn.ReLU(),
            nn.Flatten(),
        )
        with torch.no_grad():
            n = self.cnn(torch.zeros(1, *observation_space.shape)).shape[1]
        self.linear = nn.Sequential(nn.Linear(n, features_dim), nn.ReLU())

    def forward(self, obs: torch.Tensor) -> torch.Tensor:
        return self.linear(self.cnn(obs / 10.0))
