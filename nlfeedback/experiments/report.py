"""The ablation report: result files → ``report.md``, ``report.json``, PNG plots and CSV tables.

Reads only ``RUN_DIR/ablation.json`` (optional: config, versions) and ``RUN_DIR/cells/*/result.json``; it
never reruns anything, so it can be rebuilt at any time, also on a sweep that is still running.

Definitions (every figure is over seeds; "mean [lo, hi]" is the mean with its 95% t-interval,
mean ± t₀.₉₇₅,ₙ₋₁ · s/√n; one seed gives the mean alone):

- an *arm* is a feedback kind as configured (``text:trained``, ``sketch``, …) at one noise level;
  ``oracle`` is PPO on the task's own reward, the reference every arm is measured against;
- *final true return*: ``final.true_return`` of a cell (the last evaluation of its agent);
- *feedback items* and *annotator-seconds*: ``feedback.items`` and ``feedback.annotator_seconds``;
- ``items_to_90pct_oracle`` / ``seconds_to_90pct_oracle``: over the arm's budgets in increasing order,
  the first whose mean final true return ≥ 0.9 × the oracle's mean final true return on the same task;
  reported as that budget's mean feedback items / annotator-seconds, or "not reached";
- *AUC*: the area under true return against environment steps over the evaluations, divided by the
  steps spanned (the mean true return during training);
- *proxy return*: the learned reward's return of the same evaluation episodes, in that reward's own scale
  (``curve[].proxy_return``); the oracle has no learned reward and is left out of every proxy figure;
- *significance*: Welch's t-test on final true return across seeds; p ≥ 0.05 is "not significant".
"""

from __future__ import annotations

import csv
import json
import math
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np

from nlfeedback.errors import NlfError

ALPHA = 0.05
ORACLE_FRACTION = 0.9


# --------------------------------------------------------------------------------------------- statistics


@dataclass(frozen=True)
class Stat:
    """Mean of ``n`` values with its 95% t-interval (``lo``/``hi`` are None for fewer than two values)."""

    n: int
    mean: float | None
    std: float | None = None
    lo: float | None = None
    hi: float | None = None

    @classmethod
    def of(cls, values: Iterable[float | None]) -> Stat:
        xs = np.array([v for v in values if v is not None and math.isfinite(v)], dtype=float)
        if len(xs) == 0:
            return cls(0, None)
        mean = float(xs.mean())
        if len(xs) < 2:
            return cls(1, mean)
        from scipy import stats

        std = float(xs.std(ddof=1))
        half = float(stats.t.ppf(1 - ALPHA / 2, len(xs) - 1)) * std / math.sqrt(len(xs))
        return cls(len(xs), mean, std, mean - half, mean + half)

    def fmt(self, digits: int = 3) -> str:
        if self.mean is None:
            return "—"
        if self.lo is None or self.hi is None:
            return f"{self.mean:.{digits}f}"
        return f"{self.mean:.{digits}f} [{self.lo:.{digits}f}, {self.hi:.{digits}f}]"

    def to_json(self) -> dict[str, Any]:
        return {"n": self.n, "mean": self.mean, "std": self.std, "ci95": [self.lo, self.hi]}


def welch_p(a: Sequence[float], b: Sequence[float]) -> float | None:
    """Two-sided Welch t-test p-value; ``None`` with fewer than two values a side or no variance at all."""
    if len(a) < 2 or len(b) < 2:
        return None
    from scipy import stats

    if np.std(a) == 0 and np.std(b) == 0:
        return None
    return float(stats.ttest_ind(a, b, equal_var=False).pvalue)


def _fmt(x: float | None, digits: int = 3) -> str:
    return "—" if x is None else f"{x:.{digits}f}"


def _fmt_amount(x: float | None) -> str:
    """Feedback items or seconds: no decimals when whole."""
    if x is None:
        return "—"
    return f"{x:,.0f}" if abs(x - round(x)) < 1e-9 or abs(x) >= 100 else f"{x:,.1f}"


def _sig(p: float | None) -> str:
    if p is None:
        return "not tested (needs ≥ 2 seeds a side with some variance)"
    return f"significant (p = {p:.3g})" if p < ALPHA else f"not significant (p = {p:.2g})"


# --------------------------------------------------------------------------------------------- loading


