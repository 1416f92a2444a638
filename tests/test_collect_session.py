"""Human feedback collection, the shared core: queues, answers, records, resume, concurrent writers, stats."""

from __future__ import annotations

import json
import multiprocessing as mp
import os
import re

import numpy as np
import pytest

from nlfeedback.collect.answers import (
    AnswerError,
    check_annotator,
    check_points,
    curve_from_points,
    make_record,
    parse_answer,
    parse_keypoints,
    parse_preference,
    parse_rating,
    parse_scale,
    sketch_tolerance,
)
from nlfeedback.collect.collector import AlreadyAnswered, Collector
from nlfeedback.collect.queue import Item, Segment, build_queue, key_of
from nlfeedback.critics import critique
from nlfeedback.errors import NlfError, RecordError
from nlfeedback.feedback import read_feedback
from nlfeedback.feedback.stats import feedback_stats

ANSWERS = {"text": "good, but don't bump into the wall at step 3", "scalar": "7", "sketch": "0:0 5:0.5 9:1",
           "preference": "2"}


def answer_for(item: Item) -> dict:
    line = ANSWERS[item.kind]
    if item.kind == "sketch":
        s = item.segments[0]
        line = f"{s.start}:0 {s.end}:1"
    return parse_answer(item, line)


# --- queues -----------------------------------------------------------------------------------

@pytest.mark.parametrize("kind", ["text", "scalar", "sketch", "preference"])
def test_queue_is_deterministic_unique_and_fits_the_episodes(doorkey_trajectories, kind):
    trajs = {t.id: t for t in doorkey_trajectories}
    q1 = build_queue(doorkey_trajectories, kind, seed=4)
    q2 = build_queue(doorkey_trajectories, kind, seed=4)
    assert q1 == q2 and len(q1) == len(doorkey_trajectories)
    assert len({it.key for it in q1}) == len(q1)
    assert build_queue(doorkey_trajectories, kind, seed=5) != q1
    for it in q1:
        for seg in it.segments:
            assert 0 <= seg.start < seg.end <= len(trajs[seg.trajectory_id])
        if kind == "preference":
            a, b = it.segments
            assert a.trajectory_id != b.trajectory_id
            for seg in it.segments:  # 25-step segments, or the whole episode when it is shorter
                T = len(trajs[seg.trajectory_id])
                assert seg.length == min(25, T)
        else:
            seg = it.segments[0]
            assert (seg.start, seg.end) == (0, len(trajs[seg.trajectory_id]))


def test_queue_with_segments_and_limits(doorkey_trajectories):
    q = build_queue(doorkey_trajectories, "sketch", items=30, segment_length=5, seed=1)
    assert len(q) == 30 and all(it.segments[0].length == 5 for it in q)
    with pytest.raises(NlfError, match="only 12 distinct text items"):
        build_queue(doorkey_trajectories, "text", items=13)
    with pytest.raises(NlfError, match="at least two trajectories"):
        build_queue(doorkey_trajectories[:1], "preference")
    with pytest.raises(NlfError, match="unknown feedback kind"):
        build_queue(doorkey_trajectories, "video")


# --- answers ----------------------------------------------------------------------------------

def test_keypoints_interpolate_one_value_per_step():
    points = parse_keypoints("0:0 6:0.5 12:1", 0, 12)
    curve = curve_from_points(points, 0, 12)
    assert len(curve) == 12
    assert curve[0] == pytest.approx(0.5 / 6, abs=1e-4)  # the height at state 1
    assert curve[5] == pytest.approx(0.5) and curve[-1] == pytest.approx(1.0)
    # flat beyond the outermost key points; a segment that starts later counts states from its start
    assert curve_from_points(parse_keypoints("12:0.4", 10, 14), 10, 14) == [0.4] * 4
    assert curve_from_points(parse_keypoints("10:-1, 14:1", 10, 14), 10, 14) == [-0.5, 0.0, 0.5, 1.0]


