"""What a person is asked, in which order: :class:`Item` (one segment, or two for a preference) and
:func:`build_queue`.

* An :class:`Item` is what a person is asked about: one segment of one trajectory (text, scalar,
  sketch), or two segments shown side by side (preference: left is the record's own segment, right
  the ``other_segment``). Its :attr:`Item.key` names it; the record id is a hash of the annotator and
  the key, so the same person answering the same item twice is caught as a duplicate.
* :func:`build_queue` makes the items of one kind from a trajectory file, in a seeded order: the same
  file, kind, ``items``, ``segment_length`` and ``seed`` always give the same queue. Every annotator
  works through the same queue, each at their own pace.

Step numbers: states of a trajectory are numbered ``0..T`` (0 = the start, ``k`` = after ``k``
actions), as ``nlf show`` prints them. A segment ``[a, b)`` covers actions ``a..b-1`` and is shown as
states ``a..b``.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from nlfeedback.critics.preference import DEFAULT_SEGMENT, choose_segment
from nlfeedback.errors import NlfError
from nlfeedback.feedback.schema import KINDS, FeedbackBase, PreferenceFeedback
from nlfeedback.trajectory import Trajectory


@dataclass(frozen=True)
class Segment:
    """Actions ``start..end-1`` of one trajectory, shown as states ``start..end``."""

    trajectory_id: str
    start: int
    end: int

    @property
    def length(self) -> int:
        return self.end - self.start

    def describe(self, total: int) -> str:
        return f"{self.trajectory_id} steps {self.start + 1}–{self.end} of {total}"


def _segment_key(s: Segment) -> str:
    return f"{s.trajectory_id}:{s.start}-{s.end}"


@dataclass(frozen=True)
class Item:
    """One question: a segment (or, for preferences, a left and a right segment) and the kind asked."""

    kind: str
    segments: tuple[Segment, ...]

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise NlfError(f"unknown feedback kind {self.kind!r}; valid: {', '.join(KINDS)}")
        if len(self.segments) != (2 if self.kind == "preference" else 1):
            raise NlfError(f"a {self.kind} item has {'two segments' if self.kind == 'preference' else 'one segment'}")

    @property
    def key(self) -> str:
        return self.kind + ":" + "|".join(_segment_key(s) for s in self.segments)

    def feedback_id(self, annotator: str) -> str:
        h = hashlib.sha256(f"human\n{annotator}\n{self.key}".encode()).hexdigest()
        return f"fb-{h[:16]}"


def key_of(fb: FeedbackBase) -> str:
    """The :attr:`Item.key` of the item a record answers."""
    segs = [Segment(fb.trajectory_id, *fb.segment)]
    if isinstance(fb, PreferenceFeedback):
        segs.append(Segment(fb.other_trajectory_id, *fb.other_segment))
    return fb.kind + ":" + "|".join(_segment_key(s) for s in segs)


def build_queue(trajectories: Sequence[Trajectory], kind: str, *, items: int | None = None,
                segment_length: int | None = None, seed: int = 0) -> list[Item]:
    """The ``items`` questions of ``kind`` on ``trajectories`` (default: one per trajectory), in a seeded order.

    Text, scalar and sketch items cover whole episodes unless ``segment_length`` is given; preferences
    compare segments of ``segment_length`` (default 25, as the preference critic) of two different
    trajectories, whole episodes when shorter. No item appears twice.
    """
    if kind not in KINDS:
        raise NlfError(f"unknown feedback kind {kind!r}; valid: {', '.join(KINDS)}")
    if not trajectories:
        raise NlfError("no trajectories to collect feedback on")
    if kind == "preference" and len(trajectories) < 2:
        raise NlfError("preferences need at least two trajectories")
    if segment_length is not None and segment_length < 1:
        raise NlfError("--segment-length must be >= 1")
    if items is not None and items < 1:
        raise NlfError("--items must be >= 1")
    length = segment_length or (DEFAULT_SEGMENT if kind == "preference" else None)
    n = len(trajectories) if items is None else items
    rng = np.random.default_rng([seed, KINDS.index(kind)])
    queue: list[Item] = []
    seen: set[Any] = set()
    order: list[int] = []
    attempts = 0
    while len(queue) < n and attempts < 50 * n + 100:
        attempts += 1
        if not order:
            order = [int(i) for i in rng.permutation(len(trajectories))]
        traj = trajectories[order.pop()]
        T = len(traj)
        first = Segment(traj.id, *((0, T) if length is None else choose_segment(T, length, rng)))
        if kind == "preference":
            others = [t for t in trajectories if t.id != traj.id]
            other = others[int(rng.integers(len(others)))]
            second = Segment(other.id, *choose_segment(len(other), length, rng))  # type: ignore[arg-type]
            item = Item(kind, (first, second))
            dedupe: Any = frozenset(item.segments)
        else:
            item = Item(kind, (first,))
            dedupe = item.key
        if dedupe in seen:
            continue
        seen.add(dedupe)
        queue.append(item)
    if len(queue) < n:
        what = "whole episodes" if length is None else f"segments of {length} steps"
        raise NlfError(f"only {len(queue)} distinct {kind} items can be made from {len(trajectories)} "
                       f"trajectories ({what}); ask for fewer --items or set --segment-length")
    return queue
