"""Interpreters behind one interface: text feedback + trajectory → per-step targets, weights, confidence.

| name | how it reads a remark |
|---|---|
| ``keyword`` | lexicon and regex baseline: event words, sentiment words, negators, step numbers |
| ``zero-shot`` | frozen MiniLM embeddings: remark vs step captions (which steps) and good/bad prototypes (sign) |
| ``trained`` | the learned step-level reader (``language/reader.py``): fine-tuned MiniLM reads the remark, every step of the trajectory (as text and position features) attends to it and says whether the remark is about it, with which sign and strength; trained on labelled human-style remarks and critic remarks |
| ``oracle-intent`` | the critic's recorded intent, or a human remark's gold labels (upper bound) |

``oracle.SecondLabelling`` reads a second person's labels of the same remarks (``nlf eval-interpreter
--second-labels``): agreement between labellers, scored like an interpreter.
"""

from nlfeedback.language.interpreters.base import INTERPRETERS, Interpreter, interpret, interpret_many, make_interpreter

__all__ = ["INTERPRETERS", "Interpreter", "interpret", "interpret_many", "make_interpreter"]
