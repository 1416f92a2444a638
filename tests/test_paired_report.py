"""The report's "Paired differences" section (issue 22): built from hand-written result files, its paired
differences, t-tests and Holm correction checked against an independent computation."""

from __future__ import annotations

import itertools
import json
from pathlib import Path

import numpy as np
import pytest
from scipy import stats

from nlfeedback.experiments.config import Cell, RunSettings, parse_config
from nlfeedback.experiments.report import build_report
from nlfeedback.experiments.runner import RESULT_SCHEMA
from nlfeedback.experiments.stats import Stat, holm, paired_p, welch_p

# final true return per (arm, budget, seed): a strong seed effect shared by the arms, small arm effects
SEED_EFFECT = [0.0, 0.3, -0.2, 0.1, 0.25]
LIFT = {("text:trained", 10): 0.0, ("text:trained", 40): 0.0, ("sketch", 10): 0.08, ("sketch", 40): 0.01,
        ("scalar", 10): -0.05, ("scalar", 40): -0.3}
NOISE = np.random.default_rng(5).normal(0, 0.02, size=(len(LIFT), len(SEED_EFFECT)))


def _value(arm: str, budget: int, seed: int) -> float:
    k = list(LIFT).index((arm, budget))
    return round(0.5 + SEED_EFFECT[seed] + LIFT[(arm, budget)] + float(NOISE[k, seed]), 4)


def _record(cell: Cell, true_return: float, success_rate: float, items: int, seconds: float,
            episode_length: float = 20.0, expert: float | None = None) -> dict:
    """A finished cell's result file with one evaluation."""
    curve = [{"steps": 1000, "true_return": true_return, "success_rate": success_rate, "proxy_return": 0.0,
              "violations": 0.0, "episode_length": episode_length}]
    return {"schema": RESULT_SCHEMA, "key": cell.key, "status": "ok", "cell": cell.to_json(),
            "spec": cell.online_kwargs(RunSettings()), "final": curve[-1], "curve": curve,
            "feedback": {"items": items, "annotator_seconds": seconds}, "gaming": False,
            **({"expert": {"true_return": expert, "proxy_return": 0.0}} if expert is not None else {})}


def _write_cell(root: Path, rec: dict) -> None:
    (root / "cells" / rec["key"]).mkdir()
    (root / "cells" / rec["key"] / "result.json").write_text(json.dumps(rec))


def _result(kind: str, budget: int, seed: int, expert: float | None = None) -> dict:
    interp = "trained" if kind.startswith("text") else None
    cell = Cell("doorkey-5x5", kind.split(":")[0], interp, budget, "", seed)
    v = _value(kind, budget, seed)
    return _record(cell, v, v, budget, 3.0 * budget, expert=expert)


def _write_run(root: Path, drop: tuple[str, int, int] | None = None, expert=None) -> Path:
    cfg = parse_config('[grid]\ntasks = ["doorkey-5x5"]\nkinds = ["text:trained", "sketch", "scalar"]\n'
                       'budgets = [10, 40]\nseeds = 5\n')
    (root / "cells").mkdir(parents=True)
    (root / "ablation.json").write_text(json.dumps({"config": cfg.to_json()}))
    for arm, budget in LIFT:
        for seed in range(len(SEED_EFFECT)):
            if (arm, budget, seed) == drop:
                continue
            _write_cell(root, _result(arm, budget, seed, expert(arm, budget, seed) if expert else None))
    return root


def _reaches_and_stays(by_budget: dict[int, float], threshold: float) -> int | None:
    """By hand: the smallest budget from which every budget's value is at or above the threshold."""
    budgets = sorted(by_budget)
    return next((b for i, b in enumerate(budgets) if all(by_budget[c] >= threshold for c in budgets[i:])), None)


