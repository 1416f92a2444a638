"""The scalar critic: a 0–10 rating of an episode or segment from the judgement.

``r* = 10 · clip(0.5 + 0.5 · q, 0, 1)`` where ``q`` is the mean judged step value over the segment
(γ-weighted when myopic): every step optimal gives ``q ≈ 1`` (10/10), no progress ``q ≈ 0`` (5/10),
walking away or into lava pushes it toward 0/10. People give whole numbers: the record holds
``round(r*)``; the intent keeps ``r*``.
"""

from __future__ import annotations

import numpy as np

from nlfeedback.critics.noise import TeacherNoise
from nlfeedback.truth.judgement import Judgement

SCALE = (0.0, 10.0)


def true_rating(j: Judgement, start: int, end: int, gamma: float = 1.0) -> float:
    v = j.values[start:end]
    w = gamma ** np.arange(len(v) - 1, -1, -1) if gamma < 1.0 else np.ones(len(v))
    q = float((v * w).sum() / w.sum())
    lo, hi = SCALE
    return lo + (hi - lo) * min(1.0, max(0.0, 0.5 + 0.5 * q))


def noisy_rating(r: float, noise: TeacherNoise, rng: np.random.Generator) -> tuple[float, list[str]] | None:
    """The rating a noisy teacher gives for true rating ``r`` (``None``: skipped)."""
    lo, hi = SCALE
    if noise.skip and rng.random() < noise.skip:
        return None
    if noise.equal and rng.random() < noise.equal:
        return (lo + hi) / 2, ["equal"]
    applied: list[str] = []
    value = float(round(r))
    if noise.stochastic:
        levels = np.arange(lo, hi + 1)
        logits = -noise.stochastic * np.abs(levels - r)
        p = np.exp(logits - logits.max())
        value = float(levels[int(rng.choice(len(levels), p=p / p.sum()))])
        if value != round(r):
            applied.append("stochastic")
    if noise.mistake and rng.random() < noise.mistake:
        value = lo + hi - value
        applied.append("mistake")
    return float(min(hi, max(lo, value))), applied
