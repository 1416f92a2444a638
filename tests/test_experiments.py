"""Ablations: config validation and expansion, the sweep runner (resume, failures, workers, Ray), the report."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import numpy as np
import pytest
from scipy import stats
from typer.testing import CliRunner

from cli.main import app
from nlfeedback.errors import NlfError
from nlfeedback.experiments.analysis import analyse, arm_groups, efficiency_ranking, proxy_panels
from nlfeedback.experiments.config import RUN_DEFAULTS, Cell, ConfigError, find_config, load_config, parse_config, parse_selection
from nlfeedback.experiments.report import build_report
from nlfeedback.experiments.results import load_results
from nlfeedback.experiments.runner import RESULT_SCHEMA, run_ablation
from tests import experiment_cells as ec

REPO = Path(__file__).resolve().parents[1]
ABLATIONS = REPO / "nlfeedback" / "resources" / "ablations"

GRID = """
name = "tiny"
[grid]
tasks = ["doorkey-5x5"]
kinds = ["text:trained", "sketch", "scalar", "oracle"]
budgets = [10, 20]
seeds = 2
[run]
steps = 3000
rounds = 1
eval_every = 1000
"""


def tiny(text: str = GRID, source: str = "tiny.toml"):
    return parse_config(text, source)


def results(out: Path) -> dict[str, dict]:
    return {p.parent.name: json.loads(p.read_text()) for p in (out / "cells").glob("*/result.json")}


def runs_of(out: Path, key: str) -> int:
    """How many times the fake cell function ran for ``key`` (it leaves one marker per call)."""
    return len(list((out / "cells" / key).glob("ran-*")))


# --------------------------------------------------------------------------------------------- config


@pytest.mark.parametrize("snippet, message", [
    ('[grid]\ntasks=["doorkey-5x5"]\nkinds=["sketch"]\nbudgets=[50, 150, -5]\nseeds=2',
     "bad.toml: grid.budgets[2]: must be a positive integer, got -5"),
    ('[grid]\ntasks=["doorkey-5x5"]\nkinds=["sketch"]\nbudgets=[50, 1.5]\nseeds=2',
     "bad.toml: grid.budgets[1]: must be a positive integer, got 1.5"),
    ('[grid]\ntasks=["doorkey-5x5"]\nkinds=["sketch"]\nbudget=[50]\nseeds=2',
     "bad.toml: grid.budget: unknown key; did you mean 'budgets'?"),
    ('[grid]\ntasks=["doorky-5x5"]\nkinds=["sketch"]\nbudgets=[50]\nseeds=2',
     "bad.toml: grid.tasks[0]: unknown task 'doorky-5x5'; did you mean 'doorkey-5x5'?"),
    ('[grid]\ntasks=["doorkey-5x5"]\nkinds=["sketch", "text"]\nbudgets=[50]\nseeds=2',
     'bad.toml: grid.kinds[1]: text needs its interpreter, e.g. "text:trained"'),
    ('[grid]\ntasks=["doorkey-5x5"]\nkinds=["text:psychic"]\nbudgets=[50]\nseeds=2',
     "bad.toml: grid.kinds[0]: unknown interpreter 'psychic'"),
    ('[grid]\ntasks=["doorkey-5x5"]\nkinds=["sketchy"]\nbudgets=[50]\nseeds=2',
     "bad.toml: grid.kinds[0]: unknown kind 'sketchy'"),
    ('[grid]\ntasks=["doorkey-5x5"]\nkinds=["text:trained@poetry"]\nbudgets=[50]\nseeds=2',
     "bad.toml: grid.kinds[0]: unknown phrasing 'poetry' after '@'"),
    ('[grid]\ntasks=["doorkey-5x5"]\nkinds=["sketch@train"]\nbudgets=[50]\nseeds=2',
     "bad.toml: grid.kinds[0]: unknown kind 'sketch@train'"),
    ('[grid]\ntasks=["doorkey-5x5"]\nkinds=["sketch", "sketch"]\nbudgets=[50]\nseeds=2',
     "bad.toml: grid.kinds[1]: duplicate 'sketch'"),
    ('[grid]\ntasks=["doorkey-5x5"]\nkinds=["sketch"]\nbudgets=[50]\nnoise=["mistake=2"]\nseeds=2',
     "bad.toml: grid.noise[0]: noise mistake must be in [0, 1], got 2.0"),
    ('[grid]\ntasks=["doorkey-5x5"]\nkinds=["sketch"]\nbudgets=[50]\nnoise=["", "vague=0.2"]\nseeds=2',
     "bad.toml: grid.noise[1]: vague applies to text feedback only"),
    ('[grid]\ntasks=["doorkey-5x5"]\nkinds=["sketch"]\nbudgets=[50]\nseeds=[0, -1]',
     "bad.toml: grid.seeds[1]: must be a non-negative integer, got -1"),
    ('[grid]\ntasks=["doorkey-5x5"]\nkinds=["sketch"]\nbudgets=[50]',
     "bad.toml: grid.seeds: missing (required)"),
    ('[grid]\ntasks=["doorkey-5x5"]\nkinds=["sketch"]\nseeds=1',
     "bad.toml: grid.budgets: missing (required)"),
    ('[grid]\ntasks=["doorkey-5x5"]\nkinds=["sketch"]\nbudgets=[50]\nseeds=1\n[run]\nsteps=0',
     "bad.toml: run.steps: must be a positive integer, got 0"),
    ('[grid]\ntasks=["doorkey-5x5"]\nkinds=["sketch"]\nbudgets=[50]\nseeds=1\n[run]\nepochs=3',
     "bad.toml: run.epochs: unknown key"),
    ('[grid]\ntasks=["doorkey-5x5"]\nkinds=["sketch"]\nbudgets=[3]\nseeds=1\n[run]\nrounds=5',
     "bad.toml: grid.budgets[0]: 3 is fewer items than run.rounds (5)"),
    ('title="x"\n[grid]\ntasks=["doorkey-5x5"]\nkinds=["sketch"]\nbudgets=[50]\nseeds=1',
     "bad.toml: title: unknown key"),
    ('[grid\ntasks=1', "bad.toml: invalid TOML"),
])
def test_config_errors_name_the_file_and_key_path(snippet, message):
    with pytest.raises(ConfigError) as e:
        parse_config(snippet, "bad.toml")
    assert message in str(e.value)


def test_config_reports_every_problem_at_once():
    with pytest.raises(ConfigError) as e:
        parse_config('[grid]\ntasks=["mars"]\nkinds=["sketch:x"]\nbudgets=[0]\nseeds=0\n[run]\nrounds=-1', "bad.toml")
    assert len(e.value.problems) == 5
    assert all(line.startswith("bad.toml: ") for line in str(e.value).splitlines()[1:])


def test_cells_expand_the_grid_text_carries_its_interpreter_oracle_ignores_budget_and_noise():
    cfg = parse_config(GRID.replace("budgets = [10, 20]", 'budgets = [10, 20]\nnoise = ["", "mistake=0.1"]'))
    cells = cfg.cells()
    # 3 feedback arms × 2 budgets × 2 noise levels × 2 seeds + oracle × 2 seeds
    assert len(cells) == 3 * 2 * 2 * 2 + 2
    assert len({c.key for c in cells}) == len(cells)
    oracle = [c for c in cells if c.kind == "oracle"]
    assert [(c.budget, c.noise, c.interpreter, c.seed) for c in oracle] == [(None, "", None, 0), (None, "", None, 1)]
    assert oracle[0].key == "doorkey-5x5__oracle__s0"
    text = [c for c in cells if c.kind == "text"]
    assert {c.interpreter for c in text} == {"trained"}
    assert Cell("doorkey-5x5", "text", "trained", 10, "mistake=0.1", 1).key == \
        "doorkey-5x5__text-trained__b10__mistake0.1__s1"
    assert all(c.interpreter is None for c in cells if c.kind in ("sketch", "scalar"))
    kw = text[0].online_kwargs(cfg.run)
    assert kw == {"task": "doorkey-5x5", "kind": "text", "seed": 0, "steps": 3000, "rounds": 1, "eval_every": 1000,
                  "eval_episodes": 20, "budget": 10, "noise": "", "interpreter": "trained"}
    assert "budget" not in oracle[0].online_kwargs(cfg.run) and "noise" not in oracle[0].online_kwargs(cfg.run)


def test_the_dense_judgement_is_a_reference_like_the_oracle():
    cfg = parse_config('[grid]\ntasks=["doorkey-5x5"]\nkinds=["judgement", "oracle"]\nseeds=2')
    cells = cfg.cells()
    assert [c.key for c in cells] == ["doorkey-5x5__judgement__s0", "doorkey-5x5__judgement__s1",
                                      "doorkey-5x5__oracle__s0", "doorkey-5x5__oracle__s1"]
    kw = cells[0].online_kwargs(cfg.run)
    assert kw["kind"] == "judgement" and "budget" not in kw and "reward_form" not in kw
    assert parse_selection(cfg, ["kind=judgement"])(cells[0]) and not parse_selection(cfg, ["kind=oracle"])(cells[0])


def test_a_text_arm_may_name_its_phrase_bank():
    cfg = parse_config('[grid]\ntasks=["doorkey-5x5"]\nkinds=["text:trained", "text:trained@train", '
                       '"text:oracle-intent@train+preference"]\nbudgets=[10]\nseeds=1\n[run]\nrounds=1')
    assert [k.label for k in cfg.kinds] == ["text:trained", "text:trained@train", "text:oracle-intent@train+preference"]
    plain, banked, mixed = cfg.cells()
    assert plain.phrasing is None and "phrasing" not in plain.online_kwargs(cfg.run)  # the run's default bank
    assert "phrasing" not in plain.to_json()  # older runs' cell specs still match
    assert banked.key == "doorkey-5x5__text-trained@train__b10__noise-off__s0"
    assert banked.online_kwargs(cfg.run)["phrasing"] == "train" and banked.to_json()["phrasing"] == "train"
    assert (mixed.kind, mixed.interpreter, mixed.phrasing) == ("text+preference", "oracle-intent", "train")


def test_seeds_list_and_canonical_noise():
    cfg = parse_config('[grid]\ntasks=["lavagap-5"]\nkinds=["preference"]\nbudgets=[40]\nseeds=[3, 7]\n'
                       'noise=["skip=0.05, mistake=0.1"]')
    assert cfg.seeds == (3, 7)
    assert cfg.noise == ("mistake=0.1,skip=0.05",)
    assert [c.key for c in cfg.cells()] == ["lavagap-5__preference__b40__mistake0.1+skip0.05__s3",
                                            "lavagap-5__preference__b40__mistake0.1+skip0.05__s7"]


def test_shipped_configs_are_valid():
    default = load_config(ABLATIONS / "default.toml")
    assert default.tasks == ("doorkey-5x5", "lavagap-5")
    assert [k.label for k in default.kinds] == ["text:trained", "text:zero-shot", "text:oracle-intent", "sketch",
                                                "scalar", "preference", "oracle"]
    assert default.budgets == (50, 150, 500) and len(default.seeds) == 5 and default.run.steps == 150_000
    assert len(default.cells()) == 2 * (6 * 3 + 1) * 5
    quick = load_config(ABLATIONS / "quick.toml")
    assert quick.tasks == ("doorkey-5x5",) and len(quick.seeds) == 2
    assert [k.label for k in quick.kinds] == ["text:trained", "sketch", "scalar", "preference", "oracle"]
    # the quickstart must finish in ≤ 10 min on 2 cores at ~2.5k PPO steps/s per core: keep it ≲ 1.2M steps
    assert sum(quick.run.steps for _ in quick.cells()) <= 1_200_000


def test_bundled_configs_are_found_by_name_and_files_win(tmp_path, monkeypatch):
    assert find_config("quick") == ABLATIONS / "quick.toml"
    assert load_config("default").cells() == load_config(ABLATIONS / "default.toml").cells()
    monkeypatch.chdir(tmp_path)
    (tmp_path / "quick").write_text('[grid]\ntasks=["lavagap-5"]\nkinds=["sketch"]\nbudgets=[5]\nseeds=1\n')
    assert load_config("quick").tasks == ("lavagap-5",)  # a file of that name is read, not the bundled one
    with pytest.raises(NlfError, match="nosuch: no such config file \\(bundled configs: quick, default, acceptance, misgeneralisation, misgeneralisation-full, gaming, gaming-full, gaming-shaped, gaming-refit, harder-task, study\\)"):
        find_config("nosuch")


def test_run_defaults_follow_the_online_loop():
    online = pytest.importorskip("nlfeedback.experiments.online")
    defaults = online.OnlineConfig()
    assert {k: getattr(defaults, k) for k in RUN_DEFAULTS} == RUN_DEFAULTS


# --------------------------------------------------------------------------------------------- runner


@pytest.mark.slow  # starts processes, a browser or the trained reader, or fuzzes: seconds, not ms
def test_failing_cell_is_recorded_and_the_rest_complete(tmp_path):
    cfg = tiny()
    summary = run_ablation(cfg, tmp_path, workers=1, cell_fn=ec.flaky_cell, config_text=GRID)
    failed = {c.key for c in cfg.cells() if c.kind == "scalar" and c.seed == 1}
    assert summary.total == 14 and summary.failed == 2 and summary.ok == 12
    assert set(summary.failed_cells) == failed
    res = results(tmp_path)
    assert len(res) == 14
    for key, r in res.items():
        assert r["schema"] == RESULT_SCHEMA and r["key"] == key
        if key in failed:
            assert r["status"] == "failed"
            assert r["error"] == f"RuntimeError: injected failure in {key}"
            assert "Traceback" in r["traceback"] and "flaky_cell" in r["traceback"]
        else:
            assert r["status"] == "ok" and r["final"]["true_return"] > 0 and r["cell"]["key"] == key
    meta = json.loads((tmp_path / "ablation.json").read_text())
    assert meta["config"]["name"] == "tiny" and meta["cells"] == 14 and "torch" in meta["versions"]
    assert meta["sessions"][-1]["ok"] == 12 and meta["sessions"][-1]["failed"] == 2
    assert (tmp_path / "config.toml").read_text() == GRID
    assert not list(tmp_path.rglob(".result.json.tmp-*"))


@pytest.mark.slow  # starts processes, a browser or the trained reader, or fuzzes: seconds, not ms
def test_resume_skips_finished_cells_and_retries_failed_ones(tmp_path):
    cfg = tiny()
    run_ablation(cfg, tmp_path, workers=1, cell_fn=ec.flaky_cell)
    keys = [c.key for c in cfg.cells()]
    flaky = {c.key for c in cfg.cells() if c.kind == "scalar" and c.seed == 1}
    assert [runs_of(tmp_path, k) for k in keys] == [0 if k in flaky else 1 for k in keys]
    first = {k: r["finished_at"] for k, r in results(tmp_path).items()}

    (tmp_path / "cells" / keys[0] / "result.json").unlink()  # as if interrupted while running
    summary = run_ablation(cfg, tmp_path, workers=1, cell_fn=ec.fake_cell)  # the flaky cells now pass
    assert summary.skipped == 14 - 3 and summary.ran == 3 and summary.ok == 14 and summary.failed == 0
    res = results(tmp_path)
    assert all(res[k]["status"] == "ok" for k in keys)
    assert [runs_of(tmp_path, k) for k in keys] == [2 if k == keys[0] else 1 for k in keys]
    assert all(res[k]["finished_at"] == first[k] for k in keys[1:] if k not in flaky)  # untouched

    summary = run_ablation(cfg, tmp_path, workers=1, cell_fn=ec.fake_cell)
    assert summary.ran == 0 and summary.skipped == 14
    assert len(json.loads((tmp_path / "ablation.json").read_text())["sessions"]) == 3


@pytest.mark.slow  # starts processes, a browser or the trained reader, or fuzzes: seconds, not ms
def test_resume_refuses_finished_cells_with_other_settings(tmp_path):
    run_ablation(tiny(), tmp_path, workers=1, cell_fn=ec.fake_cell)
    with pytest.raises(NlfError, match="other settings than this config"):
        run_ablation(tiny(GRID.replace("steps = 3000", "steps = 6000")), tmp_path, workers=1, cell_fn=ec.fake_cell)
    # a larger grid in the same folder only runs the new cells
    bigger = tiny(GRID.replace("seeds = 2", "seeds = 3"))
    summary = run_ablation(bigger, tmp_path, workers=1, cell_fn=ec.fake_cell)
    assert summary.skipped == 14 and summary.ran == 7


@pytest.mark.slow  # starts processes, a browser or the trained reader, or fuzzes: seconds, not ms
def test_resume_refuses_to_mix_readers_and_reruns_stale_cells_on_request(tmp_path):
    from nlfeedback.language.interpreters.trained import default_checkpoint_digest

    cfg = tiny()
    run_ablation(cfg, tmp_path, workers=1, cell_fn=ec.fake_cell)
    text = [c.key for c in cfg.cells() if c.kind == "text"]
    stale, fresh = text[0], text[1]
    for key, digest in ((stale, "0123456789abcdef"), (fresh, default_checkpoint_digest())):
        path = tmp_path / "cells" / key / "result.json"
        result = json.loads(path.read_text())
        result["interpreter"] = {"name": "trained", "sha256": digest}
        path.write_text(json.dumps(result))
    before = (tmp_path / "cells" / stale / "result.json").read_text()

    with pytest.raises(NlfError, match=f"1 finished cells whose remarks another checkpoint.*{stale}.*read by "
                                       f"0123456789abcdef.*--rerun-stale"):
        run_ablation(cfg, tmp_path, workers=1, cell_fn=ec.fake_cell)
    assert (tmp_path / "cells" / stale / "result.json").read_text() == before  # nothing moved or run
    assert not (tmp_path / "stale").exists()

    summary = run_ablation(cfg, tmp_path, workers=1, cell_fn=ec.fake_cell, rerun_stale=True)
    assert summary.ran == 1 and summary.skipped == 13 and summary.ok == 14
    kept = tmp_path / "stale" / "0123456789abcdef" / stale
    assert (kept / "result.json").read_text() == before  # the other reader's cell is kept, not deleted
    assert runs_of(tmp_path, stale) == 1 and runs_of(tmp_path, fresh) == 1
    summary = run_ablation(cfg, tmp_path, workers=1, cell_fn=ec.fake_cell)  # the rerun cell is no longer stale
    assert summary.ran == 0


@pytest.mark.slow  # starts processes, a browser or the trained reader, or fuzzes: seconds, not ms
def test_a_worker_that_dies_fails_its_cell_and_the_sweep_goes_on(tmp_path):
    cfg = tiny()
    summary = run_ablation(cfg, tmp_path, workers=1, cell_fn=ec.dying_cell)
    dead = {c.key for c in cfg.cells() if c.kind == "sketch" and c.seed == 0}
    assert set(summary.failed_cells) == dead and summary.ok == 12
    for key in dead:
        error = results(tmp_path)[key]["error"]
        assert error.startswith("WorkerDied: ") and "exit code 17" in error


@pytest.mark.slow  # starts processes, a browser or the trained reader, or fuzzes: seconds, not ms
def test_progress_reports_cells_done_total_and_eta(tmp_path):
    events = []
    run_ablation(tiny(), tmp_path, workers=1, cell_fn=ec.flaky_cell, progress=events.append)
    assert events[0].done == 0 and events[0].total == 14 and events[0].eta_s is None and events[0].last is None
    assert [e.done for e in events] == list(range(15))
    assert all(e.eta_s is not None and e.eta_s >= 0 for e in events[1:]) and events[-1].eta_s == 0
    assert events[-1].failed == 2 and events[-1].ok == 12
    assert {e.last["status"] for e in events[1:]} == {"ok", "failed"}
    events.clear()
    run_ablation(tiny(), tmp_path, workers=1, cell_fn=ec.fake_cell, progress=events.append)
    assert events[0].skipped == 12 and events[0].done == 12 and events[-1].done == 14


@pytest.mark.slow  # starts processes, a browser or the trained reader, or fuzzes: seconds, not ms
def test_local_backend_runs_two_workers_in_parallel_with_one_torch_thread_each(tmp_path):
    cfg = tiny(GRID.replace('"text:trained", "sketch", "scalar", ', "").replace("budgets = [10, 20]", "budgets = [10]")
               .replace("seeds = 2", "seeds = 4"))
    assert len(cfg.cells()) == 4
    summary = run_ablation(cfg, tmp_path, workers=2, cell_fn=ec.timed_cell)
    assert summary.ok == 4
    probes = [r["probe"] for r in results(tmp_path).values()]
    assert len({p["pid"] for p in probes}) == 2 and os.getpid() not in {p["pid"] for p in probes}
    assert all(p["torch_threads"] == 1 for p in probes)
    spans = sorted((p["t0"], p["t1"]) for p in probes)
    assert any(b0 < a1 for (a0, a1), (b0, b1) in zip(spans, spans[1:])), "no two cells overlapped in time"


def test_runner_rejects_bad_arguments(tmp_path):
    with pytest.raises(NlfError, match="unknown backend"):
        run_ablation(tiny(), tmp_path, backend="slurm")
    with pytest.raises(NlfError, match="workers must be at least 1"):
        run_ablation(tiny(), tmp_path, workers=0)


# --------------------------------------------------------------------------------------------- report


def _result(task, kind, budget, seed, ret, items=None, seconds=None, interpreter=None, gaming=False):
    cell = Cell(task, kind, interpreter, budget, "", seed)
    run = tiny().run
    summary = ec.fake_summary(cell, run)
    summary["final"] = dict(summary["final"], true_return=ret)
    summary["curve"][-1] = summary["final"]
    summary["gaming"] = gaming
    if items is not None:
        summary["feedback"] = {"items": items, "annotator_seconds": seconds}
    return {"schema": RESULT_SCHEMA, "key": cell.key, "status": "ok", "cell": cell.to_json(),
            "spec": cell.online_kwargs(run), **summary}


def _write(run_dir: Path, record: dict) -> None:
    d = run_dir / "cells" / record["key"]
    d.mkdir(parents=True, exist_ok=True)
    (d / "result.json").write_text(json.dumps(record))


SKETCH = {10: [0.5, 0.6, 0.7], 20: [0.85, 0.9, 0.95]}
SCALAR = {10: [0.1, 0.2, 0.3], 20: [0.5, 0.9, 0.2]}
ORACLE = [0.9, 0.95, 1.0]


@pytest.fixture
def stored_run(tmp_path) -> Path:
    """Hand-written result files: sketch reaches 90% of the oracle at budget 20, scalar never does."""
    for seed in range(3):
        _write(tmp_path, _result("doorkey-5x5", "oracle", None, seed, ORACLE[seed]))
        for b in (10, 20):
            _write(tmp_path, _result("doorkey-5x5", "sketch", b, seed, SKETCH[b][seed], items=b - (seed == 0),
                                     seconds=10.0 * (b - (seed == 0))))
            _write(tmp_path, _result("doorkey-5x5", "scalar", b, seed, SCALAR[b][seed], items=b, seconds=3.0 * b,
                                     gaming=(b == 20 and seed == 2)))
    cell = Cell("doorkey-5x5", "text", "trained", 10, "", 0)
    _write(tmp_path, {"schema": RESULT_SCHEMA, "key": cell.key, "status": "failed", "cell": cell.to_json(),
                      "error": "ValueError: reward went NaN", "traceback": "Traceback ..."})
    return tmp_path


def _ci(xs):
    xs = np.array(xs)
    half = stats.t.ppf(0.975, len(xs) - 1) * xs.std(ddof=1) / np.sqrt(len(xs))
    return xs.mean(), xs.mean() - half, xs.mean() + half


def test_the_analysis_of_stored_results(stored_run):
    a = analyse(load_results(stored_run))
    assert a.sections == [("doorkey-5x5", "")] and a.budgets[("doorkey-5x5", "")] == [10, 20]
    assert set(a.arms[("doorkey-5x5", "")]) == {"sketch", "scalar"}
    for arm, table in (("sketch", SKETCH), ("scalar", SCALAR)):
        for b, values in table.items():
            stat = a.groups[("doorkey-5x5", "", arm, b)].stat("final_return")
            assert (stat.n, stat.mean) == (3, pytest.approx(np.mean(values)))
            assert [stat.mean, stat.lo, stat.hi] == pytest.approx(list(_ci(values)))
    assert a.oracle["doorkey-5x5"].returns == ORACLE
    assert [(g.label, g.budget) for g in arm_groups(a)] == [("scalar", 10), ("scalar", 20), ("sketch", 10),
                                                            ("sketch", 20)]  # no kinds in a config: by name

    eff = {e["arm"]: e for e in a.sample_efficiency}  # 0.9 × 0.95: sketch reaches it at budget 20 only
    assert eff["sketch"]["threshold"] == pytest.approx(0.855) and eff["sketch"]["budget"] == 20
    assert eff["sketch"]["items_to_90pct_oracle"] == pytest.approx(59 / 3)
    assert eff["scalar"]["status"] == "not reached" and eff["scalar"]["budget"] is None
    assert [e["arm"] for e in efficiency_ranking(a, "doorkey-5x5", "")] == ["sketch"]

    comps = {c["budget"]: c for c in a.comparisons}
    for b, significant in ((10, True), (20, False)):
        (other,) = comps[b]["others"]
        assert comps[b]["winner"] == "sketch" and other["arm"] == "scalar"
        assert other["p"] == pytest.approx(stats.ttest_ind(SKETCH[b], SCALAR[b], equal_var=False).pvalue)
        assert other["significant"] is significant


def test_report_numbers_match_the_result_files(stored_run):
    report = build_report(stored_run)
    md = report.path.read_text()
    doc = json.loads(report.json_path.read_text())
    assert doc["cells"] == {"expected": None, "ok": 15, "failed": 1}

    rows = {(r["arm"], r["budget"]): r for r in doc["final"]}
    for arm, table in (("sketch", SKETCH), ("scalar", SCALAR)):
        for b, values in table.items():
            mean, lo, hi = _ci(values)
            stat = rows[(arm, b)]["final_true_return"]
            assert stat["n"] == 3 and stat["mean"] == pytest.approx(mean)
            assert stat["ci95"] == pytest.approx([lo, hi])
            assert re.search(rf"\| {arm} \| {b} \| 3 \| [^|]+ \| [^|]+ \| {mean:.3f} \[{lo:.3f}, {hi:.3f}\] \|", md)
    mean, lo, hi = _ci(ORACLE)
    assert f"| oracle | — | 3 | 0 | 0 | {mean:.3f} [{lo:.3f}, {hi:.3f}] |" in md

    # sample efficiency: sketch reaches 0.9 × 0.95 = 0.855 at budget 20 (mean items 19.67, seconds 196.7)
    eff = {e["arm"]: e for e in doc["sample_efficiency"]}
    assert eff["sketch"]["threshold"] == pytest.approx(0.855)
    assert eff["sketch"]["budget"] == 20 and eff["sketch"]["items_to_90pct_oracle"] == pytest.approx(59 / 3)
    assert eff["sketch"]["seconds_to_90pct_oracle"] == pytest.approx(590 / 3)
    assert eff["scalar"]["status"] == "not reached" and eff["scalar"]["items_to_90pct_oracle"] is None
    (ilo, ihi), (slo, shi) = eff["sketch"]["items_to_90pct_oracle_ci"], eff["sketch"]["seconds_to_90pct_oracle_ci"]
    assert ilo <= 59 / 3 <= (ihi if ihi is not None else np.inf)
    rng = lambda lo, hi, f: f"[{f(lo)}, {'∞' if hi is None else f(hi)}]"  # noqa: E731
    assert (f"| doorkey-5x5 | off | sketch | 3 | 0 | 0.855 | 20 | 19.7 {rng(ilo, ihi, lambda v: f'{v:,.1f}'.rstrip('0').rstrip('.'))} "
            f"| 197 {rng(slo, shi, lambda v: f'{v:,.0f}')} |") in md
    assert "| doorkey-5x5 | off | scalar | 3 | 0 | 0.855 | — | not reached [" in md

    # the summary: sketch wins; significant at budget 10, not significant at budget 20 (Welch, Holm over the two)
    comps = {c["budget"]: c for c in doc["comparisons"]}
    for b, significant in ((10, True), (20, False)):
        p = stats.ttest_ind(SKETCH[b], SCALAR[b], equal_var=False).pvalue
        assert comps[b]["winner"] == "sketch" and comps[b]["others"][0]["p"] == pytest.approx(p)
        assert comps[b]["others"][0]["significant"] is significant
        assert comps[b]["others"][0]["difference"] == pytest.approx(np.mean(SKETCH[b]) - np.mean(SCALAR[b]))
    summary = " ".join(doc["summary"])
    assert "**sketch** had the highest final true return" in summary
    assert f"{np.mean(SKETCH[20]) - np.mean(SCALAR[20]):+.3f} ahead of the runner-up scalar" in summary
    p10, p20 = (stats.ttest_ind(SKETCH[b], SCALAR[b], equal_var=False).pvalue for b in (10, 20))
    assert p10 < p20 and comps[10]["others"][0]["p_holm"] == pytest.approx(2 * p10)
    assert comps[20]["others"][0]["p_holm"] == pytest.approx(max(2 * p10, p20))
    assert f"not significant (Holm p = {max(2 * p10, p20):.2g})" in summary
    assert f"significant (Holm p = {2 * p10:.3g})" in summary
    i_rng = rng(ilo, ihi, lambda v: f"{v:,.1f}".rstrip("0").rstrip("."))
    assert ("fewest feedback items to reach 90% of the oracle's final true return (0.855) and stay there (3 seeds "
            f"per arm): **sketch**, 19.7 {i_rng} items (197 {rng(slo, shi, lambda v: f'{v:,.0f}')} "
            "annotator-seconds)") in summary  # no expert recorded: the oracle is the reference
    assert "not reached within the budgets: scalar" in summary
    assert all(line in md for line in doc["summary"])

    # misinterpretation, behaviour, failures
    assert "| doorkey-5x5 | off | scalar | 20 | 3 | 1/3 |" in md  # gaming flagged in one seed
    assert "Reward gaming (proxy return rising while true return falls) was flagged in 1 of 15" in md
    assert "| doorkey-5x5__text-trained__b10__noise-off__s0 | ValueError: reward went NaN |" in md
    assert "reward_spearman" in md and "sign agreement: lava" in md

    for name in ("return_vs_items.png", "return_vs_seconds.png", "learning_curves.png"):
        assert (stored_run / "plots" / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        assert f"(plots/{name})" in md
    with open(stored_run / "tables" / "final_return.csv") as fh:
        assert sum(1 for _ in fh) == 1 + 4 + 1


@pytest.mark.slow  # starts processes, a browser or the trained reader, or fuzzes: seconds, not ms
def test_report_of_a_fake_sweep_matches_every_result_file(tmp_path):
    cfg = tiny()
    run_ablation(cfg, tmp_path, workers=1, cell_fn=ec.flaky_cell, config_text=GRID)
    report = build_report(tmp_path)
    doc = json.loads(report.json_path.read_text())
    assert doc["cells"] == {"expected": 14, "ok": 12, "failed": 2}
    by_group: dict[tuple, list[float]] = {}
    for r in results(tmp_path).values():
        if r["status"] == "ok":
            by_group.setdefault((r["cell"]["label"], r["cell"]["budget"]), []).append(r["final"]["true_return"])
    assert {(row["arm"], row["budget"]) for row in doc["final"]} == set(by_group)
    for row in doc["final"]:
        values = by_group[(row["arm"], row["budget"])]
        assert row["final_true_return"]["mean"] == pytest.approx(np.mean(values))
        assert row["final_true_return"]["n"] == len(values)
    assert "text:trained" in report.path.read_text() and "Interpretation (text arms)" in report.path.read_text()


def test_report_says_when_kinds_tie_and_when_the_oracle_did_not_learn(tmp_path):
    for seed in range(2):
        _write(tmp_path, _result("doorkey-5x5", "oracle", None, seed, 0.0))
        for kind in ("sketch", "scalar"):
            _write(tmp_path, _result("doorkey-5x5", kind, 10, seed, 0.0, items=10, seconds=30.0))
        _write(tmp_path, _result("doorkey-5x5", "preference", 10, seed, -0.1 * (seed + 1), items=10, seconds=40.0))
    a = analyse(load_results(tmp_path))
    (comp,) = a.comparisons
    assert comp["winner_mean"] == 0.0 and {comp["winner"], comp["others"][0]["arm"]} == {"scalar", "sketch"}
    assert comp["others"][0]["difference"] == 0.0 and comp["others"][0]["p"] is None  # no variance: untested
    assert comp["others"][1]["arm"] == "preference" and comp["others"][1]["difference"] == pytest.approx(0.15)
    assert {e["status"] for e in a.sample_efficiency} == {"oracle did not learn"}
    assert a.oracle["doorkey-5x5"].mean("final_return") == 0.0
    summary = " ".join(build_report(tmp_path).summary)  # the summary says so rather than naming a winner
    assert "no kind came out ahead" in summary and "had the highest" not in summary
    assert "reached only 0.000" in summary and "no 90%-of-oracle figures" in summary


def test_report_breaks_a_tie_in_items_by_annotator_seconds(tmp_path):
    for seed in range(2):
        _write(tmp_path, _result("doorkey-5x5", "oracle", None, seed, 0.9))
        for kind, seconds in (("sketch", 300.0), ("scalar", 40.0), ("preference", 20.0)):
            _write(tmp_path, _result("doorkey-5x5", kind, 10, seed, 0.95, items=10, seconds=seconds))
            # none reaches it at the smallest budget: the tie at 10 is a tie, not "10 or fewer"
            _write(tmp_path, _result("doorkey-5x5", kind, 5, seed, 0.1, items=5, seconds=seconds / 2))
    a = analyse(load_results(tmp_path))
    ranking = efficiency_ranking(a, "doorkey-5x5", "")
    assert [(e["arm"], e["items_to_90pct_oracle"], e["seconds_to_90pct_oracle"]) for e in ranking] == [
        ("preference", 10, 20), ("scalar", 10, 40), ("sketch", 10, 300)]
    summary = " ".join(build_report(tmp_path).summary)
    assert ("3 arms tied at 10 items; by annotator-seconds **preference** (20 [20, 20]), scalar (40 [40, 40]), "
            "sketch (300 [300, 300])") in summary


def test_report_says_when_cells_ran_with_different_versions(tmp_path):
    for seed in range(2):
        _write(tmp_path, _result("doorkey-5x5", "oracle", None, seed, 0.9))
        rec = _result("doorkey-5x5", "sketch", 10, seed, 0.95, items=10, seconds=100.0)
        rec["versions"] = {"torch": "2.13.0+cpu" if seed == 0 else "2.14.1", "minigrid": "3.2.0"}
        _write(tmp_path, rec)
    report = build_report(tmp_path)
    md = report.path.read_text()
    assert "Cells ran with different versions of torch" in md and "minigrid" not in md.split("## Versions")[1]
    assert "- torch: 2.13.0+cpu (1 cells): sketch; 2.14.1 (1 cells): sketch" in md
    doc = json.loads(report.json_path.read_text())
    assert set(doc["mixed_versions"]) == {"torch"}
    for seed in range(2):  # the same versions everywhere: nothing said
        rec = _result("doorkey-5x5", "sketch", 10, seed, 0.95, items=10, seconds=100.0)
        rec["versions"] = {"torch": "2.13.0+cpu", "minigrid": "3.2.0"}
        _write(tmp_path, rec)
    report = build_report(tmp_path)
    assert "different versions" not in report.path.read_text()
    assert json.loads(report.json_path.read_text())["mixed_versions"] == {}


def test_report_says_which_reader_read_the_text_and_when_cells_disagree(tmp_path):
    for seed in range(2):
        _write(tmp_path, _result("doorkey-5x5", "oracle", None, seed, 0.9))
        rec = _result("doorkey-5x5", "text", 10, seed, 0.95, items=10, seconds=100.0, interpreter="trained")
        rec["interpreter"] = {"name": "trained", "sha256": "aaaa000011112222"}
        _write(tmp_path, rec)
    md = build_report(tmp_path).path.read_text()
    assert "checkpoint aaaa000011112222 (SHA-256 prefix) in every text cell" in md and "different versions" not in md
    rec["interpreter"] = {"name": "trained", "sha256": "bbbb000011112222"}  # seed 1 read by another checkpoint
    _write(tmp_path, rec)
    report = build_report(tmp_path)
    md = report.path.read_text()
    assert "Cells ran with different versions of trained reader" in md
    assert "- trained reader: aaaa000011112222 (1 cells): text:trained; bbbb000011112222 (1 cells): text:trained" in md
    assert set(json.loads(report.json_path.read_text())["mixed_versions"]) == {"trained reader"}


def _with_proxy(record: dict, proxy: list[float | None] | None) -> dict:
    """``record`` with its curve's proxy returns replaced (``None`` entries as null, ``proxy=None``: key dropped)."""
    curve = [dict(row) for row in record["curve"]]
    for i, row in enumerate(curve):
        if proxy is None:
            row.pop("proxy_return", None)
        else:
            row["proxy_return"] = proxy[i]
    return dict(record, curve=curve, final=curve[-1])


