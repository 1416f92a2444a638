"""Restyling augmentation: the same remark as different people would type it.

Used only to train the ``trained`` interpreter (on ``train``-split remarks), to make it robust to how
people write rather than to our templates' wording:

* visual referring expressions from what the MiniGrid renderer shows (lava is drawn as orange tiles, the
  goal as a green square, walls as grey blocks at the edge of the room, doors as coloured gates);
* everyday synonyms for the objects and verbs ("grabbed" / "got hold of", "bumped into" / "ran into",
  "the goal" / "the target"), British and American spellings;
* who is talking about whom: second person ("you") turned into third person ("the agent", "it");
* hedges and chatty openers / closers ("I think", "honestly", "ok so", "next time", "imo");
* texting style: lower case, apostrophes dropped ("dont"), "u"/"ur"/"pls", a trailing "lol"/"tbh";
  missing or repeated punctuation;
* terse copies with a filler word dropped ("walked into lava");
* typos: one letter dropped, doubled or swapped in a longer word (never in negators or numbers).

No rule adds or removes a negator, so the label (moment, valence) of a restyled copy is the original's.
"""

from __future__ import annotations

import re

import numpy as np

VISUAL = {
    r"\bthe lava\b": ["the orange tiles", "the orange squares", "the orange floor", "the burning tiles",
                      "the deadly tiles"],
    r"\blava\b": ["orange tiles", "the orange stuff", "the orange squares"],
    r"\bthe goal\b": ["the green square", "the green tile", "the finish", "the exit", "the target",
                      "the green box", "the end square"],
    r"\bgoal\b": ["green square", "finish", "exit square", "target"],
    r"\bthe walls?\b": ["the grey wall", "the edge", "the boundary", "the grey blocks", "the side of the room"],
    r"\bthe door\b": ["the gate", "the doorway", "the coloured door", "the locked door"],
}
# (pattern, replacements): plain-language paraphrases people use for the same things.
SYNONYMS = [
    (r"\bpicked up\b", ["grabbed", "got", "took", "collected", "fetched", "got hold of", "scooped up"]),
    (r"\bpick up\b", ["grab", "get", "take", "collect", "fetch", "get hold of"]),
    (r"\bgrabbed\b", ["picked up", "got", "snagged", "took"]),
    (r"\bgrab\b", ["pick up", "get", "take", "snag"]),
    (r"\bbumped into\b", ["ran into", "hit", "walked into", "crashed into", "smacked into"]),
    (r"\bbump into\b", ["run into", "hit", "crash into", "walk into"]),
    (r"\bwalked into\b", ["went into", "stepped into", "ran into", "moved into"]),
    (r"\bwalk into\b", ["go into", "step into", "run into", "move into", "wander into"]),
    (r"\breached\b", ["got to", "made it to", "arrived at", "hit"]),
    (r"\breach\b", ["get to", "make it to", "arrive at"]),
    (r"\bopened\b", ["unlocked", "got through", "opened up"]),
    (r"\bspinning\b", ["turning in circles", "going round in circles", "turning on the spot", "twirling",
                        "rotating", "whirling around", "going round and round", "circling", "pirouetting",
                        "spinning round", "doing circles"]),
    (r"\bspin\b", ["twirl", "rotate", "whirl around", "go round and round", "turn in circles", "pirouette"]),
    (r"\bturning\b", ["rotating", "twirling", "swivelling", "pivoting", "spinning"]),
    (r"\bturned\b", ["rotated", "twirled", "swivelled", "pivoted"]),
    (r"\bhit\b", ["smacked into", "slammed into", "crashed into", "banged into", "faceplanted into"]),
    (r"\bdetour\b", ["roundabout route", "long way round", "wander", "side trip", "scenic route"]),
    (r"\bwandered\b", ["drifted", "strayed", "meandered", "went off course"]),
    (r"\bwasted\b", ["threw away", "burned", "blew", "squandered"]),
    (r"\bwaste\b", ["throw away", "burn", "squander"]),
    (r"\bdropped\b", ["let go of", "put down", "ditched", "dumped"]),
    (r"\bdrop\b", ["let go of", "put down", "ditch", "dump"]),
    (r"\bran out of time\b", ["timed out", "let the clock run out", "ran the clock down", "took forever"]),
    (r"\bslow\b", ["sluggish", "dawdling", "sloooow", "taking ages"]),
    (r"\bstop\b", ["quit", "cut out", "enough with", "knock off"]),
    (r"\bavoid\b", ["stay clear of", "steer clear of", "keep away from", "stay away from", "dodge"]),
    (r"\bwrong\b", ["incorrect", "wrong-coloured", "mismatched"]),
    (r"\bnice\b", ["good", "great", "cool", "sweet", "lovely", "neat", "brilliant", "spot on", "class"]),
    (r"\bgood\b", ["nice", "great", "solid", "decent"]),
    (r"\bbad\b", ["poor", "awful", "rubbish", "terrible", "dumb", "dire", "a shambles", "naff", "sloppy"]),
    (r"\bmistake\b", ["error", "blunder", "slip"]),
    (r"\bpointless\b", ["useless", "silly", "a waste", "unnecessary"]),
    (r"\bquickly\b", ["fast", "swiftly", "promptly"]),
]
SPELLING = [(r"\bcolou?r\b", ["colour", "color"]), (r"\bgr[ae]y\b", ["grey", "gray"]),
            (r"\btowards?\b", ["towards", "toward"])]
