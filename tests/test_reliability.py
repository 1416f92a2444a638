"""Issue 25: no command destroys its inputs, no failure leaves a half-written output, no input reaches
gym.make or rich unchecked. (Stopping `nlf ablate` is tested in test_experiments.py, the feedback
writer's two-process race in test_feedback_store.py.)"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from cli.main import app
from nlfeedback.envs.tasks import SUITE, get_task
from nlfeedback.errors import NlfError, RecordError, ReplayMismatch, UnknownTask
from nlfeedback.jsonl import atomic_path, check_output, open_output, staged_dir
from nlfeedback.trajectory import read_trajectories, write_trajectories
from tests.conftest import write_lines

REPO = Path(__file__).resolve().parents[1]
runner = CliRunner()
NLF = [sys.executable, "-c", "from cli.main import main; main()"]


def invoke(*args: str):
    return runner.invoke(app, [str(a) for a in args], catch_exceptions=False)


def human_text(traj, fid: str, text: str, annotator: str = "ann") -> dict:
    return {"schema": "nlf.feedback/1", "id": fid, "kind": "text", "trajectory_id": traj.id,
            "segment": [0, len(traj)], "source": {"type": "human", "annotator": annotator},
            "created_at": "2026-11-25T10:00:00Z", "annotation_seconds": 4.2, "text": text}


def tampered(traj):
    """The same record with its first action changed (a turn the other way): the digest no longer fits."""
    rec = traj.to_json()
    rec["actions"][0] = 1 if rec["actions"][0] == 0 else 0
    return rec


# --------------------------------------------------------------------------------------------- 1, 8: inputs are never outputs


def test_train_reward_never_writes_over_its_inputs_or_an_existing_file(tmp_path, traj_file):
    fb = tmp_path / "sketch.jsonl"
    assert invoke("critique", "-t", traj_file, "--kind", "sketch", "--budget", "3", "--out", fb).exit_code == 0
    before = traj_file.read_bytes()
    link = tmp_path / "link.jsonl"
    link.symlink_to(traj_file)
    hard = tmp_path / "hard.jsonl"
    os.link(traj_file, hard)
    for out in (traj_file, link, hard):
        for extra in ([], ["--force"]):
            r = invoke("train-reward", "-f", fb, "-t", traj_file, "--kind", "sketch", "--epochs", "1", *extra,
                       "--out", out)
            assert r.exit_code == 1 and "is also an input of this command" in r.output, r.output
    assert traj_file.read_bytes() == before
    r = invoke("train-reward", "-f", fb, "-t", traj_file, "--kind", "sketch", "--out", tmp_path)
    assert r.exit_code == 1 and "is a directory, expected a file path" in r.output  # not a traceback


def test_critique_append_or_force_into_its_trajectory_file_is_refused(tmp_path, traj_file):
    before = traj_file.read_bytes()
    for flag in ("--append", "--force"):
        r = invoke("critique", "-t", traj_file, "--kind", "text", "--budget", "3", flag, "--out", traj_file)
        assert r.exit_code == 1 and "is also an input of this command" in r.output
    assert traj_file.read_bytes() == before and read_trajectories(traj_file).records


@pytest.mark.parametrize("command", [
    ["interpret", "-f", "{fb}", "-t", "{traj}", "--interpreter", "keyword", "--force", "--out", "{fb}"],
    ["interpret", "-f", "{fb}", "-t", "{traj}", "--interpreter", "keyword", "--append", "--out", "{traj}"],
    ["eval-interpreter", "-f", "{fb}", "-t", "{traj}", "--interpreter", "keyword", "--force", "--errors", "{fb}"],
    ["train-interpreter", "-f", "{fb}", "-t", "{traj}", "--out", "{traj}"],
    ["feedback", "import-labels", "{fb}", "-t", "{traj}", "--force", "--out", "{fb}"],
])
def test_every_command_refuses_an_output_that_is_one_of_its_inputs(tmp_path, traj_file, command):
    fb = tmp_path / "text.jsonl"
    assert invoke("critique", "-t", traj_file, "--kind", "text", "--budget", "3", "--out", fb).exit_code == 0
    files = {"fb": fb.read_bytes(), "traj": traj_file.read_bytes()}
    r = invoke(*[a.format(fb=fb, traj=traj_file) for a in command])
    assert r.exit_code == 1 and "is also an input of this command" in r.output, r.output
    assert fb.read_bytes() == files["fb"] and traj_file.read_bytes() == files["traj"]


def test_check_output_names_only_the_flags_a_command_has(tmp_path):
    out = tmp_path / "x.pt"
    out.write_text("old")
    with pytest.raises(NlfError, match="already exists; delete it first or choose another path"):
        check_output(out, can_append=False, can_force=False)
    (tmp_path / "file").write_text("")
    with pytest.raises(NlfError, match="is a file, not a folder"):
        check_output(tmp_path / "file" / "x.jsonl")


# --------------------------------------------------------------------------------------------- 3: all or nothing


def test_a_bad_trajectory_late_in_the_input_is_refused_before_anything_is_written(tmp_path, doorkey_trajectories):
    traj = tmp_path / "t.jsonl"
    write_lines(traj, [t.to_json() for t in doorkey_trajectories[:-1]] + [tampered(doorkey_trajectories[-1])])
    fb = tmp_path / "text.jsonl"
    write_lines(fb, [human_text(t, f"fb-{i}", "you bumped into the wall, then went to the goal")
                     for i, t in enumerate(doorkey_trajectories)])
    out = tmp_path / "targets.jsonl"
    r = invoke("interpret", "-f", fb, "-t", traj, "--interpreter", "keyword", "--out", out)
    assert r.exit_code == 1 and f"{traj}: trajectory {doorkey_trajectories[-1].id}: observation digest mismatch" \
        in r.output, r.output
    assert not out.exists() and sorted(p.name for p in tmp_path.iterdir()) == ["t.jsonl", "text.jsonl"]


def test_a_failure_partway_leaves_no_output_the_old_one_or_no_appended_line(tmp_path, traj_file, monkeypatch):
    """interpret fails after a few records: no --out is created; with --force the old file stays; with
    --append nothing of the batch is added. Each says so."""
    import nlfeedback.language.apply as apply

    real = apply.interpret_feedback

    def fails_partway(*args, **kwargs):
        for i, target in enumerate(real(*args, **kwargs)):
            if i == 5:
                raise NlfError("injected failure after 5 records")
            yield target

    monkeypatch.setattr(apply, "interpret_feedback", fails_partway)
    fb = tmp_path / "text.jsonl"
    assert invoke("critique", "-t", traj_file, "--kind", "text", "--out", fb).exit_code == 0
    out = tmp_path / "targets.jsonl"
    args = ["interpret", "-f", fb, "-t", traj_file, "--interpreter", "keyword"]
    r = invoke(*args, "--out", out)
    assert r.exit_code == 1 and "injected failure" in r.output and f"{out}: not written" in r.output, r.output
    assert not out.exists()
    out.write_text("old\n")
    r = invoke(*args, "--force", "--out", out)
    assert r.exit_code == 1 and f"{out}: left as it was" in r.output and out.read_text() == "old\n"
    r = invoke(*args, "--append", "--out", out)
    assert r.exit_code == 1 and f"{out}: nothing appended" in r.output and out.read_text() == "old\n"
    assert not list(tmp_path.glob(".targets.jsonl.*"))
    monkeypatch.setattr(apply, "interpret_feedback", real)
    r = invoke(*args, "--append", "--out", out)
    assert r.exit_code == 0 and len(out.read_text().splitlines()) == 1 + 12


def test_empty_input_is_an_error_and_writes_nothing(tmp_path, traj_file):
    empty = tmp_path / "empty.jsonl"
    empty.write_text("")
    r = invoke("critique", "-t", empty, "--kind", "scalar", "--out", tmp_path / "fb.jsonl")
    assert r.exit_code == 1 and "no trajectories in the file" in r.output and not (tmp_path / "fb.jsonl").exists()
    r = invoke("interpret", "-f", empty, "-t", traj_file, "--out", tmp_path / "targets.jsonl")
    assert r.exit_code == 1 and "no text feedback" in r.output and not (tmp_path / "targets.jsonl").exists()


def test_append_checks_the_batch_against_the_file_under_its_lock(tmp_path, doorkey_trajectories):
    out = tmp_path / "t.jsonl"
    write_trajectories(out, doorkey_trajectories[:2])
    before = out.read_bytes()
    with pytest.raises(NlfError, match="is already in the file; nothing appended") as e:
        with open_output(out, append=True) as w:
            w.write(doorkey_trajectories[2].to_json())
            w.write(doorkey_trajectories[1].to_json())  # already there
    assert out.read_bytes() == before and f"{out}: nothing appended (the file is as it was)" in e.value.__notes__
    with open_output(out, append=True) as w:
        w.write(doorkey_trajectories[2].to_json())
    assert len(read_trajectories(out).records) == 3 and not list(tmp_path.glob(".t.jsonl.*"))


def test_atomic_path_replaces_only_on_success(tmp_path):
    out = tmp_path / "model.pt"
    out.write_text("old")
    with pytest.raises(RuntimeError) as e, atomic_path(out, force=True) as tmp:
        tmp.write_text("half")
        raise RuntimeError("training failed")
    assert out.read_text() == "old" and not tmp.exists() and e.value.__notes__ == [f"{out}: left as it was "
                                                                                    "(nothing of this run was written)"]
    with atomic_path(out, force=True) as tmp:
        tmp.write_text("new")
    assert out.read_text() == "new" and [p.name for p in tmp_path.iterdir()] == ["model.pt"]


# --------------------------------------------------------------------------------------------- 9: run folders


def test_train_agent_never_touches_an_existing_run_without_force(tmp_path):
    run = tmp_path / "agent"
    run.mkdir()
    for name, text in (("policy.zip", "old policy"), ("curve.jsonl", '{"steps": 1}\n'), ("summary.json", "{}")):
        (run / name).write_text(text)
    r = invoke("train-agent", "--steps", "1000", "--eval-every", "500", "--eval-episodes", "1", "--out", run)
    assert r.exit_code == 1 and "already holds a run; pass --force" in r.output
    assert (run / "curve.jsonl").read_text() == '{"steps": 1}\n' and (run / "policy.zip").read_text() == "old policy"


def test_staged_dir_keeps_the_old_run_until_the_new_one_is_complete(tmp_path):
    run = tmp_path / "agent"
    run.mkdir()
    (run / "curve.jsonl").write_text("old\n")
    with pytest.raises(KeyboardInterrupt), staged_dir(run, force=True) as tmp:
        (tmp / "curve.jsonl").write_text("new, cut short\n")
        raise KeyboardInterrupt
    assert (run / "curve.jsonl").read_text() == "old\n" and sorted(p.name for p in tmp_path.iterdir()) == ["agent"]
    with staged_dir(run, force=True) as tmp:
        (tmp / "curve.jsonl").write_text("new\n")
    assert (run / "curve.jsonl").read_text() == "new\n" and sorted(p.name for p in tmp_path.iterdir()) == ["agent"]
    reward = run / "reward.pt"
    reward.write_text("")
    with pytest.raises(NlfError, match="holds an input of this command"), staged_dir(run, force=True, inputs=[reward]):
        pass


def test_staged_dir_can_keep_what_a_stopped_run_wrote(tmp_path):
    run = tmp_path / "agent"
    run.mkdir()
    (run / "curve.jsonl").write_text("old\n")
    for text in ("first, cut short\n", "second, cut short\n"):  # a newer partial run replaces an older one
        with pytest.raises(KeyboardInterrupt) as info, staged_dir(run, force=True, keep_partial=True) as tmp:
            (tmp / "curve.jsonl").write_text(text)
            raise KeyboardInterrupt
        assert (run / "curve.jsonl").read_text() == "old\n"
        assert (tmp_path / "agent.partial" / "curve.jsonl").read_text() == text
        assert sorted(p.name for p in tmp_path.iterdir()) == ["agent", "agent.partial"]
        assert any("agent.partial: what this run wrote" in n for n in info.value.__notes__)
    with pytest.raises(RuntimeError), staged_dir(tmp_path / "empty", keep_partial=True):  # nothing written: nothing kept
        raise RuntimeError
    assert sorted(p.name for p in tmp_path.iterdir()) == ["agent", "agent.partial"]


@pytest.mark.slow
def test_sigterm_during_train_agent_force_keeps_the_old_run(tmp_path):
    run = tmp_path / "agent"
    run.mkdir()
    (run / "curve.jsonl").write_text('{"steps": 1}\n')
    proc = subprocess.Popen([*NLF, "train-agent", "--steps", "1000000", "--eval-every", "1000", "--eval-episodes",
                             "1", "--force", "--out", str(run)], cwd=REPO, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    # training has written its first evaluation into its own folder (the file exists before its first line)
    while not any(p.stat().st_size for p in tmp_path.glob(".agent.*.tmp/curve.jsonl")):
        assert proc.poll() is None and time.monotonic() < deadline, proc.stderr.read()
        time.sleep(0.1)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 143 and f"terminated; {run}: left as it was" in err, err
    assert (run / "curve.jsonl").read_text() == '{"steps": 1}\n'
    # what the stopped run wrote is kept beside it, not deleted: its curve so far
    partial = tmp_path / "agent.partial"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["agent", "agent.partial"] and f"{partial}: what this run" in err
    assert json.loads((partial / "curve.jsonl").read_text().splitlines()[0])["steps"] >= 1000


# --------------------------------------------------------------------------------------------- 10: signals during --force


@pytest.mark.parametrize("sig, code, word", [(signal.SIGTERM, 143, "terminated"), (signal.SIGINT, 130, "interrupted")])
def test_a_signal_during_force_keeps_the_old_file_and_leaves_no_temp_file(tmp_path, sig, code, word):
    out = tmp_path / "t.jsonl"
    out.write_text("old\n")
    proc = subprocess.Popen([*NLF, "rollout", "--episodes", "100000", "--force", "--out", str(out)], cwd=REPO,
                            stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    while not any(p.stat().st_size for p in tmp_path.glob(".t.jsonl.*.tmp")):  # it is writing
        assert proc.poll() is None and time.monotonic() < deadline, proc.stderr.read()
        time.sleep(0.05)
    proc.send_signal(sig)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == code, err
    assert f"{word}; {out}: left as it was (nothing of this run was written)" in err
    assert "everything written so far is kept" not in err
    assert out.read_text() == "old\n" and [p.name for p in tmp_path.iterdir()] == ["t.jsonl"]


# --------------------------------------------------------------------------------------------- 4: env_id, env_kwargs


@pytest.mark.parametrize("env_id, env_kwargs, message", [
    ("CartPole-v1", {}, "field 'env_id': 'CartPole-v1' is not a task of the suite"),
    ("MiniGrid-DoorKey-5x5-v0", {"foo": 1}, "field 'env_kwargs': 'foo' is not a setting of this task "
                                            "(allowed: size, max_steps)"),
    ("MiniGrid-DoorKey-5x5-v0", {"size": "abc"}, "field 'env_kwargs': 'size' must be a whole number from 5 to 16, "
                                                 "got 'abc'"),
    ("MiniGrid-DoorKey-5x5-v0", {"size": 3}, "field 'env_kwargs': 'size' must be from 5 to 16, got 3"),
    ("MiniGrid-DoorKey-5x5-v0", {"size": 1000000}, "field 'env_kwargs': 'size' must be from 5 to 16, got 1000000"),
    ("MiniGrid-DoorKey-5x5-v0", {"size": True}, "field 'env_kwargs': 'size' must be a whole number from 5 to 16, "
                                              "got True"),
    ("MiniGrid-DoorKey-5x5-v0", {"max_steps": 1.5}, "field 'env_kwargs': 'max_steps' must be a whole number "
                                                  "from 1 to 100000, got 1.5"),
    ("MiniGrid-DoorKey-5x5-v0", {"render_mode": "human"}, "field 'env_kwargs': 'render_mode' is never read from a file"),
    ("MiniGrid-LavaCrossingS9N1-v0", {"size": 10}, "field 'env_kwargs': 'size' must be odd, got 10"),
])
def test_env_id_and_kwargs_are_checked_when_read(tmp_path, doorkey_trajectories, env_id, env_kwargs, message):
    rec = doorkey_trajectories[0].to_json()
    rec.update(env_id=env_id, env_kwargs=env_kwargs)
    path = write_lines(tmp_path / "t.jsonl", [doorkey_trajectories[1].to_json(), rec])
    with pytest.raises(RecordError) as e:
        read_trajectories(path)
    assert str(e.value).startswith(f"{path}:2: {message}"), str(e.value)
    # every command that reads trajectories reports it the same way, with no traceback
    fb = write_lines(tmp_path / "fb.jsonl", [human_text(doorkey_trajectories[1], "fb-1", "nice")])
    for args in (["trajectories", "validate", path, "--replay", "all"],
                 ["critique", "-t", path, "--kind", "scalar", "--out", tmp_path / "o.jsonl"],
                 ["interpret", "-f", fb, "-t", path, "--out", tmp_path / "o.jsonl"],
                 ["train-reward", "-f", fb, "-t", path, "--kind", "text", "--out", tmp_path / "o.pt"],
                 ["show", path, "--index", "1"]):
        r = invoke(*args)
        assert r.exit_code == 1 and f"{path}:2: {message}" in r.output and "Traceback" not in r.output, r.output


def test_a_collector_refuses_such_a_file_at_start_instead_of_a_bare_500(tmp_path, doorkey_trajectories):
    rec = doorkey_trajectories[0].to_json()
    rec["env_kwargs"] = {"size": 1000000}
    path = write_lines(tmp_path / "t.jsonl", [rec])
    r = subprocess.run([*NLF, "serve", "-t", str(path), "--out", str(tmp_path / "h.jsonl"), "--port", "0"], cwd=REPO,
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 1 and f"{path}:1: field 'env_kwargs'" in r.stderr and "Traceback" not in r.stderr


def test_get_task_checks_kwargs_and_no_file_can_set_render_mode():
    assert get_task("doorkey-5x5", {"size": 8, "max_steps": 20}).make_env().unwrapped.max_steps == 20
    for bad in ({"render_mode": "human"}, {"size": 0}, {"foo": 1}):
        with pytest.raises(UnknownTask, match="env_kwargs of doorkey-5x5"):
            get_task("doorkey-5x5", bad)
    with pytest.raises(UnknownTask, match="not a task of the suite"):
        from nlfeedback.envs.tasks import task_for_env_id

        task_for_env_id("CartPole-v1")


KWARG_VALUES = st.one_of(st.integers(-10**7, 10**7), st.text(max_size=6), st.booleans(), st.none(),
                         st.floats(allow_nan=False, allow_infinity=False), st.lists(st.integers(0, 9), max_size=2))
ENV_IDS = st.sampled_from([t.env_id for t in SUITE] + ["CartPole-v1", "MiniGrid-Empty-5x5-v0", ""]) | st.text(max_size=8)


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                   HealthCheck.too_slow])
@given(env_id=ENV_IDS, env_kwargs=st.dictionaries(
    st.sampled_from(["size", "max_steps", "render_mode", "agent_start_pos", "num_crossings", "foo"]) | st.text(max_size=5),
    KWARG_VALUES, max_size=3))
def test_fuzzed_env_settings_are_read_or_rejected_by_field_and_never_crash_a_replay(doorkey_trajectories, env_id,
                                                                                    env_kwargs):
    from nlfeedback.validate import validate_trajectory_file

    rec = doorkey_trajectories[0].to_json()
    rec.update(env_id=env_id, env_kwargs=env_kwargs)
    with tempfile.TemporaryDirectory() as d:
        path = write_lines(Path(d) / "t.jsonl", [rec])
        task = next((t for t in SUITE if t.env_id == env_id), None)
        allowed = task is not None and all(k in type(task).settings and type(task).settings[k].problem(v) is None
                                           for k, v in env_kwargs.items())
        try:
            read_trajectories(path)
        except RecordError as e:
            assert not allowed and e.line == 1
            assert str(e).startswith(f"{path}:1: field 'env_id': " if task is None else f"{path}:1: field 'env_kwargs': ")
            return
        assert allowed and "render_mode" not in env_kwargs
        report = validate_trajectory_file(path, replay_mode="all", skip_invalid=True)  # only NlfErrors, if any
        assert report.replayed == 1


# --------------------------------------------------------------------------------------------- 5: user text is not markup


def test_markup_in_names_remarks_and_paths_is_printed_literally(tmp_path, traj_file, doorkey_trajectories):
    traj = doorkey_trajectories[0]
    folder = tmp_path / "odd[" / "x]"  # the path reads …/odd[/x]/…
    folder.mkdir(parents=True)
    fb = write_lines(folder / "fb[b].jsonl", [human_text(traj, "fb-[/]", "you [/red] went [bold]left", annotator="[/]")])
    r = invoke("feedback", "stats", fb)
    assert r.exit_code == 0 and "[/]" in r.output and f"{fb}:" in r.output, r.output
    r = invoke("feedback", "show", fb, "--id", "fb-[/]", "-t", traj_file)
    assert r.exit_code == 0 and '"you [/red] went [bold]left"' in r.output and "by [/]" in r.output, r.output
    r = invoke("feedback", "validate", tmp_path / "nofile[b].jsonl", "-t", traj_file)
    assert r.exit_code == 1 and "nofile[b].jsonl: no such file" in r.output
    bad = write_lines(folder / "bad[b].jsonl", ['{"schema": "nlf.feedback/1", "[/]": 1}'])
    r = invoke("feedback", "validate", bad, "-t", traj_file)
    assert r.exit_code == 1 and f"{bad}:1:" in r.output and "MarkupError" not in r.output
    rec = traj.to_json()
    rec.update(policy="[/]", captions=["[/red]"] * len(traj))
    odd = write_lines(folder / "t.jsonl", [rec])
    r = invoke("show", odd, "--steps", "0:1", "--no-grid")
    assert r.exit_code == 0 and "policy [/]" in r.output and "→ [/red]" in r.output, r.output


printable = st.text(st.characters(blacklist_categories=("Cc", "Cs", "Zl", "Zp", "Cf")), min_size=1, max_size=30)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                  HealthCheck.too_slow])
@pytest.mark.slow  # starts processes, a browser or the trained reader, or fuzzes: seconds, not ms
@given(annotator=printable.filter(lambda s: s.strip()), text=printable)
def test_fuzzed_user_strings_go_through_the_readers_and_printers_verbatim(traj_file, doorkey_trajectories,
                                                                          annotator, text):
    traj = doorkey_trajectories[0]
    with tempfile.TemporaryDirectory() as d:
        fb = write_lines(Path(d) / "fb.jsonl", [human_text(traj, "fb-1", text, annotator=annotator)])
        r = invoke("feedback", "stats", fb)
        assert r.exit_code == 0, r.output
        r = invoke("feedback", "show", fb, "--id", "fb-1", "-t", traj_file)
        assert r.exit_code == 0 and f'"{text}"' in r.output, r.output
        r = invoke("feedback", "show", fb, f"--id={text}", "-t", traj_file)
        assert r.exit_code == (0 if text == "fb-1" else 1) and "Traceback" not in r.output, r.output


# --------------------------------------------------------------------------------------------- 6: digests before learning


@pytest.mark.slow  # trains a model or runs PPO
def test_a_trajectory_with_altered_actions_trains_nothing(tmp_path, doorkey_trajectories):
    traj = write_lines(tmp_path / "t.jsonl", [tampered(doorkey_trajectories[0])] +
                       [t.to_json() for t in doorkey_trajectories[1:]])
    fb = tmp_path / "sketch.jsonl"
    good = tmp_path / "good.jsonl"
    write_trajectories(good, doorkey_trajectories)
    assert invoke("critique", "-t", good, "--kind", "sketch", "--out", fb).exit_code == 0
    out = tmp_path / "r.pt"
    r = invoke("train-reward", "-f", fb, "-t", traj, "--kind", "sketch", "--epochs", "1", "--out", out)
    assert r.exit_code == 1 and f"trajectory {doorkey_trajectories[0].id}: observation digest mismatch" in r.output
    assert not out.exists()
    assert invoke("train-reward", "-f", fb, "-t", good, "--kind", "sketch", "--epochs", "1", "--out", out).exit_code == 0
    r = invoke("eval-reward", "--reward", out, "-t", traj)
    assert r.exit_code == 1 and "digest mismatch" in r.output


def test_replays_for_training_and_metrics_check_the_digest_and_cache_by_content(doorkey_trajectories):
    from nlfeedback.reward.observations import trajectory_states
    from nlfeedback.trajectory import Trajectory
    from nlfeedback.truth.judgement import judge

    good = doorkey_trajectories[0]
    bad = Trajectory.model_validate(tampered(good))
    assert bad.id == good.id and bad.obs_digest == good.obs_digest
    judge(good), trajectory_states(good, "full")  # cached: an edited copy must not hit that cache
    for fn in (judge, trajectory_states, lambda t: trajectory_states(t, "full")):
        with pytest.raises(ReplayMismatch, match="observation digest mismatch"):
            fn(bad)
    assert judge(good) is judge(good)  # the check is cached with the result


# --------------------------------------------------------------------------------------------- 10: smaller


def test_a_key_twice_in_one_object_is_an_error(tmp_path, doorkey_trajectories):
    line = json.dumps(doorkey_trajectories[0].to_json())
    path = write_lines(tmp_path / "t.jsonl", [line[:-1] + ', "seed": 99}'])
    with pytest.raises(RecordError, match=r":1: invalid JSON: key 'seed' appears twice in one object"):
        read_trajectories(path)


def test_whole_record_errors_name_their_field_like_the_others(tmp_path, doorkey_trajectories):
    from nlfeedback.feedback import read_feedback

    rec = human_text(doorkey_trajectories[0], "fb-1", "x")
    rec.update(kind="sketch", text=None, curve=[0.0], segment=[0, 3])
    path = write_lines(tmp_path / "f.jsonl", [{k: v for k, v in rec.items() if v is not None}])
    with pytest.raises(RecordError) as e:
        read_feedback(path)
    assert str(e.value) == f"{path}:1: field 'curve': 1 values but the segment [0, 3] has 3 steps"


@pytest.fixture
def web(doorkey_trajectories, tmp_path):
    from fastapi.testclient import TestClient

    from nlfeedback.collect.collector import Collector
    from nlfeedback.collect.web.app import create_app

    with Collector(doorkey_trajectories, tmp_path / "human.jsonl") as c:
        yield TestClient(create_app(c), base_url="http://127.0.0.1:8765")


def test_the_collector_caps_bodies_and_answers_422_error_for_bad_bytes_and_repeated_keys(web):
    from nlfeedback.collect.web.app import MAX_BODY

    headers = {"content-type": "application/json"}
    r = web.post("/api/submit", content=b'{"ticket": "' + b"x" * (MAX_BODY + 10) + b'"}', headers=headers)
    assert r.status_code == 413 and "at most" in r.json()["error"]
    r = web.post("/api/submit", content=b'{"ticket": "\xff\xfe"}', headers=headers)
    assert r.status_code == 422 and r.json() == {"error": "the request body is not valid UTF-8 (byte 12)"}
    r = web.post("/api/submit", content=b'{"ticket": "a", "ticket": "b", "text": "x"}', headers=headers)
    assert r.status_code == 422 and "key 'ticket' appears twice" in r.json()["error"]
    r = web.post("/api/submit", content=b'{"ticket": "nope", "text": "fine"}', headers=headers)
    assert r.status_code == 404  # a good body still reaches the app


def test_serve_on_a_port_in_use_is_the_projects_error(tmp_path, traj_file):
    import socket

    with socket.socket() as held:
        held.bind(("127.0.0.1", 0))
        held.listen(1)
        port = held.getsockname()[1]
        r = subprocess.run([*NLF, "serve", "-t", str(traj_file), "--out", str(tmp_path / "h.jsonl"), "--port",
                            str(port)], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert r.returncode == 1, r.stderr
    assert r.stderr.startswith(f"error: cannot listen on 127.0.0.1:{port}: Address already in use")
    assert "--port 0" in r.stderr


def test_signals_wait_until_an_output_is_in_place(tmp_path):
    """The rename (or the batch append) is never cut in half: Ctrl-C arriving then is delivered after it,
    and the message says the output was written."""
    from nlfeedback.jsonl import deferred_signals

    steps = []
    with pytest.raises(KeyboardInterrupt):
        with deferred_signals():
            os.kill(os.getpid(), signal.SIGINT)
            time.sleep(0.05)
            steps.append("after the signal, still inside")
    assert steps == ["after the signal, still inside"]
    out = tmp_path / "t.jsonl"
    with pytest.raises(KeyboardInterrupt) as e:
        with open_output(out) as w:
            w.write({"id": "a"})
            real = w._commit

            def commit_then_signal():  # Ctrl-C arrives while the file is being put in place
                with deferred_signals():
                    real()
                    os.kill(os.getpid(), signal.SIGINT)
                    time.sleep(0.05)

            w._commit = commit_then_signal
    assert out.read_text() == '{"id": "a"}\n' and e.value.__notes__ == [f"{out}: written in full before the interrupt"]