@dataclass
class CellRow:
    """What the report uses of one finished (``ok``) cell."""

    key: str
    task: str
    label: str
    kind: str
    budget: int | None
    noise: str
    seed: int
    final_return: float
    success_rate: float | None
    proxy_return: float | None
    violations: float | None
    episode_length: float | None
    items: float
    seconds: float
    gaming: bool
    curve: list[tuple[float, float]]  # (env steps, true return)
    proxy_curve: list[tuple[float, float]]  # (env steps, proxy return); empty when none was recorded
    auc: float | None
    interpretation: dict[str, Any] | None
    reward_metrics: dict[str, Any] | None
    versions: dict[str, str] = field(default_factory=dict)  # the packages the cell ran with


@dataclass
class RunResults:
    run_dir: Path
    meta: dict[str, Any] | None
    rows: list[CellRow]
    failed: list[dict[str, Any]]  # {"key", "error", "path"}
    problems: list[str]  # unreadable or malformed result files
    expected: int | None


def _auc(curve: list[tuple[float, float]]) -> float | None:
    if not curve:
        return None
    if len(curve) == 1:
        return curve[0][1]
    steps = np.array([s for s, _ in curve], dtype=float)
    ret = np.array([r for _, r in curve], dtype=float)
    span = steps[-1] - steps[0]
    if span <= 0:
        return float(ret.mean())
    return float(np.sum((ret[1:] + ret[:-1]) / 2 * np.diff(steps)) / span)


def _num(x: Any) -> float | None:
    return float(x) if isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x) else None


def _series(data: dict[str, Any], name: str) -> list[tuple[float, float]]:
    """(env steps, ``name``) of every evaluation row of a result's ``curve`` where both are numbers, by steps."""
    return sorted((float(r["steps"]), float(r[name])) for r in data.get("curve") or []
                  if isinstance(r, dict) and _num(r.get("steps")) is not None and _num(r.get(name)) is not None)


def _row(data: dict[str, Any]) -> CellRow:
    cell = data["cell"]
    final = data["final"]
    fb = data.get("feedback") or {}
    ret = _num(final.get("true_return"))
    if ret is None:
        raise ValueError("final.true_return is missing or not a number")
    curve = _series(data, "true_return")
    return CellRow(
        key=data["key"], task=cell["task"], label=cell.get("label") or cell["kind"], kind=cell["kind"],
        budget=cell.get("budget"), noise=cell.get("noise") or "", seed=int(cell["seed"]), final_return=ret,
        success_rate=_num(final.get("success_rate")), proxy_return=_num(final.get("proxy_return")),
        violations=_num(final.get("violations")), episode_length=_num(final.get("episode_length")),
        items=_num(fb.get("items")) or 0.0, seconds=_num(fb.get("annotator_seconds")) or 0.0,
        gaming=bool(data.get("gaming")), curve=curve, proxy_curve=_series(data, "proxy_return"), auc=_auc(curve),
        interpretation=data.get("interpretation") or None, reward_metrics=data.get("reward_metrics") or None,
        versions={str(k): str(v) for k, v in (data.get("versions") or {}).items()},
    )


def load_results(run_dir: str | Path) -> RunResults:
    """Every ``cells/*/result.json`` of a run folder (ok cells as rows, failed cells listed)."""
    run = Path(run_dir)
    if not run.is_dir():
        raise NlfError(f"{run}: no such run folder")
    meta = None
    if (run / "ablation.json").is_file():
        try:
            meta = json.loads((run / "ablation.json").read_text(encoding="utf-8"))
        except ValueError as e:
            raise NlfError(f"{run / 'ablation.json'}: not valid JSON ({e})") from None
    rows, failed, problems = [], [], []
    for path in sorted((run / "cells").glob("*/result.json")):
        rel = path.relative_to(run)
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as e:
            problems.append(f"{rel}: unreadable ({e})")
            continue
        status = data.get("status") if isinstance(data, dict) else None
        if status == "failed":
            failed.append({"key": data.get("key", path.parent.name), "error": str(data.get("error", "")),
                           "path": str(rel)})
        elif status == "ok":
            try:
                rows.append(_row(data))
            except (KeyError, TypeError, ValueError) as e:
                problems.append(f"{rel}: malformed result ({type(e).__name__}: {e})")
        else:
            problems.append(f"{rel}: unknown status {status!r}")
    if not rows and not failed and not problems:
        raise NlfError(f"{run}: no cell results under {run / 'cells'} (run `nlf ablate CONFIG --out {run}` first)")
    expected = meta.get("cells") if meta else None
    return RunResults(run, meta, rows, failed, problems, expected)


def version_mix(rows: Sequence[CellRow]) -> dict[str, dict[str, list[str]]]:
    """Packages whose version differs between cells: package → version → the arms (labels) that ran it.
    A grid whose cells ran with different versions compares more than its feedback kinds."""
    seen: dict[str, dict[str, list[str]]] = defaultdict(lambda: defaultdict(list))  # one label per cell
    for r in rows:
        for pkg, v in r.versions.items():
            seen[pkg][v].append(r.label)
    return {pkg: {f"{v} ({len(labels)} cells)": sorted(set(labels)) for v, labels in sorted(by_v.items())}
            for pkg, by_v in sorted(seen.items()) if len(by_v) > 1}


