"""The collector: one output file, the queues of every kind asked for, resuming and safe submission.

:class:`Collector` owns one ``--out`` file. It resumes: items that ``--out`` already holds for an
annotator (``source.type = human``, same annotator, same kind, trajectories and segments) are skipped
(:class:`DoneIndex`). It keeps up with other collectors appending to the same file (it reads only what
was appended since it last looked), and :meth:`Collector.submit` checks and appends under the file lock,
so two collectors never both write the same annotator's answer to the same item. Every record is
fsynced before ``submit`` returns: a crash or Ctrl-C loses at most the answer being typed. The
terminal (:mod:`nlfeedback.collect.terminal`) and the browser (:mod:`nlfeedback.collect.web.app`)
collectors drive it.
"""

from __future__ import annotations

import fcntl
import json
import os
import threading
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from nlfeedback.collect.answers import DEFAULT_SCALE, make_record
from nlfeedback.collect.queue import Item, build_queue, key_of
from nlfeedback.errors import NlfError
from nlfeedback.feedback.schema import KINDS, FeedbackBase, parse_feedback
from nlfeedback.feedback.store import FeedbackWriter, read_feedback
from nlfeedback.jsonl import same_file
from nlfeedback.trajectory import Trajectory


class AlreadyAnswered(NlfError):
    """The annotator's answer to this item is already in the output file (e.g. from another window)."""


# --- resuming ---------------------------------------------------------------------------------


class DoneIndex:
    """The items each annotator has answered in a feedback file, kept up to date as the file grows.

    The first read validates the whole file (a bad line is an error naming ``file:line``); later
    looks read only the complete lines appended since (by any process) and ignore lines that do not
    parse (readers and ``nlf feedback validate`` report those).
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self._done: dict[str, set[str]] = defaultdict(set)
        self._offset = 0
        if path.exists():
            with open(path, "rb") as fh:
                fcntl.flock(fh, fcntl.LOCK_SH)
                for fb in read_feedback(path).records:
                    self._note(fb)
                self._offset = fh.seek(0, 2)

    def _note(self, fb: FeedbackBase) -> None:
        if fb.source.type == "human" and fb.source.annotator:
            self._done[fb.source.annotator].add(key_of(fb))

    def refresh(self, *, lock: bool = True) -> None:
        """Take in what was appended since the last look (``lock=False`` when the caller holds the lock)."""
        if not self.path.exists():
            return
        with open(self.path, "rb") as fh:
            if lock:
                fcntl.flock(fh, fcntl.LOCK_SH)
            size = fh.seek(0, 2)
            if size < self._offset:  # replaced or truncated under us: start over
                self._done.clear()
                self._offset = 0
            fh.seek(self._offset)
            data = fh.read()
        end = data.rfind(b"\n")
        if end < 0:
            return
        self._offset += end + 1
        for raw in data[:end + 1].splitlines():
            try:
                value = json.loads(raw)
                self._note(parse_feedback(value))
            except (ValueError, ValidationError, TypeError, AttributeError):
                continue

    def done(self, annotator: str) -> set[str]:
        return self._done.get(annotator, set())

    def add(self, annotator: str, key: str) -> None:
        self._done[annotator].add(key)


def _file_identity(path: Path) -> tuple[int, int] | None:
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return None
    return st.st_dev, st.st_ino


# --- the collector ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Progress:
    done: int
    total: int

    @property
    def left(self) -> int:
        return self.total - self.done


class Collector:
    """Queues of every kind asked for, one output file, and safe submission (thread-safe)."""

    def __init__(self, trajectories: Sequence[Trajectory], out: str | Path, *, kinds: Sequence[str] = KINDS,
                 items: int | None = None, segment_length: int | None = None, seed: int = 0,
                 scale: tuple[float, float] = DEFAULT_SCALE, trajectory_path: str | Path | None = None) -> None:
        self.out = Path(out)
        if self.out.exists() and self.out.is_dir():
            raise NlfError(f"{self.out}: is a directory, expected a feedback JSONL file")
        if trajectory_path is not None and same_file(self.out, trajectory_path):
            raise NlfError(f"--out {self.out} is the trajectory file; give a separate feedback file")
        if not kinds:
            raise NlfError("no feedback kinds to collect")
        for k in kinds:
            if k not in KINDS:
                raise NlfError(f"unknown feedback kind {k!r}; valid: {', '.join(KINDS)}")
        self.trajectories = {t.id: t for t in trajectories}
        self.scale = scale
        self.segment_length = segment_length
        self.queues = {k: build_queue(trajectories, k, items=items, segment_length=segment_length, seed=seed)
                       for k in dict.fromkeys(kinds)}
        self.kinds = list(self.queues)
        self._done = DoneIndex(self.out)
        self._writer = FeedbackWriter(self.out, fsync=True)
        self._identity = _file_identity(self.out)
        self._lock = threading.Lock()
        self.written = 0

    def _refresh(self) -> None:
        with self._lock:
            self._done.refresh()

    def pending(self, annotator: str, kind: str) -> list[Item]:
        """``annotator``'s unanswered items of ``kind``, in queue order."""
        self._refresh()
        done = self._done.done(annotator)
        return [it for it in self._queue(kind) if it.key not in done]

    def progress(self, annotator: str, kind: str) -> Progress:
        queue = self._queue(kind)
        done = self._done.done(annotator)
        return Progress(sum(it.key in done for it in queue), len(queue))

    def is_done(self, annotator: str, item: Item) -> bool:
        return item.key in self._done.done(annotator)

    def _queue(self, kind: str) -> list[Item]:
        if kind not in self.queues:
            raise NlfError(f"kind {kind!r} is not being collected here (collecting: {', '.join(self.kinds)})")
        return self.queues[kind]

    def record(self, item: Item, annotator: str, answer: dict[str, Any], seconds: float) -> FeedbackBase:
        """Validate an answer into a record without writing it."""
        return make_record(item, annotator, answer, seconds, self.trajectories)

    def submit(self, item: Item, annotator: str, answer: dict[str, Any], seconds: float) -> FeedbackBase:
        """Validate, then append and fsync under the file lock; :class:`AlreadyAnswered` if it is there."""
        return self.submit_record(item, self.record(item, annotator, answer, seconds))

    def submit_record(self, item: Item, record: FeedbackBase) -> FeedbackBase:
        """Append a record already made for ``item`` (e.g. a read-back's, from :meth:`record`), as :meth:`submit`."""
        if record.kind != item.kind or item.feedback_id(record.source.annotator or "") != record.id:
            raise NlfError(f"record {record.id} is not an answer to this item ({item.key})")
        annotator = record.source.annotator  # type: ignore[assignment]
        with self._lock, self._writer.locked():
            if _file_identity(self.out) != self._identity:
                raise NlfError(f"{self.out} was moved, replaced or deleted while collecting; nothing more is "
                               "written to it. Restart the collector (answers saved so far are in the moved file).")
            self._done.refresh(lock=False)
            if item.key in self._done.done(annotator):
                raise AlreadyAnswered(f"{annotator} has already answered this item ({item.key}) in {self.out}")
            self._writer.write(record)
            self._done.add(annotator, item.key)
            self.written += 1
        return record

    def close(self) -> None:
        self._writer.close()

    def __enter__(self) -> Collector:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()
