"""Human feedback collection, the part both collectors share: queues, resuming, answers → records.

* An :class:`Item` is what a person is asked about: one segment of one trajectory (text, scalar,
  sketch), or two segments shown side by side (preference: left is the record's own segment, right
  the ``other_segment``). Its :attr:`Item.key` names it; the record id is a hash of the annotator and
  the key, so the same person answering the same item twice is caught as a duplicate.
* :func:`build_queue` makes the items of one kind from a trajectory file, in a seeded order: the same
  file, kind, ``items``, ``segment_length`` and ``seed`` always give the same queue. Every annotator
  works through the same queue, each at their own pace.
* :class:`Collector` owns one ``--out`` file. It resumes: items that ``--out`` already holds for an
  annotator (``source.type = human``, same annotator, same kind, trajectories and segments) are skipped.
  It keeps up with other collectors appending to the same file (it reads only what was appended
  since it last looked), and :meth:`Collector.submit` checks and appends under the file lock, so two
  collectors never both write the same annotator's answer to the same item. Every record is fsynced
  before ``submit`` returns: a crash or Ctrl-C loses at most the answer being typed.
* Answers are validated here (:class:`AnswerError` says what is wrong, in words a person can act
  on) and turned into ``nlf.feedback/1`` records with ``source = {type: human, annotator}``,
  ``annotation_seconds`` (measured by the collector: from showing the item to submitting it) and no
  ``intent``.

Step numbers: states of a trajectory are numbered ``0..T`` (0 = the start, ``k`` = after ``k``
actions), as ``nlf show`` prints them. A segment ``[a, b)`` covers actions ``a..b-1`` and is shown as
states ``a..b``. A sketch curve has one value per action of the segment: the value for action ``t``
is the drawing's height at state ``t + 1`` (the progress made once that action is done).
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import math
import os
import re
import threading
import unicodedata
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from pydantic import ValidationError

from nlfeedback.critics.preference import DEFAULT_SEGMENT, choose_segment
from nlfeedback.critics.scalar import SCALE
from nlfeedback.errors import NlfError
from nlfeedback.feedback.schema import (
    KINDS,
    FeedbackBase,
    PreferenceFeedback,
    ScalarFeedback,
    SketchFeedback,
    Source,
    TextFeedback,
    parse_feedback,
)
from nlfeedback.feedback.store import FeedbackWriter, check_against_trajectories, read_feedback, utc_now
from nlfeedback.jsonl import same_file
from nlfeedback.trajectory import Trajectory

DEFAULT_SCALE: tuple[float, float] = SCALE
MAX_TEXT = 10_000
MAX_ANNOTATOR = 64


class AnswerError(NlfError):
    """An answer that cannot be recorded; the message says what is wrong and how to fix it."""


class AlreadyAnswered(NlfError):
    """The annotator's answer to this item is already in the output file (e.g. from another window)."""


# --- items ------------------------------------------------------------------------------------


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


# --- answers ----------------------------------------------------------------------------------


def check_annotator(name: str) -> str:
    """A usable annotator name: 1–64 printable characters, not only spaces."""
    if not isinstance(name, str) or not name.strip():
        raise AnswerError("the annotator name is empty")
    name = name.strip()
    if len(name) > MAX_ANNOTATOR:
        raise AnswerError(f"the annotator name is longer than {MAX_ANNOTATOR} characters")
    if any(unicodedata.category(c).startswith("C") for c in name):
        raise AnswerError("the annotator name contains control characters")
    return name


def parse_scale(spec: str) -> tuple[float, float]:
    """``"0:10"`` → ``(0.0, 10.0)``: whole-number bounds, low < high, at most 100 levels apart."""
    m = re.fullmatch(r"\s*(-?\d+)\s*:\s*(-?\d+)\s*", spec or "")
    if not m:
        raise NlfError(f"--scale takes LOW:HIGH whole numbers, e.g. 0:10; got {spec!r}")
    lo, hi = int(m.group(1)), int(m.group(2))
    if not lo < hi or hi - lo > 100:
        raise NlfError(f"--scale {spec}: need LOW < HIGH and at most 100 apart")
    return float(lo), float(hi)


def check_text(text: str) -> str:
    if not isinstance(text, str):
        raise AnswerError("the feedback text must be a string")
    text = text.strip()
    if not text:
        raise AnswerError("the feedback text is empty: type what you think of the episode")
    if len(text) > MAX_TEXT:
        raise AnswerError(f"the feedback text is {len(text)} characters long; at most {MAX_TEXT} are kept")
    return text


