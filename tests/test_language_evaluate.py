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
