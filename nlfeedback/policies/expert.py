"""The expert: a BFS planner that solves every suite task, plus epsilon noise and human-visible blunders.

Each step the planner picks the next subgoal from the true grid — walk to the goal if a safe path
exists; otherwise open a closed door, or unlock a locked one with its key (fetching the key first and
putting down any other object) — and takes the first action of a shortest path to it. Lava is never
walked on by the plan.

Noise, applied only between blunders:

- ``epsilon``: probability of a uniformly random action (all seven actions) at a step.
- ``mistakes``: probability, at a step, of starting a blunder a person would notice and comment on:
  spinning in place (3–4 turns one way), bumping into a wall (1–2 times), a detour (1–2 cells the
  wrong way), dropping the carried key, going for the wrong object (a key of the wrong colour, on
  tasks that have one), and — on lava tasks, at a quarter of the weight — walking into adjacent lava.

``wrong_key_first``: fetch a key of no locked door's colour first (on tasks that have one), then put it down
and go on as the expert does — the run of an agent that learned a proxy key on a layout where the proxy
is wrong (the goal-misgeneralisation probe's reference runs, docs/probes.md).
"""

from __future__ import annotations

from collections import deque
from typing import Any

import numpy as np

from nlfeedback.envs.tasks import NUM_ACTIONS
from nlfeedback.policies.planner import (
    DIR_VEC,
    FORWARD,
    LEFT,
    RIGHT,
    bfs_first_action,
    face,
    find_cells,
    passable,
    reach,
)

PICKUP, DROP, TOGGLE = 3, 4, 5

BLUNDERS = ("spin", "bump", "detour", "drop", "wrong_object", "lava")


def _turns(current: int, wanted: int) -> list[int]:
    diff = (wanted - current) % 4
    return {0: [], 1: [RIGHT], 2: [RIGHT, RIGHT], 3: [LEFT]}[diff]