# --------------------------------------------------------------------------------------------- aggregation


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


def _noise_name(noise: str) -> str:
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
    summary: list[str]


def _arm_order(results: RunResults) -> list[str]:
    if results.meta:
        kinds = results.meta.get("config", {}).get("grid", {}).get("kinds")
        if isinstance(kinds, list):
            return [str(k) for k in kinds]
    return []


def analyse(results: RunResults) -> Analysis:
    groups: dict[tuple[str, str, str, int | None], Group] = {}
    oracle: dict[str, Group] = {}
    for r in results.rows:
        if r.kind == "oracle":
            oracle.setdefault(r.task, Group(r.task, "", "oracle", None)).rows.append(r)
            continue
        k = (r.task, r.noise, r.label, r.budget)
        groups.setdefault(k, Group(*k)).rows.append(r)
    order = _arm_order(results)
    rank = {label: i for i, label in enumerate(order)}
    sections = sorted({(t, n) for t, n, _, _ in groups}, key=lambda s: (s[0], s[1] != "", s[1]))
    arms = {s: sorted({lab for t, n, lab, _ in groups if (t, n) == s}, key=lambda x: (rank.get(x, 99), x))
            for s in sections}
    budgets = {s: sorted({b for t, n, _, b in groups if (t, n) == s and b is not None}) for s in sections}
    a = Analysis(groups, oracle, sections, arms, budgets, [], [], [])
    _sample_efficiency(a)
    _comparisons(a)
    a.summary = _summary(a, results)
    return a


def _sample_efficiency(a: Analysis) -> None:
    for task, noise in a.sections:
        ref = a.oracle.get(task)
        ref_mean = ref.mean("final_return") if ref else None
        threshold = ORACLE_FRACTION * ref_mean if ref_mean is not None and ref_mean > 0 else None
        status = "no oracle cells" if ref_mean is None else ("oracle did not learn" if threshold is None
                                                              else "not reached")
        for label in a.arms[(task, noise)]:
            entry: dict[str, Any] = {"task": task, "noise": noise, "arm": label, "oracle_mean": ref_mean,
                                     "threshold": threshold, "budget": None, "items_to_90pct_oracle": None,
                                     "seconds_to_90pct_oracle": None, "status": status}
            if threshold is not None:
                for b in a.budgets[(task, noise)]:
                    g = a.groups.get((task, noise, label, b))
                    if g is None or not g.rows:
                        continue
                    m = g.mean("final_return")
                    if m is not None and m >= threshold:
                        entry.update(budget=b, items_to_90pct_oracle=g.mean("items"),
                                     seconds_to_90pct_oracle=g.mean("seconds"), status="reached")
                        break
            a.sample_efficiency.append(entry)


def _comparisons(a: Analysis) -> None:
    """Per (task, noise, budget): the best arm by mean final true return against each other arm (Welch)."""
    for task, noise in a.sections:
        for b in a.budgets[(task, noise)]:
            gs = [a.groups[(task, noise, lab, b)] for lab in a.arms[(task, noise)] if (task, noise, lab, b) in a.groups]
            gs = [g for g in gs if g.rows]
            if not gs:
                continue
            gs.sort(key=lambda g: -(g.mean("final_return") or 0.0))
            best = gs[0]
            others = []
            for g in gs[1:]:
                p = welch_p(best.returns, g.returns)
                others.append({"arm": g.label, "mean": g.mean("final_return"),
                               "difference": best.mean("final_return") - g.mean("final_return"), "p": p,
                               "significant": p is not None and p < ALPHA})
            a.comparisons.append({"task": task, "noise": noise, "budget": b, "winner": best.label,
                                  "winner_mean": best.mean("final_return"), "winner_n": len(best.rows),
                                  "others": others})


