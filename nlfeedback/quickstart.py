"""The embedded default job behind ``nlf quickstart``.

For now: roll out clean-expert and noisy-expert trajectories on the default task, validate them by
replay, and return their summaries. Later stages grow this into the full quickstart ablation.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from nlfeedback.envs.tasks import DEFAULT_TASK, get_task
from nlfeedback.jsonl import open_output
from nlfeedback.policies import make_policy
from nlfeedback.rollout import RolloutSummary, rollout
from nlfeedback.validate import validate_trajectory_file

QUICKSTART_POLICIES = {
    "expert": {"epsilon": 0.0, "mistakes": 0.0},
    "noisy": {"epsilon": 0.2, "mistakes": 0.3},
}


def run_quickstart(out_dir: str | Path, *, task: str = DEFAULT_TASK, episodes: int = 100,
                   seed: int = 0) -> dict[str, Any]:
    """Write ``<out_dir>/<label>.jsonl`` for each quickstart policy (replacing earlier quickstart files)."""
    out_dir = Path(out_dir)
    the_task = get_task(task)
    results: dict[str, Any] = {"task": the_task.name, "seed": seed, "files": {}, "summaries": {}}
    for i, (label, noise) in enumerate(QUICKSTART_POLICIES.items()):
        path = out_dir / f"{label}.jsonl"
        policy = make_policy("expert", **noise)
        summary = RolloutSummary()
        with open_output(path, force=path.exists()) as writer:
            for traj in rollout(the_task, policy, episodes, seed + i):
                writer.write(traj.to_json())
                summary.add(traj)
        report = validate_trajectory_file(path, replay_mode="sample", sample=10)
        results["files"][label] = str(path)
        results["summaries"][f"{label}: {policy.label}"] = {**summary.to_json(), "replayed": report.replayed}
    return results
