"""The preference critic: which of two segments (default 25 steps) looks better, by the judgement.

Each segment's value is the sum of its judged step values (γ-weighted when myopic). Episodes shorter
than the segment length are compared whole, never dropped. A noise-free teacher prefers the higher
value and answers 0.5 ("can't tell") when the values are within ``TIE`` of each other.
"""

from __future__ import annotations

import math

import numpy as np

from nlfeedback.critics.noise import TeacherNoise

DEFAULT_SEGMENT = 25
TIE = 1e-6


def choose_segment(T: int, length: int, rng: np.random.Generator) -> tuple[int, int]:
    """A random ``[start, end)`` window of ``length`` steps, or the whole episode if it is shorter."""
    if T <= length:
        return 0, T
    start = int(rng.integers(0, T - length + 1))
    return start, start + length


def true_preference(v0: float, v1: float) -> float:
    if abs(v0 - v1) <= TIE:
        return 0.5
    return 0 if v0 > v1 else 1


def noisy_preference(v0: float, v1: float, noise: TeacherNoise,
                     rng: np.random.Generator) -> tuple[float, list[str]] | None:
    if noise.skip and rng.random() < noise.skip:
        return None
    if noise.equal and rng.random() < noise.equal:
        return 0.5, ["equal"]
    applied: list[str] = []
    answer = true_preference(v0, v1)
    if noise.stochastic:
        p_other = 1.0 / (1.0 + math.exp(-noise.stochastic * (v1 - v0)))
        sampled = 1 if rng.random() < p_other else 0
        if sampled != answer:
            applied.append("stochastic")
        answer = sampled
    if noise.mistake and rng.random() < noise.mistake and answer != 0.5:
        answer = 1 - answer
        applied.append("mistake")
    return answer, applied
