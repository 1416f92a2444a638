"""A saved SB3 policy drives rollouts (`--policy checkpoint`)."""

from __future__ import annotations

import pytest
from minigrid.wrappers import ImgObsWrapper
from stable_baselines3 import PPO

from nlfeedback.envs import get_task
from nlfeedback.errors import NlfError
from nlfeedback.policies import make_policy
from nlfeedback.rollout import rollout
from nlfeedback.trajectory import replay


@pytest.mark.slow  # trains a model or runs PPO
def test_checkpoint_policy_rolls_out_and_replays(tmp_path):
    task = get_task("empty-6x6")
    model = PPO("MlpPolicy", ImgObsWrapper(task.make_env()), n_steps=64, batch_size=32, n_epochs=1, seed=0,
                device="cpu")
    model.learn(64)
    path = tmp_path / "policy.zip"
    model.save(path)
    policy = make_policy("checkpoint", checkpoint=str(path))
    trajs = list(rollout(task, policy, 2, seed=0))
    assert len(trajs) == 2 and trajs[0].policy == "checkpoint(policy.zip)"
    replay(trajs[0])


def test_bad_checkpoint_is_a_clear_error(tmp_path):
    bad = tmp_path / "bad.zip"
    bad.write_bytes(b"not a zip")
    with pytest.raises(NlfError, match="not a loadable"):
        make_policy("checkpoint", checkpoint=str(bad))
    with pytest.raises(NlfError, match="no such checkpoint"):
        make_policy("checkpoint", checkpoint=str(tmp_path / "missing.zip"))