def test_report_plots_true_and_proxy_return_per_arm_with_a_learned_reward(tmp_path):
    for seed in range(2):
        _write(tmp_path, _result("doorkey-5x5", "oracle", None, seed, 0.9))  # proxy = true return: still left out
        _write(tmp_path, _with_proxy(_result("doorkey-5x5", "sketch", 10, seed, 0.2, items=10, seconds=100.0,
                                             gaming=seed == 1), [0.5, 1.0 + seed, 3.0]))
        _write(tmp_path, _with_proxy(_result("doorkey-5x5", "scalar", 10, seed, 0.5, items=10, seconds=30.0), None))
    report = build_report(tmp_path)
    md = report.path.read_text()
    png = tmp_path / "plots" / "curves_proxy.png"
    assert png in report.plots and png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "![true and proxy return](plots/curves_proxy.png)" in md and "rising while true return falls" in md
    assert md.index("(plots/learning_curves.png)") < md.index("(plots/curves_proxy.png)")
    panels = proxy_panels(analyse(load_results(tmp_path)))  # scalar recorded no proxy return, oracle has none
    assert [(g.label, g.budget, len(g.rows)) for g in panels] == [("sketch", 10, 2)]
    assert [r.proxy_curve for r in sorted(panels[0].rows, key=lambda r: r.seed)] == [
        [(1000.0, 0.5), (2000.0, 1.0), (3000.0, 3.0)], [(1000.0, 0.5), (2000.0, 2.0), (3000.0, 3.0)]]


