"""Does a clause name something of the world, or only judge?

"nothing to grumble about", "top marks", "what a shambles" name no object, place or action: a person
saying them judges the whole run. "you walked into the orange tiles", "stop twirling" name something the
agent met or did. Sentence embeddings blur the two on wordings they were not trained on (an unfamiliar
judgement lands near whichever event its words happen to resemble: "moan about" near "mess about"), so
the ``trained`` interpreter also sees one lexical cue: does the clause contain a word for a thing in a
MiniGrid world (lava, walls, keys, doors, the goal, tiles, colours) or for something the agent does
there (turning, moving, picking up, dropping, opening, taking time, wandering)? The model learns how far
to trust it; the word list is about the world, not any phrase bank's wording.
"""

from __future__ import annotations

import re

_WORLD = re.compile(
    r"\b(?:"
    # things
    r"lava|fire|flames?|orange|burn\w*|hot|molten|hazard\w*|pits?|"
    r"walls?|edges?|boundar\w*|borders?|bricks?|blocks?|corners?|sides?|"
    r"keys?|doors?|doorways?|gates?|locks?|locked|unlock\w*|"
    r"goals?|green|finish\w*|exits?|targets?|squares?|tiles?|cells?|boxe?s?|rooms?|floor|grid|"
    r"yellow|blue|red|purple|gr[ae]y|colou?rs?|"
    # doing
    r"spin\w*|spun|turn\w*|rotat\w*|twirl\w*|circl\w*|pirouett\w*|whirl\w*|pivot\w*|swivel\w*|"
    r"pick\w*|grab\w*|collect\w*|fetch\w*|snag\w*|nab\w*|drop\w*|ditch\w*|toggl\w*|buttons?|press\w*|"
    r"open\w*|mov(?:e|es|ed|ing)|steps?|stepped|stepping|walk\w*|went|ran|head(?:ed|ing)?|"
    r"bump\w*|crash\w*|smack\w*|hit|hitting|"
    r"paths?|routes?|detours?|wander\w*|stray\w*|lost|course|direct\w*|straight|beeline|shortcut|"
    r"time|timed|clock|slow\w*|quick\w*|fast|forever|ages|"
    r"actions?"
    r")\b",
    re.IGNORECASE,
)


def names_world(text: str) -> bool:
    """True if ``text`` contains a word for a thing in the world or for something the agent does."""
    return _WORLD.search(text) is not None
