"""The analysis of a run's results: seeds grouped per (task, noise, arm, budget), sample efficiency against the
oracle, and each budget's best arm against the others.

Numbers only: :mod:`nlfeedback.experiments.markdown` words them, :mod:`nlfeedback.experiments.plots` draws them.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from nlfeedback.experiments.config import REFERENCE_KINDS
from nlfeedback.experiments.results import CellRow, RunResults
from nlfeedback.experiments.stats import (ALPHA, Stat, complete_seeds, crossing_interval, holm, paired_p,
                                          share_at_least, sustained_crossing, welch_p)

ORACLE_FRACTION = 0.9
UNDETERMINED = "undetermined: no seed finished every budget"


@dataclass
class Group:
    """The seeds of one (task, noise, arm, budget); oracle groups have budget None and noise ""."""

    task: str
    noise: str
    label: str
    budget: int | None
    rows: list[CellRow] = field(default_factory=list)

    @property
    def returns(self) -> list[float]:
        return [r.final_return for r in self.rows]

    def stat(self, attr: str) -> Stat:
        return Stat.of(getattr(r, attr) for r in self.rows)

    def mean(self, attr: str) -> float | None:
        return self.stat(attr).mean

    def to_json(self) -> dict[str, Any]:
        return {"task": self.task, "noise": self.noise, "arm": self.label, "budget": self.budget,
                "seeds": sorted(r.seed for r in self.rows), "keys": sorted(r.key for r in self.rows),
                "final_true_return": self.stat("final_return").to_json(),
                "success_rate": self.stat("success_rate").to_json(),
                "proxy_return": self.stat("proxy_return").to_json(),
                "violations": self.stat("violations").to_json(),
                "feedback_items": self.stat("items").to_json(),
                "annotator_seconds": self.stat("seconds").to_json(), "auc": self.stat("auc").to_json(),
                "gaming_cells": sum(r.gaming for r in self.rows)}


def noise_name(noise: str) -> str:
    return f"noise {noise}" if noise else "noise off"


@dataclass
class Analysis:
    groups: dict[tuple[str, str, str, int | None], Group]
    oracle: dict[str, Group]
    sections: list[tuple[str, str]]  # (task, noise) with feedback arms
    arms: dict[tuple[str, str], list[str]]  # (task, noise) → arm labels, config order
    budgets: dict[tuple[str, str], list[int]]
    sample_efficiency: list[dict[str, Any]]
    comparisons: list[dict[str, Any]]
    # grid.eval_tasks: one entry per (group, eval task) and the arms compared on each eval task (see
    # :func:`_generalisation`); empty when no cell was evaluated on another task
    generalisation: list[dict[str, Any]] = field(default_factory=list)
    generalisation_comparisons: list[dict[str, Any]] = field(default_factory=list)
    # a run whose learned reward was fitted once and then fixed (run.rounds = 1): per feedback-arm group,
    # where optimising it stopped paying (see :func:`_optimisation_pressure`); empty otherwise
    optimisation: list[dict[str, Any]] = field(default_factory=list)
    # per (task, noise, budget): every arm against the reference arm (the first configured kind with results),
    # paired by seed, with Holm-corrected p-values over each (task, noise) section's family (see :func:`_paired`)
    paired: list[dict[str, Any]] = field(default_factory=list)
    # per (task, noise, text arm, other arm): the seconds per text item at which the text arm would need as many
    # annotator-seconds as the other arm to reach 90% of the reference (see :func:`_break_even`)
    break_even: list[dict[str, Any]] = field(default_factory=list)
    # per task: PPO on the dense judgement (kind "judgement"), a reference band beside the oracle
    judged: dict[str, Group] = field(default_factory=dict)


def reference_groups(a: Analysis) -> list[Group]:
    """Each task's reference groups without feedback: the oracle, then PPO on the dense judgement."""
    return [ref for _, ref in sorted(a.oracle.items())] + [ref for _, ref in sorted(a.judged.items())]


