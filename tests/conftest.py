from __future__ import annotations

import json
from pathlib import Path

import pytest

from nlfeedback.envs import get_task
from nlfeedback.policies import make_policy
from nlfeedback.rollout import rollout
from nlfeedback.trajectory import Trajectory, write_trajectories


@pytest.fixture(scope="session")
def doorkey_trajectories() -> list[Trajectory]:
    return list(rollout(get_task("doorkey-5x5"), make_policy("expert", epsilon=0.1, mistakes=0.2), 12, seed=3))


@pytest.fixture(scope="session")
def lava_episode() -> Trajectory:
    """A lavagap-5 episode of more than five steps that ends in the lava."""
    from nlfeedback.envs import get_task
    from nlfeedback.policies import make_policy
    from nlfeedback.rollout import rollout

    for t in rollout(get_task("lavagap-5"), make_policy("expert", mistakes=0.3), 200, seed=5):
        if any("entered:lava" in e for e in t.events) and len(t) > 5:
            return t
    raise AssertionError("no lava episode")


@pytest.fixture(scope="module")
def lava_traj():
    """A lavagap-5 episode of more than three steps that enters the lava (one per test module)."""
    task = get_task("lavagap-5")
    for t in rollout(task, make_policy("expert", mistakes=0.3), 200, seed=5):
        if any("entered:lava" in e for e in t.events) and len(t) > 3:
            return t
    raise AssertionError("no lava episode")


@pytest.fixture
def traj_file(tmp_path: Path, doorkey_trajectories: list[Trajectory]) -> Path:
    path = tmp_path / "trajectories.jsonl"
    write_trajectories(path, doorkey_trajectories)
    return path


def write_lines(path: Path, records: list[dict | str]) -> Path:
    with open(path, "w", encoding="utf-8") as fh:
        for r in records:
            fh.write((r if isinstance(r, str) else json.dumps(r)) + "\n")
    return path


@pytest.fixture(autouse=True, scope="session")
def _ctrl_c_as_a_terminal_delivers_it():
    """A shell that starts a job in the background (`cmd &`, CI runners) hands it SIGINT *ignored*, and an
    ignored SIGINT stays ignored in every child: Ctrl-C could then never reach the commands the signal
    tests start. Catching it here (Python's own handler) gives this process and its children the default
    disposition, as under a terminal."""
    import signal

    if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
        signal.signal(signal.SIGINT, signal.default_int_handler)
    yield
