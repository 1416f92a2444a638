"""Shared CLI helpers: error reporting, the console, progress bars and summary tables."""

from __future__ import annotations

import functools
from contextlib import contextmanager
import sys
from collections.abc import Callable, Iterable, Iterator
from typing import Any, TypeVar

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn
from rich.table import Table

from nlfeedback.errors import NlfError

console = Console(emoji=False, highlight=False)
err_console = Console(stderr=True, emoji=False, highlight=False)

F = TypeVar("F", bound=Callable[..., Any])
T = TypeVar("T")


def cli_errors(fn: F) -> F:
    """Turn the project's own errors into ``error: …`` on stderr and exit code 1 (never a traceback)."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except NlfError as e:
            err_console.print(f"[bold red]error:[/] {e}", highlight=False, soft_wrap=True)
            raise typer.Exit(1) from None
        except KeyboardInterrupt:
            err_console.print("interrupted; everything written so far is kept")
            raise typer.Exit(130) from None

    return wrapper  # type: ignore[return-value]


def progress(items: Iterable[T], total: int, description: str) -> Iterator[T]:
    """Iterate with a rich progress bar on stderr (hidden when stderr is not a terminal)."""
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
               TextColumn("eta"), TimeRemainingColumn())
    with Progress(*columns, console=err_console, transient=True, disable=not sys.stderr.isatty()) as bar:
        task = bar.add_task(description, total=total)
        for item in items:
            yield item
            bar.advance(task)


@contextmanager
def progress_bar(description: str) -> Iterator[Callable[[int, int], None]]:
    """A rich progress bar on stderr driven by ``advance(done, total)`` calls (hidden when not a terminal)."""
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
               TextColumn("eta"), TimeRemainingColumn())
    with Progress(*columns, console=err_console, transient=True, disable=not sys.stderr.isatty()) as bar:
        task = bar.add_task(description, total=None)

        def advance(done: int, total: int) -> None:
            bar.update(task, completed=done, total=total)

        yield advance


def summary_table(title: str, rows: dict[str, dict[str, Any]]) -> Table:
    """A table of rollout summaries (``RolloutSummary.to_json`` dicts) keyed by a label."""
    table = Table(title=title, title_justify="left")
    for col in ("", "episodes", "success", "mean return", "mean length"):
        table.add_column(col, justify="right" if col else "left")
    for label, s in rows.items():
        table.add_row(label, str(s["episodes"]), f"{s['success_rate']:.1%}", f"{s['mean_return']:.3f}",
                      f"{s['mean_length']:.1f}")
    return table


def events_table(events: dict[str, int], title: str = "events") -> Table:
    table = Table(title=title, title_justify="left")
    table.add_column("event")
    table.add_column("count", justify="right")
    for name, count in events.items():
        table.add_row(name, str(count))
    return table
