"""``nlf feedback …``: validate, summarise and inspect feedback files."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from cli.common import cli_errors, console, err_console, esc
from nlfeedback.errors import NlfError
from nlfeedback.feedback.schema import PreferenceFeedback, ScalarFeedback, SketchFeedback, TextFeedback
from nlfeedback.feedback.stats import feedback_stats
from nlfeedback.feedback.store import read_feedback
from nlfeedback.envs.tasks import ACTION_NAMES
from nlfeedback.trajectory import load_trajectories

app = typer.Typer(help="Validate, summarise and inspect feedback files.", no_args_is_help=True)


@app.command("validate")
@cli_errors
def validate_command(
    file: Annotated[Path, typer.Argument(help="Feedback JSONL file.")],
    trajectories: Annotated[Path, typer.Option("--trajectories", "-t", help="The trajectory file it refers to.")],
    skip_invalid: Annotated[bool, typer.Option(help="Report every bad line and a count instead of stopping.")] = False,
) -> None:
    """Validate every feedback line against the schema and the trajectory file.

    Exits 1 with `file:line: field …: reason` on the first bad line (or every bad line and a count
    with --skip-invalid).

    Example: nlf feedback validate runs/demo/text.jsonl --trajectories runs/demo/trajectories.jsonl
    """
    from nlfeedback.feedback.labels import check_labelled

    trajs = load_trajectories(trajectories)
    result = read_feedback(file, trajs, skip_invalid=skip_invalid)
    for e in result.errors[:50]:
        err_console.print(str(e), soft_wrap=True, markup=False)
    if result.errors:
        err_console.print(f"{file}: {len(result.errors)} invalid, {len(result.records)} valid", soft_wrap=True,
                          markup=False)
        raise typer.Exit(1)
    label_problems = check_labelled(result.records, trajs)
    for fid, problems in list(label_problems.items())[:50]:
        for p in problems:
            err_console.print(f"{file}: feedback {fid}: {p}", soft_wrap=True, markup=False)
    if label_problems:
        err_console.print(f"{file}: {len(label_problems)} labelled remarks contradict their captions", soft_wrap=True,
                          markup=False)
        raise typer.Exit(1)
    console.print(f"{file}: {len(result.records)} valid feedback items", soft_wrap=True, markup=False)


@app.command("import-labels")
@cli_errors
def import_labels_command(
    file: Annotated[Path, typer.Argument(help="Annotation JSONL: one labelled remark per line (README: Labelled human remarks).")],
    trajectories: Annotated[Path, typer.Option("--trajectories", "-t", help="The trajectories the remarks are about.")],
    out: Annotated[Path, typer.Option("--out", "-o", help="Feedback JSONL to write (nlf.feedback/1 with labels).")],
    runs: Annotated[Path | None, typer.Option(help="JSON object mapping the lines' 'run' names to trajectory ids.")] = None,
    id_prefix: Annotated[str, typer.Option(help="Record ids are PREFIX-LINE.")] = "human",
    labeller: Annotated[str | None, typer.Option(help="Who labelled the remarks (stored in labels.labeller).")] = None,
    skip_invalid: Annotated[bool, typer.Option(help="Write the good lines and report the bad ones (exit 0).")] = False,
    force: Annotated[bool, typer.Option(help="Replace an existing --out.")] = False,
) -> None:
    """Turn labelled remarks (steps as `nlf show` numbers them) into human text feedback with gold labels.

    Every label is checked against the trajectory's captions; without --skip-invalid any bad line stops
    the import with `file:line: what` and nothing is written.

    Example: nlf feedback import-labels remarks.jsonl -t runs/demo/trajectories.jsonl -o runs/demo/human.jsonl
    """
    from nlfeedback.feedback.labels import import_annotations
    from nlfeedback.feedback.store import FeedbackWriter
    from nlfeedback.jsonl import open_output, prepare_output

    inputs = [file, trajectories, runs]
    prepare_output(out, force=force, can_append=False, inputs=inputs)
    trajs = load_trajectories(trajectories)
    run_map = json.loads(runs.read_text()) if runs else None
    records, errors = import_annotations(str(file), trajs, runs=run_map, id_prefix=id_prefix, labeller=labeller)
    for e in errors[:50]:
        err_console.print(str(e), soft_wrap=True, markup=False)
    if errors and not skip_invalid:
        err_console.print(f"{file}: {len(errors)} problems; nothing written (--skip-invalid writes the good lines)",
                          soft_wrap=True, markup=False)
        raise typer.Exit(1)
    with open_output(out, force=force, can_append=False, inputs=inputs) as raw:
        FeedbackWriter(out, writer=raw).write_all(records)
    console.print(f"wrote {len(records)} labelled remarks to {out}" + (f"; skipped {len(errors)} problems" if errors else ""),
                  soft_wrap=True, markup=False)


@app.command("stats")
@cli_errors
def stats_command(
    file: Annotated[Path, typer.Argument(help="Feedback JSONL file.")],
    json_out: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Counts by kind, source, split, category and noise, annotator-seconds (humans and critics apart), and
    how often read-back remarks were accepted, fixed or rephrased (per annotator and per category).

    Example: nlf feedback stats runs/demo/text.jsonl
    """
    stats = feedback_stats(read_feedback(file).records)
    if json_out:
        console.print_json(json.dumps(stats))
        return
    by_source = stats["total_seconds_by_source"]
    split = ", ".join(f"{'human, measured' if src == 'human' else 'critic, modelled'}: {sec:.0f}"
                      for src, sec in sorted(by_source.items(), key=lambda kv: kv[0] != "human"))
    console.print(f"{file}: {stats['items']} items, {stats['total_seconds']:.0f} annotator-seconds ({split})",
                  soft_wrap=True, markup=False)
    for key in ("by_kind", "by_source", "by_annotator", "by_split", "by_category", "by_noise"):
        if stats[key]:
            console.print(f"  {key.replace('_', ' ')}: " + ", ".join(f"{k} {v}" for k, v in stats[key].items()),
                          soft_wrap=True, markup=False)
    table = Table(title="annotator-seconds (human: measured; critic: cost model)", title_justify="left")
    for col in ("source", "kind", "items", "seconds", "mean s/item", "median s/item"):
        table.add_column(col, justify="left" if col in ("source", "kind") else "right")
    for src in sorted(stats["annotation_seconds"], key=lambda s: s != "human"):  # humans first
        label = src
        for kind, row in stats["annotation_seconds"][src].items():
            table.add_row(esc(label), esc(kind), str(row["items"]), f"{row['seconds']:.1f}", f"{row['seconds_per_item']:.1f}",
                          f"{row['median_seconds']:.1f}")
    console.print(table)
    if stats["human_seconds_by_annotator"]:
        people = Table(title="human annotator-seconds by annotator", title_justify="left")
        for col in ("annotator", "kind", "items", "seconds", "mean s/item", "median s/item"):
            people.add_column(col, justify="left" if col in ("annotator", "kind") else "right")
        for name, kinds in stats["human_seconds_by_annotator"].items():
            for kind, row in kinds.items():
                people.add_row(esc(name), esc(kind), str(row["items"]), f"{row['seconds']:.1f}",
                               f"{row['seconds_per_item']:.1f}", f"{row['median_seconds']:.1f}")
        console.print(people)
    rb = stats["readback"]
    if rb["records"]:
        console.print(f"  read back: {rb['records']} remarks; accepted {rb['accepted']}, fixed {rb['fixed']}, "
                      f"rephrased {rb['rephrased']}; misread rate {rb['misread_rate']:.3f}", soft_wrap=True,
                      markup=False)
        for title, first, rows in (("read-back verdicts by annotator", "annotator", rb["by_annotator"]),
                                   ("read-back verdicts by category (from labels)", "category", rb["by_category"])):
            table = Table(title=title, title_justify="left")
            for col in (first, "remarks", "accepted", "fixed", "rephrased", "misread rate"):
                table.add_column(col, justify="left" if col == first else "right")
            for name, row in rows.items():
                table.add_row(esc(name), str(row["records"]), *(f"{row[v]} ({row[v + '_rate']:.0%})"
                              for v in ("accepted", "fixed", "rephrased")), f"{row['misread_rate']:.3f}")
            console.print(table)


