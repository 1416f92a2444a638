"""``nlf train-reward`` and ``nlf eval-reward``: reward models from feedback, and their metrics."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from cli.common import cli_errors, console


@cli_errors
def train_reward_command(
    feedback: Annotated[list[Path], typer.Option("--feedback", "-f", help="Feedback JSONL file(s).")],
    trajectories: Annotated[list[Path], typer.Option("--trajectories", "-t", help="Trajectory JSONL file(s).")],
    kind: Annotated[str, typer.Option(help="text | sketch | scalar | preference | mixed")],
    out: Annotated[Path, typer.Option("--out", "-o", help="Reward checkpoint to write.")],
    interpreter: Annotated[str, typer.Option(help="For text: keyword | zero-shot | trained | oracle-intent")] = "trained",
    sketch_mode: Annotated[str | None, typer.Option(help="Sketch targets: potential (the curve as Φ; default for the "
                                                         "shaped form) | difference | value (action form)")] = None,
    form: Annotated[str, typer.Option(help="shaped (loop-proof: potential and terminal value) | action "
                                           "(plain r(s, a))")] = "shaped",
    penalties: Annotated[bool, typer.Option("--penalties", help="Shaped form: also learn per-step penalties "
                                                              "min(0, C(s, a)) (off: see README)")] = False,
    failure_floor: Annotated[float, typer.Option(min=0.0, help="Shaped form: weight of the hinge keeping the terminal "
                                                               "value ≤ 0 on endings judged bad (0: off; see README)")] = 1.0,
    obs_mode: Annotated[str, typer.Option(help="What the model sees: partial (7x7 view) | full (whole grid)")] = "partial",
    epochs: Annotated[int, typer.Option(min=1)] = 30,
    members: Annotated[int, typer.Option(min=1, help="Ensemble size.")] = 1,
    seed: Annotated[int, typer.Option(min=0)] = 0,
    force: Annotated[bool, typer.Option(help="Replace an existing --out (the old file stays until success).")] = False,
) -> None:
    """Train a reward model r(obs, action) from one kind of feedback (or several with --kind mixed).

    Text remarks whose writer fixed the reading read back to them are learned from their corrected labels
    instead of the interpreter's reading.

    Example: nlf train-reward --feedback runs/demo/sketch.jsonl --trajectories runs/demo/trajectories.jsonl
    --kind sketch --out runs/demo/reward-sketch.pt
    """
    from itertools import chain

    from cli.interpret import _load
    from nlfeedback.feedback.readback import is_fixed
    from nlfeedback.jsonl import atomic_path, check_output
    from nlfeedback.language.apply import interpret_feedback
    from nlfeedback.language.interpreters import make_interpreter
    from nlfeedback.reward.data import build_reward_data
    from nlfeedback.reward.train import RewardConfig, train_reward
    from nlfeedback.targets import fixed_targets

    inputs = [*feedback, *trajectories]
    check_output(out, inputs=inputs, force=force, can_append=False)  # before any work
    items, trajs = _load(feedback, trajectories)
    interp = make_interpreter(interpreter) if kind in ("text", "mixed") and any(f.kind == "text" for f in items) else None
    # remarks whose writer fixed the reading read back to them train on their corrected labels, not a reading
    fixed = [f for f in items if is_fixed(f)] if interp is not None else []
    targets = chain(interpret_feedback([f for f in items if not is_fixed(f)], trajs, interp),
                    fixed_targets(fixed, trajs)) if interp is not None else None  # read after the checks
    data = build_reward_data(items, trajs, kind, targets=targets, sketch_mode=sketch_mode, form=form)
    config = RewardConfig(obs_mode=obs_mode, form=form, penalties=penalties, failure_floor=failure_floor, epochs=epochs, members=members, seed=seed)
    model, report = train_reward(data, kind, config)
    model.meta["interpreter"] = interpreter if interp is not None else None
    model.meta["fixed_remarks"] = len(fixed)
    model.meta["sketch_mode"] = data.sketch_mode
    with atomic_path(out, inputs=inputs, force=force) as tmp:
        model.save(tmp)
    final = {k: round(v, 4) for k, v in report["final"].items() if k not in ("member", "epoch")}
    console.print(f"trained {kind} reward on {data.counts}" + (f" ({len(fixed)} fixed remarks: their corrected labels, "
                  "not a reading)" if fixed else "") + f"; final losses {final}; saved {out}", soft_wrap=True, markup=False)


@cli_errors
def eval_reward_command(
    reward: Annotated[Path, typer.Option("--reward", "-r", help="Reward checkpoint.")],
    trajectories: Annotated[list[Path], typer.Option("--trajectories", "-t", help="Held-out trajectory file(s).")],
    json_out: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Reward metrics on held-out trajectories: Spearman vs the dense ground truth, event sign agreement, EPIC distance.

    Example: nlf eval-reward --reward runs/demo/reward-sketch.pt --trajectories runs/demo/heldout.jsonl
    """
    from nlfeedback.errors import NlfError
    from nlfeedback.metrics.reward import reward_metrics
    from nlfeedback.reward.model import RewardModel
    from nlfeedback.trajectory import load_trajectories

    model = RewardModel.load(reward)
    trajs = []
    for t in trajectories:
        trajs += list(load_trajectories(t).values())
    wrong = sorted({t.env_id for t in trajs if t.env_id != model.env_id})
    if wrong:
        raise NlfError(f"{reward}: trained on {model.env_id}; the trajectories include {', '.join(wrong)}")
    result = {"reward": str(reward), "kind": model.kind, **reward_metrics(model, trajs)}
    if json_out:
        console.print_json(json.dumps(result))
        return
    console.print(f"{reward} ({model.kind}, {model.obs_mode} view) on {result['trajectories']} trajectories: "
                  f"reward_spearman {result['reward_spearman']}", soft_wrap=True, markup=False)
    for k, v in result["event_sign_agreement"].items():
        console.print(f"  {k}: sign agreement {v} over {result['event_counts'][k]} steps", markup=False)