def arm_groups(a: Analysis) -> Iterator[Group]:
    """The feedback-arm groups in report order: per (task, noise) section, per arm in config order, per budget."""
    for task, noise in a.sections:
        for label in a.arms[(task, noise)]:
            for b in a.budgets[(task, noise)]:
                g = a.groups.get((task, noise, label, b))
                if g and g.rows:
                    yield g


def headline(a: Analysis) -> list[dict[str, Any]]:
    """One row per feedback-arm group (report order), then one per task's oracle: ``report.json``'s ``final``."""
    return [g.to_json() for g in arm_groups(a)] + [ref.to_json() for ref in reference_groups(a)]


def proxy_panels(a: Analysis) -> list[Group]:
    """The feedback-arm groups with a recorded proxy return, in report order (the oracle has none)."""
    return [g for g in arm_groups(a) if any(r.proxy_curve for r in g.rows)]


def ref_field(ref: str, name: str) -> str:
    """A ``sample_efficiency`` field of a reference: ``name`` for the oracle (``status``, ``censored``,
    ``threshold``, ``budget``), ``<ref>_<name>`` for the others (``expert_status``, …)."""
    return name if ref == "oracle" else f"{ref}_{name}"


def efficiency_ranking(a: Analysis, task: str, noise: str, ref: str = "oracle") -> list[dict[str, Any]]:
    """The arms of (task, noise) that reached 90% of the reference (``"oracle"`` or ``"expert"``), fewest
    feedback items first and, among equal items, fewest annotator-seconds (``sample_efficiency`` entries).
    Arms that reached it at the grid's smallest budget come first, together, ordered by seconds only: the
    grid cannot order them by items."""
    status, censored = ref_field(ref, "status"), ref_field(ref, "censored")
    return sorted((e for e in a.sample_efficiency if e["task"] == task and e["noise"] == noise
                   and e[status] == "reached"),
                  key=lambda e: (not e.get(censored), 0.0 if e.get(censored) else e[f"items_to_90pct_{ref}"],
                                 e[f"seconds_to_90pct_{ref}"]))


def _arm_order(results: RunResults) -> list[str]:
    if results.meta:
        kinds = results.meta.get("config", {}).get("grid", {}).get("kinds")
        if isinstance(kinds, list):
            return [str(k) for k in kinds]
    return []


def analyse(results: RunResults) -> Analysis:
    """Group the finished cells (oracle cells per task) and compute sample efficiency and the comparisons."""
    groups: dict[tuple[str, str, str, int | None], Group] = {}
    oracle: dict[str, Group] = {}
    judged: dict[str, Group] = {}
    for r in results.rows:
        if r.kind in REFERENCE_KINDS:
            refs = oracle if r.kind == "oracle" else judged
            refs.setdefault(r.task, Group(r.task, "", r.kind, None)).rows.append(r)
            continue
        k = (r.task, r.noise, r.label, r.budget)
        groups.setdefault(k, Group(*k)).rows.append(r)
    order = _arm_order(results)
    rank = {label: i for i, label in enumerate(order)}
    sections = sorted({(t, n) for t, n, _, _ in groups}, key=lambda s: (s[0], s[1] != "", s[1]))
    arms = {s: sorted({lab for t, n, lab, _ in groups if (t, n) == s}, key=lambda x: (rank.get(x, 99), x))
            for s in sections}
    budgets = {s: sorted({b for t, n, _, b in groups if (t, n) == s and b is not None}) for s in sections}
    a = Analysis(groups, oracle, sections, arms, budgets, [], [], judged=judged)
    _sample_efficiency(a)
    _break_even(a)
    _comparisons(a)
    _paired(a)
    _generalisation(a)
    if _fixed_reward(results):
        _optimisation_pressure(a)
    return a


