"""``nlf tasks``: list the task suite."""

from __future__ import annotations

from rich.table import Table

from cli.common import console
from nlfeedback.envs.tasks import SUITE


def tasks_command() -> None:
    """List the task suite: short name, gymnasium id, family and a one-line summary.

    Example: nlf tasks
    """
    table = Table(title="nlfeedback task suite", title_justify="left")
    for col in ("name", "gymnasium id", "family", "summary"):
        table.add_column(col)
    for t in SUITE:
        table.add_row(t.name, t.env_id, t.family, t.summary)
    console.print(table)