def _holm_by_hand(ps: list[float]) -> list[float]:
    order = np.argsort(ps)
    m = len(ps)
    adj = np.empty(m)
    running = 0.0
    for k, i in enumerate(order):
        running = max(running, min(1.0, (m - k) * ps[i]))
        adj[i] = running
    return adj.tolist()


def test_paired_differences_t_tests_and_holm_match_an_independent_computation(tmp_path):
    report = build_report(_write_run(tmp_path / "run", drop=("scalar", 40, 4)))
    paired = json.loads(report.json_path.read_text())["paired"]
    assert [(e["budget"], e["arm"]) for e in paired] == [(10, "sketch"), (10, "scalar"), (40, "sketch"),
                                                          (40, "scalar")]
    raw = []
    for e in paired:
        assert e["reference"] == "text:trained"
        seeds = [0, 1, 2, 3] if (e["arm"], e["budget"]) == ("scalar", 40) else [0, 1, 2, 3, 4]
        assert e["seeds"] == seeds  # a seed missing on one side is left out of the pair
        x = np.array([_value(e["arm"], e["budget"], s) for s in seeds])
        y = np.array([_value("text:trained", e["budget"], s) for s in seeds])
        d = x - y
        half = stats.t.ppf(0.975, len(d) - 1) * d.std(ddof=1) / np.sqrt(len(d))
        assert e["difference"]["mean"] == pytest.approx(d.mean())
        assert e["difference"]["ci95"] == [pytest.approx(d.mean() - half), pytest.approx(d.mean() + half)]
        # the paired test by hand: t = mean(d) / (sd(d) / √n), two-sided, n − 1 degrees of freedom
        t = d.mean() / (d.std(ddof=1) / np.sqrt(len(d)))
        p = 2 * stats.t.sf(abs(t), len(d) - 1)
        assert e["p"] == pytest.approx(p)
        raw.append(p)
    for e, adj in zip(paired, _holm_by_hand(raw)):
        assert e["p_holm"] == pytest.approx(adj)
        assert e["significant"] == (adj < 0.05)
    # the seed effect (sd ~0.2) would swamp an unpaired test; pairing finds the large scalar drop at 40
    assert {(e["arm"], e["budget"]) for e in paired if e["significant"]} >= {("scalar", 40)}
    md = report.path.read_text()
    assert "## Paired differences" in md and "Holm p" in md
    assert any(p.name == "paired.csv" for p in report.tables)


def test_holm_and_paired_p_edge_cases():
    assert holm([]) == []
    assert holm([None, 0.01, None]) == [None, 0.01, None]  # a family of one
    assert holm([0.01, 0.04, 0.03]) == pytest.approx([0.03, 0.06, 0.06])  # monotone: 0.04 · 1 < 0.03 · 2
    assert holm([0.5, 0.9]) == [1.0, 1.0]
    assert paired_p([1.0], [2.0]) is None
    assert paired_p([1.0, 2.0], [0.0, 1.0]) is None  # identical differences: no variance
    # differences equal but for float round-off (returns are stored to 4 decimals) are one value, not a
    # t statistic of 10^13; two pairs are too few to test at all
    assert paired_p([0.9501, 0.9502, 0.9503], [0.9500, 0.9501, 0.9502]) is None
    assert paired_p([0.9, 0.5], [0.1, 0.4]) is None and welch_p([0.9, 0.5], [0.1, 0.4, 0.2]) is None
    assert welch_p([0.1 + 0.2, 0.3, 0.3], [0.5, 0.5, 0.5]) is None  # both constant to within round-off
    assert paired_p([0.9, 0.5, 0.7], [0.1, 0.4, 0.2]) == pytest.approx(stats.ttest_rel([0.9, 0.5, 0.7],
                                                                                        [0.1, 0.4, 0.2]).pvalue)
    with pytest.raises(ValueError):
        paired_p([1.0, 2.0], [1.0])