def check_rating(value: float, scale: tuple[float, float]) -> float:
    lo, hi = scale
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise AnswerError(f"the rating must be a number from {lo:g} to {hi:g}")
    if not lo <= value <= hi:
        raise AnswerError(f"the rating {value:g} is outside the scale: give a number from {lo:g} to {hi:g}")
    return float(value)


def parse_rating(line: str, scale: tuple[float, float]) -> float:
    try:
        value = float(line.strip())
    except ValueError:
        raise AnswerError(f"{line.strip()!r} is not a number: give a rating from {scale[0]:g} to {scale[1]:g}") from None
    return check_rating(value, scale)


_PREFERENCE_WORDS = {
    "1": 0, "l": 0, "left": 0,
    "2": 1, "r": 1, "right": 1,
    "=": 0.5, "0": 0.5, "t": 0.5, "tie": 0.5, "?": 0.5, "can't tell": 0.5, "cant tell": 0.5, "equal": 0.5,
}


def parse_preference(line: str) -> float:
    """``1``/``l``/``left`` → 0 (left better), ``2``/``r``/``right`` → 1, ``=``/``0``/``t`` → 0.5 (can't tell)."""
    answer = _PREFERENCE_WORDS.get(line.strip().lower())
    if answer is None:
        raise AnswerError(f"{line.strip()!r} is not a choice: type 1 (left is better), 2 (right is better) "
                          "or = (can't tell)")
    return answer


_KEYPOINT = re.compile(r"(\d+)\s*:\s*([-+]?(?:\d+(?:\.\d*)?|\.\d+))")


def parse_keypoints(line: str, start: int, end: int) -> list[tuple[float, float]]:
    """Key points ``STEP:VALUE`` (e.g. ``0:0 6:0.5 12:1``): states ``start..end``, values in [−1, 1]."""
    parts = line.replace(",", " ").replace(";", " ").split()
    if not parts:
        raise AnswerError(f"type key points STEP:VALUE with steps {start}–{end} and values from -1 to 1, "
                          f"e.g. {start}:0 {end}:1")
    points: dict[int, float] = {}
    for p in parts:
        m = _KEYPOINT.fullmatch(p)
        if not m:
            raise AnswerError(f"key point {p!r} is not STEP:VALUE (e.g. {start}:0 or {end}:1)")
        step, value = int(m.group(1)), float(m.group(2))
        if not start <= step <= end:
            raise AnswerError(f"key point {p!r}: step {step} is outside this segment (steps {start}–{end})")
        if not -1.0 <= value <= 1.0:
            raise AnswerError(f"key point {p!r}: value {value:g} is outside [-1, 1]")
        if step in points:
            raise AnswerError(f"key point {p!r}: step {step} is given twice")
        points[step] = value
    return sorted((float(s), v) for s, v in points.items())


def check_points(points: Sequence[Sequence[float]], start: int, end: int, *, max_points: int = 20_000) -> list[tuple[float, float]]:
    """Validate drawn points ``[x, y]`` (x a position in states ``start..end``, y in [−1, 1])."""
    if not 1 <= len(points) <= max_points:
        raise AnswerError(f"a sketch needs between 1 and {max_points} points, got {len(points)}")
    out = []
    for i, p in enumerate(points):
        if len(p) != 2:
            raise AnswerError(f"sketch point {i}: expected [x, y], got {len(p)} numbers")
        x, y = float(p[0]), float(p[1])
        if not (math.isfinite(x) and math.isfinite(y)):
            raise AnswerError(f"sketch point {i}: coordinates must be finite numbers")
        if not start - 1e-6 <= x <= end + 1e-6:
            raise AnswerError(f"sketch point {i}: x = {x:g} is outside the segment (steps {start}–{end})")
        if not -1.0 - 1e-6 <= y <= 1.0 + 1e-6:
            raise AnswerError(f"sketch point {i}: y = {y:g} is outside [-1, 1]")
        out.append((min(max(x, start), end), min(max(y, -1.0), 1.0)))
    return out


