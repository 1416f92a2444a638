"""The sketch critic: a per-step progress curve in [−1, 1], drawn the way a person would.

The intent is the judgement's task-progress potential after each step of the segment (0 at the start,
1 at the goal, −1 after lava). The drawing is that curve *smoothed* (exponential moving average,
α = 0.5), *lagged* by one step (a hand follows the picture) and *roughly scaled* (× U(0.85, 1.0)),
then clipped to [−1, 1].
"""

from __future__ import annotations

import numpy as np

from nlfeedback.critics.noise import TeacherNoise
from nlfeedback.truth.judgement import Judgement

SMOOTHING = 0.5
LAG = 1


def true_curve(j: Judgement, start: int, end: int) -> np.ndarray:
    return np.clip(j.potential[start + 1:end + 1], -1.0, 1.0)


def draw(curve: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A person's rendering of ``curve``: smooth, slightly lagged, roughly scaled."""
    out = np.empty_like(curve)
    acc = curve[0]
    for i, v in enumerate(curve):
        acc = SMOOTHING * v + (1 - SMOOTHING) * acc
        out[i] = acc
    if LAG and len(out) > LAG:
        out = np.concatenate([np.repeat(out[:1], LAG), out[:-LAG]])
    return np.clip(out * rng.uniform(0.85, 1.0), -1.0, 1.0)


def noisy_curve(curve: np.ndarray, noise: TeacherNoise, rng: np.random.Generator,
                values: np.ndarray) -> tuple[np.ndarray, list[str]] | None:
    """The drawn curve under teacher noise (``None``: skipped). ``values`` are the judged step values."""
    if noise.skip and rng.random() < noise.skip:
        return None
    if noise.equal and rng.random() < noise.equal:
        return np.zeros_like(curve), ["equal"]
    applied: list[str] = []
    base = curve
    if noise.myopic < 1.0:
        # a leaky memory of progress: old progress fades at rate γ
        deltas = np.diff(np.concatenate([[0.0], curve]))
        leaky = np.empty_like(curve)
        acc = 0.0
        for i, d in enumerate(deltas):
            acc = noise.myopic * acc + d
            leaky[i] = acc
        base = np.clip(leaky, -1.0, 1.0)
        applied.append("myopic")
    drawn = draw(base, rng)
    if noise.stochastic:
        wobble = np.cumsum(rng.normal(0.0, 1.0, len(drawn)))
        wobble = wobble / max(1.0, np.abs(wobble).max())
        drawn = np.clip(drawn + wobble / noise.stochastic, -1.0, 1.0)
        applied.append("stochastic")
    if noise.mistake and rng.random() < noise.mistake:
        drawn = -drawn
        applied.append("mistake")
    return drawn, applied
