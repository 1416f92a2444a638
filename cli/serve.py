"""``nlf serve``: the browser collector (FastAPI + a plain HTML/JS page) for every kind of feedback."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from cli.common import ReadbackCheckpoint, ReadbackInterpreter, cli_errors, console, err_console
from nlfeedback.collect.answers import parse_scale
from nlfeedback.collect.collector import Collector
from nlfeedback.collect.readback import session_reader
from nlfeedback.errors import NlfError
from nlfeedback.feedback.schema import KINDS
from nlfeedback.trajectory import read_trajectories


@cli_errors
def serve_command(
    trajectories: Annotated[Path, typer.Option("--trajectories", "-t", help="Trajectory JSONL file.")],
    out: Annotated[Path, typer.Option("--out", "-o", help="Feedback JSONL file (appended to; created if missing).")],
    kind: Annotated[list[str] | None, typer.Option(help="Kinds offered (repeatable; default: all four).")] = None,
    host: Annotated[str, typer.Option(help="Address to listen on; anything but loopback needs --token.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=0, max=65535, help="Port (0: any free port).")] = 8765,
    token: Annotated[str | None, typer.Option(help="Secret every request must carry (required off loopback).",
                                              envvar="NLF_TOKEN")] = None,
    items: Annotated[int | None, typer.Option(min=1, help="Items per kind (default: one per trajectory).")] = None,
    segment_length: Annotated[int | None, typer.Option(min=1, help="Segment length (preference default 25; "
                                                       "others default: whole episodes).")] = None,
    seed: Annotated[int, typer.Option(min=0, help="Seed of the queues' order and segments.")] = 0,
    scale: Annotated[str, typer.Option(help="Rating scale LOW:HIGH (scalar).")] = "0:10",
    readback: Annotated[bool | None, typer.Option("--readback/--no-readback", help=(
        "Read each text remark back to its writer (accept / fix / rephrase). Default: on when text is "
        "collected and the read-back interpreter is available."), show_default=False)] = None,
    readback_interpreter: ReadbackInterpreter = "trained",
    readback_checkpoint: ReadbackCheckpoint = None,
) -> None:
    """Collect human feedback in the browser: frames, scrubber and captions; text box, rating buttons,
    a sketch canvas (draw with the mouse; resampled to one value per step) and left/right/can't-tell.

    Each annotator types their name and works through their own queue per kind; several can work at
    once. Answers are appended to --out (file lock, fsync per record) with source.type=human, the
    annotator and the seconds from showing the item to submitting it; items already in --out for an
    annotator are skipped (resume). Binds 127.0.0.1 by default; another --host needs --token, and then
    every request must carry it (open the printed URL, which includes it).

    Read-back (text): after a remark is submitted, the reading of the --readback-interpreter (default:
    trained, the shipped step-level reader) is shown on the episode's timeline (good steps green, bad red,
    a general rule, or "not understood"); the person accepts it (key A), fixes it (click steps, flip
    signs, "about the whole run") or rephrases the remark, then goes on (key N). --no-readback turns it
    off for the session.

    Example: nlf serve --trajectories runs/demo/trajectories.jsonl --out runs/demo/human.jsonl --kind sketch
    """
    from nlfeedback.collect.web.app import is_loopback, serve

    kinds = list(dict.fromkeys(kind or []))
    for k in kinds:
        if k not in KINDS:
            raise NlfError(f"--kind {k!r}: valid kinds are {', '.join(KINDS)}")
    if not is_loopback(host) and not token:
        raise NlfError(f"--host {host} exposes the collector to the network: pass --token SECRET as well "
                       "(every request must then carry it)")
    if token is not None and len(token) < 8:
        raise NlfError("--token must be at least 8 characters")
    trajs = read_trajectories(trajectories).records
    if not trajs:
        raise NlfError(f"{trajectories}: no trajectories in the file")
    if not kinds:  # everything that can be asked of this file
        kinds = [k for k in KINDS if k != "preference" or len(trajs) >= 2]
    with Collector(trajs, out, kinds=kinds, items=items, segment_length=segment_length, seed=seed,
                   scale=parse_scale(scale), trajectory_path=trajectories) as collector:
        notes: list[str] = []

        def load_reader():
            reader, note = session_reader(readback, collector.kinds, readback_interpreter, readback_checkpoint)
            notes.append(note)
            return reader

        def ready(url: str) -> None:
            console.print(f"collecting {', '.join(collector.kinds)} feedback on {len(trajs)} trajectories "
                          f"into {out}", soft_wrap=True, markup=False)
            if notes and notes[0]:
                console.print(notes[0], soft_wrap=True, markup=False)
            console.print(f"open {url}   (Ctrl-C stops; everything submitted is saved)", soft_wrap=True, markup=False)

        serve(collector, host=host, port=port, token=token, on_ready=ready, load_reader=load_reader)
    err_console.print(f"stopped; {collector.written} items saved to {out} in this session", soft_wrap=True, markup=False)