def curve_from_points(points: Iterable[tuple[float, float]], start: int, end: int, *,
                      tolerance: float | None = None) -> list[float]:
    """One value per action of ``[start, end)``: the drawing's height at states ``start+1..end``.

    Linear between points (a later point at the same x replaces an earlier one), flat beyond the
    outermost ones. With ``tolerance`` (in steps), states further than that outside the drawn range
    are an error: the person has not drawn over that part of the segment.
    """
    by_x: dict[float, float] = {}
    for x, y in points:
        by_x[float(x)] = float(y)
    if not by_x:
        raise AnswerError("the sketch is empty: draw a curve across the segment")
    xs = np.array(sorted(by_x))
    ys = np.array([by_x[x] for x in xs])
    positions = np.arange(start + 1, end + 1, dtype=float)
    if tolerance is not None:
        lo, hi = xs[0] - tolerance, xs[-1] + tolerance
        if positions[0] < lo or positions[-1] > hi:
            raise AnswerError(f"the sketch covers steps {xs[0]:.1f}–{xs[-1]:.1f} but the segment runs from "
                              f"{start} to {end}: draw across the whole segment")
    values = np.clip(np.interp(positions, xs, ys), -1.0, 1.0)
    return [round(float(v), 4) for v in values]


def sketch_tolerance(start: int, end: int) -> float:
    """How far (in steps) a drawing may stop short of the segment's ends: 1 step or 5% of it."""
    return max(1.0, 0.05 * (end - start))


def parse_answer(item: Item, line: str, scale: tuple[float, float] = DEFAULT_SCALE) -> dict[str, Any]:
    """A typed answer (terminal) → the record's kind-specific fields; :class:`AnswerError` if invalid."""
    if item.kind == "text":
        return {"text": check_text(line)}
    if item.kind == "scalar":
        return {"value": parse_rating(line, scale), "scale": list(scale)}
    if item.kind == "sketch":
        seg = item.segments[0]
        return {"curve": curve_from_points(parse_keypoints(line, seg.start, seg.end), seg.start, seg.end)}
    return {"preferred": parse_preference(line)}


def make_record(item: Item, annotator: str, answer: dict[str, Any], seconds: float,
                trajectories: dict[str, Trajectory] | None = None) -> FeedbackBase:
    """The ``nlf.feedback/1`` record of ``annotator``'s ``answer`` to ``item`` (validated)."""
    annotator = check_annotator(annotator)
    if not (isinstance(seconds, (int, float)) and math.isfinite(seconds) and seconds >= 0):
        raise AnswerError(f"annotation time {seconds!r} must be a number of seconds >= 0")
    seg = item.segments[0]
    fields: dict[str, Any] = dict(
        id=item.feedback_id(annotator), trajectory_id=seg.trajectory_id, segment=[seg.start, seg.end],
        source=Source(type="human", annotator=annotator), created_at=utc_now(),
        annotation_seconds=round(float(seconds), 3),
    )
    if item.kind == "preference":
        other = item.segments[1]
        fields.update(other_trajectory_id=other.trajectory_id, other_segment=[other.start, other.end])
    fields.update(answer)
    model = {"text": TextFeedback, "scalar": ScalarFeedback, "sketch": SketchFeedback,
             "preference": PreferenceFeedback}[item.kind]
    try:
        record = model(**fields)
        if trajectories is not None:
            check_against_trajectories(record, trajectories)
    except ValidationError as e:
        raise AnswerError(_answer_problem(e)) from None
    except ValueError as e:
        raise AnswerError(str(e)) from None
    return record


def _answer_problem(err: ValidationError) -> str:
    """Like :func:`format_validation_error`, without pydantic's prefixes on whole-record problems."""
    parts = []
    for e in err.errors(include_url=False)[:3]:
        msg = str(e.get("msg", "invalid")).removeprefix("Value error, ")
        loc = ".".join(str(p) for p in e.get("loc", ()))
        parts.append(f"field '{loc}': {msg}" if loc else msg)
    return "; ".join(parts)


# --- resuming ---------------------------------------------------------------------------------


