"""A custom MiniGrid task: two keys of different colours, only one of which opens the locked door."""

from __future__ import annotations

from minigrid.core.constants import COLOR_NAMES
from minigrid.core.grid import Grid
from minigrid.core.mission import MissionSpace
from minigrid.core.world_object import Door, Goal, Key
from minigrid.minigrid_env import MiniGridEnv


class KeysDistractorEnv(MiniGridEnv):
    """
    ## Description

    Like DoorKey, but the left room holds **two keys of different colours**. Only the key whose colour
    matches the locked door opens it; the other is a distractor. Feedback must therefore name the right
    object ("the blue key, not the yellow one"). Neither key is ever placed in the only cell from which
    the door can be reached, so every layout is solvable without moving the distractor.

    ## Mission Space

    "pick up the {color} key, open the {color} door and get to the goal"

    ## Action Space

    | Num | Name    | Action                    |
    |-----|---------|---------------------------|
    | 0   | left    | Turn left                 |
    | 1   | right   | Turn right                |
    | 2   | forward | Move forward              |
    | 3   | pickup  | Pick up an object         |
    | 4   | drop    | Drop the carried object   |
    | 5   | toggle  | Toggle/activate an object |
    | 6   | done    | Unused                    |

    ## Rewards

    `1 - 0.9 * (step_count / max_steps)` for reaching the goal, `0` otherwise.

    ## Termination

    1. The agent reaches the goal.
    2. Timeout (`max_steps`, default `10 * size**2`).

    ## Registered Configurations

    - `NLF-KeysDistractor-7x7-v0`
    """

    def __init__(self, size: int = 7, max_steps: int | None = None, **kwargs) -> None:
        if size < 7:
            raise ValueError("KeysDistractorEnv needs size >= 7 (a left room at least two cells wide)")
        if max_steps is None:
            max_steps = 10 * size**2
        # the mission names the colour twice, so it has two placeholders (MissionSpace.contains finds two)
        mission_space = MissionSpace(
            mission_func=self._mission_text, ordered_placeholders=[COLOR_NAMES, COLOR_NAMES]
        )
        super().__init__(mission_space=mission_space, grid_size=size, max_steps=max_steps, **kwargs)

    @staticmethod
    def _mission_text(key_color: str, door_color: str) -> str:
        return f"pick up the {key_color} key, open the {door_color} door and get to the goal"

    @classmethod
    def _gen_mission(cls, color: str) -> str:
        return cls._mission_text(color, color)

    def _gen_grid(self, width: int, height: int) -> None:
        self.grid = Grid(width, height)
        self.grid.wall_rect(0, 0, width, height)
        self.put_obj(Goal(), width - 2, height - 2)

        split = self._rand_int(3, width - 2)
        self.grid.vert_wall(split, 0)
        door_row = self._rand_int(1, height - 1)
        door_color, distractor_color = self._rand_subset(COLOR_NAMES, 2)
        self.put_obj(Door(door_color, is_locked=True), split, door_row)
        self.door_color = door_color
        self.distractor_color = distractor_color

        self.place_agent(size=(split, height))
        front_of_door = (split - 1, door_row)

        def blocks_door(_env: MiniGridEnv, pos: tuple[int, int]) -> bool:
            return tuple(pos) == front_of_door

        self.place_obj(Key(door_color), top=(0, 0), size=(split, height), reject_fn=blocks_door)
        self.place_obj(Key(distractor_color), top=(0, 0), size=(split, height), reject_fn=blocks_door)
        self.mission = self._gen_mission(door_color)
