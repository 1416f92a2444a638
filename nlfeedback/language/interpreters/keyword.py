"""``keyword``: a lexicon and regex baseline.

Per clause fragment: event words pick the moment (lava → the lava steps, wall → wall bumps, spin →
spinning, key → key pick-ups, door → unlocking, goal → reaching it, …); sentiment words give the sign,
flipped by a negator up to three words before them; with no sentiment word, an event word's usual
valence decides (lava is bad, the goal is good); "step N", "at the start", "near the end", "after you
…" restrict the steps. No event word and no sentiment word: it abstains.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from nlfeedback.feedback.schema import TextFeedback
from nlfeedback.language.fragments import fragment_spans
from nlfeedback.language.grounding import Parse, ground, step_number
from nlfeedback.language.negation import NEGATORS
from nlfeedback.targets import Reading
from nlfeedback.trajectory import Trajectory

POSITIVE = {"good", "great", "nice", "well", "perfect", "excellent", "awesome", "brilliant", "clean", "quick",
            "fast", "smart", "right", "correct", "better", "best", "love", "like", "yes", "fine", "efficient",
            "solid", "ok", "okay", "cool", "neat", "lovely", "ace", "tidy", "bravo", "congrats", "impressive"}
NEGATIVE = {"bad", "terrible", "awful", "wrong", "mistake", "poor", "slow", "sloppy", "clumsy", "pointless",
            "useless", "waste", "wasted", "wasting", "silly", "stupid", "worse", "worst", "mess", "messy", "ugh",
            "meh", "annoying", "careless", "dumb", "horrible", "fail", "failed", "ouch", "oops", "avoid", "stop",
            "quit", "deadly", "dangerous", "kills", "dies", "died", "death", "lost"}
EVENT_WORDS: list[tuple[str, str]] = [
    (r"\blava\b|\bfire\b|\borange\b|\bburn", "lava"),
    (r"\bwrong (?:key|colou?r)|\bnot the \w+ (?:key|one)", "wrong_key"),
    (r"\bdrop(?:ped|ping)?\b.*\bkey\b|\bkey\b.*\bdrop", "drop_key"),
    (r"\bwalls?\b|\bbump|\bboundary\b", "wall_bump"),
    (r"\bspin|\bcircles?\b|\bturning\b|\brotat|\btwirl", "spin"),
    (r"\blocked\b", "locked_door"),
    (r"\bkey\b", "key_pickup"),
    (r"\bdoor\b|\bgate\b|\bunlock", "door_open"),
    (r"\bgoal\b|\bgreen\b|\bfinish\b|\bexit\b", "goal"),
    (r"\bnothing\b|\bpointless\b|\buseless\b|\bidle\b|\bbutton", "wasted"),
    (r"\bdetour\b|\bwander|\baway\b|\blong way\b|\broundabout\b|\boff course\b", "detour"),
    (r"\btime\b|\bforever\b|\bages\b|\bclock\b", "timeout"),
]
VALENCE = {"lava": -1, "wrong_key": -1, "drop_key": -1, "wall_bump": -1, "spin": -1, "locked_door": -1,
           "wasted": -1, "detour": -1, "timeout": -1, "key_pickup": 1, "door_open": 1, "goal": 1}
WHEN = [
    (r"\b(?:step|move|action|turn)\s*#?\s*\d+", "step"),
    (r"\b(?:start|beginning|early|first)\b", "start"),
    (r"\b(?:middle|halfway|midway)\b", "middle"),
    (r"\b(?:end|last|late|finally)\b", "end"),
    (r"\bafter\b", "after"),
    (r"\bbefore\b", "before"),
]
WORD = re.compile(r"[a-z']+")


def sentiment(text: str) -> int:
    words = WORD.findall(text.lower())
    score = 0
    for i, w in enumerate(words):
        s = 1 if w in POSITIVE else -1 if w in NEGATIVE else 0
        if s == 0:
            continue
        window = " ".join(words[max(0, i - 3):i])
        if NEGATORS.search(window):
            s = -s
        score += s
    return (score > 0) - (score < 0)


class KeywordInterpreter:
    name = "keyword"

    def parse(self, text: str) -> list[Parse]:
        parses = []
        for a, b in fragment_spans(text):
            frag = text[a:b].lower()
            moment = next((m for pattern, m in EVENT_WORDS if re.search(pattern, frag)), None)
            sign = sentiment(frag)
            if moment is None and sign == 0:
                continue
            if moment is None:
                moment = "episode"
            polarity = sign if sign else VALENCE.get(moment, 0)
            if moment in VALENCE and sign == 0 and NEGATORS.search(frag):
                polarity = -1  # "don't walk into the lava", "never bump the wall"
            if polarity == 0:
                continue
            when = next((w for pattern, w in WHEN if re.search(pattern, frag)), "none")
            anchor = "none"
            if when in ("after", "before"):
                tail = frag.split(when, 1)[1]
                anchor = "picked_up" if "key" in tail else "unlocked" if "door" in tail else "none"
            parses.append(Parse(moment, polarity, 1.0, when, anchor, "episode", step_number(frag)))
        return parses

    def read_many(self, items: Sequence[tuple[TextFeedback, Trajectory]]) -> list[Reading]:
        out = []
        for fb, traj in items:
            clauses = [c for p in self.parse(fb.text) if (c := ground(p, traj)) is not None]
            out.append(Reading(clauses, [1.0] * len(clauses), 1.0 if clauses else 0.0))
        return out
