"""Pick one trajectory from a file by ``--id`` or ``--index`` (shared by ``nlf show`` and collectors)."""

from __future__ import annotations

from pathlib import Path

from nlfeedback.errors import NlfError
from nlfeedback.trajectory import Trajectory, read_trajectories


def select_trajectory(path: str | Path, *, traj_id: str | None = None, index: int | None = None) -> Trajectory:
    """The trajectory with ``traj_id``, or the ``index``-th record (0-based; default 0)."""
    records = read_trajectories(path).records
    if not records:
        raise NlfError(f"{path}: no trajectories in the file")
    if traj_id is not None and index is not None:
        raise NlfError("give --id or --index, not both")
    if traj_id is not None:
        for t in records:
            if t.id == traj_id:
                return t
        raise NlfError(f"{path}: no trajectory with id {traj_id!r}")
    i = 0 if index is None else index
    if not -len(records) <= i < len(records):
        raise NlfError(f"{path}: --index {i} out of range (the file has {len(records)} trajectories)")
    return records[i]
