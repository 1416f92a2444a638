"""The real `nlf` commands, through typer's CliRunner and once through the installed console script."""

from __future__ import annotations

import json
import subprocess

import pytest
from typer.testing import CliRunner

from cli.main import app
from nlfeedback.errors import NlfError
from nlfeedback.trajectory import read_trajectories

runner = CliRunner()


def invoke(*args: str):
    return runner.invoke(app, list(args), catch_exceptions=False)


def test_rollout_writes_validated_trajectories_and_summary(tmp_path):
    out = tmp_path / "runs" / "demo" / "trajectories.jsonl"
    r = invoke("rollout", "--task", "doorkey-5x5", "--policy", "expert", "--epsilon", "0.2", "--mistakes", "0.3",
               "--episodes", "8", "--seed", "0", "--out", str(out))
    assert r.exit_code == 0, r.output
    assert "success" in r.output and "picked_up:key:yellow" in r.output and "wrote 8 trajectories" in r.output
    assert len(read_trajectories(out).records) == 8


def test_rollout_refuses_existing_out_and_appends_or_forces(tmp_path):
    out = tmp_path / "t.jsonl"
    assert invoke("rollout", "--episodes", "2", "--out", str(out)).exit_code == 0
    before = out.read_bytes()
    r = invoke("rollout", "--episodes", "2", "--out", str(out))
    assert r.exit_code == 1 and "already exists" in r.output
    assert out.read_bytes() == before
    r = invoke("rollout", "--episodes", "2", "--seed", "1", "--append", "--out", str(out))
    assert r.exit_code == 0 and len(read_trajectories(out).records) == 4
    r = invoke("rollout", "--episodes", "3", "--seed", "2", "--force", "--out", str(out))
    assert r.exit_code == 0 and len(read_trajectories(out).records) == 3


def test_append_refuses_a_truncated_file_and_keeps_it(tmp_path):
    out = tmp_path / "t.jsonl"
    assert invoke("rollout", "--episodes", "1", "--out", str(out)).exit_code == 0
    with open(out, "ab") as fh:
        fh.write(b'{"schema": "nlf.traj')
    before = out.read_bytes()
    r = invoke("rollout", "--episodes", "1", "--append", "--out", str(out))
    assert r.exit_code == 1 and f"{out}:2: truncated final line" in r.output
    assert out.read_bytes() == before


def test_unknown_task_lists_valid_names(tmp_path):
    r = invoke("rollout", "--task", "nope", "--out", str(tmp_path / "x.jsonl"))
    assert r.exit_code == 1 and "doorkey-5x5" in r.output and "keys-distractor" in r.output
    assert not (tmp_path / "x.jsonl").exists()


def test_show_by_index_and_id(tmp_path):
    out = tmp_path / "t.jsonl"
    invoke("rollout", "--task", "keys-distractor", "--episodes", "2", "--out", str(out))
    r = invoke("show", str(out), "--index", "1")
    assert r.exit_code == 0, r.output
    traj = read_trajectories(out).records[1]
    assert traj.id in r.output and "picked up the" in r.output and "▮" in r.output
    assert f"step {len(traj)}/{len(traj)}" in r.output
    r = invoke("show", str(out), "--id", traj.id, "--steps", "0:2", "--no-grid")
    assert r.exit_code == 0 and "step 3/" not in r.output
    r = invoke("show", str(out), "--id", "traj-missing")
    assert r.exit_code == 1 and "no trajectory with id" in r.output


def test_validate_ok_bad_line_and_skip_invalid(tmp_path, traj_file):
    r = invoke("trajectories", "validate", str(traj_file), "--replay", "all")
    assert r.exit_code == 0 and "12 valid trajectories, 12 replayed exactly" in r.output
    lines = traj_file.read_text().splitlines()
    rec = json.loads(lines[3])
    rec["actions"][0] = 9
    lines[3] = json.dumps(rec)
    tampered = json.loads(lines[5])
    tampered["actions"] = [1 - a if a in (0, 1) else a for a in tampered["actions"]]
    lines[5] = json.dumps(tampered)
    bad = tmp_path / "bad.jsonl"
    bad.write_text("\n".join(lines) + "\n")
    r = invoke("trajectories", "validate", str(bad))
    assert r.exit_code == 1 and f"{bad}:4: field 'actions.0'" in r.output
    assert "Traceback" not in r.output
    r = invoke("trajectories", "validate", str(bad), "--replay", "all", "--skip-invalid")
    assert r.exit_code == 1 and "2 invalid, 10 valid" in r.output and f"{bad}:6:" in r.output