@pytest.mark.parametrize("line, message", [
    ("", "type key points STEP:VALUE"),
    ("0:0 six:1", "'six:1' is not STEP:VALUE"),
    ("0:0 13:1", "step 13 is outside this segment (steps 0–12)"),
    ("0:0 6:1.5", "value 1.5 is outside [-1, 1]"),
    ("0:0 6:0.5 6:1", "step 6 is given twice"),
])
def test_bad_keypoints_say_what_is_wrong(line, message):
    with pytest.raises(AnswerError, match=re.escape(message)):
        parse_keypoints(line, 0, 12)


def test_drawn_points_are_resampled_and_must_cover_the_segment():
    xs = np.linspace(0.05, 11.95, 300)
    points = check_points([[x, x / 12] for x in xs], 0, 12)
    curve = curve_from_points(points, 0, 12, tolerance=sketch_tolerance(0, 12))
    assert len(curve) == 12
    assert np.allclose(curve, (np.arange(12) + 1) / 12, atol=0.01)
    with pytest.raises(AnswerError, match="covers steps 0.0–6.0 but the segment runs from 0 to 12"):
        curve_from_points([(0.0, 0.0), (6.0, 0.5)], 0, 12, tolerance=sketch_tolerance(0, 12))
    for bad, message in [([[13, 0]], "x = 13 is outside the segment"), ([[3, 1.5]], "y = 1.5 is outside"),
                         ([[3, float("nan")]], "finite"), ([], "between 1 and"), ([[1, 2, 3]], "expected \\[x, y\\]")]:
        with pytest.raises(AnswerError, match=message):
            check_points(bad, 0, 12)


def test_ratings_preferences_text_and_names():
    assert parse_rating(" 7 ", (0, 10)) == 7.0 and parse_rating("7.5", (0, 10)) == 7.5
    with pytest.raises(AnswerError, match="outside the scale: give a number from 0 to 10"):
        parse_rating("11", (0, 10))
    with pytest.raises(AnswerError, match="'seven' is not a number"):
        parse_rating("seven", (0, 10))
    assert [parse_preference(s) for s in ("1", "L", "left", "2", "right", "=", "0", "t")] == [0, 0, 0, 1, 1, 0.5, 0.5, 0.5]
    with pytest.raises(AnswerError, match="type 1 \\(left is better\\), 2 \\(right is better\\) or ="):
        parse_preference("3")
    text = Item("text", (Segment("t", 0, 3),))
    with pytest.raises(AnswerError, match="empty"):
        parse_answer(text, "   ")
    assert parse_answer(text, "  fine  ") == {"text": "fine"}
    assert check_annotator(" alice ") == "alice"
    for bad in ("", "   ", "a" * 65, "ali\x00ce"):
        with pytest.raises(AnswerError):
            check_annotator(bad)
    assert parse_scale("1:5") == (1.0, 5.0)
    for bad in ("5:1", "0-10", "0:1000"):
        with pytest.raises(NlfError, match="--scale"):
            parse_scale(bad)


@pytest.mark.parametrize("kind", ["text", "scalar", "sketch", "preference"])
def test_records_are_human_without_intent_and_validated(doorkey_trajectories, kind):
    trajs = {t.id: t for t in doorkey_trajectories}
    item = build_queue(doorkey_trajectories, kind)[0]
    fb = make_record(item, "alice", answer_for(item), 12.3456, trajs)
    rec = fb.to_json()
    assert rec["source"] == {"type": "human", "annotator": "alice", "noise": {}}
    assert "intent" not in rec and rec["annotation_seconds"] == 12.346 and rec["kind"] == kind
    assert key_of(fb) == item.key and fb.id == item.feedback_id("alice") != item.feedback_id("bob")
    if kind == "sketch":
        assert len(rec["curve"]) == item.segments[0].length
    if kind == "preference":
        assert rec["preferred"] == 1 and rec["other_trajectory_id"] == item.segments[1].trajectory_id
    with pytest.raises(AnswerError, match="annotation time"):
        make_record(item, "alice", answer_for(item), -1.0, trajs)
    ghost = Item(kind, tuple(Segment("traj-ghost", 0, 3) for _ in item.segments))
    with pytest.raises(AnswerError, match="no trajectory 'traj-ghost'"):
        make_record(ghost, "alice", answer_for(ghost), 1.0, trajs)
    with pytest.raises(AnswerError, match="^field 'curve': 2 values but the segment"):
        make_record(Item("sketch", (item.segments[0],)), "alice", {"curve": [0.0, 1.0]}, 1.0, trajs)


