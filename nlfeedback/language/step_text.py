"""Every step of a trajectory as the learned reader sees it: a short text and a few numbers.

The reader matches a remark against each step. What a step *is* goes into a text read by the sentence
encoder — the action and its caption, what the agent carries, the door, whether the step brought the
agent closer to the goal, repetition ("third turn in a row") — and is free of the step's position, so the
same text recurs across steps and trajectories and its embedding is computed once (cached). *Where* the
step is goes into numbers the reader's head combines with the remark: position in the run (relative,
first / last few steps, halves), before or after the key and the door, and how the step relates to the
numbers the remark mentions ("step 12", "the first 5 moves", "the last 3", counting from 0 or 1). With
``places`` (``ReaderConfig.places``) the text and the numbers also say where in the room the agent is and
which way it faces, for remarks that name places ("stuck up top", "down the left side").

:func:`step_views` computes both for one trajectory; :func:`number_features` the remark × step part.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

from nlfeedback.envs.tasks import ACTION_NAMES
from nlfeedback.trajectory import Trajectory
from nlfeedback.truth.judgement import judge

# what kind of thing happened, as flags beside the step text (event name prefixes)
_EVENT_KINDS = ("bumped", "entered:lava", "reached:goal", "picked_up", "dropped", "unlocked", "opened", "closed",
                "passed", "locked_out", "wasted")
_WASTED = ("did_nothing", "toggled_nothing", "pickup_nothing", "pickup_full", "drop_nothing", "drop_blocked")

STEP_FEATURES = ("relative position", "first step", "last step", "first three", "last three", "first half",
                 "second half", "before the key", "holding the key", "after unlocking", "after the door",
                 "in a turn run", "same as the step before", "closer to the goal", "farther from the goal",
                 "no progress", "run length", "run succeeded", "run ended in lava", "run timed out",
                 *(f"action {a}" for a in ACTION_NAMES), *(f"event {e}" for e in _EVENT_KINDS))
NUMBER_FEATURES = ("mentions a number", "is step n (from 1)", "is step n (from 0)", "within one of step n",
                   "within the first n", "within the last n")
# with ReaderConfig.span_features: how a step lies against the numbers ("after 48", "until step 88",
# "from 8 to 64"); which relation a remark means is left to the network
SPAN_FEATURES = ("after step n", "before step n", "between the first two numbers")
# with ReaderConfig.places: where in the room the agent is when it acts, and which way it faces (beside
# the step text's "at the bottom left, facing east"), for remarks that name places ("down the left side",
# "stuck up top", "in the bottom-left corner facing east")
PLACE_FEATURES = ("across the room (0 left, 1 right)", "down the room (0 top, 1 bottom)", "against a wall",
                  "facing east", "facing south", "facing west", "facing north")
N_STEP = len(STEP_FEATURES)
N_PLACE = len(PLACE_FEATURES)
N_NUMBER = len(NUMBER_FEATURES)
N_SPAN = len(SPAN_FEATURES)

_ORDINAL = {1: "", 2: "second ", 3: "third ", 4: "fourth "}


@dataclass(frozen=True)
class StepViews:
    """``texts[t]``: what step ``t`` is (free of its position in the run); ``features``: ``(T, N_STEP)``
    where it is in the run (``(T, N_STEP + N_PLACE)`` with ``places``)."""

    texts: list[str]
    features: np.ndarray


def _carrying(events: list[str], carrying: str | None) -> str | None:
    for e in events:
        parts = e.split(":")
        if parts[0] == "picked_up":
            carrying = " ".join(reversed(parts[1:]))  # "key:blue" → "blue key"
        elif parts[0] == "dropped":
            carrying = None
    return carrying


_HEADINGS = ("east", "south", "west", "north")  # MiniGrid's agent_dir 0..3


def agent_places(traj: Trajectory) -> list[tuple[float, float, bool, int]]:
    """Where the agent is when it takes each step and which way it faces once the step is done (so a turn
    reads "turned left, … facing south"): x across the room inside its outer wall (0 left … 1 right), y
    down it (0 top … 1 bottom), whether it is next to the outer wall, heading 0..3 (east, south, west,
    north). From the judgement's replay of ``traj`` (:attr:`Judgement.poses`)."""
    states: list[tuple[float, float, bool, int]] = []
    for ax, ay, heading, width, height in judge(traj).poses.tolist():
        w, h = width - 2, height - 2
        x, y = ax - 1, ay - 1
        edge = x in (0, w - 1) or y in (0, h - 1)
        states.append((x / max(w - 1, 1), y / max(h - 1, 1), edge, heading))
    return [(*states[t][:3], states[t + 1][3]) for t in range(len(traj))]


def place_words(fx: float, fy: float, heading: int) -> str:
    """"at the bottom left, facing east": the room in thirds across and down, and the heading."""
    across = "left" if fx < 1 / 3 else "right" if fx > 2 / 3 else ""
    down = "top" if fy < 1 / 3 else "bottom" if fy > 2 / 3 else ""
    where = f"at the {down} {across}" if down and across else \
        f"at the {down}" if down else f"on the {across} side" if across else "in the middle"
    return f"{where}, facing {_HEADINGS[heading % 4]}"


