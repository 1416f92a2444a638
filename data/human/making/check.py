"""Check remark labels against the runs' captions.  usage: python check.py OUTPUT.jsonl
Prints one line per problem as FILE:LINE: what; exit 1 if any."""
import json, re, sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
CATEGORIES = {"evaluative", "imperative", "descriptive_rule", "negation", "double_negation", "sarcasm", "mixed",
              "referent", "temporal_span", "step_number", "counterfactual", "quantity", "vague", "whole_run",
              "off_topic"}
PATTERNS = ("entered:lava", "bumped:wall", "bumped:door", "bumped:key", "spin", "wasted", "picked_up:key",
            "dropped:key", "unlocked:door", "opened:door", "closed:door", "locked_out:door", "passed:door",
            "reached:goal", "moved_forward", "turned")

def load_runs():
    runs = {}
    for idx in HERE.glob("render/*/index-*.json"):
        pool = idx.stem.split("-", 1)[1]
        trajs = {}
        for line in open(HERE / "pools" / f"{pool}.jsonl"):
            d = json.loads(line)
            trajs[d["id"]] = d
        for name, tid in json.loads(idx.read_text()).items():
            runs[name] = trajs[tid]
    return runs

def parse_steps(spec, T):
    """'all' | 'none' | '5' | '3-7' | '3-7,12' (numbers as shown: 1..T) -> sorted list of 1-based steps."""
    if isinstance(spec, int):
        spec = str(spec)
    if not isinstance(spec, str):
        raise ValueError(f"steps must be a string like '3-7,12', 'all' or 'none', got {spec!r}")
    s = spec.strip().lower()
    if s == "all":
        return list(range(1, T + 1))
    if s == "none":
        return []
    out = set()
    for part in s.split(","):
        part = part.strip()
        m = re.fullmatch(r"(\d+)\s*-\s*(\d+)", part)
        if m:
            a, b = int(m.group(1)), int(m.group(2))
            if a > b:
                raise ValueError(f"range {part!r} runs backwards")
            out.update(range(a, b + 1))
        elif part.isdigit():
            out.add(int(part))
        else:
            raise ValueError(f"cannot read steps {spec!r}")
    bad = [x for x in out if not 1 <= x <= T]
    if bad:
        raise ValueError(f"steps {sorted(bad)} are outside the run's steps 1..{T}")
    return sorted(out)

def event_steps(traj, prefix):
    return {t + 1 for t, ev in enumerate(traj["events"]) if any(e == prefix or e.startswith(prefix + ":") for e in ev)}

TURN_ACTIONS = {0, 1}
NUMBER_WORDS = {w: i for i, w in enumerate("zero one two three four five six seven eight nine ten eleven twelve "
                "thirteen fourteen fifteen sixteen seventeen eighteen nineteen twenty".split())}

def check_clause(c, text, traj, where):
    errs = []
    T = len(traj["actions"])
    for k in c:
        if k not in {"quote", "steps", "polarity", "strength", "scope", "pattern"}:
            errs.append(f"{where}: unknown clause field {k!r}")
    quote = c.get("quote", "")
    if not isinstance(quote, str) or not quote.strip() or quote not in text:
        errs.append(f"{where}: 'quote' must be an exact, non-empty piece of the remark's text")
    try:
        steps = parse_steps(c.get("steps"), T)
    except ValueError as e:
        return errs + [f"{where}: {e}"]
    pol = c.get("polarity")
    if pol not in (-1, 0, 1):
        errs.append(f"{where}: polarity must be -1, 0 or 1")
    st = c.get("strength")
    if not isinstance(st, (int, float)) or not 0 <= st <= 1:
        errs.append(f"{where}: strength must be a number in [0, 1]")
    scope = c.get("scope", "run")
    if scope not in ("run", "general"):
        errs.append(f"{where}: scope must be 'run' or 'general'")
    if scope == "general":
        pat = c.get("pattern")
        if pat not in PATTERNS:
            errs.append(f"{where}: a general clause needs a pattern from {PATTERNS}")
    if pol in (-1, 1) and scope == "run" and not steps:
        errs.append(f"{where}: a clause about this run with polarity {pol} needs steps")
    if pol == 0 and steps and scope == "run":
        pass
    q = quote.lower() if isinstance(quote, str) else ""
    S = set(steps)
    # consistency with captions
    if steps and scope == "run" and len(S) < T:
        lava = event_steps(traj, "entered:lava")
        if re.search(r"\blava\b|burn|fire|orange", q) and lava and not (S & lava) and pol == -1 and "avoid" not in q:
            errs.append(f"{where}: mentions lava, the run has lava at step {sorted(lava)}, but the steps do not include it")
        goal = event_steps(traj, "reached:goal")
        if re.search(r"\bgoal\b|finish|green square|exit", q) and goal and pol == 1 and not (S & goal) and len(S) < 3:
            errs.append(f"{where}: praises the goal/finish (step {sorted(goal)}) but the steps do not include it")
        if re.search(r"\bspin|twirl|circles|turning around|spinning", q) and pol == -1:
            non_turn = [s for s in S if traj["actions"][s - 1] not in TURN_ACTIONS]
            if len(non_turn) > max(1, len(S) // 4):
                errs.append(f"{where}: a spinning/turning label covers non-turn steps {non_turn[:8]}")
        bumps = event_steps(traj, "bumped")
        if re.search(r"\bwall|bump|bonk|crash|faceplant", q) and bumps and pol == -1 and not (S & bumps) and len(S) < T // 2:
            errs.append(f"{where}: mentions walls/bumps (run has bumps at {sorted(bumps)[:8]}) but the steps include none")
        for m in re.finditer(r"\b(?:step|move|action|turn|st)\s*(?:no\.?|#|number)?\s*(\d+)\b", q):
            n = int(m.group(1))
            if not any(abs(s - n) <= 1 for s in S):
                errs.append(f"{where}: says step {n} but no labelled step is within one of it (labels use the numbers shown)")
    return errs

def check_file(path, runs):
    errs, n = [], 0
    for ln, line in enumerate(open(path), 1):
        where = f"{path}:{ln}"
        if not line.strip():
            continue
        try:
            r = json.loads(line)
        except json.JSONDecodeError as e:
            errs.append(f"{where}: not JSON ({e})"); continue
        n += 1
        for k in ("run", "persona", "text", "categories", "clauses"):
            if k not in r:
                errs.append(f"{where}: missing field {k!r}")
        if r.get("run") not in runs:
            errs.append(f"{where}: unknown run {r.get('run')!r}"); continue
        traj = runs[r["run"]]
        cats = r.get("categories", [])
        if not isinstance(cats, list) or not cats or set(cats) - CATEGORIES:
            errs.append(f"{where}: categories must be a non-empty list from {sorted(CATEGORIES)}")
        clauses = r.get("clauses", [])
        if not isinstance(clauses, list):
            errs.append(f"{where}: clauses must be a list"); continue
        if not clauses and "off_topic" not in cats and "vague" not in cats:
            errs.append(f"{where}: no clauses: only for off_topic or vague remarks")
        for i, c in enumerate(clauses):
            if not isinstance(c, dict):
                errs.append(f"{where}: clause {i} is not an object"); continue
            errs += check_clause(c, r.get("text", ""), traj, f"{where}: clause {i}")
    return errs, n

if __name__ == "__main__":
    runs = load_runs()
    total_errs = []
    for p in sys.argv[1:]:
        errs, n = check_file(p, runs)
        total_errs += errs
        print(f"{p}: {n} remarks, {len(errs)} problems")
    for e in total_errs:
        print(e)
    sys.exit(1 if total_errs else 0)
