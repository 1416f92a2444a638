"""The ground truth critics judge by: a progress potential over subgoals plus event values.

Agents are scored by the task's own sparse reward (``true_return``). Critics, like a person watching,
judge by **task progress**. For every suite task the judgement is the same, documented rule:

* ``steps_to_go[t]``: the fewest actions an optimal agent would still need from the state before step
  ``t`` (``t = T``: the final state) to reach the goal, found by breadth-first search over
  ``(x, y, direction, has the door's key, door open)``: walk around walls, objects and lava, pick up
  the key that matches a locked door, toggle the door open, walk to the goal. Carrying a wrong object
  costs one extra action (putting it down). (In this array a state with no path — lava, a dropped key
  blocking the way — shows the last finite value; progress does not read it, see ``distance``.)
* ``distance[t]``: the steps-to-go the progress potential is built on, a function of the state alone.
  It is ``steps_to_go`` where that is finite; where another object (a dropped key, the distractor)
  blocks every path it is the steps-to-go with objects treated as passable, plus one action (picking
  the object up); it is capped at the layout's *floor* ``D`` = 1 + the largest steps-to-go of any state
  the BFS can reach from the layout's start. Standing in lava is ``D``: no state is worse.
* ``progress[t] = Φ(s[t+1]) − Φ(s[t])`` with the potential ``Φ(s) = −distance(s) / PROGRESS_SCALE``,
  i.e. ``(distance[t] − distance[t+1]) / PROGRESS_SCALE``. The scale is one action
  (``PROGRESS_SCALE = 1``): +1 for an optimal action (no move, turn or toggle gains more), 0 for a
  wasted one, −(the actions it takes to undo it) for a step that undoes progress (−1 for turning away
  or dropping the needed key, −3 for stepping away along a one-cell corridor), ``−(D − distance)`` for
  stepping into lava. Dropping an object where it blocks the short way costs the detour it forces, and
  picking it up again gains as much (up to 5 on the suite's small layouts). Progress is **not**
  clipped: clipped differences of a potential do not telescope, and a loop of such steps can pay
  (issue 27: walking to and fro in a corridor earned +1/3 a step).
  Being an exact potential difference, progress sums to ``Φ(end) − Φ(start)`` over any stretch of
  steps and to zero around any closed loop of states; every step is bounded by the floor,
  ``|progress| ≤ D / PROGRESS_SCALE``.
* ``event_values[t]``: what a person adds for what they see (table :data:`EVENT_VALUES`), e.g. −2 for
  stepping into lava, −0.5 for bumping into a wall, +0.5 for picking up the right key, +1 for the goal.
  The positive ones cannot be farmed by undoing and redoing them: the right key is worth +0.5 only
  while the door is still locked, exactly what dropping it then costs (−0.5); opening the door (+0.25)
  is undone by closing it (−0.5); unlocking cannot be undone and the goal ends the episode.
* A run of three or more consecutive turns is *spinning*: each of its steps is worth −0.5 (instead of
  the progress that individual turns would show; over a whole run that is never more than they show).
* ``values[t] = progress[t] + event_values[t]`` (or the spin value): the judged worth of step ``t``.
  So the judged value of any stretch is the potential it gained plus its events, and a loop of states
  is worth only its events, which around a loop can only cost: wall bumps, spins, wasted actions,
  closing the door (the tests search every reachable state graph of small layouts for a loop of
  positive value and find none).
* ``potential[t] = 1 - steps_to_go[t] / steps_to_go[0]`` clipped to [−1, 1]: 0 at the start, 1 at the
  goal; after stepping into lava it is −1. This is the task-progress curve that sketches draw.

| term | worth |
|---|---|
| progress: an optimal action (move, turn, picking up the door's key, unlocking) | +1 |
| progress: an action that changes nothing (bump, pointless pickup/drop/toggle, done) | 0 |
| progress: undoing progress | −(the actions needed to undo it): −1 turning away, −3 stepping away in a corridor |
| progress: stepping into lava | −(D − distance) |
| event: reached the goal / stepped into lava | +1 / −2 |
| event: picked up the right key while the door is locked / dropped it while the door is locked | +0.5 / −0.5 |
| event: unlocked the door / opened it / closed it | +0.5 / +0.25 / −0.5 |
| event: wrong object picked up, wall or door bump, locked door tried | −0.5 each |
| event: wasted action (done, toggling/picking up/dropping nothing) | −0.25 |
| event: timeout | −1 |
| spinning (≥ 3 turns in a row) | −0.5 per step instead of the turns' progress |

The same judgement also provides the dense ground-truth shaping used later for reward metrics.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from nlfeedback.policies.planner import DIR_VEC
from nlfeedback.trajectory import Trajectory, checked_replay_steps, replay_key


# Value a watching person attaches to an event, on top of the progress the step made.
EVENT_VALUES: dict[str, float] = {
    "reached:goal": 1.0,
    "entered:lava": -2.0,
    "picked_up:right_key": 0.5,  # only while the door is still locked (the key is still needed)
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
# Steps-to-go per unit of progress: Φ(s) = −distance(s) / PROGRESS_SCALE. One action, so that an
# optimal action is worth +1, the most any action the BFS models can gain.
PROGRESS_SCALE = 1.0

_Node = tuple[int, int, int, bool, bool]  # (x, y, direction, has the door's key, door open)


class _Layout:
    """The BFS's view of an env's current state: free cells, the locked door, its key, the goal."""

    def __init__(self, env: Any, *, objects_passable: bool = False) -> None:
        grid = env.grid
        self.width, self.height = grid.width, grid.height
        goal = door = key_pos = None
        door_locked = False
        self.open: set[tuple[int, int]] = set()  # cells that are walkable whatever the agent holds
        for y in range(grid.height):
            for x in range(grid.width):
                c = grid.get(x, y)
                if c is None:
                    self.open.add((x, y))
                    continue
                if c.type == "goal":
                    goal = (x, y)
                    self.open.add((x, y))
                elif c.type == "door":
                    if door is None and not c.is_open:
                        door, door_locked = (x, y), c.is_locked
                    if c.is_open:
                        self.open.add((x, y))
                elif objects_passable and c.type in ("key", "ball", "box"):
                    self.open.add((x, y))
        self.goal, self.door, self.door_locked = goal, door, door_locked
        carrying = env.carrying
        self.extra = 0
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
                    self.extra = 1  # put the wrong object down first
        self.key_pos = key_pos
        ax, ay = int(env.agent_pos[0]), int(env.agent_pos[1])
        here = grid.get(ax, ay)
        self.in_lava = here is not None and here.type == "lava"
        self.start: _Node = (ax, ay, int(env.agent_dir), has_key, door is None)

    def free(self, x: int, y: int, k: bool, o: bool) -> bool:
        if (x, y) == self.door:
            return o
        if (x, y) == self.key_pos:
            return k
        return (x, y) in self.open

    def successors(self, node: _Node) -> list[_Node]:
        x, y, d, k, o = node
        dx, dy = DIR_VEC[d]
        fx, fy = x + dx, y + dy
        nexts = [(x, y, (d - 1) % 4, k, o), (x, y, (d + 1) % 4, k, o)]
        if 0 <= fx < self.width and 0 <= fy < self.height and self.free(fx, fy, k, o):
            nexts.append((fx, fy, d, k, o))
        if not k and (fx, fy) == self.key_pos:
            nexts.append((x, y, d, True, o))
        if not o and (fx, fy) == self.door and (k or not self.door_locked):
            nexts.append((x, y, d, k, True))
        return nexts

    def steps_to_go(self) -> float:
        """Fewest actions from the start node to the goal (``inf`` when there is no path)."""
        if self.goal is None or self.in_lava:
            return float("inf")
        start = self.start
        if (start[0], start[1]) == self.goal:
            return 0.0
        seen = {start}
        queue: deque[tuple[_Node, int]] = deque([(start, 0)])
        while queue:
            node, dist = queue.popleft()
            for s in self.successors(node):
                if s in seen:
                    continue
                if (s[0], s[1]) == self.goal:
                    return float(dist + 1 + self.extra)
                seen.add(s)
                queue.append((s, dist + 1))
        return float("inf")

    def largest_steps_to_go(self) -> float:
        """The largest finite steps-to-go of any node reachable from the start (0 if none)."""
        if self.goal is None or self.in_lava:
            return 0.0
        # every node reachable from the start, and who leads to whom (goal nodes end the episode)
        seen = {self.start}
        preds: dict[_Node, list[_Node]] = {}
        queue: deque[_Node] = deque([self.start])
        goals: list[_Node] = []
        while queue:
            node = queue.popleft()
            if (node[0], node[1]) == self.goal:
                goals.append(node)
                continue
            for s in self.successors(node):
                preds.setdefault(s, []).append(node)
                if s not in seen:
                    seen.add(s)
                    queue.append(s)
        # backwards from the goal
        dist = {g: 0 for g in goals}
        back: deque[_Node] = deque(goals)
        while back:
            node = back.popleft()
            for p in preds.get(node, ()):
                if p not in dist:
                    dist[p] = dist[node] + 1
                    back.append(p)
        return float(max(dist.values(), default=-self.extra) + self.extra)


def steps_to_go(env: Any) -> float:
    """Fewest actions from the env's current state to the goal (``inf`` when unreachable)."""
    return _Layout(env.unwrapped).steps_to_go()