def test_a_mean_says_how_many_values_it_left_out():
    full = Stat.of([0.2, 0.4, 0.6])
    assert full.missing == 0 and "missing" not in full.fmt() and "missing" not in full.to_json()
    part = Stat.of([0.2, None, 0.6, float("nan")])  # a seed without an evaluation, a diverged value
    assert (part.n, part.missing, part.mean) == (2, 2, pytest.approx(0.4))
    assert part.fmt().endswith("(2 missing)") and part.to_json()["missing"] == 2
    assert Stat.of([None]).fmt() == "—"  # nothing to average: no mean, nothing to qualify


def test_one_arm_has_no_paired_section(tmp_path):
    cfg = parse_config('[grid]\ntasks = ["doorkey-5x5"]\nkinds = ["sketch"]\nbudgets = [10]\nseeds = 2\n')
    root = tmp_path / "run"
    (root / "cells").mkdir(parents=True)
    (root / "ablation.json").write_text(json.dumps({"config": cfg.to_json()}))
    for seed in range(2):
        _write_cell(root, _record(Cell("doorkey-5x5", "sketch", None, 10, "", seed), 0.5, 0.5, 10, 30.0))
    report = build_report(root)
    assert "## Paired differences" not in report.path.read_text()


@pytest.mark.parametrize("base", [0.66, 0.61])
def test_sample_efficiency_against_the_bfs_expert(tmp_path, base):
    """90% of the expert's mean true return (over every feedback cell's evaluation layouts) beside the oracle's,
    reached and kept at every larger budget. At 0.66 sketch reaches it at 10 items but falls back at 40, so no
    arm has it; at 0.61 text and sketch both reach it at the grid's smallest budget."""
    expert = lambda arm, budget, seed: base + 0.01 * seed  # noqa: E731
    report = build_report(_write_run(tmp_path / "run", expert=expert))
    eff = {e["arm"]: e for e in json.loads(report.json_path.read_text())["sample_efficiency"]}
    mean = float(np.mean([expert(a, b, s) for a, b in LIFT for s in range(5)]))
    for arm, e in eff.items():
        assert e["expert_mean"] == pytest.approx(mean) and e["expert_threshold"] == pytest.approx(0.9 * mean)
        means = {b: np.mean([_value(arm, b, s) for s in range(5)]) for b in (10, 40)}
        first = _reaches_and_stays(means, 0.9 * mean)
        assert e["expert_budget"] == first and e["seeds"] == 5 and e["incomplete_seeds"] == 0
        assert e["expert_status"] == ("reached" if first else "not reached")
        assert e["items_to_90pct_expert"] == (pytest.approx(first) if first else None)
        assert e["expert_censored"] == (first == 10) if first else "expert_censored" not in e
        assert e["per_seed_expert"] == {str(s): _reaches_and_stays({b: _value(arm, b, s) for b in (10, 40)},
                                                                   0.9 * mean) for s in range(5)}
        # the seed-bootstrap range of the crossing against the exact bootstrap distribution: all 5^5 ordered
        # draws of the seeds, equally likely (the report draws 2,000 of them)
        crossings = []
        for drawn in itertools.product(range(5), repeat=5):
            hit = _reaches_and_stays({b: np.mean([_value(arm, b, s) for s in drawn]) for b in (10, 40)}, 0.9 * mean)
            crossings.append(float(hit) if hit else np.inf)
        exact = np.quantile(crossings, [0.025, 0.975], method="inverted_cdf")
        as_json = [float(v) if np.isfinite(v) else None for v in exact]  # None: never reached
        assert e["items_to_90pct_expert_ci"] == as_json
        # every budget pooled: the cells at 90% of the expert, counted by hand, and the share's seed-bootstrap
        # range against the exact distribution of the mean per-seed share over all ordered draws of the seeds
        hits = {s: [_value(arm, b, s) >= 0.9 * mean for b in (10, 40)] for s in range(5)}
        assert (e["cells_at_90pct_expert"], e["cells_pooled"]) == (sum(map(sum, hits.values())), 10)
        shares = [np.mean([np.mean(hits[s]) for s in drawn]) for drawn in itertools.product(range(5), repeat=5)]
        lo, hi = np.quantile(shares, [0.025, 0.975], method="inverted_cdf")
        assert e["cells_at_90pct_expert_ci"][0] == pytest.approx(lo, abs=0.1)
        assert e["cells_at_90pct_expert_ci"][1] == pytest.approx(hi, abs=0.1)
        k = e["cells_at_90pct_expert"]  # the report's column renders it
        ci = e["cells_at_90pct_expert_ci"]
        assert f"| {k}/10 ({k / 10:.2f}) [{ci[0]:.2f}, {ci[1]:.2f}] |" in report.path.read_text()
        assert e["seconds_to_90pct_expert_ci"] == [None if v is None else pytest.approx(3.0 * v) for v in as_json]
    assert eff["sketch"]["status"] == "no oracle cells"  # no oracle in this run: only the expert reference
    text = report.path.read_text()
    summary = " ".join(json.loads(report.json_path.read_text())["summary"])
    assert "threshold (0.9 × expert)" in text and eff["scalar"]["expert_status"] == "not reached"
    if base == 0.66:  # sketch's mean 0.670 at 10 items, 0.584 at 40: reached once, not kept
        assert eff["sketch"]["expert_status"] == "not reached"
        assert f"no arm reached 90% of the BFS expert's final true return ({0.9 * mean:.3f})" in summary
    else:  # both at the smallest budget: "≤ 10", and the summary does not order them by items
        assert eff["sketch"]["expert_status"] == eff["text:trained"]["expert_status"] == "reached"
        lo, hi = ("∞" if v is None else f"{v:,.0f}" for v in eff["sketch"]["items_to_90pct_expert_ci"])
        assert f"| ≤ 10 [{lo}, {hi}] |" in text
        assert "| 0: –, 1: 10, 2: –, 3: 10, 4: 10 |" in text  # each seed's own crossing
        assert (f"fewest feedback items to reach 90% of the BFS expert's final true return ({0.9 * mean:.3f}) and "
                "stay there (5 seeds per arm): 2 arms at the grid's smallest budget (10 items or fewer), so not "
                "ordered by items: text:trained, sketch; not reached within the budgets: scalar.") in summary
    assert "no 90%-of-oracle figures" not in summary


