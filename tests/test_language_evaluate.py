"""Evaluating an interpreter (nlfeedback/language/evaluate.py): the misreadings list."""

from __future__ import annotations

from nlfeedback.critics import critique
from nlfeedback.envs import get_task
from nlfeedback.language.interpreters import make_interpreter
from nlfeedback.policies import make_policy
from nlfeedback.rollout import rollout


def test_misreadings_list_exactly_what_the_metrics_count():
    from nlfeedback.language.evaluate import run_evaluation

    trajs = list(rollout(get_task("doorkey-5x5"), make_policy("expert", epsilon=0.15, mistakes=0.35), 20, seed=4))
    items = list(critique(trajs, "text", budget=80, seed=2, split="heldout"))
    by_id = {t.id: t for t in trajs}
    ev = run_evaluation(make_interpreter("keyword"), items, by_id)
    tally, misread = ev.report().overall, ev.misreadings()
    steps = lambda runs: sum(b - a + 1 for a, b in runs)  # noqa: E731
    items_ = [r for r in misread if r["problem"] == "misread"]
    probes = [r for r in misread if r["problem"] == "negation-probe"]
    assert items_ and sum(steps(r["wrong_sign_steps"]) for r in items_) == tally.sign_errors
    assert sum(steps(r["extra_steps"]) for r in items_) == tally.fp
    assert sum(steps(r["missed_steps"]) for r in items_) == tally.fn
    assert len(probes) == tally.flip_failures and all(r["negated_text"] != r["text"] for r in probes)
    worst = [steps(r["wrong_sign_steps"]) + steps(r["extra_steps"]) for r in items_]
    assert worst == sorted(worst, reverse=True)
    # the oracle reads the intents themselves: nothing is misread
    assert run_evaluation(make_interpreter("oracle-intent"), items, by_id).misreadings() == []


def test_a_second_labelling_is_scored_as_a_reading_of_the_same_remarks(tmp_path):
    """`nlf eval-interpreter --second-labels`: another person's labels of the same remarks, scored against the
    first labelling with the interpreters' metrics (agreement between labellers)."""
    import json
    from pathlib import Path

    from typer.testing import CliRunner

    from cli.main import app
    from nlfeedback.trajectory import load_trajectories

    human = Path(__file__).resolve().parents[1] / "data" / "human"
    trajs = load_trajectories(human / "trajectories-dev.jsonl")
    recs = [json.loads(x) for x in (human / "dev.jsonl").read_text().splitlines()[:60]]
    first = tmp_path / "first.jsonl"
    first.write_text("".join(json.dumps(r) + "\n" for r in recs))
    traj_file = tmp_path / "traj.jsonl"
    traj_file.write_text("".join(json.dumps(trajs[t].to_json()) + "\n" for t in dict.fromkeys(r["trajectory_id"] for r in recs)))

    def judging(r):  # its clauses that judge, with steps in the run
        T = len(trajs[r["trajectory_id"]])
        return [c for c in r["labels"]["clauses"] if c["polarity"] != 0 and any(0 <= s < T for s in c["steps"])]

    def run(second, *extra):
        path = tmp_path / "second.jsonl"
        path.write_text("".join(json.dumps(r) + "\n" for r in second))
        return CliRunner().invoke(app, ["eval-interpreter", "-f", str(first), "-t", str(traj_file), "--second-labels",
                                        str(path), "--json", *extra], catch_exceptions=False)

    r = run(recs)  # the same labels: the gold's own reading (a remark whose clauses overlap with opposite signs
    assert r.exit_code == 0, r.output  # can lose one of them in the combined targets, so not always zero error)
    rep = json.loads(r.output)
    assert rep["interpreter"] == "second-labelling"
    oracle = CliRunner().invoke(app, ["eval-interpreter", "-f", str(first), "-t", str(traj_file), "--interpreter",
                                      "oracle-intent", "--json"], catch_exceptions=False)
    same = json.loads(oracle.output)["overall"]
    o = rep["overall"]
    n = sum(len(judging(x)) for x in recs)
    assert o == same and o["clauses"] == n and o["attribution_f1"] == 1 and o["missed_rate"] == 0
    wrong = round(same["clause_sign_error_rate"] * n)

    # the second labeller reads one single-clause remark the other way and finds no judgement in another
    single = [i for i, x in enumerate(recs) if len(x["labels"]["clauses"]) == 1 and len(judging(x)) == 1]
    flip, drop = single[0], single[1]
    second = json.loads(json.dumps(recs))
    second[flip]["labels"]["clauses"][0]["polarity"] *= -1
    second[drop]["labels"]["clauses"] = []
    o = json.loads(run(second).output)["overall"]
    assert o["clause_sign_error_rate"] == round((wrong + 2) / n, 4) and o["missed_rate"] == round(1 / n, 4)
    assert o["attribution_precision"] == 1  # nothing was read that the first labelling does not hold
    steps = lambda x: {s for c in judging(x) for s in c["steps"]}  # noqa: E731
    total = sum(len(steps(x)) for x in recs)
    assert o["attribution_recall"] == round(1 - len(steps(recs[drop])) / total, 4)

    # a remark the second labelling lacks, or labels under another text, is a clear error
    r = run(recs[1:])
    assert r.exit_code == 1 and f"{recs[0]['id']}: not labelled in" in r.output
    changed = json.loads(json.dumps(recs))
    changed[0]["text"] += " (edited)"
    r = run(changed)
    assert r.exit_code == 1 and "another text or trajectory" in r.output