THIRD_PERSON = [(r"\byou're\b", "it's"), (r"\byou are\b", "it is"), (r"\byou were\b", "it was"),
                (r"\byou've\b", "it has"), (r"\byou have\b", "it has"), (r"\byourself\b", "itself"),
                (r"\byour\b", "its"), (r"\bYou\b", "The agent"), (r"\byou\b", "the agent")]
OPENERS = ["I think ", "honestly, ", "ok so ", "so ", "hmm, ", "well, ", "look, ", "yeah, ", "right, ", "umm ",
           "from what I saw, ", "in my opinion ", "to be fair, ", "hey, ", "i mean, ", "watching that, "]
CLOSERS = [" next time", " imo", " if you ask me", " overall", " I guess", " to be honest", " really",
           " in that run", " this time", " haha", " just saying"]
TEXTING = [(r"\byou\b", "u"), (r"\byour\b", "ur"), (r"\bplease\b", "pls"), (r"\bbecause\b", "cuz"),
           (r"\bgoing to\b", "gonna"), (r"\bokay\b", "ok"), (r"\bare\b", "r"), (r"\bthanks\b", "thx"),
           (r"\bwant to\b", "wanna"), (r"\bgot to\b", "gotta"), (r"\breally\b", "rly")]
PROTECTED = re.compile(r"n't|nt$|not|never|no|without|\d", re.IGNORECASE)
FILLERS = re.compile(r"\b(?:the|a|that|just|really|very|so|then|there|all)\s+", re.IGNORECASE)


def _typo(word: str, rng: np.random.Generator) -> str:
    i = int(rng.integers(1, len(word) - 1))
    kind = int(rng.integers(3))
    if kind == 0:
        return word[:i] + word[i + 1:]
    if kind == 1:
        return word[:i] + word[i] + word[i:]
    return word[:i - 1] + word[i] + word[i - 1] + word[i + 1:]


def _choice(options: list[str], rng: np.random.Generator) -> str:
    return str(options[int(rng.integers(len(options)))])


def restyle(text: str, rng: np.random.Generator) -> str:
    out = text
    if rng.random() < 0.5:
        for pattern, options in VISUAL.items():
            if re.search(pattern, out, re.IGNORECASE) and rng.random() < 0.7:
                out = re.sub(pattern, _choice(options, rng), out, count=1, flags=re.IGNORECASE)
                break
    if rng.random() < 0.6:
        hits = [(p, o) for p, o in SYNONYMS if re.search(p, out, re.IGNORECASE)]
        for k in rng.permutation(len(hits))[:2]:
            p, o = hits[int(k)]
            out = re.sub(p, _choice(o, rng), out, count=1, flags=re.IGNORECASE)
    for pattern, options in SPELLING:
        if re.search(pattern, out, re.IGNORECASE):
            out = re.sub(pattern, _choice(options, rng), out, flags=re.IGNORECASE)
    if rng.random() < 0.2 and re.search(r"\byou", out, re.IGNORECASE):
        for pattern, repl in THIRD_PERSON:
            out = re.sub(pattern, repl, out)
    if rng.random() < 0.25:
        opener = _choice(OPENERS, rng)
        out = opener + (out[:1].lower() + out[1:] if out[:2] != "I " else out)
    if rng.random() < 0.15:
        out = out.rstrip(".!?") + _choice(CLOSERS, rng)
    if rng.random() < 0.5:
        out = out.lower().replace("'", "")
        for pattern, repl in TEXTING:
            if rng.random() < 0.6:
                out = re.sub(pattern, repl, out)
        if rng.random() < 0.3:
            out = out.rstrip(".!") + _choice([" lol", " tbh", " pls", " mate", " haha", " ngl", " dude", " bro"], rng)
    if rng.random() < 0.2:  # terse: drop one filler word ("walked into lava", "got key")
        fillers = list(FILLERS.finditer(out))
        if fillers:
            m = fillers[int(rng.integers(len(fillers)))]
            out = out[:m.start()] + out[m.end():]
    r = rng.random()
    if r < 0.15:
        out = out.rstrip(".!?") + _choice(["!", "!!", "!!!", "...", " :/", "."], rng)
    elif r < 0.3:
        out = re.sub(r"[,.!]", "", out)
    if rng.random() < 0.4:
        words = out.split(" ")
        candidates = [i for i, w in enumerate(words) if len(w) >= 5 and w.isalpha() and not PROTECTED.search(w)]
        if candidates:
            i = candidates[int(rng.integers(len(candidates)))]
            words[i] = _typo(words[i], rng)
            out = " ".join(words)
    return re.sub(r"\s+", " ", out).strip()


def restyle_spans(text: str, spans: list[tuple[int, int]], rng: np.random.Generator) -> tuple[str, list[tuple[int, int]]]:
    """Restyle each ``[start, end)`` span of ``text`` on its own (the text between them is kept as it is).

    For remarks of several clauses (a praise and a criticism joined by a connector): every clause is
    restyled independently, and the returned spans say where each clause landed in the new text, so a
    restyled copy can be labelled clause by clause. Spans must not overlap (``ValueError`` otherwise).
    """
    order = sorted(range(len(spans)), key=lambda i: spans[i])
    pieces: list[str] = []
    new_spans: list[tuple[int, int]] = [(0, 0)] * len(spans)
    pos, length = 0, 0
    for i in order:
        a, b = spans[i]
        if a < pos or b <= a or b > len(text):
            raise ValueError(f"spans overlap or are out of range: {spans}")
        gap = text[pos:a]
        clause = restyle(text[a:b], rng) or text[a:b]
        pieces += [gap, clause]
        start = length + len(gap)
        new_spans[i] = (start, start + len(clause))
        length = start + len(clause)
        pos = b
    pieces.append(text[pos:])
    return "".join(pieces), new_spans