def test_report_of_oracle_cells_only_has_no_proxy_plot(tmp_path):
    _write(tmp_path, _with_proxy(_result("doorkey-5x5", "oracle", None, 0, 0.9), [None, None, None]))
    _write(tmp_path, _with_proxy(_result("doorkey-5x5", "oracle", None, 1, 0.8), None))
    report = build_report(tmp_path)
    md = report.path.read_text()
    assert (tmp_path / "plots" / "learning_curves.png").is_file() and "(plots/learning_curves.png)" in md
    assert not (tmp_path / "plots" / "curves_proxy.png").exists() and "curves_proxy" not in md
    assert [p.name for p in report.plots] == ["learning_curves.png"]


def test_report_errors_on_an_empty_run_folder(tmp_path):
    (tmp_path / "cells").mkdir()
    with pytest.raises(NlfError, match="no cell results"):
        build_report(tmp_path)


# --------------------------------------------------------------------------------------------- CLI


@pytest.mark.slow  # starts processes, a browser or the trained reader, or fuzzes: seconds, not ms
def test_only_runs_part_of_the_grid_keeps_the_oracle_and_the_rest_completes_later(tmp_path):
    cfg = tiny()
    part = parse_selection(cfg, ["seed=1", "budget=20", "kind=sketch,oracle"])
    summary = run_ablation(cfg, tmp_path, workers=1, cell_fn=ec.fake_cell, only=part)
    ran = sorted(results(tmp_path))
    assert ran == ["doorkey-5x5__oracle__s1", "doorkey-5x5__sketch__b20__noise-off__s1"]  # oracle: no budget
    assert summary.total == 2 and summary.ok == 2
    assert json.loads((tmp_path / "ablation.json").read_text())["sessions"][0]["only"] == (
        "kind=oracle,sketch budget=20 seed=1")
    summary = run_ablation(cfg, tmp_path, workers=1, cell_fn=ec.fake_cell)  # the whole grid: the part is kept
    assert summary.total == 14 and summary.skipped == 2 and summary.ran == 12


