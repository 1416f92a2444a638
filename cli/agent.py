"""``nlf train-agent``: PPO on the task's reward (``--reward oracle``), on a learned reward checkpoint, or
in the online loop (``--online --critic KIND``: feedback, reward fit and PPO in rounds)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from cli.common import cli_errors, console
from nlfeedback.envs.tasks import DEFAULT_TASK
from nlfeedback.experiments.config import RunSettings

_RUN = RunSettings.model_fields  # the defaults of the options that mirror an ablation config's [run]


@cli_errors
def train_agent_command(
    out: Annotated[Path, typer.Option("--out", "-o", help="Run folder: policy.zip, curve.jsonl, summary.json.")],
    task: Annotated[str, typer.Option(help="Task short name or gymnasium id.")] = DEFAULT_TASK,
    reward: Annotated[str, typer.Option(help="'oracle' (the task's reward), 'judgement' (the dense judgement critics "
                                                  "judge by) or a reward checkpoint path.")] = "oracle",
    steps: Annotated[int, typer.Option(min=1000, help="Environment steps.")] = _RUN["steps"].default,
    seed: Annotated[int, typer.Option(min=0)] = 0,
    eval_every: Annotated[int, typer.Option(min=500, help="Steps between evaluations.")] = \
        _RUN["eval_every"].default,
    eval_episodes: Annotated[int, typer.Option(min=1)] = _RUN["eval_episodes"].default,
    eval_actions: Annotated[str, typer.Option(help=(
        "Evaluations take the policy's likeliest action (deterministic) or sample its actions as PPO trained it "
        "(sampled; seeded). A deterministic policy can loop forever under partial observation."))] = \
        _RUN["eval_actions"].default,
    ent_coef: Annotated[float, typer.Option(min=0.0, max=1.0, help="PPO's entropy bonus.")] = _RUN["ent_coef"].default,
    reward_scale: Annotated[float | None, typer.Option(help="Scale of the normalised learned reward "
                                                       "(default 0.1).")] = None,
    json_out: Annotated[bool, typer.Option("--json", help="Print the summary as JSON.")] = False,
    online: Annotated[bool, typer.Option("--online", help="Online loop: a scripted critic gives feedback on the "
                                                          "agent's own trajectories in rounds.")] = False,
    critic: Annotated[str | None, typer.Option(help="--online: text | sketch | scalar | preference | text+preference")] = None,
    budget: Annotated[int, typer.Option(min=1, help="--online: feedback items in total.")] = 150,
    rounds: Annotated[int, typer.Option(min=1, help="--online: feedback rounds (reward refit after "
                                                    "each).")] = _RUN["rounds"].default,
    interpreter: Annotated[str, typer.Option(help="--online text: trained | zero-shot | keyword | "
                                                  "oracle-intent")] = "trained",
    noise: Annotated[str, typer.Option(help="--online: teacher noise, as nlf critique --noise.")] = "",
    phrasing: Annotated[str, typer.Option(help="--online text: the critic's phrase bank, heldout | train")] = "heldout",
    reward_view: Annotated[str, typer.Option(help="--online: what the reward model sees, partial (the agent's "
                                                  "view) | full (the whole grid)")] = _RUN["reward_view"].default,
    reward_form: Annotated[str, typer.Option(help="--online: the learned reward's form, shaped (potential-based: "
                                                  "no loop of states pays) | action (a plain r(s, a))")] = \
        _RUN["reward_form"].default,
    initial: Annotated[str, typer.Option(help="--online: round 0's trajectories, noisy-expert | random "
                                              "(wandering)")] = _RUN["initial"].default,
    guard_every: Annotated[int, typer.Option(min=0, help="--online with --rounds 1: steps between the disagreement "
                                                  "guard's checks (fresh feedback on the agent's newest episodes "
                                                  "against the fixed reward; docs/probes.md); 0: off")] = \
        _RUN["guard_every"].default,
    guard_items: Annotated[int, typer.Option(min=1, help="--online: the guard's episodes and feedback items per "
                                                         "check")] = _RUN["guard_items"].default,
    guard_action: Annotated[str, typer.Option(help="--online: what a firing check does, stop (keep the policy of "
                                                   "the check before) | refit (the reward, with the checks' "
                                                   "feedback)")] = _RUN["guard_action"].default,
    force: Annotated[bool, typer.Option(help="Replace a run already in --out (the old run stays until the new one "
                                             "is complete).")] = False,
) -> None:
    """Train a PPO agent and log true return, success rate and proxy return as it learns.

    The run is written to .OUT.PID.tmp beside --out and moved into place when training ends; a run
    already in --out is refused without --force (and kept if the new one fails or is stopped). What a
    failed or stopped run wrote (its curve so far) is kept in OUT.partial.

    Example: nlf train-agent --task doorkey-5x5 --reward runs/demo/reward-sketch.pt --steps 150000 --seed 0
    --out runs/demo/agent-sketch

    Online: nlf train-agent --online --critic sketch --budget 150 --task doorkey-5x5 --out runs/demo/online-sketch
    """
    from nlfeedback.agents.train import AgentConfig, train_agent
    from nlfeedback.envs.tasks import get_task
    from nlfeedback.errors import NlfError
    from nlfeedback.jsonl import staged_dir
    from nlfeedback.reward.model import RewardModel

    the_task = get_task(task)
    if online:
        from nlfeedback.experiments.online import OnlineConfig, run_online

        if critic is None or reward != "oracle":
            raise NlfError("--online needs --critic KIND and learns its own reward (leave --reward out)")
        cfg = OnlineConfig(task=the_task.name, kind=critic, interpreter=interpreter, budget=budget, rounds=rounds,
                           steps=steps, noise=noise, seed=seed, eval_every=eval_every, eval_episodes=eval_episodes,
                           eval_actions=eval_actions, ent_coef=ent_coef, phrasing=phrasing, reward_view=reward_view,
                           reward_form=reward_form, initial=initial,
                           guard_every=guard_every, guard_items=guard_items, guard_action=guard_action,
                           agent={"reward_scale": reward_scale})
        with staged_dir(out, force=force, keep_partial=True) as run_dir:
            summary = run_online(cfg, run_dir, progress=None if json_out else
                                 lambda m: console.print(m, soft_wrap=True, markup=False))
        what = (f"online {critic}, seed {seed}: {summary['feedback']['items']} feedback items "
                f"({summary['feedback']['annotator_seconds']:.0f} annotator-s);")
        g = summary.get("guard")
        if g:
            what += (f" guard: {len(g['checks'])} checks, {g['items']} more items, " +
                     (f"refitted the reward at {', '.join(f'{x:,}' for x in g['refits'])} steps;" if g["refits"] else
                      f"fired at {g['fired_at']:,} steps (kept the policy of {g['kept_steps']:,}: true return "
                      f"{g['kept']['true_return']:.3f});" if g["fired_at"] is not None else "never fired;"))
    else:
        if critic is not None:
            raise NlfError("--critic only goes with --online")
        if reward_view != _RUN["reward_view"].default:
            raise NlfError("--reward-view goes with --online (a reward checkpoint already says what it sees)")
        if reward_form != _RUN["reward_form"].default or initial != _RUN["initial"].default:
            raise NlfError("--reward-form and --initial go with --online (a reward checkpoint is already fitted)")
        if guard_every:
            raise NlfError("--guard-every goes with --online (the guard asks the critic for fresh feedback)")
        built_in = reward in ("oracle", "judgement")
        model = None if built_in else RewardModel.load(reward)
        from nlfeedback.experiments.online import EVAL_ACTIONS

        if eval_actions not in EVAL_ACTIONS:
            raise NlfError(f"--eval-actions must be one of {', '.join(EVAL_ACTIONS)}, got {eval_actions!r}")
        config = AgentConfig(steps=steps, seed=seed, eval_every=eval_every, eval_episodes=eval_episodes,
                             eval_actions=eval_actions, ent_coef=ent_coef, reward_scale=reward_scale)
        with staged_dir(out, force=force, inputs=[None if built_in else reward], keep_partial=True) as run_dir:
            summary = train_agent(the_task, model, config, run_dir, judged=reward == "judgement")
        what = f"reward {summary['reward']}, seed {seed}, {summary['fps']:.0f} fps:"
    if json_out:
        console.print_json(json.dumps({k: v for k, v in summary.items() if k != "curve"}))
        return
    f = summary["final"]
    console.print(f"{the_task.name}, {what} true return {f['true_return']:.3f}, success {f['success_rate']:.0%}, "
                  f"proxy return {f['proxy_return']:.3f}, violations/episode {f['violations']:.2f}; gaming flagged: "
                  f"{summary['gaming']}; wrote {out}", soft_wrap=True, markup=False)
