"""Build nlfeedback/resources/spelling/errors.json.gz: people's misspellings of English words, for the reader's
spelling-noise augmentation (nlfeedback/language/spelling.py).

Source: NL-Augmenter's ``replace_spelling/spell_errors.json`` (GEM-benchmark/NL-Augmenter, MIT licence, commit
b64a8efebd842848546ec51d3402ba253be12aa7), itself the union of Roger Mitton's corpora of spelling errors (Birkbeck,
Holbrook, Aspell; https://www.dcs.bbk.ac.uk/~ROGER/corpora.html) and Wikipedia's list of common misspellings. Kept:
a variant that starts with the word's letter and is close to it (difflib ratio >= 0.75: "waste" -> "waist", "whole"
-> "hole", "their" -> "there", "didn't" -> "didnt"), so that a misspelling stays readable as the word a person meant;
for a word with "n't" only variants that keep "nt" (a negation must survive its misspelling: "don't" -> "dont",
never "done"), and none for the plain negators ("no" -> "now" would turn a remark's sense). Written reproducibly (sorted keys and variants, fixed gzip mtime).

    python data/human/making/spelling_errors.py /path/to/spell_errors.json
"""

import difflib
import gzip
import json
import sys
from pathlib import Path

OUT = Path(__file__).resolve().parents[3] / "nlfeedback" / "resources" / "spelling" / "errors.json.gz"


NEGATORS = {"no", "not", "never", "none", "nothing", "nobody", "nowhere", "nor", "neither", "without"}


def keep(word: str, variant: str) -> bool:
    if word in NEGATORS:
        return False
    if variant == word or not variant or variant[0] != word[0] or not variant.replace("'", "").isalpha():
        return False
    if "n't" in word and "nt" not in variant:
        return False
    return difflib.SequenceMatcher(None, word, variant).ratio() >= 0.75


def main(src: str) -> None:
    table = json.loads(Path(src).read_text())
    kept = {}
    for word, variants in table.items():
        word = word.strip().lower()
        good = sorted({v.strip().lower() for v in variants if keep(word, v.strip().lower())})
        if word.replace("'", "").isalpha() and good:
            kept[word] = good
    data = json.dumps(dict(sorted(kept.items())), separators=(",", ":")).encode()
    OUT.parent.mkdir(parents=True, exist_ok=True)
    with open(OUT, "wb") as raw, gzip.GzipFile(fileobj=raw, mode="wb", mtime=0, filename="") as gz:
        gz.write(data)
    print(f"{OUT}: {len(kept)} words, {sum(map(len, kept.values()))} misspellings, {OUT.stat().st_size} bytes")


if __name__ == "__main__":
    main(sys.argv[1])