def layout_floor(env: Any) -> float:
    """The floor ``D`` of the env's layout, read in its starting state: 1 + the largest steps-to-go of any
    state the BFS reaches from there (agent anywhere it can go, key held or not, door open or not).
    Lava counts as ``D`` and every other distance is capped at it."""
    return _Layout(env.unwrapped).largest_steps_to_go() + 1.0


def judged_distance(env: Any, floor: float, togo: float | None = None) -> float:
    """``distance`` of the env's current state (see the module docstring); ``togo``: its
    :func:`steps_to_go`, if already known."""
    env = env.unwrapped
    if togo is None or not np.isfinite(togo):  # (a finite steps-to-go is never in lava)
        layout = _Layout(env)
        if layout.in_lava:
            return floor
        togo = layout.steps_to_go()
        if not np.isfinite(togo):
            togo = _Layout(env, objects_passable=True).steps_to_go() + 1.0
    return float(min(togo, floor))


def locked_door_color(env: Any) -> str | None:
    """The colour of the layout's first locked door, scanning rows top to bottom (``None``: no locked door)."""
    grid = env.unwrapped.grid
    return next((c.color for y in range(grid.height) for x in range(grid.width)
                 if (c := grid.get(x, y)) is not None and c.type == "door" and c.is_locked), None)


