"""The online loop (Christiano et al. 2017 style): feedback, reward fit and PPO in rounds.

Each round: roll out trajectories (round 0: the ``initial`` pool; later rounds: the current policy,
sampling its actions), let a scripted critic give feedback on the new trajectories within the round's
share of the budget, refit the reward model on all feedback so far, and continue PPO on it. ``kind =
"oracle"`` trains PPO on the task's own reward with no feedback, the baseline every kind is compared with;
``kind = "judgement"`` trains PPO on the dense judgement the critics judge by, the ceiling of learning from
feedback.

``run_online`` writes, in ``out_dir``: ``trajectories.jsonl`` and ``feedback.jsonl`` (everything rolled
out and said, as any other file of the toolkit), ``reward-round<k>.pt`` (each refit),
``policy.zip``, ``curve.jsonl`` (one evaluation per line, with the feedback items and annotator-seconds
spent so far) and ``summary.json`` (config, seeds, versions, curve, final evaluation, interpretation
metrics for text, reward metrics on held-out trajectories, gaming flag).
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any, Callable

import torch

from nlfeedback.agents.envs import make_vec_env
from nlfeedback.agents.evaluation import evaluate_policy, expert_reference, gaming_flag
from nlfeedback.agents.reward_wrapper import RewardVecEnvWrapper
from nlfeedback.agents.train import AgentConfig, EvalCallback, make_ppo, train_agent
from nlfeedback.critics import critique
from nlfeedback.critics.noise import parse_noise
from nlfeedback.critics.phrasebank import SPLITS
from nlfeedback.envs import get_task
from nlfeedback.errors import NlfError
from nlfeedback.experiments.config import ALL_KINDS, REFERENCE_KINDS, RunSettings, split_budget
from nlfeedback.experiments.guard import ACTIONS as GUARD_ACTIONS, DisagreementGuard
from nlfeedback.feedback.schema import FeedbackBase, TextFeedback
from nlfeedback.feedback.store import FeedbackWriter
from nlfeedback.jsonl import JsonlWriter
from nlfeedback.language.apply import interpret_feedback
from nlfeedback.language.evaluate import evaluate_interpreter
from nlfeedback.language.interpreters import make_interpreter
from nlfeedback.language.interpreters.trained import default_checkpoint, default_checkpoint_digest
from nlfeedback.metrics.reward import reward_metrics
from nlfeedback.policies import make_policy
from nlfeedback.policies.checkpoint import CheckpointPolicy
from nlfeedback.reward.data import build_reward_data
from nlfeedback.reward.model import FORMS, RewardModel
from nlfeedback.reward.observations import OBS_MODES
from nlfeedback.reward.train import RewardConfig, capped_epochs, train_reward
from nlfeedback.rollout import rollout
from nlfeedback.trajectory import Trajectory
from nlfeedback.versions import package_versions, source_revision

KINDS = ALL_KINDS
INITIAL = ("noisy-expert", "random")
EVAL_ACTIONS = ("deterministic", "sampled")  # evaluations: the policy's likeliest action, or sampled from it

_RUN = RunSettings.model_fields  # the run settings' defaults live in the ablation config's model


@dataclass
class OnlineConfig:
    task: str = "doorkey-5x5"
    kind: str = "text"  # text | sketch | scalar | preference | text+preference | oracle (the task's reward) |
    # judgement (the dense judgement critics judge by)
    interpreter: str = "trained"  # text only: trained | zero-shot | keyword | oracle-intent
    budget: int = 150  # feedback items over the whole run
    rounds: int = _RUN["rounds"].default  # feedback rounds; the reward model is refitted after each
    steps: int = _RUN["steps"].default  # PPO environment steps in total
    noise: str = ""  # teacher noise, as `nlf critique --noise` ("" = off)
    seed: int = 0
    eval_every: int = _RUN["eval_every"].default
    reward_view: str = _RUN["reward_view"].default  # what the reward model sees: partial (the agent's view) | full
    eval_episodes: int = _RUN["eval_episodes"].default
    eval_actions: str = _RUN["eval_actions"].default  # evaluations: deterministic (most likely action) | sampled
    ent_coef: float = _RUN["ent_coef"].default  # PPO's entropy bonus
    phrasing: str = "heldout"  # the text critic's phrase bank: heldout | human (both unseen by the trained interpreter) | train
    initial: str = _RUN["initial"].default  # round 0's trajectories: noisy-expert (ε=0.2, 30% blunders) | random
    initial_episodes: int = 60
    episodes_per_round: int = 30  # policy rollouts added before each later round
    first_share: float = 0.5  # share of the budget spent in round 0; the rest is split evenly
    reward_epochs: int = 30  # round 0 fits from scratch
    refit_epochs: int = 10  # later rounds warm-start from the previous round's model
    reward_form: str = _RUN["reward_form"].default  # shaped (loop-proof) | action (a plain r(s, a))
    reward_updates: int = _RUN["reward_updates"].default  # cap on each fit's gradient steps (capped_epochs; 0: none)
    reward_penalties: bool = False  # shaped form: learn per-step penalties too (see nlfeedback.reward.model)
    reward_failure_floor: float = 1.0  # shaped form: G ≤ 0 on endings judged bad (RewardConfig.failure_floor; 0: off)
    agent: dict[str, Any] = field(default_factory=dict)  # AgentConfig overrides (n_envs, learning_rate, …)
    eval_tasks: list[str] = field(default_factory=list)  # the trained policy is also evaluated on these tasks
    guard_every: int = _RUN["guard_every"].default  # rounds = 1: steps between disagreement checks (0: off)
    guard_items: int = _RUN["guard_items"].default  # episodes and feedback items per check
    guard_action: str = _RUN["guard_action"].default  # what a firing check does: stop | refit

    def check(self) -> None:
        if self.kind not in KINDS:
            raise NlfError(f"online kind must be one of {KINDS}, got {self.kind!r}")
        if self.eval_actions not in EVAL_ACTIONS:
            raise NlfError(f"eval_actions must be one of {EVAL_ACTIONS}, got {self.eval_actions!r}")
        if self.initial not in INITIAL:
            raise NlfError(f"initial trajectories must be one of {INITIAL}, got {self.initial!r}")
        if self.phrasing not in SPLITS:
            raise NlfError(f"phrasing must be one of {SPLITS}, got {self.phrasing!r}")
        if self.rounds < 1 or self.budget < 1 or self.steps < 1:
            raise NlfError("rounds, budget and steps must be positive")
        for name in self.eval_tasks:
            get_task(name)  # an unknown task is an error before anything runs
        if self.reward_form not in FORMS:
            raise NlfError(f"reward_form must be one of {FORMS}, got {self.reward_form!r}")
        if self.reward_view not in OBS_MODES:
            raise NlfError(f"reward_view must be one of {OBS_MODES}, got {self.reward_view!r}")
        if self.guard_action not in GUARD_ACTIONS:
            raise NlfError(f"guard_action must be stop or refit, got {self.guard_action!r}")
        if self.reward_updates < 0:
            raise NlfError("reward_updates must be 0 (no cap) or more")
        if self.guard_every < 0 or self.guard_items < 1:
            raise NlfError("guard_every must be 0 or more and guard_items positive")
        if self.guard_every and "+" in self.kind:
            raise NlfError(f"the disagreement guard checks one kind of feedback, not {self.kind!r}")
        if self.guard_every and self.rounds != 1 and self.kind not in REFERENCE_KINDS:
            raise NlfError(f"the disagreement guard checks a fixed reward: it needs rounds = 1, not {self.rounds}")
        if not 0 < self.first_share <= 1:
            raise NlfError("first_share must be in (0, 1]")
        unknown = set(self.agent) - set(AgentConfig.__dataclass_fields__)
        if unknown:
            raise NlfError(f"unknown agent settings: {', '.join(sorted(unknown))}")


def budget_schedule(budget: int, rounds: int, first_share: float = 0.5) -> list[int]:
    """Feedback items per round: ``first_share`` of the budget in round 0, the rest split evenly (sums to
    ``budget``)."""
    if rounds == 1:
        return [budget]
    first = max(1, int(round(budget * first_share)))
    rest = budget - first
    return [first] + [rest // (rounds - 1) + (1 if k < rest % (rounds - 1) else 0) for k in range(rounds - 1)]


def step_schedule(steps: int, rounds: int) -> list[int]:
    return [steps // rounds + (1 if k < steps % rounds else 0) for k in range(rounds)]


def kinds_of(kind: str) -> list[str]:
    """The feedback kinds an arm's critic gives: ``text+preference`` → ``["text", "preference"]``."""
    return kind.split("+")


