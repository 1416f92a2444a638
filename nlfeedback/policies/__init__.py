"""Rollout policies: ``random``, ``expert`` (BFS planner with epsilon and human-like blunders), ``checkpoint``."""

from nlfeedback.policies.base import Policy, make_policy

__all__ = ["Policy", "make_policy"]