def door_locked(env: Any) -> bool:
    """Whether some door is still locked (so a carried key of its colour is still needed)."""
    grid = env.unwrapped.grid
    return any((c := grid.get(x, y)) is not None and c.type == "door" and c.is_locked
               for y in range(grid.height) for x in range(grid.width))


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
    distance: np.ndarray  # (T+1,) what progress is the potential difference of: Φ = −distance / PROGRESS_SCALE
    floor: float  # D: lava's distance and every distance's cap
    # (T+1, 5) int: the agent's x, y, heading (0..3: east, south, west, north) in each state, and the grid's
    # width and height (outer wall included)
    poses: np.ndarray = field(default_factory=lambda: np.zeros((0, 5), np.int64))

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


def event_value(event: str, door_color: str | None, needed_key: bool) -> float:
    """The value of one event (table :data:`EVENT_VALUES`). ``door_color``: the layout's locked door's colour
    (``None``: no locked door); ``needed_key``: whether a door was still locked before the step."""
    verb, _, rest = event.partition(":")
    if event == "reached:goal":
        return EVENT_VALUES["reached:goal"]
    if event == "entered:lava":
        return EVENT_VALUES["entered:lava"]
    if verb == "picked_up":
        color = rest.split(":")[-1]
        if door_color is not None and rest.startswith("key") and color == door_color:
            return EVENT_VALUES["picked_up:right_key"] if needed_key else 0.0
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


_CACHE: dict[tuple[object, ...], Judgement] = {}


def judge(traj: Trajectory) -> Judgement:
    """Replay ``traj`` (checked against its ``obs_digest``) and compute its judgement (cached per record content)."""
    key = replay_key(traj)
    if key in _CACHE:
        return _CACHE[key]
    togo: list[float] = []
    dist: list[float] = []
    door_color: str | None = None
    key_colors: list[str] = []
    needed_at: list[bool] = []
    poses: list[tuple[int, int, int, int, int]] = []
    floor = 0.0
    for st in checked_replay_steps(traj):
        env = st.env.unwrapped
        if st.step == 0:
            door_color = locked_door_color(env)
            key_colors = [c.color for y in range(env.grid.height) for x in range(env.grid.width)
                          if (c := env.grid.get(x, y)) is not None and c.type == "key"]
            floor = layout_floor(env)
        togo.append(steps_to_go(env))
        dist.append(judged_distance(env, floor, togo[-1]))
        # was the door still locked (so a carried key was still needed) in this state?
        needed_at.append(door_locked(env))
        poses.append((int(env.agent_pos[0]), int(env.agent_pos[1]), int(env.agent_dir), env.grid.width, env.grid.height))
    T = len(traj)
    d = np.array(togo, dtype=np.float64)
    big = 4.0 * (max(d[np.isfinite(d)], default=0.0) + 10.0)
    finite = np.where(np.isfinite(d), d, np.nan)
    # the steps_to_go array shows a state with no path (lava, a dead end) as the last finite value
    for t in range(1, T + 1):
        if np.isnan(finite[t]):
            finite[t] = finite[t - 1] if not np.isnan(finite[t - 1]) else big
    if np.isnan(finite[0]):
        finite[0] = big
    distance = np.array(dist, dtype=np.float64)
    progress = (distance[:-1] - distance[1:]) / PROGRESS_SCALE
    event_values = np.zeros(T)
    for t, events in enumerate(traj.events):
        event_values[t] = sum(event_value(e, door_color, needed_at[t]) for e in events)
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
                  tuple(key_colors), distance, floor, np.array(poses, np.int64).reshape(-1, 5))
    if len(_CACHE) > 50_000:
        _CACHE.clear()
    _CACHE[key] = j
    return j
