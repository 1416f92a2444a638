"""The project's own error types. Every user-facing failure is one of these, never a bare traceback."""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import Any


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


class Terminated(KeyboardInterrupt):
    """SIGTERM, raised like Ctrl-C so that every ``finally`` runs (temporary outputs are removed, pool workers
    stopped). The CLI turns it into exit code 143."""


def _raise_terminated(signum: int, frame: Any) -> None:
    raise Terminated()


@contextmanager
def _raising_on(signum: int, handler: Any) -> Iterator[None]:
    """While the block runs, ``handler`` answers signal ``signum``. Main thread only (elsewhere a no-op, as
    Python allows handlers only there); the previous handler comes back afterwards."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signum, handler)
    try:
        yield
    finally:
        signal.signal(signum, previous)


def sigterm_as_exception() -> AbstractContextManager[None]:
    """While the block runs, SIGTERM raises :class:`Terminated` instead of ending the process on the spot, so
    that temporary outputs are removed, old files kept and worker processes stopped. Main thread only
    (elsewhere a no-op); the previous handler comes back afterwards."""
    return _raising_on(signal.SIGTERM, _raise_terminated)


def _raise_interrupt(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt()


def sigusr1_as_interrupt() -> AbstractContextManager[None]:
    """While the block runs, SIGUSR1 raises :class:`KeyboardInterrupt` as a Ctrl-C would. A process started in
    the background by a shell without job control inherits SIGINT *ignored* (and a Ctrl-C at the terminal
    is then meant not to reach it), so ``kill -USR1 PID`` is the way to ask it for what Ctrl-C does. Main
    thread only (elsewhere a no-op); the previous handler comes back afterwards."""
    return _raising_on(signal.SIGUSR1, _raise_interrupt)