def _summary(a: Analysis, results: RunResults) -> list[str]:
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
            head = (f"**{task}** ({_noise_name(noise)}), budget {top['budget']}: no kind came out ahead: "
                    f"{', '.join([top['winner']] + [o['arm'] for o in tied])} tied at a final true return of "
                    f"{_fmt(top['winner_mean'])}")
            if rest:
                head += "; ahead of " + ", ".join(f"{o['arm']} ({o['difference']:+.3f}, {_sig(o['p'])})" for o in rest)
        else:
            head = (f"**{task}** ({_noise_name(noise)}), budget {top['budget']}: **{top['winner']}** had the highest "
                    f"final true return, {win.stat('final_return').fmt()} over {len(win.rows)} seed(s)")
        if tied:
            pass
        elif top["others"]:
            ru = top["others"][0]
            head += (f", {ru['difference']:+.3f} ahead of the runner-up {ru['arm']} ({_fmt(ru['mean'])}), "
                     f"{_sig(ru['p'])}")
            ns = [o for o in top["others"][1:] if not o["significant"]]
            sig = [o for o in top["others"][1:] if o["significant"]]
            if sig:
                head += ("; significantly ahead of " + ", ".join(f"{o['arm']} ({o['difference']:+.3f}, p = "
                                                                 f"{o['p']:.2g})" for o in sig))
            if ns:
                head += ("; not significantly different from " + ", ".join(
                    f"{o['arm']} ({o['difference']:+.3f}" + (f", p = {o['p']:.2g})" if o["p"] is not None
                                                              else ", untested)") for o in ns))
        else:
            head += " (the only arm with results)"
        ref = a.oracle.get(task)
        ref_mean = ref.mean("final_return") if ref and ref.rows else None
        if ref_mean is not None and ref_mean > 0:
            head += (f". The oracle (PPO on the true reward) reached {ref.stat('final_return').fmt()}; the winner "
                     f"got {top['winner_mean'] / ref_mean:.0%} of it")
        elif ref_mean is not None:
            head += (f". The oracle (PPO on the true reward) reached only {_fmt(ref_mean)}: the runs were too short "
                     "to learn the task, so this comparison says little")
        lines.append(head + ".")
        for c in comps[:-1]:
            line = f"{task} ({_noise_name(noise)}), budget {c['budget']}: best {c['winner']} ({_fmt(c['winner_mean'])})"
            c_tied = [o["arm"] for o in c["others"] if abs(o["difference"]) < 1e-12]
            if c_tied:
                line = (f"{task} ({_noise_name(noise)}), budget {c['budget']}: {', '.join([c['winner']] + c_tied)} "
                        f"tied at {_fmt(c['winner_mean'])}")
            elif c["others"]:
                ru = c["others"][0]
                line += f", {ru['difference']:+.3f} over {ru['arm']}, {_sig(ru['p'])}"
            lines.append(line + ".")
        eff = [e for e in a.sample_efficiency if e["task"] == task and e["noise"] == noise]
        reached = sorted((e for e in eff if e["status"] == "reached"),
                         key=lambda e: (e["items_to_90pct_oracle"], e["seconds_to_90pct_oracle"]))
        if eff and eff[0]["status"] == "no oracle cells":
            lines.append(f"{task} ({_noise_name(noise)}): no oracle cells, so no 90%-of-oracle figures.")
        elif eff and eff[0]["status"] == "oracle did not learn":
            lines.append(f"{task} ({_noise_name(noise)}): the oracle's final true return is {_fmt(eff[0]['oracle_mean'])}, "
                         "so no 90%-of-oracle figures.")
        elif reached:
            best = reached[0]
            tied = [e for e in reached if abs(e["items_to_90pct_oracle"] - best["items_to_90pct_oracle"]) < 1e-9]
            rest = ", ".join(f"{e['arm']} ({_fmt_amount(e['items_to_90pct_oracle'])})" for e in reached[len(tied):])
            not_r = [e["arm"] for e in eff if e["status"] != "reached"]
            if len(tied) == 1:
                head = (f"**{best['arm']}**, {_fmt_amount(best['items_to_90pct_oracle'])} items "
                        f"({_fmt_amount(best['seconds_to_90pct_oracle'])} annotator-seconds)")
            else:  # several arms reach it at the same budget: the cheaper in annotator time comes first
                head = (f"{len(tied)} arms tied at {_fmt_amount(best['items_to_90pct_oracle'])} items; by "
                        "annotator-seconds " + ", ".join(
                            (f"**{e['arm']}**" if e is best else e["arm"]) + f" ({_fmt_amount(e['seconds_to_90pct_oracle'])})"
                            for e in tied))
            lines.append(f"{task} ({_noise_name(noise)}): fewest feedback items to 90% of the oracle's return: "
                         + head + (f"; then {rest}" if rest else "")
                         + (f"; not reached within the budgets: {', '.join(not_r)}" if not_r else "") + ".")
        elif eff:
            lines.append(f"{task} ({_noise_name(noise)}): no arm reached 90% of the oracle's final true return "
                         f"({_fmt(eff[0]['threshold'])}) within the budgets.")
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


# --------------------------------------------------------------------------------------------- plots


