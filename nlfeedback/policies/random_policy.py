"""Uniformly random actions over all seven MiniGrid actions."""

from __future__ import annotations

from typing import Any

import numpy as np

from nlfeedback.envs.tasks import NUM_ACTIONS


class RandomPolicy:
    label = "random"

    def reset(self, env: Any, rng: np.random.Generator) -> None:
        pass

    def act(self, env: Any, obs: dict[str, Any], rng: np.random.Generator) -> int:
        return int(rng.integers(NUM_ACTIONS))
