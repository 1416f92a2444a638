"""Temporal references a critic can truthfully make about a moment ("at step 7", "near the end", …).

Windows, for an episode of ``T`` steps and ``w = max(3, ceil(T / 3))``: *start* is steps ``t < w``,
*end* is ``t >= T - w``, *middle* is between. *after X* covers the three steps right after the anchor
event X (the door's key picked up, the door unlocked); *before X* covers every step before it.
Step numbers in text are 1-based (the n-th action), as ``nlf show`` prints them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from nlfeedback.truth.moments import Moment

AFTER_WINDOW = 3


@dataclass(frozen=True)
class TimeRef:
    kind: str  # step | start | middle | end | after | before
    steps: tuple[int, ...]  # the moment's steps the reference picks out
    n: int | None = None  # 1-based step number for kind "step"
    anchor: str | None = None  # picked_up | unlocked, for after/before


def windows(T: int) -> dict[str, range]:
    w = max(3, math.ceil(T / 3))
    return {"start": range(0, min(w, T)), "middle": range(min(w, T), max(T - w, min(w, T))),
            "end": range(max(T - w, 0), T)}


def time_refs(moment: Moment, T: int, anchors: dict[str, int]) -> list[TimeRef]:
    """Every truthful temporal reference to (some occurrences of) ``moment``."""
    refs: list[TimeRef] = []
    occ = moment.occurrences
    if moment.kind == "timeout":
        return refs
    for o in occ:
        refs.append(TimeRef("step", tuple(o), n=o[0] + 1))
    for name, window in windows(T).items():
        picked = tuple(s for o in occ if o[0] in window for s in o)
        if picked:
            refs.append(TimeRef(name, picked))
    for anchor, a in anchors.items():
        after = tuple(s for o in occ if a < o[0] <= a + AFTER_WINDOW for s in o)
        if after:
            refs.append(TimeRef("after", after, anchor=anchor))
        before = tuple(s for o in occ if o[-1] < a for s in o)
        if before:
            refs.append(TimeRef("before", before, anchor=anchor))
    return refs
