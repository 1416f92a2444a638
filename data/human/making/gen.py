"""Make trajectory pools for human-style remark writing: train, evalA, evalB (disjoint seeds)."""
import json, sys, random
from pathlib import Path
import numpy as np
from nlfeedback.envs.tasks import get_task
from nlfeedback.policies.base import make_policy
from nlfeedback.rollout import rollout
from nlfeedback.trajectory import write_trajectories

TASKS = ["doorkey-5x5", "doorkey-6x6", "lavagap-5", "lavagap-7", "empty-6x6", "empty-random-6x6",
         "lavacrossing-9", "keys-distractor"]
CONFIGS = {"clean": dict(name="expert"), "blunder": dict(name="expert", epsilon=0.05, mistakes=0.3),
           "messy": dict(name="expert", epsilon=0.25, mistakes=0.5), "random": dict(name="random")}

def pool(base_seed, per_task):
    out = []
    for ti, task_name in enumerate(TASKS):
        task = get_task(task_name)
        chosen = []
        for ci, (cname, cfg) in enumerate(CONFIGS.items()):
            kw = dict(cfg); name = kw.pop("name")
            pol = make_policy(name, **kw)
            n = per_task[cname]
            if task_name == "empty-6x6" and cname == "clean":
                n = 1
            seen = set()
            for traj in rollout(task, pol, episodes=n * 4, seed=base_seed + 97 * ti + ci):
                key = tuple(traj.actions)
                if key in seen:
                    continue
                if cname == "random" and len(traj) > 160 and sum(len(t) > 160 for t in chosen) >= 1:
                    continue  # at most one very long time-out per task
                seen.add(key)
                chosen.append(traj)
                if sum(1 for t in chosen if t.policy == traj.policy) >= n:
                    break
        out += chosen
    return out

# pool name -> (base seed, runs per policy kind and task)
POOLS = {
    "train": (1000, {"clean": 5, "blunder": 18, "messy": 16, "random": 3}),
    "evalA": (2000, {"clean": 1, "blunder": 2, "messy": 2, "random": 1}),
    "evalB": (3000, {"clean": 1, "blunder": 2, "messy": 2, "random": 1}),
    "dev": (4000, {"clean": 1, "blunder": 2, "messy": 2, "random": 1}),
    # 2026-12-05, second session: more training runs for precise-attribution remarks and pairs
    "train3": (6000, {"clean": 1, "blunder": 9, "messy": 9, "random": 1}),
    # 2026-12-06: more training runs for mixed remarks, advice and prohibitions
    "train4": (7000, {"clean": 1, "blunder": 9, "messy": 9, "random": 1}),
    # 2026-12-06, tenth session: more training runs for negation pairs
    "train5": (8000, {"clean": 1, "blunder": 9, "messy": 9, "random": 1}),
    # 2026-12-07: more long and messy runs for precise remarks (spans, counted events, advice)
    "train6": (9000, {"clean": 1, "blunder": 6, "messy": 10, "random": 3}),
    "train7": (10000, {"clean": 1, "blunder": 6, "messy": 10, "random": 3}),
    # 2026-12-07, eighteenth session: training runs for negation pairs in the styles the realistic flip set fails
    "train8": (11000, {"clean": 1, "blunder": 9, "messy": 9, "random": 1}),
    # 2026-12-07, twenty-second session: a third sealed evaluation set
    "evalC": (12000, {"clean": 1, "blunder": 2, "messy": 2, "random": 1}),
}

if __name__ == "__main__":
    which = sys.argv[1]
    trajs = pool(*POOLS[which])
    Path("pools").mkdir(exist_ok=True)
    write_trajectories(f"pools/{which}.jsonl", trajs)
    from collections import Counter
    print(which, len(trajs), Counter((t.env_id.split('-')[1], t.policy.split('(')[0]) for t in trajs))
    print("lengths", sorted(len(t) for t in trajs)[-10:], "mean", np.mean([len(t) for t in trajs]))
