"""A hand-built MiniGrid layout for event tests: every object an event can involve, in known places.

    x: 0 1 2 3 4 5 6
 y0:   W W W W W W W
 y1:   W A . K L . W     A agent (1,1) facing east; K yellow key; L locked yellow door
 y2:   W . V . W G W     V lava; G goal
 y3:   W B . . D . W     B blue key; D closed (unlocked) blue door
 y4:   W W W W W W W
"""

from __future__ import annotations

from minigrid.core.grid import Grid
from minigrid.core.mission import MissionSpace
from minigrid.core.world_object import Door, Goal, Key, Lava, Wall
from minigrid.minigrid_env import MiniGridEnv


class ScenarioEnv(MiniGridEnv):
    def __init__(self, max_steps: int = 100, **kwargs):
        super().__init__(mission_space=MissionSpace(mission_func=lambda: "test"), width=7, height=5,
                         max_steps=max_steps, see_through_walls=True, **kwargs)

    def _gen_grid(self, width, height):
        self.grid = Grid(width, height)
        self.grid.wall_rect(0, 0, width, height)
        self.put_obj(Key("yellow"), 3, 1)
        self.put_obj(Door("yellow", is_locked=True), 4, 1)
        self.put_obj(Lava(), 2, 2)
        self.put_obj(Wall(), 4, 2)
        self.put_obj(Goal(), 5, 2)
        self.put_obj(Key("blue"), 1, 3)
        self.put_obj(Door("blue", is_locked=False), 4, 3)
        self.agent_pos = (1, 1)
        self.agent_dir = 0
        self.mission = "test"
