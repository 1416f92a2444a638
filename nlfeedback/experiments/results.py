"""The stored results of an ablation run: ``RUN_DIR/ablation.json`` (optional) and ``RUN_DIR/cells/*/result.json``.

:func:`load_results` reads them into :class:`CellRow` records (one per finished cell) and lists failed cells and
unreadable files; nothing is rerun.
"""

from __future__ import annotations

import json
import math
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from nlfeedback.errors import NlfError
from nlfeedback.experiments.guard import ACTIONS as GUARD_ACTIONS


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
    wrong_key_first: float | None = None  # final evaluation on the training task; None in older result files
    # grid.eval_tasks: eval task → {"success_rate", "true_return", "wrong_key_first", "proxy_return", …} of the
    # trained policy on that task (empty when the cell had none, as in older result files)
    eval_tasks: dict[str, dict[str, float | None]] = field(default_factory=dict)
    # run.guard_every: the disagreement guard's record (nlfeedback.experiments.guard.GuardRecord.to_json);
    # None when the cell ran without it
    guard: dict[str, Any] | None = None
    # the BFS expert on the final evaluation's layouts: {"true_return", "proxy_return"} under the cell's final
    # reward (nlfeedback.agents.evaluation.expert_reference); None for the oracle and in older result files
    expert: dict[str, float] | None = None


@dataclass
class RunResults:
    run_dir: Path
    meta: dict[str, Any] | None
    rows: list[CellRow]
    failed: list[dict[str, Any]]  # {"key", "error", "path"}
    problems: list[str]  # unreadable or malformed result files
    expected: int | None

    @property
    def run_settings(self) -> dict[str, Any]:
        """The run's ``[run]`` settings as its config recorded them (empty without a recorded config)."""
        return ((self.meta or {}).get("config") or {}).get("run") or {}


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


def num(x: Any) -> float | None:
    """``x`` as a float when it is a finite number (not a bool), else None."""
    return float(x) if isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x) else None


def _series(data: dict[str, Any], name: str) -> list[tuple[float, float]]:
    """(env steps, ``name``) of every evaluation row of a result's ``curve`` where both are numbers, by steps."""
    return sorted((float(r["steps"]), float(r[name])) for r in data.get("curve") or []
                  if isinstance(r, dict) and num(r.get("steps")) is not None and num(r.get(name)) is not None)


def _row(data: dict[str, Any]) -> CellRow:
    cell = data["cell"]
    final = data["final"]
    fb = data.get("feedback") or {}
    ret = num(final.get("true_return"))
    if ret is None:
        raise ValueError("final.true_return is missing or not a number")
    curve = _series(data, "true_return")
    return CellRow(
        key=data["key"], task=cell["task"], label=cell.get("label") or cell["kind"], kind=cell["kind"],
        budget=cell.get("budget"), noise=cell.get("noise") or "", seed=int(cell["seed"]), final_return=ret,
        success_rate=num(final.get("success_rate")), proxy_return=num(final.get("proxy_return")),
        violations=num(final.get("violations")), episode_length=num(final.get("episode_length")),
        items=num(fb.get("items")) or 0.0, seconds=num(fb.get("annotator_seconds")) or 0.0,
        gaming=bool(data.get("gaming")), curve=curve, proxy_curve=_series(data, "proxy_return"), auc=_auc(curve),
        interpretation=data.get("interpretation") or None, reward_metrics=data.get("reward_metrics") or None,
        versions=_versions(data),
        wrong_key_first=num(final.get("wrong_key_first")), eval_tasks=_eval_tasks(data.get("eval_tasks")),
        guard=_guard(data.get("guard")), expert=_expert(data.get("expert")),
    )


READER = "trained reader"  # the versions entry naming the trained reader's checkpoint digest a text cell read with


def _versions(data: dict[str, Any]) -> dict[str, str]:
    """The packages a cell ran with, and for text read by the trained reader its checkpoint's digest (so a
    grid whose text cells were read by different checkpoints shows in :func:`version_mix`)."""
    versions = {str(k): str(v) for k, v in (data.get("versions") or {}).items()}
    reader = data.get("interpreter") or {}
    if isinstance(reader, dict) and reader.get("name") == "trained" and reader.get("sha256"):
        versions[READER] = str(reader["sha256"])
    return versions


def _expert(raw: Any) -> dict[str, float] | None:
    """A result's ``expert`` reference when both returns are numbers; else None."""
    if not isinstance(raw, dict):
        return None
    true, proxy = num(raw.get("true_return")), num(raw.get("proxy_return"))
    return None if true is None or proxy is None else {"true_return": true, "proxy_return": proxy}


def _guard(raw: Any) -> dict[str, Any] | None:
    """A result's ``guard`` record with the fields the report reads checked; None when absent or malformed."""
    if not isinstance(raw, dict) or not isinstance(raw.get("checks"), list):
        return None
    fired = raw.get("fired_at")
    kept = raw.get("kept") if isinstance(raw.get("kept"), dict) else None
    if fired is not None and (num(fired) is None or kept is None or num(kept.get("true_return")) is None):
        return None
    action = raw.get("action", "stop")
    refits = raw.get("refits") or []
    if action not in GUARD_ACTIONS or not isinstance(refits, list) or any(num(x) is None for x in refits):
        return None
    return {"action": action, "refits": [int(x) for x in refits],
            "fired_at": None if fired is None else int(fired), "kept_steps": num(raw.get("kept_steps")),
            "kept_true_return": None if kept is None else num(kept.get("true_return")),
            "checks": len(raw["checks"]), "items": num(raw.get("items")) or 0.0,
            "seconds": num(raw.get("seconds")) or 0.0}


def _eval_tasks(raw: Any) -> dict[str, dict[str, float | None]]:
    """A result's ``eval_tasks`` (task → evaluation) with every number checked; ``{}`` when absent."""
    if not isinstance(raw, dict):
        return {}
    return {str(t): {str(k): num(v) for k, v in ev.items()} for t, ev in raw.items() if isinstance(ev, dict)}


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

