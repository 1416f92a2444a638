"""The report's prose and tables: ``report.md`` (its summary sentences and markdown tables) and the CSV copy of
each table under ``tables/``. The numbers come from :mod:`nlfeedback.experiments.analysis`."""

from __future__ import annotations

import csv
from collections.abc import Iterable, Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from nlfeedback.experiments.analysis import (ORACLE_FRACTION, UNDETERMINED, Analysis, arm_groups, efficiency_ranking,
                                             noise_name, ref_field, reference_groups)
from nlfeedback.experiments.config import REFERENCE_KINDS
from nlfeedback.experiments.results import READER, RunResults, num
from nlfeedback.experiments.stats import MIN_TEST_N, Stat


def _fmt(x: float | None, digits: int = 3) -> str:
    return "—" if x is None else f"{x:.{digits}f}"


def _fmt_amount(x: float | None) -> str:
    """Feedback items or seconds: no decimals when whole."""
    if x is None:
        return "—"
    return f"{x:,.0f}" if abs(x - round(x)) < 1e-9 or abs(x) >= 100 else f"{x:,.1f}"


def _fmt_crossing(x: float | None, status: str, ci: list[float] | None, censored: bool = False) -> str:
    """A crossing (items or seconds to a threshold) with its seed-bootstrap range; ∞: not reached; "≤" where it
    is at the grid's smallest budget (the arm may need less)."""
    head = ("≤ " if censored else "") + _fmt_amount(x) if status == "reached" else status
    if not ci:
        return head
    lo, hi = ("∞" if v is None else _fmt_amount(v) for v in ci)
    return f"{head} [{lo}, {hi}]"


def _per_seed(e: dict[str, Any]) -> str:
    """Each seed's own crossing budget against the expert (– : never reached and stayed)."""
    per = e.get("per_seed_expert") or {}
    return ", ".join(f"{s}: {'–' if b is None else b}" for s, b in sorted(per.items(), key=lambda kv: int(kv[0])))


def _pooled(e: dict[str, Any]) -> str:
    """Cells reaching 90% of the expert, every budget pooled: "k/n (share) [seed-bootstrap range]"."""
    if "cells_pooled" not in e:
        return "—"
    k, n, ci = e["cells_at_90pct_expert"], e["cells_pooled"], e.get("cells_at_90pct_expert_ci")
    return f"{k}/{n} ({k / n:.2f})" + (f" [{ci[0]:.2f}, {ci[1]:.2f}]" if ci else "")


def _efficiency_line(a: Analysis, task: str, noise: str, eff: list[dict[str, Any]], ref: str, whose: str) -> str:
    """The summary's sample-efficiency sentence against 90% of ``ref``'s final true return (``"expert"``: the BFS
    expert's, with the crossings' seed-bootstrap intervals; ``"oracle"``: PPO on the task's reward)."""
    items, seconds = f"items_to_90pct_{ref}", f"seconds_to_90pct_{ref}"
    status = ref_field(ref, "status")
    threshold = eff[0][ref_field(ref, "threshold")]
    where = f"{task} ({noise_name(noise)})"
    reached = efficiency_ranking(a, task, noise, ref)
    if not reached and all(e[status] == UNDETERMINED for e in eff):
        return f"{where}: no arm has a seed that finished every budget yet, so no sample-efficiency figures."
    if not reached:
        return (f"{where}: no arm reached 90% of {whose} final true return ({_fmt(threshold)}) within the "
                "budgets.")

    censored = ref_field(ref, "censored")

    def amount(e: dict[str, Any], attr: str) -> str:
        return _fmt_crossing(e[attr], "reached", e.get(f"{attr}_ci"), bool(e.get(censored)))

    best = reached[0]
    if best.get(censored):
        tied = [e for e in reached if e.get(censored)]
    else:
        tied = [e for e in reached if abs(e[items] - best[items]) < 1e-9]
    seeds = sorted({e["seeds"] for e in eff if e["seeds"]})
    several = len(seeds) > 1  # a sweep still running: each arm's own number of seeds beside it

    def n_of(e: dict[str, Any]) -> str:
        return f"{e['seeds']} seed{'s' * (e['seeds'] != 1)}" if several else ""

    def arm(e: dict[str, Any]) -> str:
        return e["arm"] + (f" ({n_of(e)})" if several else "")

    rest = ", ".join(f"{e['arm']} ({amount(e, items)}" + (f"; {n_of(e)})" if several else ")")
                     for e in reached[len(tied):])
    undetermined = [e["arm"] for e in eff if e[status] == UNDETERMINED]
    not_r = [arm(e) for e in eff if e not in reached and e["arm"] not in undetermined]
    n = (f"{seeds[0]} seed{'s' * (seeds[0] != 1)} per arm" if len(seeds) == 1 else
         f"{seeds[0]}–{seeds[-1]} seeds per arm" if seeds else "no complete seeds")
    if len(tied) == 1:
        head = (f"**{best['arm']}**, {amount(best, items)} items ({amount(best, seconds)} annotator-seconds"
                + (f"; {n_of(best)})" if several else ")"))
    elif best.get(censored):  # tied at the smallest budget: the grid cannot order them by items
        head = (f"{len(tied)} arms at the grid's smallest budget ({_fmt_amount(best[items])} items or fewer), so "
                f"not ordered by items: {', '.join(arm(e) for e in tied)}")
    else:  # several arms reach it at the same budget: the cheaper in annotator time comes first
        head = (f"{len(tied)} arms tied at {_fmt_amount(best[items])} items; by annotator-seconds "
                + ", ".join((f"**{e['arm']}**" if e is best else e["arm"]) + f" ({amount(e, seconds)})" for e in tied))
    return (f"{where}: fewest feedback items to reach 90% of {whose} final true return ({_fmt(threshold)}) and stay "
            f"there ({n}): " + head + (f"; then {rest}" if rest else "")
            + (f"; not reached within the budgets: {', '.join(not_r)}" if not_r else "")
            + (f"; undetermined (no seed has finished every budget yet): {', '.join(undetermined)}"
               if undetermined else "") + ".")


