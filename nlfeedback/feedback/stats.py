"""Summaries of a feedback file: counts by kind, source, split, category and noise; annotator-seconds.

Seconds are reported separately for humans (measured by ``nlf collect`` / ``nlf serve``) and critics
(from the cost model): what each kind of feedback really costs a person is the human figure.
``annotation_seconds[source][kind]`` holds items, total seconds, mean and median seconds per item;
``human_seconds_by_annotator[annotator][kind]`` the same per person (people differ a lot).

``readback``: for remarks read back to their writer (``readback`` field), how often the reading was
accepted, fixed or rephrased, overall, per annotator and per category — the misreading rate of people's
own language (``misread_rate``: fixed or rephrased). A record's categories are its ``labels``' categories
(given with a fix, or by a later labelling pass); records with none count under ``unlabelled``. Each row:
``records``, the three counts, their rates and ``misread_rate``.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable
from statistics import median
from typing import Any

from nlfeedback.feedback.schema import VERDICTS, FeedbackBase, TextFeedback

UNLABELLED = "unlabelled"


def feedback_stats(items: Iterable[FeedbackBase]) -> dict[str, Any]:
    by_kind: Counter[str] = Counter()
    by_source: Counter[str] = Counter()
    by_split: Counter[str] = Counter()
    by_category: Counter[str] = Counter()
    by_noise: Counter[str] = Counter()
    by_annotator: Counter[str] = Counter()
    seconds: dict[str, dict[str, float]] = defaultdict(lambda: defaultdict(float))
    counts: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    samples: dict[str, dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
    per_annotator: dict[str, dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
    verdicts: Counter[str] = Counter()
    verdicts_by_annotator: dict[str, Counter[str]] = defaultdict(Counter)
    verdicts_by_category: dict[str, Counter[str]] = defaultdict(Counter)
    total = 0
    for fb in items:
        total += 1
        by_kind[fb.kind] += 1
        src = fb.source.type
        by_source[f"{src}:{fb.source.name or fb.source.annotator}"] += 1
        if fb.source.annotator:
            by_annotator[fb.source.annotator] += 1
        seconds[src][fb.kind] += fb.annotation_seconds
        counts[src][fb.kind] += 1
        samples[src][fb.kind].append(fb.annotation_seconds)
        if src == "human" and fb.source.annotator:
            per_annotator[fb.source.annotator][fb.kind].append(fb.annotation_seconds)
        intent = fb.intent  # type: ignore[attr-defined]
        if intent is not None:
            for n in intent.noise:
                by_noise[n] += 1
        if isinstance(fb, TextFeedback) and fb.intent is not None:
            by_split[fb.intent.split] += 1
            for c in fb.intent.categories:
                by_category[c] += 1
        if isinstance(fb, TextFeedback) and fb.readback is not None:
            v = fb.readback.verdict
            verdicts[v] += 1
            verdicts_by_annotator[fb.source.annotator or ""][v] += 1
            for c in (fb.labels.categories if fb.labels is not None else []) or [UNLABELLED]:
                verdicts_by_category[c][v] += 1
    cost = {src: {kind: _cost(samples[src][kind]) for kind in sorted(counts[src])} for src in sorted(counts)}
    human_by_annotator = {name: {kind: _cost(per_annotator[name][kind]) for kind in sorted(per_annotator[name])}
                          for name in sorted(per_annotator)}
    return {
        "items": total,
        "by_kind": dict(by_kind.most_common()),
        "by_source": dict(by_source.most_common()),
        "by_annotator": dict(by_annotator.most_common()),
        "by_split": dict(by_split.most_common()),
        "by_category": dict(by_category.most_common()),
        "by_noise": dict(by_noise.most_common()),
        "annotation_seconds": cost,
        "human_seconds_by_annotator": human_by_annotator,
        "total_seconds": round(sum(sum(v.values()) for v in seconds.values()), 2),
        "total_seconds_by_source": {src: round(sum(seconds[src].values()), 2) for src in sorted(seconds)},
        "readback": {
            **_verdicts(verdicts),
            "by_annotator": {name: _verdicts(verdicts_by_annotator[name]) for name in sorted(verdicts_by_annotator)},
            "by_category": {c: _verdicts(verdicts_by_category[c]) for c in sorted(verdicts_by_category)},
        },
    }


def _verdicts(counts: Counter[str]) -> dict[str, Any]:
    n = sum(counts.values())
    row: dict[str, Any] = {"records": n, **{v: counts[v] for v in VERDICTS}}
    row.update({f"{v}_rate": round(counts[v] / n, 4) if n else None for v in VERDICTS})
    row["misread_rate"] = round((counts["fixed"] + counts["rephrased"]) / n, 4) if n else None
    return row


def _cost(values: list[float]) -> dict[str, Any]:
    return {"items": len(values), "seconds": round(sum(values), 2),
            "seconds_per_item": round(sum(values) / len(values), 2),
            "median_seconds": round(median(values), 2)}