def _plt():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _grid_axes(plt, n: int, width: float = 5.2, height: float = 3.8):
    cols = min(n, 3)
    rows = math.ceil(n / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(width * cols, height * rows), squeeze=False)
    flat = list(axes.flat)
    for ax in flat[n:]:
        ax.set_visible(False)
    return fig, flat[:n]


def _oracle_band(ax, ref: Group | None) -> None:
    if not ref or not ref.rows:
        return
    s = ref.stat("final_return")
    ax.axhline(s.mean, color="black", ls="--", lw=1, label="oracle (true reward)")
    if s.lo is not None:
        ax.axhspan(s.lo, s.hi, color="black", alpha=0.08)


def _plot_vs(a: Analysis, attr: str, xlabel: str, path: Path) -> None:
    plt = _plt()
    fig, axes = _grid_axes(plt, max(1, len(a.sections)))
    for ax, (task, noise) in zip(axes, a.sections):
        xs_all = []
        for label in a.arms[(task, noise)]:
            pts = []
            for b in a.budgets[(task, noise)]:
                g = a.groups.get((task, noise, label, b))
                if g and g.rows:
                    pts.append((g.mean(attr), g.stat("final_return")))
            if not pts:
                continue
            xs = [p[0] for p in pts]
            ys = [p[1].mean for p in pts]
            err = [[(p[1].mean - p[1].lo) if p[1].lo is not None else 0 for p in pts],
                   [(p[1].hi - p[1].mean) if p[1].hi is not None else 0 for p in pts]]
            ax.errorbar(xs, ys, yerr=err, marker="o", capsize=3, label=label)
            xs_all += [x for x in xs if x and x > 0]
        _oracle_band(ax, a.oracle.get(task))
        if xs_all and max(xs_all) / min(xs_all) >= 5:
            from matplotlib.ticker import FixedLocator, NullFormatter, NullLocator, StrMethodFormatter

            ax.set_xscale("log")
            ax.xaxis.set_major_locator(FixedLocator(sorted({float(f"{x:.3g}") for x in xs_all})))
            ax.xaxis.set_major_formatter(StrMethodFormatter("{x:,.0f}"))
            ax.xaxis.set_minor_locator(NullLocator())
            ax.xaxis.set_minor_formatter(NullFormatter())
        ax.set_title(f"{task} ({_noise_name(noise)})")
        ax.set_xlabel(xlabel)
        ax.set_ylabel("final true return (mean, 95% CI)")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def _mean_curve(rows: list[CellRow],
                attr: str = "curve") -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray] | None:
    """Mean and 95% band over seeds of ``attr`` (``curve`` or ``proxy_curve``), seeds interpolated onto the union
    of their evaluation steps up to the shortest seed's last."""
    curves = [getattr(r, attr) for r in rows if getattr(r, attr)]
    if not curves:
        return None
    end = min(c[-1][0] for c in curves)
    grid = np.array(sorted({s for c in curves for s, _ in c if s <= end}), dtype=float)
    ys = np.array([np.interp(grid, [s for s, _ in c], [v for _, v in c]) for c in curves])
    stats = [Stat.of(ys[:, i]) for i in range(len(grid))]
    mean = np.array([s.mean for s in stats])
    lo = np.array([s.lo if s.lo is not None else s.mean for s in stats])
    hi = np.array([s.hi if s.hi is not None else s.mean for s in stats])
    return grid, mean, lo, hi


def _plot_curves(a: Analysis, path: Path) -> None:
    """True return against env steps: one panel per (task, noise, budget), one line per arm, oracle dashed."""
    panels = [(t, n, b) for t, n in a.sections for b in a.budgets[(t, n)]]
    plt = _plt()
    fig, axes = _grid_axes(plt, max(1, len(panels)))
    for ax, (task, noise, b) in zip(axes, panels):
        for label in a.arms[(task, noise)]:
            g = a.groups.get((task, noise, label, b))
            mc = _mean_curve(g.rows) if g else None
            if mc is None:
                continue
            x, m, lo, hi = mc
            (line,) = ax.plot(x, m, label=label)
            ax.fill_between(x, lo, hi, color=line.get_color(), alpha=0.15)
        ref = a.oracle.get(task)
        mc = _mean_curve(ref.rows) if ref else None
        if mc is not None:
            x, m, lo, hi = mc
            ax.plot(x, m, color="black", ls="--", label="oracle (true reward)")
            ax.fill_between(x, lo, hi, color="black", alpha=0.08)
        ax.set_title(f"{task} ({_noise_name(noise)}), budget {b}")
        ax.set_xlabel("environment steps")
        ax.set_ylabel("true return (mean, 95% CI)")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def _proxy_panels(a: Analysis) -> list[Group]:
    """The feedback-arm groups with a recorded proxy return, in report order (the oracle has none)."""
    return [g for t, n in a.sections for label in a.arms[(t, n)] for b in a.budgets[(t, n)]
            if (g := a.groups.get((t, n, label, b))) and any(r.proxy_curve for r in g.rows)]


