"""``trained``: a small learned reader over frozen MiniLM embeddings.

Each remark is cut into clause fragments (:mod:`nlfeedback.language.fragments`). For every fragment the
model sees its contextual embedding (mean of its tokens from one encoder pass over the whole remark,
read with its verb negators taken out), the whole remark's embedding, surface cues, whether it names a
thing or action of the world (:mod:`nlfeedback.language.world_words`) and similarities to
short descriptions of each moment, and predicts five things: the moment it is
about (lava, wall bumps, spinning, the right or wrong key, the door, the goal, pointless actions,
detours, timeout, the whole episode, a vague remark, or nothing), its polarity (−1, 0, +1), a temporal
reference (none, step N, start, middle, end, after, before), the anchor of after/before (key picked up,
door unlocked) and whether it is a general rule. Grounding (:mod:`nlfeedback.language.grounding`) turns
that into steps; an explicit step number in the fragment is read by a regex. A remark is about its
trajectory: if the likeliest moment does not occur there, the likeliest one that does is read instead
(if the model gives it at least ``ALTERNATIVE_MIN``), and failing that caption similarity picks the
steps. Two rules read after the model: an
anaphor ("dont. just dont") takes the moment of the fragment before it (:mod:`nlfeedback.language.anaphora`),
and a denied complaint that names nothing is about the whole run (:mod:`nlfeedback.language.whole_run`).

It is trained on critic feedback of the ``train`` phrasing split, with two augmentations: every remark a
simple rule can negate is added negated with the opposite polarity (so negation is learned rather than
inferred from the moment), and gibberish / off-topic text is added as "nothing" (so it abstains).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from nlfeedback.checkpoints import load_checkpoint
from nlfeedback.critics.moments import REFERENTS
from nlfeedback.data import data_dir
from nlfeedback.errors import NlfError
from nlfeedback.feedback.schema import Clause, TextFeedback
from nlfeedback.language.anaphora import resolve_anaphors
from nlfeedback.language.encoder import DIM, shared_encoder
from nlfeedback.language.fragments import fragment_spans
from nlfeedback.language.grounding import Parse, ground, key_color, step_number
from nlfeedback.language.mood import N_MOOD, mood_features
from nlfeedback.language.negation import affirmative, clause_negation_sign, clause_negator_spans
from nlfeedback.language.sentiment import N_SENTIMENT, sentiment_features
from nlfeedback.language.targets import Reading
from nlfeedback.language.whole_run import judges_whole_run
from nlfeedback.language.world_words import names_world
from nlfeedback.trajectory import Trajectory

MOMENTS = [*REFERENTS, "episode", "vague", "none"]
POLARITIES = [-1, 0, 1]
WHENS = ["none", "step", "start", "middle", "end", "after", "before"]
ANCHORS = ["none", "picked_up", "unlocked"]
SCOPES = ["episode", "general"]
# "valence": does the fragment, read without its grammatical negators, endorse (+1) or condemn (−1) what
# it is about? Polarity = valence × (−1)^(number of negators): negation is counted, not guessed.
HEADS = {"moment": MOMENTS, "valence": POLARITIES, "when": WHENS, "anchor": ANCHORS, "scope": SCOPES}
CHECKPOINT_FORMAT = "nlf.interpreter/1"
DEFAULT_CHECKPOINT = "models/interpreter-trained.pt"
VAGUE_STRENGTH = 0.3
CAPTION_MATCH = 0.35
# The least probability a moment that does occur in the trajectory needs to be read in place of the
# likeliest moment, which does not (see _ground_likeliest).
ALTERNATIVE_MIN = 1e-3
# How much less a second-choice reading is trusted: an alternative moment, or steps found by caption match.
SECOND_CHOICE = 0.8
_LETTER = re.compile(r"[A-Za-z]")


def default_checkpoint() -> Path:
    return data_dir() / DEFAULT_CHECKPOINT


@dataclass
class TrainConfig:
    hidden: int = 256
    dropout: float = 0.3
    input_noise: float = 0.02  # std of Gaussian noise added to the embedding inputs while training
    embed_dropout: float = 0.25  # share of training examples whose two embeddings are zeroed (cues only; 0 before session 10)
    wide: bool = True  # heads also see the scalar cues directly (see build_model)
    affirmative: bool = True  # the encoder reads the text without its verb negators (see span_request)
    world_words: bool = True  # one more cue: does the fragment name a thing or action of the world (world_words.py)
    epochs: int = 40
    members: int = 1  # ensemble size (members differ in seed; their probabilities are averaged)
    batch_size: int = 256
    lr: float = 1e-3
    weight_decay: float = 1e-4
    seed: int = 0
    val_fraction: float = 0.1


# Domain knowledge the features compare fragments with: one or two plain descriptions per moment (from
# MiniGrid's missions and our captions) and generic good / bad evaluations. Similarities to these give
# the model cues that carry over to wordings it was not trained on.
DESCRIPTIONS: dict[str, list[str]] = {
    "lava": ["stepped into the lava", "avoid the lava"],
    "wall_bump": ["bumped into the wall", "walked into a wall"],
    "spin": ["turned around in circles on the spot", "kept turning left and right in place"],
    "drop_key": ["dropped the key", "put the key down on the floor"],
    "wrong_key": ["picked up the key of the wrong colour", "took a key that does not open the door"],
    "locked_door": ["tried the locked door without the key"],
    "wasted": ["pressed a button that did nothing", "tried to pick up nothing"],
    "detour": ["walked away from where it needed to go", "took the long way round"],
    "timeout": ["ran out of time", "took far too long"],
    "key_pickup": ["picked up the key", "use the key to open the door"],
    "door_open": ["unlocked and opened the door", "opened the door"],
    "goal": ["reached the green goal", "get to the green goal square"],
    "episode": ["that whole run", "the episode overall"],
}
EVALUATIONS = {1: ["good job", "well done", "that was great", "nice work"],
               -1: ["that was bad", "terrible", "that was a mistake", "poor work"]}
N_CUES = len(DESCRIPTIONS) + 1


class Cues:
    """Similarities of fragments to each moment's descriptions, and their good-minus-bad evaluation margin."""

    def __init__(self) -> None:
        enc = shared_encoder()
        texts = [t for v in DESCRIPTIONS.values() for t in v]
        self.owner = np.repeat(np.arange(len(DESCRIPTIONS)), [len(v) for v in DESCRIPTIONS.values()])
        self.desc = enc.encode(texts)
        self.good = enc.encode(EVALUATIONS[1])
        self.bad = enc.encode(EVALUATIONS[-1])

    def batch(self, frags: np.ndarray) -> np.ndarray:
        """``(N, 384)`` fragment vectors → ``(N, N_CUES)``."""
        sims = frags @ self.desc.T
        per_moment = np.full((len(frags), len(DESCRIPTIONS)), -1.0, dtype=np.float32)
        for k in range(len(DESCRIPTIONS)):
            per_moment[:, k] = sims[:, self.owner == k].max(axis=1)
        margin = (frags @ self.good.T).max(axis=1) - (frags @ self.bad.T).max(axis=1)
        return np.concatenate([per_moment, 4.0 * margin[:, None]], axis=1).astype(np.float32)