# --- the collector: resume, several collectors at once, safety ---------------------------------

def test_resume_skips_only_this_annotators_answered_items(traj_file, doorkey_trajectories, tmp_path):
    out = tmp_path / "human.jsonl"
    with open(out, "w") as fh:  # critic feedback already in the file is not "done" by anyone
        for fb in critique(doorkey_trajectories, "scalar", budget=3, seed=0):
            fh.write(json.dumps(fb.to_json()) + "\n")
    with Collector(doorkey_trajectories, out, kinds=["scalar", "text"]) as c:
        assert len(c.pending("alice", "scalar")) == 12
        for item in c.pending("alice", "scalar")[:5]:
            c.submit(item, "alice", answer_for(item), 3.0)
        with pytest.raises(AlreadyAnswered):
            item = c.queues["scalar"][0]
            c.submit(item, "alice", answer_for(item), 3.0)
    with Collector(doorkey_trajectories, out, kinds=["scalar", "text"]) as c:
        assert c.progress("alice", "scalar").done == 5
        left = c.pending("alice", "scalar")
        assert len(left) == 7 and left == c.queues["scalar"][5:]
        assert len(c.pending("bob", "scalar")) == 12 and len(c.pending("alice", "text")) == 12
    assert len(read_feedback(out).records) == 3 + 5


def test_two_collectors_on_one_file_never_duplicate_an_answer(doorkey_trajectories, tmp_path):
    out = tmp_path / "shared.jsonl"
    a = Collector(doorkey_trajectories, out, kinds=["text"])
    b = Collector(doorkey_trajectories, out, kinds=["text"])
    item = a.pending("alice", "text")[0]
    a.submit(item, "alice", answer_for(item), 1.0)
    assert item not in b.pending("alice", "text")  # b sees what a appended
    with pytest.raises(AlreadyAnswered):
        b.submit(item, "alice", answer_for(item), 1.0)
    b.submit(item, "bob", answer_for(item), 1.0)
    a.close(), b.close()
    assert len(read_feedback(out).records) == 2


def _race(path, traj_path, worker):
    from nlfeedback.trajectory import read_trajectories

    trajs = read_trajectories(traj_path).records
    with Collector(trajs, path, kinds=["sketch"]) as c:
        for item in c.queues["sketch"]:
            for who in (f"own-{worker}", "shared"):
                try:
                    c.submit(item, who, answer_for(item), 1.0)
                except AlreadyAnswered:
                    pass


def test_processes_racing_on_the_same_items_write_each_answer_once(traj_file, tmp_path):
    out = tmp_path / "race.jsonl"
    ctx = mp.get_context("fork")
    procs = [ctx.Process(target=_race, args=(out, traj_file, w)) for w in range(2)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
        assert p.exitcode == 0
    records = read_feedback(out).records  # every line whole and valid, ids unique
    by = {}
    for fb in records:
        by.setdefault(fb.source.annotator, []).append(key_of(fb))
    assert sorted(by) == ["own-0", "own-1", "shared"]
    assert all(len(keys) == 12 == len(set(keys)) for keys in by.values())


def test_collector_refuses_bad_outputs(doorkey_trajectories, traj_file, tmp_path):
    with pytest.raises(NlfError, match="is the trajectory file"):
        Collector(doorkey_trajectories, traj_file, trajectory_path=traj_file)
    with pytest.raises(NlfError, match="is a directory"):
        Collector(doorkey_trajectories, tmp_path)
    cut = tmp_path / "cut.jsonl"
    cut.write_text('{"schema": "nlf.feedback/1", "id": "fb-1"')
    with pytest.raises(RecordError, match="cut.jsonl:1: truncated final line"):
        Collector(doorkey_trajectories, cut)
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"schema": "nlf.feedback/1", "id": "fb-1", "kind": "text"}\n')
    with pytest.raises(RecordError, match="bad.jsonl:1: field"):
        Collector(doorkey_trajectories, bad)


