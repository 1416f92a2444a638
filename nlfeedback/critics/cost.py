"""Annotation cost model: how many seconds a person would take to give one item of each kind.

``seconds = base + per_step * steps watched + per_word * words typed`` with these defaults:

| kind | base | per step | per word | basis |
|---|---|---|---|---|
| preference | 4.0 | 0 | 0 | Christiano et al. 2017 report labels of short clip pairs taking about 3–5 s each |
| scalar | 3.0 | 0.1 | 0 | assumption: watch the segment (~10 steps/s), then pick a number |
| sketch | 4.0 | 0.3 | 0 | assumption: drawing is slower than watching (about 3 steps/s) |
| text | 3.0 | 0.1 | 1.5 | assumption: watch, then type at ~40 words per minute |

Human collectors measure real seconds instead; ``nlf feedback stats`` reports both separately.
Override with ``parse_costs("text.per_word=1.2,preference.base=3")``.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from nlfeedback.errors import NlfError


@dataclass(frozen=True)
class KindCost:
    base: float
    per_step: float = 0.0
    per_word: float = 0.0

    def seconds(self, steps: int, words: int = 0) -> float:
        return round(self.base + self.per_step * steps + self.per_word * words, 3)


DEFAULT_COSTS: dict[str, KindCost] = {
    "preference": KindCost(4.0),
    "scalar": KindCost(3.0, per_step=0.1),
    "sketch": KindCost(4.0, per_step=0.3),
    "text": KindCost(3.0, per_step=0.1, per_word=1.5),
}


def parse_costs(spec: str | None) -> dict[str, KindCost]:
    costs = dict(DEFAULT_COSTS)
    if not spec:
        return costs
    for part in spec.split(","):
        part = part.strip()
        if not part:
            continue
        try:
            key, raw = part.split("=")
            kind, field = key.strip().split(".")
            value = float(raw)
        except ValueError:
            raise NlfError(f"--cost: expected kind.field=number, got {part!r}") from None
        if kind not in costs or field not in ("base", "per_step", "per_word") or value < 0:
            raise NlfError(f"--cost: bad entry {part!r} (kinds: {', '.join(costs)}; fields: base, per_step, per_word; >= 0)")
        costs[kind] = replace(costs[kind], **{field: value})
    return costs
