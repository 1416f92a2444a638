"""Interpretation metrics: how often, and how, an interpreter misreads feedback.

Scored against the item's *gold*: a critic's recorded ``intent``, or the ``labels`` someone gave a human
remark (:func:`gold_of`). Items with neither are skipped.

Definitions (docs/design.md):

* ``sign_error_rate``: over intended steps (steps of clauses with polarity ±1), the share where the
  target's sign differs from the intended polarity; a step the interpreter gave zero weight (abstained)
  counts as an error.
* ``attribution_f1``: precision / recall / F1 of the steps given weight > 0 against the intended steps,
  pooled over items (micro-averaged). A remark meaning nothing in particular (vague, polarity 0) has no
  intended steps: any step it is read as being about is a false positive.
* ``negation_flip_failure``: over paired probes (a remark and its negation by
  :func:`nlfeedback.language.negation.negate`, on the same trajectory), the share where the mean
  target over the intended steps does not change sign (abstaining on either counts as a failure).

Clause-level (one count per gold clause with polarity ±1 and steps in the trajectory; the figures people
quote for human remarks):

* ``clause_sign_error_rate``: the share of clauses whose mean target over their steps has the wrong sign
  or no weight at all (missed counts as an error).
* ``missed_rate``: the share of clauses with zero weight on every one of their steps.
* ``rule_error_rate``: over gold *general* clauses (a rule such as "lava kills you", scope ``general``,
  polarity ±1) whose event happens in the trajectory, the share that the rules the interpreter read do not
  reproduce: the targets those rules alone give on the trajectory (as they would on any other) have the
  wrong sign or no weight on the clause's steps. It scores the rule, not the reading of this run.

Each is reported overall and by category (the gold's categories), by split (train, heldout phrasing;
``human`` for labelled human remarks) and for trajectories of tasks the interpreter was not trained on
(``heldout-task``).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from nlfeedback.feedback.schema import Clause, TextFeedback
from nlfeedback.targets import Targets


@dataclass
class Tally:
    sign_total: int = 0
    sign_errors: int = 0
    tp: int = 0
    fp: int = 0
    fn: int = 0
    items: int = 0
    probes: int = 0
    flip_failures: int = 0
    clauses: int = 0
    clause_wrong: int = 0
    clause_missed: int = 0
    rules: int = 0
    rules_wrong: int = 0

    def add_rules(self, clauses: Sequence[Clause], rule_t: Targets) -> None:
        """Score the gold general clauses against the targets the read rules alone give."""
        for c in clauses:
            if c.scope != "general":
                continue
            verdict = clause_reading(c, rule_t)
            if verdict is not None:
                self.rules += 1
                self.rules_wrong += verdict != "right"

    def add_item(self, intended: dict[int, int], t: Targets, clauses: Sequence[Clause] = ()) -> None:
        self.items += 1
        e = step_errors(intended, t)
        self.sign_total += len(intended)
        self.sign_errors += len(e.wrong_sign)
        self.tp += len(intended) - len(e.missed)
        self.fp += len(e.extra)
        self.fn += len(e.missed)
        for c in clauses:
            verdict = clause_reading(c, t)
            if verdict is None:
                continue
            self.clauses += 1
            self.clause_wrong += verdict == "wrong"
            self.clause_missed += verdict == "missed"

    def as_dict(self) -> dict[str, Any]:
        p = self.tp / (self.tp + self.fp) if self.tp + self.fp else (1.0 if not self.fn else 0.0)
        r = self.tp / (self.tp + self.fn) if self.tp + self.fn else 1.0
        f1 = 2 * p * r / (p + r) if p + r else 0.0
        return {
            "items": self.items,
            "sign_error_rate": round(self.sign_errors / self.sign_total, 4) if self.sign_total else None,
            "attribution_precision": round(p, 4), "attribution_recall": round(r, 4), "attribution_f1": round(f1, 4),
            "probes": self.probes,
            "negation_flip_failure": round(self.flip_failures / self.probes, 4) if self.probes else None,
            "clauses": self.clauses,
            "clause_sign_error_rate": (round((self.clause_wrong + self.clause_missed) / self.clauses, 4)
                                       if self.clauses else None),
            "missed_rate": round(self.clause_missed / self.clauses, 4) if self.clauses else None,
            "rules": self.rules,
            "rule_error_rate": round(self.rules_wrong / self.rules, 4) if self.rules else None,
        }


@dataclass
class StepErrors:
    """How one item's targets miss its intent (sorted step indices)."""

    wrong_sign: list[int]  # intended steps given zero weight or the other sign
    missed: list[int]  # intended steps given zero weight
    extra: list[int]  # steps given weight that the intent is not about


def step_errors(intended: dict[int, int], t: Targets) -> StepErrors:
    attributed = {int(s) for s in np.flatnonzero(t.weights > 0)}
    wrong = sorted(s for s, pol in intended.items() if t.weights[s] <= 0 or np.sign(t.targets[s]) != pol)
    return StepErrors(wrong, sorted(set(intended) - attributed), sorted(attributed - set(intended)))


