"""The interpreters (nlfeedback/language/interpreters/) with the real MiniLM encoder: trained, keyword,
zero-shot and oracle; the trained reader on negation and on human-style remarks."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from nlfeedback.critics import critique
from nlfeedback.envs import get_task
from nlfeedback.feedback.schema import Source, TextFeedback
from nlfeedback.language.interpreters import interpret, interpret_many, make_interpreter
from nlfeedback.policies import make_policy
from nlfeedback.rollout import rollout


def human(traj, text, fid="fb-h"):
    return TextFeedback(id=fid, trajectory_id=traj.id, segment=[0, len(traj)],
                        source=Source(type="human", annotator="ann"), created_at="2026-11-25T10:00:00Z",
                        annotation_seconds=3.0, text=text)


@pytest.fixture(scope="module")
def trained():
    return make_interpreter("trained")


def test_trained_reads_negation_of_the_same_sentence(trained, lava_traj):
    lava = [i for i, e in enumerate(lava_traj.events) if "entered:lava" in e]
    bad = interpret(trained, human(lava_traj, "don't walk into the lava"), lava_traj)
    good = interpret(trained, human(lava_traj, "walk into the lava", "fb-h2"), lava_traj)
    assert bad.weights[lava].all() and good.weights[lava].all()
    assert (bad.targets[lava] < 0).all() and (good.targets[lava] > 0).all()


@pytest.mark.parametrize("name", ["keyword", "zero-shot", "trained"])
@pytest.mark.parametrize("text", ["", "   ", "asdf qwer zxcv", "lorem ipsum dolor sit amet", "what's for lunch?",
                                  "the printer keeps crashing", "!!!???"])
def test_gibberish_and_off_topic_abstain(name, text, lava_traj):
    interp = make_interpreter(name)
    t = interpret(interp, human(lava_traj, text), lava_traj)
    assert not t.weights.any()
    assert t.confidence < 0.5 or name == "keyword"


def test_oracle_reproduces_intents_exactly(lava_traj):
    trajs = list(rollout(get_task("keys-distractor"), make_policy("expert", epsilon=0.1, mistakes=0.3), 20, seed=2))
    items = list(critique(trajs, "text", budget=60, seed=1))
    by_id = {t.id: t for t in trajs}
    oracle = make_interpreter("oracle-intent")
    for fb, t in zip(items, interpret_many(oracle, [(f, by_id[f.trajectory_id]) for f in items])):
        want = {s: c.polarity * c.strength for c in fb.intent.clauses if c.polarity for s in c.steps}
        assert set(np.flatnonzero(t.weights)) == set(want)
        for s, v in want.items():
            assert np.sign(t.targets[s]) == np.sign(v)


def test_bad_checkpoint_is_a_clear_error(tmp_path):
    from nlfeedback.errors import NlfError

    bad = tmp_path / "x.pt"
    bad.write_bytes(b"nope")
    with pytest.raises(NlfError, match="not a readable checkpoint"):
        make_interpreter("trained", checkpoint=str(bad))
    with pytest.raises(NlfError, match="no trained interpreter checkpoint"):
        make_interpreter("trained", checkpoint=str(tmp_path / "missing.pt"))


# --- remarks in styles neither phrase bank uses --------------------------------------------------------
HUMAN_STYLE_REMARKS = [  # (text, moment, polarity): written for this test, in neither phrase bank
("ugh you literally walked straight into lava", "lava", -1),
("whatever you do, keep off the lava", "lava", -1),
("lava bad", "lava", -1),
("u shud not have gone in the lava", "lava", -1),
("stepping on lava = instant fail", "lava", -1),
("would've been fine if you hadn't touched the lava", "lava", -1),
("quit headbutting the wall", "wall_bump", -1),
("the wall isn't going anywhere, stop walking into it", "wall_bump", -1),
("bonked the wall twice lol", "wall_bump", -1),
("enough with the turning around", "spin", -1),
("you keep rotating on the spot like a confused robot", "spin", -1),
("stop going in circles!!", "spin", -1),
("why on earth did you put the key down", "drop_key", -1),
("keep the key, you still need it", "drop_key", -1),
("wrong key buddy", "wrong_key", -1),
("that blue key is useless here", "wrong_key", -1),
("you tried the door before having the key, pointless", "locked_door", -1),
("grabbing the key was exactly right", "key_pickup", 1),
("yes!! got the key", "key_pickup", 1),
("good on you for picking up the key early", "key_pickup", 1),
("you should definitely pick up the key first", "key_pickup", 1),
("opening the door there was spot on", "door_open", 1),
("door unlocked, nicely done", "door_open", 1),
("made it to the goal, brilliant", "goal", 1),
("finally reached the goal, well played", "goal", 1),
("you took forever", "timeout", -1),
("far too slow, ran out of time", "timeout", -1),
("wandering off like that wasted time", "detour", -1),
("pressing done there achieved nothing", "wasted", -1),
("superb run", "episode", 1),
("that was pretty rubbish", "episode", -1),
("not your finest moment", "episode", -1),
("can't really fault that run", "episode", 1),
("nothing to complain about there", "episode", 1),
("honestly terrible from start to finish", "episode", -1),
("would you please stop walking into walls", "wall_bump", -1),
("is there a reason you keep spinning?", "spin", -1),
("the key was picked up quickly, good", "key_pickup", 1),
("the lava was walked into again", "lava", -1),
("don't ever forget the key", "key_pickup", 1),
]


# A second set, written 2026-12-01 before any interpreter was run on it (formal reports, terse commands,
# idioms such as "no fuss" and "rip"), so it was never tuned on.
HUMAN_STYLE_REMARKS_2 = [
    ('Agent proceeded directly into the lava. Unacceptable.', 'lava', -1),
    ('orange = death, stay off it', 'lava', -1),
    ('you fried yourself on the lava, rip', 'lava', -1),
    ('Please refrain from entering the lava tiles.', 'lava', -1),
    ('stay well clear of the lava next time', 'lava', -1),
    ('ouch, straight into the wall', 'wall_bump', -1),
    ('that wall did nothing to you, quit ramming it', 'wall_bump', -1),
    ('Collisions with the boundary wall should be avoided.', 'wall_bump', -1),
    ('you walked face-first into the wall like three times', 'wall_bump', -1),
    ('so much pointless rotating', 'spin', -1),
    ('The agent rotated in place repeatedly without purpose.', 'spin', -1),
    ('no need to keep turning round and round', 'spin', -1),
    ('spinning like a top, why', 'spin', -1),
    ('you let go of the key way too early', 'drop_key', -1),
    ('hold on to the key until the door is open', 'drop_key', -1),
    ('dropping the key was a blunder', 'drop_key', -1),
    ("that's the wrong colour key, the door won't take it", 'wrong_key', -1),
    ('you went for the decoy key', 'wrong_key', -1),
    ('banging on the locked door without a key achieves nothing', 'locked_door', -1),
    ('The agent attempted the door before collecting the key.', 'locked_door', -1),
    ('Key acquired efficiently. Good.', 'key_pickup', 1),
    ('love that you went for the key straight away', 'key_pickup', 1),
    ('getting the key first was the right call', 'key_pickup', 1),
    ('door opened with no fuss, great', 'door_open', 1),
    ('The door was unlocked correctly.', 'door_open', 1),
    ('you got through the door, nice one', 'door_open', 1),
    ('goal reached! excellent', 'goal', 1),
    ('that finish was textbook', 'goal', 1),
    ('you made it to the green square, well done', 'goal', 1),
    ('The episode terminated due to the time limit.', 'timeout', -1),
    ('ran the clock out, again', 'timeout', -1),
    ('why the scenic route? just go straight', 'detour', -1),
    ('you took a massive detour there', 'detour', -1),
    ('toggling empty space is a wasted action', 'wasted', -1),
    ('what was the point of pressing done?', 'wasted', -1),
    ('flawless, 10/10', 'episode', 1),
    ('a total mess from beginning to end', 'episode', -1),
    ('meh, could have been much better', 'episode', -1),
    ('I have no complaints about that run', 'episode', 1),
    ('not good at all', 'episode', -1),
]


# Written 2026-12-02 (session 9) by a helper shown none of the project's files (banks, tests, code): 80 remarks
# "as different real people would type them"; measured once on two checkpoints before it was added here.
HUMAN_STYLE_REMARKS_3 = [tuple(x) for x in json.loads((Path(__file__).parent / "data" / "human_style_remarks_3.json").read_text())]


@pytest.fixture(scope="module")
def moment_runs():
    """moment → (a trajectory where it happens, its steps): the runs the remark lists are read on."""
    from nlfeedback.truth.judgement import judge
    from nlfeedback.truth.moments import find_moments

    pool = []
    for name, seed in (("doorkey-5x5", 11), ("keys-distractor", 12), ("lavagap-5", 13)):
        pool += list(rollout(get_task(name), make_policy("expert", epsilon=0.2, mistakes=0.5), 40, seed=seed))
    pool += list(rollout(get_task("doorkey-5x5"), make_policy("random"), 3, seed=14))
    runs = {}
    for t in pool:
        for m in find_moments(t, judge(t)):
            runs.setdefault(m.kind, (t, m.steps))
        runs.setdefault("episode", (t, list(range(len(t)))))
    return runs


def read_moment_remarks(interp, remarks, runs):
    """How many remarks get the right sign on their moment's steps (mean target over them)."""
    from nlfeedback.metrics.interpretation import mean_target

    items = [(human(runs[m][0], text, f"r{i}"), runs[m][0]) for i, (text, m, _) in enumerate(remarks)]
    right = 0
    for (text, moment, polarity), t in zip(remarks, interpret_many(interp, items)):
        m = mean_target(t, runs[moment][1])
        right += m is not None and np.sign(m) == polarity
    return right


