"""Read-back records (issue 24, data layer): the schema's ``readback`` field, its checks as ``file:line:``
errors, and :func:`readback_record`, which refuses bad input and builds only records that validate."""

from __future__ import annotations

import json

import pytest

from nlfeedback.errors import RecordError
from nlfeedback.feedback import read_feedback
from nlfeedback.feedback.readback import ReadBackError, is_fixed, readback_record, segment_steps
from nlfeedback.feedback.schema import Clause, TextFeedback, parse_feedback
from tests.conftest import write_lines

READING = [{"steps": [2, 3], "polarity": 1, "strength": 0.8}]


def remark(traj, **kw):
    rec = {"schema": "nlf.feedback/1", "id": "fb-1", "kind": "text", "trajectory_id": traj.id,
           "segment": [2, 8], "source": {"type": "human", "annotator": "ann"},
           "created_at": "2026-11-25T10:00:00Z", "annotation_seconds": 12.0,
           "text": "stop spinning at the start"}
    rec.update(kw)
    return rec


def readback(**kw):
    rb = {"interpreter": "trained", "checkpoint": "sha256:abc", "reading": READING, "verdict": "accepted",
          "seconds": 4.0}
    rb.update(kw)
    return {k: v for k, v in rb.items() if v is not None}


def labels(steps=(2, 3)):
    return {"clauses": [{"steps": list(steps), "polarity": -1, "strength": 0.7}], "labeller": "ann"}


GOOD = [
    lambda: {"readback": readback()},
    lambda: {"readback": readback(verdict="fixed"), "labels": labels()},
    lambda: {"readback": readback(verdict="rephrased", original_text="spun lol"), "labels": None},
    lambda: {"readback": readback(checkpoint=None, reading=[])},
]


@pytest.mark.parametrize("make", GOOD)
def test_readback_records_validate_and_round_trip(tmp_path, doorkey_trajectories, make):
    t0 = doorkey_trajectories[0]
    rec = {k: v for k, v in (remark(t0) | make()).items() if v is not None}
    path = write_lines(tmp_path / "f.jsonl", [rec])
    got = read_feedback(path, {t.id: t for t in doorkey_trajectories}).records
    expected = json.loads(json.dumps(rec["readback"]))
    for c in expected["reading"]:
        c.setdefault("scope", "episode")
    assert got[0].to_json()["readback"] == expected


def test_old_records_without_readback_stay_valid(doorkey_trajectories):
    fb = parse_feedback(remark(doorkey_trajectories[0]))
    assert isinstance(fb, TextFeedback) and fb.readback is None


REJECTIONS = [
    ({"readback": readback(verdict="fixed")}, "field 'labels': a fixed read-back needs the corrected clauses"),
    ({"readback": readback(verdict="rephrased")}, "field 'readback.original_text': a rephrased remark keeps"),
    ({"readback": readback(verdict="rephrased", original_text="  ")}, "keeps its first, non-empty text"),
    ({"readback": readback(verdict="rephrased", original_text="stop spinning at the start")},
     "the rephrased text is the same as the first"),
    ({"readback": readback(original_text="earlier")}, "only a rephrased remark has one (verdict 'accepted')"),
    ({"readback": readback(verdict="fixed", original_text="x"), "labels": labels()}, "only a rephrased remark"),
    ({"readback": readback(reading=[{"steps": [1, 3], "polarity": 1, "strength": 1.0}])},
     "field 'readback.reading.0.steps': step 1 is outside the segment [2, 8]"),
    ({"readback": readback(verdict="fixed"), "labels": labels(steps=(7, 8))},
     "field 'labels.clauses.0.steps': step 8 is outside the segment [2, 8]"),
    ({"readback": readback(seconds=13.0)}, "field 'readback.seconds': 13 s of read-back is more than the 12 s"),
    ({"readback": readback(verdict="maybe")}, "field 'readback.verdict'"),
    ({"readback": readback(interpreter="")}, "field 'readback.interpreter'"),
    ({"readback": readback(extra=1)}, "field 'readback.extra': unknown field"),
    ({"readback": readback(), "source": {"type": "critic", "name": "language"},
      "intent": {"type": "vague", "categories": [], "clauses": [], "template": "x", "split": "train"}},
     "field 'readback': a read-back is for human remarks"),
]


