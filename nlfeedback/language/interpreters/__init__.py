"""Interpreters behind one interface: text feedback + trajectory → per-step targets, weights, confidence.

| name | how it reads a remark |
|---|---|
| ``keyword`` | lexicon and regex baseline: event words, sentiment words, negators, step numbers |
| ``zero-shot`` | frozen MiniLM embeddings: remark vs step captions (which steps) and good/bad prototypes (sign) |
| ``trained`` | a small model over frozen embeddings of each clause fragment and the whole remark, plus negation and temporal features, trained on critic feedback with ``train`` phrasings |
| ``oracle-intent`` | the critic's recorded intent (upper bound) |
"""

from nlfeedback.language.interpreters.base import INTERPRETERS, Interpreter, interpret, interpret_many, make_interpreter

__all__ = ["INTERPRETERS", "Interpreter", "interpret", "interpret_many", "make_interpreter"]
