"""The ``nlf`` typer app: one module per command group, each a thin wrapper over the library."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from cli import bench, feedback, trajectories
from cli.critique import critique_command
from cli.interpret import eval_interpreter_command, interpret_command, train_interpreter_command
from cli.agent import train_agent_command
from cli.reward import eval_reward_command, train_reward_command
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
app.command("train-reward")(train_reward_command)
app.command("eval-reward")(eval_reward_command)
app.command("train-agent")(train_agent_command)
app.add_typer(feedback.app, name="feedback")
app.add_typer(bench.app, name="bench")


@app.command("quickstart")
@cli_errors
def quickstart_command(
    out: Annotated[Path, typer.Option("--out", "-o", help="Folder for the quickstart's files.")] = Path("runs/quickstart"),
    episodes: Annotated[int, typer.Option(min=1, help="Episodes per policy.")] = 100,
    seed: Annotated[int, typer.Option(min=0)] = 0,
) -> None:
    """Run the embedded default job: expert and noisy rollouts on doorkey-5x5, replay-checked, summarised.

    Example: nlf quickstart --out runs/quickstart
    """
    from nlfeedback.quickstart import run_quickstart

    result = run_quickstart(out, episodes=episodes, seed=seed)
    console.print(summary_table(f"quickstart · {result['task']} · seed {seed}", result["summaries"]))
    for label, path in result["files"].items():
        console.print(f"{label}: {path}  (see it with: nlf show {path} --index 0)", highlight=False)


def main() -> None:
    app()


if __name__ == "__main__":
    main()
