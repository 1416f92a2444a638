"""``trained``: the learned step-level reader (:mod:`nlfeedback.language.reader`) as an interpreter.

For each remark and its trajectory the reader gives, per step, the probability that the remark is about
the step, that it approves of it, and how strongly. Steps with ``about`` at or above the checkpoint's
threshold (``about_threshold`` in its metadata, chosen on a development set when it was trained; else
``ABOUT``) are read; consecutive
read steps with the same sign form one clause (confidence: their mean ``about``). If the reader calls the
remark a general rule, the rule (event pattern, sign) is added for other trajectories. A remark longer
than the encoder's window is read in pieces (:func:`~nlfeedback.language.reader.split_pieces`), each step
taking the reading of the piece most sure it is about it. A remark without a letter or digit ("", "!!!???")
has no words to read and abstains without running the network. Readings are memoised per (text, trajectory).

A checkpoint may hold several networks (an **ensemble**, e.g. one recipe trained with different seeds:
:func:`~nlfeedback.language.train_interpreter.combine_readers`): every member reads the remark and, per
step, their probabilities are averaged before the threshold is applied.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from nlfeedback.errors import NlfError
from nlfeedback.feedback.schema import Clause, TextFeedback
from nlfeedback.targets import Reading
from nlfeedback.trajectory import Trajectory

DEFAULT_CHECKPOINT = "models/interpreter-trained.pt"  # package data, under nlfeedback/resources/
ABOUT = 0.5  # a step is read when the reader is at least this sure the remark is about it
GENERAL = 0.5
BATCH = 64  # rows per step-head batch
MEMO_LIMIT = 200_000  # memoised readings kept before the memo is cleared


def default_checkpoint() -> Path:
    """The shipped checkpoint, installed with the package (``nlfeedback/resources/models/``)."""
    from nlfeedback.data import resource

    return resource(*DEFAULT_CHECKPOINT.split("/"))


def default_checkpoint_digest() -> str:
    """The shipped checkpoint's digest (``versions.file_digest``): which reader a run read its remarks with."""
    from nlfeedback.versions import file_digest

    return file_digest(default_checkpoint())


def sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


class StepCache:
    """Each trajectory's step views and their frozen-encoder embeddings, computed once per trajectory (and
    per kind of view: with or without places, ``ReaderConfig.places``). For readers that match words
    (``ReaderConfig.token_match``) also each distinct step text's token states, in one table, and per
    trajectory the row of every step's text in it."""

    LIMIT = 20_000  # trajectories' views kept before the cache starts again

    def __init__(self) -> None:
        self._views: dict[tuple[str, bool], tuple[np.ndarray, np.ndarray]] = {}
        self._texts: dict[tuple[str, bool], list[str]] = {}
        self._ids: dict[tuple[str, bool], np.ndarray] = {}
        self._row: dict[str, int] = {}
        self.token_table: list[np.ndarray] = []  # (tokens, DIM) float16 per distinct step text

    def get(self, traj: Trajectory, places: bool = False) -> tuple[np.ndarray, np.ndarray]:
        key = (traj.id + traj.obs_digest, places)
        if key not in self._views:
            self.prepare([traj], places)
        return self._views[key]

    def row(self, text: str, traj: Trajectory, config: Any) -> dict[str, Any]:
        """The step side of one (remark, trajectory) input for a reader with ``config``
        (:class:`~nlfeedback.language.reader.ReaderConfig`), as :func:`~nlfeedback.language.reader.pad_steps`
        collates it."""
        from nlfeedback.language.step_text import number_features

        emb, feats = self.get(traj, config.places)
        out = {"text": text, "step_emb": emb, "step_feats": feats,
               "number_feats": number_features(text, len(emb), config.span_features)}
        if config.token_match:
            out["step_ids"] = self.token_ids(traj, config.places)
        return out

    def token_ids(self, traj: Trajectory, places: bool = False) -> np.ndarray:
        """``(T,)``: the row of :attr:`token_table` that holds each step's text."""
        key = (traj.id + traj.obs_digest, places)
        if key not in self._ids:
            self.prepare([traj], places, tokens=True)
        return self._ids[key]

    def prepare(self, trajectories: Sequence[Trajectory], places: bool = False, tokens: bool = False) -> None:
        """Compute the views of every trajectory not yet cached, encoding their step texts in one pass
        (with ``tokens``, their token states too)."""
        from nlfeedback.language.encoder import shared_encoder
        from nlfeedback.language.step_text import step_views

        todo = {(t.id + t.obs_digest, places): t for t in trajectories
                if (t.id + t.obs_digest, places) not in self._views}
        if len(self._views) + len(todo) > self.LIMIT:
            self._views.clear()
            self._texts.clear()
            self._ids.clear()
            self._row.clear()
            self.token_table = []
            todo = {(t.id + t.obs_digest, places): t for t in trajectories}
        if todo:
            views = {key: step_views(t, places) for key, t in todo.items()}
            texts = list(dict.fromkeys(text for v in views.values() for text in v.texts))
            if tokens:  # one encoder pass gives the token states and the sentence embeddings
                shared_encoder().encode_tokens([t for t in texts if t not in self._row])
            emb = dict(zip(texts, shared_encoder().encode(texts)))
            for key, v in views.items():
                self._views[key] = (np.stack([emb[text] for text in v.texts]), v.features)
                self._texts[key] = v.texts
        if not tokens:
            return
        keys = [k for k in dict.fromkeys((t.id + t.obs_digest, places) for t in trajectories) if k not in self._ids]
        new = list(dict.fromkeys(text for k in keys for text in self._texts[k] if text not in self._row))
        for text, states in zip(new, shared_encoder().encode_tokens(new)):
            self._row[text] = len(self.token_table)
            self.token_table.append(states)
        for k in keys:
            self._ids[k] = np.array([self._row[text] for text in self._texts[k]], dtype=np.int64)


