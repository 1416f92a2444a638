"""Statistics over seeds: the mean with its 95% t-interval (:class:`Stat`), Welch's t-test (:func:`welch_p`), the
paired t-test (:func:`paired_p`) and Holm's correction for a family of tests (:func:`holm`).

"mean [lo, hi]" is the mean with its 95% t-interval, mean ± t₀.₉₇₅,ₙ₋₁ · s/√n; one value gives the mean
alone. Tests need :data:`MIN_TEST_N` values a side and some variance (values equal to within float round-off
count as equal: returns are stored to 4 decimals, and a t-test of differences that differ only in the 17th
digit would call them significant); a p-value below :data:`ALPHA` is significant.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

ALPHA = 0.05
MIN_TEST_N = 3  # with two values a side a t-test rests on df = 1 and on its normality assumption alone
CONSTANT_TOL = 1e-9  # relative: values closer than this are one value (float round-off, not data)


def constant(values: Sequence[float]) -> bool:
    """Whether all values are equal to within :data:`CONSTANT_TOL` (relative to their size, at least 1)."""
    x = np.asarray(values, dtype=float)
    return len(x) == 0 or float(np.ptp(x)) <= CONSTANT_TOL * max(1.0, float(np.abs(x).max()))


@dataclass(frozen=True)
class Stat:
    """Mean of ``n`` values with its 95% t-interval (``lo``/``hi`` are None for fewer than two values);
    ``missing``: how many of the values given were None or not finite (left out of ``n``, and said so by
    :meth:`fmt` and :meth:`to_json`, so a mean over fewer seeds than the grid has is never silent)."""

    n: int
    mean: float | None
    std: float | None = None
    lo: float | None = None
    hi: float | None = None
    missing: int = 0

    @classmethod
    def of(cls, values: Iterable[float | None]) -> Stat:
        given = list(values)
        xs = np.array([v for v in given if v is not None and math.isfinite(v)], dtype=float)
        missing = len(given) - len(xs)
        if len(xs) == 0:
            return cls(0, None, missing=missing)
        mean = float(xs.mean())
        if len(xs) < 2:
            return cls(1, mean, missing=missing)
        from scipy import stats

        std = float(xs.std(ddof=1))
        half = float(stats.t.ppf(1 - ALPHA / 2, len(xs) - 1)) * std / math.sqrt(len(xs))
        return cls(len(xs), mean, std, mean - half, mean + half, missing)

    def fmt(self, digits: int = 3) -> str:
        if self.mean is None:
            return "—"
        text = (f"{self.mean:.{digits}f}" if self.lo is None or self.hi is None
                else f"{self.mean:.{digits}f} [{self.lo:.{digits}f}, {self.hi:.{digits}f}]")
        return f"{text} ({self.missing} missing)" if self.missing else text

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"n": self.n, "mean": self.mean, "std": self.std, "ci95": [self.lo, self.hi]}
        if self.missing:
            out["missing"] = self.missing
        return out


def welch_p(a: Sequence[float], b: Sequence[float]) -> float | None:
    """Two-sided Welch t-test p-value; ``None`` with fewer than :data:`MIN_TEST_N` values a side or no variance
    at all."""
    if len(a) < MIN_TEST_N or len(b) < MIN_TEST_N:
        return None
    from scipy import stats

    if constant(a) and constant(b):
        return None
    with warnings.catch_warnings():  # one side constant: scipy warns of "precision loss" in its zero variance
        warnings.filterwarnings("ignore", "Precision loss occurred", RuntimeWarning)
        return float(stats.ttest_ind(a, b, equal_var=False).pvalue)


def paired_p(a: Sequence[float], b: Sequence[float]) -> float | None:
    """Two-sided paired t-test p-value of ``a − b`` (same order: one pair per seed); ``None`` with fewer than
    :data:`MIN_TEST_N` pairs or no variance in the differences (every seed differs by the same amount)."""
    if len(a) != len(b):
        raise ValueError("paired samples must have the same length")
    if len(a) < MIN_TEST_N:
        return None
    d = np.asarray(a, dtype=float) - np.asarray(b, dtype=float)
    if constant(d):
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


def sustained_crossing(means: Sequence[float | None], threshold: float) -> int | None:
    """The first level (index; levels ascending) from which the outcome reaches ``threshold`` at every later
    level with a value, i.e. reaches it and stays there within the levels run; ``None`` when the last level
    with a value is below it. A curve that reaches the threshold once and falls back later has not reached
    it yet: a budget that works on some seeds' luck is not the budget the kind needs."""
    found = None
    for i in reversed(range(len(means))):
        m = means[i]
        if m is None:
            continue
        if m < threshold:
            break
        found = i
    return found


