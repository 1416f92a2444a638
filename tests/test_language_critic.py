"""The scripted language critic: intents point at real steps, texts name what they are about, splits stay apart."""

from __future__ import annotations

import re
from collections import Counter

import pytest

from nlfeedback.critics import CritiqueStats, TeacherNoise, critique
from nlfeedback.critics.phrasebank import load_phrasebank, voices
from nlfeedback.envs import get_task
from nlfeedback.policies import make_policy
from nlfeedback.rollout import rollout

TRAIN_WORDS = {
    "lava": ["lava"], "wall": ["wall"], "turning": ["spin", "turning", "circles", "turn"], "key": ["key"],
    "door": ["door"], "goal": ["goal"], "actions": ["pointless", "useless", "nothing", "wasted", "done"],
    "path": ["detour", "wander", "away", "long way", "roundabout"], "time": ["time", "slow", "forever", "long"],
}
HELDOUT_EXTRA = {
    "lava": ["orange", "fire", "burning", "hot"], "wall": ["boundary", "edge"],
    "turning": ["twirl", "rotating", "round and round"], "door": ["gate"],
    "goal": ["green square", "green tile", "finish", "exit"],
    "actions": ["idle", "dawdl"], "path": ["lost", "off course", "dawdl"], "time": ["ages", "clock", "dawdl", "idle"],
}


@pytest.fixture(scope="module")
def trajs():
    out = []
    for name, seed in (("doorkey-5x5", 1), ("keys-distractor", 2), ("lavagap-5", 3), ("lavacrossing-9", 4)):
        out += list(rollout(get_task(name), make_policy("expert", epsilon=0.15, mistakes=0.35), 25, seed=seed))
        out += list(rollout(get_task(name), make_policy("expert"), 5, seed=seed + 10))
    return out


def names_referent(text: str, referent: str, split: str) -> bool:
    referent = referent.split()[-1]  # "yellow key" → key
    words = TRAIN_WORDS[referent] + (HELDOUT_EXTRA.get(referent, []) if split == "heldout" else [])
    low = text.lower()
    return any(w in low for w in words)


@pytest.mark.parametrize("split", ["train", "heldout"])
def test_intents_reference_valid_steps_and_texts_name_their_referent(trajs, split):
    by_id = {t.id: t for t in trajs}
    items = list(critique(trajs, "text", budget=600, seed=1, split=split))
    assert len(items) == 600
    for f in items:
        T = len(by_id[f.trajectory_id])
        assert f.intent.split == split and f.intent.template.startswith(f"{split}/")
        for c in f.intent.clauses:
            assert c.steps and all(0 <= s < T for s in c.steps)
            if c.referent:
                assert names_referent(f.text, c.referent, split), (f.text, c.referent, f.intent.template)
            if c.scope == "general":
                assert c.pattern


def test_train_never_emits_heldout_templates_and_vice_versa(trajs):
    train_texts = {t.text for t in load_phrasebank("train").templates}
    heldout_texts = {t.text for t in load_phrasebank("heldout").templates}
    assert not train_texts & heldout_texts
    assert len(train_texts) >= 300 and len(heldout_texts) >= 100
    for split, other in (("train", "heldout"), ("heldout", "train")):
        for f in critique(trajs, "text", budget=400, seed=2, split=split):
            ids = re.findall(r"(train|heldout)/", f.intent.template)
            assert ids and set(ids) == {split}, f.intent.template


def test_the_human_split_writes_each_remark_in_one_voice(trajs):
    by_id = {t.id: t for t in trajs}
    items = list(critique(trajs, "text", budget=600, seed=4, split="human"))
    assert len(items) == 600
    spoken = Counter()
    for f in items:
        T = len(by_id[f.trajectory_id])
        assert f.intent.split == "human"
        said = set(re.findall(r"human/([a-z]+)/", f.intent.template))
        assert len(said) == 1, f.intent.template  # a mixed remark's clauses and connector: one writer
        spoken[said.pop()] += 1
        assert all(c.steps and all(0 <= s < T for s in c.steps) for c in f.intent.clauses)
    assert set(spoken) == set(voices("human"))
    assert set(f.intent.type for f in items) == {"evaluative", "imperative", "descriptive", "vague", "mixed"}