def test_only_names_every_bad_field_and_value():
    with pytest.raises(NlfError) as err:
        parse_selection(tiny(), ["seed=0,7", "colour=red", "kind=text:zero-shot", "budget"])
    msg = str(err.value)
    assert "4 problems with --only" in msg and "'7' is not a seed of this grid (it has 0, 1)" in msg
    assert "'colour=red': expected FIELD=VALUE" in msg and "'text:zero-shot' is not a kind" in msg
    assert "'budget': expected FIELD=VALUE" in msg


def test_only_noise_takes_one_spec_per_flag_in_any_spelling():
    cfg = tiny(GRID.replace("seeds = 2", 'seeds = 1\nnoise = ["", "mistake=0.1,skip=0.05"]'))
    noisy = parse_selection(cfg, ["noise=skip=0.050,mistake=0.10"])
    assert {c.noise for c in cfg.cells() if noisy(c)} == {"mistake=0.1,skip=0.05", ""}  # "" = the oracle
    both = parse_selection(cfg, ["noise=off", "noise=mistake=0.1,skip=0.05", "kind=sketch"])
    assert len([c for c in cfg.cells() if both(c)]) == 2 * len(cfg.budgets)
    with pytest.raises(NlfError, match="is not a noise of this grid \\(it has off \\| mistake=0.1,skip=0.05\\)"):
        parse_selection(cfg, ["noise=mistake=0.2"])


