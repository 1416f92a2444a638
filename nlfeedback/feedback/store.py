"""The feedback JSONL store: validated reading (schema *and* trajectory file) and safe appending.

Reading checks every line against ``nlf.feedback/1`` and, given the trajectories, that the trajectory
exists, the segment lies inside the episode, a preference's partner exists and its segment fits, and
intent steps lie inside the episode. Problems are ``path:line: field …: reason``.

Writing appends whole lines under an advisory file lock (two collectors may share one file) and, for
interactive collection, fsyncs every record. Ids must be unique: a writer refuses an id already in the
file or already written by it, checking what other writers appended and appending under one lock.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from nlfeedback.errors import NlfError
from nlfeedback.feedback.schema import FEEDBACK_SCHEMA, FeedbackBase, PreferenceFeedback, TextFeedback, parse_feedback
from nlfeedback.jsonl import JsonlWriter, OutputWriter, ReadResult, read_records, string_values
from nlfeedback.trajectory import Trajectory


def utc_now() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def check_against_trajectories(fb: FeedbackBase, trajectories: Mapping[str, Trajectory]) -> None:
    """Raise ``ValueError`` naming the field when ``fb`` does not fit the trajectory set."""
    traj = trajectories.get(fb.trajectory_id)
    if traj is None:
        raise ValueError(f"field 'trajectory_id': no trajectory {fb.trajectory_id!r} in the trajectory file")
    if fb.segment[1] > len(traj):
        raise ValueError(f"field 'segment': {fb.segment} is outside trajectory {traj.id} ({len(traj)} steps)")
    if isinstance(fb, PreferenceFeedback):
        other = trajectories.get(fb.other_trajectory_id)
        if other is None:
            raise ValueError(
                f"field 'other_trajectory_id': no trajectory {fb.other_trajectory_id!r} in the trajectory file")
        if fb.other_segment[1] > len(other):
            raise ValueError(
                f"field 'other_segment': {fb.other_segment} is outside trajectory {other.id} ({len(other)} steps)")
    if isinstance(fb, TextFeedback):
        for name, gold in (("intent", fb.intent), ("labels", fb.labels)):
            for i, clause in enumerate(gold.clauses if gold is not None else ()):
                if clause.steps and max(clause.steps) >= len(traj):
                    raise ValueError(f"field '{name}.clauses.{i}.steps': step {max(clause.steps)} is outside "
                                     f"trajectory {traj.id} ({len(traj)} steps)")


def read_feedback(path: str | Path, trajectories: Mapping[str, Trajectory] | None = None, *,
                  skip_invalid: bool = False) -> ReadResult[FeedbackBase]:
    """Read and validate a feedback file (against ``trajectories`` when given)."""

    def parse(value: dict[str, Any]) -> FeedbackBase:
        fb = parse_feedback(value)
        if trajectories is not None:
            check_against_trajectories(fb, trajectories)
        return fb

    return read_records(path, parse, schema=FEEDBACK_SCHEMA, skip_invalid=skip_invalid, key=lambda f: f.id)


def existing_ids(path: Path) -> set[str]:
    """Ids already in a feedback file (lines that do not parse are ignored here; readers report them)."""
    if not path.exists():
        return set()
    with open(path, "rb") as fh:
        return string_values(fh, "id")


class FeedbackWriter:
    """Append feedback records; ``fsync=True`` for interactive collection (a crash loses at most one).

    The duplicate-id check and the append happen under the file lock, after reading what other writers
    appended since: two writers on one file never both append an id.
    """

    def __init__(self, path: str | Path, *, fsync: bool = False, writer: JsonlWriter | None = None) -> None:
        self._writer = writer or JsonlWriter(path, fsync=fsync)
        self.path = self._writer.path
        self._ids: set[str] = set()
        self._offset = 0
        if isinstance(self._writer, OutputWriter) and self._writer.append:  # a batch for an existing file
            self.path = self._writer.final_path
            self._ids = existing_ids(self._writer.final_path)  # checked again under its lock on commit

    def _refresh(self) -> None:
        """Take in the ids appended to the file since the last look (call with the lock held)."""
        path = self._writer.path
        size = self._writer.size()
        if size < self._offset:  # truncated or replaced under us: read it all again
            self._offset = 0
        if size == self._offset:
            return
        with open(path, "rb") as fh:
            fh.seek(self._offset)
            data = fh.read(size - self._offset)
        end = data.rfind(b"\n")
        if end < 0:
            return
        self._offset += end + 1
        self._ids |= string_values(data[:end + 1].splitlines(), "id")

    def write(self, fb: FeedbackBase) -> None:
        if self._writer.held:
            self._check_and_write(fb)
        else:
            with self._writer.locked():
                self._check_and_write(fb)

    def _check_and_write(self, fb: FeedbackBase) -> None:
        self._refresh()
        if fb.id in self._ids:
            raise NlfError(f"{self.path}: feedback id {fb.id!r} is already in the file")
        self._writer.write(fb.to_json())
        self._ids.add(fb.id)
        self._offset = self._writer.size()

    @contextmanager
    def locked(self) -> Iterator[None]:
        """Hold the file lock across check-then-append (see :meth:`JsonlWriter.locked`)."""
        with self._writer.locked():
            yield

    def write_all(self, items: Iterable[FeedbackBase]) -> int:
        n = 0
        for fb in items:
            self.write(fb)
            n += 1
        return n

    @property
    def count(self) -> int:
        return self._writer.count

    def close(self) -> None:
        self._writer.close()

    def __enter__(self) -> FeedbackWriter:
        return self

    def __exit__(self, *exc: Any) -> None:
        self._writer.__exit__(*exc)