class DoneIndex:
    """The items each annotator has answered in a feedback file, kept up to date as the file grows.

    The first read validates the whole file (a bad line is an error naming ``file:line``); later
    looks read only the complete lines appended since (by any process) and ignore lines that do not
    parse (readers and ``nlf feedback validate`` report those).
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self._done: dict[str, set[str]] = defaultdict(set)
        self._offset = 0
        if path.exists():
            with open(path, "rb") as fh:
                fcntl.flock(fh, fcntl.LOCK_SH)
                for fb in read_feedback(path).records:
                    self._note(fb)
                self._offset = fh.seek(0, 2)

    def _note(self, fb: FeedbackBase) -> None:
        if fb.source.type == "human" and fb.source.annotator:
            self._done[fb.source.annotator].add(key_of(fb))

    def refresh(self, *, lock: bool = True) -> None:
        """Take in what was appended since the last look (``lock=False`` when the caller holds the lock)."""
        if not self.path.exists():
            return
        with open(self.path, "rb") as fh:
            if lock:
                fcntl.flock(fh, fcntl.LOCK_SH)
            size = fh.seek(0, 2)
            if size < self._offset:  # replaced or truncated under us: start over
                self._done.clear()
                self._offset = 0
            fh.seek(self._offset)
            data = fh.read()
        end = data.rfind(b"\n")
        if end < 0:
            return
        self._offset += end + 1
        for raw in data[:end + 1].splitlines():
            try:
                value = json.loads(raw)
                self._note(parse_feedback(value))
            except (ValueError, ValidationError, TypeError, AttributeError):
                continue

    def done(self, annotator: str) -> set[str]:
        return self._done.get(annotator, set())

    def add(self, annotator: str, key: str) -> None:
        self._done[annotator].add(key)


def _file_identity(path: Path) -> tuple[int, int] | None:
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return None
    return st.st_dev, st.st_ino


# --- the collector ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Progress:
    done: int
    total: int

    @property
    def left(self) -> int:
        return self.total - self.done


class Collector:
    """Queues of every kind asked for, one output file, and safe submission (thread-safe)."""

    def __init__(self, trajectories: Sequence[Trajectory], out: str | Path, *, kinds: Sequence[str] = KINDS,
                 items: int | None = None, segment_length: int | None = None, seed: int = 0,
                 scale: tuple[float, float] = DEFAULT_SCALE, trajectory_path: str | Path | None = None) -> None:
        self.out = Path(out)
        if self.out.exists() and self.out.is_dir():
            raise NlfError(f"{self.out}: is a directory, expected a feedback JSONL file")
        if trajectory_path is not None and same_file(self.out, trajectory_path):
            raise NlfError(f"--out {self.out} is the trajectory file; give a separate feedback file")
        if not kinds:
            raise NlfError("no feedback kinds to collect")
        for k in kinds:
            if k not in KINDS:
                raise NlfError(f"unknown feedback kind {k!r}; valid: {', '.join(KINDS)}")
        self.trajectories = {t.id: t for t in trajectories}
        self.scale = scale
        self.segment_length = segment_length
        self.queues = {k: build_queue(trajectories, k, items=items, segment_length=segment_length, seed=seed)
                       for k in dict.fromkeys(kinds)}
        self.kinds = list(self.queues)
        self._done = DoneIndex(self.out)
        self._writer = FeedbackWriter(self.out, fsync=True)
        self._identity = _file_identity(self.out)
        self._lock = threading.Lock()
        self.written = 0

    def _refresh(self) -> None:
        with self._lock:
            self._done.refresh()

    def pending(self, annotator: str, kind: str) -> list[Item]:
        """``annotator``'s unanswered items of ``kind``, in queue order."""
        self._refresh()
        done = self._done.done(annotator)
        return [it for it in self._queue(kind) if it.key not in done]

    def progress(self, annotator: str, kind: str) -> Progress:
        queue = self._queue(kind)
        done = self._done.done(annotator)
        return Progress(sum(it.key in done for it in queue), len(queue))

    def is_done(self, annotator: str, item: Item) -> bool:
        return item.key in self._done.done(annotator)

    def _queue(self, kind: str) -> list[Item]:
        if kind not in self.queues:
            raise NlfError(f"kind {kind!r} is not being collected here (collecting: {', '.join(self.kinds)})")
        return self.queues[kind]

    def record(self, item: Item, annotator: str, answer: dict[str, Any], seconds: float) -> FeedbackBase:
        """Validate an answer into a record without writing it."""
        return make_record(item, annotator, answer, seconds, self.trajectories)

    def submit(self, item: Item, annotator: str, answer: dict[str, Any], seconds: float) -> FeedbackBase:
        """Validate, then append and fsync under the file lock; :class:`AlreadyAnswered` if it is there."""
        record = self.record(item, annotator, answer, seconds)
        annotator = record.source.annotator  # type: ignore[assignment]
        with self._lock, self._writer.locked():
            if _file_identity(self.out) != self._identity:
                raise NlfError(f"{self.out} was moved, replaced or deleted while collecting; nothing more is "
                               "written to it. Restart the collector (answers saved so far are in the moved file).")
            self._done.refresh(lock=False)
            if item.key in self._done.done(annotator):
                raise AlreadyAnswered(f"{annotator} has already answered this item ({item.key}) in {self.out}")
            self._writer.write(record)
            self._done.add(annotator, item.key)
            self.written += 1
        return record

    def close(self) -> None:
        self._writer.close()

    def __enter__(self) -> Collector:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()
