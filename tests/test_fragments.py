"""Clause splitting (nlfeedback/language/fragments.py)."""

from __future__ import annotations

import pytest


def test_fragments_keep_a_numbered_reference_whole():
    from nlfeedback.language.fragments import fragment_spans

    text = "that spinning at action no. 21? dont. just dont"
    assert [text[a:b] for a, b in fragment_spans(text)] == ["that spinning at action no. 21", "dont", "just dont"]
    text = "no. you hit the wall"
    assert [text[a:b] for a, b in fragment_spans(text)] == ["no", "you hit the wall"]


@pytest.mark.parametrize("text, parts", [
    ("nice, you got the key", ["nice, you got the key"]),
    ("unlocked and opened the door", ["unlocked and opened the door"]),
    ("you got the key, and then you walked into the lava", ["you got the key", "you walked into the lava"]),
    ("while you got the key, you also bumped into the wall", ["you got the key", "you also bumped into the wall"]),
    ("lava is bad, even if you got the key", ["lava is bad", "you got the key"]),
    ("good key grab. unfortunately you hit the wall", ["good key grab", "unfortunately you hit the wall"]),
    ("walls block your path, so moving into one wastes a step", ["walls block your path, so moving into one wastes a step"]),
    # judging openers start a clause and stay in it; "what a pity" and "you still …" do not split
    ("nice key grab but unfortunately you hit the wall", ["nice key grab", "unfortunately you hit the wall"]),
    ("great run, shame about the lava at the end", ["great run", "shame about the lava at the end"]),
    ("you got the key, the problem is you then dropped it", ["you got the key", "the problem is you then dropped it"]),
    ("what a pity you hit the wall", ["what a pity you hit the wall"]),
    ("you hit the wall but you still got the key", ["you hit the wall", "you still got the key"]),
])
def test_fragments_split_mixed_remarks(text, parts):
    from nlfeedback.language.fragments import fragment_spans

    assert [text[a:b] for a, b in fragment_spans(text)] == parts