def complete_seeds(values: Sequence[Mapping[int, float]]) -> list[int]:
    """The seeds with a value at every level: the ones a crossing can be computed on (a sweep still running
    has later levels for fewer seeds, and a missing cell is not a failed one)."""
    if not values:
        return []
    common = set(values[0].keys())
    for v in values[1:]:
        common &= set(v.keys())
    return sorted(common)


def share_at_least(values: Sequence[Mapping[int, float]], threshold: float, replicates: int = 2000,
                   seed: int = 0) -> tuple[int, int, tuple[float, float] | None] | None:
    """How many (seed, level) cells reach ``threshold`` — ``values[i]`` maps seed → outcome at the i-th level
    (a budget) — on the seeds with a value at every level (:func:`complete_seeds`): (cells reaching it, cells,
    the 2.5% and 97.5% points of the share over a bootstrap of those seeds, each replicate drawing whole seeds
    with replacement, so one seed's cells stay together; ``None`` with fewer than two seeds). ``None`` with no
    complete seed. Pooling the budgets asks how often an arm's agent learns the task at all, the question the
    per-budget means answer noisily when single cells either solve it or not."""
    seeds = complete_seeds(values)
    if not seeds or not values:
        return None
    hits = np.array([[val[s] >= threshold for val in values] for s in seeds], dtype=float)  # seeds × levels
    k, n = int(hits.sum()), hits.size
    if len(seeds) < 2:
        return k, n, None
    drawn = np.random.default_rng(seed).integers(0, len(seeds), size=(replicates, len(seeds)))
    shares = hits.mean(axis=1)[drawn].mean(axis=1)
    lo, hi = np.quantile(shares, [ALPHA / 2, 1 - ALPHA / 2], method="inverted_cdf")
    return k, n, (float(lo), float(hi))


def crossing_interval(values: Sequence[Mapping[int, float]], costs: Mapping[str, Sequence[Mapping[int, float]]],
                      threshold: float, replicates: int = 2000, seed: int = 0) -> dict[str, tuple[float, float]] | None:
    """The 2.5% and 97.5% points, over a bootstrap of the seeds, of the costs at which a curve reaches
    ``threshold`` and stays there (:func:`sustained_crossing`): ``values[i]`` maps seed → outcome at the curve's
    i-th level (levels ascending), and each ``costs[name][i]`` seed → that cost there (feedback items,
    annotator-seconds). Only the seeds with a value at every level take part (:func:`complete_seeds`). Each
    replicate draws them with replacement (one draw for all levels, so the curve stays paired by seed), finds
    the crossing of the drawn seeds' mean curve and takes the mean of each cost there; a replicate that never
    reaches it counts as ``inf``. ``None`` with fewer than two seeds. This is a resampling range, not a
    calibrated 95% interval: with five seeds or fewer it is close to the seeds' own spread (two seeds: the
    range of their two crossings)."""
    seeds = complete_seeds(values)
    if len(seeds) < 2:
        return None
    drawn = np.random.default_rng(seed).integers(0, len(seeds), size=(replicates, len(seeds)))
    v = np.stack([np.array([val[s] for s in seeds], dtype=float)[drawn].mean(axis=1) for val in values], axis=1)
    reached = v >= threshold  # replicates × levels
    stays = np.flip(np.cumprod(np.flip(reached, axis=1), axis=1), axis=1).astype(bool)  # reached here and after
    hit = stays.any(axis=1)
    first = np.argmax(stays, axis=1)
    out: dict[str, tuple[float, float]] = {}
    for name, cost in costs.items():
        c = np.stack([np.array([lvl[s] for s in seeds], dtype=float)[drawn].mean(axis=1) for lvl in cost], axis=1)
        x = np.where(hit, c[np.arange(replicates), first], math.inf)
        out[name] = tuple(float(q) for q in np.quantile(x, [ALPHA / 2, 1 - ALPHA / 2], method="inverted_cdf"))  # type: ignore[assignment]
    return out