def test_cli_ablate_dry_run_and_config_errors(tmp_path):
    runner = CliRunner()
    r = runner.invoke(app, ["ablate", "quick", "--out", str(tmp_path / "q"), "--dry-run"])
    assert r.exit_code == 0, r.output
    assert "doorkey-5x5__oracle__s0" in r.output and "to run" in r.output
    text_cell = next(c for c in load_config("quick").cells() if c.kind == "text")
    (tmp_path / "q" / "cells" / text_cell.key).mkdir(parents=True)
    (tmp_path / "q" / "cells" / text_cell.key / "result.json").write_text(json.dumps(
        {"status": "ok", "interpreter": {"name": "trained", "sha256": "0123456789abcdef"}}))
    r = runner.invoke(app, ["ablate", "quick", "--out", str(tmp_path / "q"), "--dry-run"])
    assert "stale" in r.output and "0123456789abcdef" in r.output, r.output
    r = runner.invoke(app, ["ablate", str(ABLATIONS / "quick.toml"), "--out", str(tmp_path / "q"), "--dry-run",
                            "--only", "kind=sketch", "--only", "seed=1"])
    assert r.exit_code == 0 and "2 cells" not in r.output and "1 cells" in r.output, r.output
    assert "doorkey-5x5__sketch__b60__noise-off__s1" in r.output and "doorkey-5x5__oracle" not in r.output
    bad = tmp_path / "bad.toml"
    bad.write_text('[grid]\ntasks=["doorkey-5x5"]\nkinds=["sketch"]\nbudgets=[50, -1]\nseeds=1\n')
    r = runner.invoke(app, ["ablate", str(bad), "--out", str(tmp_path / "b")])
    assert r.exit_code == 1 and "bad.toml: grid.budgets[1]: must be a positive integer, got -1" in r.output