class ExpertPolicy:
    def __init__(self, epsilon: float = 0.0, mistakes: float = 0.0, wrong_key_first: bool = False) -> None:
        self.epsilon = float(epsilon)
        self.mistakes = float(mistakes)
        self.wrong_key_first = bool(wrong_key_first)
        self.label = "expert" if not (epsilon or mistakes) else f"expert(eps={epsilon:g},mistakes={mistakes:g})"
        if wrong_key_first:
            self.label += "+wrong-key-first"
        self._queue: deque[int] = deque()
        self._wrong_target: tuple[int, int] | None = None
        self.blunders: list[tuple[int, str]] = []  # (step index, blunder kind), for tests and debugging
        self._t = 0

    def reset(self, env: Any, rng: np.random.Generator) -> None:
        self._queue.clear()
        self._wrong_target = None
        self.blunders = []
        self._t = 0

    def act(self, env: Any, obs: dict[str, Any], rng: np.random.Generator) -> int:
        env = env.unwrapped
        t, self._t = self._t, self._t + 1
        if t == 0 and self.wrong_key_first and env.carrying is None:
            wrong = self._distractors(env)
            self._wrong_target = wrong[0] if wrong else None
        if self._wrong_target is not None:
            action = self._pursue_wrong_object(env)
            if action is not None:
                return action
        if self._queue:
            return self._queue.popleft()
        if self.epsilon and rng.random() < self.epsilon:
            return int(rng.integers(NUM_ACTIONS))
        if self.mistakes and rng.random() < self.mistakes:
            kind = self._start_blunder(env, rng)
            if kind is not None:
                self.blunders.append((t, kind))
                if self._wrong_target is not None:
                    action = self._pursue_wrong_object(env)
                    if action is not None:
                        return action
                if self._queue:
                    return self._queue.popleft()
        return self.plan(env, rng)

    # --- the plan -----------------------------------------------------------------------------
    def plan(self, env: Any, rng: np.random.Generator) -> int:
        grid = env.grid
        goals = find_cells(env, "goal")
        for goal in goals:
            action = bfs_first_action(env, reach(goal))
            if action is not None and action >= 0:
                return action
        carrying = env.carrying
        closed = [p for p in find_cells(env, "door") if not grid.get(*p).is_open]
        for pos in closed:
            door = grid.get(*pos)
            has_key = carrying is not None and carrying.type == "key" and carrying.color == door.color
            if not door.is_locked or has_key:
                action = bfs_first_action(env, face(pos))
                if action == -1:
                    return TOGGLE
                if action is not None:
                    return action
        for pos in closed:
            door = grid.get(*pos)
            if not door.is_locked:
                continue
            if carrying is not None and not (carrying.type == "key" and carrying.color == door.color):
                return self._put_down(env)
            for key in find_cells(env, "key", door.color):
                action = bfs_first_action(env, face(key))
                if action == -1:
                    return PICKUP
                if action is not None:
                    return action
        # Something we dropped may block the only way: walk through objects, lifting them if needed.
        for goal in goals:
            action = bfs_first_action(env, reach(goal), objects_passable=True)
            if action is not None and action >= 0:
                front = grid.get(*env.front_pos)
                if action == FORWARD and front is not None and front.type in ("key", "ball", "box"):
                    return PICKUP if carrying is None else self._put_down(env)
                return action
        return int(rng.integers(3))

    def _put_down(self, env: Any) -> int:
        """Drop the carried object where it blocks no door; otherwise turn and look elsewhere."""
        fx, fy = (int(v) for v in env.front_pos)
        if env.grid.get(fx, fy) is None and not self._next_to_door(env, (fx, fy)):
            return DROP
        return LEFT

    @staticmethod
    def _next_to_door(env: Any, pos: tuple[int, int]) -> bool:
        for dx, dy in DIR_VEC:
            c = env.grid.get(pos[0] + dx, pos[1] + dy)
            if c is not None and c.type == "door":
                return True
        return False

    # --- blunders -----------------------------------------------------------------------------
    def _start_blunder(self, env: Any, rng: np.random.Generator) -> str | None:
        x, y, d = int(env.agent_pos[0]), int(env.agent_pos[1]), int(env.agent_dir)
        neighbours = []
        for k, (dx, dy) in enumerate(DIR_VEC):
            neighbours.append((k, env.grid.get(x + dx, y + dy)))
        options: list[tuple[float, str]] = [(1.0, "spin")]
        walls = [k for k, c in neighbours if c is not None and c.type == "wall"]
        free = [k for k, c in neighbours if passable(c)]
        lava = [k for k, c in neighbours if c is not None and c.type == "lava"]
        if walls:
            options.append((1.0, "bump"))
        if free:
            options.append((1.0, "detour"))
        front = env.grid.get(*env.front_pos)
        if env.carrying is not None and front is None:
            options.append((1.0, "drop"))
        if env.carrying is None and self._distractors(env):
            options.append((1.0, "wrong_object"))
        if lava:
            options.append((0.25, "lava"))
        weights = np.array([w for w, _ in options])
        kind = options[int(rng.choice(len(options), p=weights / weights.sum()))][1]
        if kind == "spin":
            turn = LEFT if rng.random() < 0.5 else RIGHT
            self._queue.extend([turn] * int(rng.integers(3, 5)))
        elif kind == "bump":
            k = walls[int(rng.integers(len(walls)))]
            self._queue.extend(_turns(d, k) + [FORWARD] * int(rng.integers(1, 3)))
        elif kind == "detour":
            k = free[int(rng.integers(len(free)))]
            steps = [FORWARD]
            dx, dy = DIR_VEC[k]
            if passable(env.grid.get(x + 2 * dx, y + 2 * dy)) and rng.random() < 0.5:
                steps.append(FORWARD)
            self._queue.extend(_turns(d, k) + steps)
        elif kind == "drop":
            self._queue.append(DROP)
        elif kind == "wrong_object":
            targets = self._distractors(env)
            self._wrong_target = targets[int(rng.integers(len(targets)))]
        elif kind == "lava":
            k = lava[int(rng.integers(len(lava)))]
            self._queue.extend(_turns(d, k) + [FORWARD])
        return kind

    @staticmethod
    def _distractors(env: Any) -> list[tuple[int, int]]:
        """Keys whose colour matches no locked door (only on tasks with a locked door)."""
        door_colors = {env.grid.get(*p).color for p in find_cells(env, "door") if env.grid.get(*p).is_locked}
        if not door_colors:
            return []
        return [p for p in find_cells(env, "key") if env.grid.get(*p).color not in door_colors]

    def _pursue_wrong_object(self, env: Any) -> int | None:
        target = self._wrong_target
        cell = env.grid.get(*target) if target is not None else None
        if cell is None or cell.type != "key" or env.carrying is not None:
            self._wrong_target = None
            return None
        action = bfs_first_action(env, face(target))
        if action == -1:
            self._wrong_target = None
            return PICKUP
        if action is None:
            self._wrong_target = None
        return action