def _fixed_reward(results: RunResults) -> bool:
    """Whether every cell's reward model was fitted once and then held fixed (the config's ``run.rounds`` is 1)."""
    return results.run_settings.get("rounds") == 1


def _optimisation_pressure(a: Analysis) -> None:
    """Per feedback-arm group: each cell's curve of true and proxy return through
    :func:`~nlfeedback.agents.divergence.divergence_point` (defaults) — which seeds diverged and where, the
    best true return on the curve (the best stopping point in hindsight) against the final one, and what
    was lost, means with 95% intervals over the seeds. Only for a fixed reward: with refits the proxy
    curve mixes several rewards."""
    from nlfeedback.agents.divergence import divergence_point

    for g in arm_groups(a):
        found = []
        for r in sorted(g.rows, key=lambda r: r.seed):
            proxy = dict(r.proxy_curve)
            curve = [{"steps": s, "true_return": t, "proxy_return": proxy[s]} for s, t in r.curve if s in proxy]
            if curve:
                found.append((r, divergence_point(curve), len(curve)))
        if not found:
            continue
        a.optimisation.append({
            "task": g.task, "noise": g.noise, "arm": g.label, "budget": g.budget,
            "seeds": [r.seed for r, _, _ in found], "evaluations": [n for _, _, n in found],
            "diverged_seeds": [r.seed for r, d, _ in found if d.step is not None],
            "divergence_steps": [d.step for _, d, _ in found if d.step is not None],
            "best_steps": [d.best_step for _, d, _ in found],
            "best_true_return": Stat.of(d.best_true_return for _, d, _ in found).to_json(),
            "final_true_return": Stat.of(d.final_true_return for _, d, _ in found).to_json(),
            "lost": Stat.of(d.lost for _, d, _ in found).to_json(),
            "gaming_flagged_seeds": [r.seed for r, _, _ in found if r.gaming],
            "expert_seeds": [r.seed for r, _, _ in found if r.expert is not None],
            "prefers_agent_seeds": [r.seed for r, _, _ in found if prefers_agent(r)],
            **_guarded([r for r, _, _ in found]),
        })


PREFERS_MARGIN = 0.05  # true return (in [0, 1]) by which the agent must trail the expert


def prefers_agent(r: CellRow) -> bool:
    """Whether the cell's final reward scores its agent above the BFS expert on the same layouts while the
    agent's true return trails the expert's by more than :data:`PREFERS_MARGIN`: the proxy prefers what the
    agent does to what the task wants. This catches a reward gamed from the start, which the divergence
    point cannot (true return never rose, so it never fell). False without an expert reference."""
    if r.expert is None or r.proxy_return is None:
        return False
    return r.proxy_return > r.expert["proxy_return"] and r.final_return < r.expert["true_return"] - PREFERS_MARGIN


def _guarded(rows: list[CellRow]) -> dict[str, Any]:
    """With the disagreement guard (``run.guard_every``), ``stop`` mode: per seed whether and where it fired,
    and the true return a guarded run ends with (the kept policy's where it fired, else the final) against
    the final one of the same run (the unguarded outcome), with the paired difference. ``refit`` mode
    (``guard_refit``): per seed where it refitted the reward, and the run's final true return (the unguarded
    outcome is another run: the same seed in stop mode). ``{}`` when no row has the guard."""
    out: dict[str, Any] = {}
    refit = [r for r in rows if r.guard is not None and r.guard["action"] == "refit"]
    if refit:
        out["guard_refit"] = {
            "seeds": [r.seed for r in refit],
            "refits": {str(r.seed): r.guard["refits"] for r in refit},
            "final_true_return": Stat.of(r.final_return for r in refit).to_json(),
            "items": Stat.of(r.guard["items"] for r in refit).to_json(),
            "seconds": Stat.of(r.guard["seconds"] for r in refit).to_json(),
        }
    rows = [r for r in rows if r.guard is not None and r.guard["action"] == "stop"]
    if not rows:
        return out
    with_guard = [r.guard["kept_true_return"] if r.guard["fired_at"] is not None else r.final_return for r in rows]
    out["guard"] = {
        "seeds": [r.seed for r in rows],
        "fired_seeds": [r.seed for r in rows if r.guard["fired_at"] is not None],
        "fired_steps": [r.guard["fired_at"] for r in rows if r.guard["fired_at"] is not None],
        "kept_steps": [r.guard["kept_steps"] for r in rows if r.guard["fired_at"] is not None],
        "true_return_with": Stat.of(with_guard).to_json(),
        "true_return_without": Stat.of(r.final_return for r in rows).to_json(),
        "difference": Stat.of(w - r.final_return for w, r in zip(with_guard, rows)).to_json(),
        "items": Stat.of(r.guard["items"] for r in rows).to_json(),
        "seconds": Stat.of(r.guard["seconds"] for r in rows).to_json(),
    }
    return out


