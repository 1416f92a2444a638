"""Denied complaints that name nothing judge the whole run.

"nothing to moan about there", "no gripes", "can't fault it", "I couldn't complain", "not a single
mistake": a person denies having a complaint and names no object or action. Standing alone such a
remark praises the whole episode; after a criticism ("you bumped the wall, otherwise no complaints")
it praises the rest of it. Negation is counted (the polarity comes out right), but the *moment* is what
the model's embedding resembles, and on an unfamiliar complaint word the resemblance is to some event
("moan about" lands near "messing about": pointless actions), which puts the praise on a few steps
instead of the run. So the ``trained`` interpreter reads such a fragment as about the episode when:

* its negators count odd (:func:`~nlfeedback.language.negation.clause_negation_sign` is −1: a verb
  negator or a litote's "no" / "nothing");
* read without them, it holds a word the sentiment lexicon calls bad and none it calls good;
* and it names nothing of the world (:func:`~nlfeedback.language.world_words.names_world`).
"""

from __future__ import annotations

import re

from nlfeedback.language.negation import LITOTE_VALENCE, OTHER_JUDGEMENT, affirmative, clause_negation_sign
from nlfeedback.language.sentiment import word_valence
from nlfeedback.language.world_words import names_world

_WORD = re.compile(r"[A-Za-z]+(?:-[A-Za-z]+)?")


def judges_whole_run(fragment: str) -> bool:
    """Whether ``fragment`` is a denied complaint that names nothing of the world (see the module doc)."""
    if names_world(fragment) or clause_negation_sign(fragment) != -1:
        return False
    values = [v for w in _WORD.findall(affirmative(fragment)[0]) if (v := word_valence(w)) is not None]
    return any(v <= LITOTE_VALENCE for v in values) and not any(v >= OTHER_JUDGEMENT for v in values)
