"""The scripted language critic: decides an intent from a trajectory's moments, then renders it.

Per trajectory it chooses one remark (weights in :data:`FORMS`):

* ``moment`` — about one moment (weighted by how much it mattered): a correction or imperative
  ("don't walk into the lava"), an evaluation ("nice, you got the yellow key"), a general rule
  ("lava is deadly", scope ``general``), often with a temporal reference ("at step 7", "right after you
  picked up the key") that restricts the remark to the occurrences it names;
* ``episode`` — an evaluation of the whole episode ("nice, that was quick"), all steps;
* ``mixed`` — praise of a good moment and criticism of a bad one in one remark;
* ``vague`` — "meh", "okay I guess": weak, about everything.

The intent records the clauses the text means (steps, polarity, strength, referent), the template id
and the phrasing split, the categories (evaluative, imperative, descriptive, negation, double_negation,
temporal, referent, mixed, vague) and the noise applied.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from minigrid.core.constants import COLOR_NAMES

from nlfeedback.critics.noise import TeacherNoise
from nlfeedback.critics.phrasebank import PhraseBank, Template, load_voices, render
from nlfeedback.feedback.schema import Clause, TextIntent
from nlfeedback.trajectory import Trajectory
from nlfeedback.truth.judgement import judge
from nlfeedback.truth.moments import REFERENTS, Moment, episode_quality, find_moments, pattern_steps
from nlfeedback.truth.temporal import TimeRef, time_refs

FORMS = {"moment": 0.6, "episode": 0.17, "mixed": 0.15, "vague": 0.08}
TEMPORAL_SHARE = 0.35  # chance of a temporal phrasing when one is possible
DOUBLE_NEGATION_STRENGTH = 0.5
VAGUE_STRENGTH = 0.3


@dataclass(frozen=True)
class Remark:
    text: str
    intent: TextIntent


def _sigmoid(x: float) -> float:
    return 1.0 / (1.0 + math.exp(-x))


def _categories(t: Template, temporal: bool) -> list[str]:
    cats = [t.type]
    if t.negation:
        cats.append("negation")
    if t.double_negation:
        cats.append("double_negation")
    if temporal:
        cats.append("temporal")
    if t.has_color:
        cats.append("referent")
    return cats


def _strength(t: Template) -> float:
    if t.type == "vague":
        return VAGUE_STRENGTH
    if t.double_negation:
        return DOUBLE_NEGATION_STRENGTH
    return 1.0


def render_with_spans(connector: str, slots: dict[str, str], parts: dict[str, str]) -> tuple[str, dict[str, list[int]]]:
    """Render a mixed connector and return where each part (``pos``/``neg``) landed in the text."""
    marked = {k: f"\x00{k}\x00" for k in parts}
    raw = render(connector, {**slots, **marked})
    spans: dict[str, list[int]] = {}
    out = ""
    i = 0
    while i < len(raw):
        if raw[i] == "\x00":
            j = raw.index("\x00", i + 1)
            key = raw[i + 1:j]
            spans[key] = [len(out), len(out) + len(parts[key])]
            out += parts[key]
            i = j + 1
        else:
            out += raw[i]
            i += 1
    return out, spans


def _strip_clause(text: str) -> str:
    text = text.strip().rstrip(".!?;,")
    return text[:1].lower() + text[1:] if text[:2] != "I " else text


class LanguageCritic:
    """Free-text feedback from a phrase-bank split, with teacher and text noise."""

    kind = "text"

    def __init__(self, split: str = "train", noise: TeacherNoise | None = None) -> None:
        self.split = split
        self.banks: tuple[PhraseBank, ...] = load_voices(split)
        self.noise = noise or TeacherNoise()

    # --- slots --------------------------------------------------------------------------------
    @staticmethod
    def _slots(colors: dict[str, str]) -> dict[str, str]:
        slots: dict[str, str] = {}
        if colors.get("key_color"):
            c = colors["key_color"]
            slots.update(key=f"the {c} key", door=f"the {c} door", key_color=c)
        if colors.get("wrong_color"):
            slots["wrong_key"] = f"the {colors['wrong_color']} key"
        return slots

    @staticmethod
    def _fill_when(bank: PhraseBank, ref: TimeRef, slots: dict[str, str], rng: np.random.Generator) -> str:
        filler = bank.when[ref.kind][int(rng.integers(len(bank.when[ref.kind])))]
        values = dict(slots)
        if ref.n is not None:
            values["n"] = str(ref.n)
        if ref.anchor is not None:
            anchors = bank.anchor[ref.anchor]
            values["anchor"] = render(anchors[int(rng.integers(len(anchors)))], values)
        return render(filler, values)

    # --- choosing -----------------------------------------------------------------------------
    @staticmethod
    def _pick(items: list, rng: np.random.Generator, weights: list[float] | None = None):
        if weights is None:
            return items[int(rng.integers(len(items)))]
        w = np.asarray(weights, dtype=float)
        return items[int(rng.choice(len(items), p=w / w.sum()))]

    def _pick_template(self, candidates: list[Template], rng: np.random.Generator) -> Template:
        """Uniform over groups, then over the group's texts, so every phrasing type gets its share."""
        groups = sorted({t.group for t in candidates})
        group = self._pick(groups, rng)
        return self._pick([t for t in candidates if t.group == group], rng)

    def _moment_weights(self, moments: list[Moment], T: int) -> list[float]:
        gamma = self.noise.gamma
        weights = []
        for m in moments:
            w = 1.0 + 0.5 * (len(m.occurrences) > 1)
            if gamma < 1.0:
                w *= gamma ** (T - 1 - max(m.steps))
            weights.append(max(w, 1e-12))
        return weights

    def remark(self, traj: Trajectory, rng: np.random.Generator) -> Remark | None:
        """One remark about ``traj`` (``None``: the critic skipped it). A voiced split (``human``) first picks
        the voice the whole remark is written in (passed down, so one critic can serve several threads)."""
        bank = self.banks[int(rng.integers(len(self.banks)))] if len(self.banks) > 1 else self.banks[0]
        noise = self.noise
        j = judge(traj)
        moments = find_moments(traj, j)
        quality = episode_quality(traj, j)
        T = len(traj)
        sign = 1 if quality > 0 else -1
        colors = moments[0].color_map if moments else {}
        if j.door_color:
            colors = {"key_color": j.door_color, **{k: v for k, v in colors.items() if k == "wrong_color"}}
        slots = self._slots(colors)

        if noise.skip and rng.random() < noise.skip:
            return None
        if noise.equal and rng.random() < noise.equal:
            return self._vague(bank, 0, T, slots, rng, ["equal"])
        if noise.mistake and rng.random() < noise.mistake:
            return self._episode(bank, -sign, 1.0, T, slots, rng, ["mistake"])
        if noise.stochastic and rng.random() < _sigmoid(-noise.stochastic * abs(quality)):
            return self._episode(bank, -sign, 1.0, T, slots, rng, ["stochastic"])
        if noise.vague and rng.random() < noise.vague:
            return self._vague(bank, sign, T, slots, rng, ["vague"])

        forms = dict(FORMS)
        good = [m for m in moments if m.polarity > 0]
        bad = [m for m in moments if m.polarity < 0 and m.kind != "timeout"]
        if not moments:
            forms.pop("moment")
        if not (good and bad):
            forms.pop("mixed")
        form = self._pick(list(forms), rng, list(forms.values()))
        if form == "episode":
            return self._episode(bank, sign, max(0.3, abs(quality)), T, slots, rng, [])
        if form == "vague":
            return self._vague(bank, sign, T, slots, rng, [])
        if form == "mixed":
            return self._mixed(bank, good, bad, T, slots, rng)
        moment = self._pick(moments, rng, self._moment_weights(moments, T))
        return self._about_moment(bank, moment, moments, traj, j, slots, rng)

    # --- rendering ----------------------------------------------------------------------------
    def _episode(self, bank: PhraseBank, polarity: int, strength: float, T: int, slots: dict[str, str],
                 rng: np.random.Generator, noise: list[str]) -> Remark:
        candidates = bank.select(moment="episode", polarity=polarity, temporal=False, needs=set(slots))
        t = self._pick_template(candidates, rng)
        text = render(t.text, slots)
        clause = Clause(steps=list(range(T)), polarity=polarity, strength=round(min(strength, _strength(t)), 3),
                        referent=None, moment="episode", span=[0, len(text)])
        intent = TextIntent(type=t.type, categories=_categories(t, False), clauses=[clause], template=t.id,
                            split=self.split, noise=noise)
        return Remark(text, intent)

    def _vague(self, bank: PhraseBank, polarity: int, T: int, slots: dict[str, str], rng: np.random.Generator,
               noise: list[str]) -> Remark:
        candidates = bank.select(moment="vague", polarity=polarity, temporal=False, needs=set(slots))
        t = self._pick_template(candidates, rng)
        text = render(t.text, slots)
        clauses = [] if polarity == 0 else [
            Clause(steps=list(range(T)), polarity=polarity, strength=VAGUE_STRENGTH, moment="vague",
                   span=[0, len(text)])]
        cats = ["vague"] + (["negation"] if t.negation else [])
        intent = TextIntent(type="vague", categories=cats, clauses=clauses, template=t.id, split=self.split,
                            noise=noise)
        return Remark(text, intent)

    def _about_moment(self, bank: PhraseBank, moment: Moment, moments: list[Moment], traj: Trajectory, j,
                      slots: dict[str, str], rng: np.random.Generator) -> Remark:
        T = len(traj)
        fillable = set(slots)
        base = bank.select(moment=moment.kind, polarity=moment.polarity, needs=fillable)
        if moment.pattern is None:
            base = [t for t in base if t.scope != "general"]
        anchors = {}
        for m in moments:
            if m.kind == "key_pickup":
                anchors["picked_up"] = m.occurrences[0][0]
            elif m.kind == "door_open":
                anchors["unlocked"] = m.occurrences[0][0]
        refs = time_refs(moment, T, anchors)
        temporal_ok = [t for t in base if t.temporal]
        plain = [t for t in base if not t.temporal]
        use_time = bool(refs and temporal_ok) and (not plain or rng.random() < TEMPORAL_SHARE)
        t = self._pick_template(temporal_ok if use_time else plain, rng)
        steps = list(moment.steps)
        text_slots = dict(slots)
        if use_time:
            ref = self._pick(refs, rng)
            steps = sorted(ref.steps)
            text_slots["when"] = self._fill_when(bank, ref, slots, rng)
        noise: list[str] = []
        said = None
        if self.noise.wrong_referent and rng.random() < self.noise.wrong_referent:
            swapped = self._wrong_referent(bank, t, moment, text_slots, rng)
            if swapped is not None:
                t, text_slots, said = swapped
                noise.append("wrong_referent")
        scope = t.scope if moment.pattern else "episode"
        if scope == "general":
            steps = pattern_steps(moment.pattern, traj, j)
        text = render(t.text, text_slots)
        when = None
        if use_time and t.temporal and scope != "general":
            when = f"step:{ref.n}" if ref.kind == "step" else (
                f"{ref.kind}:{ref.anchor}" if ref.anchor else ref.kind)
        clause = Clause(steps=steps, polarity=moment.polarity, strength=_strength(t), referent=moment.referent,
                        moment=moment.kind, scope=scope, pattern=moment.pattern if scope == "general" else None,
                        when=when, span=[0, len(text)])
        intent = TextIntent(type=t.type, categories=_categories(t, use_time and t.temporal), clauses=[clause],
                            template=t.id, split=self.split, noise=noise, said_referent=said)
        return Remark(text, intent)

    def _wrong_referent(self, bank: PhraseBank, t: Template, moment: Moment, slots: dict[str, str],
                        rng: np.random.Generator):
        """Name a wrong colour (templates with colour slots) or another moment's object."""
        if t.has_color and "key_color" in slots:
            right = slots["key_color"]
            wrong = slots.get("wrong_key", "").removeprefix("the ").removesuffix(" key")
            if not wrong:
                wrong = self._pick([c for c in COLOR_NAMES if c != right], rng)
            new = dict(slots)
            new.update(key=f"the {wrong} key", door=f"the {wrong} door", key_color=wrong,
                       wrong_key=f"the {right} key")
            ref_color, _, obj = moment.referent.partition(" ")
            said_color = {right: wrong, wrong: right}.get(ref_color, wrong)
            return t, new, f"{said_color} {obj or 'key'}"
        others = [x for x in bank.select(polarity=moment.polarity, temporal=t.temporal, scope="episode",
                                         types=("imperative", "evaluative"), needs=set(slots))
                  if x.moment not in (moment.kind, "episode", "vague", "mixed")
                  and REFERENTS.get(x.moment) != moment.referent.split()[-1]]
        if not others:
            return None
        other = self._pick_template(others, rng)
        return other, slots, REFERENTS.get(other.moment, other.moment)

    def _mixed(self, bank: PhraseBank, good: list[Moment], bad: list[Moment], T: int, slots: dict[str, str],
               rng: np.random.Generator) -> Remark:
        pos_m, neg_m = self._pick(good, rng), self._pick(bad, rng)
        parts = []
        for m in (pos_m, neg_m):
            cands = bank.select(moment=m.kind, polarity=m.polarity, temporal=False, scope="episode",
                                types=("evaluative", "imperative"), needs=set(slots))
            parts.append(self._pick_template(cands, rng))
        connector = self._pick_template(bank.select(moment="mixed", needs=set(slots) | {"pos", "neg"}), rng)
        pos_t, neg_t = parts
        pos_text, neg_text = _strip_clause(render(pos_t.text, slots)), _strip_clause(render(neg_t.text, slots))
        text, spans = render_with_spans(connector.text, slots, {"pos": pos_text, "neg": neg_text})
        clauses = [Clause(steps=list(m.steps), polarity=m.polarity, strength=_strength(t), referent=m.referent,
                          moment=m.kind, span=spans[key])
                   for m, t, key in ((pos_m, pos_t, "pos"), (neg_m, neg_t, "neg"))]
        cats = ["mixed"] + sorted({c for t in parts for c in _categories(t, False)} - {"mixed"})
        intent = TextIntent(type="mixed", categories=cats, clauses=clauses,
                            template=f"{connector.id}({pos_t.id}+{neg_t.id})", split=self.split)
        return Remark(text, intent)
