"""Split a remark into clause fragments (character spans), so mixed praise and criticism can be read apart.

Splits at sentence punctuation (. ! ? ; …), dashes, and contrastive connectors (but, though, although,
however, yet, whereas, except, still, on the other hand, having said that, that said, then again,
mind you, on the flip side). Commas alone do not split ("nice, you got the key" is one clause).
Fragments without a letter are dropped; a text with no split is one fragment.
"""

from __future__ import annotations

import re

CONNECTORS = [
    r"on the other hand", r"having said that", r"that said", r"then again", r"mind you", r"on the flip side",
    r"even so", r"but then", r"bu+t", r"though", r"although", r"however", r"yet", r"whereas", r"except",
    r"still", r"at least", r"otherwise", r"apart from that",
]
_SPLIT = re.compile(
    r"(?:[.!?;…]+(?:\s+|$))|(?:\s+[—–-]{1,2}\s+)|(?:\.\.+)|"
    r"(?:(?:^|[\s,;])(?:" + "|".join(CONNECTORS) + r")\b,?)",
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
    out = []
    for a, b in spans:
        while a < b and not text[a].isalnum() and text[a] not in "'\"":
            a += 1
        while b > a and text[b - 1] in " ,:-—–":
            b -= 1
        if a < b and _LETTER.search(text[a:b]):
            out.append((a, b))
    return out or ([(0, len(text))] if text.strip() else [])