@pytest.mark.parametrize("change, message", REJECTIONS)
def test_bad_readback_records_are_rejected_with_file_line_field(tmp_path, doorkey_trajectories, change, message):
    t0 = doorkey_trajectories[0]
    bad = remark(t0, id="fb-bad") | change
    path = write_lines(tmp_path / "f.jsonl", [remark(t0), bad])
    with pytest.raises(RecordError) as err:
        read_feedback(path, {t.id: t for t in doorkey_trajectories})
    assert str(err.value).startswith(f"{path}:2: ")
    assert message in str(err.value)


# --- readback_record --------------------------------------------------------------------------


@pytest.fixture
def fb(doorkey_trajectories):
    return parse_feedback(remark(doorkey_trajectories[0]))


def reading():
    return [Clause(steps=[2, 3], polarity=1, strength=0.8), Clause(steps=[0, 1, 9], polarity=-1, strength=1.0)]


def test_accepted_keeps_the_text_and_adds_the_readback_time(fb):
    rec = readback_record(fb, interpreter="trained", checkpoint="sha256:abc", reading=reading(), verdict="accepted",
                          seconds=3.25)
    assert rec.text == fb.text and rec.labels is None and rec.id == fb.id
    assert rec.annotation_seconds == 15.25 and rec.readback.seconds == 3.25
    assert rec.readback.verdict == "accepted" and rec.readback.original_text is None
    # steps outside the segment [2, 8) were not shown, so they are not part of the stored reading
    assert [c.steps for c in rec.readback.reading] == [[2, 3], []]
    assert not is_fixed(rec)
    assert parse_feedback(rec.to_json()) == rec


def test_fixed_stores_the_corrected_clauses_as_gold_labels(fb):
    fix = [{"steps": "3-4", "polarity": -1, "strength": 0.6, "quote": "stop spinning"},
           Clause(steps=[7], polarity=1, strength=0.3)]
    rec = readback_record(fb, interpreter="keyword", reading=reading(), verdict="fixed", seconds=9,
                          fix=fix, categories=["imperative", "temporal", "imperative"])
    assert rec.labels.labeller == "ann" and rec.labels.categories == ["imperative", "temporal"]
    assert [c.steps for c in rec.labels.clauses] == [[2, 3], [7]]  # shown 3-4 are 0-based 2, 3
    assert rec.labels.clauses[0].span == [0, 13] and rec.labels.clauses[0].polarity == -1
    assert rec.readback.checkpoint is None and rec.annotation_seconds == 21.0
    assert is_fixed(rec)
    assert parse_feedback(rec.to_json()) == rec


def test_all_means_the_segment(fb):
    assert segment_steps("all", fb.segment) == list(range(2, 8))
    assert segment_steps("none", fb.segment) == []
    assert segment_steps("3, 5-6", fb.segment) == [2, 4, 5]


def test_rephrased_keeps_both_texts(fb):
    rec = readback_record(fb, interpreter="trained", reading=reading(), verdict="rephrased", seconds=20.0,
                          rephrased="  turning in place at steps 3 and 4 was bad ")
    assert rec.text == "turning in place at steps 3 and 4 was bad"
    assert rec.readback.original_text == "stop spinning at the start"
    assert rec.annotation_seconds == 32.0 and rec.labels is None
    assert parse_feedback(rec.to_json()) == rec


