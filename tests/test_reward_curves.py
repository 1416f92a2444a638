"""Reward-quality curves (nlfeedback.experiments.reward_curves): arms, nesting, the plateau, paired differences,
the report from hand-written rows, and one real tiny run that resumes."""

from __future__ import annotations

import json

import numpy as np
import pytest

from nlfeedback.critics import critique
from nlfeedback.envs import get_task
from nlfeedback.errors import NlfError
from nlfeedback.experiments.reward_curves import (
    CurvesConfig,
    paired_differences,
    parse_arm,
    plateau_budget,
    read_rows,
    run_curves,
    split_budget,
    write_report,
)
from nlfeedback.policies import make_policy
from nlfeedback.rollout import rollout


def test_arms_parse_and_bad_arms_are_named():
    assert parse_arm("text:trained+preference") == [("text", "trained", None), ("preference", None, None)]
    assert parse_arm("sketch") == [("sketch", None, None)]
    assert parse_arm("text:oracle-intent@train") == [("text", "oracle-intent", "train")]
    for bad, what in (("text", "needs its interpreter"), ("sketch:x", "only text"), ("video", "unknown kind"),
                      ("scalar+scalar", "twice"), ("oracle", "no feedback to fit"),
                      ("text:trained@poetry", "unknown phrasing"), ("text:reader", "unknown interpreter")):
        with pytest.raises(NlfError, match=what):
            parse_arm(bad)


def test_split_budget_sums_and_gives_the_odd_item_first():
    assert split_budget(5, 2) == [3, 2]
    assert split_budget(10, 1) == [10]
    assert all(sum(split_budget(b, n)) == b for b in range(1, 40) for n in (1, 2, 3))


@pytest.mark.parametrize("kind", ["text", "sketch", "scalar", "preference"])
def test_a_critics_first_b_items_are_what_budget_b_gives(kind):
    """The curves rely on it: one critic run at the largest budget serves every smaller one."""
    pool = list(rollout(get_task("doorkey-5x5"), make_policy("expert", epsilon=0.2, mistakes=0.3), 5, seed=3))
    long = list(critique(pool, kind, budget=12, seed=7, split="heldout"))
    short = list(critique(pool, kind, budget=5, seed=7, split="heldout"))
    strip = lambda fb: {k: v for k, v in fb.to_json().items() if k != "created_at"}  # noqa: E731
    assert [strip(f) for f in short] == [strip(f) for f in long[:5]]


def test_plateau_is_where_no_larger_budget_is_better_by_more_than_the_tolerance():
    b = [5, 10, 20, 40, 80]
    assert plateau_budget(b, [0.1, 0.3, 0.5, 0.51, 0.515]) == 20
    assert plateau_budget(b, [0.1, 0.2, 0.3, 0.4, 0.5]) == 80  # still improving at the end
    assert plateau_budget(b, [0.5, 0.5, 0.49, 0.5, 0.5]) == 5
    assert plateau_budget(b, [0.5, 0.2, 0.2, 0.2, 0.55]) == 80  # a late rise counts
    assert plateau_budget(b, [None, 0.3, None, 0.31, 0.3]) == 10
    assert plateau_budget(b, [None] * 5) is None


def _rows(rng):
    rows = []
    for seed in range(6):
        base = rng.normal(0, 0.1)  # a seed effect shared by both arms: pairing removes it
        for budget in (10, 100):
            for arm, lift in (("a", 0.0), ("b", 0.05)):
                rows.append({"task": "doorkey-5x5", "arm": arm, "seed": seed, "budget": budget, "items": budget,
                             "annotator_seconds": 3.0 * budget,
                             "reward_spearman": round(0.3 + budget / 1000 + base + lift + rng.normal(0, 0.01), 4),
                             "epic_distance": round(0.5 - budget / 1000 + rng.normal(0, 0.01), 4)})
    return rows