def test_return_plots_draw_the_expert_and_keep_the_return_range_in_view(tmp_path):
    """The plots' expert lines are the table's reference; their y-range is the return's, widened only to
    plotted means, so a t-interval over a few seeds cannot squeeze every mean into a flat line."""
    from nlfeedback.experiments.analysis import analyse
    from nlfeedback.experiments.plots import expert_reference, return_limits
    from nlfeedback.experiments.results import load_results

    expert = lambda arm, budget, seed: 0.66 + 0.01 * seed  # noqa: E731
    run = _write_run(tmp_path / "run", expert=expert)
    a = analyse(load_results(run))
    (task, noise), = a.sections
    mean = float(np.mean([expert(arm, b, s) for arm, b in LIFT for s in range(5)]))
    assert expert_reference(a, task, noise) == (pytest.approx(mean), pytest.approx(0.9 * mean))
    assert expert_reference(analyse(load_results(_write_run(tmp_path / "none"))), task, noise) is None
    assert return_limits([0.5, 0.9]) == (pytest.approx(-0.05), pytest.approx(1.05))
    assert return_limits([-0.4, 1.3], margin=0.0) == (-0.4, 1.3)  # means outside [0, 1] stay in view
    assert return_limits([]) == (pytest.approx(-0.05), pytest.approx(1.05))


