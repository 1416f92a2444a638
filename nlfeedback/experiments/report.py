"""The ablation report: result files → ``report.md``, ``report.json``, PNG plots and CSV tables.

:func:`build_report` runs the parts in order: :mod:`~nlfeedback.experiments.results` (loading),
:mod:`~nlfeedback.experiments.analysis` (the numbers, over :mod:`~nlfeedback.experiments.stats`),
:mod:`~nlfeedback.experiments.plots` and :mod:`~nlfeedback.experiments.markdown` (prose and tables).

Reads only ``RUN_DIR/ablation.json`` (optional: config, versions) and ``RUN_DIR/cells/*/result.json``; it
never reruns anything, so it can be rebuilt at any time, also on a sweep that is still running.

Definitions (every figure is over seeds; "mean [lo, hi]" is the mean with its 95% t-interval,
mean ± t₀.₉₇₅,ₙ₋₁ · s/√n; one seed gives the mean alone):

- an *arm* is a feedback kind as configured (``text:trained``, ``sketch``, …) at one noise level;
  ``oracle`` is PPO on the task's own reward, the reference every arm is measured against;
- *final true return*: ``final.true_return`` of a cell (the last evaluation of its agent);
- *feedback items* and *annotator-seconds*: ``feedback.items`` and ``feedback.annotator_seconds``;
- ``items_to_90pct_oracle`` / ``seconds_to_90pct_oracle`` (and ``…_expert`` against the BFS expert): over
  the arm's budgets in increasing order, the first from which the mean final true return (over the seeds
  that finished every budget) is ≥ 0.9 × the reference at every larger budget; reported as that budget's
  mean feedback items / annotator-seconds, or "not reached" (``analysis._sample_efficiency``);
- *AUC*: the area under true return against environment steps over the evaluations, divided by the
  steps spanned (the mean true return during training);
- *proxy return*: the learned reward's return of the same evaluation episodes, in that reward's own scale
  (``curve[].proxy_return``); the oracle has no learned reward and is left out of every proxy figure;
- *significance*: Welch's t-test (the summary's best arm against each other) or the paired t-test (each arm
  against the reference arm) on final true return across seeds, ≥ 3 seeds a side, Holm-corrected per task
  and noise setting; Holm p ≥ 0.05 is "not significant".
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from nlfeedback.experiments.analysis import analyse, headline
from nlfeedback.experiments.markdown import markdown_report, summary_lines
from nlfeedback.experiments.plots import write_plots
from nlfeedback.experiments.results import load_results, version_mix


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
    summary = summary_lines(a, results)
    mixed = version_mix(results.rows)
    out = Path(out_dir) if out_dir is not None else results.run_dir
    (out / "plots").mkdir(parents=True, exist_ok=True)
    (out / "tables").mkdir(parents=True, exist_ok=True)
    plots = write_plots(a, out / "plots")
    report_path = out / "report.md"
    report_path.write_text(markdown_report(results, a, summary, mixed, plots, out / "tables"), encoding="utf-8")
    final = headline(a)
    json_path = out / "report.json"
    doc = {"schema": "nlf.report/1", "run_dir": str(results.run_dir), "config": (results.meta or {}).get("config"),
           "cells": {"expected": results.expected, "ok": len(results.rows), "failed": len(results.failed)},
           "final": final, "sample_efficiency": a.sample_efficiency, "comparisons": a.comparisons, "paired": a.paired, "break_even": a.break_even,
           "generalisation": a.generalisation, "generalisation_comparisons": a.generalisation_comparisons,
           "optimisation": a.optimisation,
           "summary": summary, "failed": results.failed, "problems": results.problems, "mixed_versions": mixed}
    json_path.write_text(json.dumps(doc, indent=1, allow_nan=False) + "\n", encoding="utf-8")
    return Report(report_path, json_path, plots, sorted((out / "tables").glob("*.csv")), final, summary,
                  results.failed)
