"""Read-back records: a human remark, the reading shown to its writer, and their verdict on it.

A collector reads the person's remark with an interpreter, shows them the reading and asks: is that what
you meant? :func:`readback_record` turns the answer into the record to store (``nlf.feedback/1`` text with
a ``readback`` field, :class:`nlfeedback.feedback.schema.ReadBack`):

* ``accepted``: the reading stands;
* ``fixed``: the person corrected the clauses; they become the record's gold ``labels`` (``labeller``:
  the annotator), the labelled-human format the reader trains and is scored on;
* ``rephrased``: the person wrote the remark again; ``text`` is the new text, ``readback.original_text``
  the first, and ``readback.reading`` the reading of the first.

``annotation_seconds`` of the result is the text record's plus the read-back ``seconds``. Bad input (a fix
naming steps outside the segment, an empty fix, a fix identical to the reading, an empty or unchanged
rephrase, a record already read back) raises :class:`ReadBackError` with a message a person can act on;
nothing is built, so nothing is written.

Fix clauses are :class:`Clause` objects (steps 0-based) or mappings in the annotation format of
:mod:`nlfeedback.feedback.labels`: ``steps`` as ``nlf show`` numbers them (``"5"``, ``"3-7,12"``, or
``"all"`` / ``"none"``: every step of the segment / none), ``polarity``, ``strength`` (default 1), optional
``quote`` (an exact piece of the text, stored as the clause's ``span``), ``scope`` and ``pattern``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from pydantic import ValidationError

from nlfeedback.errors import NlfError
from nlfeedback.feedback.labels import parse_shown_steps
from nlfeedback.feedback.schema import LABEL_CATEGORIES, VERDICTS, Clause, TextFeedback

MAX_TEXT = 10_000
_FIX_FIELDS = {"quote", "steps", "polarity", "strength", "scope", "pattern"}


class ReadBackError(NlfError):
    """A read-back answer that cannot be recorded; the message says what is wrong and how to fix it."""


def _shown(segment: Sequence[int]) -> str:
    return f"steps {segment[0] + 1}–{segment[1]}"


def segment_steps(spec: Any, segment: Sequence[int]) -> list[int]:
    """Shown step numbers (``"5"``, ``"3-7,12"``, ``"all"``, ``"none"``) → sorted 0-based steps, all inside
    ``segment`` (``[start, end)``; ``"all"`` is every step of it): :func:`parse_shown_steps`."""
    try:
        return parse_shown_steps(spec, segment[1], segment=segment)
    except ValueError as e:
        raise ReadBackError(str(e)) from None


def fix_clause(value: Clause | Mapping[str, Any], text: str, segment: Sequence[int]) -> Clause:
    """One corrected clause (a :class:`Clause` or an annotation mapping, module doc), inside ``segment``."""
    if isinstance(value, Clause):
        outside = [s for s in value.steps if not segment[0] <= s < segment[1]]
        if outside:
            raise ReadBackError(f"step {outside[0] + 1} is outside this segment ({_shown(segment)})")
        return value
    if not isinstance(value, Mapping):
        raise ReadBackError(f"a clause must be an object with steps, polarity and strength, got {value!r}")
    unknown = set(value) - _FIX_FIELDS
    if unknown:
        raise ReadBackError(f"unknown fields {sorted(unknown)} (valid: {', '.join(sorted(_FIX_FIELDS))})")
    if "polarity" not in value:
        raise ReadBackError("say whether these steps were good (polarity 1), bad (-1) or neither (0)")
    span = None
    quote = value.get("quote")
    if quote is not None:
        if not isinstance(quote, str) or not quote.strip() or quote not in text:
            raise ReadBackError("'quote' must be an exact, non-empty piece of the remark")
        span = [text.index(quote), text.index(quote) + len(quote)]
    strength = value.get("strength", 1.0)
    if isinstance(strength, bool) or not isinstance(strength, (int, float)) or not math.isfinite(strength):
        raise ReadBackError(f"strength must be a number from 0 to 1, got {strength!r}")
    scope = {"run": "episode"}.get(value.get("scope", "run"), value.get("scope"))
    try:
        return Clause(steps=segment_steps(value.get("steps"), segment), polarity=value["polarity"],
                      strength=float(strength), scope=scope, pattern=value.get("pattern"), span=span)
    except ValidationError as e:
        first = e.errors(include_url=False)[0]
        loc = ".".join(str(p) for p in first.get("loc", ()))
        msg = str(first.get("msg", "invalid")).removeprefix("Value error, ")
        raise ReadBackError(f"{loc}: {msg}" if loc else msg) from None


def _same(a: Sequence[Clause], b: Sequence[Clause]) -> bool:
    def key(c: Clause) -> tuple[Any, ...]:
        return (tuple(sorted(c.steps)), c.polarity, round(c.strength, 6), c.scope, c.pattern)

    return sorted(map(key, a)) == sorted(map(key, b))


def reading_in_segment(reading: Sequence[Clause], segment: Sequence[int]) -> list[Clause]:
    """The reading as shown for ``segment``: each clause's steps outside it dropped (interpreters read the
    whole trajectory; a person judges only the part they were shown)."""
    start, end = segment
    return [c.model_copy(update={"steps": [s for s in c.steps if start <= s < end]}) for c in reading]


def readback_record(fb: TextFeedback, *, interpreter: str, reading: Sequence[Clause], verdict: str,
                    seconds: float, checkpoint: str | None = None,
                    fix: Sequence[Clause | Mapping[str, Any]] | None = None, categories: Sequence[str] = (),
                    rephrased: str | None = None) -> TextFeedback:
    """The record of a read-back of the human text record ``fb`` (module doc), validated.

    ``reading``: the clauses ``interpreter`` (checkpoint digest ``checkpoint``) read from ``fb.text``
    (steps outside the segment are dropped: :func:`reading_in_segment`). ``verdict`` ``accepted``,
    ``fixed`` (give ``fix``, the corrected clauses, and optionally ``categories`` of the remark) or
    ``rephrased`` (give ``rephrased``, the new text). ``seconds``: the read-back time."""
    if not isinstance(fb, TextFeedback) or fb.source.type != "human":
        raise ReadBackError("only a human text remark can be read back")
    if fb.readback is not None:
        raise ReadBackError(f"remark {fb.id!r} has already been read back ({fb.readback.verdict})")
    if verdict not in VERDICTS:
        raise ReadBackError(f"verdict {verdict!r} is not one of {', '.join(VERDICTS)}")
    if isinstance(seconds, bool) or not isinstance(seconds, (int, float)) or not math.isfinite(seconds) \
            or seconds < 0:
        raise ReadBackError(f"read-back time {seconds!r} must be a number of seconds >= 0")
    if not isinstance(interpreter, str) or not interpreter.strip():
        raise ReadBackError("name the interpreter that made the reading")
    if verdict != "fixed" and (fix is not None or categories):
        raise ReadBackError(f"a fix (clauses or categories) goes with the verdict 'fixed', not {verdict!r}")
    if verdict != "rephrased" and rephrased is not None:
        raise ReadBackError(f"a new text goes with the verdict 'rephrased', not {verdict!r}")
    shown = reading_in_segment(reading, fb.segment)
    update: dict[str, Any] = {}
    readback: dict[str, Any] = {"interpreter": interpreter.strip(), "checkpoint": checkpoint, "reading": shown,
                                "verdict": verdict, "seconds": round(float(seconds), 3)}
    if verdict == "fixed":
        if fb.labels is not None:
            raise ReadBackError(f"remark {fb.id!r} already has labels; a fix would replace them")
        if not fix:
            raise ReadBackError("a fix needs at least one clause; to say the remark judges no step, give one "
                                "clause with polarity 0")
        clauses = []
        for i, c in enumerate(fix):
            try:
                clauses.append(fix_clause(c, fb.text, fb.segment))
            except ReadBackError as e:
                raise ReadBackError(f"clause {i + 1}: {e}") from None
        if _same(clauses, shown):
            raise ReadBackError("the fix is the reading unchanged: record the reading as accepted instead")
        unknown = [c for c in categories if c not in LABEL_CATEGORIES]
        if unknown:
            raise ReadBackError(f"unknown categories {unknown} (valid: {', '.join(LABEL_CATEGORIES)})")
        update["labels"] = {"clauses": clauses, "categories": list(dict.fromkeys(categories)),
                            "labeller": fb.source.annotator}
    if verdict == "rephrased":
        if not isinstance(rephrased, str) or not rephrased.strip():
            raise ReadBackError("the rephrased text is empty: type the remark again in other words")
        new = rephrased.strip()
        if len(new) > MAX_TEXT:
            raise ReadBackError(f"the rephrased text is {len(new)} characters long; at most {MAX_TEXT} are kept")
        if new == fb.text.strip():
            raise ReadBackError("the rephrased text is the same as the first: change the words, or accept "
                                "or fix the reading")
        if fb.labels is not None:
            raise ReadBackError(f"remark {fb.id!r} has labels of its first text; a new text would not match them")
        readback["original_text"] = fb.text
        update["text"] = new
    update["readback"] = readback
    update["annotation_seconds"] = round(fb.annotation_seconds + float(seconds), 3)
    try:
        return TextFeedback.model_validate({**fb.to_json(), **_json(update)})
    except ValidationError as e:
        first = e.errors(include_url=False)[0]
        loc = ".".join(str(p) for p in first.get("loc", ()))
        msg = str(first.get("msg", "invalid")).removeprefix("Value error, ")
        raise ReadBackError(f"field '{loc}': {msg}" if loc else msg) from None


def _json(update: dict[str, Any]) -> dict[str, Any]:
    """``update`` with clauses as JSON objects (the record is validated from JSON, as a reader would)."""
    def dump(v: Any) -> Any:
        if isinstance(v, Clause):
            return v.model_dump(mode="json", exclude_none=True)
        if isinstance(v, dict):
            return {k: dump(x) for k, x in v.items() if x is not None}
        if isinstance(v, list):
            return [dump(x) for x in v]
        return v

    return dump(update)


def is_fixed(fb: Any) -> bool:
    """A text record whose writer fixed the reading (its ``labels`` are their corrected clauses)."""
    return isinstance(fb, TextFeedback) and fb.readback is not None and fb.readback.verdict == "fixed" \
        and fb.labels is not None
