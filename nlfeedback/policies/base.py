"""The policy interface and the ``--policy`` name parser."""

from __future__ import annotations

from typing import Any, Protocol

import numpy as np

from nlfeedback.errors import NlfError


class Policy(Protocol):
    """Chooses actions; may read the unwrapped env (the expert plans on the true grid)."""

    label: str

    def reset(self, env: Any, rng: np.random.Generator) -> None:
        """Called after every ``env.reset``."""

    def act(self, env: Any, obs: dict[str, Any], rng: np.random.Generator) -> int:
        """One action in ``0..6``."""


POLICY_NAMES = ("random", "expert", "checkpoint")


def make_policy(name: str, *, epsilon: float = 0.0, mistakes: float = 0.0,
                checkpoint: str | None = None, deterministic: bool = True) -> Policy:
    """Build a policy by name: ``random``, ``expert`` (with ``epsilon``, ``mistakes``) or ``checkpoint``."""
    for value, flag in ((epsilon, "--epsilon"), (mistakes, "--mistakes")):
        if not 0.0 <= value <= 1.0:
            raise NlfError(f"{flag} must be in [0, 1], got {value}")
    if name == "random":
        from nlfeedback.policies.random_policy import RandomPolicy

        return RandomPolicy()
    if name == "expert":
        from nlfeedback.policies.expert import ExpertPolicy

        return ExpertPolicy(epsilon=epsilon, mistakes=mistakes)
    if name == "checkpoint":
        if not checkpoint:
            raise NlfError("--policy checkpoint needs --checkpoint PATH (a saved stable-baselines3 model)")
        from nlfeedback.policies.checkpoint import CheckpointPolicy

        return CheckpointPolicy(checkpoint, deterministic=deterministic, epsilon=epsilon)
    raise NlfError(f"unknown policy {name!r}; valid: {', '.join(POLICY_NAMES)}")
