"""A saved stable-baselines3 policy as a rollout policy.

The model's observation space decides what it is fed: MiniGrid's partial-view image ``(7, 7, 3)``,
the same channels-first ``(3, 7, 7)``, a fully observed grid ``(W, H, 3)`` (as ``FullyObsWrapper``
builds it), or the env's own dict observation.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from minigrid.core.constants import COLOR_TO_IDX, OBJECT_TO_IDX

from nlfeedback.envs.observation import grid_encoding
from nlfeedback.envs.tasks import NUM_ACTIONS
from nlfeedback.errors import NlfError


def full_grid_obs(env: Any) -> np.ndarray:
    """The fully observed grid encoding ``(W, H, 3)`` with the agent drawn in, like ``FullyObsWrapper``."""
    env = env.unwrapped
    full = grid_encoding(env)
    full[env.agent_pos[0]][env.agent_pos[1]] = np.array(
        [OBJECT_TO_IDX["agent"], COLOR_TO_IDX["red"], env.agent_dir]
    )
    return full


def load_sb3_model(path: str | Path) -> Any:
    """Load a stable-baselines3 model saved with ``model.save`` (PPO, A2C or DQN)."""
    from stable_baselines3 import A2C, DQN, PPO

    path = Path(path)
    if not path.exists():
        raise NlfError(f"{path}: no such checkpoint")
    errors = []
    for cls in (PPO, A2C, DQN):
        try:
            return cls.load(path, device="cpu")
        except Exception as e:  # noqa: BLE001 - try the next algorithm, report all at the end
            errors.append(f"{cls.__name__}: {e}")
    raise NlfError(f"{path}: not a loadable stable-baselines3 model ({'; '.join(errors)[:300]})")


class CheckpointPolicy:
    """An SB3 policy, loaded from ``path`` or given as ``model`` (an agent still training, named ``name``)."""

    def __init__(self, path: str | Path | None = None, *, model: Any = None, name: str | None = None,
                 deterministic: bool = True, epsilon: float = 0.0) -> None:
        if (path is None) == (model is None):
            raise ValueError("give a checkpoint path or a model, not both")
        self.model = load_sb3_model(path) if model is None else model
        self.deterministic = deterministic
        self.epsilon = epsilon
        self.label = f"checkpoint({name or Path(path).name}{'' if deterministic else ',stochastic'}" + (
            f",eps={epsilon:g})" if epsilon else ")"
        )
        self._shape = getattr(self.model.observation_space, "shape", None)

    def reset(self, env: Any, rng: np.random.Generator) -> None:
        pass

    def _observation(self, env: Any, obs: dict[str, Any]) -> Any:
        shape = self._shape
        if shape is None:  # dict observation space
            return {k: obs[k] for k in self.model.observation_space.spaces}
        image = obs["image"]
        if shape == image.shape:
            return image
        if shape == image.shape[::-1][:1] + image.shape[:2]:
            return np.transpose(image, (2, 0, 1))
        full = full_grid_obs(env)
        if shape == full.shape:
            return full
        if shape == (full.shape[2], full.shape[0], full.shape[1]):
            return np.transpose(full, (2, 0, 1))
        raise NlfError(
            f"checkpoint expects observations of shape {shape}; this task gives {image.shape} (partial view) "
            f"or {full.shape} (full grid)"
        )

    def act(self, env: Any, obs: dict[str, Any], rng: np.random.Generator) -> int:
        if self.epsilon and rng.random() < self.epsilon:
            return int(rng.integers(NUM_ACTIONS))
        action, _ = self.model.predict(self._observation(env, obs), deterministic=self.deterministic)
        return int(np.asarray(action).reshape(-1)[0])