BAD_INPUT = [
    (dict(verdict="fixed", fix=[{"steps": "8-9", "polarity": -1}]), "clause 1: steps [9] are outside this segment (steps 3–8)"),
    (dict(verdict="fixed", fix=[Clause(steps=[1], polarity=-1, strength=1.0)]), "clause 1: step 2 is outside this segment"),
    (dict(verdict="fixed", fix=[]), "a fix needs at least one clause"),
    (dict(verdict="fixed"), "a fix needs at least one clause"),
    (dict(verdict="fixed", fix=[{"steps": "3-4"}]), "clause 1: say whether these steps were good"),
    (dict(verdict="fixed", fix=[{"steps": "3", "polarity": 2}]), "clause 1: polarity"),
    (dict(verdict="fixed", fix=[{"steps": "3", "polarity": 1, "strength": 3}]), "clause 1: strength"),
    (dict(verdict="fixed", fix=[{"steps": "4-3", "polarity": 1}]), "runs backwards"),
    (dict(verdict="fixed", fix=[{"steps": "3", "polarity": 1, "quote": "lava"}]), "'quote' must be an exact"),
    (dict(verdict="fixed", fix=[{"steps": "3", "polarity": 1, "colour": "red"}]), "unknown fields ['colour']"),
    (dict(verdict="fixed", fix=[{"steps": "3", "polarity": 1}], categories=["poetry"]), "unknown categories ['poetry']"),
    (dict(verdict="fixed", fix=[{"steps": "3-4", "polarity": 1, "strength": 0.8}]), "the fix is the reading unchanged"),
    (dict(verdict="rephrased", rephrased="   "), "the rephrased text is empty"),
    (dict(verdict="rephrased"), "the rephrased text is empty"),
    (dict(verdict="rephrased", rephrased=" stop spinning at the start"), "the rephrased text is the same"),
    (dict(verdict="rephrased", rephrased="x" * 10_001), "at most 10000 are kept"),
    (dict(verdict="accepted", rephrased="new words"), "a new text goes with the verdict 'rephrased'"),
    (dict(verdict="accepted", fix=[{"steps": "3", "polarity": 1}]), "a fix (clauses or categories) goes with"),
    (dict(verdict="perhaps"), "verdict 'perhaps' is not one of accepted, fixed, rephrased"),
    (dict(verdict="accepted", seconds=-1), "read-back time -1 must be a number of seconds >= 0"),
    (dict(verdict="accepted", seconds=float("nan")), "must be a number of seconds"),
    (dict(verdict="accepted", interpreter=" "), "name the interpreter"),
]


@pytest.mark.parametrize("kw, message", BAD_INPUT)
def test_bad_input_is_refused_with_a_clear_message(fb, kw, message):
    args = dict(interpreter="trained", reading=[Clause(steps=[2, 3], polarity=1, strength=0.8)], seconds=2.0) | kw
    with pytest.raises(ReadBackError) as err:
        readback_record(fb, **args)
    assert message in str(err.value)


def test_a_record_is_read_back_once_and_critics_are_not(fb, doorkey_trajectories):
    done = readback_record(fb, interpreter="trained", reading=[], verdict="accepted", seconds=1.0)
    with pytest.raises(ReadBackError, match="already been read back"):
        readback_record(done, interpreter="trained", reading=[], verdict="accepted", seconds=1.0)
    critic = parse_feedback(remark(doorkey_trajectories[0], source={"type": "critic", "name": "language"},
                                   intent={"type": "vague", "categories": [], "clauses": [], "template": "x",
                                           "split": "train"}))
    with pytest.raises(ReadBackError, match="only a human text remark"):
        readback_record(critic, interpreter="trained", reading=[], verdict="accepted", seconds=1.0)
    labelled = parse_feedback(remark(doorkey_trajectories[0], labels=labels()))
    with pytest.raises(ReadBackError, match="already has labels"):
        readback_record(labelled, interpreter="trained", reading=[], verdict="fixed", seconds=1.0,
                        fix=[{"steps": "3", "polarity": 1}])


# --- nlf feedback stats -----------------------------------------------------------------------


def _line(n, annotator, verdict=None, categories=None, original=None):
    rec = {"schema": "nlf.feedback/1", "id": f"h-{n}", "kind": "text", "trajectory_id": "traj-x", "segment": [0, 10],
           "source": {"type": "human", "annotator": annotator}, "created_at": "2026-12-04T10:00:00Z",
           "annotation_seconds": 30.0, "text": f"remark {n}"}
    if verdict:
        rec["readback"] = {"interpreter": "trained", "reading": [{"steps": [1], "polarity": 1, "strength": 1.0}],
                           "verdict": verdict, "seconds": 5.0}
        if original:
            rec["readback"]["original_text"] = original
    if categories is not None:
        rec["labels"] = {"clauses": [{"steps": [2], "polarity": -1, "strength": 1.0}], "categories": categories}
    return rec


