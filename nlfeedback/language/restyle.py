"""Restyling augmentation: the same remark as different people would type it.

Used only to train the ``trained`` interpreter (on ``train``-split remarks), to make it robust to how
people write rather than to our templates' wording:

* visual referring expressions from what the MiniGrid renderer shows (lava is drawn as orange tiles, the
  goal as a green square, walls as grey blocks at the edge of the room, doors as coloured gates);
* texting style: lower case, apostrophes dropped ("dont"), "u"/"ur"/"pls", a trailing "lol"/"tbh";
* typos: one letter dropped, doubled or swapped in a longer word (never in negators or numbers).
"""

from __future__ import annotations

import re

import numpy as np

VISUAL = {
    r"\bthe lava\b": ["the orange tiles", "the orange squares", "the orange floor", "the burning tiles"],
    r"\blava\b": ["orange tiles", "the orange stuff", "the orange squares"],
    r"\bthe goal\b": ["the green square", "the green tile", "the finish", "the exit"],
    r"\bgoal\b": ["green square", "finish", "exit square"],
    r"\bthe walls?\b": ["the grey wall", "the edge", "the boundary"],
    r"\bthe door\b": ["the gate", "the doorway"],
}
TEXTING = [(r"\byou\b", "u"), (r"\byour\b", "ur"), (r"\bplease\b", "pls"), (r"\bbecause\b", "cuz"),
           (r"\bgoing to\b", "gonna"), (r"\bokay\b", "ok")]
PROTECTED = re.compile(r"n't|not|never|no|\d")


def _typo(word: str, rng: np.random.Generator) -> str:
    i = int(rng.integers(1, len(word) - 1))
    kind = int(rng.integers(3))
    if kind == 0:
        return word[:i] + word[i + 1:]
    if kind == 1:
        return word[:i] + word[i] + word[i:]
    return word[:i - 1] + word[i] + word[i - 1] + word[i + 1:]


def restyle(text: str, rng: np.random.Generator) -> str:
    out = text
    if rng.random() < 0.6:
        for pattern, options in VISUAL.items():
            if re.search(pattern, out, re.IGNORECASE) and rng.random() < 0.7:
                out = re.sub(pattern, str(options[int(rng.integers(len(options)))]), out, count=1, flags=re.IGNORECASE)
                break
    if rng.random() < 0.5:
        out = out.lower().replace("'", "")
        for pattern, repl in TEXTING:
            if rng.random() < 0.7:
                out = re.sub(pattern, repl, out)
        if rng.random() < 0.3:
            out = out.rstrip(".!") + str(rng.choice([" lol", " tbh", " pls", " mate", " haha"]))
    if rng.random() < 0.4:
        words = out.split(" ")
        candidates = [i for i, w in enumerate(words) if len(w) >= 5 and w.isalpha() and not PROTECTED.search(w)]
        if candidates:
            i = candidates[int(rng.integers(len(candidates)))]
            words[i] = _typo(words[i], rng)
            out = " ".join(words)
    return out
