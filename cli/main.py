"""The ``nlf`` typer app: one module per command group, each a thin wrapper over the library."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from cli import bench, feedback, trajectories
from cli.critique import critique_command
from cli.interpret import (combine_interpreters_command, eval_interpreter_command, interpret_command,
                           train_interpreter_command)
from cli.ablate import ablate_command
from cli.agent import train_agent_command
from cli.reward import eval_reward_command, reward_curves_command, train_reward_command
from cli.report import report_command
from cli.collect import collect_command
from cli.common import cli_errors, console, summary_table
from cli.rollout import rollout_command
from cli.serve import serve_command
from cli.show import show_command
from cli.tasks import tasks_command

app = typer.Typer(
    name="nlf",
    help="nlfeedback: learn rewards from free-text corrections, ratings, sketches and preferences.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)

app.command("rollout")(rollout_command)
app.command("show")(show_command)
app.command("tasks")(tasks_command)
app.add_typer(trajectories.app, name="trajectories")
app.command("critique")(critique_command)
app.command("collect")(collect_command)
app.command("serve")(serve_command)
app.command("interpret")(interpret_command)
app.command("train-interpreter")(train_interpreter_command)
app.command("eval-interpreter")(eval_interpreter_command)
app.command("combine-interpreters")(combine_interpreters_command)
app.command("train-reward")(train_reward_command)
app.command("eval-reward")(eval_reward_command)
app.command("reward-curves")(reward_curves_command)
app.command("train-agent")(train_agent_command)
app.command("ablate")(ablate_command)
app.command("report")(report_command)
app.add_typer(feedback.app, name="feedback")
app.add_typer(bench.app, name="bench")


@app.command("quickstart")
@cli_errors
def quickstart_command(
    out: Annotated[Path, typer.Option("--out", "-o", help="Run folder of the quickstart ablation.")] = Path("runs/quickstart"),
    config: Annotated[str | None, typer.Option(help="Ablation config: a TOML file or a bundled config's name (default: quick).")] = None,
    workers: Annotated[int, typer.Option(min=1, help="Parallel cells.")] = 2,
) -> None:
    """The whole pipeline on the embedded default: the quick ablation (doorkey-5x5; text with the trained
    interpreter, sketch, scalar, preference and the oracle reward; 2 seeds), then its report.

    Each cell rolls out trajectories, has a scripted critic give feedback, fits a reward model and trains
    PPO on it in rounds; rerunning resumes. Ends with the report's path and its headline table.

    Example: nlf quickstart --out runs/quickstart
    """
    from cli.ablate import SweepDisplay
    from cli.report import print_report
    from nlfeedback.errors import NlfError
    from nlfeedback.experiments.config import find_config, load_config
    from nlfeedback.experiments.report import build_report
    from nlfeedback.experiments.runner import run_ablation

    path = find_config(config or "quick")
    cfg = load_config(path)
    with SweepDisplay() as display:
        summary = run_ablation(cfg, out, workers=workers, progress=display, notice=display.notice,
                               config_text=Path(path).read_text(encoding="utf-8"))
    console.print(f"{summary.total} cells: {summary.ok} ok, {summary.failed} failed "
                  f"({summary.elapsed_s:.0f} s)", soft_wrap=True, markup=False)
    print_report(build_report(out))
    if summary.failed:
        raise NlfError(f"{summary.failed} cells failed; their errors are in {out}/cells/*/result.json")


def main() -> None:
    app()


if __name__ == "__main__":
    main()