def mean_target(t: Targets, steps: list[int]) -> float | None:
    """The weighted mean target over ``steps``; ``None`` where they carry no weight (abstained)."""
    w = t.weights[steps]
    return float((t.targets[steps] * w).sum() / w.sum()) if w.sum() > 0 else None


def clause_reading(c: Clause, t: Targets) -> str | None:
    """How one gold clause was read: ``right``, ``wrong`` (mean target of the other sign or zero) or
    ``missed`` (no weight on any of its steps); ``None`` for a clause that cannot be scored here (polarity 0,
    or no steps in this trajectory)."""
    steps = [s for s in c.steps if 0 <= s < len(t.weights)]
    if c.polarity == 0 or not steps:
        return None
    m = mean_target(t, steps)
    if m is None:
        return "missed"
    return "right" if np.sign(m) == c.polarity else "wrong"


@dataclass(frozen=True)
class Gold:
    """What an item means: its clauses, categories and split (from a critic's intent or human labels)."""

    clauses: list[Clause]
    categories: list[str]
    split: str


def gold_of(fb: TextFeedback) -> Gold | None:
    """The item's gold reading: the critic's ``intent``, else the human ``labels``, else ``None``."""
    if fb.intent is not None:
        return Gold(list(fb.intent.clauses), list(fb.intent.categories), fb.intent.split)
    if fb.labels is not None:
        return Gold(list(fb.labels.clauses), list(fb.labels.categories), "human")
    return None


def with_gold(items: Sequence[object]) -> list[TextFeedback]:
    """The text records with something to score against or train on: a critic's intent or a human's labels."""
    return [fb for fb in items if isinstance(fb, TextFeedback) and gold_of(fb) is not None]


def intended_steps(fb: TextFeedback) -> dict[int, int]:
    """Step → intended polarity (the most specific clause wins where clauses overlap)."""
    out: dict[int, int] = {}
    gold = gold_of(fb)
    assert gold is not None
    clauses = sorted(gold.clauses, key=lambda c: -len(c.steps))
    for c in clauses:
        if c.polarity == 0:
            continue
        for s in c.steps:
            out[s] = c.polarity
    return out


def flip_failed(intended: dict[int, int], original: Targets, negated: Targets) -> bool:
    steps = list(intended)
    if not steps:
        return False
    ma, mb = mean_target(original, steps), mean_target(negated, steps)
    if ma is None or mb is None:
        return True
    return not (np.sign(ma) != 0 and np.sign(mb) == -np.sign(ma))


@dataclass
class InterpretationReport:
    overall: Tally = field(default_factory=Tally)
    by_category: dict[str, Tally] = field(default_factory=lambda: defaultdict(Tally))
    by_split: dict[str, Tally] = field(default_factory=lambda: defaultdict(Tally))
    skipped_no_intent: int = 0

    def to_json(self) -> dict[str, Any]:
        return {
            "overall": self.overall.as_dict(),
            "by_category": {k: v.as_dict() for k, v in sorted(self.by_category.items())},
            "by_split": {k: v.as_dict() for k, v in sorted(self.by_split.items())},
            "skipped_no_intent": self.skipped_no_intent,
        }


def score(items: Sequence[TextFeedback], targets: Sequence[Targets], *,
          probes: Sequence[tuple[TextFeedback, Targets, Targets]] = (),
          heldout_task: Sequence[bool] | None = None,
          probe_heldout_task: Sequence[bool] | None = None,
          rule_targets: Sequence[Targets] | None = None) -> InterpretationReport:
    """Score targets against intents. ``probes``: (original item, its targets, targets of its negation);
    ``rule_targets``: per item, the targets the rules read from it give on its own trajectory."""
    report = InterpretationReport()
    for i, (fb, t) in enumerate(zip(items, targets)):
        gold = gold_of(fb)
        if gold is None:
            report.skipped_no_intent += 1
            continue
        intended = intended_steps(fb)
        groups = [report.overall, report.by_split[gold.split]]
        groups += [report.by_category[c] for c in gold.categories]
        if heldout_task is not None and heldout_task[i]:
            groups.append(report.by_split["heldout-task"])
        for g in groups:
            g.add_item(intended, t, gold.clauses)
            if rule_targets is not None:
                g.add_rules(gold.clauses, rule_targets[i])
    for i, (fb, t0, t1) in enumerate(probes):
        gold = gold_of(fb)
        assert gold is not None
        failed = flip_failed(intended_steps(fb), t0, t1)
        groups = [report.overall, report.by_split[gold.split]]
        groups += [report.by_category[c] for c in gold.categories]
        if probe_heldout_task is not None and probe_heldout_task[i]:
            groups.append(report.by_split["heldout-task"])
        for g in groups:
            g.probes += 1
            g.flip_failures += int(failed)
    return report
