"""Read-back in the collectors: read a person's text remark with an interpreter, show them the reading, and
turn their verdict (accept / fix / rephrase) into the stored record.

:class:`Reader` wraps one interpreter (``keyword``, ``zero-shot`` or ``trained``; ``oracle-intent`` cannot
read a human remark) with its checkpoint digest. :meth:`Reader.read` gives the clauses shown for a remark:
the interpreter's reading with steps outside the item's segment dropped, or none when it abstains
(confidence below the interpreters' ``MIN_CONFIDENCE``, or no clause) — shown as "not understood".

Step numbers are shown as ``nlf show`` prints them (1 … T, "step k" is the k-th action) and written in the
annotation format of :mod:`nlfeedback.feedback.labels` (``"3-7,12"``). :func:`describe_clause` is the
compact line per clause both collectors show; :func:`parse_fix` reads the terminal's edit line
(``3-7 bad 0.7; 12 good``, ``all good``, ``rule entered:lava bad``). The record itself is built by
:func:`nlfeedback.feedback.readback.readback_record`, which refuses bad input with a
:class:`~nlfeedback.feedback.readback.ReadBackError`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from nlfeedback.errors import NlfError
from nlfeedback.feedback.labels import shown_steps
from nlfeedback.feedback.readback import ReadBackError, reading_in_segment
from nlfeedback.feedback.schema import Clause, TextFeedback
from nlfeedback.trajectory import Trajectory
from nlfeedback.truth.judgement import judge
from nlfeedback.truth.moments import pattern_steps
from nlfeedback.versions import file_sha256

READERS = ("keyword", "zero-shot", "trained")
DEFAULT_READER = "trained"

# what a general rule's event pattern is about, in words ("rule: stepping into lava: bad, everywhere")
PATTERN_WORDS = {
    "entered:lava": "stepping into lava", "bumped:wall": "bumping into walls", "spin": "spinning in place",
    "wasted": "wasted actions", "picked_up:key": "picking up a key", "dropped:key": "dropping a key",
    "unlocked:door": "unlocking the door", "locked_out:door": "locking itself out of the door",
    "reached:goal": "reaching the goal",
}
SIGNS = {1: "good", -1: "bad", 0: "neither"}
_SIGN_WORDS = {"good": 1, "+": 1, "+1": 1, "1": 1, "bad": -1, "-": -1, "-1": -1, "neither": 0, "0": 0,
               "neutral": 0}


@dataclass
class Reader:
    """One interpreter reading remarks for read-back (module doc)."""

    name: str
    interpreter: Any
    checkpoint: str | None = None  # the checkpoint's digest (``sha256:…``); None without one

    @classmethod
    def load(cls, name: str = DEFAULT_READER, checkpoint: str | Path | None = None) -> Reader:
        """The interpreter ``name`` (its shipped checkpoint unless ``checkpoint``); :class:`NlfError` if it
        cannot be loaded."""
        if name not in READERS:
            raise NlfError(f"read-back interpreter {name!r}: valid are {', '.join(READERS)} "
                           "(oracle-intent cannot read a person's remark)")
        from nlfeedback.language.interpreters import make_interpreter

        digest = None
        if name == "trained":
            from nlfeedback.language.interpreters.trained import default_checkpoint

            path = Path(checkpoint) if checkpoint else default_checkpoint()
            if not path.is_file():
                raise NlfError(f"no trained interpreter checkpoint at {path} (train one with `nlf train-interpreter`, "
                               "or read back with --readback-interpreter keyword)")
            digest = "sha256:" + file_sha256(path)
            interp = make_interpreter(name, checkpoint=str(path))
        else:
            if checkpoint:
                raise NlfError(f"--readback-checkpoint goes with the trained interpreter, not {name!r}")
            interp = make_interpreter(name)
        return cls(name, interp, digest)

    @staticmethod
    def available(name: str = DEFAULT_READER, checkpoint: str | Path | None = None) -> bool:
        """Whether :meth:`load` can work (the trained one: its checkpoint exists and torch is installed)."""
        if name not in READERS:
            return False
        if name == "keyword":
            return True
        import importlib.util

        if importlib.util.find_spec("torch") is None or importlib.util.find_spec("transformers") is None:
            return False
        if name == "trained":
            from nlfeedback.language.interpreters.trained import default_checkpoint

            return Path(checkpoint or default_checkpoint()).is_file()
        return True

    def read(self, fb: TextFeedback, traj: Trajectory) -> list[Clause]:
        """The clauses shown for ``fb`` (its segment's steps only; ``[]``: not understood)."""
        from nlfeedback.language.interpreters.base import MIN_CONFIDENCE

        reading = self.interpreter.read_many([(fb, traj)])[0]
        if reading.confidence < MIN_CONFIDENCE or not reading.clauses:
            return []
        return reading_in_segment(reading.clauses, fb.segment)

    def describe(self) -> str:
        return self.name + (f" ({self.checkpoint[:19]}…)" if self.checkpoint else "")


def session_reader(readback: bool | None, kinds: Sequence[str], name: str = DEFAULT_READER,
                   checkpoint: str | Path | None = None) -> tuple[Reader | None, str]:
    """The reader of a collecting session and a line saying so. ``readback``: ``None`` (default: on when the
    session collects text and the interpreter can be loaded), ``True`` (on; an error if it cannot be loaded
    or no text is collected), ``False`` (off)."""
    if readback is False:
        return None, "read-back: off (--no-readback)"
    if "text" not in kinds:
        if readback:
            raise NlfError("--readback reads text remarks back: collect --kind text as well")
        return None, ""
    if readback is None and not Reader.available(name, checkpoint):
        return None, (f"read-back: off (the {name} interpreter is not available here; "
                      "--readback-interpreter keyword reads without a model)")
    reader = Reader.load(name, checkpoint)
    return reader, f"read-back: on, remarks read by the {reader.describe()} interpreter"


# --- showing a reading ---------------------------------------------------------------------------


def pattern_words(pattern: str) -> str:
    if pattern in PATTERN_WORDS:
        return PATTERN_WORDS[pattern]
    head = ":".join(pattern.split(":")[:2])
    if head in PATTERN_WORDS:
        return f"{PATTERN_WORDS[head]} ({pattern.split(':', 2)[-1]})"
    return pattern.replace(":", " ").replace("_", " ")


def is_whole(clause: Clause, segment: Sequence[int]) -> bool:
    return clause.scope == "episode" and segment[1] > segment[0] and sorted(clause.steps) == list(range(*segment))


def describe_clause(clause: Clause, segment: Sequence[int]) -> str:
    """One compact line: ``steps 3-7,12: bad, strength 0.7`` / ``the whole run: good, strength 1`` /
    ``rule: stepping into lava: bad, everywhere``."""
    sign = SIGNS[clause.polarity]
    if clause.scope == "general" and clause.pattern:
        here = f" (here: steps {shown_steps(clause.steps)})" if clause.steps else ""
        return f"rule: {pattern_words(clause.pattern)}: {sign}, everywhere, strength {clause.strength:.2g}{here}"
    if is_whole(clause, segment):
        where = "the whole run"
    elif clause.steps:
        where = f"step{'s' if len(clause.steps) > 1 else ''} {shown_steps(clause.steps)}"
    else:
        where = "no step of this segment"
    return f"{where}: {sign}, strength {clause.strength:.2g}"


def describe_reading(reading: Sequence[Clause], segment: Sequence[int]) -> list[str]:
    """The lines shown for a reading; an abstention is ``["not understood"]``."""
    if not reading:
        return ["not understood"]
    return [describe_clause(c, segment) for c in reading]


def edit_line(reading: Sequence[Clause], segment: Sequence[int]) -> str:
    """The reading in the syntax :func:`parse_fix` reads (shown as a starting point for an edit)."""
    parts = []
    for c in reading:
        sign = SIGNS[c.polarity]
        strength = "" if c.strength == 1 else f" {c.strength:.2g}"
        if c.scope == "general" and c.pattern:
            parts.append(f"rule {c.pattern} {sign}{strength}")
        else:
            parts.append(f"{'all' if is_whole(c, segment) else shown_steps(c.steps) or 'none'} {sign}{strength}")
    return "; ".join(parts)


def clause_json(clause: Clause, segment: Sequence[int]) -> dict[str, Any]:
    """A clause as the browser shows it (``steps`` 0-based, plus their shown form and the line)."""
    return {"steps": list(clause.steps), "shown": shown_steps(clause.steps), "polarity": clause.polarity,
            "strength": clause.strength, "scope": clause.scope, "pattern": clause.pattern,
            "whole": is_whole(clause, segment),
            "rule": pattern_words(clause.pattern) if clause.scope == "general" and clause.pattern else None,
            "line": describe_clause(clause, segment)}


# --- reading a fix -----------------------------------------------------------------------------


def parse_fix(line: str, segment: Sequence[int], traj: Trajectory | None = None) -> list[dict[str, Any]]:
    """The terminal's edit line → clauses in the annotation format (checked by ``readback_record``).

    Clauses are separated by ``;``; each is ``STEPS SIGN [STRENGTH]`` (``3-7,12 bad 0.7``, ``all good``:
    the whole run) or ``rule PATTERN SIGN [STRENGTH]`` (``rule entered:lava bad``: a general rule, its
    steps here the ones the pattern covers). SIGN: good/bad/neither or +1/-1/0; STRENGTH from 0 to 1."""
    out: list[dict[str, Any]] = []
    parts = [p.strip() for p in line.split(";") if p.strip()]
    if not parts:
        raise ReadBackError("the fix is empty: write clauses like '3-7 bad 0.7; 12 good'")
    for i, part in enumerate(parts, 1):
        words = part.split()
        rule = words[0].lower() == "rule"
        if rule:
            words = words[1:]
        if len(words) not in (2, 3):
            raise ReadBackError(f"clause {i} {part!r}: write STEPS SIGN [STRENGTH], e.g. '3-7 bad 0.7', "
                                "'all good' or 'rule entered:lava bad'")
        what, sign = words[0], words[1].lower()
        if sign not in _SIGN_WORDS:
            raise ReadBackError(f"clause {i} {part!r}: the sign {words[1]!r} is not good, bad or neither")
        clause: dict[str, Any] = {"polarity": _SIGN_WORDS[sign]}
        if len(words) == 3:
            try:
                clause["strength"] = float(words[2])
            except ValueError:
                raise ReadBackError(f"clause {i} {part!r}: the strength {words[2]!r} is not a number from 0 to 1") \
                    from None
            if not 0 <= clause["strength"] <= 1:
                raise ReadBackError(f"clause {i} {part!r}: the strength {words[2]} is not from 0 to 1")
        if rule:
            steps: list[int] = []
            if traj is not None:
                steps = [s for s in pattern_steps(what, traj, judge(traj)) if segment[0] <= s < segment[1]]
            clause.update(scope="general", pattern=what, steps=shown_steps(steps) or "none")
        else:
            clause["steps"] = what
        out.append(clause)
    return out


def fix_from_json(clauses: Any) -> list[Mapping[str, Any]]:
    """The browser's fix (a list of clause objects, steps as shown numbers) as given: ``readback_record``
    checks each; a non-list is refused here."""
    if not isinstance(clauses, list):
        raise ReadBackError("a fix is a list of clauses")
    return clauses