def test_break_even_seconds_per_text_item(tmp_path):
    """The seconds a text item may take before text costs more annotator-time than another kind to reach the
    reference; checked by hand from the hand-written files (expert true return 0.60 on every cell)."""
    expert = lambda arm, budget, seed: 0.60  # noqa: E731 -- threshold 0.54
    report = build_report(_write_run(tmp_path / "run", expert=expert))
    doc = json.loads(report.json_path.read_text())
    eff = {e["arm"]: e for e in doc["sample_efficiency"]}
    be = {e["other_arm"]: e for e in doc["break_even"]}
    text = eff["text:trained"]
    assert text["expert_status"] == "reached"  # mean ≈ 0.59 ≥ 0.54 at budget 10
    n, s = text["items_to_90pct_expert"], text["seconds_to_90pct_expert"]
    assert set(be) == {"sketch", "scalar"}
    for arm, e in be.items():
        assert e["reference"] == "expert" and e["text_arm"] == "text:trained"
        assert e["text_seconds_per_item"] == pytest.approx(s / n) == pytest.approx(3.0)
        if eff[arm]["expert_status"] == "reached":
            assert e["other_reached"] and e["break_even"] == pytest.approx(eff[arm]["seconds_to_90pct_expert"] / n)
        else:
            assert not e["other_reached"] and e["break_even"] is None
    assert "Break-even cost of a text item" in report.path.read_text()


def test_steps_per_task_and_the_combined_arm_in_a_config():
    """The study's grid needs a longer run on a harder task and the text + preference arm."""
    from nlfeedback.errors import NlfError

    cfg = parse_config('[grid]\ntasks = ["doorkey-5x5", "doorkey-6x6"]\nkinds = ["text:trained+preference", "oracle"]\n'
                       'budgets = [10]\nseeds = 1\n[run]\nsteps = 1000\nsteps_per_task = { "doorkey-6x6" = 5000 }\n')
    kw = {c.key: c.online_kwargs(cfg.run) for c in cfg.cells()}
    assert kw["doorkey-5x5__text-trained+preference__b10__noise-off__s0"]["steps"] == 1000
    assert kw["doorkey-6x6__text-trained+preference__b10__noise-off__s0"]["steps"] == 5000
    assert kw["doorkey-6x6__oracle__s0"]["steps"] == 5000
    assert all("steps_per_task" not in k for k in kw.values())  # OnlineConfig has no such field
    assert kw["doorkey-5x5__text-trained+preference__b10__noise-off__s0"]["kind"] == "text+preference"
    for bad, what in (('steps_per_task = { "lavagap-5" = 5 }', "not a grid task"),
                      ('steps_per_task = { "doorkey-5x5" = 0 }', "positive integer")):
        with pytest.raises(NlfError, match=what):
            parse_config('[grid]\ntasks = ["doorkey-5x5"]\nkinds = ["sketch"]\nbudgets = [10]\nseeds = 1\n[run]\n'
                         + bad + "\n")


def test_references_without_feedback_are_rows_and_bands_not_arms(tmp_path):
    """Oracle and dense-judgement cells are each task's references: rows of the final table and report.json's
    ``final``, never an arm of the paired comparisons."""
    root = _write_run(tmp_path / "run")
    for kind, value in (("oracle", 0.9), ("judgement", 0.95)):
        for seed in range(3):
            _write_cell(root, _record(Cell("doorkey-5x5", kind, None, None, "", seed), value + 0.01 * seed, 1.0, 0, 0.0,
                                      episode_length=12.0))
    report = build_report(root)
    data = json.loads(report.json_path.read_text())
    refs = {e["arm"]: e for e in data["final"] if e["budget"] is None}
    assert set(refs) == {"oracle", "judgement"}
    assert refs["judgement"]["final_true_return"]["mean"] == pytest.approx(0.96)
    assert refs["judgement"]["seeds"] == [0, 1, 2]
    assert {e["arm"] for e in data["paired"]} == {"sketch", "scalar"}
    md = report.path.read_text()
    assert "| doorkey-5x5 | — | judgement | — | 3 |" in md
    assert "PPO on the dense judgement reached" in md


