"""The MiniLM sentence encoder (nlfeedback/language/encoder.py): caching and span embeddings."""

from __future__ import annotations

import numpy as np

from nlfeedback.language.encoder import Encoder


def test_encoder_caches_in_memory_and_on_disk(tmp_path, monkeypatch):
    monkeypatch.setenv("NLF_CACHE_DIR", str(tmp_path))
    enc = Encoder()
    a = enc.encode(["walk into the lava", "don't walk into the lava", "walk into the lava"])
    assert a.shape == (3, 384) and np.allclose(np.linalg.norm(a, axis=1), 1, atol=1e-5)
    assert enc.encoded == 2 and np.allclose(a[0], a[2])
    enc.encode(["walk into the lava"])
    assert enc.encoded == 2
    fresh = Encoder()  # same disk cache
    b = fresh.encode(["don't walk into the lava"])
    assert fresh.encoded == 0 and np.allclose(b[0], a[1])
    # the embeddings barely separate a sentence from its negation: the problem interpreters must solve
    assert float(a[0] @ a[1]) > 0.8


def test_span_embeddings_come_from_the_same_pass(tmp_path, monkeypatch):
    monkeypatch.setenv("NLF_CACHE_DIR", str(tmp_path))
    enc = Encoder()
    text = "nice job with the key, but don't bump into the wall"
    vecs = enc.encode_spans([(text, [(0, 21), (27, len(text))])])[0]
    assert vecs.shape == (3, 384)
    assert float(vecs[0] @ enc.encode([text])[0]) > 0.999
    assert enc.encoded == 2  # one pass for the spans, one for the plain sentence
