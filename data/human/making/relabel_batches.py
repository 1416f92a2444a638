"""Build the relabelling batches (RELABEL.md): each run of a labelled set rendered as its writers saw it
(render.py), followed by the remarks on it — ids and texts only, never their labels.

usage: python relabel_batches.py [--only SET] OUT_DIR    the remark sets dev, evalA, evalB, evalC (two labellers
                                                   a set, alternate runs); --only: that set alone
       python relabel_batches.py --pairs OUT_DIR   the negation-pair sets dev-pairs2, dev-pairs3, probes-evalA,
                                                   probes-evalB, probes3-evalA, probes3-evalB, probes3-evalC: no labeller sees both remarks of a pair (each
                                                   pair's two remarks go to different labellers, which of them
                                                   first alternating), remarks in a shuffled order within a run;
                                                   dev-pairs2 also split by alternate runs (four labellers),
                                                   dev-pairs3 by every third run (six labellers)
Writes OUT_DIR/render/<set>/batch<k>.txt, OUT_DIR/render/<set>/index-<pool>.json and OUT_DIR/pools/<pool>.jsonl,
the layout check.py reads when copied into OUT_DIR."""
import json
import random
import shutil
import sys
from pathlib import Path

from render import render

from nlfeedback.trajectory import load_trajectories

H = Path(__file__).resolve().parents[1]
PAIRS = "--pairs" in sys.argv[1:]
_args = [a for a in sys.argv[1:] if a != "--pairs"]
ONLY = None
if "--only" in _args:
    k = _args.index("--only")
    ONLY = _args[k + 1]
    del _args[k:k + 2]
if len(_args) != 1:
    sys.exit("usage: python relabel_batches.py [--pairs] [--only SET] OUT_DIR")
OUT = Path(_args[0])
(OUT / "pools").mkdir(parents=True, exist_ok=True)


def remarks(name):
    return [json.loads(line) for line in open(H / f"{name}.jsonl")]


def pair_halves(rows):
    """Two lists of remarks: each hand-written pair's two remarks in different lists (alternating which)."""
    by_id = {r["id"]: r for r in rows}
    halves = ([], [])
    pairs = [(by_id[r["labels"]["negates"]], r) for r in rows if (r.get("labels") or {}).get("negates")]
    paired = {r["id"] for p in pairs for r in p}
    assert len(paired) == 2 * len(pairs), "a remark in two pairs: the halves could not keep them apart"
    for k, (a, b) in enumerate(pairs):
        halves[k % 2].append(a)
        halves[1 - k % 2].append(b)
    for k, r in enumerate(r for r in rows if r["id"] not in paired):
        halves[k % 2].append(r)
    return halves


def write_batches(set_name, pool, row_groups, run_splits):
    """One batch per (share of the runs, group of remarks): the pool's runs split by alternation into
    ``run_splits`` shares, each share given to one labeller per group in ``row_groups``."""
    shutil.copy(H / f"trajectories-{pool}.jsonl", OUT / "pools" / f"{pool}.jsonl")
    trajs = load_trajectories(H / f"trajectories-{pool}.jsonl")
    runs = json.loads((H / f"runs-{pool}.json").read_text())
    d = OUT / "render" / set_name
    d.mkdir(parents=True, exist_ok=True)
    (d / f"index-{pool}.json").write_text(json.dumps(runs, indent=1))
    groups = [(rows, list(runs)[k::run_splits]) for k in range(run_splits) for rows in row_groups]
    for b, (rows, names) in enumerate(groups):
        by_traj = {}
        for r in rows:
            by_traj.setdefault(r["trajectory_id"], []).append((r["id"], r["text"]))
        parts = []
        for name in names:
            rem = by_traj.get(runs[name], [])
            if PAIRS:
                if not rem:
                    continue
                random.Random(f"{set_name}/{b}/{name}").shuffle(rem)
            block = render(trajs[runs[name]], name)
            block += f"\nREMARKS TO LABEL ON RUN {name} ({len(rem)}):\n" + "\n".join(
                json.dumps({"id": i, "run": name, "text": t}, ensure_ascii=False) for i, t in rem) + "\n"
            parts.append(block)
        (d / f"batch{b}.txt").write_text("\n".join(parts))


# (set, trajectory pool, run shares): remark sets go to two labellers by alternate runs; a pair set's halves
# (pair_halves) each go to a labeller per share of the runs
JOBS = ([(s, s, 2) for s in ["dev", "evalA", "evalB", "evalC"]] if not PAIRS else
        [("dev-pairs2", "dev", 2), ("dev-pairs3", "dev", 3), ("probes-evalA", "evalA", 1), ("probes-evalB", "evalB", 1),
         ("probes3-evalA", "evalA", 1), ("probes3-evalB", "evalB", 1), ("probes3-evalC", "evalC", 1)])
chosen = [job for job in JOBS if ONLY in (None, job[0])]
if not chosen:
    sys.exit(f"--only {ONLY}: not one of {', '.join(job[0] for job in JOBS)}")
for s, pool, run_splits in chosen:
    write_batches(s, pool, pair_halves(remarks(s)) if PAIRS else [remarks(s)], run_splits)
