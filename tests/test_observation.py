"""The direct partial view (nlfeedback.envs.observation) against MiniGrid's own gen_obs, array for array."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest
from minigrid.minigrid_env import MiniGridEnv

from nlfeedback.envs.observation import DirectView, agent_view, grid_encoding, use_fast_view
from nlfeedback.envs.tasks import SUITE
from nlfeedback.policies.base import make_policy


def _minigrid_view(env) -> np.ndarray:
    return MiniGridEnv.gen_obs(env.unwrapped)["image"]


@pytest.mark.parametrize("task", SUITE, ids=lambda t: t.name)
def test_the_direct_view_is_minigrids_view_on_every_task(task):
    env = task.make_env()
    base = env.unwrapped
    assert isinstance(base.gen_obs, DirectView)  # make_env installed the direct view
    rng = np.random.default_rng(0)
    seen = {"directions": set(), "carrying": 0, "edge": 0, "unseen": 0}
    for episode in range(12):
        policy = make_policy("expert", epsilon=0.3 if episode % 2 else 0.0)
        obs, _ = env.reset(seed=1000 + episode)
        policy.reset(env, rng)
        for _ in range(120):
            mine = obs["image"]
            theirs = _minigrid_view(env)
            assert mine.dtype == theirs.dtype and mine.shape == theirs.shape
            np.testing.assert_array_equal(mine, theirs)
            np.testing.assert_array_equal(grid_encoding(env), base.grid.encode())
            seen["directions"].add(base.agent_dir)
            seen["carrying"] += base.carrying is not None
            seen["unseen"] += int((mine[..., 0] == 0).any())
            top_x, top_y, bot_x, bot_y = base.get_view_exts()
            seen["edge"] += top_x < 0 or top_y < 0 or bot_x > base.width or bot_y > base.height
            action = policy.act(env, obs, rng) if rng.random() > 0.4 else int(rng.integers(0, 6))
            obs, _r, term, trunc, _ = env.step(action)
            if term or trunc:
                break
    assert seen["directions"] == {0, 1, 2, 3} and seen["edge"] > 0
    if task.has_door:
        assert seen["carrying"] > 0 and seen["unseen"] > 0  # keys carried; walls and closed doors occlude


@pytest.mark.parametrize("kwargs", [{"see_through_walls": True}, {"agent_view_size": 3}, {"agent_view_size": 5},
                                    {"agent_view_size": 9}], ids=str)
def test_the_direct_view_follows_the_envs_view_settings(kwargs):
    env = use_fast_view(gym.make("MiniGrid-DoorKey-8x8-v0", disable_env_checker=True, **kwargs))
    rng = np.random.default_rng(1)
    for seed in range(3):
        obs, _ = env.reset(seed=seed)
        for _ in range(60):
            np.testing.assert_array_equal(obs["image"], _minigrid_view(env))
            obs, _r, term, trunc, _ = env.step(int(rng.integers(0, 6)))
            if term or trunc:
                break
    assert obs["image"].shape == (env.unwrapped.agent_view_size,) * 2 + (3,)


def test_an_env_with_the_direct_view_still_copies_and_pickles():
    import copy
    import pickle

    env = SUITE[0].make_env()
    env.reset(seed=5)
    for twin in (copy.deepcopy(env).unwrapped, pickle.loads(pickle.dumps(env.unwrapped))):
        assert isinstance(twin.gen_obs, DirectView) and twin.gen_obs.env is twin
        np.testing.assert_array_equal(twin.gen_obs()["image"], _minigrid_view(env))
