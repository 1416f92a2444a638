"""Labelled human remarks: the annotation format, checks against captions, and scoring them."""

from __future__ import annotations

import json

import numpy as np
import pytest

from nlfeedback.envs import get_task
from nlfeedback.feedback.labels import import_annotations, label_problems, labelled_feedback, parse_shown_steps
from nlfeedback.feedback.schema import Clause, Source, TextFeedback
from nlfeedback.language.evaluate import run_evaluation
from nlfeedback.language.interpreters import make_interpreter
from nlfeedback.metrics.interpretation import Tally, clause_reading, gold_of, with_gold
from nlfeedback.policies import make_policy
from nlfeedback.rollout import rollout
from nlfeedback.targets import Targets


@pytest.fixture(scope="module")
def lava_traj(lava_episode):
    return lava_episode


def test_shown_steps_are_one_based_ranges():
    assert parse_shown_steps("3-5,8", 10) == [2, 3, 4, 7]
    assert parse_shown_steps("all", 3) == [0, 1, 2] and parse_shown_steps("none", 3) == []
    assert parse_shown_steps(4, 5) == [3]
    with pytest.raises(ValueError, match="outside the run's steps 1..5"):
        parse_shown_steps("0-2", 5)
    with pytest.raises(ValueError, match="backwards"):
        parse_shown_steps("5-3", 9)
    with pytest.raises(ValueError, match="cannot read"):
        parse_shown_steps("the end", 9)


def _ann(text, *clauses, categories=("evaluative",)):
    return {"text": text, "categories": list(categories), "clauses": list(clauses)}


def test_labels_that_contradict_the_captions_are_reported(lava_traj):
    lava = [i for i, e in enumerate(lava_traj.events) if "entered:lava" in e][0]
    T = len(lava_traj)
    ok = labelled_feedback(_ann("you walked into the lava", {"quote": "walked into the lava", "steps": str(lava + 1),
                                                              "polarity": -1, "strength": 1}), lava_traj,
                           id="a", annotator="x")
    assert label_problems(ok, lava_traj) == []
    wrong = labelled_feedback(_ann("you walked into the lava", {"quote": "walked into the lava", "steps": "1",
                                                                 "polarity": -1, "strength": 1}), lava_traj,
                              id="b", annotator="x")
    assert "lava step" in label_problems(wrong, lava_traj)[0]
    far = 1 if T - 1 > 3 else T
    numbered = labelled_feedback(_ann(f"step {T} was bad", {"quote": f"step {T} was bad", "steps": str(far),
                                                             "polarity": -1, "strength": 1}), lava_traj,
                                 id="c", annotator="x")
    assert any(f"says step {T}" in p for p in label_problems(numbered, lava_traj))


def test_import_reports_file_and_line_and_keeps_good_lines(tmp_path, lava_traj):
    path = tmp_path / "ann.jsonl"
    good = {**_ann("meh", {"quote": "meh", "steps": "all", "polarity": 0, "strength": 0.3}, categories=["vague"]),
            "trajectory_id": lava_traj.id, "persona": "terse"}
    lines = [json.dumps(good), "{not json", json.dumps({**good, "trajectory_id": "nope"}),
             json.dumps({**good, "clauses": [{"quote": "not in text", "steps": "1", "polarity": 1, "strength": 1}]}),
             json.dumps({**good, "categories": ["bogus"]})]
    path.write_text("\n".join(lines) + "\n")
    records, errors = import_annotations(str(path), {lava_traj.id: lava_traj})
    assert [r.text for r in records] == ["meh"] and records[0].source.annotator == "terse"
    assert [e.split(": ")[0] for e in errors] == [f"{path}:{n}" for n in (2, 3, 4, 5)]
    assert "exact, non-empty piece" in errors[2] and "unknown trajectory" in errors[1]


def test_labels_are_for_human_remarks_only(lava_traj):
    fb = labelled_feedback(_ann("meh", {"quote": "meh", "steps": "all", "polarity": 0, "strength": 0.3}),
                           lava_traj, id="a", annotator="x")
    with pytest.raises(ValueError, match="'labels' are for human remarks"):
        TextFeedback.model_validate({**fb.to_json(), "source": {"type": "critic", "name": "language"},
                                     "intent": {"type": "vague", "categories": [], "clauses": [], "template": "t",
                                                "split": "train"}})


def _t(targets, weights):
    return Targets("fb", "traj", "x", np.array(targets, float), np.array(weights, float), 1.0)