def test_every_category_and_type_is_produced(trajs):
    items = list(critique(trajs, "text", budget=800, seed=3))
    cats = Counter(c for f in items for c in f.intent.categories)
    for c in ("evaluative", "imperative", "descriptive", "negation", "double_negation", "temporal", "referent",
              "mixed", "vague"):
        assert cats[c] > 0, cats
    general = [c for f in items for c in f.intent.clauses if c.scope == "general"]
    assert general and all(c.pattern for c in general)


def test_temporal_step_numbers_point_at_the_intended_step(trajs):
    items = list(critique(trajs, "text", budget=800, seed=4))
    checked = 0
    for f in items:
        if "temporal" not in f.intent.categories:
            continue
        for n in re.findall(r"\b(\d+)\b", f.text):
            steps = {s for c in f.intent.clauses for s in c.steps}
            if int(n) - 1 in steps:
                checked += 1
                break
    assert checked > 5


def test_general_rules_cover_every_matching_step(trajs):
    by_id = {t.id: t for t in trajs}
    for f in critique(trajs, "text", budget=800, seed=5):
        for c in f.intent.clauses:
            if c.scope == "general":
                t = by_id[f.trajectory_id]
                if c.pattern == "spin":
                    turns = [i for i, a in enumerate(t.actions) if a in (0, 1)]
                    assert set(c.steps) <= set(turns) and len(c.steps) >= 3
                elif c.pattern == "wasted":
                    assert all(t.captions[s].startswith(("did nothing", "toggled nothing", "tried to pick up",
                                                          "had nothing", "could not drop")) for s in c.steps)
                else:
                    matching = [i for i, ev in enumerate(t.events) if any(e.startswith(c.pattern) for e in ev)]
                    assert c.steps == matching, (c, f.text)


def test_mixed_remarks_have_praise_and_criticism(trajs):
    mixed = [f for f in critique(trajs, "text", budget=400, seed=6) if f.intent.type == "mixed"]
    assert mixed
    for f in mixed:
        assert sorted(c.polarity for c in f.intent.clauses) == [-1, 1]


def test_keys_distractor_names_colours(trajs):
    kd = [t for t in trajs if t.env_id.startswith("NLF-KeysDistractor")]
    items = list(critique(kd, "text", budget=300, seed=7))
    wrong = [f for f in items if any(c.moment == "wrong_key" for c in f.intent.clauses)]
    assert wrong
    colours = ("red", "green", "blue", "purple", "yellow", "grey")
    assert any(sum(c in f.text for c in colours) >= 1 for f in wrong)


def test_text_noise_wrong_referent_and_vague(trajs):
    stats = CritiqueStats()
    items = list(critique(trajs, "text", budget=400, seed=8, noise=TeacherNoise(wrong_referent=1.0), stats=stats))
    swapped = [f for f in items if "wrong_referent" in f.intent.noise]
    assert len(swapped) > 50
    for f in swapped:
        c = f.intent.clauses[0]
        assert f.intent.said_referent and f.intent.said_referent != c.referent
    vague = list(critique(trajs, "text", budget=200, seed=9, noise=TeacherNoise(vague=1.0)))
    assert all(f.intent.type == "vague" and "vague" in f.intent.noise for f in vague)


def test_mistakes_judge_the_episode_the_wrong_way(trajs):
    by_id = {t.id: t for t in trajs}
    items = list(critique(trajs, "text", budget=100, seed=10, noise=TeacherNoise(mistake=1.0)))
    for f in items:
        t = by_id[f.trajectory_id]
        c = f.intent.clauses[0]
        if t.success and len(t) <= 12:
            assert c.polarity == -1
        if any("entered:lava" in e for e in t.events):
            assert c.polarity == 1


def test_one_critic_serves_several_threads(trajs):
    """A voiced critic keeps no per-remark state (the voice is chosen per remark and passed down), so one
    instance shared by threads writes exactly what it writes alone."""
    from concurrent.futures import ThreadPoolExecutor

    import numpy as np

    from nlfeedback.critics.language import LanguageCritic

    critic = LanguageCritic("human")
    before = dict(vars(critic))
    alone = [critic.remark(t, np.random.default_rng(i)) for i, t in enumerate(trajs)]
    assert vars(critic) == before
    with ThreadPoolExecutor(4) as pool:
        for _ in range(3):
            shared = list(pool.map(lambda it: critic.remark(it[1], np.random.default_rng(it[0])), enumerate(trajs)))
            assert [repr(r) for r in shared] == [repr(r) for r in alone]
    assert len({r.text for r in alone if r is not None}) > 1
