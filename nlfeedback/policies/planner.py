"""Breadth-first planning over MiniGrid states ``(x, y, direction)`` with privileged access to the grid.

Used by the expert policy: shortest action sequences to stand on a cell or to face a cell.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from typing import Any

LEFT, RIGHT, FORWARD = 0, 1, 2
DIR_VEC = ((1, 0), (0, 1), (-1, 0), (0, -1))

State = tuple[int, int, int]


def passable(cell: Any, *, objects_passable: bool = False) -> bool:
    """Cells the planner may walk onto: empty, goal, open doors (never lava or walls)."""
    if cell is None:
        return True
    if cell.type == "goal":
        return True
    if cell.type == "door":
        return bool(cell.is_open)
    if objects_passable and cell.type in ("key", "ball", "box"):
        return True
    return False


def bfs_first_action(env: Any, goal_test: Callable[[State], bool], *, objects_passable: bool = False) -> int | None:
    """First action of a shortest path from the agent's state to a state passing ``goal_test``.

    Returns ``None`` when no such state is reachable, and ``-1`` when the agent already satisfies it.
    """
    env = env.unwrapped
    start: State = (int(env.agent_pos[0]), int(env.agent_pos[1]), int(env.agent_dir))
    if goal_test(start):
        return -1
    grid = env.grid
    first: dict[State, int] = {start: -1}
    queue: deque[State] = deque([start])
    while queue:
        state = queue.popleft()
        x, y, d = state
        dx, dy = DIR_VEC[d]
        successors = [((x, y, (d - 1) % 4), LEFT), ((x, y, (d + 1) % 4), RIGHT)]
        nx, ny = x + dx, y + dy
        if 0 <= nx < grid.width and 0 <= ny < grid.height and passable(grid.get(nx, ny), objects_passable=objects_passable):
            successors.append(((nx, ny, d), FORWARD))
        for nxt, action in successors:
            if nxt in first:
                continue
            first[nxt] = action if state == start else first[state]
            if goal_test(nxt):
                return first[nxt]
            queue.append(nxt)
    return None


def reach(target: tuple[int, int]) -> Callable[[State], bool]:
    """Goal test: standing on ``target``."""
    return lambda s: (s[0], s[1]) == target


def face(target: tuple[int, int]) -> Callable[[State], bool]:
    """Goal test: standing next to ``target`` and facing it."""
    return lambda s: (s[0] + DIR_VEC[s[2]][0], s[1] + DIR_VEC[s[2]][1]) == target


def find_cells(env: Any, kind: str, color: str | None = None) -> list[tuple[int, int]]:
    """Positions of every object of a type (and colour) in the grid."""
    grid = env.unwrapped.grid
    out = []
    for y in range(grid.height):
        for x in range(grid.width):
            c = grid.get(x, y)
            if c is not None and c.type == kind and (color is None or c.color == color):
                out.append((x, y))
    return out