def _setting(v: Any) -> str:
    """A [run] setting as the report's config line shows it: 150,000; shaped; doorkey-6x6 400,000."""
    if isinstance(v, dict):
        return "(" + ", ".join(f"{k} {_setting(x)}" for k, x in v.items()) + ")"
    return f"{v:,}" if isinstance(v, int) and not isinstance(v, bool) else str(v)


NEEDS = f"a test needs ≥ {MIN_TEST_N} seeds a side with some variance"


def _sig(o: dict[str, Any]) -> str:
    """A summary comparison's verdict: Welch's p, Holm-corrected over every pair of arms of the section."""
    if o["p"] is None:
        return f"untested ({NEEDS})"
    return (f"significant (Holm p = {o['p_holm']:.3g})" if o["significant"]
            else f"not significant (Holm p = {o['p_holm']:.2g})")



def summary_lines(a: Analysis, results: RunResults) -> list[str]:
    """The report's summary, one markdown line each: per (task, noise) the largest budget's winner against the
    others and the oracle, the smaller budgets, sample efficiency; then gaming, failed and missing cells."""
    lines: list[str] = []
    for task, noise in a.sections:
        comps = [c for c in a.comparisons if c["task"] == task and c["noise"] == noise]
        if not comps:
            continue
        top = comps[-1]  # the largest budget
        win = a.groups[(task, noise, top["winner"], top["budget"])]
        tied = [o for o in top["others"] if abs(o["difference"]) < 1e-12]
        if tied:
            rest = [o for o in top["others"] if o not in tied]
            head = (f"**{task}** ({noise_name(noise)}), budget {top['budget']}: no kind came out ahead: "
                    f"{', '.join([top['winner']] + [o['arm'] for o in tied])} tied at a final true return of "
                    f"{_fmt(top['winner_mean'])}")
            if rest:
                head += "; ahead of " + ", ".join(f"{o['arm']} ({o['difference']:+.3f}, {_sig(o)})" for o in rest)
        else:
            head = (f"**{task}** ({noise_name(noise)}), budget {top['budget']}: **{top['winner']}** had the highest "
                    f"final true return, {win.stat('final_return').fmt()} over {len(win.rows)} seed(s)")
        if tied:
            pass
        elif top["others"]:
            ru = top["others"][0]
            head += (f", {ru['difference']:+.3f} ahead of the runner-up {ru['arm']} ({_fmt(ru['mean'])}), "
                     f"{_sig(ru)}")
            sig = [o for o in top["others"][1:] if o["significant"]]
            ns = [o for o in top["others"][1:] if not o["significant"] and o["p"] is not None]
            untested = [o for o in top["others"][1:] if o["p"] is None]
            if sig:
                head += ("; significantly ahead of " + ", ".join(f"{o['arm']} ({o['difference']:+.3f}, Holm p = "
                                                                 f"{o['p_holm']:.2g})" for o in sig))
            if ns:
                head += ("; not significantly different from " + ", ".join(
                    f"{o['arm']} ({o['difference']:+.3f}, Holm p = {o['p_holm']:.2g})" for o in ns))
            if untested:
                head += ("; untested against " + ", ".join(f"{o['arm']} ({o['difference']:+.3f})" for o in untested)
                         + f" ({NEEDS})")
        else:
            head += " (the only arm with results)"
        ref = a.oracle.get(task)
        ref_mean = ref.mean("final_return") if ref and ref.rows else None
        eff0 = next((e for e in a.sample_efficiency if e["task"] == task and e["noise"] == noise), None)
        learned = eff0 is not None and eff0["status"] != "oracle did not learn"
        expert_thr = eff0["expert_threshold"] if eff0 is not None else None
        if ref_mean is not None and ref_mean > 0 and learned and top["winner_mean"] <= 1.5 * ref_mean:
            head += (f". The oracle (PPO on the true reward) reached {ref.stat('final_return').fmt()}; the winner "
                     f"got {top['winner_mean'] / ref_mean:.0%} of it")
        elif ref_mean is not None and ref_mean > 0 and learned:  # no expert to judge it by, and far behind
            head += (f". The oracle (PPO on the true reward) reached only {ref.stat('final_return').fmt()} over "
                     f"{len(ref.rows)} seed(s), the winner {top['winner_mean'] / ref_mean:.1f} times as much: PPO on "
                     "the task's reward may not have learned the task in these steps")
        elif ref_mean is not None and ref_mean > 0 and expert_thr is not None:
            head += (f". The oracle (PPO on the true reward) reached {ref.stat('final_return').fmt()} over "
                     f"{len(ref.rows)} seed(s), below 90% of the BFS expert's return ({_fmt(expert_thr)}): PPO on the "
                     "task's reward did not learn the task in these steps")
        elif ref_mean is not None:
            head += (f". The oracle (PPO on the true reward) reached only {_fmt(ref_mean)}: the runs were too short "
                     "to learn the task, so this comparison says little")
        judged = a.judged.get(task)
        if judged and judged.rows:
            head += f"; PPO on the dense judgement reached {judged.stat('final_return').fmt()}"
        lines.append(head + ".")
        for c in comps[:-1]:
            line = f"{task} ({noise_name(noise)}), budget {c['budget']}: best {c['winner']} ({_fmt(c['winner_mean'])})"
            c_tied = [o["arm"] for o in c["others"] if abs(o["difference"]) < 1e-12]
            if c_tied:
                line = (f"{task} ({noise_name(noise)}), budget {c['budget']}: {', '.join([c['winner']] + c_tied)} "
                        f"tied at {_fmt(c['winner_mean'])}")
            elif c["others"]:
                ru = c["others"][0]
                line += f", {ru['difference']:+.3f} over {ru['arm']}, {_sig(ru)}"
            lines.append(line + ".")
        eff = [e for e in a.sample_efficiency if e["task"] == task and e["noise"] == noise]
        if eff and eff[0]["expert_threshold"] is not None:  # the task's own reference: no PPO seed moves it
            lines.append(_efficiency_line(a, task, noise, eff, "expert", "the BFS expert's"))
        elif eff and eff[0]["status"] == "no oracle cells":
            lines.append(f"{task} ({noise_name(noise)}): no oracle cells, so no 90%-of-oracle figures.")
        elif eff and eff[0]["status"] == "oracle did not learn":
            lines.append(f"{task} ({noise_name(noise)}): the oracle's final true return is {_fmt(eff[0]['oracle_mean'])}"
                         " (it did not learn the task), so no 90%-of-oracle figures.")
        elif eff:
            lines.append(_efficiency_line(a, task, noise, eff, "oracle", "the oracle's"))
    gaming = [r for r in results.rows if r.gaming]
    if gaming:
        lines.append(f"Reward gaming (proxy return rising while true return falls) was flagged in {len(gaming)} of "
                     f"{len(results.rows)} finished cells: see the behaviour table.")
    if results.failed:
        lines.append(f"{len(results.failed)} cell(s) failed and are left out of every figure (listed below).")
    if results.expected is not None:
        missing = results.expected - len(results.rows) - len(results.failed)
        if missing > 0:
            lines.append(f"{missing} of {results.expected} cells have no result yet (sweep unfinished); figures "
                         "use the cells that finished.")
    return lines


