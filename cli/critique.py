"""``nlf critique``: scripted feedback of one kind on a trajectory file."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from cli.common import cli_errors, console, progress
from nlfeedback.critics import CritiqueStats, critique, parse_noise
from nlfeedback.critics.cost import parse_costs
from nlfeedback.feedback.store import FeedbackWriter
from nlfeedback.errors import NlfError
from nlfeedback.jsonl import check_output, open_output
from nlfeedback.trajectory import read_trajectories


@cli_errors
def critique_command(
    trajectories: Annotated[Path, typer.Option("--trajectories", "-t", help="Trajectory JSONL file.")],
    kind: Annotated[str, typer.Option(help="text | scalar | sketch | preference")],
    out: Annotated[Path, typer.Option("--out", "-o", help="Feedback JSONL file to write.")],
    split: Annotated[str, typer.Option(help="Phrasing split for text: train | heldout | human (eight independent writers' voices; never trained on).")] = "train",
    noise: Annotated[str, typer.Option(help="Teacher noise, e.g. 'mistake=0.1,skip=0.05' (names: stochastic, "
                                       "mistake, skip, equal, myopic, wrong_referent, vague).")] = "",
    budget: Annotated[int | None, typer.Option(min=1, help="Number of items (default: one per trajectory).")] = None,
    segment_length: Annotated[int | None, typer.Option(min=1, help="Segment length (preference default 25; "
                                                       "others default: whole episodes).")] = None,
    cost: Annotated[str, typer.Option(help="Cost model overrides, e.g. 'text.per_word=1.2,preference.base=3'.")] = "",
    seed: Annotated[int, typer.Option(min=0)] = 0,
    append: Annotated[bool, typer.Option(help="Append to an existing --out.")] = False,
    force: Annotated[bool, typer.Option(help="Replace an existing --out (the old file stays until success).")] = False,
    json_out: Annotated[bool, typer.Option("--json", help="Print the summary as JSON.")] = False,
) -> None:
    """Give scripted feedback of one kind on trajectories, as nlf.feedback/1 records.

    Example: nlf critique --trajectories runs/demo/trajectories.jsonl --kind text --split heldout
    --noise mistake=0.1,skip=0.05 --budget 200 --seed 0 --out runs/demo/text.jsonl
    """
    check_output(out, inputs=[trajectories], append=append, force=force)  # before any work
    trajs = read_trajectories(trajectories).records
    if not trajs:
        raise NlfError(f"{trajectories}: no trajectories in the file; nothing to critique")
    teacher = parse_noise(noise)
    costs = parse_costs(cost)
    stats = CritiqueStats()
    items = critique(trajs, kind, budget=budget, seed=seed, split=split, noise=teacher, costs=costs,
                     segment_length=segment_length, stats=stats)
    total = budget or len(trajs)
    with open_output(out, append=append, force=force, inputs=[trajectories]) as raw_writer:
        writer = FeedbackWriter(out, writer=raw_writer)
        for fb in progress(items, total, f"{kind} critic"):
            writer.write(fb)
    summary = {"out": str(out), "kind": kind, "written": stats.written, "skipped": stats.skipped,
               "considered": stats.considered, "noise": dict(stats.noise)}
    if json_out:
        console.print_json(json.dumps(summary))
        return
    console.print(f"wrote {stats.written} {kind} feedback items to {out} "
                  f"({stats.skipped} skipped by noise; noise applied: {dict(stats.noise) or 'none'})", soft_wrap=True, markup=False)
