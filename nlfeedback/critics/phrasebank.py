"""Phrase banks: the templates scripted language critics render intents with (package data,
``nlfeedback/resources/phrasebanks``).

The format is documented in ``nlfeedback/resources/phrasebanks/FORMAT.md``. The splits ``train`` and
``heldout`` are one TOML file each of template groups plus temporal-reference fillers (``[when]``) and
anchors (``[anchor]``). The ``human`` split is a folder of such files, one per **voice**: each written by an
independent writer in one persona (``human/gamer.toml``, ``human/teacher.toml`` …), who saw neither other
bank nor the readers' training data; a critic speaking it renders each remark wholly in one voice. The
trained interpreter never learns from it (``train_interpreter`` accepts ``train`` phrasings only), so a
text arm read through it shows what unseen, person-like wording costs.
"""

from __future__ import annotations

import re
import string
import tomllib
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from nlfeedback.data import resource
from nlfeedback.errors import NlfError

SPLITS = ("train", "heldout", "human")
VOICED = ("human",)  # splits that are a folder of voices rather than one file
TYPES = ("evaluative", "imperative", "descriptive", "vague", "mixed")
SLOTS = {"key", "wrong_key", "door", "key_color", "when", "When", "pos", "neg"}
COLOR_SLOTS = {"key", "wrong_key", "door", "key_color"}
WHEN_KEYS = ("step", "start", "middle", "end", "after", "before")
ANCHOR_KEYS = ("picked_up", "unlocked")


@dataclass(frozen=True)
class Template:
    id: str
    split: str
    group: str
    moment: str
    type: str
    polarity: int
    negation: bool
    double_negation: bool
    scope: str
    temporal: bool
    text: str

    @property
    def slots(self) -> set[str]:
        return {name for _, name, _, _ in string.Formatter().parse(self.text) if name}

    @property
    def has_color(self) -> bool:
        return bool(self.slots & COLOR_SLOTS)


@dataclass(frozen=True)
class PhraseBank:
    split: str
    templates: tuple[Template, ...]
    when: dict[str, tuple[str, ...]]
    anchor: dict[str, tuple[str, ...]]
    voice: str = ""  # the writer's persona of a voiced split's file; "" for one-file splits

    def select(self, *, moment: str | None = None, polarity: int | None = None, temporal: bool | None = None,
               scope: str | None = None, types: tuple[str, ...] | None = None,
               needs: set[str] | None = None) -> list[Template]:
        """Templates matching every given filter (``needs``: slots that must be fillable)."""
        out = []
        for t in self.templates:
            if moment is not None and t.moment != moment:
                continue
            if polarity is not None and t.polarity != polarity:
                continue
            if temporal is not None and t.temporal != temporal:
                continue
            if scope is not None and t.scope != scope:
                continue
            if types is not None and t.type not in types:
                continue
            if needs is not None and not (t.slots - {"when", "When", "pos", "neg"}) <= needs:
                continue
            out.append(t)
        return out


def _fail(path: Path, msg: str) -> NlfError:
    return NlfError(f"{path}: {msg}")


def parse_phrasebank(path: Path, split: str, voice: str = "") -> PhraseBank:
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as e:
        raise _fail(path, f"cannot read phrase bank: {e}") from None
    templates: list[Template] = []
    names: set[str] = set()
    for gi, g in enumerate(raw.get("group", [])):
        where = f"group {gi + 1} ({g.get('name', '?')})"
        try:
            name = str(g["name"])
            moment, typ, polarity = str(g["moment"]), str(g["type"]), int(g["polarity"])
            texts = list(g["texts"])
        except (KeyError, TypeError, ValueError) as e:
            raise _fail(path, f"{where}: missing or bad field {e}") from None
        if name in names:
            raise _fail(path, f"{where}: duplicate group name {name!r}")
        names.add(name)
        if typ not in TYPES:
            raise _fail(path, f"{where}: type {typ!r} is not one of {', '.join(TYPES)}")
        if polarity not in (-1, 0, 1):
            raise _fail(path, f"{where}: polarity must be -1, 0 or 1")
        scope = str(g.get("scope", "episode"))
        temporal = bool(g.get("temporal", False))
        for i, text in enumerate(texts, start=1):
            t = Template(f"{split}/{voice + '/' if voice else ''}{name}-{i:02d}", split, name, moment, typ, polarity,
                         bool(g.get("negation", False)), bool(g.get("double_negation", False)), scope, temporal,
                         str(text))
            unknown = t.slots - SLOTS
            if unknown:
                raise _fail(path, f"{t.id}: unknown slots {sorted(unknown)}")
            if temporal != bool(t.slots & {"when", "When"}):
                raise _fail(path, f"{t.id}: temporal={temporal} but the text {'lacks' if temporal else 'has'} {{when}}")
            templates.append(t)
    when = {k: tuple(raw.get("when", {}).get(k, ())) for k in WHEN_KEYS}
    anchor = {k: tuple(raw.get("anchor", {}).get(k, ())) for k in ANCHOR_KEYS}
    for k, v in {**when, **anchor}.items():
        if not v:
            raise _fail(path, f"missing fillers for {k!r} in [when]/[anchor]")
    return PhraseBank(split, tuple(templates), when, anchor, voice)


def _check_split(split: str) -> None:
    if split not in SPLITS:
        raise NlfError(f"unknown phrasing split {split!r}; valid: {', '.join(SPLITS)}")


def voices(split: str) -> tuple[str, ...]:
    """The voices of a split: the persona files of a voiced split, sorted; ``("",)`` for a one-file split."""
    _check_split(split)
    if split not in VOICED:
        return ("",)
    return tuple(sorted(p.name[:-len(".toml")] for p in resource("phrasebanks", split).iterdir()
                        if p.name.endswith(".toml")))


@lru_cache(maxsize=16)
def load_phrasebank(split: str, voice: str = "") -> PhraseBank:
    """The phrase bank of a split (``train``, ``heldout``), or of one voice of a voiced split (``human``)."""
    _check_split(split)
    if split in VOICED:
        if voice not in voices(split):
            raise NlfError(f"the {split!r} split is spoken in voices; valid: {', '.join(voices(split))}")
        return parse_phrasebank(resource("phrasebanks", split, f"{voice}.toml"), split, voice)
    if voice:
        raise NlfError(f"the {split!r} split has one voice")
    return parse_phrasebank(resource("phrasebanks", f"{split}.toml"), split)


def load_voices(split: str) -> tuple[PhraseBank, ...]:
    """Every voice's bank of a split (one bank for ``train`` and ``heldout``)."""
    return tuple(load_phrasebank(split, v) for v in voices(split))


class _Slots(dict):
    def __missing__(self, key: str) -> str:
        raise KeyError(key)


def render(text: str, slots: dict[str, str]) -> str:
    """Fill ``{slot}`` placeholders; ``{When}`` is ``{when}`` with a capital first letter."""
    values = _Slots(slots)
    if "when" in slots:
        w = slots["when"]
        values["When"] = w[:1].upper() + w[1:]
    out = text.format_map(values)
    return re.sub(r"[ \t]+", " ", out).strip()
