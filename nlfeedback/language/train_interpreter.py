"""Training the ``trained`` interpreter on critic feedback (``nlf train-interpreter``).

Examples are clause fragments of critic remarks labelled from the recorded intent: each fragment gets
the clause whose text span overlaps it most (moment, polarity, temporal reference, anchor, scope).
Augmentations: restyled copies (:mod:`nlfeedback.language.restyle`: visual referring expressions,
texting style, typos; a mixed remark clause by clause, :func:`~nlfeedback.language.restyle.restyle_spans`), negated copies (via :func:`nlfeedback.language.negation.negate`) with flipped
polarity, and gibberish / off-topic text labelled "nothing". While fitting, the embeddings get Gaussian noise and a
quarter of each batch's rows is read from its scalar cues alone (:func:`perturb_batch`). A random 10% of remarks is held out for validation.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass

import numpy as np

from nlfeedback.critics import critique
from nlfeedback.envs.tasks import get_task
from nlfeedback.errors import NlfError
from nlfeedback.feedback.schema import Clause, TextFeedback
from nlfeedback.language.abstain_examples import abstain_texts
from nlfeedback.language.encoder import DIM, shared_encoder
from nlfeedback.language.fragments import fragment_spans
from nlfeedback.language.interpreters.trained import (
    HEADS,
    TrainConfig,
    TrainedInterpreter,
    build_model,
    features_batch,
    span_request,
)
from nlfeedback.language.negation import clause_negation_sign, negate
from nlfeedback.language.restyle import restyle, restyle_spans
from nlfeedback.policies import make_policy
from nlfeedback.rollout import rollout
from nlfeedback.trajectory import Trajectory
from nlfeedback.versions import package_versions

DEFAULT_TRAIN_TASKS = ("doorkey-5x5", "doorkey-6x6", "lavagap-5", "lavagap-7", "keys-distractor", "empty-random-6x6")


@dataclass(frozen=True)
class Example:
    text: str
    span: tuple[int, int]
    spans: tuple[tuple[int, int], ...]
    labels: dict[str, int]


def _when_labels(clause: Clause | None) -> tuple[str, str]:
    if clause is None or not clause.when:
        return "none", "none"
    kind, _, rest = clause.when.partition(":")
    if kind in ("after", "before"):
        return kind, rest or "none"
    return kind, "none"


def _labels(clause: Clause | None, fragment: str, moment_if_none: str = "vague") -> dict[str, int]:
    if clause is None:
        moment, polarity, scope = moment_if_none, 0, "episode"
    else:
        moment, polarity, scope = clause.moment or "episode", clause.polarity, clause.scope
    when, anchor = _when_labels(clause)
    valence = polarity * clause_negation_sign(fragment)
    values = {"moment": moment, "valence": valence, "when": when, "anchor": anchor, "scope": scope}
    return {k: HEADS[k].index(v) for k, v in values.items()}


RESTYLES = 2  # restyled copies per remark


def _clause_examples(text: str, spans: tuple[tuple[int, int], ...], clauses: Sequence[Clause],
                     clause_spans: Sequence[tuple[int, int]]) -> list[Example]:
    """One example per fragment (``spans``, the text's :func:`fragment_spans`) of ``text``, labelled by the
    clause whose span overlaps it most."""
    out = []
    for a, b in spans:
        best, overlap = None, 0
        for c, (ca, cb) in zip(clauses, clause_spans):
            ov = min(b, cb) - max(a, ca)
            if ov > overlap:
                best, overlap = c, ov
        if clauses and best is None:
            continue
        out.append(Example(text, (a, b), spans, _labels(best, text[a:b])))
    return out


def examples_from_feedback(items: Sequence[TextFeedback], *, augment: bool = True, seed: int = 0) -> list[Example]:
    out: list[Example] = []
    rng = np.random.default_rng(seed)
    for fb in items:
        if fb.intent is None:
            continue
        spans = tuple(fragment_spans(fb.text))
        if not spans:
            continue
        clauses = fb.intent.clauses
        clause_spans = [tuple(c.span) if c.span else (0, len(fb.text)) for c in clauses]
        out += _clause_examples(fb.text, spans, clauses, clause_spans)
        if not augment:
            continue
        if len(clauses) > 1:  # mixed remark: each clause restyled on its own, labelled by where it landed
            if any(c.span is None for c in clauses):
                continue
            for _ in range(RESTYLES):
                try:
                    variant, vspans = restyle_spans(fb.text, clause_spans, rng)
                except ValueError:
                    break
                out += _clause_examples(variant, tuple(fragment_spans(variant)), clauses, vspans)
            continue
        clause = clauses[0] if clauses else None
        variants = [fb.text] + [restyle(fb.text, rng) for _ in range(RESTYLES)]
        for k, variant in enumerate(variants):
            if k > 0:  # restyled copy, labelled like the original
                vspans = tuple(fragment_spans(variant))
                for a, b in vspans:
                    out.append(Example(variant, (a, b), vspans, _labels(clause, variant[a:b])))
            if clause is None or clause.polarity == 0:
                continue
            flipped = negate(variant)
            fspans = tuple(fragment_spans(flipped)) if flipped else ()
            if flipped and len(fspans) == 1:
                c = clause.model_copy(update={"polarity": -clause.polarity})
                a, b = fspans[0]
                out.append(Example(flipped, fspans[0], fspans, _labels(c, flipped[a:b])))
    if augment:
        n_none = max(20, len(out) // 10)
        for text in abstain_texts(n_none, seed=seed):
            spans = tuple(fragment_spans(text))
            for s in spans:
                out.append(Example(text, s, spans, _labels(None, text[s[0]:s[1]], moment_if_none="none")))
    return out


def generate_training_feedback(tasks: Sequence[str] = DEFAULT_TRAIN_TASKS, *, episodes: int = 150, items: int = 700,
                               seed: int = 0, split: str = "train") -> tuple[list[Trajectory], list[TextFeedback]]:
    """Roll out noisy experts on ``tasks`` and let the language critic (noise off) comment on them."""
    trajs: list[Trajectory] = []
    feedback: list[TextFeedback] = []
    for i, name in enumerate(tasks):
        task = get_task(name)
        t = list(rollout(task, make_policy("expert", epsilon=0.15, mistakes=0.35), episodes, seed=seed * 1000 + i))
        t += list(rollout(task, make_policy("random"), max(2, episodes // 10), seed=seed * 1000 + 500 + i))
        trajs += t
        feedback += list(critique(t, "text", budget=items, seed=seed * 1000 + i, split=split))  # type: ignore[arg-type]
    return trajs, feedback


def perturb_batch(xb, config: TrainConfig, gen):
    """A training batch as the model sees it: Gaussian noise (``config.input_noise``) on the two embeddings,
    then, for a random ``config.embed_dropout`` share of its rows, both embeddings zeroed, so those
    examples must be read from the scalar cues alone (surface, sentiment, mood, world words, similarities
    to the moment descriptions). The cues are never perturbed. On wordings the model was not trained on
    the embeddings land where it has seen nothing; heads that have learned to lean on the cues as well
    carry over better (measured in README.md)."""
    import torch

    if config.input_noise > 0:
        noise = torch.randn(xb.shape, generator=gen) * config.input_noise
        noise[:, 2 * DIM:] = 0.0
        xb = xb + noise
    if config.embed_dropout > 0:
        keep = (torch.rand(len(xb), 1, generator=gen) >= config.embed_dropout).to(xb.dtype)
        xb = torch.cat([xb[:, :2 * DIM] * keep, xb[:, 2 * DIM:]], dim=1)
    return xb


def train_interpreter(items: Sequence[TextFeedback], config: TrainConfig | None = None, *,
                      meta: dict | None = None, progress=None) -> tuple[TrainedInterpreter, dict]:
    """Fit the clause model; returns the interpreter and a report (sizes, validation accuracy per head)."""
    import torch

    config = config or TrainConfig()
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # a small MLP: one thread is as fast, and shares a busy machine better
    critic_items = [fb for fb in items if fb.intent is not None]
    if len(critic_items) < 20:
        raise NlfError(f"need at least 20 critic text items with intents to train, got {len(critic_items)}")
    if any(fb.intent.split != "train" for fb in critic_items):  # type: ignore[union-attr]
        raise NlfError("the trained interpreter learns from `train` phrasings only; found heldout items")
    rng = np.random.default_rng(config.seed)
    texts = sorted({fb.text for fb in critic_items})
    val_texts = set(rng.choice(texts, size=max(1, int(len(texts) * config.val_fraction)), replace=False))
    examples = examples_from_feedback(critic_items, seed=config.seed)
    enc = shared_encoder()
    by_text: dict[str, tuple[tuple[int, int], ...]] = {}
    for ex in examples:
        by_text.setdefault(ex.text, ex.spans)
    keys = list(by_text)
    vecs = {}
    for i in range(0, len(keys), 512):
        chunk = keys[i:i + 512]
        requests = [span_request(k, list(by_text[k]), config.affirmative) for k in chunk]
        for k, v in zip(chunk, enc.encode_spans([r for r, _ in requests], [x for _, x in requests])):
            vecs[k] = v
        if progress:
            progress(min(i + 512, len(keys)), len(keys))
    X = features_batch(np.stack([vecs[ex.text][1] for ex in examples]),
                       np.stack([vecs[ex.text][2 + ex.spans.index(ex.span)] for ex in examples]),
                       [ex.text[ex.span[0]:ex.span[1]] for ex in examples], config.world_words)
    Y = {k: np.array([ex.labels[k] for ex in examples]) for k in HEADS}
    is_val = np.array([ex.text in val_texts for ex in examples])
    Xt = torch.from_numpy(X[~is_val])
    Yt = {k: torch.from_numpy(v[~is_val]) for k, v in Y.items()}
    n = len(Xt)
    loss_fn = torch.nn.CrossEntropyLoss()
    members = []
    for member in range(config.members):
        torch.manual_seed(config.seed * 100 + member)
        model = build_model(config.hidden, config.dropout, config.wide, config.world_words)
        opt = torch.optim.Adam(model.parameters(), lr=config.lr, weight_decay=config.weight_decay)
        gen = torch.Generator().manual_seed(config.seed * 100 + member)
        for _epoch in range(config.epochs):
            model.train()
            perm = torch.randperm(n, generator=gen)
            for b in range(0, n, config.batch_size):
                idx = perm[b:b + config.batch_size]
                out = model(perturb_batch(Xt[idx], config, gen))
                loss = sum(loss_fn(out[k], Yt[k][idx]) for k in HEADS)
                if not torch.isfinite(loss):
                    raise NlfError("training diverged (non-finite loss); lower the learning rate")
                opt.zero_grad()
                loss.backward()
                opt.step()
        model.eval()
        members.append(model)
    report: dict = {"examples": int(len(examples)), "train_examples": int(n), "val_examples": int(is_val.sum()),
                    "remarks": len(critic_items), "members": config.members, "val_accuracy": {}}
    if is_val.any():
        with torch.inference_mode():
            outs = [m(torch.from_numpy(X[is_val])) for m in members]
        for k in HEADS:
            p = np.mean([torch.softmax(o[k], dim=1).numpy() for o in outs], axis=0)
            report["val_accuracy"][k] = round(float((p.argmax(1) == Y[k][is_val]).mean()), 4)
    full_meta = {"config": asdict(config), "versions": package_versions("sentence_transformers"), "report": report, **(meta or {})}
    full_meta.setdefault("train_items", len(critic_items))
    interp = TrainedInterpreter(members, {"hidden": config.hidden, "dropout": config.dropout, "wide": config.wide,
                                          "affirmative": config.affirmative, "world_words": config.world_words},
                                full_meta)
    torch.set_num_threads(threads)
    return interp, report


def combine_interpreters(interps: Sequence[TrainedInterpreter]) -> TrainedInterpreter:
    """One interpreter whose ensemble is all of ``interps``' members (their probabilities are averaged).

    Used for draws (``nlf train-interpreter --draws K``): interpreters trained on different generated
    feedback (seed, seed + 1, …). Members of one draw share its remarks, so they err alike on a wording that
    draw happened to teach badly; pooling draws averages out what only some of them misread (a misreading
    all draws share stays)."""
    if not interps:
        raise NlfError("nothing to combine")
    config = interps[0].config
    for other in interps[1:]:
        if other.config != config:
            raise NlfError(f"cannot combine interpreters with different model configs: {config} vs {other.config}")
    members = [m for it in interps for m in it.members]
    meta = dict(interps[0].meta)
    if len(interps) > 1:
        meta["draws"] = [it.meta for it in interps]
        meta["train_items"] = sum(int(it.meta.get("train_items", 0)) for it in interps)
    return TrainedInterpreter(members, dict(config), meta)
