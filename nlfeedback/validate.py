"""Validate a trajectory file: every line against the schema, and a sample (or all) replayed."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from nlfeedback.errors import RecordError, ReplayMismatch
from nlfeedback.trajectory import read_trajectories, replay


@dataclass
class ValidationReport:
    path: Path
    valid: int = 0
    replayed: int = 0
    errors: list[RecordError] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors


def validate_trajectory_file(path: str | Path, *, replay_mode: str = "sample", sample: int = 20,
                             skip_invalid: bool = False, seed: int = 0) -> ValidationReport:
    """Check every record; replay ``sample`` random ones (``replay_mode="all"``: all, ``"none"``: none).

    Without ``skip_invalid`` the first bad line raises :class:`RecordError`; with it, all bad lines and
    replay mismatches are collected in the report.
    """
    if replay_mode not in ("sample", "all", "none"):
        raise ValueError(f"replay_mode must be sample, all or none, got {replay_mode!r}")
    result = read_trajectories(path, skip_invalid=skip_invalid)
    report = ValidationReport(Path(path), valid=len(result.records), errors=list(result.errors))
    indices = range(len(result.records))
    if replay_mode == "sample" and len(result.records) > sample:
        indices = sorted(np.random.default_rng(seed).choice(len(result.records), sample, replace=False))
    elif replay_mode == "none":
        indices = range(0)
    for i in indices:
        traj, line = result.records[i], result.lines[i]
        try:
            replay(traj)
        except ReplayMismatch as e:
            err = RecordError(path, line, str(e))
            if not skip_invalid:
                raise err from None
            report.errors.append(err)
            report.valid -= 1
        report.replayed += 1
    report.errors.sort(key=lambda e: e.line)
    return report
