"""The goal-misgeneralisation probe on the ablation machinery (issue 23): ``grid.eval_tasks``, the eval-task
fields of a cell's result, and the report's "Generalisation to other layouts" section."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest

from nlfeedback.experiments.analysis import analyse
from nlfeedback.experiments.config import ConfigError, load_config, parse_config
from nlfeedback.experiments.report import build_report
from nlfeedback.experiments.results import load_results
from nlfeedback.experiments.runner import RESULT_SCHEMA
from nlfeedback.experiments.config import Cell, RunSettings

GRID = '[grid]\ntasks = ["keys-distractor-train"]\nkinds = ["sketch", "oracle"]\nbudgets = [10]\nseeds = 2\n'


def test_eval_tasks_reach_every_cell_and_its_spec_only_when_set():
    cfg = parse_config(GRID + 'eval_tasks = ["keys-distractor-test"]\n')
    assert cfg.eval_tasks == ("keys-distractor-test",)
    for cell in cfg.cells():
        assert cell.online_kwargs(cfg.run)["eval_tasks"] == ["keys-distractor-test"]
        assert cell.to_json()["eval_tasks"] == ["keys-distractor-test"]
        assert "__" in cell.key and "test" not in cell.key  # the cell's key does not change
    plain = parse_config(GRID)
    assert plain.eval_tasks == () and "eval_tasks" not in plain.to_json()["grid"]
    for cell in plain.cells():  # older run folders' specs still match on resume
        assert "eval_tasks" not in cell.online_kwargs(plain.run) and "eval_tasks" not in cell.to_json()


@pytest.mark.parametrize("value, message", [
    ('["keys-distractor-tset"]', "grid.eval_tasks[0]: unknown task 'keys-distractor-tset'; did you mean "
                                 "'keys-distractor-test'?"),
    ("[]", "grid.eval_tasks: must not be empty"),
    ('"keys-distractor-test"', "grid.eval_tasks: must be a list"),
    ('["keys-distractor-train"]', "grid.eval_tasks[0]: 'keys-distractor-train' is also a training task"),
    ('["keys-distractor-test", "keys-distractor-test"]', "grid.eval_tasks[1]: duplicate 'keys-distractor-test'"),
])
def test_eval_tasks_errors_name_the_file_and_key(value, message):
    with pytest.raises(ConfigError) as e:
        parse_config(GRID + f"eval_tasks = {value}\n", source="probe.toml")
    assert f"probe.toml: {message}" in str(e.value)


def test_bundled_probe_configs():
    small, full = load_config("misgeneralisation"), load_config("misgeneralisation-full")
    for cfg in (small, full):
        assert cfg.tasks == ("keys-distractor-train",) and cfg.eval_tasks == ("keys-distractor-test",)
        assert {"text:trained", "scalar", "preference", "sketch", "oracle"} <= {k.label for k in cfg.kinds}
    assert len(small.seeds) == 2 and len(full.seeds) == 5 and full.run.steps > small.run.steps
    assert small.run.reward_view == full.run.reward_view == "full"  # the reward model sees key and door colours


def test_reward_view_reaches_the_spec_only_when_full_and_is_validated():
    full = parse_config(GRID + '[run]\nreward_view = "full"\n')
    assert all(c.online_kwargs(full.run)["reward_view"] == "full" for c in full.cells())
    plain = parse_config(GRID)
    assert all("reward_view" not in c.online_kwargs(plain.run) for c in plain.cells())  # older specs match
    with pytest.raises(ConfigError, match="probe.toml: run.reward_view"):
        parse_config(GRID + '[run]\nreward_view = "whole"\n', source="probe.toml")


# --------------------------------------------------------------------------------------------- the report


def _result(kind: str, seed: int, train: tuple[float, float], test: tuple[float, float] | None) -> dict:
    """A hand-made result: ``train``/``test`` = (success rate, wrong-key-first rate); ``test`` None: an older
    result file without the eval-task fields (and no wrong_key_first in its final evaluation)."""
    eval_tasks = ("keys-distractor-test",) if test is not None else ()
    cell = Cell("keys-distractor-train", kind, None, None if kind == "oracle" else 10, "", seed, eval_tasks)
    final = {"steps": 1000, "true_return": 0.8 * train[0], "success_rate": train[0], "proxy_return": 1.0,
             "violations": 0.0, "episode_length": 20.0}
    if test is not None:
        final["wrong_key_first"] = train[1]
    rec = {"schema": RESULT_SCHEMA, "key": cell.key, "status": "ok", "cell": cell.to_json(),
           "spec": cell.online_kwargs(RunSettings()), "final": final, "curve": [final],
           "feedback": {"items": 0 if kind == "oracle" else 10, "annotator_seconds": 50.0}, "gaming": False}
    if test is not None:
        rec["eval_tasks"] = {"keys-distractor-test": {"episodes": 20, "true_return": 0.7 * test[0],
                                                      "success_rate": test[0], "wrong_key_first": test[1]}}
    return rec


TEXT = {0: ((1.0, 0.0), (0.9, 0.1)), 1: ((0.9, 0.0), (0.8, 0.2)), 2: ((1.0, 0.1), (0.85, 0.15))}
SKETCH = {0: ((1.0, 0.0), (0.2, 0.8)), 1: ((0.95, 0.0), (0.3, 0.7)), 2: ((1.0, 0.0), (0.1, 0.9))}


def _write_run(root: Path, old_sketch_seed: int | None = None) -> Path:
    records = [_result("scalar", s, TEXT[s][0], TEXT[s][1]) for s in TEXT]  # "scalar" plays the text arm here
    records += [_result("sketch", s, SKETCH[s][0], None if s == old_sketch_seed else SKETCH[s][1]) for s in SKETCH]
    records += [_result("oracle", s, (1.0, 0.0), (0.5, 0.5)) for s in range(3)]
    for rec in records:
        d = root / "cells" / rec["key"]
        d.mkdir(parents=True)
        (d / "result.json").write_text(json.dumps(rec))
    return root


def _mean_ci(xs):
    from scipy import stats
    xs = np.asarray(xs, float)
    half = stats.t.ppf(0.975, len(xs) - 1) * xs.std(ddof=1) / np.sqrt(len(xs))
    return [xs.mean(), xs.mean() - half, xs.mean() + half]


def test_generalisation_analysis_of_hand_made_results(tmp_path):
    a = analyse(load_results(_write_run(tmp_path)))
    by_arm = {e["arm"]: e for e in a.generalisation}
    assert set(by_arm) == {"scalar", "sketch", "oracle"}
    sk = by_arm["sketch"]
    assert sk["eval_task"] == "keys-distractor-test" and sk["seeds"] == [0, 1, 2]
    for name, idx, field in (("train_success", 0, 0), ("eval_success", 1, 0), ("eval_wrong_key_first", 1, 1),
                             ("train_wrong_key_first", 0, 1)):
        values = [SKETCH[s][idx][field] for s in SKETCH]
        got = sk[name]
        assert [got["mean"], *got["ci95"]] == pytest.approx(_mean_ci(values)), name
    (comp,) = a.generalisation_comparisons
    assert comp["winner"] == "scalar" and comp["budget"] == 10
    (other,) = comp["others"]
    from scipy import stats
    p = stats.ttest_ind([TEXT[s][1][0] for s in TEXT], [SKETCH[s][1][0] for s in SKETCH], equal_var=False).pvalue
    assert other["arm"] == "sketch" and other["p"] == pytest.approx(p) and other["significant"]
    # two arms at one budget: a family of one pair per metric, so Holm leaves the p-values as they are
    assert other["p_holm"] == pytest.approx(p) and other["wrong_key_p_holm"] == pytest.approx(other["wrong_key_p"])
    assert other["wrong_key_difference"] == pytest.approx(np.mean([0.1, 0.2, 0.15]) - np.mean([0.8, 0.7, 0.9]))


def test_report_has_the_section_and_table_and_old_files_still_load(tmp_path):
    run = _write_run(tmp_path, old_sketch_seed=1)  # one sketch result file from before the option
    results = load_results(run)
    assert not results.problems and len(results.rows) == 9
    old = next(r for r in results.rows if r.label == "sketch" and r.seed == 1)
    assert old.eval_tasks == {} and old.wrong_key_first is None
    a = analyse(results)
    sk = next(e for e in a.generalisation if e["arm"] == "sketch")
    assert sk["seeds"] == [0, 2] and sk["eval_success"]["mean"] == pytest.approx(0.15)
    report = build_report(run)
    md = report.path.read_text()
    assert "## Generalisation to other layouts" in md and "keys-distractor-test" in md
    rows = list(csv.DictReader(open(run / "tables" / "generalisation.csv")))
    assert {r["arm"] for r in rows} == {"scalar", "sketch", "oracle"}
    doc = json.loads(report.json_path.read_text())
    assert len(doc["generalisation"]) == 3 and doc["generalisation_comparisons"][0]["winner"] == "scalar"


def test_report_without_eval_tasks_has_no_section(tmp_path):
    run = tmp_path
    for s in range(2):
        rec = _result("sketch", s, (1.0, 0.0), None)
        d = run / "cells" / rec["key"]
        d.mkdir(parents=True)
        (d / "result.json").write_text(json.dumps(rec))
    report = build_report(run)
    assert "Generalisation" not in report.path.read_text() and not (run / "tables" / "generalisation.csv").exists()


@pytest.mark.slow
def test_a_tiny_cell_records_the_eval_task_fields(tmp_path):
    from nlfeedback.experiments.runner import run_ablation

    cfg = parse_config('[grid]\ntasks = ["keys-distractor-train"]\neval_tasks = ["keys-distractor-test"]\n'
                       'kinds = ["sketch", "oracle"]\nbudgets = [4]\nseeds = [0]\n'
                       '[run]\nsteps = 512\nrounds = 1\neval_every = 512\neval_episodes = 3\nreward_view = "full"\n')
    summary = run_ablation(cfg, tmp_path, workers=1)
    assert summary.ok == 2, summary.failed_cells
    from nlfeedback.reward.model import RewardModel

    (reward,) = (tmp_path / "cells").glob("*sketch*/run/reward-round0.pt")
    assert RewardModel.load(reward).obs_mode == "full"  # the learned reward saw the whole grid
    for path in sorted((tmp_path / "cells").glob("*/result.json")):
        res = json.loads(path.read_text())
        assert 0.0 <= res["final"]["wrong_key_first"] <= 1.0
        ev = res["eval_tasks"]["keys-distractor-test"]
        assert ev["episodes"] == 3
        for name in ("success_rate", "true_return", "wrong_key_first"):
            assert 0.0 <= ev[name] <= 1.0
        assert ("proxy_return" in ev) == (res["cell"]["kind"] != "oracle")
    assert "## Generalisation to other layouts" in build_report(tmp_path).path.read_text()


@pytest.mark.parametrize("events, door, wrong", [
    ([[], ["picked_up:key:red"], ["opened:door:red"]], "red", False),
    ([["picked_up:key:blue"], [], ["picked_up:key:red"]], "red", True),
    ([[], ["bumped:wall"]], "red", False),
    ([["picked_up:key:red"]], None, False),
])
def test_evaluation_and_the_metric_share_one_wrong_key_rule(events, door, wrong):
    from nlfeedback.agents import evaluation
    from nlfeedback.metrics import misgeneralisation

    assert evaluation.wrong_key_first is misgeneralisation.wrong_key_first
    assert misgeneralisation.wrong_key_first(events, door) is wrong


# --- key choice: which pickup a learned reward pays for ---------------------------------------------------
def test_the_expert_can_fetch_the_wrong_key_first_and_still_solve_the_layout():
    from nlfeedback.envs import get_task
    from nlfeedback.metrics.misgeneralisation import took_wrong_key_first
    from nlfeedback.policies.expert import ExpertPolicy
    from nlfeedback.rollout import rollout

    for name in ("keys-distractor-train", "keys-distractor-test"):
        task = get_task(name)
        right = list(rollout(task, ExpertPolicy(), 8, seed=3))
        wrong = list(rollout(task, ExpertPolicy(wrong_key_first=True), 8, seed=3))
        assert [t.seed for t in right] == [t.seed for t in wrong]  # the same layouts
        assert not any(took_wrong_key_first(t) for t in right) and all(took_wrong_key_first(t) for t in wrong)
        assert all(t.success for t in wrong) and all(len(w) > len(r) for r, w in zip(right, wrong))


class _Stub:
    """A 'learned reward' written by hand: ``pay(trajectory, step)`` at each step that picks up a key, 0 elsewhere."""

    def __init__(self, pay):
        self.pay = pay

    def step_rewards(self, traj):
        return np.array([self.pay(traj, s) if any(e.startswith("picked_up:key") for e in ev) else 0.0
                         for s, ev in enumerate(traj.events)])


def test_key_choice_tells_the_true_rule_from_the_nearer_key_proxy():
    """A reward paying for the door's key is right on both tasks; one paying for an early pickup (the nearer
    key) is right on training layouts and wrong on test layouts; one paying for any key has no preference."""
    from nlfeedback.envs import get_task
    from nlfeedback.errors import NlfError
    from nlfeedback.experiments.reward_curves import key_pairs
    from nlfeedback.metrics.misgeneralisation import key_choice, locked_door_color

    def door_key(t, s):
        return 1.0 if f"picked_up:key:{locked_door_color(t)}" in t.events[s] else -1.0

    rule, nearer, any_key = _Stub(door_key), _Stub(lambda t, s: -float(s)), _Stub(lambda t, s: 1.0)
    train = key_pairs(get_task("keys-distractor-train"), 6, seed=11)
    test = key_pairs(get_task("keys-distractor-test"), 6, seed=11)
    assert len(train) == len(test) == 6
    assert key_choice(rule, train) == {"pairs": 6, "accuracy": 1.0, "margin": 2.0}
    assert key_choice(rule, test)["accuracy"] == 1.0
    assert key_choice(nearer, train)["accuracy"] == 1.0 and key_choice(nearer, train)["margin"] > 0
    assert key_choice(nearer, test)["accuracy"] == 0.0 and key_choice(nearer, test)["margin"] < 0
    assert key_choice(any_key, test) == {"pairs": 6, "accuracy": 0.5, "margin": 0.0}
    assert key_choice(rule, []) == {"pairs": 0, "accuracy": None, "margin": None}
    with pytest.raises(NlfError, match="same layout"):
        key_choice(rule, [(train[0][0], train[1][1])])
    with pytest.raises(NlfError, match="door's key first"):
        key_choice(rule, [(train[0][1], train[0][0])])