_CUES: Cues | None = None


def cues_batch(frags: np.ndarray) -> np.ndarray:
    global _CUES
    if _CUES is None:
        _CUES = Cues()
    return _CUES.batch(frags)


def surface_features(text: str) -> list[float]:
    """Negation-free surface cues: a step number (digits or "step seven"), a question, an exclamation
    (the lexicon sentiment and the mood cues follow them in the model input, :func:`features_batch`)."""
    return [1.0 if any(c.isdigit() for c in text) or step_number(text) is not None else 0.0, 1.0 if "?" in text else 0.0, 1.0 if "!" in text else 0.0]


N_SURFACE = 3 + N_SENTIMENT + N_MOOD  # surface cues, the fragment's lexicon sentiment and its mood cues


def features_batch(sents: np.ndarray, frags: np.ndarray, texts: Sequence[str], world: bool = False) -> np.ndarray:
    """Model input for fragments: ``(N, 384)`` fragment and remark vectors and the fragments' texts.

    Every part leaves negators out (the remark and fragment vectors come from the text without its verb
    negators, see :func:`span_request`; the lexicon
    sentiment is read without them, the imperative cue skips them; no negation counts), so a remark and
    its negation look alike to the model and the negation is applied afterwards, by counting. ``world``:
    one more cue after the mood cues, 1 if the fragment names a thing or action of the world
    (:func:`~nlfeedback.language.world_words.names_world`), for checkpoints trained with it."""
    surface = np.asarray([surface_features(t) + sentiment_features(t) + mood_features(t) for t in texts],
                         dtype=np.float32).reshape(len(texts), N_SURFACE)
    parts = [frags, sents, surface]
    if world:
        parts.append(np.asarray([[1.0 if names_world(t) else 0.0] for t in texts], dtype=np.float32).reshape(len(texts), 1))
    return np.concatenate([*parts, cues_batch(frags)], axis=1).astype(np.float32)


