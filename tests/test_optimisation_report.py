"""The report's "Optimisation pressure" section (issue 23): built from hand-written result files of a run whose
reward was fitted once (``run.rounds = 1``), each seed's divergence point and best vs final true return."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from nlfeedback.experiments.config import Cell, RunSettings, parse_config
from nlfeedback.experiments.report import build_report
from nlfeedback.experiments.runner import RESULT_SCHEMA

STEPS = [10_000 * (i + 1) for i in range(10)]
# true return climbs, holds at 0.9 to 50k and then falls while the proxy keeps rising: divergence at 50k
DIVERGING = ([0.2, 0.5, 0.8, 0.9, 0.9, 0.7, 0.5, 0.4, 0.3, 0.3], [0.1, 0.3, 0.5, 0.6, 0.7, 0.9, 1.1, 1.3, 1.5, 1.6])
# both rise: no divergence
HEALTHY = ([0.2, 0.4, 0.6, 0.8, 0.9, 0.9, 0.95, 0.95, 0.95, 0.96], [0.1, 0.2, 0.4, 0.6, 0.8, 0.9, 1.0, 1.0, 1.1, 1.1])


def _result(kind: str, seed: int, true: list[float], proxy: list[float]) -> dict:
    cell = Cell("doorkey-5x5", kind, None, 60, "", seed)
    curve = [{"steps": s, "true_return": t, "success_rate": t, "proxy_return": p, "violations": 0.0,
              "episode_length": 20.0} for s, t, p in zip(STEPS, true, proxy)]
    return {"schema": RESULT_SCHEMA, "key": cell.key, "status": "ok", "cell": cell.to_json(),
            "spec": cell.online_kwargs(RunSettings(rounds=1)), "final": curve[-1], "curve": curve,
            "feedback": {"items": 60, "annotator_seconds": 300.0}, "gaming": kind == "sketch" and seed == 0}


def _write_run(root: Path, rounds: int) -> Path:
    cfg = parse_config(f'[grid]\ntasks = ["doorkey-5x5"]\nkinds = ["sketch", "scalar"]\nbudgets = [60]\nseeds = 3\n'
                       f'[run]\nrounds = {rounds}\n')
    (root / "cells").mkdir(parents=True)
    (root / "ablation.json").write_text(json.dumps({"config": cfg.to_json()}))
    records = [_result("sketch", 0, *DIVERGING), _result("sketch", 1, *DIVERGING), _result("sketch", 2, *HEALTHY)]
    records += [_result("scalar", s, *HEALTHY) for s in range(3)]
    for rec in records:
        d = root / "cells" / rec["key"]
        d.mkdir()
        (d / "result.json").write_text(json.dumps(rec))
    return root


def test_a_fixed_reward_run_reports_where_each_seed_diverged(tmp_path):
    report = build_report(_write_run(tmp_path / "run", rounds=1))
    doc = json.loads(report.json_path.read_text())
    by_arm = {e["arm"]: e for e in doc["optimisation"]}
    sketch, scalar = by_arm["sketch"], by_arm["scalar"]
    assert sketch["seeds"] == [0, 1, 2] and sketch["evaluations"] == [10, 10, 10]
    assert sketch["diverged_seeds"] == [0, 1] and sketch["divergence_steps"] == [50_000, 50_000]
    assert sketch["best_steps"] == [40_000, 40_000, 100_000]
    assert sketch["best_true_return"]["mean"] == pytest.approx((0.9 + 0.9 + 0.96) / 3)
    assert sketch["final_true_return"]["mean"] == pytest.approx((0.3 + 0.3 + 0.96) / 3)
    assert sketch["lost"]["mean"] == pytest.approx((0.6 + 0.6 + 0.0) / 3)
    assert sketch["gaming_flagged_seeds"] == [0]
    assert scalar["diverged_seeds"] == [] and scalar["lost"]["mean"] == pytest.approx(0.0)
    md = report.path.read_text()
    assert "## Optimisation pressure" in md and "0@50,000, 1@50,000" in md
    assert any(p.name == "optimisation.csv" for p in report.tables)


def test_a_run_with_refits_has_no_optimisation_section(tmp_path):
    report = build_report(_write_run(tmp_path / "run", rounds=2))
    assert "## Optimisation pressure" not in report.path.read_text()
    assert json.loads(report.json_path.read_text())["optimisation"] == []


def test_bundled_gaming_configs_fix_the_reward_and_the_flaw_setting_starts_from_random_runs():
    from nlfeedback.experiments.config import load_config

    plain, flaw = load_config("gaming"), load_config("gaming-flaw")
    for cfg in (plain, flaw):
        assert cfg.run.rounds == 1 and cfg.run.steps >= 5 * load_config("quick").run.steps
        assert {"text:trained", "sketch", "scalar", "preference"} <= {k.label for k in cfg.kinds}
    assert plain.run.initial == "noisy-expert" and flaw.run.initial == "random"
    assert all("initial" not in c.online_kwargs(plain.run) for c in plain.cells())  # default: older specs match
    assert all(c.online_kwargs(flaw.run)["initial"] == "random" for c in flaw.cells())