def _interpreter(config: OnlineConfig):
    if "text" not in kinds_of(config.kind):
        return None
    return make_interpreter(config.interpreter)


def _interpreter_record(config: OnlineConfig) -> dict[str, Any] | None:
    """Which interpreter a text run read its feedback with: name, and for ``trained`` the checkpoint
    file and its digest (taken when the interpreter is loaded: a checkpoint retrained mid-sweep shows)."""
    if "text" not in kinds_of(config.kind):
        return None
    record: dict[str, Any] = {"name": config.interpreter}
    if config.interpreter == "trained":
        record.update(checkpoint=str(default_checkpoint()), sha256=default_checkpoint_digest())
    return record


def _heldout(task, seed: int) -> list[Trajectory]:
    return list(rollout(task, make_policy("expert", epsilon=0.2, mistakes=0.3), 20, seed=90_000 + seed))


def run_online(config: OnlineConfig, out_dir: str | Path, progress: Callable[[str], None] | None = None
               ) -> dict[str, Any]:
    config.check()
    say = progress or (lambda _msg: None)
    task = get_task(config.task)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    for name in ("curve.jsonl", "trajectories.jsonl", "feedback.jsonl"):
        (out / name).unlink(missing_ok=True)
    agent_cfg = AgentConfig(**{"steps": config.steps, "seed": config.seed, "eval_every": config.eval_every,
                               "eval_episodes": config.eval_episodes, "eval_actions": config.eval_actions,
                               "ent_coef": config.ent_coef, **config.agent})
    torch.set_num_threads(agent_cfg.threads)
    t0 = time.perf_counter()
    if config.kind in REFERENCE_KINDS:
        summary = train_agent(task, None, agent_cfg, out, judged=config.kind == "judgement",
                              extra=lambda: {"feedback_items": 0, "annotator_seconds": 0.0})
        return _finish(config, out, summary["curve"], [], None, None, None, t0,
                       eval_tasks=_evaluate_elsewhere(config, out / "policy.zip", None))

    interp = _interpreter(config)
    interp_record = _interpreter_record(config)
    noise = parse_noise(config.noise) if config.noise else None
    budgets = budget_schedule(config.budget, config.rounds, config.first_share)
    kinds = kinds_of(config.kind)
    fit_kind = config.kind if len(kinds) == 1 else "mixed"
    steps = step_schedule(config.steps, config.rounds)
    trajs: dict[str, Trajectory] = {}
    items: list[FeedbackBase] = []
    spent = {"items": 0, "seconds": 0.0}
    traj_writer = JsonlWriter(out / "trajectories.jsonl")
    fb_writer = FeedbackWriter(out / "feedback.jsonl")
    guard_writers = (JsonlWriter(out / "guard-trajectories.jsonl"), FeedbackWriter(out / "guard-feedback.jsonl")) \
        if config.guard_every else None
    venv = ppo = callback = model = guard = None
    try:
        for k in range(config.rounds):
            if k == 0:
                policy = make_policy("expert", epsilon=0.2, mistakes=0.3) if config.initial == "noisy-expert" \
                    else make_policy("random")
                new = list(rollout(task, policy, config.initial_episodes, seed=config.seed * 1000))
            else:
                policy = CheckpointPolicy(model=ppo, name=f"online-round{k}", deterministic=False)
                new = list(rollout(task, policy, config.episodes_per_round, seed=config.seed * 1000 + k))
            new = [t for t in new if t.id not in trajs]
            for t in new:
                trajs[t.id] = t
                traj_writer.write(t.to_json())
            pool = new if len(new) >= 2 else list(trajs.values())
            said = [fb for kind, share in zip(kinds, split_budget(budgets[k], len(kinds))) if share
                    for fb in critique(pool, kind, budget=share, seed=config.seed * 1000 + k,
                                       split=config.phrasing, noise=noise, name=f"online-round{k}")]
            fb_writer.write_all(said)
            items += said
            spent["items"] += len(said)
            spent["seconds"] += sum(fb.annotation_seconds for fb in said)
            say(f"round {k + 1}/{config.rounds}: {len(new)} new trajectories, {len(said)} feedback items "
                f"({spent['items']} so far); fitting the reward model")
            targets = interpret_feedback(items, trajs, interp) if interp is not None else None
            data = build_reward_data(items, trajs, fit_kind, targets=targets, form=config.reward_form)
            base = RewardConfig(obs_mode=config.reward_view, form=config.reward_form, penalties=config.reward_penalties,
                                failure_floor=config.reward_failure_floor, gamma=agent_cfg.gamma, seed=config.seed + k)
            rcfg = replace(base, epochs=capped_epochs(data, config.refit_epochs if k else config.reward_epochs,
                                                      config.reward_updates, base))
            model, _ = train_reward(data, fit_kind, rcfg, init=model)
            model.save(out / f"reward-round{k}.pt")
            if ppo is None:
                venv = RewardVecEnvWrapper(make_vec_env(task, agent_cfg.n_envs, config.seed,
                                                        full_view=config.reward_view == "full"), model,
                                           env_id=task.env_id, scale=agent_cfg.reward_scale)
                ppo = make_ppo(venv, agent_cfg)
                callback = EvalCallback(task, agent_cfg, model, out / "curve.jsonl", lambda: {
                    "feedback_items": spent["items"], "annotator_seconds": round(spent["seconds"], 2)})
            else:
                venv.set_model(model)
                callback.set_reward(model)
            say(f"round {k + 1}/{config.rounds}: PPO for {steps[k]} steps")
            if guard_writers is not None:
                guard = DisagreementGuard(
                    task=task, kind=config.kind, proxy=model, fitted=new, items=items, trajectories=trajs,
                    interp=interp, every=config.guard_every, items_per_check=config.guard_items, seed=config.seed,
                    phrasing=config.phrasing, noise=noise, eval_episodes=config.eval_episodes,
                    reward_scale=agent_cfg.reward_scale, traj_writer=guard_writers[0], fb_writer=guard_writers[1],
                    action=config.guard_action, reward_config=replace(rcfg, epochs=config.refit_epochs),
                    eval_actions=config.eval_actions)
                _learn_guarded(ppo, steps[k], callback, guard, say, venv, out)
                model = guard.proxy
            else:
                ppo.learn(steps[k], callback=callback, reset_num_timesteps=False)
        if not callback.curve or callback.curve[-1]["steps"] < ppo.num_timesteps:
            callback.evaluate()
        ppo.save(out / "policy.zip")
    finally:
        traj_writer.close()
        fb_writer.close()
        for w in guard_writers or ():
            w.close()
        if venv is not None:
            venv.close()
    return _finish(config, out, callback.curve, items, trajs, model, interp, t0, interp_record,
                   eval_tasks=_evaluate_elsewhere(config, out / "policy.zip", model),
                   guard=guard.record.to_json() if guard is not None else None,
                   expert=expert_reference(task, config.eval_episodes, 10_000 + config.seed, model,
                                           agent_cfg.reward_scale))


