"""Trajectory records (``nlf.trajectory/1``), their JSONL store, and deterministic replay.

Observations are not stored: MiniGrid is deterministic given env id, kwargs, seed and actions, so
:func:`replay` rebuilds them, and ``obs_digest`` (SHA-256 over every observation's image and
direction) proves the rebuild matches. A mismatch, e.g. after a minigrid upgrade, raises
:class:`ReplayMismatch` naming the trajectory and the first step that differs.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, model_validator

from nlfeedback.envs.events import EventTracker
from nlfeedback.envs.tasks import NUM_ACTIONS, check_env_settings, task_for_env_id
from nlfeedback.errors import NlfError, ReplayMismatch
from nlfeedback.jsonl import JsonlWriter, ReadResult, read_records

TRAJECTORY_SCHEMA = "nlf.trajectory/1"

Action = Annotated[int, Field(ge=0, le=NUM_ACTIONS - 1)]


class Trajectory(BaseModel):
    """One episode. All per-step lists have one entry per action (length ``T >= 1``)."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True, allow_inf_nan=False,
                              populate_by_name=True)

    schema_: Literal["nlf.trajectory/1"] = Field(TRAJECTORY_SCHEMA, alias="schema")
    id: str = Field(min_length=1, max_length=200)
    env_id: str = Field(min_length=1)
    env_kwargs: dict[str, Any] = Field(default_factory=dict)
    seed: int = Field(ge=0, lt=2**63)
    policy: str
    actions: list[Action] = Field(min_length=1)
    rewards: list[float]
    terminated: bool
    truncated: bool
    events: list[list[str]]
    captions: list[str]
    obs_digest: str = Field(pattern=r"^sha256:[0-9a-f]{64}$")

    @model_validator(mode="after")
    def _lengths_agree(self) -> Trajectory:
        n = len(self.actions)
        for name in ("rewards", "events", "captions"):
            if len(getattr(self, name)) != n:
                raise ValueError(f"field '{name}': {len(getattr(self, name))} entries but 'actions' has {n}")
        check_env_settings(self.env_id, self.env_kwargs)  # before anything hands them to gym.make
        return self

    # --- derived quantities -------------------------------------------------------------------
    def __len__(self) -> int:
        return len(self.actions)

    @property
    def true_return(self) -> float:
        """The task's own (sparse) return: the sum of the recorded rewards."""
        return float(sum(self.rewards))

    @property
    def success(self) -> bool:
        """Reached the goal (MiniGrid only rewards reaching the goal)."""
        return any("reached:goal" in ev for ev in self.events)

    def to_json(self) -> dict[str, Any]:
        return self.model_dump(by_alias=True, mode="json")


def parse_trajectory(value: dict[str, Any]) -> Trajectory:
    return Trajectory.model_validate(value)


def read_trajectories(path: str | Path, *, skip_invalid: bool = False) -> ReadResult[Trajectory]:
    """Read and validate a trajectory file; duplicate ids are errors. See :func:`nlfeedback.jsonl.read_records`."""
    return read_records(path, parse_trajectory, schema=TRAJECTORY_SCHEMA, skip_invalid=skip_invalid,
                        key=lambda t: t.id)


def load_trajectories(path: str | Path) -> dict[str, Trajectory]:
    """All trajectories of a file by id (stops at the first bad line)."""
    return {t.id: t for t in read_trajectories(path).records}


def write_trajectories(path: str | Path, trajectories: Iterable[Trajectory]) -> int:
    """Append trajectories to ``path``; returns how many were written."""
    with JsonlWriter(path) as w:
        for t in trajectories:
            w.write(t.to_json())
        return w.count


class ObsDigest:
    """Running SHA-256 over a sequence of MiniGrid observations (image bytes + direction)."""

    def __init__(self) -> None:
        self._h = hashlib.sha256()

    def update(self, obs: dict[str, Any]) -> None:
        image = obs["image"]
        self._h.update(np.ascontiguousarray(image, dtype=np.uint8).tobytes())
        self._h.update(bytes((int(obs["direction"]),)))

    def hexdigest(self) -> str:
        return "sha256:" + self._h.hexdigest()


def make_trajectory_id(env_id: str, env_kwargs: dict[str, Any], seed: int, policy: str,
                       actions: list[int]) -> str:
    """A content id: the same env, seed, policy label and actions give the same id."""
    h = hashlib.sha256(repr((env_id, sorted(env_kwargs.items()), seed, policy, actions)).encode())
    return "traj-" + h.hexdigest()[:16]


@dataclass(frozen=True)
class ReplayStep:
    """State after ``step`` actions (``step == 0`` is the reset): the live env and its observation."""

    step: int
    env: Any
    obs: dict[str, Any]
    reward: float
    events: list[str]
    caption: str
    terminated: bool = False
    truncated: bool = False