def test_break_even_bounds_and_verdicts(tmp_path):
    """What the grid can say about a text item's break-even: a crossing at the smallest budget is a bound, the
    verdict needs the arms' seconds apart, and the combined arm takes no side. By hand from these files."""
    cfg = parse_config('[grid]\ntasks = ["doorkey-5x5"]\nkinds = ["text:trained", "sketch", "preference", '
                       '"text:trained+preference"]\nbudgets = [10, 40, 160]\nseeds = 3\n')
    root = tmp_path / "run"
    (root / "cells").mkdir(parents=True)
    (root / "ablation.json").write_text(json.dumps({"config": cfg.to_json()}))
    first_good = {"text": 40, "sketch": 160, "preference": 10, "text+preference": 10}  # expert 0.9: threshold 0.81
    per_item = {"text": 3.0, "sketch": 5.0, "preference": 1.0, "text+preference": 2.0}
    for kind, good in first_good.items():
        for b in (10, 40, 160):
            for seed in range(3):
                v = 0.9 + 0.01 * seed if b >= good else 0.2
                cell = Cell("doorkey-5x5", kind, "trained" if kind.startswith("text") else None, b, "", seed)
                _write_cell(root, _record(cell, v, v, b, per_item[kind] * b, expert=0.9))
    doc = json.loads(build_report(root).json_path.read_text())
    be = {(e["text_arm"], e["other_arm"]): e for e in doc["break_even"]}
    assert set(be) == {("text:trained", "sketch"), ("text:trained", "preference")}  # the combined arm: neither side
    sketch, pref = be[("text:trained", "sketch")], be[("text:trained", "preference")]
    assert sketch["break_even"] == pytest.approx(5.0 * 160 / 40) and sketch["bound"] is None
    assert sketch["cheaper"] == "yes"  # 120 s against 800 s, on every resample
    assert pref["break_even"] == pytest.approx(1.0 * 10 / 40) and pref["bound"] == "at most"  # preference: ≤ 10 items
    assert pref["cheaper"] == "no"
    text = build_report(root).path.read_text()
    assert "| ≤ 0.2 | no |" in text and "| 20.0 | yes |" in text


def test_a_running_sweep_counts_only_seeds_that_finished_every_budget(tmp_path):
    """Sketch's 40-item cell of seed 4 is missing: its crossing is computed on seeds 0-3 (by hand), seed 4 is
    incomplete, not failed; the expert's mean is per seed first (seed 4 has one cell fewer than the others)."""
    expert = lambda arm, budget, seed: 0.61 + 0.01 * seed  # noqa: E731
    report = build_report(_write_run(tmp_path / "run", drop=("sketch", 40, 4), expert=expert))
    eff = {e["arm"]: e for e in json.loads(report.json_path.read_text())["sample_efficiency"]}
    per_seed_mean = float(np.mean([0.61 + 0.01 * s for s in range(5)]))
    pooled = float(np.mean([expert(a, b, s) for a, b in LIFT for s in range(5) if (a, b, s) != ("sketch", 40, 4)]))
    assert eff["sketch"]["expert_mean"] == pytest.approx(per_seed_mean) != pytest.approx(pooled)
    sk = eff["sketch"]
    assert (sk["seeds"], sk["incomplete_seeds"]) == (4, 1) and eff["text:trained"]["seeds"] == 5
    means = {b: np.mean([_value("sketch", b, s) for s in range(4)]) for b in (10, 40)}
    assert sk["expert_budget"] == _reaches_and_stays(means, 0.9 * per_seed_mean)
    assert set(sk["per_seed_expert"]) == {"0", "1", "2", "3"}
    assert sk["cells_pooled"] == 8 and eff["text:trained"]["cells_pooled"] == 10  # the incomplete seed left out
    summary = " ".join(json.loads(report.json_path.read_text())["summary"])
    assert "(4–5 seeds per arm): **text:trained**, " in summary and "annotator-seconds; 5 seeds)" in summary
    assert "sketch (4 seeds)" in summary