def _learn_guarded(ppo, steps: int, callback, guard: DisagreementGuard, say: Callable[[str], None], venv,
                   out: Path) -> None:
    """PPO for ``steps`` more steps with the disagreement guard's checks every ``guard.record.every`` steps
    until it fires (then the rest in one go); in refit mode, until the end, PPO optimising each refitted reward
    (saved as ``reward-guard<n>.pt``). The global torch and numpy random states are restored after each check,
    so PPO continues as it would have without the check (the rollouts and refits draw from them)."""
    import numpy as np

    end = ppo.num_timesteps + steps
    guard.remember(ppo.num_timesteps, ppo)
    while ppo.num_timesteps < end:
        if guard.fired:
            ppo.learn(end - ppo.num_timesteps, callback=callback, reset_num_timesteps=False)
            break
        ppo.learn(min(guard.record.every, end - ppo.num_timesteps), callback=callback, reset_num_timesteps=False)
        if ppo.num_timesteps >= end:
            break
        torch_state, np_state = torch.get_rng_state(), np.random.get_state()
        try:
            c = guard.check(ppo.num_timesteps, ppo)
        finally:
            torch.set_rng_state(torch_state)
            np.random.set_state(np_state)
        refitted = bool(guard.record.refits) and guard.record.refits[-1] == ppo.num_timesteps
        if refitted:
            venv.set_model(guard.proxy)
            callback.set_reward(guard.proxy)
            guard.proxy.save(out / f"reward-guard{len(guard.record.refits)}.pt")
        say(f"guard at {ppo.num_timesteps:,} steps: the newest behaviour's standing {c.standing_proxy:.2f} by the "
            f"reward, {c.standing_feedback:.2f} by the fresh feedback" +
            ("; fired" if guard.fired else "; refitted the reward" if refitted else ""))