def test_clause_level_sign_error_and_missed_rate_hand_computed():
    right = Clause(steps=[0, 1], polarity=-1, strength=1.0)
    wrong = Clause(steps=[2], polarity=1, strength=1.0)
    missed = Clause(steps=[3], polarity=1, strength=1.0)
    neutral = Clause(steps=[0, 1, 2, 3], polarity=0, strength=0.3)
    t = _t([-1, 0.5, -1, 0], [1, 1, 1, 0])  # mean over [0, 1] is -0.25: right sign
    assert [clause_reading(c, t) for c in (right, wrong, missed, neutral)] == ["right", "wrong", "missed", None]
    tally = Tally()
    tally.add_item({0: -1, 1: -1, 2: 1, 3: 1}, t, [right, wrong, missed, neutral])
    d = tally.as_dict()
    assert d["clauses"] == 3 and d["clause_sign_error_rate"] == round(2 / 3, 4) and d["missed_rate"] == round(1 / 3, 4)


def test_rule_error_scores_the_rule_by_what_it_gives_on_the_run():
    rule = Clause(steps=[2], polarity=-1, strength=1.0, scope="general", pattern="entered:lava")
    run_clause = Clause(steps=[0], polarity=1, strength=1.0)
    right, missing = Tally(), Tally()
    right.add_rules([rule, run_clause], _t([0, 0, -1, 0], [0, 0, 1, 0]))  # the read rule covers the lava step
    missing.add_rules([rule, run_clause], _t([0, 0, 0, 0], [0, 0, 0, 0]))  # no rule read: every step unweighted
    assert (right.rules, right.as_dict()["rule_error_rate"]) == (1, 0.0)
    assert (missing.rules, missing.as_dict()["rule_error_rate"]) == (1, 1.0)
    assert Tally().as_dict()["rule_error_rate"] is None


def test_a_general_rule_is_scored_through_the_rules_an_interpreter_reads(lava_traj):
    lava = [i for i, e in enumerate(lava_traj.events) if "entered:lava" in e][0]
    rule = labelled_feedback(_ann("lava kills you, never touch it",
                                  {"quote": "lava kills you, never touch it", "steps": str(lava + 1), "polarity": -1,
                                   "strength": 1, "scope": "general", "pattern": "entered:lava"}), lava_traj,
                             id="h-1", annotator="x")
    report = run_evaluation(make_interpreter("oracle-intent"), [rule], {lava_traj.id: lava_traj}).report().to_json()
    assert report["overall"]["rules"] == 1 and report["overall"]["rule_error_rate"] == 0


def test_human_labels_are_scored_and_hand_written_negations_are_probes(lava_traj):
    lava = [i for i, e in enumerate(lava_traj.events) if "entered:lava" in e][0]
    common = {"trajectory_id": lava_traj.id}
    bad = labelled_feedback(_ann("walking into the lava was dumb",
                                 {"quote": "walking into the lava was dumb", "steps": str(lava + 1), "polarity": -1,
                                  "strength": 1}), lava_traj, id="h-1", annotator="x")
    good = labelled_feedback(_ann("walking into the lava was not dumb",
                                  {"quote": "walking into the lava was not dumb", "steps": str(lava + 1),
                                   "polarity": 1, "strength": 1}, categories=["negation"]), lava_traj, id="h-2",
                             annotator="x", negates="h-1")
    assert gold_of(bad).split == "human" and common
    unlabelled = TextFeedback(id="h-3", trajectory_id=lava_traj.id, segment=[0, len(lava_traj)],
                              source=Source(type="human", annotator="a"), created_at="2026-12-04T00:00:00Z",
                              annotation_seconds=1.0, text="meh")
    assert [fb.id for fb in with_gold([bad, unlabelled, good, "not a record"])] == ["h-1", "h-2"]
    ev = run_evaluation(make_interpreter("oracle-intent"), [bad, good], {lava_traj.id: lava_traj})
    report = ev.report().to_json()
    assert report["overall"]["items"] == 1  # the hand-written negation is a probe, not a second item
    assert report["overall"]["probes"] == 1 and report["overall"]["negation_flip_failure"] == 0
    assert report["overall"]["clause_sign_error_rate"] == 0 and report["by_split"]["human"]["missed_rate"] == 0
    orphan = labelled_feedback(_ann("x", {"quote": "x", "steps": "1", "polarity": 1, "strength": 1}), lava_traj,
                               id="h-3", annotator="x", negates="h-404")
    from nlfeedback.errors import NlfError

    with pytest.raises(NlfError, match="h-404"):
        run_evaluation(make_interpreter("oracle-intent"), [bad, orphan], {lava_traj.id: lava_traj})


