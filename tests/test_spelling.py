"""Spelling noise for the reader's training (nlfeedback/language/spelling.py)."""

from __future__ import annotations

import numpy as np

from nlfeedback.language.spelling import misspell, misspellings


def test_the_table_is_peoples_misspellings_and_spares_negators():
    table = misspellings()
    assert len(table) > 5000
    assert "waist" in table["waste"] and "dont" in table["don't"] and "didnt" in table["didn't"]
    for word in ("no", "not", "never", "none", "nothing"):
        assert word not in table
    for word, variants in table.items():
        if "n't" in word:  # a misspelt negation is still a negation
            assert all("nt" in v for v in variants), word


def test_misspell_changes_spelling_only_and_is_reproducible():
    text = "It didn't waste the first 12 steps, NOT bad at all"
    rng = np.random.default_rng(0)
    outs = [misspell(text, rng, word_rate=1.0, drop_apostrophes=0.0, lowercase=0.0) for _ in range(20)]
    assert outs == [misspell(text, r, word_rate=1.0, drop_apostrophes=0.0, lowercase=0.0)
                    for r in [np.random.default_rng(0)] for _ in range(20)]
    for out in outs:
        words = out.split()
        assert len(words) == len(text.split())
        assert "12" in words and "NOT" in words and words[0][0] == "I"  # digits, negators and case kept
        assert words[1] != "didn't" and words[2] != "waste"  # every known word misspelt at rate 1
    assert len(set(outs)) > 1  # the variant is drawn
    assert misspell(text, rng, word_rate=0.0, drop_apostrophes=0.0, lowercase=0.0) == text
    assert misspell(text, rng, word_rate=0.0, drop_apostrophes=1.0, lowercase=1.0) == \
        "it didnt waste the first 12 steps, not bad at all"
    assert misspell("", rng) == "" and misspell("12 34 !!", rng, word_rate=1.0) == "12 34 !!"