def replay_steps(traj: Trajectory, **env_overrides: Any) -> Iterator[ReplayStep]:
    """Rebuild the episode step by step. The same env object is yielded each time: copy what you keep.

    Does not check the digest (see :func:`replay`); ``env_overrides`` go to ``gym.make``
    (e.g. ``render_mode="rgb_array"`` for frames).
    """
    task = task_for_env_id(traj.env_id, traj.env_kwargs)
    env = EventTracker(task.make_env(**env_overrides))
    try:
        obs, _ = env.reset(seed=traj.seed)
        yield ReplayStep(0, env, obs, 0.0, [], "start")
        for i, action in enumerate(traj.actions, start=1):
            obs, reward, terminated, truncated, info = env.step(action)
            yield ReplayStep(i, env, obs, float(reward), info["events"], info["caption"],
                             bool(terminated), bool(truncated))
            if (terminated or truncated) and i < len(traj.actions):
                raise ReplayMismatch(
                    f"trajectory {traj.id}: episode ended at step {i} of {len(traj.actions)} on replay"
                )
    finally:
        env.close()


def replay_key(traj: Trajectory) -> tuple[Any, ...]:
    """What a replay depends on (env, kwargs, seed, actions) and the digest it must give: a cache key that
    an edited record cannot share with the original."""
    return (traj.env_id, tuple(sorted(traj.env_kwargs.items())), traj.seed, tuple(traj.actions), traj.obs_digest)


def checked_replay_steps(traj: Trajectory) -> Iterator[ReplayStep]:
    """:func:`replay_steps`, and once the whole episode is replayed, the check against ``obs_digest``:
    :class:`ReplayMismatch` when the record's actions, seed or env do not give the recorded observations.

    For replays that feed training or metrics; iterate to the end (the check comes after the last step).
    """
    digest = ObsDigest()
    for st in replay_steps(traj):
        digest.update(st.obs)
        yield st
    if digest.hexdigest() == traj.obs_digest:
        if len(_VERIFIED) > 200_000:
            _VERIFIED.clear()
        _VERIFIED.add(replay_key(traj))
    else:
        raise ReplayMismatch(
            f"trajectory {traj.id}: observation digest mismatch on replay (its actions, seed or env were changed "
            f"after it was recorded: recorded {traj.obs_digest[:19]}…, replayed {digest.hexdigest()[:19]}…); "
            "refusing to learn from or score it"
        )


_VERIFIED: set[tuple[Any, ...]] = set()  # replay keys whose replay gave the recorded digest


def check_digest(traj: Trajectory) -> None:
    """:class:`ReplayMismatch` unless replaying ``traj`` gives its ``obs_digest``. Cached by the record's
    content (shared with every :func:`checked_replay_steps`): each distinct record is replayed once."""
    if replay_key(traj) not in _VERIFIED:
        for _ in checked_replay_steps(traj):
            pass


def check_digests(path: str | Path, trajectories: Iterable[Trajectory]) -> None:
    """:func:`check_digest` on each, the error naming ``path`` (a file of replays that feed training or metrics)."""
    for traj in trajectories:
        try:
            check_digest(traj)
        except ReplayMismatch as e:
            raise ReplayMismatch(f"{path}: {e}") from None


@dataclass(frozen=True)
class Replayed:
    """Observations rebuilt by :func:`replay`: ``images`` is ``(T+1, 7, 7, 3)`` uint8, ``directions`` ``(T+1,)``."""

    trajectory: Trajectory
    images: np.ndarray
    directions: np.ndarray


def replay(traj: Trajectory) -> Replayed:
    """Rebuild every observation of ``traj`` and check it against ``obs_digest``, rewards and events."""
    digest = ObsDigest()
    images, directions = [], []
    try:
        for st in replay_steps(traj):
            digest.update(st.obs)
            images.append(np.array(st.obs["image"], dtype=np.uint8))
            directions.append(int(st.obs["direction"]))
            if st.step > 0:
                i = st.step - 1
                if abs(st.reward - traj.rewards[i]) > 1e-6 or st.events != traj.events[i]:
                    raise ReplayMismatch(
                        f"trajectory {traj.id}: step {i} replays as reward {st.reward:.4f}, events "
                        f"{st.events} but was recorded as {traj.rewards[i]:.4f}, {traj.events[i]}"
                    )
        if (st.terminated, st.truncated) != (traj.terminated, traj.truncated):
            raise ReplayMismatch(
                f"trajectory {traj.id}: replay ends with terminated={st.terminated}, truncated={st.truncated} "
                f"but the record says terminated={traj.terminated}, truncated={traj.truncated}"
            )
    except ReplayMismatch:
        raise
    except NlfError as e:
        raise ReplayMismatch(f"trajectory {traj.id}: cannot replay: {e}") from None
    if digest.hexdigest() != traj.obs_digest:
        raise ReplayMismatch(
            f"trajectory {traj.id}: observation digest mismatch on replay (actions, seed or env changed; "
            f"recorded {traj.obs_digest[:19]}…, replayed {digest.hexdigest()[:19]}…)"
        )
    return Replayed(traj, np.stack(images), np.array(directions, dtype=np.int64))
