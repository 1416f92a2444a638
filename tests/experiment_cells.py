"""Cheap stand-ins for the online loop, injected into the ablation runner by tests/test_experiments.py.

They live in their own module (not the test file) so that spawned pool workers and Ray workers can import
them by name without importing pytest fixtures. Each returns a summary shaped like ``run_online``'s.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

BASE = {"oracle": 0.95, "text": 0.6, "sketch": 0.5, "scalar": 0.3, "preference": 0.4}


def fake_summary(cell, run) -> dict[str, Any]:
    """Deterministic numbers from the cell: more budget → higher return; seeds wobble by ±0.02."""
    base = BASE[cell.kind]
    budget = cell.budget or 0
    final_return = min(1.0, base + 0.001 * budget) + 0.02 * (cell.seed % 3 - 1)
    items = 0 if cell.kind == "oracle" else budget
    seconds = items * {"text": 6.0, "sketch": 10.0, "scalar": 3.0, "preference": 4.0}.get(cell.kind, 0.0)
    curve = []
    for i in range(1, 4):
        curve.append({"steps": run.steps * i // 3, "feedback_items": items * i // 3,
                      "annotator_seconds": seconds * i / 3, "true_return": final_return * i / 3,
                      "success_rate": min(1.0, final_return * i / 3 + 0.05), "proxy_return": 1.0 * i,
                      "violations": 0.5 / i, "episode_length": 20.0, "gaming": False})
    text = cell.kind == "text"
    return {
        "config": {"task": cell.task, "kind": cell.kind, "seed": cell.seed, "budget": cell.budget},
        "seed": cell.seed, "versions": {"fake": "1"}, "curve": curve, "final": curve[-1],
        "feedback": {"items": items, "annotator_seconds": seconds},
        "interpretation": {"overall": {"sign_error_rate": 0.1, "attribution_f1": 0.9, "negation_flip_failure": 0.2},
                           "by_category": {"negation": {"sign_error_rate": 0.3, "attribution_f1": 0.8,
                                                        "negation_flip_failure": 0.4}}} if text else None,
        "reward_metrics": None if cell.kind == "oracle" else
        {"reward_spearman": 0.5, "event_sign_agreement": {"lava": 1.0, "goal": 0.5}},
        "gaming": False, "elapsed_s": 0.01,
    }


def fake_cell(cell, run, out_dir: Path) -> dict[str, Any]:
    """Writes one marker file per call (so tests can count runs) and returns :func:`fake_summary`."""
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir.parent / f"ran-{time.time_ns()}").write_text(str(os.getpid()))
    return fake_summary(cell, run)


def flaky_cell(cell, run, out_dir: Path) -> dict[str, Any]:
    """Like :func:`fake_cell`, but every scalar cell with seed 1 raises."""
    if cell.kind == "scalar" and cell.seed == 1:
        raise RuntimeError(f"injected failure in {cell.key}")
    return fake_cell(cell, run, out_dir)


def dying_cell(cell, run, out_dir: Path) -> dict[str, Any]:
    """Kills its own worker process for the sketch cell with seed 0 (as an out-of-memory kill would)."""
    if cell.kind == "sketch" and cell.seed == 0:
        os._exit(17)
    return fake_cell(cell, run, out_dir)


def timed_cell(cell, run, out_dir: Path) -> dict[str, Any]:
    """Sleeps 0.6 s and records the worker's pid, wall-clock interval and torch thread count."""
    import torch

    t0 = time.time()
    time.sleep(0.6)
    summary = fake_cell(cell, run, out_dir)
    summary["probe"] = {"pid": os.getpid(), "t0": t0, "t1": time.time(), "torch_threads": torch.get_num_threads()}
    return summary


def _curve_cell(cell, run, out_dir: Path, rows: int, every_s: float) -> dict[str, Any]:
    """Appends a curve row every ``every_s`` seconds to ``out_dir/curve.jsonl`` by path, as the online loop's
    evaluation callback does (steps 2048, 4096, …), after leaving a ``pid-<pid>`` marker in the cell folder."""
    import json

    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir.parent / f"pid-{os.getpid()}").write_text(cell.key)
    for i in range(1, rows + 1):
        time.sleep(every_s)
        with open(out_dir / "curve.jsonl", "a", encoding="utf-8") as fh:
            fh.write(json.dumps({"steps": 2048 * i}) + "\n")
    return fake_summary(cell, run)


def slow_curve_cell(cell, run, out_dir: Path) -> dict[str, Any]:
    """Runs for about 8 seconds (40 rows): long enough to be stopped from outside."""
    return _curve_cell(cell, run, out_dir, 40, 0.2)


def short_curve_cell(cell, run, out_dir: Path) -> dict[str, Any]:
    """Runs for about 2 seconds (3 rows, then a pause), so a test can interrupt its driver while it runs."""
    summary = _curve_cell(cell, run, out_dir, 3, 0.1)
    time.sleep(1.5)
    return summary


def quick_curve_cell(cell, run, out_dir: Path) -> dict[str, Any]:
    """Three rows at once."""
    return _curve_cell(cell, run, out_dir, 3, 0.0)
