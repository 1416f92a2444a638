"""Where optimising a learned reward stops paying: the divergence point of true and proxy return.

The signature of reward gaming (a proxy optimised past the point where it tracks the true reward) is a
training curve on which proxy return keeps rising while true return keeps falling.
:func:`divergence_point` finds, on a curve of evaluations ``{"steps", "true_return", "proxy_return"}``
(the rows of ``curve.jsonl``, in order of steps), the **first evaluation after which that happens**, and
reports the true return at the best stopping point against the final one.

"Keeps", precisely: evaluation ``i`` is the divergence point when, over the ``window`` intervals after it
(evaluations ``i … i + window``),

- true return never rises by more than ``tol`` from one evaluation to the next, and falls by more than
  ``min_change`` in all (``true[i] − true[i + window] > min_change``);
- proxy return never falls by more than ``tol × R`` from one evaluation to the next, and rises by more
  than ``min_change × R`` in all, where ``R`` is the proxy's range over the whole curve (max − min):
  proxy return has no fixed scale (the reward model's std, ``--reward-scale``), true return lies in [0, 1];
- and the first interval already goes apart (``true[i + 1] < true[i]`` and ``proxy[i + 1] > proxy[i]``).

The first such ``i`` is then moved forward over the evaluations right after it whose true return stays
within ``tol`` of its own (a plateau within evaluation noise): the point is the last evaluation before
the fall, not the start of a noisy plateau before it.

The defaults (``window = 3``, ``tol = 0.02``, ``min_change = 0.05``) ignore the jitter of a solved task's
evaluations (±0.05 on doorkey-5x5 over 20 episodes) and a dip that lasts one or two evaluations. A
divergence that later recovers still counts (``best`` vs ``final`` then shows the recovery).

This looks ahead: the point at evaluation ``i`` is only known at evaluation ``i + window``
(``confirmed_step``). :func:`nlfeedback.agents.evaluation.gaming_flag` is the trailing check made during
training (it sees only the evaluations so far); how the two relate is in docs/probes.md.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any


@dataclass(frozen=True)
class Divergence:
    """What :func:`divergence_point` found on one curve.

    ``step`` / ``index``: the divergence point (``None`` when there is none); ``confirmed_step``: the
    evaluation at which it can first be seen (``window`` evaluations later). ``best_step`` /
    ``best_true_return``: the evaluation with the highest true return (the earliest of equals), the best
    stopping point in hindsight; ``final_true_return``: the last evaluation's; ``lost`` = best − final.
    """

    step: int | None
    index: int | None
    confirmed_step: int | None
    best_step: int
    best_true_return: float
    final_true_return: float

    @property
    def lost(self) -> float:
        return self.best_true_return - self.final_true_return

    def to_json(self) -> dict[str, Any]:
        return {**asdict(self), "lost": self.lost}


def _keeps_diverging(true: Sequence[float], proxy: Sequence[float], i: int, window: int, tol: float,
                     min_change: float, proxy_range: float) -> bool:
    if not (true[i + 1] < true[i] and proxy[i + 1] > proxy[i]):
        return False
    for j in range(i, i + window):
        if true[j + 1] > true[j] + tol or proxy[j + 1] < proxy[j] - tol * proxy_range:
            return False
    return (true[i] - true[i + window] > min_change
            and proxy[i + window] - proxy[i] > min_change * proxy_range)


def divergence_point(curve: Sequence[Mapping[str, Any]], window: int = 3, tol: float = 0.02,
                     min_change: float = 0.05) -> Divergence:
    """The divergence point of ``curve`` (module docstring) and the best vs the final true return.

    ``curve``: evaluations in order of steps, each with ``steps``, ``true_return`` and ``proxy_return``
    (as ``curve.jsonl`` and a result's ``curve`` hold them). An empty curve is a ``ValueError``."""
    if not curve:
        raise ValueError("divergence_point needs at least one evaluation")
    if window < 1:
        raise ValueError(f"window must be at least 1, got {window}")
    steps = [int(c["steps"]) for c in curve]
    if any(b <= a for a, b in zip(steps, steps[1:])):
        raise ValueError("curve must be in order of increasing steps")
    true = [float(c["true_return"]) for c in curve]
    proxy = [float(c["proxy_return"]) for c in curve]
    best = max(range(len(true)), key=lambda k: (true[k], -k))
    proxy_range = max(proxy) - min(proxy)
    found = None
    if proxy_range > 0:
        found = next((i for i in range(len(curve) - window)
                      if _keeps_diverging(true, proxy, i, window, tol, min_change, proxy_range)), None)
    point = found
    if found is not None:
        while point + 1 < found + window and true[point + 1] >= true[found] - tol:
            point += 1
    return Divergence(
        step=None if point is None else steps[point], index=point,
        confirmed_step=None if found is None else steps[found + window],
        best_step=steps[best], best_true_return=true[best], final_true_return=true[-1],
    )
