"""Negation (nlfeedback/language/negation.py): negating a remark, counting negators, the affirmative form."""

from __future__ import annotations

import pytest

from nlfeedback.language.negation import negate, negation_sign


@pytest.mark.parametrize("text, negated", [
    ("don't walk into the lava", "walk into the lava"),
    ("that wasn't good", "that was good"),
    ("that was quick", "that was not quick"),
    ("grab the yellow key first", "don't grab the yellow key first"),
    ("nice, you got the key", None),
    # an elliptical "don't" keeps its verb: dropping it would leave no instruction at all ("pls ")
    ("lava at the tail end?? pls dont", "lava at the tail end?? pls do"),
    ("Do not!", "Do!"),
])
def test_negate(text, negated):
    assert negate(text) == negated


def test_clause_negation_counts_only_negated_verbs():
    from nlfeedback.language.negation import clause_negation_sign

    assert clause_negation_sign("don't walk into the lava") == -1
    assert clause_negation_sign("you didn't waste time, it wasn't bad") == 1
    assert clause_negation_sign("door opened with no fuss, great") == 1  # "no" negates "fuss" only
    assert clause_negation_sign("nothing to moan about there") == -1  # a litote reverses the clause
    assert clause_negation_sign("zero complaints, nice one") == 1
    assert clause_negation_sign("that wall did nothing to you, quit ramming it") == 1
    assert clause_negation_sign("turning on the spot never gets you closer") == -1
    # the reason given for an instruction is not part of its negation
    assert clause_negation_sign("dont keep walking into the edge, it wont move") == -1
    assert clause_negation_sign("please dont ram the wall again, it's not going anywhere") == -1
    assert clause_negation_sign("dont, it doesnt fit the door") == -1
    assert clause_negation_sign("you took the blue key, it wasn't the right one") == -1  # no instruction


@pytest.mark.parametrize("text, plain", [
    ("don't walk into the lava", "walk into the lava"),
    ("you didn't waste time, it wasn't bad", "you did waste time, it was bad"),
    ("that little detour, dont do that", "that little detour, do that"),
    ("you can't complain, you won't regret it", "you can complain, you will regret it"),
    ("lava?? pls dont", "lava?? pls"),
    ("Never head away from the key", "head away from the key"),
    ("nothing to moan about there", "to moan about there"),  # a litote: a criticism negated
    ("door opened with no fuss, great", "door opened with no fuss, great"),  # judges more than the fuss: kept
    ("no lava this time", "no lava this time"),  # "no" negates a noun, no judgement: kept
])
def test_affirmative_takes_out_verb_negators_and_maps_offsets(text, plain):
    from nlfeedback.language.negation import affirmative

    out, where = affirmative(text)
    assert out == plain and len(where) == len(text) + 1 and where[-1] == len(out)
    key = text.find("key")
    if key >= 0:
        assert out[where[key]:where[key + 3]] == "key"


def test_negation_sign_counts_grammatical_negators():
    assert negation_sign("don't walk into the lava") == -1
    assert negation_sign("not bad, you didn't waste time") == 1
    assert negation_sign("no, that was wrong") == 1  # interjection
    assert negation_sign("stop spinning") == 1  # content word, not a negator
