"""Sweep throughput: ``--workers 2`` against ``--workers 1``, and the Ray backend against the local one.

One small grid of real cells (the online loop on doorkey-5x5; by default the oracle kind — PPO on the
task's reward, cells of equal cost — over four seeds) is run into fresh folders: local with one worker, local with two, and Ray on a
throw-away local cluster (``ray start --head``, started before and stopped after its timing). Wall time
includes process start-up and imports, as a user would see it. Targets (issue 6): workers=2 ≤ 0.6 ×
workers=1; Ray ≤ 1.15 × local at the same parallelism.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path
from typing import Any

from nlfeedback.bench.rollout import machine_description
from nlfeedback.errors import NlfError
from nlfeedback.experiments.config import parse_config
from nlfeedback.experiments.runner import run_ablation


def bench_config_text(steps: int, seeds: int, budget: int, kinds: list[str]) -> str:
    kinds_toml = ", ".join(f'"{k}"' for k in kinds)
    return (f'name = "bench"\n[grid]\ntasks = ["doorkey-5x5"]\nkinds = [{kinds_toml}]\nbudgets = [{budget}]\n'
            f"seeds = {seeds}\n[run]\nsteps = {steps}\nrounds = 1\neval_every = {steps}\neval_episodes = 5\n")


def _timed(config, out: Path, **kw: Any) -> float:
    t0 = time.perf_counter()
    summary = run_ablation(config, out, **kw)
    elapsed = time.perf_counter() - t0
    if summary.failed:
        key, err = next(iter(summary.failed_cells.items()))
        raise NlfError(f"benchmark cell {key} failed: {err}")
    return elapsed


def bench_ablate(steps: int = 65_536, seeds: int = 4, budget: int = 20, kinds: tuple[str, ...] = ("oracle",),
                 ray: bool = True) -> dict[str, Any]:
    text = bench_config_text(steps, seeds, budget, list(kinds))
    config = parse_config(text, "bench.toml")
    n = len(config.cells())
    with tempfile.TemporaryDirectory(prefix="nlf-bench-ablate-") as tmp:
        root = Path(tmp)
        one = _timed(config, root / "w1", workers=1)
        two = _timed(config, root / "w2", workers=2)
        result: dict[str, Any] = {
            "benchmark": "ablate", "cells": n, "grid": f"doorkey-5x5 × {', '.join(kinds)}"
            + ("" if kinds == ("oracle",) else f" × budget {budget}") + f" × {seeds} seeds, {steps:,} PPO steps", "workers1_s": round(one, 1), "workers2_s": round(two, 1),
            "ratio_2_vs_1": round(two / one, 3), "target_ratio_2_vs_1": 0.6,
        }
        if ray:
            from nlfeedback.experiments.ray_local import local_ray_cluster

            t0 = time.perf_counter()
            with local_ray_cluster(num_cpus=2) as address:
                started = time.perf_counter() - t0
                ray_s = _timed(config, root / "ray", backend="ray", ray_address=address, workers=2)
            result.update(ray_cluster_start_s=round(started, 1), ray_s=round(ray_s, 1),
                          ray_overhead=round(ray_s / two - 1, 3), target_ray_overhead=0.15)
        result["machine"] = machine_description()
    return result
