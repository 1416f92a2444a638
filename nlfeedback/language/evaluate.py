"""Evaluate an interpreter on labelled feedback — critic remarks with intents, human remarks with gold
labels —: targets for every item, negation probes, metrics, and the list of what it misread.

Negation probes: for critic remarks, each single-clause remark that :func:`negate` can negate, and its
negation; for human remarks, the hand-written pairs in the file (a record whose ``labels.negates`` names
the remark it negates)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from nlfeedback.errors import NlfError
from nlfeedback.feedback.labels import hand_written_pairs, step_runs
from nlfeedback.feedback.schema import TextFeedback
from nlfeedback.language.interpreters.base import Interpreter, interpret_many
from nlfeedback.language.negation import negate
from nlfeedback.metrics.interpretation import (InterpretationReport, flip_failed, gold_of, intended_steps,
                                                mean_target, score, step_errors, with_gold)
from nlfeedback.targets import Targets, rule_targets
from nlfeedback.trajectory import Trajectory


def negation_probes(items: Sequence[TextFeedback]) -> list[tuple[TextFeedback, TextFeedback]]:
    """(item, its negation): hand-written pairs among human remarks, and for single-clause critic remarks
    the copy a simple rule can negate."""
    out = hand_written_pairs(items)
    for fb in items:
        if fb.intent is None or len(fb.intent.clauses) != 1 or fb.intent.clauses[0].polarity == 0:
            continue
        flipped = negate(fb.text)
        if flipped:
            clause = fb.intent.clauses[0]
            intent = fb.intent.model_copy(update={"clauses": [clause.model_copy(update={"polarity": -clause.polarity})]})
            out.append((fb, fb.model_copy(update={"text": flipped, "id": fb.id + "-neg", "intent": intent})))
    return out


RESAMPLE_UNITS = ("trajectory", "text")  # what Evaluation.intervals can resample


@dataclass
class Evaluation:
    """What an evaluation read: every scored item with its targets, and the negation probes."""

    items: list[TextFeedback]
    targets: list[Targets]
    probes: list[tuple[TextFeedback, TextFeedback, Targets, Targets]] = field(default_factory=list)
    heldout_task: list[bool] | None = None
    probe_heldout_task: list[bool] | None = None
    skipped_no_intent: int = 0
    rule_targets: list[Targets] | None = None  # per item: what the rules read from it give on its trajectory

    def report(self) -> InterpretationReport:
        report = score(self.items, self.targets, probes=[(fb, t0, t1) for fb, _, t0, t1 in self.probes],
                       heldout_task=self.heldout_task, probe_heldout_task=self.probe_heldout_task,
                       rule_targets=self.rule_targets)
        report.skipped_no_intent = self.skipped_no_intent
        return report

    def intervals(self, rounds: int = 2000, seed: int = 0, level: float = 0.95,
                  unit: str = "trajectory") -> dict[str, list[float]]:
        """Percentile-bootstrap intervals of the overall rates: metric → [low, high]. ``unit`` is what is
        resampled with all its remarks: ``trajectory`` (a trajectory's remarks share its run, so they are not
        independent) or ``text`` (the remarks with one wording: a critic's templates repeat a few wordings many
        times, and whether a reader reads one wording is one draw, however many remarks carry it)."""
        import numpy as np

        from nlfeedback.metrics.interpretation import Tally

        fields = ("sign_total", "sign_errors", "tp", "fp", "fn", "clauses", "clause_wrong", "clause_missed")
        if unit not in RESAMPLE_UNITS:
            raise NlfError(f"resample {' or '.join(map(repr, RESAMPLE_UNITS))}, not {unit!r}")
        key = (lambda fb: fb.trajectory_id) if unit == "trajectory" else (lambda fb: fb.text)
        index = {k: i for i, k in enumerate(dict.fromkeys(key(fb) for fb in self.items))}
        counts = np.zeros((len(index), len(fields)))  # per trajectory: the tallies' counts
        for fb, t in zip(self.items, self.targets):
            one = Tally()
            one.add_item(intended_steps(fb), t, gold_of(fb).clauses)
            counts[index[key(fb)]] += [getattr(one, f) for f in fields]
        rng = np.random.default_rng(seed)
        draws = counts[rng.integers(len(index), size=(rounds, len(index)))].sum(axis=1)  # (rounds, fields)
        c = dict(zip(fields, draws.T))
        with np.errstate(divide="ignore", invalid="ignore"):
            p = c["tp"] / (c["tp"] + c["fp"])
            r = c["tp"] / (c["tp"] + c["fn"])
            rates = {"sign_error_rate": c["sign_errors"] / c["sign_total"], "attribution_f1": 2 * p * r / (p + r),
                     "clause_sign_error_rate": (c["clause_wrong"] + c["clause_missed"]) / c["clauses"],
                     "missed_rate": c["clause_missed"] / c["clauses"]}
        a = (1 - level) / 2
        out = {}
        for k, v in rates.items():
            v = v[np.isfinite(v)]
            if len(v):
                out[k] = [round(float(np.quantile(v, a)), 4), round(float(np.quantile(v, 1 - a)), 4)]
        return out

    def misreadings(self) -> list[dict[str, Any]]:
        """One record per misread item — a sign error or a wrongly attributed step — and per failed
        negation probe, worst first (most wrong steps): what to read to see *how* an interpreter fails."""
        out = []
        for fb, t in zip(self.items, self.targets):
            intended = intended_steps(fb)
            e = step_errors(intended, t)
            if not (e.wrong_sign or e.missed or e.extra):
                continue
            gold = gold_of(fb)
            out.append({"problem": "misread", "feedback_id": fb.id, "text": fb.text,
                        "categories": gold.categories, "split": gold.split,
                        "intent": [{"steps": _span(c.steps), "polarity": c.polarity} for c in gold.clauses],
                        "intended_steps": len(intended), "wrong_sign_steps": _span(e.wrong_sign),
                        "missed_steps": _span(e.missed), "extra_steps": _span(e.extra),
                        "_badness": len(e.wrong_sign) + len(e.extra)})
        for fb, neg, t0, t1 in self.probes:
            intended = intended_steps(fb)
            if flip_failed(intended, t0, t1):
                steps = list(intended)
                gold = gold_of(fb)
                out.append({"problem": "negation-probe", "feedback_id": fb.id, "text": fb.text,
                            "negated_text": neg.text, "categories": gold.categories,
                            "split": gold.split, "polarity": gold.clauses[0].polarity,
                            "mean_target": _rounded(mean_target(t0, steps)),
                            "negated_mean_target": _rounded(mean_target(t1, steps)), "_badness": len(steps)})
        out.sort(key=lambda r: (r["problem"], -r["_badness"]))
        for r in out:
            del r["_badness"]
        return out


def _span(steps: Sequence[int]) -> list[list[int]]:
    """Steps as [first, last] runs: [3, 4, 5, 9] → [[3, 5], [9, 9]]."""
    return [[a, b] for a, b in step_runs(steps)]


def _rounded(x: float | None) -> float | None:
    return None if x is None else round(x, 4)


def agreed_reversals(items: Sequence[TextFeedback], trajectories: dict[str, Trajectory],
                     second: Interpreter) -> tuple[set[str], int]:
    """(ids of the hand-written negations that another reading — typically a second labeller's,
    :class:`~nlfeedback.language.interpreters.oracle.SecondLabelling` — also reads as reversing their original,
    the number of hand-written pairs): the pairs whose flip two people agree on. A pair the writer meant as a
    reversal but an attentive reader takes another way (a denial of a plain blunder read as sarcasm, say) is
    not a fair test of a reader's negation. Keyed by the negation's id, unique even where one remark has two."""
    pairs = hand_written_pairs(with_gold(items))
    if not pairs:
        return set(), 0
    read = interpret_many(second, [(fb, trajectories[fb.trajectory_id]) for pair in pairs for fb in pair])
    agreed = {neg.id for (fb, neg), t0, t1 in zip(pairs, read[0::2], read[1::2])
              if not flip_failed(intended_steps(fb), t0, t1)}
    return agreed, len(pairs)


def run_evaluation(interp: Interpreter, items: Sequence[TextFeedback], trajectories: dict[str, Trajectory], *,
                   train_env_ids: set[str] | None = None, probes: bool = True,
                   probe_ids: set[str] | None = None) -> Evaluation:
    """Interpret every labelled item (and, with ``probes``, the negation probes: see the module doc;
    ``probe_ids``: of the hand-written pairs, only those whose negation's id is here, e.g.
    :func:`agreed_reversals`' — the critic remarks' rule-made negations are scored as always)."""
    labelled = with_gold(items)
    probe_texts = {fb.id for fb in labelled if fb.labels is not None and fb.labels.negates is not None}
    text_items = [fb for fb in labelled if fb.id not in probe_texts]  # a hand-written negation is a probe only
    pairs = [(fb, trajectories[fb.trajectory_id]) for fb in text_items]
    ev = Evaluation(text_items, interpret_many(interp, pairs))
    ev.rule_targets = []
    for t, (fb, traj) in zip(ev.targets, pairs):
        targets, weights = rule_targets(t.rules, traj)
        ev.rule_targets.append(Targets(fb.id, traj.id, t.interpreter, targets, weights, t.confidence))
    ev.skipped_no_intent = sum(isinstance(fb, TextFeedback) and gold_of(fb) is None for fb in items)
    if train_env_ids is not None:
        ev.heldout_task = [trajectories[fb.trajectory_id].env_id not in train_env_ids for fb in text_items]
    if probes:
        pp = negation_probes(labelled)
        if probe_ids is not None:
            pp = [(fb, neg) for fb, neg in pp if neg.id in probe_ids or neg.id not in probe_texts]
        negated = interpret_many(interp, [(neg, trajectories[fb.trajectory_id]) for fb, neg in pp])
        originals = {t.feedback_id: t for t in ev.targets}
        ev.probes = [(fb, neg, originals[fb.id], t) for (fb, neg), t in zip(pp, negated)]
        if train_env_ids is not None:
            ev.probe_heldout_task = [trajectories[fb.trajectory_id].env_id not in train_env_ids for fb, _ in pp]
    return ev


def evaluate_interpreter(interp: Interpreter, items: Sequence[TextFeedback], trajectories: dict[str, Trajectory], *,
                         train_env_ids: set[str] | None = None, probes: bool = True) -> InterpretationReport:
    return run_evaluation(interp, items, trajectories, train_env_ids=train_env_ids, probes=probes).report()