def _plot_proxy_curves(a: Analysis, path: Path) -> None:
    """True and proxy return against env steps, one panel per (task, noise, arm, budget): true return on the
    left axis, the learned reward's return (its own scale) on the right."""
    from matplotlib.ticker import FuncFormatter

    panels = _proxy_panels(a)
    plt = _plt()
    fig, axes = _grid_axes(plt, max(1, len(panels)), width=5.6)
    true_c, proxy_c = "tab:blue", "tab:orange"
    for ax, g in zip(axes, panels):
        handles = []
        for axis, attr, color, ls, label, ylabel in (
                (ax, "curve", true_c, "-", "true return", "true return (mean, 95% CI)"),
                (ax.twinx(), "proxy_curve", proxy_c, "--", "proxy return", "proxy return (learned reward, own scale)")):
            mc = _mean_curve(g.rows, attr)
            if mc is not None:
                x, m, lo, hi = mc
                handles += axis.plot(x, m, color=color, ls=ls, label=label)
                axis.fill_between(x, lo, hi, color=color, alpha=0.15)
            axis.set_ylabel(ylabel, color=color)
            axis.tick_params(axis="y", colors=color)
        n_gaming = sum(r.gaming for r in g.rows)
        flag = f"; gaming flagged {n_gaming}/{len(g.rows)}" if n_gaming else ""
        ax.set_title(f"{g.task} ({_noise_name(g.noise)}), budget {g.budget}\n{g.label} ({len(g.rows)} seeds{flag})",
                     fontsize=10)
        ax.set_xlabel("environment steps")
        ax.xaxis.set_major_formatter(FuncFormatter(lambda x, _: f"{x / 1000:g}k" if x else "0"))
        ax.grid(alpha=0.3)
        ax.legend(handles=handles, fontsize=8, loc="upper left")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


# --------------------------------------------------------------------------------------------- tables


_TEXT_COLUMNS = {"task", "noise", "arm", "breakdown", "category", "cell", "error", "result file"}


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


def _interp_metric(interp: dict[str, Any] | None, *path: str) -> float | None:
    cur: Any = interp
    for p in path:
        if not isinstance(cur, dict):
            return None
        cur = cur.get(p)
    return _num(cur)


INTERP_METRICS = ("sign_error_rate", "attribution_f1", "negation_flip_failure")


@dataclass
class Report:
    path: Path
    json_path: Path
    plots: list[Path]
    tables: list[Path]
    headline: list[dict[str, Any]]  # one row per (task, noise, arm, budget) and per oracle
    summary: list[str]
    failed: list[dict[str, Any]]


