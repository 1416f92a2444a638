"""The sealed human-style evaluation sets stay sealed: no training-side file holds text taken from them."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
HUMAN = ROOT / "data" / "human"
EVAL_SETS = sorted(HUMAN.glob("eval*.jsonl"))  # the sealed sets
PROBE_SETS = sorted(HUMAN.glob("probes*-eval*.jsonl"))  # their hand-written negation and reversal pairs
EVAL_FILES = EVAL_SETS + PROBE_SETS
MIN_WORDS = 5  # shorter remarks ("gg", "meh", "nice run") are common property of all writers
SHINGLE = 8


def training_side() -> list[Path]:
    """Everything the reader or its training data is made from: code, phrase banks, the training corpus."""
    banks = sorted((ROOT / "nlfeedback" / "resources" / "phrasebanks").glob("*.toml"))
    corpus = sorted(HUMAN.glob("train*.jsonl"))
    assert banks and corpus, "the phrase banks or the training corpus moved: point this test at them"
    files = sorted((ROOT / "nlfeedback").rglob("*.py")) + banks
    files += corpus + sorted((HUMAN / "annotations").glob("train*.jsonl"))
    return files


def _norm(text: str) -> str:
    return " ".join(re.findall(r"[a-z0-9]+", text.lower()))


def shingles(words: list[str]) -> set[str]:
    """Every run of :data:`SHINGLE` consecutive words."""
    return {" ".join(words[i:i + SHINGLE]) for i in range(len(words) - SHINGLE + 1)}


def shared_with(text: str, corpus: str, corpus_shingles: set[str]) -> set[str]:
    """What a normalised ``corpus`` (with ``corpus_shingles = shingles(corpus.split())``) holds of ``text``: the
    whole text, and each of its eight-word runs; nothing for a text under :data:`MIN_WORDS` words."""
    n = _norm(text)
    w = n.split()
    if len(w) < MIN_WORDS:
        return set()
    return ({n} if n in corpus else set()) | (shingles(w) & corpus_shingles)


def _eval_texts() -> list[str]:
    texts = []
    for f in EVAL_FILES:
        for line in f.read_text(encoding="utf-8").splitlines():
            texts.append(json.loads(line)["text"])
    return texts


def test_there_are_two_sealed_sets_of_at_least_300_remarks_with_hand_written_probes():
    sizes = {f.name: sum(1 for _ in f.open()) for f in EVAL_SETS}
    assert len(sizes) >= 2 and all(n >= 300 for n in sizes.values()), sizes
    for f in PROBE_SETS:
        recs = [json.loads(line) for line in f.read_text(encoding="utf-8").splitlines()]
        assert sum("negates" in r["labels"] for r in recs) >= 50, f


@pytest.mark.parametrize("path", training_side(), ids=lambda p: str(p.relative_to(ROOT)))
def test_no_training_side_file_contains_evaluation_text(path):
    """A failure names the training-side lines that share text with a sealed set, never the sealed text
    itself (reading it would start to spend the set)."""
    text = path.read_text(encoding="utf-8")
    corpus = _norm(text)
    corpus_shingles = shingles(corpus.split())
    shared: set[str] = set()
    for sealed in _eval_texts():
        shared |= shared_with(sealed, corpus, corpus_shingles)
    lines = [k for k, line in enumerate(text.splitlines(), 1) if any(g in _norm(line) for g in shared)]
    n_shared = len(shared)  # the failure names lines of the training file, never the shared (sealed) words
    assert n_shared == 0, (f"{path} shares {n_shared} eight-word runs with a sealed evaluation set at line(s) "
                           f"{lines[:10] or '(across lines)'}: remove those remarks (a pair: both of its remarks)")