def _sample_efficiency(a: Analysis) -> None:
    """Per arm: the smallest budget from which the mean final true return reaches 90% of the reference and stays
    there at every larger budget run (:func:`~nlfeedback.experiments.stats.sustained_crossing`), on the arm's
    seeds that finished every budget (``seeds``; the others are ``incomplete_seeds``), as that budget's mean
    items and annotator-seconds. References: the oracle's mean final true return (PPO on the task's reward)
    and, where the result files record it, the BFS expert's mean true return on the cells' evaluation layouts
    (averaged per seed first: its layouts depend only on the seed) — fixed by the task, which one failed PPO
    seed of the oracle cannot move (``expert_*`` fields). An oracle below 90% of the expert (or at 0) did not
    learn the task: 90% of it is no reference. ``censored``: the crossing is at the grid's smallest budget, so
    the arm may need fewer items than that; ``per_seed_expert``: each seed's own crossing budget;
    ``cells_at_90pct_expert`` of ``cells_pooled`` (with ``cells_at_90pct_expert_ci``, a seed-bootstrap range of the
    share): the complete seeds' cells, every budget pooled, whose final true return reaches 90% of the expert
    (:func:`~nlfeedback.experiments.stats.share_at_least`)."""
    for task, noise in a.sections:
        experts: dict[int, list[float]] = {}
        for g in a.groups.values():
            if (g.task, g.noise) == (task, noise):
                for r in g.rows:
                    if r.expert is not None:
                        experts.setdefault(r.seed, []).append(r.expert["true_return"])
        per_seed = [sum(v) / len(v) for v in experts.values()]
        expert_mean = float(sum(per_seed) / len(per_seed)) if per_seed else None
        expert_threshold = ORACLE_FRACTION * expert_mean if expert_mean is not None and expert_mean > 0 else None
        ref = a.oracle.get(task)
        ref_mean = ref.mean("final_return") if ref else None
        learned = ref_mean is not None and ref_mean > 0 and (expert_threshold is None or ref_mean >= expert_threshold)
        threshold = ORACLE_FRACTION * ref_mean if learned and ref_mean is not None else None
        status = "no oracle cells" if ref_mean is None else ("not reached" if learned else "oracle did not learn")
        smallest = min(a.budgets[(task, noise)], default=None)
        for label in a.arms[(task, noise)]:
            # every budget of the section, whether this arm has cells there or not: a budget not run (yet) leaves
            # no seed complete, so neither "≤ the smallest budget" nor "stays there" is judged on part of the grid
            groups = [a.groups.get((task, noise, label, b)) or Group(task, noise, label, b)
                      for b in a.budgets[(task, noise)]]
            values = [{r.seed: r.final_return for r in g.rows} for g in groups]
            seeds = complete_seeds(values)
            all_seeds = {r.seed for g in groups for r in g.rows}
            entry: dict[str, Any] = {"task": task, "noise": noise, "arm": label, "oracle_mean": ref_mean,
                                     "threshold": threshold, "budget": None, "items_to_90pct_oracle": None,
                                     "seconds_to_90pct_oracle": None, "status": status,
                                     "expert_mean": expert_mean, "expert_threshold": expert_threshold,
                                     "expert_budget": None, "items_to_90pct_expert": None,
                                     "seconds_to_90pct_expert": None,
                                     "expert_status": "not reached" if expert_threshold is not None else "no expert",
                                     "seeds": len(seeds), "incomplete_seeds": len(all_seeds) - len(seeds),
                                     "smallest_budget": smallest}
            if not seeds:
                entry["status"] = entry["status"] if threshold is None else UNDETERMINED
                entry["expert_status"] = entry["expert_status"] if expert_threshold is None else UNDETERMINED
                a.sample_efficiency.append(entry)
                continue
            for thr, ref in ((threshold, "oracle"), (expert_threshold, "expert")):
                if thr is None:
                    continue
                entry.update(_crossing_intervals(groups, thr, ref))
                i = sustained_crossing([sum(v[s] for s in seeds) / len(seeds) for v in values], thr)
                if i is None:
                    continue
                at = [r for r in groups[i].rows if r.seed in seeds]
                entry.update({ref_field(ref, "budget"): groups[i].budget, ref_field(ref, "status"): "reached",
                              f"items_to_90pct_{ref}": Stat.of(r.items for r in at).mean,
                              f"seconds_to_90pct_{ref}": Stat.of(r.seconds for r in at).mean,
                              ref_field(ref, "censored"): groups[i].budget == smallest})
            if expert_threshold is not None:
                pooled = share_at_least(values, expert_threshold)
                if pooled is not None:
                    entry["cells_at_90pct_expert"], entry["cells_pooled"], ci = pooled
                    entry["cells_at_90pct_expert_ci"] = list(ci) if ci else None
                entry["per_seed_expert"] = {
                    str(s): (groups[j].budget if (j := sustained_crossing([v[s] for v in values], expert_threshold))
                             is not None else None) for s in seeds}
            a.sample_efficiency.append(entry)