def test_validate_reports_labels_that_contradict_captions(tmp_path, lava_traj):
    from typer.testing import CliRunner

    from cli.main import app
    from nlfeedback.trajectory import write_trajectories

    tpath = tmp_path / "t.jsonl"
    write_trajectories(tpath, [lava_traj])
    wrong = labelled_feedback(_ann("you walked into the lava", {"quote": "walked into the lava", "steps": "1",
                                                                 "polarity": -1, "strength": 1}), lava_traj,
                              id="b", annotator="x")
    fpath = tmp_path / "f.jsonl"
    fpath.write_text(json.dumps(wrong.to_json()) + "\n")
    res = CliRunner().invoke(app, ["feedback", "validate", str(fpath), "-t", str(tpath)])
    assert res.exit_code == 1 and "labels.clauses.0" in res.output and "lava step" in res.output
    human = TextFeedback(id="plain", trajectory_id=lava_traj.id, segment=[0, len(lava_traj)],
                         source=Source(type="human", annotator="a"), created_at="2026-12-04T00:00:00Z",
                         annotation_seconds=1.0, text="hm")
    fpath.write_text(json.dumps(human.to_json()) + "\n")
    assert CliRunner().invoke(app, ["feedback", "validate", str(fpath), "-t", str(tpath)]).exit_code == 0


def test_bootstrap_intervals_bracket_the_rates(lava_traj):
    from nlfeedback.critics import critique

    trajs = list(rollout(get_task("doorkey-5x5"), make_policy("expert", epsilon=0.15, mistakes=0.35), 15, seed=4))
    items = list(critique(trajs, "text", budget=45, seed=2, split="heldout"))
    by_id = {t.id: t for t in trajs}
    ev = run_evaluation(make_interpreter("keyword"), items, by_id, probes=False)
    overall = ev.report().overall.as_dict()
    iv = ev.intervals(rounds=500)
    for k in ("sign_error_rate", "attribution_f1", "clause_sign_error_rate", "missed_rate"):
        lo, hi = iv[k]
        assert lo <= overall[k] <= hi and lo < hi, (k, lo, overall[k], hi)
    perfect = run_evaluation(make_interpreter("oracle-intent"), items, by_id, probes=False).intervals(rounds=200)
    assert perfect["clause_sign_error_rate"] == [0.0, 0.0] and perfect["attribution_f1"] == [1.0, 1.0]


def test_intervals_can_resample_wordings(lava_traj):
    """``unit="text"``: each wording is drawn with all its remarks. Where every remark of one wording is
    misread and every other remark read right, the error rate's interval reaches from 0 to that wording's
    share of everything; resampling trajectories spreads the same errors over the runs and gives a narrower
    interval. Anything else is refused."""
    from nlfeedback.errors import NlfError
    from nlfeedback.feedback.labels import labelled_feedback
    from nlfeedback.language.evaluate import Evaluation
    from nlfeedback.targets import Targets

    trajs = list(rollout(get_task("doorkey-5x5"), make_policy("expert", epsilon=0.15, mistakes=0.35), 12, seed=4))
    words = ["that was a great run", "nice work overall", "well played", "solid job", "lovely run"]
    items, targets = [], []
    for i, tr in enumerate(trajs):
        for j, text in enumerate(words):
            fb = labelled_feedback({"text": text, "categories": ["evaluative"], "clauses": [
                {"quote": text, "steps": "all", "polarity": 1, "strength": 1}]}, tr, id=f"r{i}-{j}", annotator="x")
            items.append(fb)
            sign = -1.0 if text == "well played" else 1.0  # one wording always misread
            targets.append(Targets(fb.id, fb.trajectory_id, "test", np.full(len(tr), sign, np.float32),
                                   np.ones(len(tr), np.float32), 1.0))
    ev = Evaluation(items, targets)
    rate = ev.report().overall.as_dict()["clause_sign_error_rate"]
    assert rate == pytest.approx(0.2)
    by_text = ev.intervals(rounds=1000, unit="text")["clause_sign_error_rate"]
    by_run = ev.intervals(rounds=1000, unit="trajectory")["clause_sign_error_rate"]
    assert by_text[0] == 0.0 and by_text[1] >= 0.4 and by_run == [0.2, 0.2]
    with pytest.raises(NlfError, match="resample"):
        ev.intervals(unit="phrase")
