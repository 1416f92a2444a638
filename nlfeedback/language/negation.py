"""Negation: negator lexicons, negation parity for interpreters, and ``negate(text)`` for paired probes.

``negate`` turns a remark into one that means the opposite about the same steps, by the simplest
English rule that applies: drop a leading "don't"/"do not"/"never" ("don't walk into the lava" → "walk
into the lava"), drop "not"/"n't" after a copula or auxiliary ("that wasn't good" → "that was good",
"you didn't waste time" → "you did waste time"), or add it ("that was quick" → "that was not quick",
"grab the key" → "don't grab the key"). It returns ``None`` when no rule applies; it never guesses.
"""

from __future__ import annotations

import re

NEGATORS = re.compile(
    r"\b(?:not|no|never|none|nothing|nobody|nowhere|neither|nor|without|cannot|stop|quit|avoid|"
    r"don'?t|doesn'?t|didn'?t|isn'?t|wasn'?t|aren'?t|weren'?t|won'?t|wouldn'?t|shouldn'?t|can'?t|couldn'?t|"
    r"haven'?t|hasn'?t|hadn'?t|dont|didnt|wasnt|isnt|cant|wont|shouldnt|nah|nope)\b|n't\b",
    re.IGNORECASE,
)


# The negators that negate a clause's verb ("don't go", "was not", "never gets", "can't fault"): what the
# trained interpreter counts. The others negate a noun phrase — "no fuss", "without purpose", "nothing
# to complain about", "gets you nowhere" — and stay in the text for the sentence embedding and the
# sentiment lexicon to read (VADER reverses the words after them), since flipping the whole clause for
# them misreads "door opened with no fuss, great" and "that wall did nothing to you, quit ramming it".
_VERB_NEGATORS = (
    r"not|never|cannot|ain'?t|"
    r"(?:do|does|did|is|was|are|were|wo|would|should|could|ca|has|have|had|must|need)n'?t|"
    r"dont|doesnt|didnt|isnt|wasnt|arent|werent|wont|wouldnt|shouldnt|couldnt|cant|hasnt|havent|hadnt"
)
CLAUSE_NEGATORS = re.compile(rf"\b(?:{_VERB_NEGATORS})\b", re.IGNORECASE)

# Grammatical negators whose count flips a clause's meaning: the verb negators and those of noun phrases
# ("no more", "nothing", "without"); what `negate` and the negation probes work with. Words that carry
# their own meaning ("stop", "avoid", "quit") are not counted: "stop spinning" is a plain instruction
# whose content already says what is wrong. "no" followed by punctuation is an interjection ("no, that
# was wrong"), not a negation of the clause.
PARITY_NEGATORS = re.compile(
    rf"\b(?:{_VERB_NEGATORS}|none|nothing|nobody|nowhere|neither|nor|without|no(?!\s*[,.!?;:]|\s*$))\b",
    re.IGNORECASE,
)


def _spans(pattern: re.Pattern[str], text: str) -> list[tuple[int, int]]:
    return [(m.start(), m.end()) for m in pattern.finditer(text)]


# A noun-phrase negator that negates a criticism — "no complaints", "nothing to moan about", "zero
# problems", "without fault" — is a litote: it reverses that judgement as a verb negator would, so it is
# counted (and taken out of what the encoder reads) like one. Negating anything else — "no fuss" unless
# the lexicon calls fuss bad, "no lava this time", "did nothing to you", "no good" — is left alone.
_NOUN_NEGATOR = re.compile(r"\b(?:no|zero|nothing|none|nobody|without)\b(?!\s*[,.!?;:]|\s*$)", re.IGNORECASE)
_NEXT_WORDS = re.compile(r"(?:[ \t]+(?:[A-Za-z]+(?:['’-][A-Za-z]+)*)){1,3}")
LITOTE_VALENCE = -0.5  # a negated word at least this negative in the lexicon (−4 … +4) makes a litote
OTHER_JUDGEMENT = 1.0  # … unless its fragment judges something else too (a word at least this strong either way)


