"""Mood cues for reading valence: is a clause an instruction, and does it ask to *avoid* something?

An instruction endorses what it names ("go round the lava", and, negated, "don't walk into the lava"),
a description of a bad moment condemns it ("you walked into the lava"), and avoidance words reverse what
follows them ("avoid the lava", "less turning", "stop spinning", "instead of turning"). Sentence
embeddings mix these up on wordings they were not trained on; two cheap, general cues make them explicit:

* ``imperative``: the clause opens with a verb in its base form, after optional softeners and negators
  ("please", "just", "always", "don't", "never", "try to", "make sure to", "next time" …), or is a
  counterfactual instruction ("you should have opened the door", "shouldn't have dropped it");
* ``avoidance``: the clause contains a word or phrase that asks for less of something.
"""

from __future__ import annotations

import re

N_MOOD = 2

# Common English verbs in their base form (instructions people give a moving agent, and everyday ones).
BASE_VERBS = frozenset("""
go walk step move turn spin twirl rotate swivel pivot circle wander head run hurry rush race dash jog stroll
pick grab get take snag nab fetch collect carry hold keep hang leave drop put place ditch dump release swap
open unlock unbolt close shut use try toggle press push pull hit bump touch enter cross jump skip
reach find follow aim face look watch check see mind notice remember think plan choose decide commit
stay stand stop quit avoid dodge steer wait pause slow speed finish end start begin continue come return
make let do be give learn repeat waste spend save focus explore navigate bring cut pop
""".split())
_LEAD = re.compile(
    r"^\s*(?:(?:ok(?:ay)?|so|right|now|yeah|yes|no|hey|look|well|please|pls|plz|just|always|never|ever|"
    r"then|also|simply|really|seriously|definitely|actually|next time|from now on|in future|"
    r"do not|don'?t|dont|do|try to|try and|make sure to|make sure you|be sure to|remember to|"
    r"(?:you |u )?(?:should(?:n'?t)?|shouldnt|must|need to|needed to|have to|had to|gotta|ought to)"
    r"(?:\s+(?:have|of)|'?ve)?)\b[\s,!]*)*",
    re.IGNORECASE)
AVOIDANCE = re.compile(
    r"\b(?:avoid\w*|stop\w*|quit\w*|less|fewer|enough|cut(?:ting)? (?:out|down|back)|cut the|skip\w*|ditch\w*|"
    r"instead of|rather than|(?:keep|kept|keeping|stay|stayed|staying) (?:well )?(?:away|clear|off|out)|"
    r"steer clear|well away|get away from|leave \w+ alone|lay off|knock (?:it )?off|no more|refrain|resist|minimi[sz]e|"
    r"reduce|careful|watch out|look out|beware|mind (?:the|your|ur|yer|out|where)|(?:look|watch) where|watch (?:your|ur|yer) step|dodge\w*|escape|shun)\b",
    re.IGNORECASE)


_IRREGULAR = {"gone": "go", "went": "go", "got": "get", "gotten": "get", "taken": "take", "took": "take",
              "done": "do", "did": "do", "been": "be", "held": "hold", "kept": "keep", "left": "leave",
              "stood": "stand", "made": "make", "spun": "spin", "found": "find", "brought": "bring",
              "chosen": "choose", "given": "give", "come": "come", "begun": "begin", "seen": "see",
              "thought": "think", "run": "run", "ran": "run", "put": "put", "cut": "cut", "hit": "hit",
              "shut": "shut", "let": "let", "learnt": "learn", "stuck": "stick", "caught": "catch"}
_COUNTERFACTUAL = re.compile(r"(?:have|of|ve)\s*$", re.IGNORECASE)


def _base(word: str) -> str:
    """A past participle's base form, roughly ("opened" → "open", "dropped" → "drop", "gone" → "go")."""
    if word in _IRREGULAR:
        return _IRREGULAR[word]
    for cut, add in (("ied", "y"), ("ed", ""), ("ed", "e"), ("d", "")):
        if word.endswith(cut) and (stem := word[: -len(cut)] + add) in BASE_VERBS:
            return stem
    if word.endswith("ed") and len(word) > 4 and word[-3] == word[-4]:  # dropped, stopped, spinned
        return word[:-3]
    return word


def is_imperative(text: str) -> bool:
    """Whether ``text`` reads as an instruction: its first word after softeners/negators is a base verb
    (or, after "should have" / "shouldn't have", a participle: a counterfactual instruction)."""
    lead = _LEAD.match(text).end()
    word = re.match(r"[a-z]+", text[lead:].lower())
    if not word:
        return False
    w = word.group(0)
    if _COUNTERFACTUAL.search(text[:lead].rstrip(" ,!")):
        w = _base(w)
    return w in BASE_VERBS


def mood_features(text: str) -> list[float]:
    """``[imperative, avoidance]`` as 0/1."""
    return [1.0 if is_imperative(text) else 0.0, 1.0 if AVOIDANCE.search(text) else 0.0]
