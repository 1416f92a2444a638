"""Grounding (nlfeedback/language/grounding.py): temporal references, referents, key colours, step numbers."""

from __future__ import annotations

import pytest

from nlfeedback.envs import get_task
from nlfeedback.language.grounding import Parse, ground
from nlfeedback.policies import make_policy
from nlfeedback.rollout import rollout


@pytest.fixture(scope="module")
def bumpy_traj():
    for t in rollout(get_task("doorkey-5x5"), make_policy("expert", mistakes=0.4), 200, seed=6):
        bumps = [i for i, e in enumerate(t.events) if "bumped:wall" in e]
        if len(bumps) >= 2 and bumps[-1] - bumps[0] > 6 and t.success:
            return t
    raise AssertionError("no bumpy episode")


def test_grounding_temporal_references(bumpy_traj):
    bumps = [i for i, e in enumerate(bumpy_traj.events) if "bumped:wall" in e]
    every = ground(Parse("wall_bump", -1, 1.0), bumpy_traj)
    assert every.steps == bumps
    at = ground(Parse("wall_bump", -1, 1.0, when="step", number=bumps[-1] + 1), bumpy_traj)
    assert at.steps == [bumps[-1]]
    start = ground(Parse("wall_bump", -1, 1.0, when="start"), bumpy_traj)
    assert bumps[0] in start.steps and bumps[-1] not in start.steps or len(bumpy_traj) < 9
    assert ground(Parse("lava", -1, 1.0), bumpy_traj) is None


def test_referent_names_the_wrong_key():
    task = get_task("keys-distractor")
    for traj in rollout(task, make_policy("expert", mistakes=0.5), 200, seed=3):
        wrong = [i for i, e in enumerate(traj.events) if any(x.startswith("picked_up:key") for x in e)]
        clause = ground(Parse("wrong_key", -1, 1.0), traj)
        if clause is not None:
            assert set(clause.steps) < set(wrong) or clause.steps == wrong[:len(clause.steps)]
            right = ground(Parse("key_pickup", 1, 1.0), traj)
            assert right is None or not set(right.steps) & set(clause.steps)
            return
    raise AssertionError("no wrong-key episode")


def test_a_named_key_colour_decides_right_or_wrong_key():
    """"the blue key" is about picking up the blue key, whichever moment the reader guessed; the sign stays."""
    from nlfeedback.language.grounding import key_color, moments_of

    assert key_color("also the blue key? really?") == "blue" and key_color("the gray one") == "grey"
    assert key_color("nice key grab") is None and key_color("the blue door") is None
    for traj in rollout(get_task("keys-distractor"), make_policy("expert", mistakes=0.5), 200, seed=3):
        moments = moments_of(traj)
        if "wrong_key" not in moments or "key_pickup" not in moments:
            continue
        wrong = moments["wrong_key"].referent.split()[0]
        right = moments["key_pickup"].referent.split()[0]
        as_right = ground(Parse("key_pickup", 1, 1.0, key_color=wrong), traj)
        assert as_right.moment == "wrong_key" and as_right.steps == moments["wrong_key"].steps
        assert as_right.polarity == 1
        as_wrong = ground(Parse("wrong_key", -1, 1.0, key_color=right), traj)
        assert as_wrong.moment == "key_pickup" and as_wrong.polarity == -1
        unnamed = ground(Parse("wrong_key", -1, 1.0), traj)
        assert unnamed.moment == "wrong_key"
        return
    raise AssertionError("no episode with both the wrong and the right key")


@pytest.mark.parametrize("text, n", [("at step seven", 7), ("the fifth move was bad", 5), ("on move number three", 3),
                                      ("at step 12", 12), ("get the key first", None), ("one more time", None)])
def test_step_numbers_in_digits_and_words(text, n):
    from nlfeedback.language.grounding import step_number

    assert step_number(text) == n