_TEXT_COLUMNS = {"task", "noise", "arm", "breakdown", "category", "cell", "error", "result file", "reference",
                 "text arm", "other arm", "text cheaper", "significant"}


def _md_table(header: Sequence[str], rows: Iterable[Sequence[Any]], align: str | None = None) -> str:
    rows = [[str(c) for c in r] for r in rows]
    al = align or "".join("l" if h in _TEXT_COLUMNS else "r" for h in header)
    sep = ["---:" if c == "r" else ":---" for c in al]
    out = ["| " + " | ".join(header) + " |", "| " + " | ".join(sep) + " |"]
    out += ["| " + " | ".join(r) + " |" for r in rows]
    return "\n".join(out)


def _write_csv(path: Path, header: Sequence[str], rows: Iterable[Sequence[Any]]) -> None:
    with open(path, "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(header)
        for r in rows:
            w.writerow(["" if c is None else c for c in r])


def _table(csv_path: Path, header: Sequence[str], rows: Sequence[Sequence[Any]], empty: str | None = None) -> str:
    """A section's table: written to ``csv_path`` (header only when there are no rows) and returned as
    markdown, or ``empty`` in its place when there are no rows and ``empty`` is given."""
    _write_csv(csv_path, header, rows)
    return empty if empty is not None and not rows else _md_table(header, rows)


def _interp_metric(interp: dict[str, Any] | None, *path: str) -> float | None:
    cur: Any = interp
    for p in path:
        if not isinstance(cur, dict):
            return None
        cur = cur.get(p)
    return num(cur)


INTERP_METRICS = ("sign_error_rate", "attribution_f1", "negation_flip_failure")

def markdown_report(results: RunResults, a: Analysis, summary: Sequence[str], mixed: dict[str, dict[str, list[str]]],
                    plots: Sequence[Path], tables_dir: Path) -> str:
    """``report.md``'s text; writes the CSV copy of each of its tables into ``tables_dir`` on the way."""
    md: list[str] = []
    name = (results.meta or {}).get("config", {}).get("name") or results.run_dir.name
    md.append(f"# Ablation report: {name}\n")
    n_ok, n_failed = len(results.rows), len(results.failed)
    expected = f" of {results.expected}" if results.expected is not None else ""
    md.append(f"Run folder `{results.run_dir}`; generated {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC from "
              f"{n_ok + n_failed}{expected} cell result files ({n_ok} ok, {n_failed} failed). Means over seeds with "
              "95% t-intervals in brackets (sample efficiency: a seed-bootstrap range). The summary tests the best arm "
              "at each budget — picked by its mean — against each other arm with Welch's t-test, Holm-corrected over "
              "every pair of arms at every budget of a task and noise setting; the paired section tests every arm against one reference arm, paired by "
              f"seed, Holm-corrected; a test needs ≥ {MIN_TEST_N} seeds a side; significant: Holm p < 0.05.\n")
    if results.meta:
        cfg = results.meta.get("config") or {}
        grid, run = cfg.get("grid") or {}, cfg.get("run") or {}
        noise = ", ".join(n or "off" for n in grid.get("noise", [])) or "off"
        md.append(f"Config `{cfg.get('source', '?')}`: tasks {', '.join(grid.get('tasks', []))}; kinds "
                  f"{', '.join(grid.get('kinds', []))}; budgets {', '.join(map(str, grid.get('budgets', [])))}; "
                  f"noise {noise}; seeds {', '.join(map(str, grid.get('seeds', [])))}; "
                  + (f"eval tasks {', '.join(grid['eval_tasks'])}; " if grid.get("eval_tasks") else "")
                  + ", ".join(f"{k.replace('_', ' ')} {_setting(v)}" for k, v in run.items() if v != {}) + ".\n")

    md.append("## Summary\n")
    md += [f"- {line}" for line in summary] or ["- No finished cells with feedback arms yet."]
    if mixed:
        md.append(f"- Cells ran with different versions of {', '.join(mixed)} (see Versions): differences between "
                  "arms that ran with different versions are not only the feedback's.")
    md.append("")

    head_cols = ["task", "noise", "arm", "budget", "seeds", "feedback items", "annotator-s", "final true return",
                 "success rate", "AUC (steps)"]
    md.append("## Final true return\n")
    for p in plots:
        if p.name.startswith("return_vs_"):
            md.append(f"![{p.stem}](plots/{p.name})\n")
    md_rows = []
    for g in arm_groups(a):
        md_rows.append([g.task, g.noise or "off", g.label, g.budget, len(g.rows), _fmt_amount(g.mean("items")),
                        _fmt_amount(g.mean("seconds")), g.stat("final_return").fmt(),
                        g.stat("success_rate").fmt(2), g.stat("auc").fmt()])
    for ref in reference_groups(a):
        md_rows.append([ref.task, "—", ref.label, "—", len(ref.rows), "0", "0", ref.stat("final_return").fmt(),
                        ref.stat("success_rate").fmt(2), ref.stat("auc").fmt()])
    md.append(_table(tables_dir / "final_return.csv", head_cols, md_rows))
    md.append("")

    md.append("## Sample efficiency\n")
    with_expert = any(e["expert_mean"] is not None for e in a.sample_efficiency)
    md.append(f"The smallest budget from which the mean final true return reaches {ORACLE_FRACTION:.0%} of the "
              "reference and stays there at every larger budget run, given as that budget's mean feedback items "
              "and annotator-seconds, on the seeds that finished every budget of the grid (`seeds`; `incomplete "
              "seeds`: those with a cell missing or failed, left out; with none complete the arm is "
              "undetermined). References: the oracle's mean final true return on the same task (none where the "
              "oracle stayed below 90% of the expert: it did not learn the task)"
              + (" and, where the result files record the BFS expert on the evaluation layouts, 90% of the expert's "
                 "mean true return, fixed by the task" if with_expert else "")
              + ". A crossing at the grid's smallest budget is written `≤`: the arm may need fewer items. Brackets "
              "give the 2.5–97.5% range of a bootstrap over the seeds (drawn with replacement, the crossing found "
              "again; ∞: more than 2.5% of the draws never reach it within the budgets) — with five seeds or fewer "
              "a resampling range close to the seeds' own spread, not a calibrated 95% interval"
              + (" — and `per seed` each seed's own crossing budget against the expert (–: never). The last column "
                 "pools every budget: how many of the complete seeds' cells end at 90% of the expert or above, with "
                 "the 2.5–97.5% range of the share over a bootstrap of whole seeds — how often an arm's agent "
                 "learns the task at all, steadier than a crossing when single cells either solve it or not"
                 if with_expert else "") + ".\n")
    se_cols = ["task", "noise", "arm", "seeds", "incomplete seeds", "threshold (0.9 × oracle)", "budget",
               "items_to_90pct_oracle", "seconds_to_90pct_oracle"]
    if with_expert:
        se_cols += ["threshold (0.9 × expert)", "items_to_90pct_expert", "seconds_to_90pct_expert", "per seed",
                    "cells at 90% of expert (all budgets)"]
    se_rows = []
    for e in a.sample_efficiency:
        reached = e["status"] == "reached"
        row = [e["task"], e["noise"] or "off", e["arm"], e["seeds"], e["incomplete_seeds"], _fmt(e["threshold"]),
               e["budget"] if reached else "—",
               _fmt_crossing(e["items_to_90pct_oracle"], e["status"], e.get("items_to_90pct_oracle_ci"),
                             bool(e.get("censored"))),
               _fmt_crossing(e["seconds_to_90pct_oracle"], e["status"], e.get("seconds_to_90pct_oracle_ci"),
                             bool(e.get("censored")))]
        if with_expert:
            cens = bool(e.get("expert_censored"))
            row += [_fmt(e["expert_threshold"]),
                    _fmt_crossing(e["items_to_90pct_expert"], e["expert_status"], e.get("items_to_90pct_expert_ci"),
                                  cens),
                    _fmt_crossing(e["seconds_to_90pct_expert"], e["expert_status"],
                                  e.get("seconds_to_90pct_expert_ci"), cens), _per_seed(e), _pooled(e)]
        se_rows.append(row)
    md.append(_table(tables_dir / "sample_efficiency.csv", se_cols, se_rows, empty="No feedback arms."))
    md.append("")

    md += _break_even_section(a, tables_dir)
    md += _paired_section(a, tables_dir)

    md.append("## Learning curves\n")
    if any(p.name == "learning_curves.png" for p in plots):
        md.append("![learning curves](plots/learning_curves.png)\n")
    how = ("with actions sampled from the policy" if results.run_settings.get("eval_actions") == "sampled" else
           "deterministic (the policy's likeliest action)")
    md.append(f"True return of the evaluations ({how}) against environment steps, mean over seeds with 95% "
              "bands; seeds are interpolated onto the union of their evaluation steps.\n")
    if any(p.name == "curves_proxy.png" for p in plots):
        md.append("![true and proxy return](plots/curves_proxy.png)\n")
        md.append("The same evaluations per feedback arm, true return (left axis) next to the proxy return, the "
                  "learned reward's return of those episodes in its own scale (right axis; the oracle has none), "
                  "measured with the reward model of that moment, so each round's refit changes the yardstick — "
                  "a jump at a refit is not gaming; proxy return rising while true return falls within a round is. "
                  "Each seed has its own learned reward: the band mixes their scales.\n")

    md += _generalisation_section(a, tables_dir)
    md += _optimisation_section(a, tables_dir)
    md += _misinterpretation_section(a, tables_dir)
    md += _behaviour_section(a, tables_dir)

    md.append("## Failed cells\n")
    if results.failed:
        md.append(_md_table(["cell", "error", "result file"],
                            [[f["key"], f["error"].splitlines()[0][:200] if f["error"] else "", f"`{f['path']}`"]
                             for f in results.failed]))
        md.append("\nThe traceback of each is in its result file; `nlf ablate` on the same folder retries them.\n")
    else:
        md.append("None.\n")
    if results.problems:
        md.append("Unreadable or malformed result files (left out):\n")
        md += [f"- {p}" for p in results.problems]
        md.append("")

    versions = (results.meta or {}).get("versions")
    readers = sorted({r.versions[READER] for r in results.rows if READER in r.versions})
    if versions or mixed or readers:
        md.append("## Versions\n")
    if versions:
        md.append("The sweep's driver: " + ", ".join(f"{k} {v}" for k, v in versions.items()) + "\n")
    if len(readers) == 1:
        md.append(f"Text read by the trained reader's checkpoint {readers[0]} (SHA-256 prefix) in every text cell.\n")
    if mixed:
        md.append("**Cells ran with different package versions** (each result file records its own):\n")
        md += [f"- {pkg}: " + "; ".join(f"{v}: {', '.join(arms)}" for v, arms in by_v.items())
               for pkg, by_v in mixed.items()]
        md.append("")
    return "\n".join(md).rstrip() + "\n"


def _break_even_section(a: Analysis, tables_dir: Path) -> list[str]:
    if not a.break_even:
        return []
    md = ["### Break-even cost of a text item\n",
          "For each text arm that reached 90% of the reference (the BFS expert where recorded, else the oracle) "
          "and each other single kind: the seconds one text item may take before text needs more annotator-time "
          "than that kind to get there (the other kind's seconds ÷ text's items), beside what a text item costs "
          "under the cost model (`nlfeedback/critics/cost.py`: assumed, not measured — watch at ~10 steps/s, "
          "type at ~40 words/min; preferences 4 s after Christiano et al. 2017). Combined arms (text + "
          "preference) are left out: their items are of two kinds. Where a crossing is at the grid's smallest "
          "budget the break-even is only a bound (≥ where text's is: text may need fewer items; ≤ where the other "
          "arm's is) or, both there, not identified. Text cheaper: yes / no where the seed-bootstrap ranges of "
          "the two arms' seconds to the reference do not overlap, unclear where they do.\n"]
    cols = ["task", "noise", "reference", "text arm", "text items", "text s/item (cost model)", "other arm",
            "other seconds", "break-even s/text item", "text cheaper"]
    rows = []
    for e in a.break_even:
        if e["other_reached"]:
            bound = e["bound"]
            be = ("not identified" if bound == "not identified" else
                  {"at least": "≥ ", "at most": "≤ ", None: ""}[bound] + _fmt(e["break_even"], 1))
        else:
            be = "other not reached within the budgets"
        rows.append([e["task"], e["noise"] or "off", e["reference"], e["text_arm"], _fmt_amount(e["text_items"]),
                     _fmt(e["text_seconds_per_item"], 1), e["other_arm"],
                     _fmt_amount(e["other_seconds"]) if e["other_reached"] else "—", be, e["cheaper"]])
    md.append(_table(tables_dir / "break_even.csv", cols, rows))
    md.append("")
    return md


def _paired_section(a: Analysis, tables_dir: Path) -> list[str]:
    if not a.paired:
        return []
    md = ["## Paired differences\n",
          "Each arm − the reference arm (the first configured kind with results in the task and noise setting: "
          "column `reference`; a budget where it has no cells has no rows) in final true return, paired by seed: a seed's cells start from the same "
          "trajectories (round 0 of the loop), so seed-to-seed luck cancels. Mean difference with its 95% "
          "t-interval (not adjusted for the number of comparisons), the paired t-test, and Holm's correction over "
          f"the tested comparisons of a task and noise setting (m of them: column `family`; a test needs ≥ "
          f"{MIN_TEST_N} paired seeds with some variance, — otherwise; significant: Holm p < 0.05).\n"]
    cols = ["task", "noise", "budget", "arm", "reference", "seeds paired", "difference", "p", "Holm p", "family",
            "significant"]
    rows = [[e["task"], e["noise"] or "off", e["budget"], e["arm"], e["reference"], len(e["seeds"]),
             _stat(e["difference"]).fmt(), _p(e["p"]), _p(e["p_holm"]), e["family"],
             "—" if e["p"] is None else "yes" if e["significant"] else "no"]
            for e in a.paired]
    md.append(_table(tables_dir / "paired.csv", cols, rows))
    md.append("")
    return md


def _p(p: float | None) -> str:
    return "—" if p is None else (f"{p:.2g}" if p < 0.001 else f"{p:.3f}")


def _misinterpretation_section(a: Analysis, tables_dir: Path) -> list[str]:
    md = ["## Misinterpretation\n"]
    # interpretation, overall per budget
    rows = []
    by: dict[tuple[str, str, str, str], dict[str, dict[str, list[float]]]] = {}
    for task, noise in a.sections:
        for label in a.arms[(task, noise)]:
            for b in a.budgets[(task, noise)]:
                g = a.groups.get((task, noise, label, b))
                if not g or not any(r.interpretation for r in g.rows):
                    continue
                rows.append([task, noise or "off", label, b, len(g.rows)] + [
                    Stat.of(_interp_metric(r.interpretation, "overall", m) for r in g.rows).fmt()
                    for m in INTERP_METRICS])
                for r in g.rows:
                    for section, table in (r.interpretation or {}).items():
                        if section == "overall" or not isinstance(table, dict):
                            continue
                        for cat, metrics in table.items():
                            if not isinstance(metrics, dict):
                                continue
                            for m in INTERP_METRICS:
                                v = num(metrics.get(m))
                                if v is not None:
                                    by.setdefault((task, noise, label, section), {}).setdefault(cat, {}).setdefault(
                                        m, []).append(v)
    cols = ["task", "noise", "arm", "budget", "seeds", *INTERP_METRICS]
    md.append("### Interpretation (text arms)\n")
    md.append("How the interpreter read the critics' remarks, scored against the critics' recorded intent "
              "(DESIGN.md: sign error counts abstentions; attribution F1 over intended steps; negation-flip failure "
              "on paired probes).\n")
    md.append(_table(tables_dir / "interpretation.csv", cols, rows, empty="No text arms with interpretation metrics."))
    md.append("")
    cat_rows = []
    for (task, noise, label, section), cats in sorted(by.items()):
        for cat, metrics in sorted(cats.items()):
            cat_rows.append([task, noise or "off", label, section.removeprefix("by_"), cat] + [
                Stat.of(metrics.get(m, [])).fmt() for m in INTERP_METRICS])
    if cat_rows:
        md.append("By category (and split where recorded), pooled over budgets and seeds:\n")
        ccols = ["task", "noise", "arm", "breakdown", "category", *INTERP_METRICS]
        md.append(_table(tables_dir / "interpretation_by_category.csv", ccols, cat_rows))
        md.append("")

    # reward metrics
    events: list[str] = []
    for r in (r for g in a.groups.values() for r in g.rows):
        for e in ((r.reward_metrics or {}).get("event_sign_agreement") or {}):
            if e not in events:
                events.append(e)
    rrows = []
    for task, noise in a.sections:
        for label in a.arms[(task, noise)]:
            for b in a.budgets[(task, noise)]:
                g = a.groups.get((task, noise, label, b))
                if not g or not any(r.reward_metrics for r in g.rows):
                    continue
                rrows.append([task, noise or "off", label, b, len(g.rows)]
                             + [Stat.of(num((r.reward_metrics or {}).get(m)) for r in g.rows).fmt()
                                for m in ("reward_spearman", "epic_distance")]
                             + [Stat.of(num(((r.reward_metrics or {}).get("event_sign_agreement") or {}).get(e))
                                        for r in g.rows).fmt(2) for e in events])
    rcols = ["task", "noise", "arm", "budget", "seeds", "reward_spearman", "epic_distance",
             *[f"sign agreement: {e}" for e in events]]
    md.append("### Reward metrics\n")
    md.append("The learned reward against the task's ground truth on held-out trajectories (EPIC distance: 0 = the "
              "same reward up to shaping and scale, 1 = unrelated; — where a run did not record it or it is "
              "undefined).\n")
    md.append(_table(tables_dir / "reward_metrics.csv", rcols, rrows, empty="No reward metrics recorded."))
    md.append("")
    return md


def _behaviour_section(a: Analysis, tables_dir: Path) -> list[str]:
    md = ["### Behaviour: gaming and violations\n",
          "Gaming: proxy (learned) return rising while true return falls over the last evaluations. Violations: "
          "behaviours the feedback told the agent to avoid, per episode, at the final evaluation.\n"]
    cols = ["task", "noise", "arm", "budget", "seeds", "gaming flagged", "violations / episode", "proxy return",
            "final true return"]
    rows = []
    for task, noise in a.sections:
        for label in a.arms[(task, noise)]:
            for b in a.budgets[(task, noise)]:
                g = a.groups.get((task, noise, label, b))
                if g and g.rows:
                    rows.append([task, noise or "off", label, b, len(g.rows),
                                 f"{sum(r.gaming for r in g.rows)}/{len(g.rows)}", g.stat("violations").fmt(2),
                                 g.stat("proxy_return").fmt(), g.stat("final_return").fmt()])
    for ref in reference_groups(a):
        rows.append([ref.task, "—", ref.label, "—", len(ref.rows), f"{sum(r.gaming for r in ref.rows)}/{len(ref.rows)}",
                     ref.stat("violations").fmt(2), "—", ref.stat("final_return").fmt()])
    md.append(_table(tables_dir / "behaviour.csv", cols, rows, empty="No finished cells."))
    md.append("")
    return md


def _stat(d: dict[str, Any]) -> Stat:
    lo, hi = d.get("ci95") or (None, None)
    return Stat(d.get("n", 0), d.get("mean"), d.get("std"), lo, hi, d.get("missing", 0))


def _optimisation_section(a: Analysis, tables_dir: Path) -> list[str]:
    """"Optimisation pressure" (only for a run whose reward was fitted once, ``run.rounds = 1``): per arm, the
    seeds whose curve diverged (proxy return rising while true return falls) and where, and the best true
    return on the curve against the final one."""
    if not a.optimisation:
        return []
    md = ["## Optimisation pressure\n",
          "Each cell's reward model was fitted once and then held fixed while PPO optimised it (`run.rounds = 1`). "
          "Divergence point: the first evaluation after which proxy return keeps rising while true return keeps "
          "falling (`nlfeedback.agents.divergence.divergence_point`, window 3, tolerance 0.02, minimum change "
          "0.05; docs/probes.md), per seed. Best: the highest true return on the curve, the best stopping point "
          "in hindsight; lost = best − final. Means over seeds with 95% t-intervals; gaming flag: the seeds the "
          "training-time trailing check flagged. Proxy prefers the agent: the seeds whose final reward scores "
          "the agent above the BFS expert on the same layouts while its true return trails the expert's by more "
          "than 0.05 — a reward gamed from the start, which no divergence point shows (\"–\": no expert "
          "reference in the result files).\n"]
    cols = ["task", "noise", "arm", "budget", "seeds", "evaluations", "diverged (seed@step)", "best true return",
            "best at steps", "final true return", "lost", "gaming flag", "proxy prefers the agent"]
    rows = [[e["task"], e["noise"] or "off", e["arm"], e["budget"], len(e["seeds"]),
             "/".join(map(str, sorted(set(e["evaluations"])))),
             ", ".join(f"{s}@{st:,}" for s, st in zip(e["diverged_seeds"], e["divergence_steps"])) or "none",
             _stat(e["best_true_return"]).fmt(), ", ".join(f"{st:,}" for st in e["best_steps"]),
             _stat(e["final_true_return"]).fmt(), _stat(e["lost"]).fmt(),
             ", ".join(map(str, e["gaming_flagged_seeds"])) or "none",
             (", ".join(map(str, e["prefers_agent_seeds"])) or "none") if e["expert_seeds"] else "–"]
            for e in a.optimisation]
    md.append(_table(tables_dir / "optimisation.csv", cols, rows))
    md.append("")
    guarded = [e for e in a.optimisation if "guard" in e]
    if guarded:
        md.append("### The disagreement guard\n")
        md.append("Every `run.guard_every` steps the critic gave fresh feedback of the arm's kind on the agent's newest "
                  "episodes; the guard fires when the fixed reward ranks that behaviour above what it was fitted on by "
                  "at least the margin more than the fresh feedback does (docs/probes.md). A guarded "
                  "run stops there and keeps the policy of the check before; each run here went on to its last step, "
                  "so with and without are the same seeds (the checks do not change PPO's course). Difference: with − "
                  "without, paired by seed; more items: the feedback the checks asked for, on top of the budget.\n")
        cols = ["task", "noise", "arm", "budget", "seeds", "fired (seed@step)", "kept policy at steps",
                "true return with guard", "without", "difference", "more items"]
        rows = [[e["task"], e["noise"] or "off", e["arm"], e["budget"], len(e["guard"]["seeds"]),
                 ", ".join(f"{s}@{st:,}" for s, st in zip(e["guard"]["fired_seeds"], e["guard"]["fired_steps"]))
                 or "never", ", ".join(f"{int(st):,}" for st in e["guard"]["kept_steps"]) or "—",
                 _stat(e["guard"]["true_return_with"]).fmt(), _stat(e["guard"]["true_return_without"]).fmt(),
                 _stat(e["guard"]["difference"]).fmt(), _stat(e["guard"]["items"]).fmt(1)] for e in guarded]
        md.append(_table(tables_dir / "guard.csv", cols, rows))
        md.append("")
    refitting = [e for e in a.optimisation if "guard_refit" in e]
    if refitting:
        md.append("### The disagreement guard, refitting\n")
        md.append("`run.guard_action = \"refit\"`: where a check fired, the reward was refitted on its feedback plus "
                  "every item the checks had asked for, and PPO went on optimising the refitted reward (so the proxy "
                  "curve above mixes rewards from the first refit on). The unguarded outcome is another run: the "
                  "same seeds with `guard_action = \"stop\"` (identical up to the first firing).\n")
        cols = ["task", "noise", "arm", "budget", "seeds", "refits (seed@steps)", "final true return", "more items"]
        rows = [[e["task"], e["noise"] or "off", e["arm"], e["budget"], len(e["guard_refit"]["seeds"]),
                 "; ".join(f"{s}@" + ", ".join(f"{int(x):,}" for x in st)
                           for s, st in e["guard_refit"]["refits"].items() if st) or "never",
                 _stat(e["guard_refit"]["final_true_return"]).fmt(), _stat(e["guard_refit"]["items"]).fmt(1)]
                for e in refitting]
        md.append(_table(tables_dir / "guard-refit.csv", cols, rows))
        md.append("")
    return md


def _generalisation_section(a: Analysis, tables_dir: Path) -> list[str]:
    """"Generalisation to other layouts" (only when some cell was evaluated on ``grid.eval_tasks``):
    training-task against eval-task success and wrong-key-first rate per arm, and the arms compared."""
    if not a.generalisation:
        return []
    md = ["## Generalisation to other layouts\n",
          "Each cell's trained policy, after training on its task, evaluated on the eval task(s) the way its final "
          "evaluation was made (the same actions, deterministic or sampled, and layout seeds), scored by the eval task's true "
          "reward. Wrong key first: the share of episodes whose first key picked up is not the locked door's "
          "colour (on keys-distractor-test the distractor is always the nearer key). Means over seeds with 95% "
          "t-intervals. Below the table, the arm with the highest eval-task success at each budget against each "
          "other arm: Welch's t-test on eval-task success and on the wrong-key-first rate, Holm-corrected over "
          f"every pair of arms at every budget (per eval task and metric); a test needs ≥ {MIN_TEST_N} seeds a "
          "side.\n"]
    cols = ["task", "noise", "arm", "budget", "eval task", "seeds", "train success", "eval success",
            "train wrong key first", "eval wrong key first", "eval true return"]
    rows = [[e["task"], e["noise"] or ("—" if e["arm"] in REFERENCE_KINDS else "off"), e["arm"],
             "—" if e["budget"] is None else e["budget"], e["eval_task"], len(e["seeds"]),
             _stat(e["train_success"]).fmt(2), _stat(e["eval_success"]).fmt(2),
             _stat(e["train_wrong_key_first"]).fmt(2), _stat(e["eval_wrong_key_first"]).fmt(2),
             _stat(e["eval_true_return"]).fmt()] for e in a.generalisation]
    md.append(_table(tables_dir / "generalisation.csv", cols, rows))
    md.append("")
    for c in a.generalisation_comparisons:
        line = (f"- {c['task']} → {c['eval_task']} ({noise_name(c['noise'])}), budget {c['budget']}: highest "
                f"eval-task success **{c['winner']}** ({_fmt(c['winner_eval_success'], 2)}, wrong key first "
                f"{_fmt(c['winner_wrong_key_first'], 2)}, {c['winner_n']} seed(s))")
        if c["others"]:
            line += "; against " + "; ".join(
                f"{o['arm']}: success {o['difference']:+.2f}, {_sig(o)}; wrong key first "
                + ("—" if o["wrong_key_difference"] is None
                   else f"{o['wrong_key_difference']:+.2f}, "
                        + _sig({"p": o["wrong_key_p"], "p_holm": o["wrong_key_p_holm"],
                                "significant": o["wrong_key_significant"]}))
                for o in c["others"])
        else:
            line += " (the only arm with eval-task results)"
        md.append(line + ".")
    md.append("")
    return md
