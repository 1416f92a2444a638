"""The ground truth critics judge by: a progress potential over subgoals plus event values.

Agents are scored by the task's own sparse reward (``true_return``). Critics, like a person watching,
judge by **task progress**. For every suite task the judgement is the same, documented rule:

* ``steps_to_go[t]``: the fewest actions an optimal agent would still need from the state before step
  ``t`` (``t = T``: the final state) to reach the goal, found by breadth-first search over
  ``(x, y, direction, has the door's key, door open)``: walk around walls, objects and lava, pick up
  the key that matches a locked door, toggle the door open, walk to the goal. Carrying a wrong object
  costs one extra action (putting it down).
* ``progress[t] = steps_to_go[t] - steps_to_go[t+1]``, clipped to [−1, 1]: +1 for an optimal action,
  0 for a wasted one, −1 for an action that undoes progress (turning away, walking off, dropping the
  needed key).
* ``event_values[t]``: what a person adds for what they see (table :data:`EVENT_VALUES`), e.g. −2 for
  stepping into lava, −0.5 for bumping into a wall, +0.5 for picking up the right key, +1 for the goal.
* A run of three or more consecutive turns is *spinning*: each of its steps is worth −0.5 (instead of
  the ±1 that individual turns would show).
* ``values[t] = progress[t] + event_values[t]`` (or the spin value): the judged worth of step ``t``.
* ``potential[t] = 1 - steps_to_go[t] / steps_to_go[0]`` clipped to [−1, 1]: 0 at the start, 1 at the
  goal; after stepping into lava it is −1. This is the task-progress curve that sketches draw.

The same judgement also provides the dense ground-truth shaping used later for reward metrics.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from typing import Any

import numpy as np

from nlfeedback.policies.planner import DIR_VEC
from nlfeedback.trajectory import Trajectory, replay_steps


# Value a watching person attaches to an event, on top of the progress the step made.
EVENT_VALUES: dict[str, float] = {
    "reached:goal": 1.0,
    "entered:lava": -2.0,
    "picked_up:right_key": 0.5,
    "picked_up:wrong": -0.5,
    "unlocked:door": 0.5,
    "opened:door": 0.25,
    "closed:door": -0.5,
    "dropped:needed_key": -0.5,
    "bumped": -0.5,
    "locked_out": -0.5,
    "wasted": -0.25,  # did_nothing, toggled_nothing, pickup_nothing/full, drop_nothing/blocked
    "timeout": -1.0,
}
SPIN_VALUE = -0.5
SPIN_MIN_TURNS = 3
WASTED_VERBS = {"did_nothing", "toggled_nothing", "pickup_nothing", "pickup_full", "drop_nothing", "drop_blocked"}


def steps_to_go(env: Any) -> float:
    """Fewest actions from the env's current state to the goal (``inf`` when unreachable)."""
    env = env.unwrapped
    grid = env.grid
    goal = door = key_pos = None
    door_locked = door_open = False
    for y in range(grid.height):
        for x in range(grid.width):
            c = grid.get(x, y)
            if c is None:
                continue
            if c.type == "goal":
                goal = (x, y)
            elif c.type == "door" and door is None and not c.is_open:
                door, door_locked = (x, y), c.is_locked
    if goal is None:
        return float("inf")
    carrying = env.carrying
    extra = 0
    has_key = False
    if door is not None:
        door_color = grid.get(*door).color
        if carrying is not None and carrying.type == "key" and carrying.color == door_color:
            has_key = True
        else:
            for y in range(grid.height):
                for x in range(grid.width):
                    c = grid.get(x, y)
                    if c is not None and c.type == "key" and c.color == door_color:
                        key_pos = (x, y)
            if carrying is not None and door_locked:
                extra = 1  # put the wrong object down first
    ax, ay = int(env.agent_pos[0]), int(env.agent_pos[1])
    here = grid.get(ax, ay)
    if here is not None and here.type == "lava":
        return float("inf")

    def free(x: int, y: int, k: bool, o: bool) -> bool:
        if (x, y) == door:
            return o
        if (x, y) == key_pos:
            return k
        c = grid.get(x, y)
        if c is None:
            return True
        if c.type == "goal":
            return True
        if c.type == "door":
            return bool(c.is_open)
        return False

    start = (ax, ay, int(env.agent_dir), has_key, door is None or door_open)
    if (ax, ay) == goal:
        return 0.0
    seen = {start}
    queue: deque[tuple[tuple[int, int, int, bool, bool], int]] = deque([(start, 0)])
    while queue:
        (x, y, d, k, o), dist = queue.popleft()
        dx, dy = DIR_VEC[d]
        fx, fy = x + dx, y + dy
        nexts = [(x, y, (d - 1) % 4, k, o), (x, y, (d + 1) % 4, k, o)]
        if 0 <= fx < grid.width and 0 <= fy < grid.height and free(fx, fy, k, o):
            nexts.append((fx, fy, d, k, o))
        if not k and (fx, fy) == key_pos:
            nexts.append((x, y, d, True, o))
        if not o and (fx, fy) == door and (k or not door_locked):
            nexts.append((x, y, d, k, True))
        for s in nexts:
            if s in seen:
                continue
            if (s[0], s[1]) == goal:
                return float(dist + 1 + extra)
            seen.add(s)
            queue.append((s, dist + 1))
    return float("inf")