def step_views(traj: Trajectory, places: bool = False) -> StepViews:
    """The reader's view of every step of ``traj`` (replays it once through :func:`judge`). ``places``:
    the step text also says where in the room the agent is and which way it faces, and the features carry
    :data:`PLACE_FEATURES` (from the same judgement's :attr:`~nlfeedback.truth.judgement.Judgement.poses`)."""
    T = len(traj)
    j = judge(traj)
    d = j.steps_to_go
    spin = np.zeros(T, dtype=bool)
    for a, b in j.spin_runs:
        spin[a:b] = True
    success = traj.success
    lava_end = any("entered:lava" in ev for ev in traj.events)
    timeout = traj.truncated and not success
    texts: list[str] = []
    feats = np.zeros((T, N_STEP), dtype=np.float32)
    where = agent_places(traj) if places else []
    carrying: str | None = None
    had_key = unlocked = passed = False
    repeat = 1
    for t in range(T):
        events = traj.events[t]
        before_carrying = carrying
        carrying = _carrying(events, carrying)
        had_key_before = had_key
        had_key |= any(e.startswith("picked_up:key") for e in events)
        unlocked_before, passed_before = unlocked, passed
        unlocked |= any(e.startswith(("unlocked:door", "opened:door")) for e in events)
        passed |= any(e.startswith("passed:door") for e in events)
        same = t > 0 and traj.captions[t] == traj.captions[t - 1] and traj.actions[t] == traj.actions[t - 1]
        repeat = repeat + 1 if same else 1
        delta = d[t] - d[t + 1]
        progress = "closer to the goal" if delta > 0 else "farther from the goal" if delta < 0 else "no closer to the goal"
        parts = [f"{ACTION_NAMES[traj.actions[t]]}: {traj.captions[t]}"]
        if repeat > 1:
            parts.append(f"the {_ORDINAL.get(repeat, 'many-th ')}time in a row".replace("  ", " "))
        if before_carrying or carrying:
            parts.append(f"carrying the {carrying or before_carrying}")
        if j.door_color is not None:
            parts.append("door open" if unlocked else "door still locked")
        parts.append(progress)
        if places:
            parts.append(place_words(where[t][0], where[t][1], where[t][3]))
        texts.append(", ".join(parts))
        rel = t / max(T - 1, 1)
        feats[t] = [rel, t == 0, t == T - 1, t < 3, t >= T - 3, rel < 0.5, rel >= 0.5,
                    not had_key_before and j.door_color is not None, bool(before_carrying or carrying),
                    unlocked_before, passed_before, spin[t], same, delta > 0, delta < 0, delta == 0,
                    min(np.log1p(T) / 6.0, 1.0), success, lava_end, timeout,
                    *(traj.actions[t] == a for a in range(len(ACTION_NAMES))),
                    *(_has(events, kind) for kind in _EVENT_KINDS)]
    if places:
        place = np.array([[fx, fy, edge, *(np.arange(4) == d)] for fx, fy, edge, d in where], np.float32)
        feats = np.concatenate([feats, place.reshape(T, N_PLACE)], 1)
    return StepViews(texts, feats)


def _has(events: list[str], kind: str) -> bool:
    if kind == "wasted":
        return any(e.split(":")[0] in _WASTED for e in events)
    return any(e == kind or e.startswith(kind + ":") for e in events)


_NUMBER_WORDS = {w: i for i, w in enumerate(
    "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen sixteen "
    "seventeen eighteen nineteen twenty".split())}
_ORDINAL_WORDS = {w: i + 1 for i, w in enumerate(
    "first second third fourth fifth sixth seventh eighth ninth tenth eleventh twelfth".split())}
_NUMBER = re.compile(r"\b(\d{1,4})(?:st|nd|rd|th)?\b|\b(" + "|".join(list(_NUMBER_WORDS) + list(_ORDINAL_WORDS)) + r")\b",
                     re.IGNORECASE)


def numbers_in(text: str, limit: int = 3) -> list[int]:
    """The first ``limit`` numbers a remark mentions, in digits, number words or ordinals."""
    out = []
    for m in _NUMBER.finditer(text):
        if m.group(1):
            out.append(int(m.group(1)))
        else:
            w = m.group(2).lower()
            out.append(_NUMBER_WORDS.get(w, _ORDINAL_WORDS.get(w, 0)))
        if len(out) >= limit:
            break
    return out


def number_features(text: str, T: int, spans: bool = False) -> np.ndarray:
    """``(T, N_NUMBER)`` (``N_NUMBER + N_SPAN`` with ``spans``): how each step relates to the numbers the
    remark mentions (max over numbers; steps as shown, from 1)."""
    out = np.zeros((T, N_NUMBER + (N_SPAN if spans else 0)), dtype=np.float32)
    nums = numbers_in(text)
    if not nums:
        return out
    out[:, 0] = 1.0
    shown = np.arange(1, T + 1)
    for n in nums:
        out[:, 1] = np.maximum(out[:, 1], shown == n)
        out[:, 2] = np.maximum(out[:, 2], shown - 1 == n)
        out[:, 3] = np.maximum(out[:, 3], np.abs(shown - n) <= 1)
        out[:, 4] = np.maximum(out[:, 4], (shown <= n) & (n < T))
        out[:, 5] = np.maximum(out[:, 5], (T - shown < n) & (n < T))
        if spans and n <= T:  # a number past the run's end is a count, not a step
            out[:, 6] = np.maximum(out[:, 6], shown > n)
            out[:, 7] = np.maximum(out[:, 7], shown < n)
    if spans and len(nums) >= 2 and nums[0] < nums[1] <= T:
        out[:, 8] = (shown >= nums[0]) & (shown <= nums[1])
    return out
