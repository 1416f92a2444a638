"""``trained``: a small learned reader over frozen MiniLM embeddings.

Each remark is cut into clause fragments (:mod:`nlfeedback.language.fragments`). For every fragment the
model sees its contextual embedding (mean of its tokens from one encoder pass over the whole remark),
the whole remark's embedding, and lexical negation features, and predicts five things: the moment it is
about (lava, wall bumps, spinning, the right or wrong key, the door, the goal, pointless actions,
detours, timeout, the whole episode, a vague remark, or nothing), its polarity (−1, 0, +1), a temporal
reference (none, step N, start, middle, end, after, before), the anchor of after/before (key picked up,
door unlocked) and whether it is a general rule. Grounding (:mod:`nlfeedback.language.grounding`) turns
that into steps; an explicit step number in the fragment is read by a regex. If the moment does not
occur in the trajectory, caption similarity picks the steps instead.

It is trained on critic feedback of the ``train`` phrasing split, with two augmentations: every remark a
simple rule can negate is added negated with the opposite polarity (so negation is learned rather than
inferred from the moment), and gibberish / off-topic text is added as "nothing" (so it abstains).
"""

from __future__ import annotations

import json
import platform
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from nlfeedback.critics.moments import REFERENTS
from nlfeedback.data import data_dir
from nlfeedback.errors import NlfError
from nlfeedback.feedback.schema import Clause, TextFeedback
from nlfeedback.language.encoder import DIM, shared_encoder
from nlfeedback.language.fragments import fragment_spans
from nlfeedback.language.grounding import Parse, ground, step_number
from nlfeedback.language.negation import N_FEATURES, negation_features, negation_sign, negator_spans
from nlfeedback.language.targets import Reading
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


def default_checkpoint() -> Path:
    return data_dir() / DEFAULT_CHECKPOINT


@dataclass
class TrainConfig:
    hidden: int = 256
    dropout: float = 0.1
    epochs: int = 40
    batch_size: int = 256
    lr: float = 1e-3
    weight_decay: float = 1e-4
    seed: int = 0
    val_fraction: float = 0.1


def features(sent: np.ndarray, frag: np.ndarray, frag_text: str) -> np.ndarray:
    return np.concatenate([frag, sent, np.asarray(negation_features(frag_text), dtype=np.float32)])


