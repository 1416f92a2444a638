"""The report's "Optimisation pressure" section (issue 23): built from hand-written result files of a run whose
reward was fitted once (``run.rounds = 1``), each seed's divergence point and best vs final true return."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from scipy import stats

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


def test_bundled_gaming_configs_fix_the_reward_and_start_from_random_runs():
    from nlfeedback.experiments.config import load_config

    small, full, shaped = load_config("gaming"), load_config("gaming-full"), load_config("gaming-shaped")
    for cfg in (small, full, shaped):
        assert cfg.run.rounds == 1 and cfg.run.initial == "random"
        assert 0 < cfg.run.guard_every < cfg.run.steps  # the disagreement guard checks each feedback cell
        assert {"text:trained", "sketch", "scalar", "preference", "oracle"} == {k.label for k in cfg.kinds}
    for cfg in (full, shaped):
        assert cfg.run.steps >= 5 * load_config("quick").run.steps
    # the flaw: a per-step reward that can pay for loops; the control keeps the default, loop-proof form
    assert small.run.reward_form == full.run.reward_form == "action" and shaped.run.reward_form == "shaped"
    assert full.seeds == shaped.seeds and full.run.steps == shaped.run.steps
    # the remedy: the small setting with a refitting guard, the same seeds as its unguarded runs
    refit = load_config("gaming-refit")
    assert refit.run.guard_action == "refit" and small.run.guard_action == "stop"
    assert refit.run.model_dump(exclude={"guard_action"}) == small.run.model_dump(exclude={"guard_action"})
    assert refit.seeds == small.seeds and refit.kinds == small.kinds
    assert all(c.online_kwargs(full.run)["initial"] == "random" for c in full.cells())
    assert all("reward_form" not in c.online_kwargs(shaped.run) for c in shaped.cells())  # default: left out
    assert all(c.online_kwargs(full.run).get("reward_form") == ("action" if c.kind != "oracle" else None)
               for c in full.cells())


def _guard(fired_at: int | None, kept_steps: int | None, kept_true: float | None) -> dict:
    checks = [{"steps": s, "episodes": 10, "items": 10, "standing_proxy": 0.5, "standing_feedback": 0.5,
               "disagreement": 0.0} for s in (20_000, 40_000, 60_000) if fired_at is None or s <= fired_at]
    return {"every": 20_000, "items_per_check": 10, "margin": 0.25, "checks": checks, "fired_at": fired_at,
            "kept_steps": kept_steps, "items": 10 * len(checks), "seconds": 50.0 * len(checks),
            "kept": None if kept_true is None else {"true_return": kept_true, "success_rate": kept_true}}


def test_the_guard_table_pairs_the_kept_policy_with_the_same_runs_final_one(tmp_path):
    root = _write_run(tmp_path / "run", rounds=1)
    guards = {0: _guard(60_000, 40_000, 0.88), 1: _guard(40_000, 20_000, 0.5), 2: _guard(None, None, None)}
    for d in (root / "cells").iterdir():
        rec = json.loads((d / "result.json").read_text())
        if rec["cell"]["kind"] == "sketch":
            rec["guard"] = guards[rec["cell"]["seed"]]
            (d / "result.json").write_text(json.dumps(rec))
    report = build_report(root)
    by_arm = {e["arm"]: e for e in json.loads(report.json_path.read_text())["optimisation"]}
    g = by_arm["sketch"]["guard"]
    assert "guard" not in by_arm["scalar"]  # its cells ran without the guard
    assert g["fired_seeds"] == [0, 1] and g["fired_steps"] == [60_000, 40_000] and g["kept_steps"] == [40_000, 20_000]
    # with: the kept policy's true return where the guard fired, the final one where it never did
    with_guard, without = [0.88, 0.5, 0.96], [0.3, 0.3, 0.96]
    assert g["true_return_with"]["mean"] == pytest.approx(sum(with_guard) / 3)
    assert g["true_return_without"]["mean"] == pytest.approx(sum(without) / 3)
    diffs = np.array(with_guard) - np.array(without)
    half = stats.t.ppf(0.975, 2) * diffs.std(ddof=1) / np.sqrt(3)
    assert g["difference"]["ci95"] == pytest.approx([diffs.mean() - half, diffs.mean() + half])
    assert g["items"]["mean"] == pytest.approx((30 + 20 + 30) / 3)
    md = report.path.read_text()
    assert "### The disagreement guard" in md and "0@60,000, 1@40,000" in md
    assert any(p.name == "guard.csv" for p in report.tables)


def test_a_malformed_guard_record_is_left_out_not_misread(tmp_path):
    root = _write_run(tmp_path / "run", rounds=1)
    for d in (root / "cells").iterdir():
        rec = json.loads((d / "result.json").read_text())
        rec["guard"] = _guard(60_000, 40_000, None)  # fired, but no evaluation of the kept policy
        (d / "result.json").write_text(json.dumps(rec))
    doc = json.loads(build_report(root).json_path.read_text())
    assert all("guard" not in e for e in doc["optimisation"])


def test_the_proxy_preferring_the_agent_to_the_expert_is_reported_per_seed(tmp_path):
    """A reward gamed from the start shows no divergence point (true return never rose); what shows it is the
    final reward scoring the agent above the BFS expert while the agent's true return trails the expert's."""
    root = _write_run(tmp_path / "run", rounds=1)
    experts = {0: {"true_return": 0.96, "proxy_return": 1.0},   # final proxy 1.6 > 1.0, true 0.3: prefers
               1: {"true_return": 0.96, "proxy_return": 2.0},   # the expert scores higher: no
               2: {"true_return": 0.96, "proxy_return": 0.5}}   # agent true 0.96, not below the expert: no
    for d in (root / "cells").iterdir():
        rec = json.loads((d / "result.json").read_text())
        if rec["cell"]["kind"] == "sketch":
            rec["expert"] = {"episodes": 10, **experts[rec["cell"]["seed"]]}
            (d / "result.json").write_text(json.dumps(rec))
    report = build_report(root)
    by_arm = {e["arm"]: e for e in json.loads(report.json_path.read_text())["optimisation"]}
    assert by_arm["sketch"]["prefers_agent_seeds"] == [0] and by_arm["sketch"]["expert_seeds"] == [0, 1, 2]
    assert by_arm["scalar"]["prefers_agent_seeds"] == [] and by_arm["scalar"]["expert_seeds"] == []
    section = report.path.read_text().split("## Optimisation pressure")[1].split("\n#")[0]
    rows = [line for line in section.splitlines() if line.startswith("| doorkey-5x5")]
    sketch_row = next(r for r in rows if "| sketch |" in r)
    scalar_row = next(r for r in rows if "| scalar |" in r)
    assert sketch_row.rstrip(" |").endswith("| 0") and scalar_row.rstrip(" |").endswith("| –")


def test_refitting_guard_runs_get_their_own_table_not_a_paired_one(tmp_path):
    root = _write_run(tmp_path / "run", rounds=1)
    for d in (root / "cells").iterdir():
        rec = json.loads((d / "result.json").read_text())
        if rec["cell"]["kind"] == "sketch":
            g = _guard(None, None, None)
            g.update(action="refit", refits=[20_000, 40_000] if rec["cell"]["seed"] == 0 else [])
            rec["guard"] = g
            (d / "result.json").write_text(json.dumps(rec))
    report = build_report(root)
    by_arm = {e["arm"]: e for e in json.loads(report.json_path.read_text())["optimisation"]}
    sketch = by_arm["sketch"]
    assert "guard" not in sketch  # no with / without pair inside a refitting run
    assert sketch["guard_refit"]["refits"] == {"0": [20_000, 40_000], "1": [], "2": []}
    assert sketch["guard_refit"]["final_true_return"]["mean"] == pytest.approx((0.3 + 0.3 + 0.96) / 3)
    md = report.path.read_text()
    assert "### The disagreement guard, refitting" in md and "0@20,000, 40,000" in md
    assert any(p.name == "guard-refit.csv" for p in report.tables)