def _small_run(root: Path, values: dict, oracle: list[float] | None = None, expert: float | None = 0.9,
               seeds: int = 2) -> Path:
    """``values[(kind, budget)]`` = per-seed final true return (items = budget, seconds = 2 per item)."""
    kinds = list(dict.fromkeys(k for k, _ in values))
    budgets = sorted({b for _, b in values})
    cfg = parse_config(f'[grid]\ntasks = ["doorkey-5x5"]\nkinds = {json.dumps(kinds + (["oracle"] if oracle else []))}\n'
                       f'budgets = {json.dumps(budgets)}\nseeds = {seeds}\n')
    (root / "cells").mkdir(parents=True)
    (root / "ablation.json").write_text(json.dumps({"config": cfg.to_json()}))
    for (kind, b), vals in values.items():
        for seed, v in enumerate(vals):
            if v is not None:
                cell = Cell("doorkey-5x5", kind.split(":")[0], "trained" if kind.startswith("text") else None, b, "", seed)
                _write_cell(root, _record(cell, v, v, b, 2.0 * b, expert=expert))
    for seed, v in enumerate(oracle or []):
        _write_cell(root, _record(Cell("doorkey-5x5", "oracle", None, None, "", seed), v, v, 0, 0.0))
    return root


def test_undetermined_arms_a_failed_oracle_and_untested_comparisons(tmp_path):
    """Scalar has no 40-item cells yet: undetermined, not "not reached", and no break-even row; an oracle
    below 90% of the expert did not learn (no "% of it"); with two seeds nothing is tested."""
    run = _small_run(tmp_path / "run", {("text:trained", 10): [0.2, 0.3], ("text:trained", 40): [0.9, 0.95],
                                        ("sketch", 10): [0.1, 0.2], ("sketch", 40): [0.5, 0.6],
                                        ("scalar", 10): [0.9, 0.9]}, oracle=[0.05, 0.02])
    report = build_report(run)
    doc = json.loads(report.json_path.read_text())
    eff = {e["arm"]: e for e in doc["sample_efficiency"]}
    assert eff["scalar"]["expert_status"].startswith("undetermined") and eff["scalar"]["seeds"] == 0
    assert eff["sketch"]["expert_status"] == "not reached" and eff["text:trained"]["expert_status"] == "reached"
    assert eff["text:trained"]["status"] == "oracle did not learn" and eff["text:trained"]["threshold"] is None
    assert {e["other_arm"] for e in doc["break_even"]} == {"sketch"}  # scalar: nothing to say yet
    summary = " ".join(doc["summary"])
    assert "not reached within the budgets: sketch; undetermined (no seed has finished every budget yet): scalar" \
        in summary
    assert "below 90% of the BFS expert's return (0.810): PPO on the task's reward did not learn" in summary
    assert "the winner got" not in summary and "significant (" not in summary
    paired = doc["paired"]
    assert paired and all(e["p"] is None and e["family"] == 0 and not e["significant"] for e in paired)
    assert "| — | — | 0 | — |" in report.path.read_text()  # untested: no p, no verdict