def test_tasks_and_help():
    r = invoke("tasks")
    assert r.exit_code == 0 and "lavacrossing-9" in r.output
    for cmd in (["rollout"], ["show"], ["trajectories", "validate"], ["bench", "rollout"], ["quickstart"]):
        r = invoke(*cmd, "--help")
        assert r.exit_code == 0 and "Example" in r.output


@pytest.mark.slow  # trains a model or runs PPO
def test_quickstart_runs_an_ablation_and_prints_its_report(tmp_path):
    """The real quickstart runs the bundled quick config (about 10 minutes: CI's install step runs it);
    here the same command on a tiny config."""
    config = tmp_path / "tiny.toml"
    config.write_text('[grid]\ntasks = ["doorkey-5x5"]\nkinds = ["sketch", "oracle"]\nbudgets = [6]\nseeds = 1\n'
                      '[run]\nsteps = 2048\nrounds = 1\neval_every = 1024\neval_episodes = 2\n')
    r = invoke("quickstart", "--out", str(tmp_path / "qs"), "--config", str(config), "--workers", "1")
    assert r.exit_code == 0, r.output
    assert "2 cells: 2 ok" in r.output and "final true return" in r.output and "sketch" in r.output
    assert (tmp_path / "qs" / "report.md").exists() and "report:" in r.output


def test_bench_rollout_json():
    r = invoke("bench", "rollout", "--steps", "300", "--rounds", "1", "--json")
    assert r.exit_code == 0
    data = json.loads(r.output)
    assert data["raw_steps_per_s"] > 0 and data["tracked_steps_per_s"] > 0 and "ratio" in data
    assert data["minigrid_view_steps_per_s"] > 0 and data["view_speedup"] > 0


def test_console_script_is_installed(tmp_path):
    proc = subprocess.run(["nlf", "trajectories", "validate", str(tmp_path / "missing.jsonl")],
                          capture_output=True, text=True)
    assert proc.returncode == 1 and "no such file" in proc.stderr and "Traceback" not in proc.stderr


def test_an_input_that_is_not_a_file_is_a_clear_error(tmp_path, traj_file):
    annotations = tmp_path / "a.jsonl"
    annotations.write_text("")
    for path, runs, what in (
            (tmp_path / "missing.jsonl", None, "no such file"),  # the library's check (jsonl.input_file)
            (tmp_path, None, "is a directory, expected a JSONL file"),
            (annotations, tmp_path / "missing.json", "no such file"),  # a path opened directly: the CLI's net
            (annotations, tmp_path, "is a directory, expected a file")):
        extra = ["--runs", str(runs)] if runs else []
        r = invoke("feedback", "import-labels", str(path), "-t", str(traj_file), *extra,
                   "--out", str(tmp_path / "o.jsonl"))
        shown = runs or path
        assert r.exit_code == 1 and f"{shown}: {what}" in " ".join(r.output.split()), r.output
        assert not (tmp_path / "o.jsonl").exists()