def test_cli_report(stored_run):
    r = CliRunner().invoke(app, ["report", str(stored_run)])
    assert r.exit_code == 0, r.output
    assert "report: " in r.output and "sketch had the highest final true return" in r.output


# --------------------------------------------------------------------------------------------- Ray


@pytest.fixture(scope="module")
def ray_cluster():
    pytest.importorskip("ray")
    from nlfeedback.experiments.ray_local import local_ray_cluster

    with local_ray_cluster(num_cpus=2, pythonpath=[REPO]) as address:
        yield address


@pytest.mark.slow
def test_ray_backend_on_a_real_local_cluster(ray_cluster, tmp_path):
    cfg = tiny()
    events = []
    summary = run_ablation(cfg, tmp_path, backend="ray", ray_address=ray_cluster, cell_fn=ec.flaky_cell,
                           progress=events.append)
    assert summary.ok == 12 and summary.failed == 2 and events[-1].done == 14
    res = results(tmp_path)
    assert {r["worker"]["pid"] for r in res.values()}.isdisjoint({os.getpid()})
    assert all(r["status"] == "failed" for k, r in res.items() if k in summary.failed_cells)
    assert json.loads((tmp_path / "ablation.json").read_text())["versions"]["ray"]
    # resume on Ray too
    summary = run_ablation(cfg, tmp_path, backend="ray", ray_address=ray_cluster, cell_fn=ec.fake_cell)
    assert summary.ran == 2 and summary.ok == 14