def litote_negator_spans(text: str, fragments: list[tuple[int, int]] | None = None) -> list[tuple[int, int]]:
    """Spans of noun-phrase negators followed, within three words and no punctuation, by a word the
    sentiment lexicon scores as negative ("no complaints", "nothing to moan about") — unless the clause
    fragment judges something else too ("door opened with no fuss, great"): counting would reverse that
    judgement as well, so the lexicon, which negates only the next words, is left to read it.
    ``fragments``: ``text``'s :func:`~nlfeedback.language.fragments.fragment_spans`, if already computed."""
    from nlfeedback.language.fragments import fragment_spans
    from nlfeedback.language.sentiment import word_valence

    out = []
    for m in _NOUN_NEGATOR.finditer(text):
        words = _NEXT_WORDS.match(text, m.end())
        if not words or not any((v := word_valence(w)) is not None and v <= LITOTE_VALENCE
                                for w in words.group(0).split()):
            continue
        fragments = fragments if fragments is not None else fragment_spans(text)
        a, b = next(((a, b) for a, b in fragments if a <= m.start() < b), (0, len(text)))
        rest = text[a:m.start()] + " " + text[words.end():b]
        if any((v := word_valence(w)) is not None and abs(v) >= OTHER_JUDGEMENT for w in re.findall(r"[A-Za-z]+", rest)):
            continue
        out.append((m.start(), m.end()))
    return out


# An instruction followed by its reason with a subject of its own ("dont keep walking into the edge, it
# wont move"; "please dont faceplant into the wall, it's not going anywhere"): the reason's negators
# negate the reason, not the instruction.
_REASON = re.compile(r"[,;]\s*(?:it|it'?s|its|that'?s|thats|there'?s|theres|this|they|they'?re|theyre)\b",
                     re.IGNORECASE)
# An instruction that opens with its negator ("don't …", "please never …", "just dont …"): the reason
# check below and `negate` (which drops it) share it.
_NEGATED_LEAD = re.compile(r"(\s*)(?:(?:please|pls|plz|just|and)\s+)?(?:don'?t|dont|do not|never)\b", re.IGNORECASE)