def _crossing_intervals(groups: list[Group], threshold: float, ref: str) -> dict[str, list[float] | None]:
    """``items_to_90pct_<ref>_ci`` and ``seconds_to_90pct_<ref>_ci``: the seed-bootstrap range of the crossing
    (:func:`nlfeedback.experiments.stats.crossing_interval`, on the seeds with a cell at every budget);
    ``None`` for an end (JSON has no ∞) means that in more than 2.5% of the resamples the arm never reaches
    the threshold and stays."""
    cis = crossing_interval([{r.seed: r.final_return for r in g.rows} for g in groups],
                            {attr: [{r.seed: getattr(r, attr) for r in g.rows} for g in groups]
                             for attr in ("items", "seconds")}, threshold)
    return {f"{attr}_to_90pct_{ref}_ci": [v if math.isfinite(v) else None for v in cis[attr]] if cis else None
            for attr in ("items", "seconds")}


def _is_text(label: str) -> bool:
    return label.startswith("text") and "+" not in label


def _break_even(a: Analysis) -> None:
    """Annotator-seconds honestly: for each text arm that reached 90% of the reference with ``N`` items and each
    other single kind that reached it with ``S`` seconds, the break-even ``S / N`` — the seconds a text item may
    cost before text needs more annotator-time than that arm — next to what text items cost under the cost
    model (the text arm's seconds / items). The reference is the BFS expert where the result files record it,
    else the oracle. Combined arms (``text:…+preference``) are neither side: their items are of two kinds.

    What the grid can say: ``bound`` is ``"at least"`` where only the text arm crossed at the grid's smallest
    budget (it may need fewer items, so the break-even may be higher), ``"at most"`` where only the other arm
    did, ``"not identified"`` where both did (then ``cheaper`` too: both used the same, smallest, number of
    items); ``cheaper`` is ``"yes"`` / ``"no"`` when the seed-bootstrap ranges of the two arms' seconds do
    not overlap and censoring cannot reverse it (a censored text arm may cost less than shown, so its "no" is
    "unclear"; likewise a censored other arm's "yes"), ``"unclear"`` when they overlap (or either has none),
    and
    ``"other not reached"`` when the other arm never reached the reference within the budgets run (that says
    nothing about its seconds beyond them)."""
    for task, noise in a.sections:
        effs = [e for e in a.sample_efficiency if e["task"] == task and e["noise"] == noise]
        use_expert = any(e["expert_threshold"] is not None for e in effs)
        key = "expert" if use_expert else "oracle"
        status, censored = ref_field(key, "status"), ref_field(key, "censored")

        def reached(e: dict[str, Any]) -> tuple[float, float] | None:
            if e[status] != "reached":
                return None
            return e[f"items_to_90pct_{key}"], e[f"seconds_to_90pct_{key}"]

        for t in effs:
            text = reached(t) if _is_text(t["arm"]) else None
            if text is None or not text[0]:
                continue
            n_text, s_text = text
            t_ci = t.get(f"seconds_to_90pct_{key}_ci")
            for o in effs:
                if _is_text(o["arm"]) or "+" in o["arm"]:
                    continue
                r = reached(o)
                if r is None and o[status] != "not reached":
                    continue  # undetermined (a sweep still running) or no reference: nothing to say
                entry = {"task": task, "noise": noise, "reference": key, "text_arm": t["arm"], "text_items": n_text,
                         "text_seconds": s_text, "text_seconds_per_item": s_text / n_text, "other_arm": o["arm"],
                         "other_reached": r is not None, "other_seconds": r[1] if r else None,
                         "break_even": r[1] / n_text if r else None, "bound": None,
                         "cheaper": "other not reached"}
                if r is not None:
                    t_cens, o_cens = bool(t.get(censored)), bool(o.get(censored))
                    entry["bound"] = ("not identified" if t_cens and o_cens else "at least" if t_cens
                                      else "at most" if o_cens else None)
                    o_ci = o.get(f"seconds_to_90pct_{key}_ci")
                    verdict = "not identified" if t_cens and o_cens else _cheaper(t_ci, o_ci)
                    # a censored arm may need fewer seconds than shown: only the verdict that survives that stands
                    if (t_cens and verdict == "no") or (o_cens and verdict == "yes"):
                        verdict = "unclear"
                    entry["cheaper"] = verdict
                a.break_even.append(entry)


