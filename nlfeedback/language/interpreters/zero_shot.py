"""``zero-shot``: frozen MiniLM embeddings, no training.

For each clause fragment: cosine similarity with every step's caption says which steps it is about
(those within 0.05 of the best match, if the best reaches 0.35; otherwise, if it resembles an evaluation
at all, it is taken as about the whole episode, and if not, as off-topic); similarity with "good" versus "bad" prototype sentences gives the sign, and the size
of that margin the confidence. Embedding similarity hardly separates "walk into the lava" from "don't
walk into the lava", so this baseline is expected to fail negations: that is what it measures.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from nlfeedback.feedback.schema import Clause, TextFeedback
from nlfeedback.language.encoder import shared_encoder
from nlfeedback.language.fragments import fragment_spans
from nlfeedback.targets import Reading
from nlfeedback.trajectory import Trajectory

GOOD = ["good job", "well done, that was right", "great, keep doing that", "nice move", "that was smart",
        "yes, exactly like that"]
BAD = ["that was bad", "don't do that", "that was a mistake", "stop doing that", "terrible move",
       "no, that was wrong"]
ABOUT_STEP = 0.35
EVALUATIVE = 0.25  # a fragment matching no caption must at least resemble an evaluation to count
NEAR_BEST = 0.05
POLARITY_SCALE = 12.0


class ZeroShotInterpreter:
    name = "zero-shot"

    def __init__(self) -> None:
        self.encoder = shared_encoder()
        protos = self.encoder.encode(GOOD + BAD)
        self.protos = protos
        self.good = protos[: len(GOOD)].mean(axis=0)
        self.bad = protos[len(GOOD):].mean(axis=0)

    def read_many(self, items: Sequence[tuple[TextFeedback, Trajectory]]) -> list[Reading]:
        spans = [fragment_spans(fb.text) for fb, _ in items]
        encoded = self.encoder.encode_spans([(fb.text, s) for (fb, _), s in zip(items, spans)])
        captions = sorted({c for _, t in items for c in t.captions})
        cap_vec = dict(zip(captions, self.encoder.encode(captions))) if captions else {}
        out = []
        for (fb, traj), frag_spans, vecs in zip(items, spans, encoded):
            if not frag_spans:
                out.append(Reading.abstain())
                continue
            caps = np.stack([cap_vec[c] for c in traj.captions])
            clauses, confs = [], []
            for v in vecs[1:]:
                margin = float(v @ self.good - v @ self.bad)
                conf = min(1.0, abs(margin) * POLARITY_SCALE)
                polarity = 1 if margin > 0 else -1
                sims = caps @ v
                best = float(sims.max())
                if best >= ABOUT_STEP:
                    steps = [int(i) for i in np.flatnonzero(sims >= best - NEAR_BEST)]
                    clauses.append(Clause(steps=steps, polarity=polarity, strength=1.0, moment="zero-shot"))
                elif float((self.protos @ v).max()) >= EVALUATIVE:
                    clauses.append(Clause(steps=list(range(len(traj))), polarity=polarity, strength=1.0,
                                          moment="episode"))
                else:
                    continue  # off-topic: neither about a step nor an evaluation
                confs.append(conf)
            out.append(Reading(clauses, confs, max(confs) if confs else 0.0))
        return out