@dataclass(frozen=True)
class Judgement:
    """Per-step ground truth of one trajectory (``T`` steps). Arrays are float64."""

    trajectory_id: str
    steps_to_go: np.ndarray  # (T+1,)
    progress: np.ndarray  # (T,)
    event_values: np.ndarray  # (T,)
    values: np.ndarray  # (T,)
    potential: np.ndarray  # (T+1,)
    spin_runs: tuple[tuple[int, int], ...]  # [start, end) step ranges of spinning
    door_color: str | None
    key_colors: tuple[str, ...]  # colours of every key in the initial layout

    @property
    def optimal_length(self) -> float:
        return float(self.steps_to_go[0])

    def segment_value(self, start: int, end: int, gamma: float = 1.0) -> float:
        """Sum of judged step values over ``[start, end)``; ``gamma < 1`` weights later steps more (myopic)."""
        v = self.values[start:end]
        if gamma >= 1.0:
            return float(v.sum())
        w = gamma ** np.arange(len(v) - 1, -1, -1)
        return float((v * w).sum())


def _event_value(event: str, door_color: str | None, needed_key: bool) -> float:
    verb, _, rest = event.partition(":")
    if event == "reached:goal":
        return EVENT_VALUES["reached:goal"]
    if event == "entered:lava":
        return EVENT_VALUES["entered:lava"]
    if verb == "picked_up":
        color = rest.split(":")[-1]
        if door_color is not None and rest.startswith("key") and color == door_color:
            return EVENT_VALUES["picked_up:right_key"]
        return EVENT_VALUES["picked_up:wrong"] if door_color is not None else 0.0
    if verb == "unlocked":
        return EVENT_VALUES["unlocked:door"]
    if verb == "opened" and rest.startswith("door"):
        return EVENT_VALUES["opened:door"]
    if verb == "closed":
        return EVENT_VALUES["closed:door"]
    if verb == "dropped":
        needed = needed_key and door_color is not None and rest == f"key:{door_color}"
        return EVENT_VALUES["dropped:needed_key"] if needed else 0.0
    if verb == "bumped":
        return EVENT_VALUES["bumped"]
    if verb == "locked_out":
        return EVENT_VALUES["locked_out"]
    if verb in WASTED_VERBS:
        return EVENT_VALUES["wasted"]
    if verb == "timeout":
        return EVENT_VALUES["timeout"]
    return 0.0


def spin_runs(actions: list[int]) -> list[tuple[int, int]]:
    """``[start, end)`` ranges of ≥3 consecutive turn actions (0 = left, 1 = right)."""
    runs, start = [], None
    for i, a in enumerate(list(actions) + [-1]):
        if a in (0, 1):
            start = i if start is None else start
        else:
            if start is not None and i - start >= SPIN_MIN_TURNS:
                runs.append((start, i))
            start = None
    return runs


_CACHE: dict[tuple[str, str], Judgement] = {}


def judge(traj: Trajectory) -> Judgement:
    """Replay ``traj`` and compute its judgement (cached per trajectory id and digest)."""
    key = (traj.id, traj.obs_digest)
    if key in _CACHE:
        return _CACHE[key]
    togo: list[float] = []
    door_color: str | None = None
    key_colors: list[str] = []
    needed_at: list[bool] = []
    for st in replay_steps(traj):
        env = st.env.unwrapped
        if st.step == 0:
            for y in range(env.grid.height):
                for x in range(env.grid.width):
                    c = env.grid.get(x, y)
                    if c is not None and c.type == "door" and c.is_locked and door_color is None:
                        door_color = c.color
                    if c is not None and c.type == "key":
                        key_colors.append(c.color)
        togo.append(steps_to_go(env))
        # was the door still locked (so a carried key was still needed) in this state?
        locked = any(
            (c := env.grid.get(x, y)) is not None and c.type == "door" and c.is_locked
            for y in range(env.grid.height) for x in range(env.grid.width)
        )
        needed_at.append(locked)
    T = len(traj)
    d = np.array(togo, dtype=np.float64)
    big = 4.0 * (max(d[np.isfinite(d)], default=0.0) + 10.0)
    finite = np.where(np.isfinite(d), d, np.nan)
    # stepping into lava (or any dead end) makes no progress: carry the last finite value forward
    for t in range(1, T + 1):
        if np.isnan(finite[t]):
            finite[t] = finite[t - 1] if not np.isnan(finite[t - 1]) else big
    if np.isnan(finite[0]):
        finite[0] = big
    progress = np.clip(finite[:-1] - finite[1:], -1.0, 1.0)
    event_values = np.zeros(T)
    for t, events in enumerate(traj.events):
        event_values[t] = sum(_event_value(e, door_color, needed_at[t]) for e in events)
    values = progress + event_values
    runs = spin_runs(traj.actions)
    for a, b in runs:
        values[a:b] = SPIN_VALUE + event_values[a:b]
    d0 = max(finite[0], 1.0)
    potential = np.clip(1.0 - finite / d0, -1.0, 1.0)
    for t, events in enumerate(traj.events):
        if "entered:lava" in events:
            potential[t + 1:] = -1.0
    j = Judgement(traj.id, finite, progress, event_values, values, potential, tuple(runs), door_color,
                  tuple(key_colors))
    if len(_CACHE) > 50_000:
        _CACHE.clear()
    _CACHE[key] = j
    return j