def test_the_break_even_verdict_needs_ranges_apart_and_survives_censoring(tmp_path):
    """Three seeds. Text crosses at 40 (80 s) on two seeds and at 160 on the third, so at 160 on the mean;
    sketch at 40 on every seed: the ranges of seconds overlap, so "unclear". Preference crosses at the smallest
    budget (≤ 20 s, below text's range): censoring can only make it cheaper still, so "no" stands."""
    run = _small_run(tmp_path / "run", {
        ("text:trained", 10): [0.1, 0.1, 0.1], ("text:trained", 40): [0.95, 0.95, 0.1],
        ("text:trained", 160): [0.95, 0.95, 0.95],
        ("sketch", 10): [0.1, 0.1, 0.1], ("sketch", 40): [0.95, 0.95, 0.95], ("sketch", 160): [0.95, 0.95, 0.95],
        ("preference", 10): [0.95, 0.95, 0.95], ("preference", 40): [0.95, 0.95, 0.95],
        ("preference", 160): [0.95, 0.95, 0.95]}, seeds=3)
    doc = json.loads(build_report(run).json_path.read_text())
    eff = {e["arm"]: e for e in doc["sample_efficiency"]}
    assert eff["text:trained"]["expert_budget"] == 160  # the mean at 40 (0.667) is below 0.81
    be = {e["other_arm"]: e for e in doc["break_even"]}
    # text's seconds range over the resamples: 80 (draws of the two fast seeds only) to 320, sketch's 80: overlap
    assert be["sketch"]["cheaper"] == "unclear" and be["sketch"]["bound"] is None
    assert be["preference"]["bound"] == "at most" and be["preference"]["cheaper"] == "no"
    # text censored at the smallest budget, the other arm not: "no" would need text's true cost, so unclear
    run2 = _small_run(tmp_path / "run2", {
        ("text:trained", 10): [0.95, 0.95, 0.95], ("text:trained", 40): [0.95, 0.95, 0.95],
        ("sketch", 10): [0.1, 0.1, 0.1], ("sketch", 40): [0.95, 0.95, 0.95]}, seeds=3)
    doc2 = json.loads(build_report(run2).json_path.read_text())
    (row,) = doc2["break_even"]
    assert row["bound"] == "at least" and row["break_even"] == pytest.approx(80 / 10)
    assert row["cheaper"] == "yes"  # 20 s (or less) against 80 s: censoring cannot reverse it


def test_the_summarys_best_arm_tests_are_corrected_over_every_pair(tmp_path):
    """The best arm is picked after looking at the means, so Holm runs over all pairs of arms at every budget
    (3 arms × 2 budgets: 6 Welch tests), by hand from the hand-written files."""
    doc = json.loads(build_report(_write_run(tmp_path / "run")).json_path.read_text())
    arms = ["text:trained", "sketch", "scalar"]
    raw, keys = [], []
    for b in (10, 40):
        for i, x in enumerate(arms):
            for y in arms[i + 1:]:
                keys.append((b, frozenset((x, y))))
                raw.append(stats.ttest_ind([_value(x, b, s) for s in range(5)], [_value(y, b, s) for s in range(5)],
                                           equal_var=False).pvalue)
    adjusted = dict(zip(keys, _holm_by_hand(raw)))
    for c in doc["comparisons"]:
        assert c["family"] == 6
        for o in c["others"]:
            assert o["p_holm"] == pytest.approx(adjusted[(c["budget"], frozenset((c["winner"], o["arm"])))])


def test_share_at_least_counts_complete_seeds_only():
    from nlfeedback.experiments.stats import share_at_least

    assert share_at_least([{0: 1.0}, {0: 0.0}], 0.5) == (1, 2, None)  # one seed: no range
    assert share_at_least([{0: 1.0, 1: 0.2}, {1: 0.9}], 0.5) == (1, 2, None)  # seed 0 lacks a level: left out
    assert share_at_least([{0: 1.0}, {1: 1.0}], 0.5) is None  # no seed has every level
    k, n, ci = share_at_least([{0: 1.0, 1: 1.0}, {0: 1.0, 1: 1.0}], 0.5)
    assert (k, n, ci) == (4, 4, (1.0, 1.0))
    # whole seeds are drawn: one seed solving every budget and one none gives shares 0, ½, 1 (¼, ½, ¼), so the
    # range is [0, 1]; drawing single cells instead would put its ends well inside
    assert share_at_least([{0: 1.0, 1: 0.0}] * 3, 0.5) == (3, 6, (0.0, 1.0))
