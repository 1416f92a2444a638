"""The phrase banks load, follow FORMAT.md, and the two splits share no text."""

from __future__ import annotations

import pytest

from nlfeedback.critics.phrasebank import load_phrasebank, load_voices, parse_phrasebank, voices
from nlfeedback.errors import NlfError
from nlfeedback.truth.moments import REFERENTS


@pytest.mark.parametrize("split, minimum", [("train", 300), ("heldout", 100)])
def test_bank_size_and_coverage(split, minimum):
    bank = load_phrasebank(split)
    assert len(bank.templates) >= minimum
    moments = {t.moment for t in bank.templates}
    assert set(REFERENTS) | {"episode", "vague", "mixed"} <= moments
    assert len({t.id for t in bank.templates}) == len(bank.templates)
    for t in bank.templates:
        if t.type == "mixed":
            assert {"pos", "neg"} <= t.slots
        else:
            assert not {"pos", "neg"} & t.slots
    assert all("{n}" in f for f in bank.when["step"])
    assert all("{anchor}" in f for k in ("after", "before") for f in bank.when[k])


def test_splits_share_no_text():
    train = {t.text.lower() for t in load_phrasebank("train").templates}
    heldout = {t.text.lower() for t in load_phrasebank("heldout").templates}
    assert not train & heldout
    human = {t.text.lower() for b in load_voices("human") for t in b.templates}
    assert not train & human  # the trained reader never saw a human-split phrasing


def test_the_human_split_is_eight_complete_voices():
    assert len(voices("human")) == 8
    for bank in load_voices("human"):
        assert len(bank.templates) >= 200, bank.voice
        assert set(REFERENTS) | {"episode", "vague", "mixed"} <= {t.moment for t in bank.templates}, bank.voice
        assert all(t.id.startswith(f"human/{bank.voice}/") and t.split == "human" for t in bank.templates)
        assert all("{n}" in f for f in bank.when["step"])
        assert all("{anchor}" in f for k in ("after", "before") for f in bank.when[k])
    with pytest.raises(NlfError, match="spoken in voices"):
        load_phrasebank("human")
    with pytest.raises(NlfError, match="unknown phrasing split"):
        voices("klingon")


def test_bad_bank_is_a_clear_error(tmp_path):
    path = tmp_path / "bad.toml"
    path.write_text('[[group]]\nname = "x"\nmoment = "lava"\ntype = "imperative"\npolarity = -1\n'
                    'texts = ["walk into {lava}"]\n')
    with pytest.raises(NlfError, match="unknown slots"):
        parse_phrasebank(path, "train")
    path.write_text('[[group]]\nname = "x"\nmoment = "lava"\ntype = "shouting"\npolarity = -1\ntexts = ["a"]\n')
    with pytest.raises(NlfError, match="type 'shouting'"):
        parse_phrasebank(path, "train")
