"""``nlf interpret``, ``nlf train-interpreter``, ``nlf eval-interpreter``: free text → per-step targets."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from cli.common import cli_errors, console, progress
from nlfeedback.errors import NlfError


def _load(feedback: list[Path], trajectories: list[Path]):
    from nlfeedback.feedback.store import read_feedback
    from nlfeedback.trajectory import load_trajectories

    trajs = {}
    for t in trajectories:
        trajs.update(load_trajectories(t))
    items = []
    for f in feedback:
        items += read_feedback(f, trajs).records
    return items, trajs


@cli_errors
def interpret_command(
    feedback: Annotated[list[Path], typer.Option("--feedback", "-f", help="Feedback JSONL file(s).")],
    trajectories: Annotated[list[Path], typer.Option("--trajectories", "-t", help="Trajectory JSONL file(s).")],
    out: Annotated[Path, typer.Option("--out", "-o", help="Targets JSONL file (nlf.targets/1).")],
    interpreter: Annotated[str, typer.Option(help="keyword | zero-shot | trained | oracle-intent")] = "trained",
    checkpoint: Annotated[Path | None, typer.Option(help="Trained interpreter checkpoint (default: the shipped one).")] = None,
    apply_rules: Annotated[bool, typer.Option(help="Spread general rules to every matching trajectory.")] = True,
    append: Annotated[bool, typer.Option(help="Append to an existing --out.")] = False,
    force: Annotated[bool, typer.Option(help="Replace an existing --out.")] = False,
) -> None:
    """Turn text feedback into per-step reward targets and weights.

    Example: nlf interpret --feedback runs/demo/text.jsonl --trajectories runs/demo/trajectories.jsonl
    --interpreter trained --out runs/demo/targets.jsonl
    """
    from nlfeedback.jsonl import open_output
    from nlfeedback.language.apply import interpret_feedback
    from nlfeedback.language.interpreters import make_interpreter

    items, trajs = _load(feedback, trajectories)
    interp = make_interpreter(interpreter, checkpoint=str(checkpoint) if checkpoint else None)
    n_text = sum(fb.kind == "text" for fb in items)
    written = abstained = spread = 0
    with open_output(out, append=append, force=force) as writer:
        for t in progress(interpret_feedback(items, trajs, interp, apply_rules=apply_rules), n_text, interpreter):
            writer.write(t.to_json())
            written += 1
            spread += t.rule_of is not None
            abstained += t.rule_of is None and not t.weights.any()
    console.print(f"wrote {written} target records to {out}: {n_text} text items ({abstained} abstained), "
                  f"{spread} from general rules on other trajectories", soft_wrap=True)


@cli_errors
def train_interpreter_command(
    out: Annotated[Path, typer.Option("--out", "-o", help="Checkpoint to write.")],
    feedback: Annotated[list[Path] | None, typer.Option("--feedback", "-f", help="Critic text feedback (train split).")] = None,
    trajectories: Annotated[list[Path] | None, typer.Option("--trajectories", "-t", help="Their trajectories.")] = None,
    generate: Annotated[bool, typer.Option(help="Generate critic feedback instead (rollouts + language critic).")] = False,
    tasks: Annotated[str, typer.Option(help="Tasks for --generate, comma-separated.")] = "doorkey-5x5,doorkey-6x6,lavagap-5,lavagap-7,keys-distractor,empty-random-6x6",
    items: Annotated[int, typer.Option(min=10, help="Remarks per task with --generate.")] = 500,
    episodes: Annotated[int, typer.Option(min=2, help="Episodes per task with --generate.")] = 100,
    epochs: Annotated[int, typer.Option(min=1)] = 40,
    hidden: Annotated[int, typer.Option(min=8)] = 256,
    members: Annotated[int, typer.Option(min=1, help="Ensemble size per draw (averaged probabilities).")] = 3,
    draws: Annotated[int, typer.Option(min=1, help="Train on this many draws of feedback (with --generate: seeds "
                                                   "seed, seed+1, …; with --feedback: the same remarks, own seeds) "
                                                   "and pool their members.")] = 1,
    embed_dropout: Annotated[float | None, typer.Option(min=0.0, max=0.95, help="Share of training examples read from "
                                                        "their scalar cues alone, embeddings zeroed (default: TrainConfig's).")] = None,
    seed: Annotated[int, typer.Option(min=0)] = 0,
) -> None:
    """Train the `trained` interpreter on critic feedback with train-split phrasings; save a checkpoint.

    Example: nlf train-interpreter --generate --out runs/interpreter.pt
    """
    from nlfeedback.feedback.schema import TextFeedback
    from nlfeedback.language.interpreters.trained import TrainConfig
    from nlfeedback.language.train_interpreter import combine_interpreters, generate_training_feedback, train_interpreter

    if generate == bool(feedback):
        raise NlfError("give either --feedback/--trajectories or --generate")
    if not generate:
        if not trajectories:
            raise NlfError("--feedback needs --trajectories")
        loaded, trajs_map = _load(feedback, trajectories)
        fb = [x for x in loaded if isinstance(x, TextFeedback) and x.intent is not None]
        env_ids = sorted({trajs_map[x.trajectory_id].env_id for x in fb})
    names = [t.strip() for t in tasks.split(",") if t.strip()]
    parts = []
    for d in range(draws):
        if generate:
            trajs, fb = generate_training_feedback(names, episodes=episodes, items=items, seed=seed + d)
            env_ids = sorted({t.env_id for t in trajs})
        extra = {} if embed_dropout is None else {"embed_dropout": embed_dropout}
        config = TrainConfig(epochs=epochs, hidden=hidden, seed=seed + d, members=members, **extra)
        interp, report = train_interpreter(fb, config, meta={"train_env_ids": env_ids})
        parts.append(interp)
        console.print(f"{f'draw {d + 1}/{draws}: ' if draws > 1 else ''}trained on {report['remarks']} remarks "
                      f"({report['examples']} fragment examples); validation accuracy {report['val_accuracy']}",
                      soft_wrap=True)
    combine_interpreters(parts).save(out)
    console.print(f"saved {out} ({draws * members} members)", soft_wrap=True)


def _table(title: str, rows: dict) -> Table:
    table = Table(title=title, title_justify="left")
    for col in ("", "items", "sign err", "attr P", "attr R", "attr F1", "probes", "neg. flip fail"):
        table.add_column(col, justify="left" if not col else "right")

    def fmt(v):
        return "–" if v is None else f"{v:.3f}" if isinstance(v, float) else str(v)

    for name, r in rows.items():
        table.add_row(name, fmt(r["items"]), fmt(r["sign_error_rate"]), fmt(r["attribution_precision"]),
                      fmt(r["attribution_recall"]), fmt(r["attribution_f1"]), fmt(r["probes"]),
                      fmt(r["negation_flip_failure"]))
    return table


@cli_errors
def eval_interpreter_command(
    feedback: Annotated[list[Path], typer.Option("--feedback", "-f", help="Critic text feedback (with intents).")],
    trajectories: Annotated[list[Path], typer.Option("--trajectories", "-t", help="Their trajectories.")],
    interpreter: Annotated[str, typer.Option(help="keyword | zero-shot | trained | oracle-intent")] = "trained",
    checkpoint: Annotated[Path | None, typer.Option(help="Trained interpreter checkpoint.")] = None,
    errors: Annotated[Path | None, typer.Option(
        help="Also write every misread item and failed negation probe to this JSONL file, worst first.")] = None,
    force: Annotated[bool, typer.Option("--force", help="Replace an existing --errors file.")] = False,
    json_out: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Misinterpretation metrics against the critics' intents, overall, by category and by split.

    Example: nlf eval-interpreter --feedback runs/demo/text.jsonl --trajectories runs/demo/trajectories.jsonl
    --interpreter trained --errors runs/demo/misread.jsonl
    """
    from nlfeedback.jsonl import open_output, prepare_output
    from nlfeedback.language.evaluate import run_evaluation
    from nlfeedback.language.interpreters import make_interpreter

    if errors is not None:  # refuse to overwrite before spending time on the evaluation
        prepare_output(errors, force=force, can_append=False)

    items, trajs = _load(feedback, trajectories)
    interp = make_interpreter(interpreter, checkpoint=str(checkpoint) if checkpoint else None)
    train_ids = None
    meta = getattr(interp, "meta", None)
    if meta and meta.get("train_env_ids"):
        train_ids = set(meta["train_env_ids"])
    evaluation = run_evaluation(interp, items, trajs, train_env_ids=train_ids)
    report = evaluation.report().to_json()
    report["interpreter"] = interpreter
    if errors is not None:
        misread = evaluation.misreadings()
        with open_output(errors, force=force) as writer:
            for rec in misread:
                writer.write(rec)
        report["errors_file"] = str(errors)
    if json_out:
        console.print_json(json.dumps(report))
        return
    console.print(_table(f"{interpreter}: overall and by split", {"overall": report["overall"], **report["by_split"]}))
    console.print(_table("by category", report["by_category"]))
    if report["skipped_no_intent"]:
        console.print(f"{report['skipped_no_intent']} items without intent (human) were not scored")
    if errors is not None:
        n_probe = sum(r["problem"] == "negation-probe" for r in misread)
        console.print(f"wrote {len(misread) - n_probe} misread items and {n_probe} failed negation probes to {errors}",
                      soft_wrap=True)
