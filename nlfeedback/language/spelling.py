"""Spelling noise for training the reader: a remark as a hurried person might type it.

People misspell ("a waist of time", "it wasnt even impresive"), drop apostrophes and capitals. A reader
fine-tuned only on tidy text can read a negated remark the other way once its key word is misspelled, so
training can show it some of its human remarks misspelled (``TrainConfig.noisy_repeats``): the labels stay the
remark's, since a misspelling does not change what the writer meant. The misspellings are people's, from
corpora of spelling errors (``resources/spelling/errors.json.gz``; where they come from and how they were
filtered: ``resources/spelling/NOTICE.md``), not invented here. Digits are never touched, nor the plain
negators ("no", "not", "never", …: the table holds none of theirs).
"""

from __future__ import annotations

import gzip
import json
import re
from functools import lru_cache

import numpy as np

WORD = re.compile(r"[A-Za-z][A-Za-z']*")


@lru_cache(maxsize=1)
def misspellings() -> dict[str, list[str]]:
    """Word (lower case) → people's misspellings of it."""
    from nlfeedback.data import resource

    with gzip.open(resource("spelling", "errors.json.gz")) as f:
        return json.loads(f.read())


def _cased(variant: str, word: str) -> str:
    if word.isupper() and len(word) > 1:
        return variant.upper()
    return variant[:1].upper() + variant[1:] if word[:1].isupper() else variant


def misspell(text: str, rng: np.random.Generator, *, word_rate: float = 0.2, drop_apostrophes: float = 0.3,
             lowercase: float = 0.3) -> str:
    """``text`` with each word that people are known to misspell replaced, with probability ``word_rate``, by
    one of their misspellings of it (case kept); then, with probability ``drop_apostrophes``, every
    apostrophe removed ("didn't" → "didnt"), and with probability ``lowercase`` the whole text lower-cased.
    Deterministic given ``rng``'s state."""
    table = misspellings()

    def swap(m: re.Match[str]) -> str:
        word = m.group(0)
        variants = table.get(word.lower())
        if not variants or rng.random() >= word_rate:
            return word
        return _cased(variants[int(rng.integers(len(variants)))], word)

    out = WORD.sub(swap, text)
    if rng.random() < drop_apostrophes:
        out = re.sub(r"(?<=[A-Za-z])['’](?=[A-Za-z])", "", out)
    if rng.random() < lowercase:
        out = out.lower()
    return out