def build_report(run_dir: str | Path, out_dir: str | Path | None = None) -> Report:
    """Write ``report.md``, ``report.json``, ``plots/*.png`` and ``tables/*.csv`` for a run folder."""
    results = load_results(run_dir)
    a = analyse(results)
    out = Path(out_dir) if out_dir is not None else results.run_dir
    (out / "plots").mkdir(parents=True, exist_ok=True)
    (out / "tables").mkdir(parents=True, exist_ok=True)

    plots = []
    if a.sections:
        for attr, xlabel, name in (("items", "feedback items", "return_vs_items.png"),
                                   ("seconds", "annotator-seconds", "return_vs_seconds.png")):
            _plot_vs(a, attr, xlabel, out / "plots" / name)
            plots.append(out / "plots" / name)
    if a.sections or a.oracle:
        if not a.sections:  # oracle only: one panel per task
            a_plot = Analysis(a.groups, a.oracle, [(t, "") for t in a.oracle], {(t, ""): [] for t in a.oracle},
                              {(t, ""): [0] for t in a.oracle}, [], [], [])
            _plot_curves(a_plot, out / "plots" / "learning_curves.png")
        else:
            _plot_curves(a, out / "plots" / "learning_curves.png")
        plots.append(out / "plots" / "learning_curves.png")
    if _proxy_panels(a):
        _plot_proxy_curves(a, out / "plots" / "curves_proxy.png")
        plots.append(out / "plots" / "curves_proxy.png")

    md: list[str] = []
    name = (results.meta or {}).get("config", {}).get("name") or results.run_dir.name
    md.append(f"# Ablation report: {name}\n")
    n_ok, n_failed = len(results.rows), len(results.failed)
    expected = f" of {results.expected}" if results.expected is not None else ""
    md.append(f"Run folder `{results.run_dir}`; generated {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC from "
              f"{n_ok + n_failed}{expected} cell result files ({n_ok} ok, {n_failed} failed). Means over seeds with "
              "95% t-intervals in brackets; differences tested with Welch's t-test (p ≥ 0.05: not significant).\n")
    if results.meta:
        cfg = results.meta.get("config") or {}
        grid, run = cfg.get("grid") or {}, cfg.get("run") or {}
        noise = ", ".join(n or "off" for n in grid.get("noise", [])) or "off"
        md.append(f"Config `{cfg.get('source', '?')}`: tasks {', '.join(grid.get('tasks', []))}; kinds "
                  f"{', '.join(grid.get('kinds', []))}; budgets {', '.join(map(str, grid.get('budgets', [])))}; "
                  f"noise {noise}; seeds {', '.join(map(str, grid.get('seeds', [])))}; "
                  + ", ".join(f"{k.replace('_', ' ')} {v:,}" for k, v in run.items()) + ".\n")

    md.append("## Summary\n")
    md += [f"- {line}" for line in a.summary] or ["- No finished cells with feedback arms yet."]
    mixed = version_mix(results.rows)
    if mixed:
        md.append(f"- Cells ran with different versions of {', '.join(mixed)} (see Versions): differences between "
                  "arms that ran with different versions are not only the feedback's.")
    md.append("")

    # headline table
    headline: list[dict[str, Any]] = []
    head_cols = ["task", "noise", "arm", "budget", "seeds", "feedback items", "annotator-s", "final true return",
                 "success rate", "AUC (steps)"]
    md.append("## Final true return\n")
    for p in plots:
        if p.name.startswith("return_vs_"):
            md.append(f"![{p.stem}](plots/{p.name})\n")
    md_rows = []
    for task, noise in a.sections:
        for label in a.arms[(task, noise)]:
            for b in a.budgets[(task, noise)]:
                g = a.groups.get((task, noise, label, b))
                if g and g.rows:
                    headline.append(g.to_json())
                    md_rows.append([task, noise or "off", label, b, len(g.rows), _fmt_amount(g.mean("items")),
                                    _fmt_amount(g.mean("seconds")), g.stat("final_return").fmt(),
                                    g.stat("success_rate").fmt(2), g.stat("auc").fmt()])
    for task, ref in sorted(a.oracle.items()):
        headline.append(ref.to_json())
        md_rows.append([task, "—", "oracle", "—", len(ref.rows), "0", "0", ref.stat("final_return").fmt(),
                        ref.stat("success_rate").fmt(2), ref.stat("auc").fmt()])
    md.append(_md_table(head_cols, md_rows))
    _write_csv(out / "tables" / "final_return.csv", head_cols, md_rows)
    md.append("")

    md.append("## Sample efficiency\n")
    md.append(f"Smallest budget whose mean final true return reaches {ORACLE_FRACTION:.0%} of the oracle's on the same "
              "task, given as that budget's mean feedback items and annotator-seconds.\n")
    se_cols = ["task", "noise", "arm", "threshold (0.9 × oracle)", "budget", "items_to_90pct_oracle",
               "seconds_to_90pct_oracle"]
    se_rows = []
    for e in a.sample_efficiency:
        reached = e["status"] == "reached"
        se_rows.append([e["task"], e["noise"] or "off", e["arm"], _fmt(e["threshold"]),
                        e["budget"] if reached else "—",
                        _fmt_amount(e["items_to_90pct_oracle"]) if reached else e["status"],
                        _fmt_amount(e["seconds_to_90pct_oracle"]) if reached else e["status"]])
    md.append(_md_table(se_cols, se_rows) if se_rows else "No feedback arms.")
    _write_csv(out / "tables" / "sample_efficiency.csv", se_cols, se_rows)
    md.append("")

    md.append("## Learning curves\n")
    if any(p.name == "learning_curves.png" for p in plots):
        md.append("![learning curves](plots/learning_curves.png)\n")
    md.append("True return of the deterministic evaluations against environment steps, mean over seeds with 95% "
              "bands; seeds are interpolated onto the union of their evaluation steps.\n")
    if any(p.name == "curves_proxy.png" for p in plots):
        md.append("![true and proxy return](plots/curves_proxy.png)\n")
        md.append("The same evaluations per feedback arm, true return (left axis) next to the proxy return, the "
                  "learned reward's return of those episodes in its own scale (right axis; the oracle has none), "
                  "measured with the reward model of that moment, so each round's refit changes the yardstick — "
                  "a jump at a refit is not gaming; proxy return rising while true return falls within a round is. "
                  "Each seed has its own learned reward: the band mixes their scales.\n")

    md += _misinterpretation_section(a, out)
    md += _behaviour_section(a, out)

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
    if versions or mixed:
        md.append("## Versions\n")
    if versions:
        md.append("The sweep's driver: " + ", ".join(f"{k} {v}" for k, v in versions.items()) + "\n")
    if mixed:
        md.append("**Cells ran with different package versions** (each result file records its own):\n")
        md += [f"- {pkg}: " + "; ".join(f"{v}: {', '.join(arms)}" for v, arms in by_v.items())
               for pkg, by_v in mixed.items()]
        md.append("")

    report_path = out / "report.md"
    report_path.write_text("\n".join(md).rstrip() + "\n", encoding="utf-8")
    json_path = out / "report.json"
    doc = {"schema": "nlf.report/1", "run_dir": str(results.run_dir), "config": (results.meta or {}).get("config"),
           "cells": {"expected": results.expected, "ok": n_ok, "failed": n_failed},
           "final": headline, "sample_efficiency": a.sample_efficiency, "comparisons": a.comparisons,
           "summary": a.summary, "failed": results.failed, "problems": results.problems, "mixed_versions": mixed}
    json_path.write_text(json.dumps(doc, indent=1, allow_nan=False) + "\n", encoding="utf-8")
    return Report(report_path, json_path, plots, sorted((out / "tables").glob("*.csv")), headline, a.summary,
                  results.failed)


