"""Evaluate an interpreter on critic feedback: targets for every item, negation probes, metrics."""

from __future__ import annotations

from collections.abc import Sequence

from nlfeedback.feedback.schema import TextFeedback
from nlfeedback.language.interpreters.base import Interpreter, interpret_many
from nlfeedback.language.negation import negate
from nlfeedback.metrics.interpretation import InterpretationReport, score
from nlfeedback.trajectory import Trajectory


def negation_probes(items: Sequence[TextFeedback]) -> list[tuple[TextFeedback, TextFeedback]]:
    """(item, negated copy) for single-clause items a simple rule can negate."""
    out = []
    for fb in items:
        if fb.intent is None or len(fb.intent.clauses) != 1 or fb.intent.clauses[0].polarity == 0:
            continue
        flipped = negate(fb.text)
        if flipped:
            clause = fb.intent.clauses[0]
            intent = fb.intent.model_copy(update={"clauses": [clause.model_copy(update={"polarity": -clause.polarity})]})
            out.append((fb, fb.model_copy(update={"text": flipped, "id": fb.id + "-neg", "intent": intent})))
    return out


def evaluate_interpreter(interp: Interpreter, items: Sequence[TextFeedback], trajectories: dict[str, Trajectory], *,
                         train_env_ids: set[str] | None = None, probes: bool = True) -> InterpretationReport:
    text_items = [fb for fb in items if isinstance(fb, TextFeedback) and fb.intent is not None]
    pairs = [(fb, trajectories[fb.trajectory_id]) for fb in text_items]
    targets = interpret_many(interp, pairs)
    heldout = None
    if train_env_ids is not None:
        heldout = [trajectories[fb.trajectory_id].env_id not in train_env_ids for fb in text_items]
    probe_triples = []
    probe_heldout = None
    if probes:
        pp = negation_probes(text_items)
        negated = interpret_many(interp, [(neg, trajectories[fb.trajectory_id]) for fb, neg in pp])
        originals = {t.feedback_id: t for t in targets}
        probe_triples = [(fb, originals[fb.id], t) for (fb, _), t in zip(pp, negated)]
        if train_env_ids is not None:
            probe_heldout = [trajectories[fb.trajectory_id].env_id not in train_env_ids for fb, _ in pp]
    report = score(text_items, targets, probes=probe_triples, heldout_task=heldout, probe_heldout_task=probe_heldout)
    report.skipped_no_intent = sum(isinstance(fb, TextFeedback) and fb.intent is None for fb in items)
    return report
