"""Build the relabelling batches (RELABEL.md): each run of a labelled set rendered as its writers saw it
(render.py), followed by the remarks on it — ids and texts only, never their labels.
usage: python relabel_batches.py OUT_DIR   (writes OUT_DIR/render/<set>/batch{0,1}.txt, index-<set>.json and
OUT_DIR/pools/<set>.jsonl, the layout check.py reads when copied into OUT_DIR)"""
import json
import shutil
import sys
from pathlib import Path

from render import render

from nlfeedback.trajectory import load_trajectories

H = Path(__file__).resolve().parents[1]
OUT = Path(sys.argv[1])
(OUT / "pools").mkdir(parents=True, exist_ok=True)
for s in ["dev", "evalA", "evalB"]:
    shutil.copy(H / f"trajectories-{s}.jsonl", OUT / "pools" / f"{s}.jsonl")
    trajs = load_trajectories(H / f"trajectories-{s}.jsonl")
    runs = json.loads((H / f"runs-{s}.json").read_text())
    by_traj = {}
    for line in open(H / f"{s}.jsonl"):
        r = json.loads(line)
        by_traj.setdefault(r["trajectory_id"], []).append((r["id"], r["text"]))
    names = list(runs)
    d = OUT / "render" / s
    d.mkdir(parents=True, exist_ok=True)
    (d / f"index-{s}.json").write_text(json.dumps(runs, indent=1))
    for b in range(2):  # two labellers a set, alternate runs
        parts = []
        for name in names[b::2]:
            rem = by_traj.get(runs[name], [])
            block = render(trajs[runs[name]], name)
            block += f"\nREMARKS TO LABEL ON RUN {name} ({len(rem)}):\n" + "\n".join(
                json.dumps({"id": i, "run": name, "text": t}, ensure_ascii=False) for i, t in rem) + "\n"
            parts.append(block)
        (d / f"batch{b}.txt").write_text("\n".join(parts))