class TrainedInterpreter:
    name = "trained"

    def __init__(self, model: Any, meta: dict[str, Any]) -> None:
        """``model``: one reader network, or a list of them (an ensemble whose readings are averaged)."""
        from nlfeedback.language.reader import load_tokenizer

        self.members = list(model) if isinstance(model, list | tuple) else [model]
        self.meta = meta
        self.about = float(meta.get("about_threshold", ABOUT))
        self.tokenizer = load_tokenizer()
        self.steps = StepCache()
        self._memo: dict[tuple[str, str], dict[str, np.ndarray]] = {}
        self._readings: dict[tuple[str, str], Reading] = {}

    @property
    def model(self) -> Any:
        """The first network: the only one of a trained (not combined) reader, which training fits."""
        return self.members[0]

    @classmethod
    def load(cls, path: str | Path | None = None) -> TrainedInterpreter:
        from nlfeedback.language.reader import load_readers

        p = Path(path) if path else default_checkpoint()
        if not p.is_file():
            raise NlfError(f"no trained interpreter checkpoint at {p} (train one with `nlf train-interpreter`)")
        try:
            model, meta = load_readers(str(p))
        except ValueError as e:
            raise NlfError(str(e)) from None
        return cls(model, meta)

    def set_about_threshold(self, threshold: float) -> None:
        """Read steps at or above ``threshold`` (kept in the metadata, so :meth:`save` keeps it too); readings made
        with the old one are dropped (predictions kept)."""
        self.about = float(threshold)
        self.meta["about_threshold"] = self.about
        self._readings.clear()

    def save(self, path: str | Path) -> None:
        from nlfeedback.language.reader import save_reader

        save_reader(self.members if len(self.members) > 1 else self.model, str(path), self.meta)

    # --- reading ------------------------------------------------------------------------------------
    def predict(self, items: Sequence[tuple[str, Trajectory]]) -> list[dict[str, np.ndarray]]:
        """Per (text, trajectory): ``about``, ``positive``, ``strength`` (T,) and ``rule`` (general
        probability, rule-sign probability, pattern probabilities)."""
        if len(self._memo) > MEMO_LIMIT:
            self._memo.clear()
        todo = list(dict.fromkeys((text, traj.id) for text, traj in items if (text, traj.id) not in self._memo))
        if todo:
            trajs = {traj.id: traj for _, traj in items}
            self._memo.update(self._run([(text, trajs[tid]) for text, tid in todo]))
        return [self._memo[(text, traj.id)] for text, traj in items]

    def _run(self, items: list[tuple[str, Trajectory]]) -> dict[tuple[str, str], dict[str, np.ndarray]]:
        from nlfeedback.language.reader import split_pieces

        for places, tokens in dict.fromkeys((m.config.places, bool(m.config.token_match)) for m in self.members):
            self.steps.prepare([traj for _, traj in items], places, tokens)
        pieces, owners = [], []
        for text, traj in items:
            for piece in split_pieces(text, self.tokenizer):
                pieces.append((piece, traj))
                owners.append((text, traj.id))
        # every member's per-piece probabilities, averaged over the members
        runs = [self._member_run(model, pieces) for model in self.members]
        out: dict[tuple[str, str], dict[str, np.ndarray]] = {}
        for i, key in enumerate(owners):
            pred = {k: np.mean([run[i][k] for run in runs], axis=0) for k in runs[0][i]}
            prev = out.get(key)
            if prev is not None:  # another piece of the same remark: keep, per step, the surer reading
                take = pred["about"] > prev["about"]
                for k in ("about", "positive", "strength"):
                    prev[k] = np.where(take, pred[k], prev[k])
                if pred["rule"][0] > prev["rule"][0]:
                    prev["rule"] = pred["rule"]
            else:
                out[key] = pred
        return out

    def _member_run(self, model: Any, pieces: list[tuple[str, Trajectory]]) -> list[dict[str, np.ndarray]]:
        """One network's probabilities for each (piece of a remark, trajectory)."""
        import torch

        from nlfeedback.language.reader import pad_states, pad_steps, token_states

        rows = [self.steps.row(piece, traj, model.config) for piece, traj in pieces]
        texts = list(dict.fromkeys(r["text"] for r in rows))
        outputs: dict[int, tuple[np.ndarray, np.ndarray]] = {}
        with torch.inference_mode():
            # each distinct text through the encoder once (batched by length), then the step heads in
            # batches of similar trajectory length
            states = dict(zip(texts, token_states(texts, self.tokenizer, model.encode)))
            order = sorted(range(len(rows)), key=lambda i: (len(rows[i]["step_emb"]), len(states[rows[i]["text"]])))
            for b in range(0, len(order), BATCH):
                idx = order[b:b + BATCH]
                tokens, mask = pad_states([states[rows[i]["text"]] for i in idx])
                steps = pad_steps([rows[i] for i in idx], self.steps.token_table)
                z, rule = model.head(tokens, mask, steps["step_emb"], steps["step_feats"], steps["number_feats"],
                                     steps["step_mask"], steps["step_tokens"])
                z, rule = z.numpy(), rule.numpy()
                for j, i in enumerate(idx):
                    outputs[i] = (z[j, :len(rows[i]["step_emb"])], rule[j])
        return [{"about": sigmoid(z[:, 0]), "positive": sigmoid(z[:, 1]), "strength": sigmoid(z[:, 2]),
                 "rule": np.concatenate([sigmoid(rule[:2]), _softmax(rule[2:])])}
                for z, rule in (outputs[i] for i in range(len(rows)))]

    def read_many(self, items: Sequence[tuple[TextFeedback, Trajectory]]) -> list[Reading]:
        keys = [(fb.text, traj.id) for fb, traj in items]
        todo = [(fb.text, traj) for (fb, traj), k in zip(items, keys) if k not in self._readings]
        if len(self._readings) > MEMO_LIMIT:
            self._readings.clear()
            todo = [(fb.text, traj) for fb, traj in items]
        for text, traj in todo:
            if not has_words(text):
                self._readings[(text, traj.id)] = Reading.abstain(0.0)
        todo = [(text, traj) for text, traj in todo if has_words(text)]
        for (text, traj), pred in zip(todo, self.predict(todo)):
            self._readings[(text, traj.id)] = reading_of(pred, self.about)
        return [self._readings[k] for k in keys]