def test_agreed_with_scores_only_the_reversals_a_second_labelling_reads_too(tmp_path):
    """`nlf eval-interpreter --agreed-with FILE` (evaluate.agreed_reversals): the hand-written negation pairs are
    scored only where another labelling of both remarks reads a reversal too."""
    import json
    from pathlib import Path

    from typer.testing import CliRunner

    from cli.main import app
    from nlfeedback.trajectory import load_trajectories

    human = Path(__file__).resolve().parents[1] / "data" / "human"
    trajs = load_trajectories(human / "trajectories-dev.jsonl")
    recs = [json.loads(x) for x in (human / "dev-pairs2.jsonl").read_text().splitlines()[:40]]  # 20 whole pairs
    assert sum(r["labels"].get("negates") is not None for r in recs) == 20
    first = tmp_path / "pairs.jsonl"
    first.write_text("".join(json.dumps(r) + "\n" for r in recs))
    traj_file = tmp_path / "traj.jsonl"
    traj_file.write_text("".join(json.dumps(trajs[t].to_json()) + "\n" for t in dict.fromkeys(r["trajectory_id"] for r in recs)))

    def run(second, interpreter="oracle-intent"):
        path = tmp_path / "second.jsonl"
        path.write_text("".join(json.dumps(r) + "\n" for r in second))
        return CliRunner().invoke(app, ["eval-interpreter", "-f", str(first), "-t", str(traj_file), "--interpreter",
                                        interpreter, "--agreed-with", str(path), "--json"], catch_exceptions=False)

    everything = json.loads(CliRunner().invoke(app, ["eval-interpreter", "-f", str(first), "-t", str(traj_file),
                                                     "--interpreter", "oracle-intent", "--json"]).output)["overall"]
    rep = json.loads(run(recs).output)  # the writers' own labels as the second labelling: the pairs they flip
    assert rep["hand_written_pairs"] == 20 and everything["probes"] == 20
    assert rep["agreed_pairs"] == 20 - round(everything["negation_flip_failure"] * 20)
    assert rep["overall"]["probes"] == rep["agreed_pairs"] and rep["overall"]["negation_flip_failure"] == 0

    # a second labeller who reads one negation with its original's sign (sarcasm, say): that pair drops out
    second = json.loads(json.dumps(recs))
    b = next(i for i, r in enumerate(second) if r["labels"].get("negates") is not None
             and all(c["polarity"] != 0 for c in r["labels"]["clauses"]))
    for c in second[b]["labels"]["clauses"]:
        c["polarity"] *= -1
    fewer = json.loads(run(second).output)
    assert fewer["agreed_pairs"] == rep["agreed_pairs"] - 1 and fewer["overall"]["probes"] == fewer["agreed_pairs"]

    # the pairs scored are exactly the agreed ones, by the negation's id
    from nlfeedback.language.evaluate import agreed_reversals, run_evaluation
    from nlfeedback.language.interpreters.oracle import SecondLabelling
    from nlfeedback.feedback.schema import TextFeedback

    items = [TextFeedback.model_validate(r) for r in recs]
    sub = {t: trajs[t] for t in dict.fromkeys(r["trajectory_id"] for r in recs)}
    agreed, n = agreed_reversals(items, sub, SecondLabelling([TextFeedback.model_validate(r) for r in second]))
    assert n == 20 and len(agreed) == fewer["agreed_pairs"] and second[b]["id"] not in agreed
    ev = run_evaluation(make_interpreter("keyword"), items, sub, probe_ids=agreed)
    assert {neg.id for _, neg, _, _ in ev.probes} == agreed

    # a reader is scored on the agreed pairs only; a pair's remark the second labelling lacks is a clear error
    kw = json.loads(run(second, "keyword").output)
    assert kw["overall"]["probes"] == fewer["agreed_pairs"]
    r = run([x for x in recs if x["id"] != recs[b]["id"]])
    assert r.exit_code == 1 and f"{recs[b]['id']}: not labelled in" in r.output


def test_agreed_pairs_leave_the_critic_remarks_negation_probes_alone():
    """probe_ids selects among hand-written pairs only: critic remarks' rule-made negations are always scored."""
    from nlfeedback.language.evaluate import run_evaluation

    trajs = list(rollout(get_task("doorkey-5x5"), make_policy("expert", epsilon=0.15, mistakes=0.35), 8, seed=4))
    items = list(critique(trajs, "text", budget=30, seed=2, split="heldout"))
    by_id = {t.id: t for t in trajs}
    every = run_evaluation(make_interpreter("keyword"), items, by_id)
    none_agreed = run_evaluation(make_interpreter("keyword"), items, by_id, probe_ids=set())
    assert every.probes and len(none_agreed.probes) == len(every.probes)
