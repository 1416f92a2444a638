"""Shared CLI helpers: error reporting, the console, progress bars and summary tables."""

from __future__ import annotations

import functools
import sys
import time
from contextlib import contextmanager
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn
from rich.table import Table

from nlfeedback.errors import NlfError, Terminated, sigterm_as_exception

console = Console(emoji=False, highlight=False)
err_console = Console(stderr=True, emoji=False, highlight=False)

F = TypeVar("F", bound=Callable[..., Any])
T = TypeVar("T")


def esc(value: Any) -> str:
    """``value`` as text that rich prints literally: anything from a user or a file goes through this
    before it is put into a markup string (a name such as ``[/]`` would otherwise be read as markup)."""
    return escape(str(value))


def _notes(e: BaseException) -> list[str]:
    return [str(n) for n in getattr(e, "__notes__", ())]


def cli_errors(fn: F) -> F:
    """Turn the project's own errors into ``error: …`` on stderr and exit code 1 (never a traceback);
    Ctrl-C into exit 130 and SIGTERM into exit 143, each saying what became of the outputs."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            with sigterm_as_exception():
                return fn(*args, **kwargs)
        except NlfError as e:
            err_console.print(f"[bold red]error:[/] {esc(e)}", highlight=False, soft_wrap=True)
            for note in _notes(e):
                err_console.print(f"  {esc(note)}", highlight=False, soft_wrap=True)
            raise typer.Exit(1) from None
        except (FileNotFoundError, IsADirectoryError, NotADirectoryError) as e:
            # a path opened without the library's check (nlfeedback.jsonl.input_file), in that check's words
            what = {FileNotFoundError: "no such file", IsADirectoryError: "is a directory, expected a file",
                    NotADirectoryError: "no such file (a part of the path is not a directory)"}[type(e)]
            err_console.print(f"[bold red]error:[/] {esc(e.filename)}: {what}", highlight=False, soft_wrap=True)
            raise typer.Exit(1) from None
        except KeyboardInterrupt as e:
            what = "terminated" if isinstance(e, Terminated) else "interrupted"
            notes = _notes(e)
            kept = "; ".join(notes) if notes else "everything written so far is kept"
            err_console.print(f"{what}; {esc(kept)}", highlight=False, soft_wrap=True)
            raise typer.Exit(143 if isinstance(e, Terminated) else 130) from None

    return wrapper  # type: ignore[return-value]


def progress(items: Iterable[T], total: int, description: str) -> Iterator[T]:
    """Iterate with a rich progress bar on stderr (hidden when stderr is not a terminal)."""
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
               TextColumn("eta"), TimeRemainingColumn())
    with Progress(*columns, console=err_console, transient=True, disable=not sys.stderr.isatty()) as bar:
        task = bar.add_task(esc(description), total=total)
        for item in items:
            yield item
            bar.advance(task)


@contextmanager
def progress_bar(description: str) -> Iterator[Callable[[int, int], None]]:
    """A rich progress bar on stderr driven by ``advance(done, total)`` calls; when stderr is not a terminal
    (a log file), one line at every tenth of the way instead: done / total, elapsed, estimated time left."""
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
               TextColumn("eta"), TimeRemainingColumn())
    terminal = sys.stderr.isatty()
    start, said = time.monotonic(), {"tenth": 0}
    with Progress(*columns, console=err_console, transient=True, disable=not terminal) as bar:
        task = bar.add_task(esc(description), total=None)

        def advance(done: int, total: int) -> None:
            bar.update(task, completed=done, total=total)
            if terminal or total <= 0 or done * 10 // total <= said["tenth"]:
                return
            said["tenth"] = done * 10 // total
            elapsed = time.monotonic() - start
            left = elapsed * (total - done) / max(done, 1)
            sys.stderr.write(f"{description}: {done}/{total} ({done / total:.0%}), {elapsed / 60:.1f} min, "
                             f"about {left / 60:.1f} min left\n")
            sys.stderr.flush()

        yield advance


def summary_table(title: str, rows: dict[str, dict[str, Any]]) -> Table:
    """A table of rollout summaries (``RolloutSummary.to_json`` dicts) keyed by a label."""
    table = Table(title=esc(title), title_justify="left")
    for col in ("", "episodes", "success", "mean return", "mean length"):
        table.add_column(col, justify="right" if col else "left")
    for label, s in rows.items():
        table.add_row(esc(label), str(s["episodes"]), f"{s['success_rate']:.1%}", f"{s['mean_return']:.3f}",
                      f"{s['mean_length']:.1f}")
    return table


def events_table(events: dict[str, int], title: str = "events") -> Table:
    table = Table(title=esc(title), title_justify="left")
    table.add_column("event")
    table.add_column("count", justify="right")
    for name, count in events.items():
        table.add_row(esc(name), str(count))
    return table


# read-back options shared by `nlf collect` and `nlf serve`
ReadbackInterpreter = Annotated[str, typer.Option(help=(
    "The interpreter that reads remarks back: trained (the shipped step-level reader, or "
    "--readback-checkpoint), keyword or zero-shot."))]
ReadbackCheckpoint = Annotated[Path | None, typer.Option(help="Checkpoint of the trained interpreter.")]
