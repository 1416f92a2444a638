"""Encoder, interpreters and interpretation metrics, with the real MiniLM encoder."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from nlfeedback.critics import critique
from nlfeedback.envs import get_task
from nlfeedback.feedback.schema import Clause, Source, TextFeedback, TextIntent
from nlfeedback.language.encoder import Encoder
from nlfeedback.language.grounding import Parse, ground
from nlfeedback.language.interpreters import interpret, interpret_many, make_interpreter
from nlfeedback.language.negation import negate, negation_sign
from nlfeedback.metrics.interpretation import Tally, flip_failed, score
from nlfeedback.policies import make_policy
from nlfeedback.rollout import rollout
from nlfeedback.targets import Reading, Targets, rule_targets, targets_from_reading


def human(traj, text, fid="fb-h"):
    return TextFeedback(id=fid, trajectory_id=traj.id, segment=[0, len(traj)],
                        source=Source(type="human", annotator="ann"), created_at="2026-11-25T10:00:00Z",
                        annotation_seconds=3.0, text=text)


@pytest.fixture(scope="module")
def lava_traj():
    task = get_task("lavagap-5")
    for t in rollout(task, make_policy("expert", mistakes=0.3), 200, seed=5):
        if any("entered:lava" in e for e in t.events) and len(t) > 3:
            return t
    raise AssertionError("no lava episode")


@pytest.fixture(scope="module")
def bumpy_traj():
    for t in rollout(get_task("doorkey-5x5"), make_policy("expert", mistakes=0.4), 200, seed=6):
        bumps = [i for i, e in enumerate(t.events) if "bumped:wall" in e]
        if len(bumps) >= 2 and bumps[-1] - bumps[0] > 6 and t.success:
            return t
    raise AssertionError("no bumpy episode")


@pytest.fixture(scope="module")
def trained():
    return make_interpreter("trained")


# --- encoder ---------------------------------------------------------------------------------------
def test_encoder_caches_in_memory_and_on_disk(tmp_path, monkeypatch):
    monkeypatch.setenv("NLF_CACHE_DIR", str(tmp_path))
    enc = Encoder()
    a = enc.encode(["walk into the lava", "don't walk into the lava", "walk into the lava"])
    assert a.shape == (3, 384) and np.allclose(np.linalg.norm(a, axis=1), 1, atol=1e-5)
    assert enc.encoded == 2 and np.allclose(a[0], a[2])
    enc.encode(["walk into the lava"])
    assert enc.encoded == 2
    fresh = Encoder()  # same disk cache
    b = fresh.encode(["don't walk into the lava"])
    assert fresh.encoded == 0 and np.allclose(b[0], a[1])
    # the embeddings barely separate a sentence from its negation: the problem interpreters must solve
    assert float(a[0] @ a[1]) > 0.8


def test_span_embeddings_come_from_the_same_pass(tmp_path, monkeypatch):
    monkeypatch.setenv("NLF_CACHE_DIR", str(tmp_path))
    enc = Encoder()
    text = "nice job with the key, but don't bump into the wall"
    vecs = enc.encode_spans([(text, [(0, 21), (27, len(text))])])[0]
    assert vecs.shape == (3, 384)
    assert float(vecs[0] @ enc.encode([text])[0]) > 0.999
    assert enc.encoded == 2  # one pass for the spans, one for the plain sentence


# --- negation ----------------------------------------------------------------------------------------
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


def test_trained_reads_negation_of_the_same_sentence(trained, lava_traj):
    lava = [i for i, e in enumerate(lava_traj.events) if "entered:lava" in e]
    bad = interpret(trained, human(lava_traj, "don't walk into the lava"), lava_traj)
    good = interpret(trained, human(lava_traj, "walk into the lava", "fb-h2"), lava_traj)
    assert bad.weights[lava].all() and good.weights[lava].all()
    assert (bad.targets[lava] < 0).all() and (good.targets[lava] > 0).all()


# --- temporal and referents --------------------------------------------------------------------------
def test_grounding_temporal_references(bumpy_traj):
    bumps = [i for i, e in enumerate(bumpy_traj.events) if "bumped:wall" in e]
    every = ground(Parse("wall_bump", -1, 1.0), bumpy_traj)
    assert every.steps == bumps
    at = ground(Parse("wall_bump", -1, 1.0, when="step", number=bumps[-1] + 1), bumpy_traj)
    assert at.steps == [bumps[-1]]
    start = ground(Parse("wall_bump", -1, 1.0, when="start"), bumpy_traj)
    assert bumps[0] in start.steps and bumps[-1] not in start.steps or len(bumpy_traj) < 9
    assert ground(Parse("lava", -1, 1.0), bumpy_traj) is None


def test_fragments_keep_a_numbered_reference_whole():
    from nlfeedback.language.fragments import fragment_spans

    text = "that spinning at action no. 21? dont. just dont"
    assert [text[a:b] for a, b in fragment_spans(text)] == ["that spinning at action no. 21", "dont", "just dont"]
    text = "no. you hit the wall"
    assert [text[a:b] for a, b in fragment_spans(text)] == ["no", "you hit the wall"]


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


# --- rules, abstaining, oracle ---------------------------------------------------------------------------
def test_general_rule_lands_on_other_trajectories(lava_traj):
    others = [t for t in rollout(get_task("lavagap-7"), make_policy("expert", mistakes=0.4), 150, seed=8)
              if any("entered:lava" in e for e in t.events)]
    assert others
    reading = Reading([Clause(steps=[], polarity=-1, strength=1.0, moment="lava", scope="general",
                              pattern="entered:lava")], [0.9], 0.9)
    from nlfeedback.targets import rules_of

    rules = rules_of(reading)
    for other in others[:3]:
        targets, weights = rule_targets(rules, other)
        lava = [i for i, e in enumerate(other.events) if "entered:lava" in e]
        assert list(np.flatnonzero(weights)) == lava and (targets[lava] == -1).all()


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


def test_misreadings_list_exactly_what_the_metrics_count():
    from nlfeedback.language.evaluate import run_evaluation

    trajs = list(rollout(get_task("doorkey-5x5"), make_policy("expert", epsilon=0.15, mistakes=0.35), 20, seed=4))
    items = list(critique(trajs, "text", budget=80, seed=2, split="heldout"))
    by_id = {t.id: t for t in trajs}
    ev = run_evaluation(make_interpreter("keyword"), items, by_id)
    tally, misread = ev.report().overall, ev.misreadings()
    steps = lambda runs: sum(b - a + 1 for a, b in runs)  # noqa: E731
    items_ = [r for r in misread if r["problem"] == "misread"]
    probes = [r for r in misread if r["problem"] == "negation-probe"]
    assert items_ and sum(steps(r["wrong_sign_steps"]) for r in items_) == tally.sign_errors
    assert sum(steps(r["extra_steps"]) for r in items_) == tally.fp
    assert sum(steps(r["missed_steps"]) for r in items_) == tally.fn
    assert len(probes) == tally.flip_failures and all(r["negated_text"] != r["text"] for r in probes)
    worst = [steps(r["wrong_sign_steps"]) + steps(r["extra_steps"]) for r in items_]
    assert worst == sorted(worst, reverse=True)
    # the oracle reads the intents themselves: nothing is misread
    assert run_evaluation(make_interpreter("oracle-intent"), items, by_id).misreadings() == []


def test_bad_checkpoint_is_a_clear_error(tmp_path):
    from nlfeedback.errors import NlfError

    bad = tmp_path / "x.pt"
    bad.write_bytes(b"nope")
    with pytest.raises(NlfError, match="not a readable checkpoint"):
        make_interpreter("trained", checkpoint=str(bad))
    with pytest.raises(NlfError, match="no trained interpreter checkpoint"):
        make_interpreter("trained", checkpoint=str(tmp_path / "missing.pt"))


# --- metrics on hand-computed examples ------------------------------------------------------------------
def _t(targets, weights):
    return Targets("fb", "traj", "x", np.array(targets, float), np.array(weights, float), 1.0)


def test_metrics_hand_computed():
    tally = Tally()
    tally.add_item({1: -1, 2: -1}, _t([0, -1, 1, 0.5, 0], [0, 1, 1, 1, 0]))
    tally.add_item({0: 1}, _t([0, 0, 0], [0, 0, 0]))  # abstained: a sign error and a miss
    d = tally.as_dict()
    assert d["sign_error_rate"] == round(2 / 3, 4)
    # attributed {1,2,3} vs {1,2}; nothing vs {0}: tp 2, fp 1, fn 1
    assert d["attribution_precision"] == round(2 / 3, 4) and d["attribution_recall"] == round(2 / 3, 4)
    assert d["attribution_f1"] == round(2 / 3, 4)


def test_flip_failure_hand_computed():
    intended = {1: -1, 2: -1}
    assert not flip_failed(intended, _t([0, -1, -1], [0, 1, 1]), _t([0, 1, 1], [0, 1, 1]))
    assert flip_failed(intended, _t([0, -1, -1], [0, 1, 1]), _t([0, -1, -0.5], [0, 1, 1]))
    assert flip_failed(intended, _t([0, -1, -1], [0, 1, 1]), _t([0, 0, 0], [0, 0, 0]))


def test_score_breaks_down_by_category_and_split(lava_traj):
    intent = TextIntent(type="imperative", categories=["imperative", "negation"], split="heldout", template="x",
                        clauses=[Clause(steps=[0], polarity=-1, strength=1.0)])
    fb = TextFeedback(id="fb-1", trajectory_id=lava_traj.id, segment=[0, len(lava_traj)],
                      source=Source(type="critic", name="language"), created_at="2026-11-25T10:00:00Z",
                      annotation_seconds=1.0, text="don't", intent=intent)
    T = len(lava_traj)
    right = _t([-1] + [0] * (T - 1), [1] + [0] * (T - 1))
    rep = score([fb], [right]).to_json()
    assert rep["overall"]["sign_error_rate"] == 0 and rep["by_split"]["heldout"]["attribution_f1"] == 1
    assert set(rep["by_category"]) == {"imperative", "negation"}


def test_targets_from_reading_prefers_specific_clauses():
    broad = Clause(steps=[0, 1, 2, 3], polarity=1, strength=1.0, moment="episode")
    spec = Clause(steps=[2], polarity=-1, strength=1.0, moment="wall_bump")
    targets, weights = targets_from_reading(Reading([broad, spec], [1.0, 1.0], 1.0), 4)
    assert list(targets) == [1, 1, -1, 1] and list(weights) == [0.5, 0.5, 1.0, 0.5]


# --- clause splitting, spelled-out step numbers, restyling, decoding -------------------------------------
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


@pytest.mark.parametrize("text, n", [("at step seven", 7), ("the fifth move was bad", 5), ("on move number three", 3),
                                      ("at step 12", 12), ("get the key first", None), ("one more time", None)])
def test_step_numbers_in_digits_and_words(text, n):
    from nlfeedback.language.grounding import step_number

    assert step_number(text) == n


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


@pytest.mark.parametrize("remarks, min_right", [  # measured 2026-12-04 (step-level reader): 71/80, 34/40, 34/40
    (HUMAN_STYLE_REMARKS_3, 68), (HUMAN_STYLE_REMARKS, 32), (HUMAN_STYLE_REMARKS_2, 32),
])
def test_trained_reads_human_style_remarks(trained, moment_runs, remarks, min_right):
    """Spent regression sets (their errors were read for the previous reader): each remark, read on a run
    where its moment happens, gets the right sign on that moment's steps for most of them."""
    assert read_moment_remarks(trained, remarks, moment_runs) >= min_right