@pytest.mark.parametrize("remarks, min_right", [  # measured 2026-12-04: 71/80, 34/40, 34/40 (step-level reader);
    # 64/80 on the first with the checkpoint trained with the negation pairs (sha256 151339f1); the thresholds hold for ca50510e
    (HUMAN_STYLE_REMARKS_3, 62), (HUMAN_STYLE_REMARKS, 32), (HUMAN_STYLE_REMARKS_2, 32),
])
@pytest.mark.slow  # starts processes, a browser or the trained reader, or fuzzes: seconds, not ms
def test_trained_reads_human_style_remarks(trained, moment_runs, remarks, min_right):
    """Spent regression sets (their errors were read for the previous reader): each remark, read on a run
    where its moment happens, gets the right sign on that moment's steps for most of them."""
    assert read_moment_remarks(trained, remarks, moment_runs) >= min_right


@pytest.mark.parametrize("split", ["heldout", "human"])
def test_training_refuses_phrasings_kept_for_measurement(split):
    from nlfeedback.errors import NlfError
    from nlfeedback.language.train_interpreter import train_interpreter

    trajs = list(rollout(get_task("doorkey-5x5"), make_policy("expert", epsilon=0.2, mistakes=0.3), 5, seed=3))
    items = list(critique(trajs, "text", budget=30, seed=1, split="train"))
    items += list(critique(trajs, "text", budget=3, seed=2, split=split))
    with pytest.raises(NlfError, match=f"found 3 {split} items"):
        train_interpreter(items, {t.id: t for t in trajs})
