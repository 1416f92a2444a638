"""The reward model: a small CNN over the one-hot observation, one reward per action.

``RewardNet(obs)`` returns ``(N, 7)``: the reward of each action in that state; ``r(s, a)`` picks
column ``a``. An ensemble averages members. :class:`RewardModel` adds what is needed to use it: the
observation mode and shape it was trained on, the task, and normalisation statistics (mean and std of
the raw reward over the training states), saved together in one checkpoint.
"""

from __future__ import annotations

import platform
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
                   ckpt["mean"], ckpt["std"], ckpt.get("meta", {}))

    def check_task(self, env_id: str, obs_shape: tuple[int, ...]) -> None:
        """Refuse to score a task or observation shape the model was not trained for."""
        if tuple(obs_shape) != tuple(self.obs_shape):
            raise NlfError(f"reward model was trained on {self.obs_mode} observations of shape "
                           f"{tuple(self.obs_shape)} ({self.env_id}); this task gives {tuple(obs_shape)}")
        if env_id != self.env_id:
            raise NlfError(f"reward model was trained on {self.env_id}, not {env_id}")


def versions() -> dict[str, str]:
    import nlfeedback

    return {"nlfeedback": nlfeedback.__version__, "torch": torch.__version__, "python": platform.python_version()}