def span_request(text: str, spans: list[tuple[int, int]], affirm: bool = True
                 ) -> tuple[tuple[str, list[tuple[int, int]]], list[tuple[int, int]]]:
    """Encoder request for a remark: the whole text and each fragment, read without verb negators.

    The encoder gets :func:`~nlfeedback.language.negation.affirmative` of the text (negators taken out,
    "didn't" → "did"), so a remark and its negation are the same words to it; the negators are counted
    apart (:func:`clause_negation_sign`). A fragment that is nothing but negators ("don't!") keeps them,
    pooled out of the original text. ``affirm=False``: checkpoints trained before that (the original
    text, negator tokens left out of the means only)."""
    plain, where = affirmative(text)
    moved = [(where[a], where[b]) for a, b in spans]
    if affirm and all(_LETTER.search(plain[a:b]) for a, b in moved):
        return (plain, [(0, len(plain)), *moved]), []
    return (text, [(0, len(text)), *spans]), clause_negator_spans(text)


def build_model(hidden: int, dropout: float, wide: bool = False, world: bool = False):
    """The clause model: an MLP trunk over all features and one linear head per output.

    ``wide``: the heads also see the scalar features (surface, sentiment and mood cues, similarities)
    directly, beside the trunk's output, so a cue that carries over to new wordings (a sentiment word,
    an instruction) is not drowned by 768 embedding dimensions on its way through the trunk."""
    import torch
    from torch import nn

    n_scalar = N_SURFACE + N_CUES + (1 if world else 0)

    class ClauseModel(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.trunk = nn.Sequential(nn.Linear(2 * DIM + n_scalar, hidden), nn.ReLU(), nn.Dropout(dropout),
                                       nn.Linear(hidden, hidden), nn.ReLU())
            width = hidden + (n_scalar if wide else 0)
            self.heads = nn.ModuleDict({k: nn.Linear(width, len(v)) for k, v in HEADS.items()})

        def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
            h = self.trunk(x)
            if wide:
                h = torch.cat([h, x[:, 2 * DIM:]], dim=1)
            return {k: head(h) for k, head in self.heads.items()}

    return ClauseModel()


def _whole_run(pred: dict[str, Any]) -> dict[str, Any]:
    """A fragment read as about some event, that only denies a complaint and names nothing ("nothing to
    moan about there", "can't fault it"), read as about the episode (:mod:`nlfeedback.language.whole_run`)."""
    if pred["moment"][0] in ("none", "episode", "vague") or not judges_whole_run(pred["text"]):
        return pred
    return {**pred, "moment": ("episode", pred["moment"][1]), "whole_run": True}


_NONE = MOMENTS.index("none")
_NEUTRAL, _NEG, _POS = POLARITIES.index(0), POLARITIES.index(-1), POLARITIES.index(1)


def _decode_moment(p: np.ndarray) -> tuple[str, float]:
    """The moment a fragment is about: "none" only if that is at least as likely as all moments together.

    On a wording it was not trained on the model spreads probability over several related moments
    (spinning / pointless actions / detours); the argmax of that spread is still the best guess, and
    the confidence that the fragment is about *something* is 1 − P(none), not the argmax share."""
    if p[_NONE] >= 0.5:
        return "none", float(p[_NONE])
    q = p.copy()
    q[_NONE] = -1.0
    return MOMENTS[int(q.argmax())], float(1.0 - p[_NONE])


def _decode_valence(p: np.ndarray) -> tuple[int, float]:
    """Valence: 0 only if that is at least as likely as ±1 together; else the likelier sign, with
    confidence P(sign) / (P(+1) + P(−1))."""
    if p[_NEUTRAL] >= 0.5:
        return 0, float(p[_NEUTRAL])
    pos, neg = float(p[_POS]), float(p[_NEG])
    return (1, pos / (pos + neg)) if pos >= neg else (-1, neg / (pos + neg))


def _alternatives(p: np.ndarray, chosen: str) -> tuple[str, ...]:
    """The other moments with probability ≥ ``ALTERNATIVE_MIN``, likeliest first ("none" excluded)."""
    order = np.argsort(-p, kind="stable")
    return tuple(MOMENTS[j] for j in order if MOMENTS[j] not in ("none", chosen) and p[j] >= ALTERNATIVE_MIN)


def _ground_likeliest(pred: dict[str, Any], traj: Trajectory) -> tuple[str, Clause, float] | None:
    """Ground the fragment's moment in ``traj``; if that moment does not occur there, the likeliest of its
    alternatives that does (feedback on a trajectory is about something in it: "go round the burning bit"
    read as a wall bump, on a run that only stepped into lava, is about the lava, the model's next guess).
    Returns (moment, clause, confidence), the confidence of an alternative discounted by ``SECOND_CHOICE``."""
    moment, pm = pred["moment"]
    polarity, pp = pred["polarity"]
    parse = Parse(moment, polarity, 1.0, pred["when"][0], pred["anchor"][0], pred["scope"][0],
                  step_number(pred["text"]), key_color(pred["text"]))
    candidates = [(moment, 1.0)]
    if not pred.get("whole_run"):
        candidates += [(m, SECOND_CHOICE) for m in pred.get("alternatives", ())]
    for m, discount in candidates:
        clause = ground(replace(parse, moment=m, strength=VAGUE_STRENGTH if m == "vague" else 1.0), traj)
        if clause is not None:
            return m, clause, pm * pp * discount
    return None


@dataclass
class TrainedInterpreter:
    model: Any
    config: dict[str, Any]
    meta: dict[str, Any] = field(default_factory=dict)
    name: str = "trained"

    @property
    def members(self) -> list[Any]:
        """The ensemble's models (``model`` is one model or a list of them)."""
        return self.model if isinstance(self.model, list) else [self.model]

    # --- persistence --------------------------------------------------------------------------
    def save(self, path: str | Path) -> None:
        import torch

        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        torch.save({"format": CHECKPOINT_FORMAT, "config": self.config, "meta": self.meta,
                    "classes": {k: list(v) for k, v in HEADS.items()},
                    "state_dicts": [m.state_dict() for m in self.members]}, path)

    @classmethod
    def load(cls, path: str | Path | None = None) -> TrainedInterpreter:
        path = Path(path) if path else default_checkpoint()
        ckpt = load_checkpoint(path, CHECKPOINT_FORMAT, "trained interpreter",
                               " (train one with `nlf train-interpreter`)")
        if ckpt["classes"] != {k: list(v) for k, v in HEADS.items()}:
            raise NlfError(f"{path}: checkpoint classes differ from this version's; retrain it")
        members = []
        try:
            for state in ckpt["state_dicts"]:
                m = build_model(ckpt["config"]["hidden"], ckpt["config"]["dropout"], ckpt["config"].get("wide", False),
                                ckpt["config"].get("world_words", False))
                m.load_state_dict(state)
                m.eval()
                members.append(m)
        except (KeyError, RuntimeError) as e:
            raise NlfError(f"{path}: checkpoint does not match this version's model ({str(e)[:200]}); retrain it") from None
        return cls(members, ckpt["config"], ckpt.get("meta", {}))

    # --- reading ------------------------------------------------------------------------------
    def predict(self, texts: Sequence[str]) -> list[list[dict[str, Any]]]:
        """Per text, per fragment: ``{"span", "text", head: (label, prob)}`` (memoised per text)."""
        cache = self.__dict__.setdefault("_memo", {})
        todo = list(dict.fromkeys(t for t in texts if t not in cache))
        if todo:
            for t, p in zip(todo, self._predict(todo)):
                cache[t] = p
            if len(cache) > 200_000:
                cache.clear()
                self._vectors().clear()
                return self.predict(texts)
        return [cache[t] for t in texts]

    def _predict(self, texts: Sequence[str]) -> list[list[dict[str, Any]]]:
        import torch

        spans = [fragment_spans(t) for t in texts]
        idx = [i for i, s in enumerate(spans) if s]
        affirm = bool(self.config.get("affirmative", False))
        requests = [span_request(texts[i], spans[i], affirm) for i in idx]
        encoded = shared_encoder().encode_spans([r for r, _ in requests], [x for _, x in requests]) if idx else []
        sents, frags, frag_texts, owners = [], [], [], []
        for i, vecs in zip(idx, encoded):
            for k, (a, b) in enumerate(spans[i]):
                sents.append(vecs[1])
                frags.append(vecs[k + 2])
                frag_texts.append(texts[i][a:b])
                owners.append((i, (a, b)))
        out: list[list[dict[str, Any]]] = [[] for _ in texts]
        vectors = self._vectors()
        if not frags:
            return out
        x = torch.from_numpy(features_batch(np.stack(sents), np.stack(frags), frag_texts,
                                            bool(self.config.get("world_words", False))))
        with torch.inference_mode():
            outs = [m(x) for m in self.members]
            probs = {k: np.mean([torch.softmax(o[k], dim=1).numpy() for o in outs], axis=0) for k in HEADS}
        for r, (i, (a, b)) in enumerate(owners):
            pred: dict[str, Any] = {"span": (a, b), "text": texts[i][a:b]}
            vectors[(texts[i], (a, b))] = frags[r]
            for head, classes in HEADS.items():
                j = int(probs[head][r].argmax())
                pred[head] = (classes[j], float(probs[head][r][j]))
            pred["moment"] = _decode_moment(probs["moment"][r])
            pred["alternatives"] = _alternatives(probs["moment"][r], pred["moment"][0])
            valence, pv = _decode_valence(probs["valence"][r])
            pred["valence"] = (valence, pv)
            pred["polarity"] = (valence * clause_negation_sign(pred["text"]), pv)
            out[i].append(pred)
        return out

    def read_many(self, items: Sequence[tuple[TextFeedback, Trajectory]]) -> list[Reading]:
        preds = self.predict([fb.text for fb, _ in items])
        readings = []
        for (fb, traj), frags in zip(items, preds):
            frags = [_whole_run(p) for p in resolve_anaphors(frags)]
            best: dict[str, tuple[Clause, float]] = {}
            fallback: list[tuple[dict[str, Any], float]] = []
            for p in frags:
                moment, pm = p["moment"]
                polarity, pp = p["polarity"]
                if moment == "none" or polarity == 0:
                    continue
                grounded = _ground_likeliest(p, traj)
                if grounded is None:
                    fallback.append((p, pm * pp))
                    continue
                moment, clause, conf = grounded
                if moment not in best or best[moment][1] < conf:
                    best[moment] = (clause, conf)
            for p, conf in fallback:
                clause = self._caption_fallback(p, self._vectors()[(fb.text, p["span"])], traj)
                if clause is not None:
                    best[f"caption:{p['span']}"] = (clause, conf * SECOND_CHOICE)
            clauses = [c for c, _ in best.values()]
            confs = [conf for _, conf in best.values()]
            readings.append(Reading(clauses, confs, max(confs) if confs else 0.0))
        return readings

    def _vectors(self) -> dict[tuple[str, tuple[int, int]], np.ndarray]:
        """Fragment vectors from the last encoding of each text, kept beside the memoised predictions."""
        return self.__dict__.setdefault("_fragment_vectors", {})

    @staticmethod
    def _caption_fallback(pred: dict[str, Any], vector: np.ndarray, traj: Trajectory) -> Clause | None:
        """Steps whose caption matches the fragment, when the predicted moment does not occur."""
        sims = shared_encoder().encode(traj.captions) @ vector
        best = float(sims.max())
        if best < CAPTION_MATCH:
            return None
        steps = [int(i) for i in np.flatnonzero(sims >= best - 0.05)]
        return Clause(steps=steps, polarity=pred["polarity"][0], strength=1.0, moment="caption")


