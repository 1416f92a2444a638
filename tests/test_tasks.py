from __future__ import annotations

import pytest

from nlfeedback.envs import SUITE, get_task, task_names
from nlfeedback.envs.tasks import Task
from nlfeedback.errors import UnknownTask

REQUIRED = {"doorkey-5x5", "doorkey-6x6", "lavagap-5", "lavagap-7", "empty-6x6", "lavacrossing-9", "keys-distractor"}


def test_suite_has_the_required_tasks():
    assert REQUIRED <= set(task_names())


@pytest.mark.parametrize("task", SUITE, ids=lambda t: t.name)
def test_resolvable_by_name_and_gym_id_and_documented(task):
    assert get_task(task.name) == get_task(task.env_id)
    doc = type(task).__doc__ or ""
    for row in ("Mission", "Actions", "Rewards", "Termination"):
        assert f"| {row} |" in doc
    env = task.make_env()
    obs, _ = env.reset(seed=0)
    assert obs["image"].shape == (7, 7, 3)
    env.close()


def test_unknown_task_lists_the_valid_names():
    with pytest.raises(UnknownTask) as err:
        get_task("doorkey-99")
    for name in REQUIRED:
        assert name in str(err.value)


def test_keys_distractor_layout():
    task = get_task("keys-distractor")
    for seed in range(30):
        env = task.make_env()
        env.reset(seed=seed)
        u = env.unwrapped
        cells = [u.grid.get(x, y) for x in range(u.grid.width) for y in range(u.grid.height)]
        keys = [c for c in cells if c is not None and c.type == "key"]
        doors = [c for c in cells if c is not None and c.type == "door"]
        assert len(keys) == 2 and keys[0].color != keys[1].color
        assert len(doors) == 1 and doors[0].is_locked
        assert doors[0].color in {k.color for k in keys}
        assert doors[0].color in u.mission
        env.close()


def test_env_kwargs_override():
    task = get_task("doorkey-5x5", {"max_steps": 20})
    assert isinstance(task, Task) and task.make_env().unwrapped.max_steps == 20


@pytest.mark.parametrize("task", task_names())
def test_every_task_passes_gymnasiums_env_checker(task):
    """`check_env` on the raw env, and `gym.make` with the passive checker on: one reset and a few steps,
    with every warning an error (a mission outside its MissionSpace makes the observation invalid)."""
    import warnings

    import gymnasium as gym
    from gymnasium.utils.env_checker import check_env

    t = get_task(task)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        env = gym.make(t.env_id, **t.env_kwargs)  # the env checker is on by default
        obs, _ = env.reset(seed=3)
        assert env.observation_space.contains(obs)
        for a in (0, 2, 1, 2, 5):
            obs, *_ = env.step(a)
            assert env.observation_space.contains(obs)
        check_env(env.unwrapped, skip_render_check=True)
        env.close()
