"""Reward-quality curves: how good each feedback kind's learned reward is at each budget, without PPO.

The PPO grid costs minutes per cell; this costs seconds per fit, so it can cover budgets from a handful of
items to a thousand with many seeds and show where each kind's reward stops improving — and the PPO grid
can then spend its cells at the budgets where that matters.

For each task and seed:

* **the pool**: round 0 of the online loop (:func:`nlfeedback.experiments.online.run_online`) — the
  ``initial`` policy's episodes, rollout seed ``seed × 1000`` — so a point on the curve is what the grid's
  first fit would see at that budget;
* **held-out runs**: the loop's own held-out set (20 noisy-expert episodes, seed ``90,000 + seed``);
* every arm's critic gives its largest budget on the pool **once**; a scripted critic is seeded and
  sequential, so the first ``b`` of those items are exactly what a run with budget ``b`` gives, and the
  budgets of one seed are nested;
* every budget fits a reward model on the first ``b`` items and scores it on the held-out runs
  (:func:`nlfeedback.metrics.reward.reward_metrics`): Spearman against the dense judgement, and the EPIC
  distance to the task's own reward.

All arms of a seed share the pool and the held-out runs, so differences between arms are paired. An arm is a
kind as in ablation configs (``text:trained``, ``text:oracle-intent``, ``sketch``, ``scalar``,
``preference``) or two kinds joined by ``+`` (``text:trained+preference``): one reward model from both,
the budget split evenly between them (the first kind gets the odd item), fitted as ``mixed``.

Rows of arms read by the trained reader record its checkpoint's digest (``reader``); a resume refuses to add
rows read by another checkpoint to them (the reader was retrained meanwhile) unless asked to refit those
arms (``rerun_stale``: their old rows move to ``curves-stale.jsonl``, kept).

With ``eval_task`` (the goal-misgeneralisation probe's question at the reward level, docs/probes.md), every
fit is also scored on 20 held-out noisy-expert runs of that task (Spearman, EPIC) and by
:func:`nlfeedback.metrics.misgeneralisation.key_choice` on 20 paired layouts of each task (seeds
``95,000 + seed``): the expert's run, which fetches the locked door's key first, against the run of the same
layout that fetches the other key first — does the learned reward pay more for the right pickup, on the
layouts it was fitted on and where the proxy it could have learned ("the nearer key") is wrong?

Each fit is capped at ``updates`` gradient steps (epochs = min(``epochs``, ⌈updates / batches per epoch⌉)),
so large budgets cost no more than small ones (``nlfeedback.reward.train.capped_epochs``); it is recorded
with every row. A PPO grid whose ``[run]`` sets ``reward_updates`` to the same cap (``study.toml`` does) fits
its first round exactly so.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from nlfeedback.errors import NlfError
from nlfeedback.experiments.config import parse_kind_part, split_budget
from nlfeedback.experiments.stats import Stat

KINDS = ("text", "sketch", "scalar", "preference")
PLATEAU_TOL = 0.02
EPIC_TRANSITIONS, EPIC_MC = 500, 32  # EPIC per fit on 500 held-out transitions with 32 draws (the reports': 1000, 64)  # a curve has stopped improving once no larger budget's mean is this much higher


@dataclass
class CurvesConfig:
    tasks: list[str] = field(default_factory=lambda: ["doorkey-5x5"])
    arms: list[str] = field(default_factory=lambda: ["text:trained", "sketch", "scalar", "preference"])
    budgets: list[int] = field(default_factory=lambda: [5, 10, 20, 40, 80, 160, 320])
    seeds: int = 3
    initial: str = "noisy-expert"  # the pool's policy: noisy-expert (ε=0.2, 30% blunders) | random
    episodes: int = 60  # the pool's size (the online loop's initial_episodes)
    epochs: int = 30  # the grid's reward epochs (round 0)
    updates: int = 300  # cap on gradient steps per fit
    reward_form: str = "shaped"
    reward_view: str = "partial"
    phrasing: str = "heldout"  # the text critic's phrase bank
    # another task to score every fit on (goal misgeneralisation: keys-distractor-test beside -train); None: none
    eval_task: str | None = None

    def check(self) -> None:
        from nlfeedback.envs import get_task
        from nlfeedback.experiments.online import INITIAL

        for t in self.tasks:
            get_task(t)
        if not self.arms:
            raise NlfError("no arms given")
        for arm in self.arms:
            parse_arm(arm)
        if not self.budgets or min(self.budgets) < 1:
            raise NlfError("budgets must be positive")
        if len(set(self.budgets)) != len(self.budgets):
            raise NlfError("budgets must not repeat")
        if self.seeds < 1 or self.episodes < 2 or self.epochs < 1 or self.updates < 1:
            raise NlfError("seeds, epochs and updates must be positive and the pool at least 2 episodes")
        if self.initial not in INITIAL:
            raise NlfError(f"initial must be one of {INITIAL}, got {self.initial!r}")
        if self.reward_view not in ("partial", "full"):
            raise NlfError(f"reward_view must be partial or full, got {self.reward_view!r}")
        if self.eval_task is not None:
            get_task(self.eval_task)
            if self.eval_task in self.tasks:
                raise NlfError(f"eval task {self.eval_task!r} is also a task of the curves: score it on another one")


KEY_PAIRS = 20  # paired layouts for the key-choice measure (eval_task runs), seeds 95,000 + seed


def key_pairs(task: Any, n: int, seed: int) -> list[tuple[Any, Any]]:
    """``n`` layouts of ``task``, each as (the expert's run, which fetches the locked door's key first, the
    expert's run that fetches the other key first): same layout seeds, no noise. Layouts without a second key
    give no pair."""
    from nlfeedback.metrics.misgeneralisation import took_wrong_key_first
    from nlfeedback.policies.expert import ExpertPolicy
    from nlfeedback.rollout import rollout

    right = rollout(task, ExpertPolicy(), n, seed=seed)
    wrong = rollout(task, ExpertPolicy(wrong_key_first=True), n, seed=seed)
    return [(a, b) for a, b in zip(right, wrong) if took_wrong_key_first(b) and not took_wrong_key_first(a)]


def parse_arm(arm: str) -> list[tuple[str, str | None, str | None]]:
    """``"text:trained@human+preference"`` → ``[("text", "trained", "human"), ("preference", None, None)]``:
    each kind with its reader and phrase bank, parsed as in ablation configs
    (:func:`nlfeedback.experiments.config.parse_kind_part`)."""
    parts = []
    for part in arm.split("+"):
        try:
            kind, reader, phrasing = parse_kind_part(part)
        except NlfError as exc:
            raise NlfError(f"arm {arm!r}: {exc}") from None
        if kind not in KINDS:
            raise NlfError(f"arm {arm!r}: {kind!r} has no feedback to fit; valid kinds: {', '.join(KINDS)}")
        parts.append((kind, reader, phrasing))
    if len({k for k, _, _ in parts}) != len(parts):
        raise NlfError(f"arm {arm!r} names a kind twice")
    return parts


def reads_with_trained(arm: str) -> bool:
    """Whether an arm's text is read by the trained reader (its rows then depend on the checkpoint); False for
    a name that is no arm (a report may be built from hand-written rows)."""
    try:
        return any(reader == "trained" for _, reader, _ in parse_arm(arm))
    except NlfError:
        return False


def unit_rows(task_name: str, seed: int, config: CurvesConfig, done: set[tuple[str, int]] | None = None,
              reader_digest: str | None = None) -> list[dict[str, Any]]:
    """Every arm and budget of one (task, seed): one row each; (arm, budget) pairs in ``done`` are skipped.
    Rows of arms read by the trained reader carry ``reader_digest`` as ``reader``."""
    import torch

    from nlfeedback.critics import critique
    from nlfeedback.envs import get_task
    from nlfeedback.experiments.online import _heldout
    from nlfeedback.language.apply import interpret_feedback
    from nlfeedback.language.interpreters import make_interpreter
    from nlfeedback.metrics.misgeneralisation import key_choice
    from nlfeedback.metrics.reward import reward_metrics
    from nlfeedback.policies import make_policy
    from nlfeedback.reward.data import build_reward_data
    from nlfeedback.reward.train import RewardConfig, capped_epochs, train_reward
    from nlfeedback.rollout import rollout

    torch.set_num_threads(1)
    done = done or set()
    task = get_task(task_name)
    policy = make_policy("expert", epsilon=0.2, mistakes=0.3) if config.initial == "noisy-expert" \
        else make_policy("random")
    pool = list(rollout(task, policy, config.episodes, seed=seed * 1000))
    trajs = {t.id: t for t in pool}
    heldout = _heldout(task, seed)
    elsewhere = None
    if config.eval_task is not None:  # held-out runs of the eval task, and paired key choices on both tasks
        other = get_task(config.eval_task)
        elsewhere = (_heldout(other, seed), key_pairs(task, KEY_PAIRS, 95_000 + seed),
                     key_pairs(other, KEY_PAIRS, 95_000 + seed))
    top = max(config.budgets)
    # one critic run per (kind, phrase bank) and seed, shared by every arm that uses it
    said: dict[tuple[str, str | None], list] = {}
    readers: dict[str, Any] = {}
    rows = []
    for arm in config.arms:
        parts = parse_arm(arm)
        sources = [(kind, phrasing) for kind, _, phrasing in parts]
        for (kind, phrasing), share in zip(sources, split_budget(top, len(parts))):
            if len(said.get((kind, phrasing), [])) < share:
                said[kind, phrasing] = list(critique(pool, kind, budget=share, seed=seed * 1000,
                                                     split=phrasing or config.phrasing))
        reader = next((r for k, r, _ in parts if k == "text"), None)
        if reader and reader not in readers:
            readers[reader] = make_interpreter(reader)
        interp = readers.get(reader) if reader else None
        kind = parts[0][0] if len(parts) == 1 else "mixed"
        for budget in sorted(config.budgets):
            if (arm, budget) in done:
                continue
            items = [fb for src, share in zip(sources, split_budget(budget, len(parts))) for fb in said[src][:share]]
            t0 = time.perf_counter()
            targets = list(interpret_feedback(items, trajs, interp)) if interp is not None else None
            row: dict[str, Any] = {"task": task_name, "arm": arm, "seed": seed, "budget": budget, "items": len(items),
                                   "annotator_seconds": round(sum(fb.annotation_seconds for fb in items), 2)}
            if reader == "trained" and reader_digest is not None:
                row["reader"] = reader_digest
            try:
                data = build_reward_data(items, trajs, kind, targets=targets, form=config.reward_form)
            except NlfError as exc:  # e.g. every remark abstained: no reward at this budget
                rows.append({**row, "error": str(exc), "reward_spearman": None, "epic_distance": None})
                continue
            epochs = capped_epochs(data, config.epochs, config.updates)
            rcfg = RewardConfig(obs_mode=config.reward_view, form=config.reward_form, epochs=epochs, seed=seed)
            model, _ = train_reward(data, kind, rcfg)
            fit_s = time.perf_counter() - t0
            m = reward_metrics(model, heldout, epic_transitions=EPIC_TRANSITIONS, epic_mc=EPIC_MC)
            row = {**row, "epochs": epochs, "reward_spearman": m["reward_spearman"],
                   "epic_distance": m["epic_distance"], "fit_seconds": round(fit_s, 2)}
            if elsewhere is not None:
                runs, pairs, eval_pairs = elsewhere
                e = reward_metrics(model, runs, epic_transitions=EPIC_TRANSITIONS, epic_mc=EPIC_MC)
                k, ke = key_choice(model, pairs), key_choice(model, eval_pairs)
                row.update({"eval_task": config.eval_task, "eval_reward_spearman": e["reward_spearman"],
                            "eval_epic_distance": e["epic_distance"], "key_choice": k["accuracy"],
                            "key_margin": k["margin"], "eval_key_choice": ke["accuracy"],
                            "eval_key_margin": ke["margin"], "key_pairs": [k["pairs"], ke["pairs"]]})
            rows.append(row)
    return rows


def _unit(args: tuple[str, int, dict[str, Any], list[list], str | None]) -> list[dict[str, Any]]:
    task, seed, cfg, done, digest = args
    return unit_rows(task, seed, CurvesConfig(**cfg), {(a, b) for a, b in done}, digest)


def read_rows(path: Path) -> list[dict[str, Any]]:
    """The rows of a ``curves.jsonl`` (``file:line: what`` on a bad line; a torn last line is ignored)."""
    rows = []
    if not path.exists():
        return rows
    lines = path.read_text(encoding="utf-8").split("\n")
    for n, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            rows.append(json.loads(line))
        except json.JSONDecodeError as exc:
            if n == len(lines):  # an interrupted append: the unit reruns
                break
            raise NlfError(f"{path}:{n}: not JSON ({exc.msg})") from None
    return rows


def _readers(rows: list[dict[str, Any]]) -> list[str]:
    """The trained-reader checkpoints (digests) that read these rows, "not recorded" for rows that do not say."""
    return sorted({str(r.get("reader", "not recorded")) for r in rows})


def run_curves(config: CurvesConfig, out_dir: str | Path, *, workers: int = 1,
               progress: Callable[[str], None] | None = None, rerun_stale: bool = False) -> Path:
    """Run every (task, seed) with fits missing from ``out_dir/curves.jsonl``; returns that file. Resumable: rows
    are appended as each (task, seed) finishes, and a rerun with the same config skips what is there. Rows read
    by another checkpoint of the trained reader than the installed one (or that do not say which) are stale:
    refused, or with ``rerun_stale`` moved to ``curves-stale.jsonl`` and refitted."""
    config.check()
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    cfg_path = out / "curves-config.json"
    cfg = asdict(config)
    if cfg_path.exists():
        old = json.loads(cfg_path.read_text(encoding="utf-8"))
        fixed = {k: v for k, v in cfg.items() if k not in ("tasks", "arms", "budgets", "seeds")}
        if {k: old.get(k) for k in fixed} != fixed:
            raise NlfError(f"{cfg_path}: the run folder holds curves made with other settings; use another --out")
        # a run of some arms (tasks, budgets) adds to the folder: the recorded grid is the union, in first-seen order
        merged = {k: list(dict.fromkeys([*old.get(k, []), *cfg[k]])) for k in ("tasks", "arms", "budgets")}
        recorded = {**cfg, **merged, "seeds": max(int(old.get("seeds", 0)), config.seeds)}
    else:
        recorded = cfg
    path = out / "curves.jsonl"
    say = progress or (lambda _m: None)
    digest = None
    if any(reads_with_trained(a) for a in config.arms):
        from nlfeedback.language.interpreters.trained import default_checkpoint_digest
        digest = default_checkpoint_digest()
    rows, stale = [], []
    for r in read_rows(path):
        is_stale = r.get("arm") in config.arms and reads_with_trained(r["arm"]) and r.get("reader") != digest
        (stale if is_stale else rows).append(r)
    if stale:
        arms = sorted({r["arm"] for r in stale})
        readers = _readers(stale)
        if not rerun_stale:
            raise NlfError(f"{path}: {len(stale)} rows of {', '.join(arms)} were read by another checkpoint of the "
                           f"trained reader ({', '.join(readers)}; installed now {digest}). One folder holds one "
                           f"reader: refit them with --rerun-stale (the old rows move to curves-stale.jsonl, "
                           f"kept), or use another --out. Nothing was run")
        with (out / "curves-stale.jsonl").open("a", encoding="utf-8") as f:
            f.write("".join(json.dumps(r) + "\n" for r in stale))
        tmp = path.with_suffix(".jsonl.tmp")
        tmp.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
        tmp.replace(path)
        say(f"{len(stale)} stale rows of {', '.join(arms)} moved to curves-stale.jsonl")
    cfg_path.write_text(json.dumps(recorded, indent=1) + "\n", encoding="utf-8")  # after the refusal: it changes nothing
    have: dict[tuple[str, int], set[tuple[str, int]]] = {}
    for r in rows:
        have.setdefault((r["task"], r["seed"]), set()).add((r["arm"], r["budget"]))
    wanted = {(a, b) for a in config.arms for b in config.budgets}
    units = [(t, s) for s in range(config.seeds) for t in config.tasks  # seeds outer: a stopped run stays balanced
             if not wanted <= have.get((t, s), set())]
    say(f"{len(units)} of {len(config.tasks) * config.seeds} (task, seed) units to run")
    args = [(t, s, cfg, sorted(have.get((t, s), set())), digest) for t, s in units]
    t0 = time.perf_counter()

    def write(rows: list[dict[str, Any]], k: int) -> None:
        with path.open("a", encoding="utf-8") as f:
            f.write("".join(json.dumps(r) + "\n" for r in rows))
            f.flush()
        r0 = rows[0] if rows else {}
        say(f"[{k}/{len(units)}] {r0.get('task')} seed {r0.get('seed')}: {len(rows)} fits "
            f"({time.perf_counter() - t0:.0f} s)")

    if workers <= 1 or len(units) <= 1:
        for k, a in enumerate(args, 1):
            write(_unit(a), k)
    else:
        from concurrent.futures import ProcessPoolExecutor, as_completed
        from multiprocessing import get_context

        with ProcessPoolExecutor(workers, mp_context=get_context("spawn")) as pool:
            futures = [pool.submit(_unit, a) for a in args]
            for k, fut in enumerate(as_completed(futures), 1):
                write(fut.result(), k)
    return path


# ---- analysis -------------------------------------------------------------------------------------------

def plateau_budget(budgets: Sequence[int], means: Sequence[float | None], tol: float = PLATEAU_TOL) -> int | None:
    """The smallest budget after which the curve's mean never rises by more than ``tol`` (higher is better):
    where the reward stops improving within the budgets run. None without values."""
    pts = [(b, m) for b, m in zip(budgets, means) if m is not None]
    for k, (b, m) in enumerate(pts):
        if all(m2 - m <= tol for _, m2 in pts[k:]):
            return b
    return None


@dataclass
class CurvePoint:
    task: str
    arm: str
    budget: int
    spearman: Stat
    epic: Stat
    seconds: Stat
    failed: int  # seeds with no reward at this budget (every remark abstained …)


def summarise(rows: Iterable[dict[str, Any]]) -> list[CurvePoint]:
    groups: dict[tuple[str, str, int], list[dict[str, Any]]] = {}
    for r in rows:
        groups.setdefault((r["task"], r["arm"], r["budget"]), []).append(r)
    points = []
    for (task, arm, budget), rs in groups.items():
        points.append(CurvePoint(task, arm, budget, Stat.of(r.get("reward_spearman") for r in rs),
                                 Stat.of(r.get("epic_distance") for r in rs),
                                 Stat.of(r.get("annotator_seconds") for r in rs),
                                 sum(1 for r in rs if r.get("reward_spearman") is None)))
    return sorted(points, key=lambda p: (p.task, p.arm, p.budget))


def paired_differences(rows: Iterable[dict[str, Any]], arm: str, reference: str, metric: str = "reward_spearman"
                       ) -> dict[tuple[str, int], Stat]:
    """``arm − reference`` per (task, budget), paired by seed (seeds where either has no value are left out)."""
    by: dict[tuple[str, str, int, int], float] = {}
    for r in rows:
        if r.get(metric) is not None:
            by[(r["task"], r["arm"], r["budget"], r["seed"])] = float(r[metric])
    diffs: dict[tuple[str, int], list[float]] = {}
    for (task, a, budget, seed), v in by.items():
        if a == arm and (task, reference, budget, seed) in by:
            diffs.setdefault((task, budget), []).append(v - by[(task, reference, budget, seed)])
    return {k: Stat.of(v) for k, v in sorted(diffs.items())}


def write_report(out_dir: str | Path) -> Path:
    """``report.md``, ``curves.csv`` and ``reward_curves.png`` from ``out_dir/curves.jsonl`` alone."""
    out = Path(out_dir)
    rows = read_rows(out / "curves.jsonl")
    if not rows:
        raise NlfError(f"{out / 'curves.jsonl'}: no rows; run `nlf reward-curves` first")
    cfg = json.loads((out / "curves-config.json").read_text(encoding="utf-8")) \
        if (out / "curves-config.json").exists() else {}
    points = summarise(rows)
    tasks = sorted({p.task for p in points})
    arms = [a for a in cfg.get("arms", []) if any(p.arm == a for p in points)] or sorted({p.arm for p in points})
    budgets = sorted({p.budget for p in points})
    at = {(p.task, p.arm, p.budget): p for p in points}
    with (out / "curves.csv").open("w", encoding="utf-8") as f:
        f.write("task,arm,budget,seeds,spearman_mean,spearman_lo,spearman_hi,epic_mean,epic_lo,epic_hi,"
                "annotator_seconds_mean,failed\n")
        for p in points:
            f.write(",".join(str(x) for x in (p.task, p.arm, p.budget, p.spearman.n, p.spearman.mean, p.spearman.lo,
                                              p.spearman.hi, p.epic.mean, p.epic.lo, p.epic.hi, p.seconds.mean,
                                              p.failed)) + "\n")
    seeds = max(p.spearman.n + p.failed for p in points)
    lines = [f"# Reward-quality curves: {out.name}", "",
             f"{len(rows)} fits from `curves.jsonl`: tasks {', '.join(tasks)}; arms {', '.join(arms)}; budgets "
             f"{', '.join(map(str, budgets))}; up to {seeds} seeds. Pool: {cfg.get('episodes', '?')} "
             f"{cfg.get('initial', '?')} episodes per seed (the online loop's round 0), held-out: 20 noisy-expert "
             f"episodes; fits capped at {cfg.get('updates', '?')} gradient steps ({cfg.get('epochs', '?')} epochs at "
             f"most), form {cfg.get('reward_form', '?')}, reward view {cfg.get('reward_view', 'partial')}. Means over "
             "seeds with 95% t-intervals; all arms of a seed share its pool and held-out runs "
             "(`nlfeedback/experiments/reward_curves.py`).", ""]
    read = [r for r in rows if reads_with_trained(r["arm"])]
    if read:
        readers = _readers(read)
        lines += [f"Text read by the trained reader's checkpoint {readers[0]} (SHA-256 prefix)." if len(readers) == 1
                  else f"**The trained reader's rows were read by {len(readers)} checkpoints** ({', '.join(readers)}): "
                       "arms read by different checkpoints are not comparable.", ""]
    lines += ["![reward-quality curves](reward_curves.png)", ""]
    for title, attr, better in (("Spearman against the dense judgement (higher is better)", "spearman", "higher"),
                                ("EPIC distance to the task's reward (lower is better)", "epic", "lower")):
        lines += [f"## {title}", "", "| task | arm | " + " | ".join(map(str, budgets)) + " | stops improving at |",
                  "| :--- | :--- | " + " | ".join("---:" for _ in budgets) + " | ---: |"]
        for task in tasks:
            for arm in arms:
                stats = [getattr(at[(task, arm, b)], attr) if (task, arm, b) in at else Stat(0, None) for b in budgets]
                sign = 1 if better == "higher" else -1
                plateau = plateau_budget(budgets, [None if s.mean is None else sign * s.mean for s in stats])
                lines.append(f"| {task} | {arm} | " + " | ".join(s.fmt(2) for s in stats)
                             + f" | {plateau if plateau is not None else '—'} |")
        lines.append("")
    if len(arms) > 1:
        ref = arms[0]
        lines += [f"## Paired differences in Spearman: each arm − {ref}", "",
                  "Per seed on the same pool and held-out runs; mean with its 95% t-interval.", "",
                  "| task | arm | " + " | ".join(map(str, budgets)) + " |",
                  "| :--- | :--- | " + " | ".join("---:" for _ in budgets) + " |"]
        for arm in arms[1:]:
            diffs = paired_differences(rows, arm, ref)
            for task in tasks:
                lines.append(f"| {task} | {arm} | "
                             + " | ".join(diffs.get((task, b), Stat(0, None)).fmt(2) for b in budgets) + " |")
        lines.append("")
    lines += _elsewhere_sections(rows, tasks, arms, budgets)
    lines += [f"\"Stops improving at\": the smallest budget after which no larger budget's mean is better by more "
              f"than {PLATEAU_TOL} (within the budgets run; the largest budget means it was still improving or "
              "flat only at the end).", ""]
    failed = [p for p in points if p.failed]
    if failed:
        lines += ["Fits with no reward (every item unusable, e.g. every remark abstained): "
                  + "; ".join(f"{p.task} {p.arm} at {p.budget}: {p.failed}" for p in failed) + ".", ""]
    (out / "report.md").write_text("\n".join(lines), encoding="utf-8")
    _plot(points, tasks, arms, out / "reward_curves.png")
    return out / "report.md"


ELSEWHERE = (("key_choice", "Key choice on the fitted task's layouts"),
             ("eval_key_choice", "Key choice on the eval task's layouts"),
             ("eval_reward_spearman", "Spearman against the dense judgement on the eval task"))


def _elsewhere_sections(rows: list[dict[str, Any]], tasks: list[str], arms: list[str], budgets: list[int]) -> list[str]:
    """The eval task's tables (rows of a run with ``eval_task``): means over seeds with 95% t-intervals."""
    scored = [r for r in rows if r.get("eval_task")]
    if not scored:
        return []
    evals = sorted({r["eval_task"] for r in scored})
    lines = [f"## Scored on another task: {', '.join(evals)}", "",
             "Every fit also scored on the eval task's held-out runs, and by key choice: on 20 paired layouts of "
             "each task, the share where the learned reward pays more for the expert's first pickup (the locked "
             "door's key) than for the first pickup of the same layout's run that fetches the other key first "
             "(0.5: no preference; `nlfeedback/metrics/misgeneralisation.py: key_choice`). A reward that learned "
             "\"the nearer key\" on layouts where it is the door's key scores high on the first and low on the "
             "second.", ""]
    for metric, title in ELSEWHERE:
        groups: dict[tuple[str, str, int], list[Any]] = {}
        for r in scored:
            groups.setdefault((r["task"], r["arm"], r["budget"]), []).append(r.get(metric))
        lines += [f"### {title}", "", "| task | arm | " + " | ".join(map(str, budgets)) + " |",
                  "| :--- | :--- | " + " | ".join("---:" for _ in budgets) + " |"]
        for task in tasks:
            for arm in arms:
                if not any((task, arm, b) in groups for b in budgets):
                    continue
                lines.append(f"| {task} | {arm} | " + " | ".join(
                    Stat.of(groups.get((task, arm, b), [])).fmt(2) for b in budgets) + " |")
        lines.append("")
    return lines


def _plot(points: list[CurvePoint], tasks: list[str], arms: list[str], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(2, len(tasks), figsize=(4.2 * len(tasks), 6.4), squeeze=False)
    for j, task in enumerate(tasks):
        for i, (attr, label) in enumerate((("spearman", "Spearman vs dense judgement"), ("epic", "EPIC distance"))):
            ax = axes[i][j]
            for arm in arms:
                ps = [p for p in points if p.task == task and p.arm == arm and getattr(p, attr).mean is not None]
                if not ps:
                    continue
                x = np.array([p.budget for p in ps])
                m = np.array([getattr(p, attr).mean for p in ps])
                line, = ax.plot(x, m, marker="o", ms=3, label=arm)
                lo = np.array([getattr(p, attr).lo if getattr(p, attr).lo is not None else getattr(p, attr).mean
                               for p in ps])
                hi = np.array([getattr(p, attr).hi if getattr(p, attr).hi is not None else getattr(p, attr).mean
                               for p in ps])
                ax.fill_between(x, lo, hi, color=line.get_color(), alpha=0.15)
            ax.set_xscale("log")
            ax.set_xlabel("feedback items")
            ax.set_ylabel(label)
            if i == 0:
                ax.set_title(task)
            ax.grid(alpha=0.3)
    axes[0][0].legend(fontsize=7)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
