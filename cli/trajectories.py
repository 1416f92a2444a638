"""``nlf trajectories …``: checks on trajectory files."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from cli.common import cli_errors, console, err_console
from nlfeedback.validate import validate_trajectory_file

app = typer.Typer(help="Check trajectory files.", no_args_is_help=True)


@app.command("validate")
@cli_errors
def validate_command(
    file: Annotated[Path, typer.Argument(help="Trajectory JSONL file.")],
    replay: Annotated[str, typer.Option(help="Replay 'sample' (random --sample records), 'all' or 'none'.")] = "sample",
    sample: Annotated[int, typer.Option(min=1, help="How many records to replay with --replay sample.")] = 20,
    skip_invalid: Annotated[bool, typer.Option(help="Report every bad line and a count instead of stopping at the first.")] = False,
) -> None:
    """Validate every line of a trajectory file and replay a sample against its observation digest.

    Exits 1 with `file:line: reason` on the first bad line (or, with --skip-invalid, every bad line and a count).

    Example: nlf trajectories validate runs/demo/trajectories.jsonl --replay all
    """
    if replay not in ("sample", "all", "none"):
        raise typer.BadParameter("--replay takes sample, all or none")
    report = validate_trajectory_file(file, replay_mode=replay, sample=sample, skip_invalid=skip_invalid)
    for e in report.errors[:50]:
        err_console.print(str(e), highlight=False, soft_wrap=True, markup=False)
    if len(report.errors) > 50:
        err_console.print(f"… and {len(report.errors) - 50} more")
    if report.errors:
        err_console.print(f"{file}: {len(report.errors)} invalid, {report.valid} valid", soft_wrap=True, markup=False)
        raise typer.Exit(1)
    console.print(f"{file}: {report.valid} valid trajectories, {report.replayed} replayed exactly", soft_wrap=True,
                  markup=False)
