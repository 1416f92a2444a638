"""Vectorised MiniGrid environments for PPO: the image observation, events in ``info`` (and, for a reward
model that sees the whole grid, the full grid in ``info["full_image"]``)."""

from __future__ import annotations

import gymnasium as gym
import torch
from minigrid.wrappers import ImgObsWrapper
from stable_baselines3.common.torch_layers import BaseFeaturesExtractor
from stable_baselines3.common.vec_env import DummyVecEnv
from torch import nn

from nlfeedback.envs.events import EventTracker
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


def make_env(task: Task, full_view: bool = False) -> gym.Env:
    """One env: the partial-view image as observation; events and captions in ``info`` (with ``full_view``
    also the whole grid, :class:`FullGridInfo`)."""
    env = EventTracker(task.make_env())
    return ImgObsWrapper(FullGridInfo(env) if full_view else env)


def make_vec_env(task: Task, n_envs: int, seed: int, full_view: bool = False) -> DummyVecEnv:
    venv = DummyVecEnv([lambda: make_env(task, full_view) for _ in range(n_envs)])
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