@pytest.mark.slow
def test_ray_backend_runs_a_real_cell(ray_cluster, tmp_path):
    cfg = parse_config('[grid]\ntasks=["doorkey-5x5"]\nkinds=["sketch"]\nbudgets=[10]\nseeds=1\n'
                       '[run]\nsteps=4096\nrounds=1\neval_every=2048\neval_episodes=5\n')
    summary = run_ablation(cfg, tmp_path, backend="ray", ray_address=ray_cluster)
    res = results(tmp_path)["doorkey-5x5__sketch__b10__noise-off__s0"]
    assert summary.ok == 1, res.get("traceback")
    assert res["feedback"]["items"] > 0 and res["curve"] and "true_return" in res["final"]


def test_ray_backend_without_a_cluster_is_a_clear_error(tmp_path):
    pytest.importorskip("ray")
    with pytest.raises(NlfError, match="could not connect to a Ray cluster"):
        run_ablation(tiny(), tmp_path, backend="ray", ray_address="127.0.0.1:1", cell_fn=ec.fake_cell)


# --------------------------------------------------------------------------------------------- end to end


TINY_REAL = """
name = "e2e"
[grid]
tasks = ["doorkey-5x5"]
kinds = ["text:trained", "sketch", "oracle"]
budgets = [10]
seeds = 1
[run]
steps = 4096
rounds = 1
eval_every = 2048
eval_episodes = 5
"""


@pytest.mark.slow
def test_ablate_and_report_end_to_end_with_the_online_loop(tmp_path):
    config = tmp_path / "e2e.toml"
    config.write_text(TINY_REAL)
    out = tmp_path / "run"
    runner = CliRunner()
    r = runner.invoke(app, ["ablate", str(config), "--out", str(out), "--workers", "2"])
    res = results(out)
    assert r.exit_code == 0, r.output + "\n".join(v.get("traceback", "") for v in res.values())
    assert len(res) == 3 and all(v["status"] == "ok" for v in res.values())
    for v in res.values():
        assert v["final"] == v["curve"][-1] and v["curve"][-1]["steps"] >= 4096
        assert (v["interpretation"] is not None) == (v["cell"]["kind"] == "text")
        assert (v["reward_metrics"] is None) == (v["cell"]["kind"] == "oracle")
        assert v["versions"]
    r = runner.invoke(app, ["ablate", str(config), "--out", str(out)])
    assert r.exit_code == 0 and "3 were already done, 0 ran now" in r.output

    r = runner.invoke(app, ["report", str(out)])
    assert r.exit_code == 0, r.output
    md = (out / "report.md").read_text()
    for key, v in res.items():
        label, ret = v["cell"]["label"], v["final"]["true_return"]
        budget = "—" if label == "oracle" else "10"
        assert re.search(rf"\| {re.escape(label)} \| {budget} \| 1 \| [^|]+ \| [^|]+ \| {ret:.3f} \|", md), label
    assert (out / "plots" / "learning_curves.png").is_file()


# --------------------------------------------------------------------------------------------- stopping a sweep

SLOW_GRID = """
name = "slow"
[grid]
tasks = ["doorkey-5x5"]
kinds = ["oracle"]
budgets = [10]
seeds = 3
[run]
steps = 3000
rounds = 1
eval_every = 1000
"""

DRIVER = """
import sys
from nlfeedback.experiments.config import parse_config
from nlfeedback.experiments.runner import run_ablation
from tests import experiment_cells as ec

cfg = parse_config(sys.argv[2], "slow.toml")
try:
    run_ablation(cfg, sys.argv[1], workers=2, cell_fn=getattr(ec, sys.argv[3]))
except KeyboardInterrupt as e:
    sys.exit(143 if type(e).__name__ == "Terminated" else 130)
"""


