"""``nlf collect``: human feedback of one kind in the terminal (text, ratings, key-point sketches, preferences)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from cli.common import ReadbackCheckpoint, ReadbackInterpreter, cli_errors, console
from nlfeedback.collect.answers import check_annotator, parse_scale
from nlfeedback.collect.collector import Collector
from nlfeedback.collect.readback import session_reader
from nlfeedback.collect.terminal import TerminalCollector
from nlfeedback.errors import NlfError
from nlfeedback.trajectory import read_trajectories


@cli_errors
def collect_command(
    trajectories: Annotated[Path, typer.Option("--trajectories", "-t", help="Trajectory JSONL file.")],
    kind: Annotated[str, typer.Option(help="text | scalar | sketch | preference")],
    annotator: Annotated[str, typer.Option(help="Your name as recorded in source.annotator (resume key).")],
    out: Annotated[Path, typer.Option("--out", "-o", help="Feedback JSONL file (appended to; created if missing).")],
    items: Annotated[int | None, typer.Option(min=1, help="Items in the queue (default: one per trajectory).")] = None,
    segment_length: Annotated[int | None, typer.Option(min=1, help="Segment length (preference default 25; "
                                                       "others default: whole episodes).")] = None,
    seed: Annotated[int, typer.Option(min=0, help="Seed of the queue's order and segments (keep it to resume).")] = 0,
    scale: Annotated[str, typer.Option(help="Rating scale LOW:HIGH (scalar).")] = "0:10",
    fps: Annotated[float, typer.Option(min=0.5, max=60, help="Replay speed (steps per second) for the r key.")] = 4.0,
    readback: Annotated[bool | None, typer.Option("--readback/--no-readback", help=(
        "Read each text remark back to its writer (accept / edit / rephrase). Default: on for --kind text "
        "when the read-back interpreter is available."), show_default=False)] = None,
    readback_interpreter: ReadbackInterpreter = "trained",
    readback_checkpoint: ReadbackCheckpoint = None,
) -> None:
    """Collect human feedback in the terminal: watch each trajectory, then type the feedback.

    Keys while watching: n/→ next step, p/← back, b/e start/end, g go to step, r replay, a list steps,
    f or Enter answer, s skip, q quit, ? help. Answers: one line of text; a rating in the scale; a
    sketch as key points STEP:VALUE (e.g. 0:0 6:0.5 12:1, values in [-1, 1]); a preference 1 (left),
    2 (right) or = (can't tell). Invalid answers are asked again with the reason.

    Read-back (text): after each remark the reading of the --readback-interpreter (default: trained, the
    shipped step-level reader) is shown, one line per clause, and you accept it (a), edit it (e: clauses
    like '3-7 bad 0.7; 12 good', 'all good', 'rule entered:lava bad') or rephrase the remark (r); the
    verdict is stored with the remark (readback field; a fix becomes its gold labels). --no-readback turns
    it off for the session.

    Every answer is appended to --out (fsynced) as source.type=human with the annotator and the
    seconds from showing the item to submitting it. Run the same command again to resume: items
    already in --out for this annotator are skipped. Ctrl-C keeps everything submitted.

    Example: nlf collect --trajectories runs/demo/trajectories.jsonl --kind text --annotator alice
    --out runs/demo/human-text.jsonl
    """
    name = check_annotator(annotator)
    trajs = read_trajectories(trajectories).records
    if not trajs:
        raise NlfError(f"{trajectories}: no trajectories in the file")
    with Collector(trajs, out, kinds=[kind], items=items, segment_length=segment_length, seed=seed,
                   scale=parse_scale(scale), trajectory_path=trajectories) as collector:
        reader, note = session_reader(readback, [kind], readback_interpreter, readback_checkpoint)
        if note and reader is None:
            console.print(note, soft_wrap=True, markup=False)
        summary = TerminalCollector(collector, name, kind, fps=fps, reader=reader).run()
    left = summary.remaining
    what = {"finished": "done", "quit": "stopped", "interrupted": "interrupted", "input ended": "input ended"}
    console.print(f"{what[summary.stopped]}: saved {summary.saved} {kind} items to {out} this session "
                  f"({summary.done_before + summary.saved + summary.already} of {summary.total} done by {name}; "
                  f"{left} left" + (f", {summary.skipped} skipped for now" if summary.skipped else "") + ")",
                  soft_wrap=True, markup=False)
    if left:
        console.print("resume with the same command", soft_wrap=True, markup=False)
    if summary.stopped == "interrupted":
        raise typer.Exit(130)
