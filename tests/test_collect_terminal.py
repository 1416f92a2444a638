"""`nlf collect` driven for real through a pseudo-terminal (pexpect): keys, invalid answers, Ctrl-C, resume."""

from __future__ import annotations

import os
import signal
import sys
import time
from pathlib import Path

import pexpect
import pytest

from nlfeedback.collect.queue import build_queue
from nlfeedback.feedback import read_feedback
from nlfeedback.trajectory import load_trajectories, write_trajectories

NLF = [sys.executable, "-c", "from cli.main import main; main()"]


@pytest.fixture
def small_traj_file(tmp_path: Path, doorkey_trajectories) -> Path:
    path = tmp_path / "three.jsonl"
    write_trajectories(path, doorkey_trajectories[:3])
    return path


def spawn(*args: str, sigint: int = signal.SIG_DFL) -> pexpect.spawn:
    """``nlf collect ARGS`` on a pseudo-terminal, started with SIGINT set to ``sigint`` (default: as from an
    interactive shell, whatever the test runner inherited — a runner started in the background of a
    shell without job control ignores SIGINT, and so would every child)."""
    env = dict(os.environ, NO_COLOR="1", PYTHONUNBUFFERED="1")
    child = pexpect.spawn(NLF[0], [*NLF[1:], "collect", *args], encoding="utf-8", timeout=30, env=env,
                          dimensions=(60, 200), cwd=str(Path(__file__).resolve().parent.parent),
                          preexec_fn=lambda: signal.signal(signal.SIGINT, sigint))
    return child


def finish(child: pexpect.spawn) -> int:
    child.expect(pexpect.EOF)
    child.close()
    return child.exitstatus


def test_ctrl_c_stops_a_session_started_with_sigint_ignored(small_traj_file, tmp_path):
    """Started from a background job of a shell without job control, the collector inherits SIGINT
    ignored; at a terminal, Ctrl-C must still stop it, with what was saved kept."""
    out = tmp_path / "human.jsonl"
    c = spawn("--trajectories", str(small_traj_file), "--kind", "scalar", "--annotator", "bob", "--out", str(out),
              sigint=signal.SIG_IGN)
    c.expect("keys:")
    c.send("f")
    c.expect("Rate it")
    c.sendline("4")
    c.expect("saved fb-")
    c.expect("keys:")
    c.sendintr()
    c.expect("interrupted: saved 1 scalar items")
    assert finish(c) == 130
    assert [fb.value for fb in read_feedback(out).records] == [4.0]


@pytest.mark.slow  # starts processes, a browser or the trained reader, or fuzzes: seconds, not ms
def test_ratings_with_invalid_answers_ctrl_c_and_resume(small_traj_file, tmp_path):
    out = tmp_path / "human.jsonl"
    trajs = load_trajectories(small_traj_file)
    queue = build_queue(list(trajs.values()), "scalar")
    args = ("--trajectories", str(small_traj_file), "--kind", "scalar", "--annotator", "alice", "--out", str(out))

    c = spawn(*args)
    c.expect("3 items in the queue, 0 already done, 3 to go")
    first = queue[0].segments[0]
    c.expect(f"{first.trajectory_id} steps 1–{first.end} of {first.end}")
    c.expect("step 0/")
    c.send("n")
    c.expect("step 1/")
    c.send("\x1b[C")  # right arrow
    c.expect("step 2/")
    c.send("p")
    c.expect("step 1/")
    c.send("nn")  # typed ahead of the redraw: both keys count
    c.expect("step 2/")
    c.expect("step 3/")
    c.send("e")
    c.expect(f"step {first.end}/{first.end}")
    c.send("f")
    c.expect("Rate it from 0 \\(worst\\) to 10 \\(best\\)")
    c.sendline("11")
    c.expect("the rating 11 is outside the scale: give a number from 0 to 10")
    c.expect("Rate it")  # asked again
    c.sendline("seven")
    c.expect("'seven' is not a number")
    c.sendline("7")
    c.expect("saved fb-")
    c.expect(f"{queue[1].segments[0].trajectory_id} steps")
    c.expect("keys:")
    c.send("\r")  # Enter answers
    c.expect("Rate it")
    c.sendline("3")
    c.expect("saved fb-")
    c.expect(f"{queue[2].segments[0].trajectory_id} steps")
    c.expect("keys:")
    c.send("f")
    c.expect("Rate it")
    # a person types after the prompt is up (this run once got no "interrupted" line: the test runner had
    # been started in the background, so SIGINT was ignored; see the test above)
    time.sleep(0.2)
    c.send("5")  # typed, never submitted
    c.sendintr()
    c.expect("interrupted: saved 2 scalar items")
    c.expect("resume with the same command")
    assert finish(c) == 130

    got = read_feedback(out, trajs).records  # every line whole and valid against the trajectories
    assert [fb.value for fb in got] == [7.0, 3.0]
    assert [fb.trajectory_id for fb in got] == [queue[0].segments[0].trajectory_id, queue[1].segments[0].trajectory_id]
    for fb in got:
        rec = fb.to_json()
        assert rec["source"] == {"type": "human", "annotator": "alice", "noise": {}} and "intent" not in rec
        assert rec["scale"] == [0.0, 10.0] and 0 < fb.annotation_seconds < 60

    c = spawn(*args)  # resume: only the third item is left
    c.expect("3 items in the queue, 2 already done, 1 to go")
    c.expect("\\[3/3\\] scalar feedback · annotator alice")
    c.expect(f"{queue[2].segments[0].trajectory_id} steps")
    c.expect("keys:")
    c.send("f")
    c.expect("Rate it")
    c.sendline("9")
    c.expect("saved fb-")
    c.expect("done: saved 1 scalar items")
    assert finish(c) == 0
    got = read_feedback(out, trajs).records
    assert [fb.value for fb in got] == [7.0, 3.0, 9.0]
    assert len({fb.id for fb in got}) == 3

    c = spawn(*args)  # nothing left; another annotator still has everything to do
    c.expect("3 already done, 0 to go")
    assert finish(c) == 0
    c = spawn(*args[:-3], "bob", "--out", str(out))
    c.expect("0 already done, 3 to go")
    c.expect("keys:")
    c.send("q")
    c.expect("stopped: saved 0")
    assert finish(c) == 0