STATS_FILE = [
    _line(1, "ana", "accepted"),
    _line(2, "ana", "accepted", ["temporal"]),  # labelled later by someone else
    _line(3, "ana", "fixed", ["negation", "temporal"]),
    _line(4, "bo", "rephrased", original="first words"),
    _line(5, "bo", "fixed", ["sarcasm"]),
    _line(6, "bo", "accepted"),
    _line(7, "bo"),  # not read back: not counted
    {**_line(8, "bo"), "source": {"type": "critic", "name": "language"},
     "intent": {"type": "vague", "categories": ["vague"], "clauses": [], "template": "t", "split": "train"}},
]


def test_stats_count_verdicts_per_annotator_and_category(tmp_path):
    from typer.testing import CliRunner

    from cli.main import app

    path = write_lines(tmp_path / "h.jsonl", STATS_FILE)
    r = CliRunner().invoke(app, ["feedback", "stats", str(path), "--json"], catch_exceptions=False)
    assert r.exit_code == 0, r.output
    rb = json.loads(r.output)["readback"]
    # counted by hand from STATS_FILE
    assert (rb["records"], rb["accepted"], rb["fixed"], rb["rephrased"], rb["misread_rate"]) == (6, 3, 2, 1, 0.5)
    assert rb["accepted_rate"] == 0.5 and rb["fixed_rate"] == 0.3333 and rb["rephrased_rate"] == 0.1667
    people = {k: (v["records"], v["accepted"], v["fixed"], v["rephrased"], v["misread_rate"])
              for k, v in rb["by_annotator"].items()}
    assert people == {"ana": (3, 2, 1, 0, 0.3333), "bo": (3, 1, 1, 1, 0.6667)}
    cats = {k: (v["records"], v["accepted"], v["fixed"], v["rephrased"], v["misread_rate"])
            for k, v in rb["by_category"].items()}
    assert cats == {"negation": (1, 0, 1, 0, 1.0), "sarcasm": (1, 0, 1, 0, 1.0), "temporal": (2, 1, 1, 0, 0.5),
                    "unlabelled": (3, 2, 0, 1, 0.3333)}
    text = CliRunner().invoke(app, ["feedback", "stats", str(path)], catch_exceptions=False).output
    assert "read back: 6 remarks; accepted 3, fixed 2, rephrased 1; misread rate 0.500" in text
    assert "read-back verdicts by annotator" in text and "read-back verdicts by category" in text
    assert "2 (67%)" in text  # ana accepted 2 of 3


def test_stats_without_readback_have_empty_rows(tmp_path):
    from nlfeedback.feedback.stats import feedback_stats

    rb = feedback_stats([parse_feedback(_line(1, "ana"))])["readback"]
    assert rb["records"] == 0 and rb["misread_rate"] is None and rb["by_annotator"] == {} and rb["by_category"] == {}


# --- nlf train-reward: a fixed remark trains on its corrected labels ---------------------------


def _fixed_and_accepted(t0, t1, *, rule=False):
    key_step = next(s for s, ev in enumerate(t0.events) if any(e.startswith("picked_up:key") for e in ev))
    clause = ({"steps": [key_step], "polarity": 1, "strength": 0.9, "scope": "general", "pattern": "picked_up:key"}
              if rule else {"steps": [2], "polarity": -1, "strength": 0.6})
    fixed = {"schema": "nlf.feedback/1", "id": "h-fixed", "kind": "text", "trajectory_id": t0.id,
             "segment": [0, len(t0)], "source": {"type": "human", "annotator": "ana"},
             "created_at": "2026-12-04T10:00:00Z", "annotation_seconds": 40.0,
             "text": "great job reaching the goal",
             "readback": {"interpreter": "keyword", "reading": [{"steps": [len(t0) - 1], "polarity": 1, "strength": 1.0}],
                          "verdict": "fixed", "seconds": 10.0},
             "labels": {"clauses": [clause], "labeller": "ana"}}
    accepted = {**fixed, "id": "h-accepted", "trajectory_id": t1.id, "segment": [0, len(t1)],
                "readback": {**fixed["readback"], "verdict": "accepted",
                             "reading": [{"steps": [len(t1) - 1], "polarity": 1, "strength": 1.0}]}}
    accepted.pop("labels")
    return fixed, accepted, clause


