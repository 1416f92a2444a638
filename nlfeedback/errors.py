"""The project's own error types. Every user-facing failure is one of these, never a bare traceback."""

from __future__ import annotations

from pathlib import Path


class NlfError(Exception):
    """Base class of every error nlfeedback reports to a user."""


class RecordError(NlfError):
    """A bad record in a JSONL file: ``path:line: message``."""

    def __init__(self, path: str | Path, line: int, message: str) -> None:
        self.path = str(path)
        self.line = line
        self.message = message
        super().__init__(f"{self.path}:{line}: {message}")


class ReplayMismatch(NlfError):
    """Replaying a trajectory did not reproduce its recorded observations."""


class UnknownTask(NlfError):
    """A task name or gymnasium id that is not in the suite."""