def _misinterpretation_section(a: Analysis, out: Path) -> list[str]:
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
                                v = _num(metrics.get(m))
                                if v is not None:
                                    by.setdefault((task, noise, label, section), {}).setdefault(cat, {}).setdefault(
                                        m, []).append(v)
    cols = ["task", "noise", "arm", "budget", "seeds", *INTERP_METRICS]
    md.append("### Interpretation (text arms)\n")
    md.append("How the interpreter read the critics' remarks, scored against the critics' recorded intent "
              "(DESIGN.md: sign error counts abstentions; attribution F1 over intended steps; negation-flip failure "
              "on paired probes).\n")
    md.append(_md_table(cols, rows) if rows else "No text arms with interpretation metrics.")
    _write_csv(out / "tables" / "interpretation.csv", cols, rows)
    md.append("")
    cat_rows = []
    for (task, noise, label, section), cats in sorted(by.items()):
        for cat, metrics in sorted(cats.items()):
            cat_rows.append([task, noise or "off", label, section.removeprefix("by_"), cat] + [
                Stat.of(metrics.get(m, [])).fmt() for m in INTERP_METRICS])
    if cat_rows:
        md.append("By category (and split where recorded), pooled over budgets and seeds:\n")
        ccols = ["task", "noise", "arm", "breakdown", "category", *INTERP_METRICS]
        md.append(_md_table(ccols, cat_rows))
        _write_csv(out / "tables" / "interpretation_by_category.csv", ccols, cat_rows)
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
                             + [Stat.of(_num((r.reward_metrics or {}).get(m)) for r in g.rows).fmt()
                                for m in ("reward_spearman", "epic_distance")]
                             + [Stat.of(_num(((r.reward_metrics or {}).get("event_sign_agreement") or {}).get(e))
                                        for r in g.rows).fmt(2) for e in events])
    rcols = ["task", "noise", "arm", "budget", "seeds", "reward_spearman", "epic_distance",
             *[f"sign agreement: {e}" for e in events]]
    md.append("### Reward metrics\n")
    md.append("The learned reward against the task's ground truth on held-out trajectories (EPIC distance: 0 = the "
              "same reward up to shaping and scale, 1 = unrelated; — where a run did not record it or it is "
              "undefined).\n")
    md.append(_md_table(rcols, rrows) if rrows else "No reward metrics recorded.")
    _write_csv(out / "tables" / "reward_metrics.csv", rcols, rrows)
    md.append("")
    return md


def _behaviour_section(a: Analysis, out: Path) -> list[str]:
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
    for task, ref in sorted(a.oracle.items()):
        rows.append([task, "—", "oracle", "—", len(ref.rows), f"{sum(r.gaming for r in ref.rows)}/{len(ref.rows)}",
                     ref.stat("violations").fmt(2), "—", ref.stat("final_return").fmt()])
    md.append(_md_table(cols, rows) if rows else "No finished cells.")
    _write_csv(out / "tables" / "behaviour.csv", cols, rows)
    md.append("")
    return md