def test_fixed_targets_come_from_the_labels_and_spread_rules(doorkey_trajectories):
    from nlfeedback.targets import FIXED, fixed_targets

    t0, t1 = doorkey_trajectories[:2]
    trajs = {t.id: t for t in doorkey_trajectories}
    fixed, accepted, clause = _fixed_and_accepted(t0, t1)
    got = list(fixed_targets([parse_feedback(fixed), parse_feedback(accepted)], trajs))
    assert len(got) == 1 and got[0].feedback_id == "h-fixed" and got[0].interpreter == FIXED
    assert list(got[0].weights.nonzero()[0]) == [2] and got[0].targets[2] == -0.6 and got[0].weights[2] == 1.0
    fixed, _, clause = _fixed_and_accepted(t0, t1, rule=True)
    got = list(fixed_targets([parse_feedback(fixed)], trajs))
    assert got[0].trajectory_id == t0.id and got[0].targets[clause["steps"][0]] == 0.9 and got[0].rules
    spread = [t for t in got[1:] if t.rule_of == "h-fixed"]
    assert len(spread) == len(got) - 1 >= 1 and {t.trajectory_id for t in spread} <= set(trajs) - {t0.id}
    assert not list(fixed_targets([parse_feedback(fixed)], trajs, apply_rules=False))[1:]


def test_train_reward_uses_a_fixed_remarks_labels_in_place_of_the_reading(tmp_path, traj_file, doorkey_trajectories,
                                                                          monkeypatch):
    """The command hands build_reward_data the labels' targets for the fixed remark and the interpreter's
    for the rest (captured there; no model is trained)."""
    import nlfeedback.reward.data as reward_data
    from typer.testing import CliRunner

    from cli.main import app
    from nlfeedback.language.interpreters import interpret, make_interpreter

    t0, t1 = doorkey_trajectories[:2]
    fixed, accepted, _ = _fixed_and_accepted(t0, t1)
    keyword_read = interpret(make_interpreter("keyword"), parse_feedback(fixed), t0)
    assert keyword_read.weights[2] == 0 or keyword_read.targets[2] >= 0  # the reading differs from the fix
    fb = write_lines(tmp_path / "h.jsonl", [fixed, accepted])
    seen = {}

    class Captured(Exception):
        pass

    def capture(items, trajectories, kind, *, targets=None, **kw):
        seen.update({(t.feedback_id, t.trajectory_id): t for t in targets})
        raise Captured

    monkeypatch.setattr(reward_data, "build_reward_data", capture)
    r = CliRunner().invoke(app, ["train-reward", "-f", str(fb), "-t", str(traj_file), "--kind", "text",
                                 "--interpreter", "keyword", "--out", str(tmp_path / "r.pt")])
    assert isinstance(r.exception, Captured), r.output
    mine = seen[("h-fixed", t0.id)]
    assert mine.interpreter == "fixed-by-writer" and mine.targets[2] == -0.6 and mine.weights.nonzero()[0].tolist() == [2]
    assert seen[("h-accepted", t1.id)].interpreter == "keyword"


# --- nlf train-interpreter: a fixed remark is a labelled training example ------------------------


def test_a_fixed_readback_record_is_a_training_example_of_its_labels(doorkey_trajectories):
    from nlfeedback.language.train_interpreter import example_of
    from nlfeedback.metrics.interpretation import gold_of

    t0, t1 = doorkey_trajectories[:2]
    fixed, accepted, _ = _fixed_and_accepted(t0, t1)
    fb = readback_record(parse_feedback({k: v for k, v in fixed.items() if k not in ("readback", "labels")}
                                        | {"annotation_seconds": 30.0}),
                         interpreter="keyword", reading=[Clause(steps=[len(t0) - 1], polarity=1, strength=1.0)],
                         verdict="fixed", seconds=10.0, fix=[{"steps": "3", "polarity": -1, "strength": 0.6}],
                         categories=["sarcasm"])
    gold = gold_of(fb)
    assert gold is not None and gold.split == "human" and gold.categories == ["sarcasm"]
    ex = example_of(fb, t0)
    assert ex.text == "great job reaching the goal" and ex.trajectory_id == t0.id
    assert ex.about.nonzero()[0].tolist() == [2]  # the fix (shown step 3), not the reading's last step
    assert ex.positive[2] == 0.0 and ex.strength[2] == pytest.approx(0.6) and ex.general == 0
    # an accepted read-back has no gold labels: it is not a training example
    assert gold_of(parse_feedback(accepted)) is None
