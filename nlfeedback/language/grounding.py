"""Grounding: which steps of a trajectory a parsed clause is about.

A parse names a *moment* (the taxonomy of :mod:`nlfeedback.truth.moments`: lava, wall bumps, spinning,
the right key, …; or the whole episode), optionally a temporal reference (an explicit step number, the
start / middle / end of the episode, or after / before an anchor event) and a scope. Grounding finds
the moment's occurrences in the trajectory's events and keeps those the temporal reference picks out
(windows as in :mod:`nlfeedback.truth.temporal`). Interpreters see what a person watching saw: the
events and replayed states, never the feedback giver's intent.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from minigrid.core.constants import COLOR_NAMES

from nlfeedback.feedback.schema import Clause
from nlfeedback.trajectory import Trajectory
from nlfeedback.truth.judgement import judge
from nlfeedback.truth.moments import Moment, find_moments, pattern_steps
from nlfeedback.truth.temporal import AFTER_WINDOW, windows

NUMBER = re.compile(r"(?<![\d.])(\d{1,4})(?![\d.])")


@dataclass(frozen=True)
class Parse:
    moment: str
    polarity: int
    strength: float
    when: str = "none"  # none | step | start | middle | end | after | before
    anchor: str = "none"  # none | picked_up | unlocked
    scope: str = "episode"
    number: int | None = None  # explicit 1-based step number found in the text
    key_color: str | None = None  # the colour of the key the text names ("the blue key"), if it names one


_UNITS = ["one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten", "eleven", "twelve",
          "thirteen", "fourteen", "fifteen", "sixteen", "seventeen", "eighteen", "nineteen", "twenty"]
_ORDINALS = ["first", "second", "third", "fourth", "fifth", "sixth", "seventh", "eighth", "ninth", "tenth",
             "eleventh", "twelfth", "thirteenth", "fourteenth", "fifteenth", "sixteenth", "seventeenth",
             "eighteenth", "nineteenth", "twentieth"]
_WORD_VALUE = {w: i + 1 for i, w in enumerate(_UNITS)} | {w: i + 1 for i, w in enumerate(_ORDINALS)}
_STEP_NOUN = r"(?:step|move|action|turn|go)"
# Spelled-out step numbers, only next to a step noun ("step seven", "move number three", "the fifth step"),
# so "get the key first" or "one more time" are not read as step numbers.
WORD_NUMBER = re.compile(
    rf"\b{_STEP_NOUN}s?\s+(?:number\s+|no\.?\s*|#\s*)?({'|'.join(_UNITS)})\b|"
    rf"\b(?:the\s+|your\s+)({'|'.join(_ORDINALS)})\s+{_STEP_NOUN}\b", re.IGNORECASE)


def step_number(text: str) -> int | None:
    """An explicit 1-based step number: digits ("step 7", "move #7", "7th step") or words next to a step
    noun ("step seven", "the seventh move")."""
    m = NUMBER.search(text)
    if m:
        return int(m.group(1))
    w = WORD_NUMBER.search(text)
    if w:
        return _WORD_VALUE[(w.group(1) or w.group(2)).lower()]
    return None


_MOMENT_CACHE: dict[str, dict[str, Moment]] = {}


def moments_of(traj: Trajectory) -> dict[str, Moment]:
    got = _MOMENT_CACHE.get(traj.id)
    if got is None:
        got = {m.kind: m for m in find_moments(traj, judge(traj))}
        if len(_MOMENT_CACHE) > 20_000:
            _MOMENT_CACHE.clear()
        _MOMENT_CACHE[traj.id] = got
    return got


KEY_COLOR = re.compile(rf"\b({'|'.join([*COLOR_NAMES, 'gray'])})(?:[\s-]+(?:coloured|colored))?\s+(?:key|one)s?\b", re.IGNORECASE)


def key_color(text: str) -> str | None:
    """The colour of the first key ``text`` names ("grabbing the blue key …" → "blue"), or ``None``."""
    m = KEY_COLOR.search(text)
    if not m:
        return None
    c = m.group(1).lower()
    return "grey" if c == "gray" else c


def _key_moment(parse: Parse, moments: dict[str, Moment]) -> str:
    """Right key or wrong key, by the colour the text names: a remark about "the blue key" is about
    picking up the blue key, whichever of the two the model guessed (the sign stays as it was read)."""
    if parse.moment not in ("key_pickup", "wrong_key") or parse.key_color is None:
        return parse.moment
    for kind in ("key_pickup", "wrong_key"):
        m = moments.get(kind)
        if m is not None and m.referent == f"{parse.key_color} key":
            return kind
    return parse.moment


def ground(parse: Parse, traj: Trajectory) -> Clause | None:
    """The clause a parse means on ``traj``, or ``None`` if the moment does not occur in it."""
    T = len(traj)
    if parse.moment in ("episode", "vague"):
        return Clause(steps=list(range(T)), polarity=parse.polarity, strength=parse.strength, moment=parse.moment)
    moments = moments_of(traj)
    m = moments.get(_key_moment(parse, moments))
    if m is None:
        return None
    if parse.scope == "general" and m.pattern:
        return Clause(steps=pattern_steps(m.pattern, traj, judge(traj)), polarity=parse.polarity,
                      strength=parse.strength, referent=m.referent, moment=m.kind, scope="general", pattern=m.pattern)
    occ = list(m.occurrences)
    picked = occ
    if parse.when == "step" and parse.number is not None:
        target = parse.number - 1
        exact = [o for o in occ if target in o]
        if exact:
            picked = exact
        else:
            near = min(occ, key=lambda o: min(abs(s - target) for s in o))
            picked = [near] if min(abs(s - target) for s in near) <= 2 else [(target,)] if 0 <= target < T else occ
    elif parse.when in ("start", "middle", "end"):
        window = windows(T)[parse.when]
        picked = [o for o in occ if o[0] in window] or occ
    elif parse.when in ("after", "before"):
        anchor_kind = {"picked_up": "key_pickup", "unlocked": "door_open"}.get(parse.anchor)
        anchor = moments.get(anchor_kind) if anchor_kind else None
        if anchor is not None:
            a = anchor.occurrences[0][0]
            if parse.when == "after":
                picked = [o for o in occ if a < o[0] <= a + AFTER_WINDOW] or [o for o in occ if o[0] > a] or occ
            else:
                picked = [o for o in occ if o[-1] < a] or occ
    steps = sorted({s for o in picked for s in o if 0 <= s < T})
    return Clause(steps=steps, polarity=parse.polarity, strength=parse.strength, referent=m.referent, moment=m.kind)