def _evaluate_elsewhere(config: OnlineConfig, policy_path: Path, model: RewardModel | None
                        ) -> dict[str, dict[str, Any]] | None:
    """The trained policy on each of ``config.eval_tasks``: episodes (as ``config.eval_actions``) on the same layout seeds as
    the training task's evaluations, scored by the eval task's true reward (success, true return, wrong key
    first, violations). ``proxy_return``: the learned reward of the training task on those episodes (the
    policy is evaluated directly, not through the reward wrapper, so the checkpoint's task check does not
    apply; both keys-distractor tasks have the same observations). ``None`` when there are none."""
    if not config.eval_tasks:
        return None
    from stable_baselines3 import PPO

    policy = PPO.load(policy_path, device="cpu")
    agent_cfg = AgentConfig(**{"eval_episodes": config.eval_episodes, **config.agent})
    out: dict[str, dict[str, Any]] = {}
    for name in config.eval_tasks:
        res = evaluate_policy(policy, get_task(name), config.eval_episodes, seed=10_000 + config.seed, reward=model,
                              reward_scale=agent_cfg.reward_scale,
                              deterministic=config.eval_actions == "deterministic").to_json()
        if model is None:
            res.pop("proxy_return")  # without a learned reward it is the true return again
        out[name] = {"episodes": config.eval_episodes, **res}
    return out


