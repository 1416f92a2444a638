"""``nlf rollout``: record trajectories of a policy on a task."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from cli.common import cli_errors, console, events_table, progress, summary_table
from nlfeedback.envs.tasks import DEFAULT_TASK, get_task
from nlfeedback.jsonl import check_output, open_output
from nlfeedback.policies import make_policy
from nlfeedback.rollout import RolloutSummary, rollout


@cli_errors
def rollout_command(
    out: Annotated[Path, typer.Option("--out", "-o", help="Trajectory JSONL file to write.")],
    task: Annotated[str, typer.Option(help="Task short name or gymnasium id (see `nlf tasks`).")] = DEFAULT_TASK,
    policy: Annotated[str, typer.Option(help="random | expert | checkpoint")] = "expert",
    epsilon: Annotated[float, typer.Option(help="Probability of a uniformly random action per step.")] = 0.0,
    mistakes: Annotated[float, typer.Option(help="Expert only: per-step probability of starting a "
                                            "human-visible blunder (spin, wall bump, detour, dropped key, "
                                            "wrong key, lava).")] = 0.0,
    checkpoint: Annotated[Path | None, typer.Option(help="Saved stable-baselines3 model for --policy checkpoint.")] = None,
    stochastic: Annotated[bool, typer.Option(help="Checkpoint policy: sample actions instead of argmax.")] = False,
    episodes: Annotated[int, typer.Option(min=1, help="Number of episodes.")] = 100,
    seed: Annotated[int, typer.Option(min=0, help="Seed of env layouts and policy noise.")] = 0,
    append: Annotated[bool, typer.Option(help="Append to an existing --out.")] = False,
    force: Annotated[bool, typer.Option(help="Replace an existing --out (the old file stays until success).")] = False,
    json_out: Annotated[bool, typer.Option("--json", help="Print the summary as JSON.")] = False,
) -> None:
    """Roll out a policy and write one nlf.trajectory/1 record per episode.

    Example: nlf rollout --task doorkey-5x5 --policy expert --epsilon 0.2 --mistakes 0.3
    --episodes 200 --seed 0 --out runs/demo/trajectories.jsonl
    """
    check_output(out, inputs=[checkpoint], append=append, force=force)
    the_task = get_task(task)
    pol = make_policy(policy, epsilon=epsilon, mistakes=mistakes,
                      checkpoint=str(checkpoint) if checkpoint else None, deterministic=not stochastic)
    summary = RolloutSummary()
    with open_output(out, append=append, force=force, inputs=[checkpoint]) as writer:
        for traj in progress(rollout(the_task, pol, episodes, seed), episodes, f"{the_task.name} {pol.label}"):
            writer.write(traj.to_json())
            summary.add(traj)
    result = summary.to_json()
    if json_out:
        console.print_json(json.dumps({"out": str(out), "task": the_task.name, "policy": pol.label, **result}))
        return
    console.print(summary_table(f"{the_task.name} · {pol.label} · seed {seed}", {pol.label: result}))
    console.print(events_table(result["events"]))
    console.print(f"wrote {summary.episodes} trajectories to {out}", soft_wrap=True, markup=False)
