"""``nlf show``: a trajectory step by step in the terminal."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.text import Text

from cli.common import cli_errors, console, esc
from nlfeedback.envs.render import LEGEND, carrying_text, render_grid
from nlfeedback.envs.tasks import ACTION_NAMES
from nlfeedback.trajectory import Trajectory, replay_steps
from nlfeedback.trajectory_select import select_trajectory

RICH_COLORS = {"grey": "bright_black", "purple": "magenta", "orange": "dark_orange", None: "white"}


def grid_renderable(env: object) -> Text:
    text = Text()
    for row in render_grid(env):
        for glyph, color in row:
            text.append(glyph + " ", style=RICH_COLORS.get(color, color))
        text.append("\n")
    return text


def parse_steps(spec: str | None, length: int) -> range:
    if not spec:
        return range(0, length + 1)
    try:
        if ":" in spec:
            a, b = spec.split(":", 1)
            start = int(a) if a else 0
            stop = int(b) if b else length
            return range(max(start, 0), min(stop, length) + 1)
        k = int(spec)
        return range(k, k + 1)
    except ValueError:
        raise typer.BadParameter(f"--steps takes N or A:B, got {spec!r}") from None


def print_trajectory(traj: Trajectory, steps: range, grid: bool = True) -> None:
    outcome = "reached the goal" if traj.success else ("timed out" if traj.truncated else "ended")
    console.print(
        f"[bold]{esc(traj.id)}[/]  {esc(traj.env_id)} seed {traj.seed}  policy {esc(traj.policy)}\n"
        f"{len(traj)} steps, {outcome}, return {traj.true_return:.3f}", highlight=False,
    )
    if grid:
        console.print(f"[dim]{esc(LEGEND)}[/]")
    for st in replay_steps(traj):
        if st.step not in steps:
            continue
        if st.step == 0:
            head = f"step 0/{len(traj)}: start, {esc(carrying_text(st.env))}"
        else:
            action = ACTION_NAMES[traj.actions[st.step - 1]]
            head = (f"step {st.step}/{len(traj)}: [bold]{action}[/] → {esc(traj.captions[st.step - 1])}"
                    f"  (reward {traj.rewards[st.step - 1]:.2f}, {esc(carrying_text(st.env))})")
        console.print(head, highlight=False)
        if grid:
            console.print(grid_renderable(st.env), end="")


@cli_errors
def show_command(
    file: Annotated[Path, typer.Argument(help="Trajectory JSONL file.")],
    traj_id: Annotated[str | None, typer.Option("--id", help="Trajectory id.")] = None,
    index: Annotated[int | None, typer.Option("--index", help="0-based position in the file (default 0).")] = None,
    steps: Annotated[str | None, typer.Option(help="Only these steps: N or A:B (inclusive).")] = None,
    grid: Annotated[bool, typer.Option(help="Draw the grid at every step.")] = True,
) -> None:
    """Show a trajectory step by step: a unicode grid per step with the action, caption and reward.

    Example: nlf show runs/demo/trajectories.jsonl --index 3
    """
    traj = select_trajectory(file, traj_id=traj_id, index=index)
    print_trajectory(traj, parse_steps(steps, len(traj)), grid=grid)
