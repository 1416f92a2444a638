"""Vectorised MiniGrid environments for PPO: the image observation, events in ``info``."""

from __future__ import annotations

import gymnasium as gym
import torch
from minigrid.wrappers import ImgObsWrapper
from stable_baselines3.common.torch_layers import BaseFeaturesExtractor
from stable_baselines3.common.vec_env import DummyVecEnv
from torch import nn

from nlfeedback.envs.events import EventTracker
from nlfeedback.envs.tasks import Task


def make_env(task: Task) -> gym.Env:
    """One env: the partial-view image as observation; events and captions in ``info``."""
    return ImgObsWrapper(EventTracker(task.make_env()))


def make_vec_env(task: Task, n_envs: int, seed: int) -> DummyVecEnv:
    venv = DummyVecEnv([lambda: make_env(task) for _ in range(n_envs)])
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
