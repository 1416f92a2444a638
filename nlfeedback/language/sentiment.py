"""Lexicon sentiment of a clause read without its grammatical negators (VADER; Hutto & Gilbert, 2014).

The trained interpreter's embeddings come from templates; a general-purpose sentiment lexicon carries
over to words no template uses ("that was dire", "a bit daft", "what a shambles"). VADER's lexicon
(7,500 words, slang and emoticons included, valence −4 … +4; inflected words it lacks looked up by
their stem) and its rules for boosters, capitals and "but" are applied to the fragment with the negators :mod:`nlfeedback.language.negation` counts taken out,
because the interpreter applies negation itself by counting (polarity = valence × (−1)^negators).
"""

from __future__ import annotations

import re
from functools import lru_cache

from nlfeedback.language.negation import clause_negator_spans

N_SENTIMENT = 3  # compound, positive share, negative share
_SPACES = re.compile(r"\s{2,}")


def strip_negators(text: str) -> str:
    """``text`` with its verb negators removed ("dont just go round" → "just go round"; "no fuss" stays)."""
    out, pos = [], 0
    for a, b in clause_negator_spans(text):
        out.append(text[pos:a])
        pos = b
    out.append(text[pos:])
    return _SPACES.sub(" ", "".join(out)).strip()


# VADER's lexicon is American social-media English. Added: everyday (often British) judgement words it
# lacks, on its −4 … +4 scale; and laughter tokens made neutral — in feedback "lol" softens a criticism
# ("dont go in the lava lol") as often as it marks praise.
SUPPLEMENT = {
    "shabby": -1.6, "naff": -1.5, "daft": -1.5, "rubbish": -2.0, "sloppy": -1.6, "shambles": -2.2,
    "shambolic": -2.2, "dodgy": -1.3, "clumsy": -1.3, "clueless": -1.8, "aimless": -1.3, "aimlessly": -1.3,
    "pointless": -1.8, "pointlessly": -1.8, "wasteful": -1.6, "sluggish": -1.2, "faff": -1.0, "dawdle": -1.0,
    "dawdling": -1.0, "fuss": -1.0, "hassle": -1.3, "gormless": -1.8, "botched": -2.0, "bungled": -2.0, "flubbed": -1.8, "dumb": -1.8,
    "ace": 2.0, "smashing": 2.2, "nailed": 2.0, "slick": 1.6, "textbook": 1.5, "flawless": 2.6,
    "spot-on": 2.0, "tidy": 1.0, "sorted": 1.2, "champion": 2.0, "cracking": 2.0,
    "gripe": -1.3, "grumble": -1.2, "whinge": -1.4, "quibble": -0.8, "niggle": -0.9, "nitpick": -0.8, "flaw": -1.6,
    "lol": 0.0, "lmao": 0.0, "haha": 0.0, "hahaha": 0.0, "rofl": 0.0, "hehe": 0.0,
}


@lru_cache(maxsize=1)
def _analyzer():
    from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

    analyzer = SentimentIntensityAnalyzer()
    analyzer.lexicon.update(SUPPLEMENT)
    return analyzer


_WORD = re.compile(r"[A-Za-z]+(?:-[A-Za-z]+)?")
_ENDINGS = (("ies", "y"), ("es", ""), ("s", ""), ("ed", ""), ("ed", "e"), ("d", ""), ("ing", ""), ("ing", "e"),
            ("ly", ""))


def _lexicon_form(low: str) -> str | None:
    """The form of a lower-case word that VADER's lexicon has: itself or a stem ("wastes" → "waste")."""
    lexicon = _analyzer().lexicon
    if low in lexicon:
        return low
    for cut, add in _ENDINGS:
        if low.endswith(cut) and len(low) - len(cut) >= 3 and (stem := low[: -len(cut)] + add) in lexicon:
            return stem
    return None


def word_valence(word: str) -> float | None:
    """The lexicon valence (−4 … +4) of a word or of its stem, ``None`` if the lexicon lacks both."""
    form = _lexicon_form(word.lower())
    return None if form is None else float(_analyzer().lexicon[form])


def _lemmatised(text: str) -> str:
    """Words VADER's lexicon lacks, replaced by a form it has ("wastes" → "waste", "messing" → "mess");
    VADER looks words up as written."""

    def base(m: re.Match) -> str:
        word = m.group(0)
        form = _lexicon_form(word.lower())
        return word if form is None or form == word.lower() else form

    return _WORD.sub(base, text)


# "no" / "zero" as a determiner ("no fuss", "zero complaints"): VADER scores "no" as a negative word
# (−1.2, for the interjection "no, that was wrong") and does not negate what follows it.
_DETERMINER_NO = re.compile(r"\b(?:no|zero)\s+(?!more\b|longer\b)([A-Za-z]+(?:-[A-Za-z]+)?)", re.IGNORECASE)


def _determiner_negation(text: str) -> str:
    """"no <negative word>" → nothing (a criticism negated is none; VADER's own "not" would reverse the
    next three words, praise included: "not fuss, great"); "no <neutral word>" → the word alone ("no
    lava this time"); "no <positive word>" ("no good") is left to VADER, which reads it right. (Where
    the negated criticism is a clause's only judgement the interpreter counts it instead, as a litote,
    and it has been taken out before this.)"""

    def rewrite(m: re.Match) -> str:
        word = m.group(1)
        value = word_valence(word)
        if value is None:
            return word
        return "" if value < 0 else m.group(0)

    return _DETERMINER_NO.sub(rewrite, text)


def sentiment_features(text: str) -> list[float]:
    """``[compound, pos, neg]`` of VADER on the negator-free text (compound in [−1, 1], shares in [0, 1])."""
    s = _analyzer().polarity_scores(_determiner_negation(_lemmatised(strip_negators(text))))
    return [float(s["compound"]), float(s["pos"]), float(s["neg"])]
