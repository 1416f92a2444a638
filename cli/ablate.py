"""``nlf ablate``: run an ablation grid (one online-loop run per cell) on a local process pool or on Ray."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from cli.common import cli_errors, console, err_console, esc
from nlfeedback.errors import NlfError


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return "?"
    seconds = int(round(seconds))
    h, rest = divmod(seconds, 3600)
    m, s = divmod(rest, 60)
    return f"{h}h{m:02d}m" if h else (f"{m}m{s:02d}s" if m else f"{s}s")


class SweepDisplay:
    """Progress of a sweep: a rich bar on a terminal, one line per finished cell otherwise."""

    def __init__(self) -> None:
        self.live = sys.stderr.isatty()
        self.bar = Progress(TextColumn("cells"), BarColumn(), MofNCompleteColumn(), TextColumn("{task.fields[info]}"),
                            TimeElapsedColumn(), TextColumn("eta {task.fields[eta]}"), console=err_console,
                            transient=True, disable=not self.live)
        self.task = None

    def __enter__(self) -> SweepDisplay:
        self.bar.__enter__()
        return self

    def __exit__(self, *exc) -> None:
        self.bar.__exit__(*exc)

    def notice(self, message: str) -> None:
        (self.bar.console if self.live else err_console).print(message, highlight=False, soft_wrap=True, markup=False)

    def __call__(self, p) -> None:
        info = f"{p.failed} failed" + (f", {p.skipped} already done" if p.skipped else "")
        eta = _duration(p.eta_s)
        if self.task is None:
            self.task = self.bar.add_task("cells", total=p.total, info=info, eta=eta)
            if not self.live:
                err_console.print(f"{p.total} cells, {p.skipped} already done, {p.total - p.done} to run", markup=False)
        self.bar.update(self.task, completed=p.done, info=info, eta=eta)
        if p.last is not None:
            status = p.last["status"]
            line = (f"[{p.done:>{len(str(p.total))}}/{p.total}] {status:<6} {p.last['key']}  "
                    + (f"{p.last['wall_s']:.1f}s" if p.last.get("wall_s") is not None else "—")
                    + f"  ({p.failed} failed, eta {eta})")
            if status != "ok":
                line += f"\n    {str(p.last.get('error') or '').splitlines()[0][:300] if p.last.get('error') else ''}"
            if self.live:
                self.bar.console.print(line, highlight=False, soft_wrap=True, markup=False)
            else:
                err_console.print(line, highlight=False, soft_wrap=True, markup=False)


@cli_errors
def ablate_command(
    config: Annotated[str, typer.Argument(help="Ablation config: a TOML file, or a bundled config's name (quick, "
                                          "default, acceptance).")],
    out: Annotated[Path, typer.Option("--out", "-o", help="Run folder (cells/<key>/result.json, ablation.json); "
                                      "rerun with the same folder to resume.")],
    workers: Annotated[int | None, typer.Option(min=1, help="Parallel cells: processes of the local pool (default "
                                                "1); for Ray, the most cells in flight (default: as the cluster "
                                                "schedules).")] = None,
    backend: Annotated[str, typer.Option(help="local (process pool) | ray (an existing Ray cluster).")] = "local",
    ray_address: Annotated[str | None, typer.Option(help="Ray cluster address (default 'auto': the cluster "
                                                    "started here with `ray start --head`).")] = None,
    only: Annotated[list[str] | None, typer.Option("--only", help="Run part of the grid: FIELD=V1,V2 with FIELD "
                                                   "task, kind, budget, noise (off for none) or seed; repeatable, "
                                                   "e.g. --only seed=0,1 --only budget=150 (oracle and judgement cells ignore "
                                                   "budget and noise). Rerun without it to complete the grid.")] = None,
    rerun_stale: Annotated[bool, typer.Option("--rerun-stale", help="Rerun finished text cells whose remarks another "
                                              "checkpoint of the trained reader read (their folders are kept under "
                                              "RUN_DIR/stale/<digest>/); without it the sweep refuses to mix readers.")] = False,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="List the cells and their status; run nothing.")] = False,
    json_out: Annotated[bool, typer.Option("--json", help="Print the sweep's counts as JSON.")] = False,
) -> None:
    """Run every cell (task × kind × interpreter × budget × noise × seed) of an ablation config.

    Each cell runs the online feedback loop and writes RUN_DIR/cells/<key>/result.json; finished cells
    are skipped when the same folder is used again, failed ones are retried. Build the report with
    `nlf report RUN_DIR`. Ctrl-C stops starting cells and waits for the running ones (their results are
    kept); a second Ctrl-C or SIGTERM stops them at once (they rerun on resume).

    Example: nlf ablate quick --out runs/quick --workers 2
    """
    from nlfeedback.experiments.config import find_config, load_config, parse_selection
    from nlfeedback.experiments.runner import ReaderCheck, read_result, run_ablation

    path = find_config(config)
    cfg = load_config(path)
    selection = parse_selection(cfg, only) if only else None
    if dry_run:
        cells = cfg.cells(selection)
        table = Table(title=esc(f"{config} · {len(cells)} cells" + (f" ({selection.describe()})" if selection else "")),
                      title_justify="left")
        for col in ("cell", "status"):
            table.add_column(col)
        readers = ReaderCheck()
        for cell in cells:
            stored = read_result(out / "cells" / cell.key / "result.json")
            status = stored.get("status", "?") if stored else "to run"
            if stored and status == "ok" and (reader := readers.stale(stored)) is not None:
                status = f"stale (reader {reader})"
            table.add_row(esc(cell.key), esc(status))
        console.print(table)
        return
    with SweepDisplay() as display:
        summary = run_ablation(cfg, out, workers=workers, backend=backend, ray_address=ray_address,
                               progress=display, config_text=path.read_text(encoding="utf-8"), only=selection,
                               notice=display.notice, rerun_stale=rerun_stale)
    if json_out:
        console.print_json(json.dumps(summary.to_json()))
    else:
        console.print(f"{summary.total} cells: {summary.ok} ok, {summary.failed} failed ({summary.skipped} were "
                      f"already done, {summary.ran} ran now, {_duration(summary.elapsed_s)}); results in "
                      f"{out / 'cells'}", soft_wrap=True, markup=False)
        console.print(f"next: nlf report {out}", markup=False)
    if summary.failed:
        keys = list(summary.failed_cells)
        raise NlfError(f"{summary.failed} of {summary.total} cells failed (e.g. {keys[0]}: "
                       f"{summary.failed_cells[keys[0]].splitlines()[0]}); tracebacks are in their result.json; "
                       f"rerun the same command to retry them; `nlf report {out}` works on the rest")