def _cheaper(text_ci: list[float | None] | None, other_ci: list[float | None] | None) -> str:
    """``"yes"`` when the text arm's seconds range lies below the other arm's, ``"no"`` when above, else
    ``"unclear"`` (ranges overlap, or a range is missing: one seed, or no bootstrap)."""
    if not text_ci or not other_ci:
        return "unclear"
    inf = math.inf
    t_lo, t_hi = (inf if v is None else v for v in text_ci)
    o_lo, o_hi = (inf if v is None else v for v in other_ci)
    if t_hi < o_lo:
        return "yes"
    if o_hi < t_lo:
        return "no"
    return "unclear"


def _test_pairs(samples: list[tuple[str, list[float]]], family: list[float | None]) -> dict[tuple[str, str], int]:
    """Welch's test of every pair of ``samples`` (label, values), each p appended to ``family`` (a section's
    tests, Holm-corrected together); returns where each pair's p is, under both orders of its labels."""
    where: dict[tuple[str, str], int] = {}
    for i, (x, xs) in enumerate(samples):
        for y, ys in samples[i + 1:]:
            where[(x, y)] = where[(y, x)] = len(family)
            family.append(welch_p(xs, ys))
    return where


def _holm_verdict(entry: dict[str, Any], adjusted: float | None, prefix: str = "") -> None:
    """Write one test's Holm-adjusted p-value (``<prefix>p_holm``) and verdict (``<prefix>significant``)."""
    entry[f"{prefix}p_holm"] = adjusted
    entry[f"{prefix}significant"] = adjusted is not None and adjusted < ALPHA


