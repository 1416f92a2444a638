"""Mood cues: imperative and avoidance (nlfeedback/language/mood.py)."""

from __future__ import annotations

import pytest


@pytest.mark.parametrize("text, imperative, avoidance", [
    ("dont just go round and round", 1, 0), ("please never step on the orange tiles", 1, 0),
    ("next time, grab the key first", 1, 0), ("you should have opened the door", 1, 0),
    ("you shouldn't have dropped the key", 1, 0),
    ("you walked into the lava", 0, 0), ("that was dire", 0, 0), ("the spinning was pointless", 0, 0),
    ("avoid the lava", 1, 1), ("less turning please", 0, 1), ("keep well away from the walls", 1, 1),
    ("make one turn instead of spinning", 1, 1), ("you kept away from the lava", 0, 1),
    ("mind your head on the walls", 1, 1), ("watch where you're going", 1, 1),
])
def test_mood_cues(text, imperative, avoidance):
    from nlfeedback.language.mood import mood_features

    assert mood_features(text) == [float(imperative), float(avoidance)]
