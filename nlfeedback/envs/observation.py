"""The agent's partial view, computed directly: the same arrays as MiniGrid's own ``gen_obs``, faster.

MiniGrid builds each observation by copying the view into a new ``Grid`` object, rotating it cell by cell
``agent_dir + 1`` times, running the occlusion pass over ``Grid.get`` and encoding it again: about 450
Python-level cell reads and writes and a dozen new objects per step. ``agent_view`` reads each cell of the
view once, through a table of where the view's cells lie for each facing (``view_offsets``), runs MiniGrid's
occlusion rule (``Grid.process_vis``) on a flat list of booleans and builds the array in one call.
``Task.make_env`` installs it on every environment it builds (``use_fast_view``: a picklable ``DirectView`` as the
instance's ``gen_obs``); a ``gym.make`` of the same id outside the toolkit keeps MiniGrid's own method.
``tests/test_observation.py`` checks the arrays are identical to MiniGrid's on random and expert runs of every
task, in every direction, carrying, beside open and closed doors and at the grid's edges.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

import numpy as np
from minigrid.core.constants import OBJECT_TO_IDX
from minigrid.core.world_object import Wall

EMPTY = (OBJECT_TO_IDX["empty"], 0, 0)
UNSEEN = (OBJECT_TO_IDX["unseen"], 0, 0)
WALL = Wall().encode()


@lru_cache(maxsize=None)
def view_offsets(size: int, direction: int) -> tuple[tuple[int, int], ...]:
    """Where each cell of the ``size × size`` view lies relative to the agent, facing ``direction``: the grid
    offsets ``(dx, dy)`` of view cells ``(x, y)`` in the order ``x * size + y``. MiniGrid's
    ``get_view_exts`` gives the view's corner and ``Grid.rotate_left`` (``direction + 1`` times;
    ``new[x, y] = old[size - 1 - y, x]``) turns it so the agent looks up the view from its bottom centre."""
    half = size // 2
    top = {0: (0, -half), 1: (-half, 0), 2: (-size + 1, -half), 3: (-half, -size + 1)}[direction]
    view = [[(top[0] + x, top[1] + y) for y in range(size)] for x in range(size)]
    for _ in range(direction + 1):
        view = [[view[size - 1 - y][x] for y in range(size)] for x in range(size)]
    return tuple(cell for column in view for cell in column)


def agent_cell(size: int) -> int:
    """The agent's own cell in a flat ``size × size`` view (``x * size + y``): bottom centre, ``(size // 2, size - 1)``."""
    return (size // 2) * size + size - 1


def _visible(opaque: list[bool], size: int) -> list[bool]:
    """MiniGrid's ``Grid.process_vis`` on a ``size × size`` view (flat, ``x * size + y``), the agent at
    ``(size // 2, size - 1)``: light spreads sideways along each row and one row forward, stopping at cells
    that block the view (which are themselves seen)."""
    mask = [False] * (size * size)
    mask[agent_cell(size)] = True
    for j in reversed(range(size)):
        for i in range(size - 1):
            k = i * size + j
            if not mask[k] or opaque[k]:
                continue
            mask[k + size] = True
            if j > 0:
                mask[k + size - 1] = True
                mask[k - 1] = True
        for i in reversed(range(1, size)):
            k = i * size + j
            if not mask[k] or opaque[k]:
                continue
            mask[k - size] = True
            if j > 0:
                mask[k - size - 1] = True
                mask[k - 1] = True
    return mask


def agent_view(env: Any) -> np.ndarray:
    """The agent's partial view ``(V, V, 3)`` exactly as MiniGrid's ``gen_obs()["image"]`` encodes it."""
    size = env.agent_view_size
    grid = env.grid
    cells, width, height = grid.grid, grid.width, grid.height  # cells row-major: index y * width + x
    ax, ay = env.agent_pos
    codes: list[tuple[int, int, int]] = []
    opaque: list[bool] = []
    for dx, dy in view_offsets(size, env.agent_dir):
        x, y = ax + dx, ay + dy
        if 0 <= x < width and 0 <= y < height:
            v = cells[y * width + x]
            if v is None:
                codes.append(EMPTY)
                opaque.append(False)
            else:
                codes.append(v.encode())
                opaque.append(not v.see_behind())
        else:  # outside the grid: walls, as Grid.slice fills them
            codes.append(WALL)
            opaque.append(True)
    if not env.see_through_walls:
        for k, seen in enumerate(_visible(opaque, size)):
            if not seen:
                codes[k] = UNSEEN
    codes[agent_cell(size)] = env.carrying.encode() if env.carrying else EMPTY
    return np.array(codes, dtype=np.uint8).reshape(size, size, 3)


def grid_encoding(env: Any) -> np.ndarray:
    """The whole grid's encoding ``(W, H, 3)``, exactly as MiniGrid's ``Grid.encode()`` (no mask) gives it."""
    grid = env.unwrapped.grid
    codes = [EMPTY if v is None else v.encode() for v in grid.grid]  # row-major: index y * width + x
    return np.array(codes, dtype=np.uint8).reshape(grid.height, grid.width, 3).transpose(1, 0, 2).copy()


class DirectView:
    """MiniGrid's ``gen_obs`` for one environment, through :func:`agent_view`: installed as the instance's
    ``gen_obs`` (a plain object, not a bound function, so the environment still pickles)."""

    def __init__(self, env: Any) -> None:
        self.env = env

    def __call__(self) -> dict[str, Any]:
        env = self.env
        return {"image": agent_view(env), "direction": env.agent_dir, "mission": env.mission}


def use_fast_view(env: Any) -> Any:
    """Install :class:`DirectView` as ``gen_obs`` on this environment (its MiniGrid base, under any wrappers), if
    it is MiniGrid's partial-view image; returns ``env``."""
    base = env.unwrapped
    if callable(getattr(base, "gen_obs", None)) and hasattr(base, "agent_view_size") and hasattr(base, "grid"):
        base.gen_obs = DirectView(base)
    return env