def _comparisons(a: Analysis) -> None:
    """Per (task, noise, budget): the best arm by mean final true return against each other arm, Welch's t-test.
    The best arm is picked after looking at the means, so its comparisons are a subset of all pairs of arms:
    Holm's correction runs over every pair of arms at every budget of a (task, noise) section (``family``: how
    many were tested), which keeps the chance of any false "significant" at :data:`ALPHA` however the best
    arm was picked (``p_holm``; ``significant``: Holm p < ALPHA). ``p`` is the unadjusted value."""
    for task, noise in a.sections:
        first = len(a.comparisons)
        pairs: list[float | None] = []  # every pair's p, the section's family
        for b in a.budgets[(task, noise)]:
            gs = [a.groups[(task, noise, lab, b)] for lab in a.arms[(task, noise)] if (task, noise, lab, b) in a.groups]
            gs = [g for g in gs if g.rows]
            if not gs:
                continue
            where = _test_pairs([(g.label, g.returns) for g in gs], pairs)
            gs.sort(key=lambda g: -(g.mean("final_return") or 0.0))
            best = gs[0]
            others = []
            for g in gs[1:]:
                k = where[(best.label, g.label)]
                others.append({"arm": g.label, "mean": g.mean("final_return"),
                               "difference": best.mean("final_return") - g.mean("final_return"),
                               "p": pairs[k], "pair": k})
            a.comparisons.append({"task": task, "noise": noise, "budget": b, "winner": best.label,
                                  "winner_mean": best.mean("final_return"), "winner_n": len(best.rows),
                                  "others": others})
        adjusted = holm(pairs)
        family = sum(p is not None for p in pairs)
        for c in a.comparisons[first:]:
            c["family"] = family
            for o in c["others"]:
                _holm_verdict(o, adjusted[o.pop("pair")])


def _paired(a: Analysis) -> None:
    """Per (task, noise, budget): each arm − the reference arm (the first in config order that has results in the
    section) in final true return, paired by seed — the cells of one seed start from the same trajectories (the
    online loop's round 0) — with the mean difference's 95% t-interval and the paired t-test; the tested
    p-values of a (task, noise) section are one family, Holm-corrected (``family``: its size)."""
    for task, noise in a.sections:
        labels = a.arms[(task, noise)]
        if len(labels) < 2:
            continue
        ref = labels[0]
        section = []
        for b in a.budgets[(task, noise)]:
            rg = a.groups.get((task, noise, ref, b))
            if rg is None or not rg.rows:
                continue
            ref_by_seed = {r.seed: r.final_return for r in rg.rows}
            for lab in labels[1:]:
                g = a.groups.get((task, noise, lab, b))
                if g is None or not g.rows:
                    continue
                mine = {r.seed: r.final_return for r in g.rows}
                seeds = sorted(mine.keys() & ref_by_seed.keys())
                x = [mine[s] for s in seeds]
                y = [ref_by_seed[s] for s in seeds]
                d = Stat.of(xi - yi for xi, yi in zip(x, y))
                section.append({"task": task, "noise": noise, "budget": b, "arm": lab, "reference": ref,
                                "seeds": seeds, "difference": d.to_json(), "p": paired_p(x, y)})
        family = sum(e["p"] is not None for e in section)
        for entry, adj in zip(section, holm([e["p"] for e in section])):
            entry["family"] = family
            _holm_verdict(entry, adj)
        a.paired += section


def _eval_values(g: Group, eval_task: str, name: str) -> list[float]:
    return [v for r in g.rows if (v := (r.eval_tasks.get(eval_task) or {}).get(name)) is not None]


