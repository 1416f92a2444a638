"""A non-editable install works: build a wheel of this checkout, install it into a fresh venv and run the
CLI from outside the repository, with the package data (phrase banks, the shipped checkpoint) the wheel
carries. The editable install of the environment running the tests is left alone."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest

import nlfeedback

REPO = Path(__file__).resolve().parents[1]
NOT_SOURCE = {".git", "build", "dist", "runs", ".pytest_cache", ".hypothesis", ".benchmarks", ".venv", "venv"}
PACKAGE_DATA = ["nlfeedback/resources/phrasebanks/train.toml", "nlfeedback/resources/phrasebanks/heldout.toml",
                "nlfeedback/resources/phrasebanks/FORMAT.md", "nlfeedback/resources/phrasebanks/human/gamer.toml",
                "nlfeedback/resources/phrasebanks/human/teacher.toml", "nlfeedback/resources/models/interpreter-trained.pt",
                "nlfeedback/collect/web/static/index.html", "nlfeedback/collect/web/static/app.js",
                "nlfeedback/collect/web/static/style.css", "nlfeedback/resources/ablations/quick.toml",
                "nlfeedback/resources/spelling/errors.json.gz", "nlfeedback/resources/spelling/NOTICE.md"]

pytestmark = pytest.mark.slow


def _copy_checkout(dest: Path) -> None:
    """The checkout as a clean clone would have it (no build folders, caches or egg-info), so that the
    wheel is built from the sources alone and nothing is written into the repository."""
    def ignore(folder: str, names: list[str]) -> set[str]:
        skip = {n for n in names if n == "__pycache__" or n.endswith((".pyc", ".egg-info"))}
        if Path(folder) == REPO:
            skip |= NOT_SOURCE & set(names)
        return skip

    shutil.copytree(REPO, dest, ignore=ignore)


def _run(args: list[str | Path], cwd: Path, env: dict[str, str], timeout: float = 600) -> str:
    r = subprocess.run([str(a) for a in args], cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    assert r.returncode == 0, f"{args} exited {r.returncode}:\n{r.stdout[-3000:]}\n{r.stderr[-3000:]}"
    return r.stdout


def test_a_wheel_installed_in_a_fresh_venv_runs_quickstart_help_and_interpret(tmp_path):
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "NLF_DATA_DIR", "VIRTUAL_ENV")}
    main_location = nlfeedback.__file__

    # the wheel: package data in, the repository's data/ (human data, configs, stored results) out
    src, dist = tmp_path / "src", tmp_path / "dist"
    _copy_checkout(src)
    _run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--no-index", "-q",
          "-w", dist, src], cwd=tmp_path, env=env)
    (wheel,) = dist.glob("nlfeedback-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    assert set(PACKAGE_DATA) <= names, sorted(set(PACKAGE_DATA) - names)
    assert not [n for n in names if n.startswith(("data/", "tests/", "docs/")) or "/results/" in n
                or ("human/" in n and not n.startswith("nlfeedback/resources/phrasebanks/human/"))], sorted(names)

    # a fresh venv that sees the environment's dependencies (torch, minigrid, …) but not this checkout
    venv = tmp_path / "venv"
    _run([sys.executable, "-m", "venv", "--system-site-packages", venv], cwd=tmp_path, env=env)
    vpy, nlf = venv / "bin" / "python", venv / "bin" / "nlf"
    if sys.prefix != sys.base_prefix:  # the tests run in a venv: its packages are not the base's site-packages
        purelib = Path(_run([vpy, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                            cwd=tmp_path, env=env).strip())
        outer = dict.fromkeys([sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]])
        (purelib / "_outer_env.pth").write_text("".join(f"{p}\n" for p in outer))
    _run([vpy, "-m", "pip", "install", "--no-deps", "--no-index", "-q", wheel], cwd=tmp_path, env=env)

    work = tmp_path / "work"  # outside the repository
    work.mkdir()
    where = json.loads(_run([vpy, "-c", "import json, cli, nlfeedback\n"
                             "from nlfeedback.language.interpreters.trained import default_checkpoint\n"
                             "print(json.dumps([nlfeedback.__file__, cli.__file__, str(default_checkpoint())]))"],
                            cwd=work, env=env))
    site = str(venv.resolve())
    assert all(str(Path(p).resolve()).startswith(site) for p in where), where
    assert Path(where[2]).is_file() and Path(where[2]).stat().st_size > 1_000_000

    out = _run([nlf, "quickstart", "--help"], cwd=work, env=env)
    assert "Usage" in out and "quickstart" in out and "--out" in out
    # the quickstart's config is bundled: its grid is listed from outside any checkout
    out = _run([nlf, "ablate", "quick", "--out", "quick-run", "--dry-run"], cwd=work, env=env)
    assert "quick · 10 cells" in " ".join(out.split()) and "doorkey-5x5" in out

    # one real interpret with the shipped checkpoint, on episodes and remarks made by the installed CLI
    # (the text critic renders from the installed phrase banks)
    _run([nlf, "rollout", "--task", "doorkey-5x5", "--policy", "expert", "--epsilon", "0.2", "--mistakes", "0.3",
          "--episodes", "2", "--seed", "0", "--out", "traj.jsonl"], cwd=work, env=env)
    _run([nlf, "critique", "-t", "traj.jsonl", "--kind", "text", "--budget", "4", "--out", "text.jsonl"],
         cwd=work, env=env)
    out = _run([nlf, "interpret", "-f", "text.jsonl", "-t", "traj.jsonl", "--out", "targets.jsonl"],
               cwd=work, env=env)
    assert "wrote" in out and "targets.jsonl" in out
    feedback = [json.loads(line) for line in (work / "text.jsonl").read_text().splitlines()]
    targets = [json.loads(line) for line in (work / "targets.jsonl").read_text().splitlines()]
    own = [t for t in targets if "rule_of" not in t]
    assert len(feedback) == 4 and sorted(t["feedback_id"] for t in own) == sorted(f["id"] for f in feedback)
    assert all(t["schema"] == "nlf.targets/1" and t["interpreter"] == "trained" for t in targets)
    assert any(w > 0 for t in own for w in t["weights"])  # the reader read something

    # the environment running the tests still imports this checkout's package, as before
    after = _run([sys.executable, "-c", "import nlfeedback; print(nlfeedback.__file__)"], cwd=work, env=env).strip()
    assert after == main_location