@pytest.mark.slow  # starts processes, a browser or the trained reader, or fuzzes: seconds, not ms
def test_sketch_text_and_preference_answers(small_traj_file, tmp_path):
    out = tmp_path / "human.jsonl"
    trajs = load_trajectories(small_traj_file)
    base = ("--trajectories", str(small_traj_file), "--annotator", "bo b", "--out", str(out))

    c = spawn(*base, "--kind", "sketch", "--items", "1", "--segment-length", "8")
    c.expect("keys:")
    c.send("a")  # the list of steps
    c.expect("forward|left|right")
    c.send("f")
    c.expect("Sketch the progress as key points STEP:VALUE, steps (\\d+)–(\\d+)")
    start, end = int(c.match.group(1)), int(c.match.group(2))
    assert end - start == 8
    c.sendline(f"{start}:0 {end}:2")
    c.expect(f"key point '{end}:2': value 2 is outside \\[-1, 1\\]")
    c.sendline(f"{start}:0 {start + 4}:0.5 {end}:1")
    c.expect("saved fb-")
    c.expect("done: saved 1 sketch items")
    assert finish(c) == 0

    c = spawn(*base, "--kind", "text", "--items", "1", "--no-readback")
    c.expect("keys:")
    c.send("f")
    c.expect("Your feedback, one line")
    c.sendline("   ")  # an empty answer goes back to viewing
    c.expect("keys:")
    c.send("f")
    c.sendline("très bien, but stop spinning at step 3")
    c.expect("saved fb-")
    assert finish(c) == 0

    c = spawn(*base, "--kind", "preference", "--items", "1")
    c.expect("LEFT \\(1\\): ")
    c.expect("RIGHT \\(2\\): ")
    c.expect("keys:")
    c.send("n")
    c.expect("position 1/")
    c.send("f")
    c.expect("Which segment was better\\? 1 = left, 2 = right, = can't tell")
    c.sendline("3")
    c.expect("'3' is not a choice")
    c.sendline("=")
    c.expect("saved fb-")
    assert finish(c) == 0

    got = {fb.kind: fb for fb in read_feedback(out, trajs).records}
    assert set(got) == {"sketch", "text", "preference"}
    sketch = got["sketch"]
    assert sketch.segment[1] - sketch.segment[0] == 8 and len(sketch.curve) == 8
    assert sketch.curve[3] == pytest.approx(0.5) and sketch.curve[-1] == pytest.approx(1.0)
    assert got["text"].text == "très bien, but stop spinning at step 3"
    assert got["preference"].preferred == 0.5 and got["preference"].other_trajectory_id in trajs
    assert all(fb.source.annotator == "bo b" and fb.source.type == "human" for fb in got.values())


@pytest.mark.slow  # starts processes, a browser or the trained reader, or fuzzes: seconds, not ms
def test_piped_input_works_line_by_line_and_bad_options_are_clear(small_traj_file, tmp_path):
    import subprocess

    out = tmp_path / "piped.jsonl"
    args = [*NLF, "collect", "-t", str(small_traj_file), "--kind", "text", "--annotator", "carol", "--no-readback",
            "--out", str(out)]
    r = subprocess.run(args, input="n\nf\nnice run\ns\nq\n", capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    assert "step 1/" in r.stdout and "saved fb-" in r.stdout and "1 skipped for now" in r.stdout
    assert [fb.text for fb in read_feedback(out).records] == ["nice run"]
    r = subprocess.run(args, input="", capture_output=True, text=True, timeout=60)  # input ends: saved, resumable
    assert r.returncode == 0 and "input ended" in r.stdout
    r = subprocess.run([*args[:6], "--kind", "video", *args[8:]], capture_output=True, text=True, timeout=60)
    assert r.returncode == 1 and "unknown feedback kind 'video'" in r.stderr
    r = subprocess.run([*args[:-2], "--out", str(small_traj_file)], capture_output=True, text=True, timeout=60)
    assert r.returncode == 1 and "is the trajectory file" in r.stderr