@app.command("show")
@cli_errors
def show_command(
    file: Annotated[Path, typer.Argument(help="Feedback JSONL file.")],
    feedback_id: Annotated[str, typer.Option("--id", help="Feedback id.")],
    trajectories: Annotated[Path, typer.Option("--trajectories", "-t", help="The trajectory file it refers to.")],
) -> None:
    """Show one feedback item next to the steps of the trajectory it is about.

    Example: nlf feedback show runs/demo/text.jsonl --id fb-0123abcd4567ef89 --trajectories runs/demo/trajectories.jsonl
    """
    trajs = load_trajectories(trajectories)
    items = {fb.id: fb for fb in read_feedback(file, trajs).records}
    fb = items.get(feedback_id)
    if fb is None:
        raise NlfError(f"{file}: no feedback with id {feedback_id!r}")
    traj = trajs[fb.trajectory_id]
    who = fb.source.annotator if fb.source.type == "human" else f"critic {fb.source.name}"
    console.print(f"[bold]{esc(fb.id)}[/] {fb.kind} by {esc(who)}, {fb.annotation_seconds:.1f} s, on {esc(traj.id)} "
                  f"steps {fb.segment[0] + 1}–{fb.segment[1]} of {len(traj)}", soft_wrap=True)
    marks: dict[int, str] = {}
    if isinstance(fb, TextFeedback):
        console.print(f'  "{fb.text}"', soft_wrap=True, markup=False)
        if fb.intent:
            console.print(f"  intent: {fb.intent.type}, categories {', '.join(fb.intent.categories)}, "
                          f"template {fb.intent.template} ({fb.intent.split})"
                          + (f", noise {fb.intent.noise}" if fb.intent.noise else ""), soft_wrap=True, markup=False)
            for c in fb.intent.clauses:
                sign = "+" if c.polarity > 0 else "−" if c.polarity < 0 else "0"
                for s in c.steps:
                    marks[s] = marks.get(s, "") + sign
    elif isinstance(fb, ScalarFeedback):
        console.print(f"  rating {fb.value:g} on [{fb.scale[0]:g}, {fb.scale[1]:g}]"
                      + (f" (meant {fb.intent.value:g})" if fb.intent else ""), markup=False)
    elif isinstance(fb, PreferenceFeedback):
        answer = {0: "this segment", 1: "the other segment", 0.5: "can't tell"}[fb.preferred]
        console.print(f"  preferred: {answer}; other: {fb.other_trajectory_id} steps "
                      f"{fb.other_segment[0] + 1}–{fb.other_segment[1]}", soft_wrap=True, markup=False)
    table = Table(box=None)
    for col in ("step", "action", "caption", "reward"):
        table.add_column(col)
    if isinstance(fb, SketchFeedback):
        table.add_column("sketch", justify="right")
    if marks:
        table.add_column("intent")
    for t in range(fb.segment[0], fb.segment[1]):
        row = [str(t + 1), ACTION_NAMES[traj.actions[t]], esc(traj.captions[t]), f"{traj.rewards[t]:.2f}"]
        if isinstance(fb, SketchFeedback):
            row.append(f"{fb.curve[t - fb.segment[0]]:+.2f}")
        if marks:
            row.append(marks.get(t, ""))
        table.add_row(*row)
    console.print(table)
