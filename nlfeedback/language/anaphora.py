"""Anaphoric fragments: a fragment that judges what the one before it named, and says nothing else.

"that spinning at action no. 21? dont. just dont", "the lava at the end?? never again pls", "grabbing the
key first? more of that": the first fragment names a moment (and when it happened) but carries little
judgement of its own; the next ones ("dont.", "just dont", "never again pls", "do that again", "more of
that") carry the judgement and name nothing — read alone, any moment a model guesses for them is noise,
and a whole-episode reading of "dont" would spread over every step. Such a fragment is read as the
judgement of its antecedent: the antecedent's moment, time and referent, the anaphor's polarity
(rejecting: a verb negator, "less"/"no more"/"none"; endorsing otherwise).
"""

from __future__ import annotations

import re
from typing import Any

from nlfeedback.language.negation import CLAUSE_NEGATORS

# Words an anaphor may consist of besides its judgement: softeners, fillers, the pro-forms themselves.
_FILLER = (r"please|pls|plz|just|and|so|ok|okay|oh|yeah|yes|seriously|mate|man|dude|thanks|thx|ta|again|"
           r"ever|that|this|it|those|these|do|did|repeat|of|more|less|none|no|any|one|time|like|the|same|"
           r"thing|stuff|kind|sort|never|not|don'?t|didn'?t|doesn'?t")  # each word once: no two ways to match
_ONLY_FILLER = re.compile(rf"^[\W_]*(?:(?:{_FILLER})\b[\W_]*)+$", re.IGNORECASE)
MAX_ANAPHOR = 60  # characters: anaphors are short, and the check need not look at long fragments
# … and what makes it a judgement of something said before rather than an empty word ("ok", "yes").
_JUDGES = re.compile(r"\b(?:don'?t|dont|do not|never|not|again|more of|less of|none of|no more|"
                     r"(?:do|repeat)\s+(?:that|this|it|those|these|the same))\b", re.IGNORECASE)
_REJECTS = re.compile(r"\b(?:less|none|no more)\b", re.IGNORECASE)


def is_anaphor(fragment: str) -> bool:
    """Whether ``fragment`` only judges something named before it ("dont.", "never again pls", "do that
    again", "more of that") and names nothing itself."""
    return len(fragment) <= MAX_ANAPHOR and bool(_ONLY_FILLER.match(fragment) and _JUDGES.search(fragment))


def anaphor_polarity(fragment: str) -> int:
    """``-1`` for a rejecting anaphor ("dont", "never again", "less of that", "no more of that"), ``+1``
    for an endorsing one ("do that again", "more of that")."""
    negators = len(CLAUSE_NEGATORS.findall(fragment)) + len(_REJECTS.findall(fragment))
    return -1 if negators % 2 else 1


def resolve_anaphors(preds: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """A remark's per-fragment readings (in text order) with each anaphoric fragment read as the judgement
    of the nearest contentful fragment before it: that fragment's reading is replaced by one with its
    moment, time, referent and text (for step numbers and key colours) and the anaphors' polarity. An
    anaphor with no antecedent (the remark is only "dont do that") keeps its own reading; a run of anaphors
    ("dont. just dont") judges once — a repeated "dont" is emphasis, not a double negation."""
    out: list[dict[str, Any]] = []
    antecedent: int | None = None  # index in out of the last contentful reading
    judged = False  # whether that antecedent already took an anaphor's polarity
    for p in preds:
        if not is_anaphor(p["text"]):
            out.append(p)
            antecedent, judged = len(out) - 1, False
            continue
        if antecedent is None:
            out.append(p)
            continue
        if judged:
            continue
        ante = out[antecedent]
        polarity = anaphor_polarity(p["text"])
        out[antecedent] = {**ante, "polarity": (polarity, 1.0), "anaphor": p["text"]}  # a rule: no doubt
        judged = True
    return out