def _finish(config: OnlineConfig, out: Path, curve: list[dict], items: list[FeedbackBase],
            trajs: dict[str, Trajectory] | None, model: RewardModel | None, interp, t0: float,
            interp_record: dict[str, Any] | None = None,
            eval_tasks: dict[str, dict[str, Any]] | None = None, guard: dict[str, Any] | None = None,
            expert: dict[str, float] | None = None) -> dict[str, Any]:
    interpretation = None
    if "text" in kinds_of(config.kind) and interp is not None and trajs is not None:
        text = [fb for fb in items if isinstance(fb, TextFeedback)]
        interpretation = evaluate_interpreter(interp, text, trajs).to_json()
    rmetrics = None
    if model is not None:
        m = reward_metrics(model, _heldout(get_task(config.task), config.seed))
        rmetrics = {k: m[k] for k in ("reward_spearman", "epic_distance", "event_sign_agreement")}
    summary = {
        "config": asdict(config), "seed": config.seed,
        "versions": package_versions("stable_baselines3", "minigrid", "gymnasium", "sentence_transformers"),
        "source_revision": source_revision(), "interpreter": interp_record,
        "curve": curve, "final": curve[-1] if curve else None,
        "feedback": {"items": len(items), "annotator_seconds": round(sum(fb.annotation_seconds for fb in items), 2)},
        "interpretation": interpretation, "reward_metrics": rmetrics,
        "gaming": bool(any(gaming_flag(curve[: i + 1]) for i in range(len(curve)))),
        **({"eval_tasks": eval_tasks} if eval_tasks is not None else {}),
        **({"guard": guard} if guard is not None else {}),
        **({"expert": expert} if expert is not None else {}),
        "elapsed_s": round(time.perf_counter() - t0, 1),
    }
    (out / "summary.json").write_text(json.dumps(summary, indent=2))
    return summary