def _reason_spans(text: str, fragments: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """Spans of the reasons that follow an instruction inside one of ``text``'s ``fragments``
    (:data:`_REASON`)."""
    from nlfeedback.language.mood import is_imperative

    out = []
    for a, b in fragments:
        m = _REASON.search(text, a, b)
        if m and (is_imperative(text[a:m.start()]) or _NEGATED_LEAD.match(text, a)):
            out.append((m.start(), b))
    return out


def clause_negator_spans(text: str) -> list[tuple[int, int]]:
    """Character spans of the negators that reverse a clause: those of verbs (:data:`CLAUSE_NEGATORS`)
    and litotes (:func:`litote_negator_spans`), except those in the reason given for an instruction
    ("don't ram the wall, it won't move": one negator), which stay part of what is read."""
    from nlfeedback.language.fragments import fragment_spans

    has_reason = _REASON.search(text) is not None
    fragments = fragment_spans(text) if has_reason or _NOUN_NEGATOR.search(text) else []
    spans = sorted(_spans(CLAUSE_NEGATORS, text) + litote_negator_spans(text, fragments))
    if not spans:
        return spans
    reasons = _reason_spans(text, fragments) if has_reason else []
    return [s for s in spans if not any(a <= s[0] < b for a, b in reasons)]


def clause_negation_sign(text: str) -> int:
    """``-1`` if ``text`` has an odd number of clause negators (verbs' and litotes'), else ``+1`` (what the
    trained interpreter counts)."""
    return -1 if len(clause_negator_spans(text)) % 2 else 1


def negator_spans(text: str) -> list[tuple[int, int]]:
    """Character spans of the grammatical negators in ``text`` (see :data:`PARITY_NEGATORS`)."""
    return _spans(PARITY_NEGATORS, text)


def negation_sign(text: str) -> int:
    """``-1`` if ``text`` has an odd number of grammatical negators, else ``+1``."""
    return -1 if len(negator_spans(text)) % 2 else 1


_COPULA = re.compile(r"\b(was|is|were|are)\b(?!\s+not\b)", re.IGNORECASE)
IMPERATIVE_VERBS = (
    "walk", "go", "step", "stay", "keep", "pick", "grab", "get", "open", "use", "avoid", "take", "head", "move",
    "turn", "try", "drop", "bump", "spin", "waste", "wander", "unlock", "find", "make", "reach", "finish",
    "run", "hit", "press", "toggle", "hurry", "stick", "fetch", "collect", "carry", "hold", "leave", "aim",
)


def negate(text: str) -> str | None:
    """The remark with its meaning reversed, or ``None`` if no simple rule applies (see module doc).

    Only unambiguous cases are rewritten: a remark with one grammatical negator loses it; a single-clause
    statement or instruction without one gains one. Questions and remarks with two or more negators are
    left alone (removing one negator of "dont. just dont" would not reverse it).
    """
    from nlfeedback.language.fragments import fragment_spans

    if not text.strip():
        return None
    negators = negator_spans(text)
    if len(negators) >= 2:
        return None
    if len(negators) == 1:
        m = _NEGATED_LEAD.match(text)
        if m and text[m.end():m.end() + 1].isspace():
            return m.group(1) + text[m.end():].lstrip()
        a, b = negators[0]
        word = text[a:b].lower().replace("'", "")
        elliptical = not re.match(r"\s*[A-Za-z]", text[b:])  # no verb follows: "lava?? pls dont", "Do not!"
        if word in ("dont", "donot"):
            if elliptical:  # keep the auxiliary: "lava?? pls do"
                return text[:a] + text[a:a + 2] + text[b:]
            return (text[:a] + text[b:].lstrip()).replace("  ", " ")
        if word in ("cant", "cannot"):
            return text[:a] + "can" + text[b:]
        if word == "wont":
            return text[:a] + "will" + text[b:]
        if word == "not":
            if elliptical:  # "Do not!" → "Do!"
                return text[:a].rstrip() + text[b:]
            return (text[:a].rstrip() + " " + text[b:].lstrip()).strip()
        if word.endswith("nt") and word[:-2] in ("do", "does", "did", "is", "was", "are", "were", "could", "should",
                                                    "would", "has", "have", "had"):
            return text[:a] + text[a:a + len(word) - 2] + text[b:]
        return None  # never, nothing, no, without …: not safely reversible
    if "?" in text or len(fragment_spans(text)) != 1:
        return None
    first = text.strip().split(" ", 1)[0].lower().strip(",.!")
    if first in IMPERATIVE_VERBS:
        lead = len(text) - len(text.lstrip())
        return text[:lead] + "don't " + text[lead:lead + 1].lower() + text[lead + 1:]
    if _COPULA.search(text):
        return _COPULA.sub(lambda k: k.group(1) + " not", text, count=1)
    return None


# What each verb negator leaves behind in :func:`affirmative`: the auxiliary without its "n't" ("didn't"
# → "did", "can't" → "can", "won't" → "will"); "not", "never" and a bare "don't" go.
_AFFIRMATIVE = {"cannot": "can", "cant": "can", "wont": "will", "aint": "is", "dont": "", "not": "", "never": ""}


def _affirmative_word(word: str) -> str:
    w = word.lower().replace("'", "").replace("’", "")
    if w in _AFFIRMATIVE:
        return _AFFIRMATIVE[w]
    if w.endswith("nt"):
        return word[:len(word) - 3] if word[-3:].lower() in ("n't", "n’t") else word[:-2]
    return ""


def affirmative(text: str) -> tuple[str, list[int]]:
    """``text`` with its verb negators taken out ("you didn't waste time" → "you did waste time", "don't
    walk into the lava" → "walk into the lava"), and where each character offset of ``text`` (0..len)
    lands in it. The trained interpreter encodes this text and counts the negators apart, so a remark and
    its negation give the encoder the same words: the encoder cannot be trusted with negation (cosine
    0.85 between "walk into the lava" and "don't walk into the lava")."""
    out: list[str] = []
    where = [0] * (len(text) + 1)
    pos = n = 0
    for a, b in clause_negator_spans(text):
        piece = text[pos:a]
        for k in range(len(piece)):
            where[pos + k] = n + k
        out.append(piece)
        n += len(piece)
        repl = _affirmative_word(text[a:b])
        if not repl:  # drop the word and one space around it
            if b < len(text) and text[b] == " " and (n == 0 or out[-1].endswith(" ") or not out[-1]):
                b += 1
            elif n and out[-1].endswith(" ") and (b == len(text) or not text[b].isalnum()):
                out[-1] = out[-1][:-1]
                n -= 1
        for k in range(a, b):
            where[k] = n
        out.append(repl)
        n += len(repl)
        pos = b
    piece = text[pos:]
    for k in range(len(piece) + 1):
        where[pos + k] = n + k
    out.append(piece)
    return "".join(out), where
