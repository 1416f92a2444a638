"""Read-back in `nlf collect`, driven for real through a pseudo-terminal (pexpect): a remark, its reading as one
line per clause, an edit of one step (a bad fix first: refused, nothing written), and the stored record;
a rephrase (an empty one refused first); --no-readback; and once with the shipped trained interpreter."""

from __future__ import annotations

import pytest

from nlfeedback.collect.queue import build_queue
from nlfeedback.collect.readback import Reader, describe_reading, shown_steps
from nlfeedback.feedback import read_feedback
from nlfeedback.feedback.readback import is_fixed
from nlfeedback.feedback.schema import TextFeedback
from nlfeedback.trajectory import load_trajectories
from tests.test_collect_terminal import finish, small_traj_file, spawn  # noqa: F401  (fixture)

pytestmark = pytest.mark.slow  # starts the terminal collector

REMARK = "good job picking up the key"
VAGUE = "hmm, the thing with the stuff"  # the keyword interpreter reads nothing in it


def first_item(path):
    trajs = load_trajectories(path)
    item = build_queue(list(trajs.values()), "text")[0]
    return trajs, item, item.segments[0]


def keyword_reading(trajs, seg, text):
    fb = TextFeedback.model_validate({
        "schema": "nlf.feedback/1", "id": "fb-x", "kind": "text", "trajectory_id": seg.trajectory_id,
        "segment": [seg.start, seg.end], "source": {"type": "human", "annotator": "x"},
        "created_at": "2026-12-01T00:00:00Z", "annotation_seconds": 1.0, "text": text})
    return Reader.load("keyword").read(fb, trajs[seg.trajectory_id])


def start(*a):
    c = spawn(*a)
    c.timeout = 180  # a busy machine (and a niced test run) can take a minute to start Python
    return c


def args(traj_file, out, *extra):
    return ("--trajectories", str(traj_file), "--kind", "text", "--annotator", "ana", "--out", str(out),
            "--items", "1", *extra)


def test_remark_reading_edit_one_step_and_the_stored_record(small_traj_file, tmp_path):  # noqa: F811
    out = tmp_path / "human.jsonl"
    trajs, item, seg = first_item(small_traj_file)
    reading = keyword_reading(trajs, seg, REMARK)
    assert len(reading) == 1 and reading[0].polarity == 1 and len(reading[0].steps) == 1  # the key pick-up
    key_step = reading[0].steps[0]
    moved = key_step + 1 if key_step + 1 < seg.end else key_step - 1

    c = start(*args(small_traj_file, out, "--readback-interpreter", "keyword"))
    c.expect("read-back: each remark is read by the keyword interpreter")
    c.expect("keys:")
    c.send("f")
    c.expect("Your feedback")
    c.sendline(REMARK)
    c.expect("How the keyword interpreter read your remark")
    c.expect_exact(f"step {key_step + 1}: good, strength 1")
    c.expect("a/Enter accept · e edit · r rephrase")
    c.send("e")
    c.expect_exact(f"the reading: {key_step + 1} good")
    c.expect("fix> ")
    c.sendline(f"{seg.end + 5} good")  # outside the segment: refused, asked again
    c.expect_exact(f"are outside this segment (steps {seg.start + 1}–{seg.end})")
    c.expect("fix> ")
    assert not out.exists() or out.read_text() == ""  # nothing written yet
    c.sendline(f"{moved + 1} good 0.8")  # the person meant the next step
    c.expect(r"saved fb-\w+ \([0-9.]+ s, read-back fixed\)")
    c.expect("done: saved 1 text items")
    assert finish(c) == 0

    [fb] = read_feedback(out, trajs).records  # validates against the schema and the trajectories
    assert fb.text == REMARK and is_fixed(fb)
    assert fb.readback.interpreter == "keyword" and fb.readback.checkpoint is None
    assert [(c.steps, c.polarity) for c in fb.readback.reading] == [([key_step], 1)]
    assert [(c.steps, c.polarity, c.strength) for c in fb.labels.clauses] == [([moved], 1, 0.8)]
    assert fb.labels.labeller == "ana"
    assert 0 <= fb.readback.seconds <= fb.annotation_seconds


def test_rephrase_refuses_an_empty_text_and_keeps_both_texts(small_traj_file, tmp_path):  # noqa: F811
    out = tmp_path / "human.jsonl"
    trajs, item, seg = first_item(small_traj_file)
    c = start(*args(small_traj_file, out, "--readback-interpreter", "keyword"))
    c.expect("keys:")
    c.send("f")
    c.expect("Your feedback")
    c.sendline(VAGUE)
    c.expect("not understood")
    c.expect("a/Enter accept")
    c.send("r")
    c.expect("in other words")
    c.sendline("   ")
    c.expect("the rephrased text is empty")
    c.expect("in other words")
    c.sendline(REMARK)
    c.expect("How the new text was read:")
    lines = describe_reading(keyword_reading(trajs, seg, REMARK), [seg.start, seg.end])
    c.expect_exact(lines[0])
    c.expect("keep the new text")
    c.send("a")
    c.expect("read-back rephrased")
    assert finish(c) == 0
    [fb] = read_feedback(out, trajs).records
    assert fb.text == REMARK and fb.readback.verdict == "rephrased" and fb.readback.original_text == VAGUE
    assert fb.readback.reading == [] and fb.labels is None


def test_no_readback_collects_plain_remarks(small_traj_file, tmp_path):  # noqa: F811
    out = tmp_path / "human.jsonl"
    c = start(*args(small_traj_file, out, "--no-readback"))
    c.expect("read-back: off")
    c.expect("keys:")
    c.send("f")
    c.sendline(REMARK)
    c.expect(r"saved fb-\w+ \([0-9.]+ s\)")
    assert finish(c) == 0
    [fb] = read_feedback(out).records
    assert fb.readback is None


def test_the_trained_interpreter_reads_back_by_default(small_traj_file, tmp_path):  # noqa: F811
    if not Reader.available("trained"):
        pytest.skip("the trained interpreter (torch, transformers, the shipped checkpoint) is not installed")
    out = tmp_path / "human.jsonl"
    trajs, item, seg = first_item(small_traj_file)
    c = start(*args(small_traj_file, out))
    c.expect(r"read-back: each remark is read by the trained \(sha256:")
    c.expect("keys:")
    c.send("f")
    c.sendline(REMARK)
    c.expect("How the trained interpreter read your remark")
    c.expect(r"(steps? [0-9,-]+|the whole run|rule: .*|not understood)")
    c.expect("a/Enter accept")
    c.send("a")
    c.expect("read-back accepted")
    assert finish(c) == 0
    [fb] = read_feedback(out, trajs).records
    assert fb.readback.interpreter == "trained" and fb.readback.checkpoint.startswith("sha256:")
    assert fb.readback.verdict == "accepted" and fb.labels is None
    for clause in fb.readback.reading:
        assert all(seg.start <= s < seg.end for s in clause.steps)
