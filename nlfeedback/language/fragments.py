"""Split a remark into clause fragments (character spans), so mixed praise and criticism can be read apart.

Splits at sentence punctuation (. ! ? ; …; not the "." of "no. 21"), dashes, and contrastive connectors (but, though, although,
however, yet, whereas, except, still, even if, even though, on the other hand, having said that, that
said, then again, mind you, on the flip side, …), before openers that carry the next clause's judgement
and stay in it (unfortunately, sadly, luckily, the problem is, my only gripe, and after a comma: pity,
shame, too bad), and at "and", "while", "plus", "then" when they follow a comma or semicolon or open the
remark; a remark that opens with a subordinate clause
("while you got the key, you hit the wall") splits at its comma. Commas alone do not split ("nice, you
got the key" is one clause). Fragments without a letter are dropped; a text with no split is one fragment.
"""

from __future__ import annotations

import re

CONNECTORS = [
    r"on the other hand", r"having said that", r"that said", r"then again", r"mind you", r"on the flip side",
    r"even so", r"but then", r"bu+t", r"though", r"although", r"however", r"whereas", r"except",
    r"at least", r"otherwise", r"apart from that", r"even if", r"even though", r"aside from that",
    r"other than that", r"besides that", r"nevertheless", r"nonetheless",
    r"but also", r"and then", r"and also",
]
# Openers of a new clause that carry its judgement ("…, pity that you hit the wall", "… unfortunately you
# fell in"): the remark splits before them and they stay in the clause they judge.
KEPT_OPENERS = [
    r"unfortunately", r"sadly", r"regrettably", r"alas", r"only problem is", r"the only problem", r"the problem is",
    r"my only (?:gripe|complaint|issue)", r"the only (?:thing|issue|downside)", r"on the downside",
    r"on the upside", r"on the bright side", r"the bad news is", r"the good news is",
]
# … and these only after a comma or semicolon (or at the start): "what a pity" and "ashamed" must not split.
KEPT_AFTER_COMMA = [r"(?:it'?s |what |such )?a (?:pity|shame)", r"pity", r"shame", r"too bad", r"luckily",
                    r"fortunately", r"thankfully", r"happily", r"annoyingly", r"frustratingly"]
# Connectors that split only after a comma or semicolon (or at the start): "nice key grab, and then you
# walked into the lava", "while you got the key, you ...". Without the comma they join parts of one
# clause too often ("unlocked and opened the door", "don't spin while waiting").
COMMA_CONNECTORS = [r"and then", r"and also", r"and", r"while", r"whilst", r"plus", r"then", r"still", r"yet"]
# A remark that opens with a subordinate clause ("while you got the key, you hit the wall") splits at its comma.
_SUBORDINATE = re.compile(r"^(?:while|whilst|although|though|even though|even if|despite|apart from|aside from|"
                          r"besides|other than)\b[^,;]*,", re.IGNORECASE)
_SPLIT = re.compile(
    r"(?:(?!(?<=\bno)\.\s*\d)[.!?;…]+(?:\s+|$))|"  # not "action no. 21" (an abbreviation)
    r"(?:\s+[—–-]{1,2}\s+)|(?:\.\.+)|"
    r"(?:(?:^|[\s,;])(?:" + "|".join(CONNECTORS) + r")\b,?)|"
    r"(?:(?:^\s*|[,;]\s*)(?:" + "|".join(COMMA_CONNECTORS) + r")\b,?)|"
    r"(?:(?:[,;]\s*|\s+)(?=(?:" + "|".join(KEPT_OPENERS) + r")\b.{3}))|"
    r"(?:[,;]\s*(?=(?:" + "|".join(KEPT_AFTER_COMMA) + r")\b.{3}))",
    re.IGNORECASE,
)
_LETTER = re.compile(r"[A-Za-z]")


def fragment_spans(text: str) -> list[tuple[int, int]]:
    """``[start, end)`` spans of the clause fragments of ``text`` (whitespace-trimmed)."""
    spans: list[tuple[int, int]] = []
    pos = 0
    for m in _SPLIT.finditer(text):
        if m.start() > pos:
            spans.append((pos, m.start()))
        pos = max(pos, m.end())
    if pos < len(text):
        spans.append((pos, len(text)))
    lead = len(text) - len(text.lstrip())
    m = _SUBORDINATE.match(text[lead:])
    if m:
        comma = lead + m.end() - 1
        spans = [part for a, b in spans for part in (((a, comma), (comma + 1, b)) if a < comma < b else ((a, b),))]
    out = []
    for a, b in spans:
        while a < b and not text[a].isalnum() and text[a] not in "'\"":
            a += 1
        while b > a and text[b - 1] in " ,:-—–":
            b -= 1
        if a < b and _LETTER.search(text[a:b]):
            out.append((a, b))
    return out or ([(0, len(text))] if text.strip() else [])