@cli_errors
def reward_curves_command(
    out: Annotated[Path, typer.Option("--out", "-o", help="Run folder: curves.jsonl, report.md, curves.csv, the plot.")],
    tasks: Annotated[str, typer.Option(help="Tasks, comma-separated.")] = "doorkey-5x5",
    arms: Annotated[str, typer.Option(help="Arms, comma-separated: text:<reader>, sketch, scalar, preference, or two "
                                           "joined by + (text:trained+preference: one reward from both).")]
    = "text:trained,text:oracle-intent,sketch,scalar,preference,text:trained+preference",
    budgets: Annotated[str, typer.Option(help="Feedback items, comma-separated.")] = "5,10,20,40,80,160,320,640,1000",
    seeds: Annotated[int, typer.Option(min=1)] = 10,
    initial: Annotated[str, typer.Option(help="The pool's policy: noisy-expert | random (the online loop's round 0).")]
    = "noisy-expert",
    episodes: Annotated[int, typer.Option(min=2, help="Episodes in each seed's pool.")] = 60,
    updates: Annotated[int, typer.Option(min=1, help="Cap on gradient steps per reward fit.")] = 300,
    workers: Annotated[int, typer.Option(min=1, help="Parallel (task, seed) units.")] = 1,
    reward_view: Annotated[str, typer.Option(help="What the reward model sees: partial (the agent's view) | full "
                                                  "(the whole grid).")] = "partial",
    eval_task: Annotated[str | None, typer.Option(help=(
        "Also score every fit on this task: its held-out runs, and key choice on paired layouts of both tasks "
        "(goal misgeneralisation: --tasks keys-distractor-train --eval-task keys-distractor-test)."))] = None,
    report_only: Annotated[bool, typer.Option("--report-only", help="Rebuild the report from curves.jsonl; fit "
                                                                    "nothing.")] = False,
    rerun_stale: Annotated[bool, typer.Option("--rerun-stale", help="Refit the rows another checkpoint of the trained "
                                              "reader read (kept in curves-stale.jsonl); without it a resume refuses "
                                              "to mix readers.")] = False,
) -> None:
    """Reward-quality curves: each arm's learned reward at each budget, without PPO — Spearman against the
    dense judgement and EPIC distance to the task's reward on held-out runs, 95% intervals over seeds, paired
    differences between arms. Resumable: a rerun fits only what curves.jsonl lacks.

    Example: nlf reward-curves --out runs/curves --tasks doorkey-5x5 --seeds 3 --budgets 5,20,80,320

    Goal misgeneralisation at the reward level: nlf reward-curves --out runs/key-curves --tasks keys-distractor-train
    --eval-task keys-distractor-test --reward-view full
    """
    from nlfeedback.experiments.reward_curves import CurvesConfig, run_curves, write_report

    def csv(text: str) -> list[str]:
        return [x.strip() for x in text.split(",") if x.strip()]

    if not report_only:
        try:
            budget_list = [int(b) for b in csv(budgets)]
        except ValueError:
            raise typer.BadParameter(f"budgets must be integers, got {budgets!r}", param_hint="--budgets") from None
        config = CurvesConfig(tasks=csv(tasks), arms=csv(arms), budgets=budget_list, seeds=seeds, initial=initial,
                              episodes=episodes, updates=updates, reward_view=reward_view, eval_task=eval_task)
        run_curves(config, out, workers=workers, rerun_stale=rerun_stale,
                   progress=lambda m: console.print(m, soft_wrap=True, markup=False))
    report = write_report(out)
    console.print(f"report: {report}", soft_wrap=True, markup=False)