def build_model(hidden: int, dropout: float):
    import torch
    from torch import nn

    class ClauseModel(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.trunk = nn.Sequential(nn.Linear(2 * DIM + N_FEATURES, hidden), nn.ReLU(), nn.Dropout(dropout),
                                       nn.Linear(hidden, hidden), nn.ReLU())
            self.heads = nn.ModuleDict({k: nn.Linear(hidden, len(v)) for k, v in HEADS.items()})

        def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
            h = self.trunk(x)
            return {k: head(h) for k, head in self.heads.items()}

    return ClauseModel()


@dataclass
class TrainedInterpreter:
    model: Any
    config: dict[str, Any]
    meta: dict[str, Any] = field(default_factory=dict)
    name: str = "trained"

    # --- persistence --------------------------------------------------------------------------
    def save(self, path: str | Path) -> None:
        import torch

        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        torch.save({"format": CHECKPOINT_FORMAT, "config": self.config, "meta": self.meta,
                    "classes": {k: list(v) for k, v in HEADS.items()},
                    "state_dict": self.model.state_dict()}, path)

    @classmethod
    def load(cls, path: str | Path | None = None) -> TrainedInterpreter:
        import torch

        path = Path(path) if path else default_checkpoint()
        if not path.exists():
            raise NlfError(f"{path}: no trained interpreter checkpoint (train one with `nlf train-interpreter`)")
        try:
            ckpt = torch.load(path, map_location="cpu", weights_only=False)
        except Exception as e:  # noqa: BLE001
            raise NlfError(f"{path}: not a readable checkpoint ({e})") from None
        if not isinstance(ckpt, dict) or ckpt.get("format") != CHECKPOINT_FORMAT:
            raise NlfError(f"{path}: not an nlfeedback interpreter checkpoint (format {CHECKPOINT_FORMAT})")
        if ckpt["classes"] != {k: list(v) for k, v in HEADS.items()}:
            raise NlfError(f"{path}: checkpoint classes differ from this version's; retrain it")
        model = build_model(ckpt["config"]["hidden"], ckpt["config"]["dropout"])
        model.load_state_dict(ckpt["state_dict"])
        model.eval()
        return cls(model, ckpt["config"], ckpt.get("meta", {}))

    # --- reading ------------------------------------------------------------------------------
    def predict(self, texts: Sequence[str]) -> list[list[dict[str, Any]]]:
        """Per text, per fragment: ``{"span", "text", head: (label, prob)}``."""
        import torch

        spans = [fragment_spans(t) for t in texts]
        idx = [i for i, s in enumerate(spans) if s]
        encoded = shared_encoder().encode_spans([(texts[i], spans[i]) for i in idx],
                                                [negator_spans(texts[i]) for i in idx]) if idx else []
        rows, owners = [], []
        for i, vecs in zip(idx, encoded):
            for k, (a, b) in enumerate(spans[i]):
                rows.append(features(vecs[0], vecs[k + 1], texts[i][a:b]))
                owners.append((i, (a, b)))
        out: list[list[dict[str, Any]]] = [[] for _ in texts]
        if not rows:
            return out
        with torch.inference_mode():
            logits = self.model(torch.from_numpy(np.stack(rows)))
            probs = {k: torch.softmax(v, dim=1).numpy() for k, v in logits.items()}
        for r, (i, (a, b)) in enumerate(owners):
            pred: dict[str, Any] = {"span": (a, b), "text": texts[i][a:b]}
            for head, classes in HEADS.items():
                j = int(probs[head][r].argmax())
                pred[head] = (classes[j], float(probs[head][r][j]))
            valence, pv = pred["valence"]
            pred["polarity"] = (valence * negation_sign(pred["text"]), pv)
            out[i].append(pred)
        return out

    def read_many(self, items: Sequence[tuple[TextFeedback, Trajectory]]) -> list[Reading]:
        preds = self.predict([fb.text for fb, _ in items])
        readings = []
        for (fb, traj), frags in zip(items, preds):
            best: dict[str, tuple[Clause, float]] = {}
            fallback: list[tuple[dict[str, Any], float]] = []
            for p in frags:
                moment, pm = p["moment"]
                polarity, pp = p["polarity"]
                if moment == "none" or polarity == 0:
                    continue
                conf = pm * pp
                parse = Parse(moment, polarity, VAGUE_STRENGTH if moment == "vague" else 1.0, p["when"][0],
                              p["anchor"][0], p["scope"][0], step_number(p["text"]))
                clause = ground(parse, traj)
                if clause is None:
                    fallback.append((p, conf))
                    continue
                if moment not in best or best[moment][1] < conf:
                    best[moment] = (clause, conf)
            for p, conf in fallback:
                clause = self._caption_fallback(p, fb.text, traj)
                if clause is not None:
                    best[f"caption:{p['span']}"] = (clause, conf * 0.8)
            clauses = [c for c, _ in best.values()]
            confs = [conf for _, conf in best.values()]
            readings.append(Reading(clauses, confs, max(confs) if confs else 0.0))
        return readings

    @staticmethod
    def _caption_fallback(pred: dict[str, Any], text: str, traj: Trajectory) -> Clause | None:
        """Steps whose caption matches the fragment, when the predicted moment does not occur."""
        enc = shared_encoder()
        frag_vec = enc.encode_spans([(text, [pred["span"]])], [negator_spans(text)])[0][1]
        caps = enc.encode(traj.captions)
        sims = caps @ frag_vec
        best = float(sims.max())
        if best < CAPTION_MATCH:
            return None
        steps = [int(i) for i in np.flatnonzero(sims >= best - 0.05)]
        return Clause(steps=steps, polarity=pred["polarity"][0], strength=1.0, moment="caption")


def versions() -> dict[str, str]:
    import sentence_transformers
    import torch

    import nlfeedback

    return {"nlfeedback": nlfeedback.__version__, "torch": torch.__version__,
            "sentence_transformers": sentence_transformers.__version__, "python": platform.python_version()}


def describe(interp: TrainedInterpreter) -> str:
    return json.dumps({"config": interp.config, "meta": interp.meta}, indent=2)


__all__ = ["HEADS", "TrainConfig", "TrainedInterpreter", "asdict", "build_model", "default_checkpoint", "features"]
