"""The lexicon sentiment feature (nlfeedback/language/sentiment.py)."""

from __future__ import annotations

import numpy as np
import pytest


@pytest.mark.parametrize("text, compound_sign", [
    ("that was dire", -1), ("what a mess", -1), ("lovely work with the key", 1),
    ("spinning wastes moves", -1),  # "wastes" is looked up as "waste"
    ("dont walk into the lava", 0),  # negators are taken out first: "walk into the lava" is neutral
    ("cant fault the way you got the key", -1),  # "fault …": the interpreter applies the negation by counting
    ("zero complaints about the door", -1),  # a litote: counted by the interpreter, so taken out here
    ("door opened with no fuss, great", 1),  # not a litote (it praises too): the negated criticism is dropped
    ("no more spinning", -1), ("no good", -1),
])
def test_lexicon_sentiment_reads_the_clause_without_negators(text, compound_sign):
    from nlfeedback.language.sentiment import sentiment_features, strip_negators

    assert "dont" not in strip_negators(text) and "cant" not in strip_negators(text)
    compound, pos, neg = sentiment_features(text)
    assert np.sign(round(compound, 3)) == compound_sign and 0 <= pos <= 1 and 0 <= neg <= 1