def _generalisation(a: Analysis) -> None:
    """Per group (feedback arms, then each task's oracle) and eval task: success and wrong-key-first rate on the
    training task (its final evaluation) against the eval task, means with 95% intervals over the seeds that
    have the eval task; then per (task, noise, budget, eval task) the arm with the highest eval-task success
    against each other arm (Welch's t-test on eval-task success and on the wrong-key-first rate)."""
    groups = list(arm_groups(a)) + reference_groups(a)
    for g in groups:
        for et in sorted({t for r in g.rows for t in r.eval_tasks}):
            rows = [r for r in g.rows if et in r.eval_tasks]
            a.generalisation.append({
                "task": g.task, "noise": g.noise, "arm": g.label, "budget": g.budget, "eval_task": et,
                "seeds": sorted(r.seed for r in rows),
                "train_success": Stat.of(r.success_rate for r in rows).to_json(),
                "train_wrong_key_first": Stat.of(r.wrong_key_first for r in rows).to_json(),
                "train_true_return": Stat.of(r.final_return for r in rows).to_json(),
                "eval_success": Stat.of(_eval_values(g, et, "success_rate")).to_json(),
                "eval_wrong_key_first": Stat.of(_eval_values(g, et, "wrong_key_first")).to_json(),
                "eval_true_return": Stat.of(_eval_values(g, et, "true_return")).to_json(),
                "eval_proxy_return": Stat.of(_eval_values(g, et, "proxy_return")).to_json(),
            })
    for task, noise in a.sections:
        # per eval task, one family per metric: every pair of arms at every budget (the best arm is picked after
        # looking, so its comparisons are a subset of all pairs; Holm over all of them keeps the error rate)
        families: dict[str, dict[str, list[float | None]]] = {}
        first = len(a.generalisation_comparisons)
        for b in a.budgets[(task, noise)]:
            gs = [a.groups[k] for lab in a.arms[(task, noise)] if (k := (task, noise, lab, b)) in a.groups]
            for et in sorted({t for g in gs for r in g.rows for t in r.eval_tasks}):
                scored = [(g, _eval_values(g, et, "success_rate"), _eval_values(g, et, "wrong_key_first"))
                          for g in gs]
                scored = [s for s in scored if s[1]]
                if not scored:
                    continue
                fam = families.setdefault(et, {"success": [], "wrong": []})
                index = _test_pairs([(g.label, succ) for g, succ, _ in scored], fam["success"])
                _test_pairs([(g.label, wrong) for g, _, wrong in scored], fam["wrong"])  # same pairs, same places
                scored.sort(key=lambda s: -Stat.of(s[1]).mean)
                best, best_succ, best_wrong = scored[0]
                others = []
                for g, succ, wrong in scored[1:]:
                    k = index[(best.label, g.label)]
                    others.append({"arm": g.label, "eval_success": Stat.of(succ).mean,
                                   "difference": Stat.of(best_succ).mean - Stat.of(succ).mean,
                                   "p": fam["success"][k], "pair": k,
                                   "wrong_key_first": Stat.of(wrong).mean,
                                   "wrong_key_difference": (Stat.of(best_wrong).mean - Stat.of(wrong).mean
                                                            if best_wrong and wrong else None),
                                   "wrong_key_p": fam["wrong"][k]})
                a.generalisation_comparisons.append({
                    "task": task, "noise": noise, "budget": b, "eval_task": et, "winner": best.label,
                    "winner_eval_success": Stat.of(best_succ).mean, "winner_n": len(best_succ),
                    "winner_wrong_key_first": Stat.of(best_wrong).mean, "others": others})
        adjusted = {et: (holm(f["success"]), holm(f["wrong"])) for et, f in families.items()}
        for c in a.generalisation_comparisons[first:]:
            succ_adj, wrong_adj = adjusted[c["eval_task"]]
            for o in c["others"]:
                k = o.pop("pair")
                _holm_verdict(o, succ_adj[k])
                _holm_verdict(o, wrong_adj[k], prefix="wrong_key_")
