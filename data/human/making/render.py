"""Render trajectory pools as text files for remark writers (nlf show's format, grids thinned on long runs)."""
import json, sys
from pathlib import Path
from nlfeedback.envs.render import LEGEND, carrying_text, grid_text
from nlfeedback.envs.tasks import ACTION_NAMES
from nlfeedback.trajectory import load_trajectories, replay_steps
from nlfeedback.envs.tasks import task_for_env_id

PLAIN = {"turned left", "turned right", "moved forward"}

def render(traj, run_name):
    T = len(traj)
    task = task_for_env_id(traj.env_id, traj.env_kwargs)
    if traj.success:
        outcome = f"reached the green goal at step {T}"
    elif any("entered:lava" in ev for ev in traj.events):
        outcome = f"stepped into the lava at step {T} (episode over)"
    elif traj.truncated:
        outcome = f"ran out of time after {T} steps without reaching the goal"
    else:
        outcome = f"ended after {T} steps"
    lines = []
    grids = {}
    for st in replay_steps(traj):
        cap = traj.captions[st.step - 1] if st.step else "start"
        key_event = any(w in cap for w in ("picked up the", "door", "lava", "goal", "dropped"))
        if st.step == 0 or st.step == T or key_event or (T > 40 and st.step % 20 == 0):
            grids[st.step] = grid_text(st.env)
        if st.step == 0:
            mission = st.env.unwrapped.mission
    lines.append(f"=== RUN {run_name} === task {task.name}; mission: \"{mission}\"; {T} steps; outcome: {outcome}")
    lines.append("step 0: start, carrying nothing")
    lines.append(grids[0])
    i = 1
    while i <= T:
        a, cap = ACTION_NAMES[traj.actions[i - 1]], traj.captions[i - 1]
        j = i
        while j < T and ACTION_NAMES[traj.actions[j]] == a and traj.captions[j] == cap and (j + 1) not in grids and i not in grids:
            j += 1
        if j - i >= 2:
            lines.append(f"steps {i}-{j}: {a} x{j - i + 1} → {cap} (each time)")
        else:
            j = i
            lines.append(f"step {i}: {a} → {cap}")
        if j in grids and j != 0:
            lines.append(grids[j])
        i = j + 1
    lines.append(f"=== END OF RUN {run_name} ===\n")
    return "\n".join(lines)

if __name__ == "__main__":
    pool, prefix, nbatches, outdir = sys.argv[1], sys.argv[2], int(sys.argv[3]), Path(sys.argv[4])
    trajs = list(load_trajectories(f"pools/{pool}.jsonl").values())
    outdir.mkdir(parents=True, exist_ok=True)
    index = {}
    for b in range(nbatches):
        part = trajs[b::nbatches]
        texts = []
        for i, t in enumerate(part):
            name = f"{prefix}{b}-{i:02d}"
            index[name] = t.id
            texts.append(render(t, name))
        (outdir / f"batch{b}.txt").write_text("\n".join(texts))
        print(pool, b, len(part), sum(len(t) for t in part))
    (outdir / f"index-{pool}.json").write_text(json.dumps(index, indent=1))