def test_critique_and_feedback_commands(tmp_path, traj_file):
    out = tmp_path / "text.jsonl"
    r = invoke("critique", "--trajectories", str(traj_file), "--kind", "text", "--split", "heldout",
               "--noise", "mistake=0.1,skip=0.05", "--budget", "20", "--seed", "0", "--out", str(out))
    assert r.exit_code == 0, r.output
    assert "wrote 20 text feedback items" in r.output
    r = invoke("feedback", "validate", str(out), "--trajectories", str(traj_file))
    assert r.exit_code == 0 and "20 valid feedback items" in r.output
    r = invoke("feedback", "stats", str(out), "--json")
    stats = json.loads(r.output)
    assert stats["by_kind"] == {"text": 20} and stats["by_split"] == {"heldout": 20}
    assert stats["annotation_seconds"]["critic"]["text"]["items"] == 20
    first = json.loads(out.read_text().splitlines()[0])
    r = invoke("feedback", "show", str(out), "--id", first["id"], "--trajectories", str(traj_file))
    assert r.exit_code == 0 and first["id"] in r.output and first["text"] in r.output
    # refusing an existing --out keeps it; --append adds with new ids; the same seed again collides
    before = out.read_bytes()
    r = invoke("critique", "-t", str(traj_file), "--kind", "text", "--budget", "5", "--out", str(out))
    assert r.exit_code == 1 and "already exists" in r.output and out.read_bytes() == before
    r = invoke("critique", "-t", str(traj_file), "--kind", "scalar", "--budget", "5", "--seed", "1", "--append",
               "--out", str(out))
    assert r.exit_code == 0
    r = invoke("critique", "-t", str(traj_file), "--kind", "scalar", "--budget", "5", "--seed", "1", "--append",
               "--out", str(out))
    assert r.exit_code == 1 and "already in the file" in r.output
    assert len(out.read_text().splitlines()) == 25


def test_feedback_validate_reports_file_line_field(tmp_path, traj_file):
    out = tmp_path / "s.jsonl"
    assert invoke("critique", "-t", str(traj_file), "--kind", "sketch", "--budget", "3", "--out", str(out)).exit_code == 0
    lines = out.read_text().splitlines()
    rec = json.loads(lines[1])
    rec["curve"] = rec["curve"][:-1]
    lines[1] = json.dumps(rec)
    out.write_text("\n".join(lines) + "\n")
    r = invoke("feedback", "validate", str(out), "--trajectories", str(traj_file))
    assert r.exit_code == 1 and f"{out}:2: " in r.output and "field 'curve': " in r.output and "Value error" not in r.output
    r = invoke("feedback", "validate", str(out), "--trajectories", str(traj_file), "--skip-invalid")
    assert r.exit_code == 1 and "1 invalid, 2 valid" in r.output
    r = invoke("critique", "-t", str(traj_file), "--kind", "text", "--noise", "bogus=1", "--out", str(tmp_path / "x"))
    assert r.exit_code == 1 and "unknown noise" in r.output


@pytest.mark.slow  # starts processes, a browser or the trained reader, or fuzzes: seconds, not ms
def test_interpret_and_eval_interpreter(tmp_path, traj_file):
    fb = tmp_path / "text.jsonl"
    assert invoke("critique", "-t", str(traj_file), "--kind", "text", "--budget", "30", "--out", str(fb)).exit_code == 0
    with open(fb, "a") as fh:  # a human remark (no intent) and gibberish flow through too
        first = json.loads(fb.read_text().splitlines()[0])
        for i, text in enumerate(["don't bump into the wall", "asdf qwer"]):
            rec = {k: first[k] for k in ("schema", "kind", "trajectory_id", "segment", "created_at")}
            rec.update(id=f"fb-human-{i}", source={"type": "human", "annotator": "ann"}, annotation_seconds=4.2,
                       text=text)
            fh.write(json.dumps(rec) + "\n")
    out = tmp_path / "targets.jsonl"
    r = invoke("interpret", "--feedback", str(fb), "--trajectories", str(traj_file), "--interpreter", "trained",
               "--out", str(out))
    assert r.exit_code == 0, r.output
    recs = [json.loads(x) for x in out.read_text().splitlines()]
    own = [x for x in recs if "rule_of" not in x]
    assert len(own) == 32 and all(x["schema"] == "nlf.targets/1" for x in recs)
    gib = next(x for x in own if x["feedback_id"] == "fb-human-1")
    assert not any(gib["weights"])
    for x in recs:
        assert len(x["targets"]) == len(x["weights"])
    r = invoke("eval-interpreter", "--feedback", str(fb), "--trajectories", str(traj_file), "--interpreter",
               "keyword", "--json")
    assert r.exit_code == 0, r.output
    rep = json.loads(r.output)
    assert rep["overall"]["items"] == 30 and rep["skipped_no_intent"] == 2 and "by_category" in rep
    r = invoke("eval-interpreter", "-f", str(fb), "-t", str(traj_file), "--interpreter", "keyword", "--json",
               "--intervals", "--resample", "text")
    assert r.exit_code == 0, r.output
    rep = json.loads(r.output)
    assert rep["intervals_resample"] == "text" and set(rep["intervals"]) >= {"clause_sign_error_rate", "attribution_f1"}
    r = invoke("eval-interpreter", "-f", str(fb), "-t", str(traj_file), "--intervals", "--resample", "phrase")
    assert r.exit_code == 1 and "--resample: 'trajectory' or 'text'" in r.output
    r = invoke("eval-interpreter", "-f", str(fb), "-t", str(traj_file), "--interpreter", "oracle-intent")
    assert r.exit_code == 0 and "overall" in r.output
    errors = tmp_path / "misread.jsonl"
    r = invoke("eval-interpreter", "-f", str(fb), "-t", str(traj_file), "--interpreter", "keyword", "--errors", str(errors))
    assert r.exit_code == 0 and "misread items" in r.output, r.output
    recs = [json.loads(x) for x in errors.read_text().splitlines()]
    assert recs and {x["problem"] for x in recs} <= {"misread", "negation-probe"}
    r = invoke("eval-interpreter", "-f", str(fb), "-t", str(traj_file), "--errors", str(errors))
    assert r.exit_code == 1 and "already exists; pass --force" in r.output
    assert "--append" not in r.output  # the command has no --append: the message must not offer it
    assert [json.loads(x) for x in errors.read_text().splitlines()] == recs  # not touched


