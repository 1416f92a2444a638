"""Statistics over seeds: the mean with its 95% t-interval (:class:`Stat`), Welch's t-test (:func:`welch_p`), the
paired t-test (:func:`paired_p`) and Holm's correction for a family of tests (:func:`holm`).

"mean [lo, hi]" is the mean with its 95% t-interval, mean ± t₀.₉₇₅,ₙ₋₁ · s/√n; one value gives the mean
alone. A difference is significant when Welch's p < :data:`ALPHA`.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
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



def paired_p(a: Sequence[float], b: Sequence[float]) -> float | None:
    """Two-sided paired t-test p-value of ``a − b`` (same order: one pair per seed); ``None`` with fewer than
    two pairs or no variance in the differences."""
    if len(a) != len(b):
        raise ValueError("paired samples must have the same length")
    if len(a) < 2:
        return None
    d = np.asarray(a, dtype=float) - np.asarray(b, dtype=float)
    if np.std(d) == 0:
        return None
    from scipy import stats

    return float(stats.ttest_rel(a, b).pvalue)


def holm(pvalues: Sequence[float | None]) -> list[float | None]:
    """Holm–Bonferroni adjusted p-values (``None`` stays ``None`` and is not counted in the family): the k-th
    smallest of m is multiplied by m − k + 1, made monotone, capped at 1."""
    idx = sorted((i for i, p in enumerate(pvalues) if p is not None), key=lambda i: pvalues[i])  # type: ignore[index]
    m = len(idx)
    out: list[float | None] = [None] * len(pvalues)
    running = 0.0
    for k, i in enumerate(idx):
        running = max(running, min(1.0, (m - k) * float(pvalues[i])))  # type: ignore[arg-type]
        out[i] = running
    return out


def crossing_interval(values: Sequence[dict[int, float]], costs: Mapping[str, Sequence[dict[int, float]]],
                      threshold: float, replicates: int = 2000, seed: int = 0) -> dict[str, tuple[float, float]] | None:
    """95% percentile intervals, by a bootstrap over seeds, of the costs at which a curve first reaches
    ``threshold``: ``values[i]`` maps seed → outcome at the curve's i-th level (levels ascending), and each
    ``costs[name][i]`` seed → that cost there (feedback items, annotator-seconds). Each replicate draws the
    seeds with replacement (one draw for all levels, so the curve stays paired by seed), takes the first level
    whose mean outcome over the drawn seeds reaches the threshold and the mean of each cost there; a replicate
    that never reaches it counts as ``inf``. ``None`` with fewer than two seeds. With few seeds the interval is
    crude: it cannot be wider than the seeds' own spread."""
    seeds = sorted(set().union(*(v.keys() for v in values))) if values else []
    if len(seeds) < 2:
        return None
    drawn = np.random.default_rng(seed).integers(0, len(seeds), size=(replicates, len(seeds)))
    out = {name: np.full(replicates, math.inf) for name in costs}
    open_ = np.ones(replicates, dtype=bool)  # not yet reached
    for i, val in enumerate(values):
        v = np.array([val.get(s, np.nan) for s in seeds], dtype=float)[drawn]
        n = (~np.isnan(v)).sum(axis=1)
        with np.errstate(invalid="ignore"):
            mean_v = np.where(n > 0, np.nansum(v, axis=1) / np.maximum(n, 1), -np.inf)
        hit = open_ & (mean_v >= threshold)
        for name, cost in costs.items():
            c = np.array([cost[i].get(s, np.nan) for s in seeds], dtype=float)[drawn]
            with np.errstate(invalid="ignore"):
                mean_c = np.nansum(np.where(np.isnan(v), np.nan, c), axis=1) / np.maximum(n, 1)
            out[name][hit] = mean_c[hit]
        open_ &= ~hit
    return {name: tuple(float(q) for q in np.quantile(x, [ALPHA / 2, 1 - ALPHA / 2], method="inverted_cdf"))
            for name, x in out.items()}  # type: ignore[misc]
