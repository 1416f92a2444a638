"""The reward model: a small CNN over the one-hot observation, one reward per action.

``RewardNet(obs)`` returns ``(N, 7)``: the reward of each action in that state; ``r(s, a)`` picks
column ``a``. An ensemble averages members. A model of form ``potential`` (sketch curves as values)
reads column 0 as a potential Φ(s) and rewards a transition with ``γ(Φ(s′) + 1) − (Φ(s) + 1)``:
potential-based shaping, which cannot pay an agent for going round in loops. :class:`RewardModel` adds what is needed to use it: the
observation mode and shape it was trained on, the task, and normalisation statistics (mean and std of
the raw reward over the training states), saved together in one checkpoint.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from nlfeedback.checkpoints import load_checkpoint
from nlfeedback.envs.tasks import NUM_ACTIONS
from nlfeedback.errors import NlfError
from nlfeedback.reward.observations import CHANNELS, one_hot

CHECKPOINT_FORMAT = "nlf.reward/1"


class RewardNet(nn.Module):
    def __init__(self, height: int, width: int, hidden: int = 128) -> None:
        super().__init__()
        self.conv = nn.Sequential(
            nn.Conv2d(CHANNELS, 32, 3, padding=1), nn.ReLU(),
            nn.Conv2d(32, 32, 3, padding=1), nn.ReLU(),
        )
        self.head = nn.Sequential(nn.Flatten(), nn.Linear(32 * height * width, hidden), nn.ReLU(),
                                  nn.Linear(hidden, NUM_ACTIONS))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.conv(x))


@dataclass
class RewardModel:
    members: list[RewardNet]
    obs_mode: str
    obs_shape: tuple[int, int, int]  # (H, W, 3) as the env gives it
    env_id: str
    kind: str
    mean: float = 0.0
    std: float = 1.0
    meta: dict[str, Any] = field(default_factory=dict)
    form: str = "action"  # "action": r(s, a); "potential": γΦ(s′) − Φ(s)
    gamma: float = 0.99

    @property
    def default_scale(self) -> float:
        """How the agent wrapper scales this model's rewards unless told otherwise."""
        return 1.0 if self.form == "potential" else 0.1

    def potential(self, images: np.ndarray, *, channels_first: bool = False) -> np.ndarray:
        """Φ(s) + 1 for a batch of observations (potential form)."""
        return self.raw(images, np.zeros(len(images), dtype=np.int64), channels_first=channels_first) + 1.0

    def transition_rewards(self, obs: np.ndarray, actions: np.ndarray, next_obs: np.ndarray, *,
                           channels_first: bool = False) -> np.ndarray:
        """The reward of each transition ``(s, a, s′)`` in a batch (normalised for the action form)."""
        if self.form == "potential":
            return (self.gamma * self.potential(next_obs, channels_first=channels_first)
                    - self.potential(obs, channels_first=channels_first))
        return self(obs, actions, channels_first=channels_first)

    def step_rewards(self, traj: Any) -> np.ndarray:
        """``(T,)`` rewards of every step of a trajectory."""
        from nlfeedback.reward.observations import trajectory_states

        states = trajectory_states(traj, self.obs_mode)
        return self.transition_rewards(states[:-1], np.asarray(traj.actions), states[1:])

    def raw(self, images: np.ndarray, actions: np.ndarray, *, channels_first: bool = False) -> np.ndarray:
        """Unnormalised ``r(s, a)`` for a batch: images ``(N, H, W, 3)``, actions ``(N,)``."""
        images = np.asarray(images)
        shape = tuple(images.shape[2:] + images.shape[1:2]) if channels_first else tuple(images.shape[1:])
        if shape != tuple(self.obs_shape):
            raise NlfError(f"reward model expects observations of shape {tuple(self.obs_shape)} "
                           f"({self.obs_mode} view of {self.env_id}), got {shape}")
        x = torch.from_numpy(one_hot(images, channels_first=channels_first))
        a = torch.as_tensor(np.asarray(actions, dtype=np.int64)).view(-1, 1)
        with torch.inference_mode():
            out = torch.stack([m(x) for m in self.members]).mean(0)
            return out.gather(1, a).squeeze(1).numpy()

    def __call__(self, images: np.ndarray, actions: np.ndarray, *, channels_first: bool = False) -> np.ndarray:
        """Normalised reward: ``(raw − mean) / std`` with the training-set statistics."""
        return (self.raw(images, actions, channels_first=channels_first) - self.mean) / self.std

    def save(self, path: str | Path) -> None:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        torch.save({"format": CHECKPOINT_FORMAT, "obs_mode": self.obs_mode, "obs_shape": list(self.obs_shape),
                    "env_id": self.env_id, "kind": self.kind, "mean": self.mean, "std": self.std,
                    "form": self.form, "gamma": self.gamma,
                    "hidden": self.members[0].head[1].out_features, "meta": self.meta,
                    "state_dicts": [m.state_dict() for m in self.members]}, path)

    @classmethod
    def load(cls, path: str | Path) -> RewardModel:
        ckpt = load_checkpoint(path, CHECKPOINT_FORMAT, "reward")
        h, w, _ = ckpt["obs_shape"]
        members = []
        for state in ckpt["state_dicts"]:
            m = RewardNet(h, w, ckpt["hidden"])
            m.load_state_dict(state)
            m.eval()
            members.append(m)
        return cls(members, ckpt["obs_mode"], tuple(ckpt["obs_shape"]), ckpt["env_id"], ckpt["kind"],
                   ckpt["mean"], ckpt["std"], ckpt.get("meta", {}), ckpt.get("form", "action"), ckpt.get("gamma", 0.99))

    def check_task(self, env_id: str, obs_shape: tuple[int, ...]) -> None:
        """Refuse to score a task or observation shape the model was not trained for."""
        if tuple(obs_shape) != tuple(self.obs_shape):
            raise NlfError(f"reward model was trained on {self.obs_mode} observations of shape "
                           f"{tuple(self.obs_shape)} ({self.env_id}); this task gives {tuple(obs_shape)}")
        if env_id != self.env_id:
            raise NlfError(f"reward model was trained on {self.env_id}, not {env_id}")