@pytest.mark.slow
def test_train_interpreter_cli(tmp_path):
    out = tmp_path / "i.pt"
    r = invoke("train-interpreter", "--generate", "--tasks", "doorkey-5x5", "--items", "30", "--episodes", "5",
               "--epochs", "1", "--train-layers", "1", "--out", str(out))
    assert r.exit_code == 0, r.output
    assert out.exists() and "trained on 30 remarks (0 human, 30 critic)" in r.output
    from nlfeedback.language.interpreters.trained import TrainedInterpreter

    back = TrainedInterpreter.load(out)
    assert back.meta["config"]["reader"]["train_layers"] == 1 and back.meta["report"]["remarks"] == 30
    r = invoke("train-interpreter", "--out", str(tmp_path / "other.pt"))
    assert r.exit_code == 1 and "--generate" in r.output
    before = out.read_bytes()
    r = invoke("train-interpreter", "--generate", "--out", str(out))  # replaces a checkpoint only with --force
    assert r.exit_code == 1 and "already exists; pass --force" in r.output and out.read_bytes() == before
    r = invoke("train-interpreter", "--generate", "--tasks", "doorkey-5x5", "--items", "30", "--episodes", "5",
               "--epochs", "1", "--train-layers", "1", "--seed", "1", "--out", str(out), "--force")
    assert r.exit_code == 0, r.output
    assert out.read_bytes() != before and TrainedInterpreter.load(out).meta["config"]["seed"] == 1
    # --init continues a checkpoint with its own reader options: conflicting ones are refused before any work
    r = invoke("train-interpreter", "--generate", "--init", str(out), "--places", "--out", str(tmp_path / "c.pt"))
    assert r.exit_code == 1 and "--init continues a checkpoint" in r.output and not (tmp_path / "c.pt").exists()
    r = invoke("train-interpreter", "--generate", "--tasks", "doorkey-5x5", "--items", "30", "--episodes", "5",
               "--epochs", "1", "--init", str(out), "--lr-encoder", "1e-5", "--out", str(tmp_path / "c.pt"))
    assert r.exit_code == 0, r.output
    cont = TrainedInterpreter.load(tmp_path / "c.pt").meta
    assert cont["config"]["init"] == str(out) and cont["config"]["reader"]["train_layers"] == 1
    assert cont["config"]["lr_encoder"] == 1e-5 and len(cont["report"]["init_sha256"]) == 64


