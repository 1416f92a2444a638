"""Statistics over seeds: the mean with its 95% t-interval (:class:`Stat`) and Welch's t-test (:func:`welch_p`).

"mean [lo, hi]" is the mean with its 95% t-interval, mean ± t₀.₉₇₅,ₙ₋₁ · s/√n; one value gives the mean
alone. A difference is significant when Welch's p < :data:`ALPHA`.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

ALPHA = 0.05


@dataclass(frozen=True)
class Stat:
    """Mean of ``n`` values with its 95% t-interval (``lo``/``hi`` are None for fewer than two values)."""

    n: int
    mean: float | None
    std: float | None = None
    lo: float | None = None
    hi: float | None = None

    @classmethod
    def of(cls, values: Iterable[float | None]) -> Stat:
        xs = np.array([v for v in values if v is not None and math.isfinite(v)], dtype=float)
        if len(xs) == 0:
            return cls(0, None)
        mean = float(xs.mean())
        if len(xs) < 2:
            return cls(1, mean)
        from scipy import stats

        std = float(xs.std(ddof=1))
        half = float(stats.t.ppf(1 - ALPHA / 2, len(xs) - 1)) * std / math.sqrt(len(xs))
        return cls(len(xs), mean, std, mean - half, mean + half)

    def fmt(self, digits: int = 3) -> str:
        if self.mean is None:
            return "—"
        if self.lo is None or self.hi is None:
            return f"{self.mean:.{digits}f}"
        return f"{self.mean:.{digits}f} [{self.lo:.{digits}f}, {self.hi:.{digits}f}]"

    def to_json(self) -> dict[str, Any]:
        return {"n": self.n, "mean": self.mean, "std": self.std, "ci95": [self.lo, self.hi]}


def welch_p(a: Sequence[float], b: Sequence[float]) -> float | None:
    """Two-sided Welch t-test p-value; ``None`` with fewer than two values a side or no variance at all."""
    if len(a) < 2 or len(b) < 2:
        return None
    from scipy import stats

    if np.std(a) == 0 and np.std(b) == 0:
        return None
    return float(stats.ttest_ind(a, b, equal_var=False).pvalue)