def test_paired_differences_match_an_independent_computation():
    from scipy import stats

    rows = _rows(np.random.default_rng(0))
    rows.append({**rows[0], "arm": "b", "seed": 99})  # no partner in arm a: left out
    got = paired_differences(rows, "b", "a")
    for budget in (10, 100):
        a = {r["seed"]: r["reward_spearman"] for r in rows if r["arm"] == "a" and r["budget"] == budget}
        b = {r["seed"]: r["reward_spearman"] for r in rows if r["arm"] == "b" and r["budget"] == budget}
        d = np.array([b[s] - a[s] for s in sorted(a)])
        half = stats.t.ppf(0.975, len(d) - 1) * d.std(ddof=1) / np.sqrt(len(d))
        s = got[("doorkey-5x5", budget)]
        assert s.n == 6
        assert s.mean == pytest.approx(d.mean())
        assert (s.lo, s.hi) == (pytest.approx(d.mean() - half), pytest.approx(d.mean() + half))


def test_report_from_hand_written_rows(tmp_path):
    rows = _rows(np.random.default_rng(1))
    rows.append({"task": "doorkey-5x5", "arm": "a", "seed": 6, "budget": 10, "items": 10, "annotator_seconds": 1.0,
                 "error": "the text feedback gave no usable training signal", "reward_spearman": None,
                 "epic_distance": None})
    (tmp_path / "curves.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    report = write_report(tmp_path).read_text()
    assert "## Spearman against the dense judgement" in report and "## EPIC distance" in report
    assert "## Paired differences in Spearman: each arm − a" in report
    assert "doorkey-5x5 a at 10: 1" in report  # the failed fit is reported, not averaged in
    csv = (tmp_path / "curves.csv").read_text().splitlines()
    assert len(csv) == 1 + 4
    assert (tmp_path / "reward_curves.png").stat().st_size > 0


def test_bad_rows_are_named_by_file_and_line_and_a_torn_last_line_is_ignored(tmp_path):
    p = tmp_path / "curves.jsonl"
    good = json.dumps({"task": "t", "arm": "a", "seed": 0, "budget": 5})
    p.write_text(good + "\n" + '{"task": "t", "ar')  # an interrupted append
    assert len(read_rows(p)) == 1
    p.write_text(good + "\nnot json\n" + good + "\n")
    with pytest.raises(NlfError, match=r"curves.jsonl:2: not JSON"):
        read_rows(p)


def test_config_errors():
    for kw, what in (({"budgets": [5, 5]}, "repeat"), ({"budgets": [0]}, "positive"), ({"tasks": ["nope"]}, "nope"),
                     ({"initial": "expert"}, "initial"), ({"eval_task": "nope"}, "nope"),
                     ({"eval_task": "doorkey-5x5"}, "also a task"), ({"reward_view": "top"}, "reward_view")):
        with pytest.raises(NlfError, match=what):
            CurvesConfig(**kw).check()


@pytest.mark.slow
def test_a_tiny_real_run_nests_budgets_pairs_arms_and_resumes(tmp_path):
    cfg = CurvesConfig(tasks=["doorkey-5x5"], arms=["sketch", "text:oracle-intent+preference"], budgets=[2, 4],
                       seeds=1, episodes=4, updates=3)
    path = run_curves(cfg, tmp_path)
    rows = read_rows(path)
    assert {(r["arm"], r["budget"]) for r in rows} == {(a, b) for a in cfg.arms for b in cfg.budgets}
    assert all(r["items"] == r["budget"] for r in rows)
    for r in rows:
        assert -1 <= r["reward_spearman"] <= 1 and 0 <= r["epic_distance"] <= 1
    mixed = [r for r in rows if r["arm"].startswith("text")]
    assert all(r["annotator_seconds"] > 0 for r in mixed)
    before = path.read_text()
    run_curves(cfg, tmp_path)  # nothing left to fit
    assert path.read_text() == before
    with pytest.raises(NlfError, match="other settings"):
        run_curves(CurvesConfig(**{**cfg.__dict__, "updates": 4}), tmp_path)
    assert "sketch" in write_report(tmp_path).read_text()
    run_curves(CurvesConfig(**{**cfg.__dict__, "arms": ["sketch"], "budgets": [4, 8]}), tmp_path)  # one arm, one more budget
    recorded = json.loads((tmp_path / "curves-config.json").read_text())
    assert recorded["arms"] == cfg.arms and recorded["budgets"] == [2, 4, 8]  # the folder's grid, not the last run's
    rows = read_rows(path)
    assert sorted((r["arm"], r["budget"]) for r in rows if r["budget"] == 8) == [("sketch", 8)]
    assert "text:oracle-intent+preference" in write_report(tmp_path).read_text()


@pytest.mark.slow  # loads the trained reader
def test_rows_name_their_reader_and_a_resume_refuses_another_checkpoints_rows(tmp_path):
    from nlfeedback.language.interpreters.trained import default_checkpoint_digest

    cfg = CurvesConfig(tasks=["doorkey-5x5"], arms=["sketch", "text:trained"], budgets=[2, 4], seeds=1, episodes=4,
                       updates=3)
    path = run_curves(cfg, tmp_path)
    rows = read_rows(path)
    digest = default_checkpoint_digest()
    assert [r.get("reader") for r in rows if r["arm"] == "sketch"] == [None, None]
    assert [r["reader"] for r in rows if r["arm"] == "text:trained"] == [digest, digest]
    assert f"checkpoint {digest} (SHA-256 prefix)" in write_report(tmp_path).read_text()

    old = [dict(r, reader="0123456789abcdef") if r["arm"] == "text:trained" and r["budget"] == 4 else r for r in rows]
    path.write_text("".join(json.dumps(r) + "\n" for r in old))
    assert "read by 2 checkpoints" in write_report(tmp_path).read_text()
    before, config_before = path.read_text(), (tmp_path / "curves-config.json").read_text()
    with pytest.raises(NlfError, match="1 rows of text:trained were read by another checkpoint.*0123456789abcdef.*"
                                       "--rerun-stale"):
        run_curves(CurvesConfig(**{**cfg.__dict__, "budgets": [2, 4, 8]}), tmp_path)  # refused: nothing changes,
    assert path.read_text() == before and not (tmp_path / "curves-stale.jsonl").exists()  # not even the grid
    assert (tmp_path / "curves-config.json").read_text() == config_before
    run_curves(cfg, tmp_path, rerun_stale=True)
    assert [json.loads(line)["reader"] for line in (tmp_path / "curves-stale.jsonl").read_text().splitlines()] == [
        "0123456789abcdef"]
    rows = read_rows(path)
    assert sorted((r["arm"], r["budget"]) for r in rows) == sorted((a, b) for a in cfg.arms for b in cfg.budgets)
    assert all(r["reader"] == digest for r in rows if r["arm"] == "text:trained")


@pytest.mark.slow
def test_an_eval_task_scores_every_fit_there_and_by_key_choice(tmp_path):
    """--eval-task: each fit is also scored on the eval task's held-out runs and by key choice on paired layouts
    of both tasks; the report gets the tables; rows without it (other runs) are untouched."""
    cfg = CurvesConfig(tasks=["keys-distractor-train"], arms=["sketch"], budgets=[3], seeds=1, episodes=4,
                       updates=3, reward_view="full", eval_task="keys-distractor-test")
    rows = read_rows(run_curves(cfg, tmp_path))
    assert len(rows) == 1
    (r,) = rows
    assert r["eval_task"] == "keys-distractor-test" and r["key_pairs"] == [20, 20]
    assert 0 <= r["key_choice"] <= 1 and 0 <= r["eval_key_choice"] <= 1 and -1 <= r["eval_reward_spearman"] <= 1
    text = write_report(tmp_path).read_text()
    assert "## Scored on another task: keys-distractor-test" in text and "Key choice on the eval task" in text
