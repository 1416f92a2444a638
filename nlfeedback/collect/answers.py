"""Answers → records: each kind's answer checked (typed in the terminal or sent by the browser) and turned
into an ``nlf.feedback/1`` record.

Answers are validated here (:class:`AnswerError` says what is wrong, in words a person can act on) and
turned into records (:func:`make_record`) with ``source = {type: human, annotator}``,
``annotation_seconds`` (measured by the collector: from showing the item to submitting it) and no
``intent``. Per kind: text (:func:`check_text`), scalar (:func:`parse_scale`, :func:`check_rating`,
:func:`parse_rating`), preference (:func:`parse_preference`), sketch (:func:`parse_keypoints`,
:func:`check_points`, :func:`curve_from_points`); :func:`parse_answer` reads a typed answer of any kind.

A sketch curve has one value per action of the segment: the value for action ``t`` is the drawing's
height at state ``t + 1`` (the progress made once that action is done; states as in
:mod:`nlfeedback.collect.queue`).
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np
from pydantic import ValidationError

from nlfeedback.collect.queue import Item
from nlfeedback.critics.scalar import SCALE
from nlfeedback.errors import NlfError
from nlfeedback.feedback.schema import (
    FeedbackBase,
    PreferenceFeedback,
    ScalarFeedback,
    SketchFeedback,
    Source,
    TextFeedback,
)
from nlfeedback.feedback.store import check_against_trajectories, utc_now
from nlfeedback.trajectory import Trajectory

DEFAULT_SCALE: tuple[float, float] = SCALE
MAX_TEXT = 10_000
MAX_ANNOTATOR = 64


class AnswerError(NlfError):
    """An answer that cannot be recorded; the message says what is wrong and how to fix it."""


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


# --- text -------------------------------------------------------------------------------------


def check_text(text: str) -> str:
    if not isinstance(text, str):
        raise AnswerError("the feedback text must be a string")
    text = text.strip()
    if not text:
        raise AnswerError("the feedback text is empty: type what you think of the episode")
    if len(text) > MAX_TEXT:
        raise AnswerError(f"the feedback text is {len(text)} characters long; at most {MAX_TEXT} are kept")
    return text


# --- scalar -----------------------------------------------------------------------------------


def parse_scale(spec: str) -> tuple[float, float]:
    """``"0:10"`` → ``(0.0, 10.0)``: whole-number bounds, low < high, at most 100 levels apart."""
    m = re.fullmatch(r"\s*(-?\d+)\s*:\s*(-?\d+)\s*", spec or "")
    if not m:
        raise NlfError(f"--scale takes LOW:HIGH whole numbers, e.g. 0:10; got {spec!r}")
    lo, hi = int(m.group(1)), int(m.group(2))
    if not lo < hi or hi - lo > 100:
        raise NlfError(f"--scale {spec}: need LOW < HIGH and at most 100 apart")
    return float(lo), float(hi)


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


# --- preference -------------------------------------------------------------------------------


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


# --- sketch -----------------------------------------------------------------------------------


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


# --- any kind ---------------------------------------------------------------------------------


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