def has_words(text: str) -> bool:
    """Whether ``text`` has a letter or a digit: punctuation and space alone say nothing to read."""
    return any(ch.isalnum() for ch in text)


def _softmax(x: np.ndarray) -> np.ndarray:
    e = np.exp(x - x.max())
    return e / e.sum()


def reading_of(pred: dict[str, np.ndarray], about_threshold: float = ABOUT) -> Reading:
    """Clauses from per-step predictions: runs of read steps with one sign; plus a general rule."""
    from nlfeedback.language.reader import PATTERNS

    about, positive, strength = pred["about"], pred["positive"], pred["strength"]
    clauses: list[Clause] = []
    confs: list[float] = []
    run: list[int] = []

    def close() -> None:
        if run:
            pol = 1 if positive[run[0]] >= 0.5 else -1
            clauses.append(Clause(steps=list(run), polarity=pol,
                                  strength=float(np.clip(strength[run].mean(), 0.05, 1.0))))
            confs.append(float(about[run].mean()))
            run.clear()

    for s in range(len(about)):
        if about[s] < about_threshold:
            close()
            continue
        if run and (positive[s] >= 0.5) != (positive[run[0]] >= 0.5):
            close()
        run.append(s)
    close()
    general, rule_positive = float(pred["rule"][0]), float(pred["rule"][1])
    if general >= GENERAL:
        pattern = PATTERNS[int(np.argmax(pred["rule"][2:]))]
        clauses.append(Clause(steps=[], polarity=1 if rule_positive >= 0.5 else -1, strength=1.0,
                              scope="general", pattern=pattern))
        confs.append(general)
    if not clauses:
        return Reading.abstain(float(about.max()) if len(about) else 0.0)
    return Reading(clauses, confs, max(confs))