@pytest.mark.slow  # starts processes, a browser or the trained reader, or fuzzes: seconds, not ms
def test_bench_interpret_json():
    r = invoke("bench", "interpret", "--items", "20", "--json")
    assert r.exit_code == 0, r.output
    data = json.loads(r.output)
    assert data["cold_items_per_s"] > 0 and data["warm_items_per_s"] > 0 and data["items"] == 20


@pytest.mark.slow  # trains a model or runs PPO
def test_train_and_eval_reward(tmp_path, traj_file):
    fb = tmp_path / "sketch.jsonl"
    assert invoke("critique", "-t", str(traj_file), "--kind", "sketch", "--out", str(fb)).exit_code == 0
    out = tmp_path / "r.pt"
    r = invoke("train-reward", "-f", str(fb), "-t", str(traj_file), "--kind", "sketch", "--epochs", "2",
               "--out", str(out))
    assert r.exit_code == 0, r.output
    assert out.exists() and "saved" in r.output
    r = invoke("eval-reward", "--reward", str(out), "-t", str(traj_file), "--json")
    assert r.exit_code == 0, r.output
    data = json.loads(r.output)
    assert data["kind"] == "sketch" and "reward_spearman" in data and "goal" in data["event_sign_agreement"]
    lava = tmp_path / "lava.jsonl"
    assert invoke("rollout", "--task", "lavagap-5", "--episodes", "2", "--out", str(lava)).exit_code == 0
    r = invoke("eval-reward", "--reward", str(out), "-t", str(lava))
    assert r.exit_code == 1 and "trained on MiniGrid-DoorKey-5x5-v0" in r.output
    before = out.read_bytes()
    r = invoke("train-reward", "-f", str(fb), "-t", str(traj_file), "--kind", "sketch", "--out", str(out))
    assert r.exit_code == 1 and "already exists; pass --force" in r.output
    r = invoke("train-reward", "-f", str(fb), "-t", str(traj_file), "--kind", "text", "--force", "--out", str(out))
    assert r.exit_code == 1 and "no text feedback" in r.output
    assert out.read_bytes() == before
    assert not list(tmp_path.glob(".r.pt.*"))


@pytest.mark.slow  # trains a model or runs PPO
def test_train_agent_cli_and_bench_agent(tmp_path):
    out = tmp_path / "agent"
    r = invoke("train-agent", "--task", "doorkey-5x5", "--reward", "oracle", "--steps", "2048", "--eval-every",
               "1024", "--eval-episodes", "2", "--out", str(out), "--json")
    assert r.exit_code == 0, r.output
    summary = json.loads(r.output)
    assert summary["reward"] == "oracle" and (out / "policy.zip").exists() and (out / "curve.jsonl").exists()
    r = invoke("train-agent", "--reward", str(tmp_path / "missing.pt"), "--out", str(out))
    assert r.exit_code == 1 and "no reward checkpoint" in r.output
    r = invoke("bench", "agent", "--steps", "1024", "--rounds", "1", "--json")
    assert r.exit_code == 0, r.output
    data = json.loads(r.output)
    assert data["oracle_fps"] > 0 and data["learned_reward_fps"] > 0


def test_prepare_output_names_only_the_flags_a_command_has(tmp_path):
    from nlfeedback.jsonl import prepare_output

    out = tmp_path / "x.jsonl"
    out.write_text("{}\n")
    with pytest.raises(NlfError, match="pass --append to add to it or --force"):
        prepare_output(out)
    with pytest.raises(NlfError) as e:
        prepare_output(out, can_append=False)
    assert "pass --force to replace it" in str(e.value) and "--append" not in str(e.value)
    assert prepare_output(out, force=True, can_append=False) == out and out.read_text() == "{}\n"


def test_progress_in_a_log_is_a_line_at_every_tenth(capsys):
    """Long commands (train-interpreter) run in the background with stderr in a log file: no bar there,
    but a line at every tenth of the way."""
    from cli.common import progress_bar

    with progress_bar("training") as advance:
        for done in range(1, 41):
            advance(done, 40)
    lines = capsys.readouterr().err.splitlines()
    assert len(lines) == 10 and lines[0].startswith("training: 4/40 (10%)") and "min left" in lines[0]
    assert lines[-1].startswith("training: 40/40 (100%)")
