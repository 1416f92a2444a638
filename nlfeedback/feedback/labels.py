"""Gold labels of human remarks: the annotation format people write them in, and checks against captions.

**Annotation format** (one JSON object per remark; what a person labelling a remark writes):

``{"text": "spun like 6 times at the start, then fine", "categories": ["quantity", "temporal", "mixed"],
"clauses": [{"quote": "spun like 6 times at the start", "steps": "2-7", "polarity": -1, "strength": 0.7},
{"quote": "then fine", "steps": "8-25", "polarity": 1, "strength": 0.4}]}``

``steps`` use the numbers ``nlf show`` prints (1 … T, "step k" is the k-th action): ``"5"``, ``"3-7,12"``,
``"all"`` or ``"none"``; :func:`annotation_clauses` turns them into 0-based :class:`Clause` steps. A clause
may say ``"scope": "general"`` with an event ``pattern`` (a rule for every run). ``quote`` is the exact
part of the text that makes the judgement (stored as the clause's character ``span``).

**Checks against the captions** (:func:`label_problems`): a clause that criticises lava must include the
run's lava step; one that names "step N" must have a labelled step within one of N (people count from 0
or 1); a spinning label must cover turns; a wall-bump complaint must include a bump; praise of the goal
must include the goal step. They are heuristics over the clause's own words: they catch labels that
contradict what happened, not every wrong label.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from nlfeedback.errors import NlfError
from nlfeedback.feedback.schema import Clause, TextFeedback
from nlfeedback.trajectory import Trajectory

# names annotators may use for the schema's categories
CATEGORY_ALIASES = {"descriptive_rule": "descriptive", "temporal_span": "temporal"}
_RANGE = re.compile(r"(\d+)\s*-\s*(\d+)")


def parse_shown_steps(spec: Any, length: int, *, segment: Sequence[int] | None = None) -> list[int]:
    """``"all" | "none" | "5" | "3-7,12"`` (shown numbers, 1 … length) → sorted 0-based step indices.

    With ``segment`` (``[start, end)``, 0-based), the steps must lie inside it and ``"all"`` is every step
    of it (what a read-back screen shows). Raises ``ValueError`` with a message a person can act on."""
    start, end = segment if segment is not None else (0, length)
    if isinstance(spec, int) and not isinstance(spec, bool):
        spec = str(spec)
    if not isinstance(spec, str):
        raise ValueError(f"steps must be written like '3-7,12', 'all' or 'none', got {spec!r}")
    s = spec.strip().lower()
    if s == "all":
        return list(range(start, end))
    if s == "none":
        return []
    shown: set[int] = set()
    for part in s.split(","):
        part = part.strip()
        m = _RANGE.fullmatch(part)
        if m:
            a, b = int(m.group(1)), int(m.group(2))
            if a > b:
                raise ValueError(f"step range {part!r} runs backwards")
            shown.update(range(a, b + 1))
        elif part.isdigit():
            shown.add(int(part))
        else:
            raise ValueError(f"cannot read steps {spec!r}: write them like '3-7,12', 'all' or 'none'")
    outside = sorted(k for k in shown if not start + 1 <= k <= end)
    if outside:
        where = (f"this segment (steps {start + 1}–{end})" if segment is not None
                 else f"the run's steps 1..{length}")
        raise ValueError(f"steps {outside} are outside {where}")
    return sorted(k - 1 for k in shown)


def step_runs(steps: Sequence[int]) -> list[tuple[int, int]]:
    """Steps as (first, last) runs of consecutive steps: ``[3, 4, 5, 9]`` → ``[(3, 5), (9, 9)]``."""
    runs: list[tuple[int, int]] = []
    for s in sorted(set(steps)):
        if runs and s == runs[-1][1] + 1:
            runs[-1] = (runs[-1][0], s)
        else:
            runs.append((s, s))
    return runs


def shown_steps(steps: Sequence[int]) -> str:
    """0-based steps → shown numbers in the annotation format (the inverse of :func:`parse_shown_steps`):
    ``[2, 3, 4, 5, 6, 11]`` → ``"3-7,12"``."""
    return ",".join(str(a + 1) if a == b else f"{a + 1}-{b + 1}" for a, b in step_runs(steps))


def annotation_clauses(annotation: Mapping[str, Any], length: int) -> list[Clause]:
    """The clauses of one annotation (see the module doc), validated; raises ``ValueError`` naming the clause."""
    text = annotation.get("text")
    if not isinstance(text, str):
        raise ValueError("field 'text' must be a string")
    out = []
    for i, c in enumerate(annotation.get("clauses", [])):
        try:
            unknown = set(c) - {"quote", "steps", "polarity", "strength", "scope", "pattern"}
            if unknown:
                raise ValueError(f"unknown fields {sorted(unknown)}")
            quote = c.get("quote")
            if not isinstance(quote, str) or not quote.strip() or quote not in text:
                raise ValueError("'quote' must be an exact, non-empty piece of the text")
            start = text.index(quote)
            scope = {"run": "episode"}.get(c.get("scope", "run"), c.get("scope"))
            out.append(Clause(steps=parse_shown_steps(c.get("steps"), length), polarity=c.get("polarity"),
                              strength=float(c.get("strength", 1.0)), scope=scope, pattern=c.get("pattern"),
                              span=[start, start + len(quote)]))
        except (ValueError, TypeError) as e:  # pydantic's ValidationError is a ValueError
            raise ValueError(f"clause {i}: {e}".splitlines()[0]) from None
    return out


def annotation_categories(annotation: Mapping[str, Any]) -> list[str]:
    return list(dict.fromkeys(CATEGORY_ALIASES.get(c, c) for c in annotation.get("categories", [])))


def _event_steps(traj: Trajectory, prefix: str) -> set[int]:
    return {t for t, ev in enumerate(traj.events) if any(e == prefix or e.startswith(prefix + ":") for e in ev)}


_STEP_NUMBER = re.compile(r"\b(?:step|move|action)\s*(?:no\.?|#|number)?\s*(\d+)\b")
_TURNS = {0, 1}


def clause_problems(clause: Clause, quote: str, traj: Trajectory) -> list[str]:
    """What in one clause contradicts the trajectory's captions (see the module doc)."""
    T = len(traj)
    steps = set(clause.steps)
    if clause.scope != "episode" or not steps or len(steps) >= T:
        return []
    q = quote.lower()
    out = []
    lava = _event_steps(traj, "entered:lava")
    if clause.polarity == -1 and lava and not steps & lava and re.search(r"\blava\b", q) and "avoid" not in q:
        out.append(f"criticises lava but its steps miss the lava step {min(lava) + 1} (shown numbering)")
    goal = _event_steps(traj, "reached:goal")
    if clause.polarity == 1 and goal and not steps & goal and len(steps) < 3 and re.search(r"\bgoal\b", q):
        out.append(f"praises the goal but its steps miss the goal step {min(goal) + 1}")
    if clause.polarity == -1 and re.search(r"\bspin|\btwirl|circles\b", q):
        other = sorted(s + 1 for s in steps if traj.actions[s] not in _TURNS)
        if len(other) > max(1, len(steps) // 4):
            out.append(f"a spinning label covers steps that are not turns: {other[:8]}")
    bumps = _event_steps(traj, "bumped")
    if clause.polarity == -1 and bumps and not steps & bumps and len(steps) < T // 2 and re.search(r"\bwall|\bbump", q):
        out.append("complains of walls or bumps but its steps include no bump")
    for m in _STEP_NUMBER.finditer(q):
        n = int(m.group(1))
        if not any(abs((s + 1) - n) <= 1 for s in steps):
            out.append(f"says step {n} but no labelled step is within one of it")
    return out


def label_problems(fb: TextFeedback, traj: Trajectory) -> list[str]:
    """Problems of a labelled human remark against its trajectory, as ``labels.clauses.i: what``."""
    if fb.labels is None:
        return []
    out = []
    for i, c in enumerate(fb.labels.clauses):
        quote = fb.text[c.span[0]:c.span[1]] if c.span else fb.text
        out += [f"labels.clauses.{i}: {p}" for p in clause_problems(c, quote, traj)]
    return out


def hand_written_pairs(items: Sequence[TextFeedback]) -> list[tuple[TextFeedback, TextFeedback]]:
    """(remark, its hand-written negation) for every labelled remark whose ``labels.negates`` names another;
    the named remark must be among ``items`` and on the same trajectory."""
    by_id = {fb.id: fb for fb in items}
    out = []
    for fb in items:
        if fb.labels is not None and fb.labels.negates is not None:
            original = by_id.get(fb.labels.negates)
            if original is None or original.trajectory_id != fb.trajectory_id:
                raise NlfError(f"feedback {fb.id}: 'labels.negates' names {fb.labels.negates!r}, which is not a "
                               "labelled remark on the same trajectory in the files read")
            out.append((original, fb))
    return out


def labelled_feedback(annotation: Mapping[str, Any], traj: Trajectory, *, id: str, annotator: str,
                      labeller: str | None = None, created_at: str = "2026-12-04T00:00:00Z",
                      annotation_seconds: float = 0.0, negates: str | None = None) -> TextFeedback:
    """An ``nlf.feedback/1`` human text record with gold ``labels`` from one annotation."""
    clauses = annotation_clauses(annotation, len(traj))
    labels = {"clauses": clauses, "categories": annotation_categories(annotation), "labeller": labeller,
              "negates": negates}
    return TextFeedback.model_validate({
        "id": id, "trajectory_id": traj.id, "segment": [0, len(traj)],
        "source": {"type": "human", "annotator": annotator}, "created_at": created_at,
        "annotation_seconds": annotation_seconds, "text": annotation["text"], "labels": labels,
    }, strict=False)


def check_labelled(items: Sequence[TextFeedback], trajectories: Mapping[str, Trajectory]) -> dict[str, list[str]]:
    """Feedback id → its label problems (only ids with problems)."""
    out = {}
    for fb in items:
        if isinstance(fb, TextFeedback) and fb.labels is not None and fb.trajectory_id in trajectories:
            probs = label_problems(fb, trajectories[fb.trajectory_id])
            if probs:
                out[fb.id] = probs
    return out


def import_annotations(path: str, trajectories: Mapping[str, Trajectory], *, runs: Mapping[str, str] | None = None,
                       id_prefix: str = "human", labeller: str | None = None,
                       check: bool = True) -> tuple[list[TextFeedback], list[str]]:
    """Read an annotation JSONL file (module doc; each line names its ``trajectory_id``, or a ``run`` that
    ``runs`` maps to one, and may give ``persona``/``annotator``, an ``id`` and — for a hand-written
    negation — the ``id`` of the line it ``negates``) into labelled human feedback records.

    Returns the records of the good lines and a ``path:line: what`` message per bad line (unparseable,
    unknown trajectory, invalid labels, or — with ``check`` — labels that contradict the captions)."""
    import json

    from nlfeedback.jsonl import input_file

    records: list[TextFeedback] = []
    errors: list[str] = []
    with open(input_file(path), encoding="utf-8") as fh:
        for n, line in enumerate(fh, 1):
            if not line.strip():
                continue
            where = f"{path}:{n}"
            try:
                ann = json.loads(line)
            except json.JSONDecodeError as e:
                errors.append(f"{where}: not JSON ({e.msg})")
                continue
            if not isinstance(ann, dict):
                errors.append(f"{where}: not a JSON object")
                continue
            tid = ann.get("trajectory_id") or (runs or {}).get(ann.get("run", ""))
            if tid not in trajectories:
                errors.append(f"{where}: unknown trajectory (trajectory_id {ann.get('trajectory_id')!r}, "
                              f"run {ann.get('run')!r})")
                continue
            traj = trajectories[tid]
            annotator = str(ann.get("annotator") or ann.get("persona") or "anonymous")
            rid = f"{id_prefix}-{ann['id']}" if ann.get("id") else f"{id_prefix}-{n:05d}"
            negates = f"{id_prefix}-{ann['negates']}" if ann.get("negates") else None
            try:
                fb = labelled_feedback(ann, traj, id=rid, annotator=annotator, labeller=labeller, negates=negates)
            except ValueError as e:
                errors.append(f"{where}: {str(e).splitlines()[0]}")
                continue
            problems = label_problems(fb, traj) if check else []
            if problems:
                errors += [f"{where}: {p}" for p in problems]
                continue
            records.append(fb)
    return records, errors
