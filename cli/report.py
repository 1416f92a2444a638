"""``nlf report``: an ablation run folder → report.md, report.json, PNG plots and CSV tables."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from cli.common import cli_errors, console, esc


@cli_errors
def report_command(
    run_dir: Annotated[Path, typer.Argument(help="Run folder written by `nlf ablate`.")],
    out: Annotated[Path | None, typer.Option("--out", "-o", help="Where to write the report (default: RUN_DIR).")] = None,
    json_out: Annotated[bool, typer.Option("--json", help="Print report.json's summary and headline rows.")] = False,
) -> None:
    """Build the ablation report from the stored result files only (nothing is rerun).

    Writes report.md (summary, tables, misinterpretation, failed cells), report.json, plots/*.png (final
    true return against feedback items and annotator-seconds, learning curves) and tables/*.csv.

    Example: nlf report runs/quick
    """
    from nlfeedback.experiments.report import build_report

    report = build_report(run_dir, out)
    if json_out:
        console.print_json(json.dumps({"report": str(report.path), "summary": report.summary,
                                       "final": report.headline, "failed": report.failed}))
        return
    print_report(report)


def print_report(report) -> None:
    """The headline table, the automatic summary and where the report is."""
    from nlfeedback.experiments.config import REFERENCE_KINDS

    table = Table(title="final true return (mean [95% CI] over seeds)", title_justify="left")
    for col in ("task", "noise", "arm", "budget", "seeds", "items", "final true return"):
        table.add_column(col, justify="left" if col in ("task", "noise", "arm") else "right")
    for row in report.headline:
        r = row["final_true_return"]
        lo, hi = r["ci95"]
        value = f"{r['mean']:.3f}" + (f" [{lo:.3f}, {hi:.3f}]" if lo is not None else "")
        items = row["feedback_items"]["mean"]
        table.add_row(esc(row["task"]), esc(row["noise"] or ("—" if row["arm"] in REFERENCE_KINDS else "off")), esc(row["arm"]),
                      "—" if row["budget"] is None else str(row["budget"]), str(r["n"]),
                      f"{items:,.0f}" if items is not None else "—", value)
    console.print(table)
    for line in report.summary:
        console.print(f"- {line.replace('**', '')}", soft_wrap=True, markup=False)
    console.print(f"report: {report.path} ({len(report.plots)} plots in {report.path.parent / 'plots'})", markup=False)