def test_a_replaced_output_file_is_an_error_not_a_silent_loss(doorkey_trajectories, tmp_path):
    out = tmp_path / "h.jsonl"
    with Collector(doorkey_trajectories, out, kinds=["text"]) as c:
        first, second = c.pending("alice", "text")[:2]
        c.submit(first, "alice", answer_for(first), 1.0)
        os.replace(out, tmp_path / "moved.jsonl")
        with pytest.raises(NlfError, match="moved, replaced or deleted"):
            c.submit(second, "alice", answer_for(second), 1.0)
    assert len(read_feedback(tmp_path / "moved.jsonl").records) == 1


# --- human feedback downstream --------------------------------------------------------------------

def test_stats_report_human_seconds_per_kind_and_annotator_apart_from_critics(doorkey_trajectories, tmp_path):
    trajs = {t.id: t for t in doorkey_trajectories}
    items = list(critique(doorkey_trajectories, "scalar", budget=4, seed=0))
    for who, seconds in (("alice", [2.0, 4.0, 9.0]), ("bob", [5.0])):
        for item, s in zip(build_queue(doorkey_trajectories, "scalar"), seconds):
            items.append(make_record(item, who, answer_for(item), s, trajs))
    item = build_queue(doorkey_trajectories, "text")[0]
    items.append(make_record(item, "alice", answer_for(item), 20.0, trajs))
    stats = feedback_stats(items)
    assert stats["annotation_seconds"]["human"]["scalar"] == {
        "items": 4, "seconds": 20.0, "seconds_per_item": 5.0, "median_seconds": 4.5}
    assert stats["annotation_seconds"]["human"]["text"]["items"] == 1
    assert stats["annotation_seconds"]["critic"]["scalar"]["items"] == 4
    assert stats["human_seconds_by_annotator"]["alice"]["scalar"]["median_seconds"] == 4.0
    assert stats["human_seconds_by_annotator"]["bob"] == {
        "scalar": {"items": 1, "seconds": 5.0, "seconds_per_item": 5.0, "median_seconds": 5.0}}
    assert stats["total_seconds_by_source"]["human"] == 40.0


def test_human_feedback_flows_into_interpretation_and_reward_data(doorkey_trajectories):
    from nlfeedback.language.apply import interpret_feedback
    from nlfeedback.language.evaluate import evaluate_interpreter
    from nlfeedback.language.interpreters.base import make_interpreter
    from nlfeedback.reward.data import build_reward_data

    trajs = {t.id: t for t in doorkey_trajectories}
    human = {kind: [make_record(it, "alice", answer_for(it), 5.0, trajs) for it in build_queue(doorkey_trajectories, kind)[:4]]
             for kind in ("text", "scalar", "sketch", "preference")}
    keyword = make_interpreter("keyword")
    targets = [t for t in interpret_feedback(human["text"], trajs, keyword) if t.rule_of is None]
    assert len(targets) == 4  # human text is interpreted like critic text
    report = evaluate_interpreter(keyword, human["text"], trajs, probes=False)
    assert report.skipped_no_intent == 4  # ...but has no intent to score misinterpretation against
    for kind in ("scalar", "sketch", "preference"):
        data = build_reward_data(human[kind], trajs, kind)
        assert len(data) > 0