def _start_driver(out: Path, cell_fn: str, sigint_ignored: bool = False):
    """The driver in its own process; its output goes to files (an orphaned worker would hold a pipe open).
    ``sigint_ignored``: started as a shell without job control starts a background job (``cmd &``)."""
    import signal
    import subprocess
    import sys

    log = out.parent / f"{out.name}-driver.log"
    pre = (lambda: signal.signal(signal.SIGINT, signal.SIG_IGN)) if sigint_ignored else None
    with open(log, "w") as fh:
        proc = subprocess.Popen([sys.executable, "-c", DRIVER, str(out), SLOW_GRID, cell_fn], cwd=REPO,
                                stdout=fh, stderr=subprocess.STDOUT, text=True, preexec_fn=pre)
    proc.log = log
    return proc


def _kill_leftovers(pids: list[int]) -> None:
    import signal

    for pid in pids:
        if _alive(pid):
            os.kill(pid, signal.SIGKILL)


def _worker_pids(out: Path, n: int, proc, timeout: float = 60.0) -> list[int]:
    """Wait until ``n`` cells have started; their workers' pids."""
    import time

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        markers = list((out / "cells").glob("*/pid-*"))
        if len(markers) >= n:
            return [int(m.name.removeprefix("pid-")) for m in markers]
        assert proc.poll() is None, proc.log.read_text()
        time.sleep(0.05)
    raise AssertionError("the cells did not start")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:  # a zombie (exited, not yet reaped) counts as gone
        return Path(f"/proc/{pid}/stat").read_text().split(") ")[1][0] != "Z"
    except (OSError, IndexError):
        return True


def _gone(pids: list[int], timeout: float) -> bool:
    import time

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not any(_alive(p) for p in pids):
            return True
        time.sleep(0.05)
    return False


def _resume_and_check_curves(out: Path) -> None:
    import time

    summary = run_ablation(tiny(SLOW_GRID), out, workers=2, cell_fn=ec.quick_curve_cell)
    assert summary.ok == 3 and summary.failed == 0
    time.sleep(1.0)  # a stale worker would go on appending meanwhile
    for cell_dir in (out / "cells").iterdir():
        rows = [json.loads(x)["steps"] for x in (cell_dir / "run" / "curve.jsonl").read_text().splitlines()]
        assert rows == [2048, 4096, 6144], (cell_dir.name, rows)  # one run's rows only


@pytest.mark.slow
@pytest.mark.parametrize("sig", ["SIGTERM", "SIGKILL"])
def test_stopping_the_driver_stops_its_workers_and_an_immediate_resume_is_clean(tmp_path, sig):
    """SIGTERM: the driver stops its workers and exits 143. SIGKILL: the workers die with it anyway. Either
    way, a resume right after owns every cell alone: no stale worker writes into the new run folders."""
    import signal

    out = tmp_path / "run"
    proc = _start_driver(out, "slow_curve_cell")
    pids = _worker_pids(out, 2, proc)
    try:
        os.kill(proc.pid, getattr(signal, sig))
        rc = proc.wait(timeout=30)
        assert rc == (143 if sig == "SIGTERM" else -signal.SIGKILL), proc.log.read_text()
        assert _gone(pids, 10), "pool workers outlived their driver"
        assert not results(out)  # the stopped cells have no result: they rerun on resume
        _resume_and_check_curves(out)
    finally:
        _kill_leftovers(pids)


@pytest.mark.slow
@pytest.mark.parametrize("how", ["SIGINT", "SIGUSR1 with SIGINT ignored"])
def test_sigint_to_the_driver_alone_keeps_the_running_cells_results_and_starts_no_more(tmp_path, how):
    """`kill -INT` to the driver; or, for a driver started in the background by a script (SIGINT ignored,
    so `kill -INT` does nothing), `kill -USR1`."""
    import signal

    out = tmp_path / "run"
    ignored = how != "SIGINT"
    proc = _start_driver(out, "short_curve_cell", sigint_ignored=ignored)
    pids = _worker_pids(out, 2, proc)
    try:
        # the driver only, as `kill` does (the workers never see it)
        os.kill(proc.pid, signal.SIGUSR1 if ignored else signal.SIGINT)
        rc = proc.wait(timeout=60)
        log = proc.log.read_text()
        assert rc == 130 and "waiting for the 2 running cell(s) to finish" in log, log
        res = results(out)
        assert len(res) == 2 and all(r["status"] == "ok" for r in res.values())
        assert len(list((out / "cells").glob("*/pid-*"))) == 2  # the third cell never started
        assert _gone(pids, 10)
        summary = run_ablation(tiny(SLOW_GRID), out, workers=1, cell_fn=ec.quick_curve_cell)
        assert summary.skipped == 2 and summary.ran == 1 and summary.ok == 3
    finally:
        _kill_leftovers(pids)


@pytest.mark.slow  # starts processes, a browser or the trained reader, or fuzzes: seconds, not ms
def test_a_cell_still_owned_by_a_live_process_is_never_cleared_or_rerun(tmp_path, monkeypatch):
    """A process of an earlier session that still holds a cell: the new session refuses (after a short
    wait) instead of clearing its run folder under it; once it is gone the cell runs."""
    import subprocess
    import sys

    from nlfeedback.experiments import runner

    monkeypatch.setattr(runner, "OWNER_WAIT_S", 0.3)
    cfg = tiny(SLOW_GRID)
    cell = cfg.cells()[0]
    cell_dir = tmp_path / "cells" / cell.key
    (cell_dir / "run").mkdir(parents=True)
    (cell_dir / "run" / "curve.jsonl").write_text('{"steps": 2048}\n')
    holder = subprocess.Popen(
        [sys.executable, "-c", "import fcntl, os, sys, time\n"
         "fd = os.open(sys.argv[1], os.O_RDWR | os.O_CREAT)\nfcntl.flock(fd, fcntl.LOCK_EX)\n"
         "os.write(fd, b'4242@elsewhere')\nprint('locked', flush=True)\ntime.sleep(60)",
         str(cell_dir / ".owner")], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "locked"
        with pytest.raises(NlfError, match=f"cell {cell.key} is still being run by process 4242@elsewhere"):
            run_ablation(cfg, tmp_path, workers=1, cell_fn=ec.quick_curve_cell)
        assert (cell_dir / "run" / "curve.jsonl").read_text() == '{"steps": 2048}\n'  # untouched
        assert not results(tmp_path)
    finally:
        holder.kill()
        holder.wait()
    summary = run_ablation(cfg, tmp_path, workers=1, cell_fn=ec.quick_curve_cell)
    assert summary.ok == 3


def test_one_driver_at_a_time_in_a_run_folder(tmp_path):
    import fcntl

    (tmp_path / "cells").mkdir()
    fd = os.open(tmp_path / ".driver.lock", os.O_RDWR | os.O_CREAT)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)  # as another driver's would be (flock conflicts across open files)
        os.write(fd, b"777\n")
        with pytest.raises(NlfError, match=r"another nlf ablate \(process 777\) is running in this folder"):
            run_ablation(tiny(SLOW_GRID), tmp_path, workers=1, cell_fn=ec.quick_curve_cell)
        assert not list((tmp_path / "cells").iterdir())
    finally:
        os.close(fd)
