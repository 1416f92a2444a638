"""Drop from a new sealed pair set every pair one of whose remarks shares text with the training side (the rule of
tests/test_sealed.py, whose definitions it imports: the whole text of a remark of five words or more, or any
eight-word run). Works on the writers' annotation files and their second labellings by id, printing only counts,
never the sealed text. A file of single remarks (no ids, e.g. annotations/evalC0.jsonl) loses the remarks alone.

    python making/drop_shared.py annotations/probes3-evalA-0.jsonl ...   (run from data/human)
"""
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(ROOT / "tests"))
from test_sealed import _norm, shared_with, shingles, training_side  # noqa: E402  (one rule: the test's)

corpus = " \n ".join(_norm(f.read_text(encoding="utf-8")) for f in training_side())
corpus_shingles = shingles(corpus.split())


def shared(text):
    return bool(shared_with(text, corpus, corpus_shingles))


def read(path):
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def write(path, rows):
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")


dropped = set()  # "probes3-evalA-0-p012": a pair, by its writer file and number
for path in map(Path, sys.argv[1:]):
    rows = read(path)
    if all("id" in r for r in rows):  # pairs ("p012a", "p012b"): a shared remark takes its pair with it
        bad = {r["id"][:-1] for r in rows if shared(r["text"])}
        keep = [r for r in rows if r["id"][:-1] not in bad]
        dropped |= {f"{path.stem}-{p}" for p in bad}
        print(f"{path}: {len(bad)} pairs dropped, {len(keep) // 2} kept")
    else:  # single remarks
        keep = [r for r in rows if not shared(r["text"])]
        print(f"{path}: {len(rows) - len(keep)} remarks dropped, {len(keep)} kept")
    write(path, keep)
# the second labellings hold both writers' remarks of a set, ids "<writer file>-<pair><a|b>"
for relabel in sorted({p.with_name(f"relabel-{p.stem.rsplit('-', 1)[0]}-{k}.jsonl") for p in map(Path, sys.argv[1:])
                       for k in range(10)}):
    if relabel.exists():
        rr = read(relabel)
        kept = [r for r in rr if r["id"][:-1] not in dropped]
        write(relabel, kept)
        print(f"{relabel}: {len(rr) - len(kept)} remarks dropped, {len(kept)} kept")
