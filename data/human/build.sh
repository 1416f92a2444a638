#!/usr/bin/env bash
# Rebuild the labelled human-style sets (nlf.feedback/1 with labels) from the writers' annotations in
# annotations/: train.jsonl (writers train0…train5b, trainS*, trainP*, trainA*, trainI*, trainM*), train-pairs.jsonl (negation pairs on
# training runs, writers trainN0, trainN2…trainN9, trainQ0…trainQ5, trainT0…trainT5), train-rules.jsonl (general rules and event remarks on training
# runs, writers trainR0, trainR1), dev-pairs.jsonl (the same brief, writer trainN1: development flip probes, never trained
# on), dev-pairs2.jsonl (the same brief, writers pairsD0, pairsD1, on the development runs: more development flip
# probes), dev-pairs3.jsonl (writers pairsE0…pairsE3 on the development runs, a brief asking for sincere reversals of
# the verdict, never of the facts: making/PROBES3.md), evalA.jsonl, evalB.jsonl (sealed) and their
# hand-written negation pairs probes-evalA.jsonl, probes-evalB.jsonl, and probes3-evalA.jsonl, probes3-evalB.jsonl
# (sealed reversal pairs to PROBES3.md's brief, writers probes3-evalA-0 … probes3-evalB-1), and the third sealed set evalC.jsonl
# (writers evalC0, evalC1) with its reversal pairs probes3-evalC.jsonl. Every label is checked against the
# captions; a line that fails is reported and left out. dev.jsonl (writers dev*) is the tuning set: read its
# errors freely; it is never trained on. relabel-*.jsonl: second labellings of dev, evalA, evalB and
# the pair sets dev-pairs2, dev-pairs3, probes-evalA, probes-evalB, probes3-evalA, probes3-evalB, probes3-evalC.
set -euo pipefail
cd "$(dirname "$0")"
import() {  # annotation file, trajectory set, output
  local name; name="$(basename "$1" .jsonl)"
  nlf feedback import-labels "$1" -t "trajectories-$2.jsonl" --runs "runs-$2.json" --id-prefix "hs-$name" \
    --labeller "writer-$name" --skip-invalid --force --out "$3"
}
tmp="$(mktemp -d)"
trap 'rm -r "$tmp"' EXIT
for f in annotations/train*.jsonl; do import "$f" train "$tmp/$(basename "$f")"; done
cat "$tmp"/train[0-9]*.jsonl "$tmp"/trainS[0-9]*.jsonl "$tmp"/trainP[0-9]*.jsonl "$tmp"/trainA[0-9]*.jsonl \
  "$tmp"/trainI[0-9]*.jsonl "$tmp"/trainM[0-9]*.jsonl "$tmp"/trainL[0-9]*.jsonl "$tmp"/trainK[0-9]*.jsonl > train.jsonl
cat "$tmp"/trainN0.jsonl "$tmp"/trainN[2-9].jsonl "$tmp"/trainQ[0-9].jsonl "$tmp"/trainT[0-9].jsonl > train-pairs.jsonl
cat "$tmp"/trainN1.jsonl > dev-pairs.jsonl
cat "$tmp"/trainR[0-9]*.jsonl > train-rules.jsonl
for f in annotations/dev*.jsonl; do import "$f" dev "$tmp/$(basename "$f")"; done
cat "$tmp"/dev*.jsonl > dev.jsonl
for f in annotations/pairsD*.jsonl; do import "$f" dev "$tmp/$(basename "$f")"; done
cat "$tmp"/pairsD[0-9].jsonl > dev-pairs2.jsonl
for f in annotations/pairsE*.jsonl; do import "$f" dev "$tmp/$(basename "$f")"; done
cat "$tmp"/pairsE[0-9].jsonl > dev-pairs3.jsonl
for set in evalA evalB; do
  import "annotations/$set.jsonl" "$set" "$set.jsonl"
  import "annotations/probes-$set.jsonl" "$set" "probes-$set.jsonl"
  for f in annotations/probes3-"$set"-[0-9].jsonl; do import "$f" "$set" "$tmp/$(basename "$f")"; done
  cat "$tmp"/probes3-"$set"-[0-9].jsonl > "probes3-$set.jsonl"
done
# the third sealed set (2026-12-07): two writers (evalC0, evalC1), and reversal pairs by two more
for f in annotations/evalC[0-9].jsonl; do import "$f" evalC "$tmp/$(basename "$f")"; done
cat "$tmp"/evalC[0-9].jsonl > evalC.jsonl
for f in annotations/probes3-evalC-[0-9].jsonl; do import "$f" evalC "$tmp/$(basename "$f")"; done
cat "$tmp"/probes3-evalC-[0-9].jsonl > probes3-evalC.jsonl
# second labellings of dev, evalA and evalB (making/RELABEL.md): the same remarks and ids, labelled again by
# others who saw only the runs and the texts; scored with `nlf eval-interpreter --second-labels`
for name in dev0 dev1 evalA evalB; do
  set="${name%%[0-9]}"
  nlf feedback import-labels "annotations/relabel-$name.jsonl" -t "trajectories-$set.jsonl" --runs "runs-$set.json" \
    --id-prefix "hs-$name" --labeller "relabel-$name" --skip-invalid --force --out "$tmp/relabel-$name.jsonl"
done
cat "$tmp"/relabel-dev[0-9].jsonl > relabel-dev.jsonl
cp "$tmp/relabel-evalA.jsonl" relabel-evalA.jsonl
cp "$tmp/relabel-evalB.jsonl" relabel-evalB.jsonl
# second labellings of evalC (two labellers) and of the negation-pair sets (relabel_batches.py --pairs: no labeller
# saw both remarks of a pair): their ids are the originals' without "hs-"; scored with `nlf eval-interpreter
# --second-labels` and `--agreed-with`
for set in evalC dev-pairs2 dev-pairs3 probes-evalA probes-evalB probes3-evalA probes3-evalB probes3-evalC; do
  case "$set" in dev-pairs*) pool=dev ;; *) pool="${set##*-}" ;; esac
  for f in annotations/relabel-"$set"-[0-9].jsonl; do
    nlf feedback import-labels "$f" -t "trajectories-$pool.jsonl" --runs "runs-$pool.json" --id-prefix hs \
      --labeller "$(basename "$f" .jsonl)" --skip-invalid --force --out "$tmp/$(basename "$f")"
  done
  cat "$tmp"/relabel-"$set"-[0-9].jsonl > "relabel-$set.jsonl"
done
for set in train train-pairs train-rules dev evalA evalB evalC; do nlf feedback validate "$set.jsonl" -t "trajectories-${set%%-*}.jsonl"; done
for set in dev evalA evalB evalC; do nlf feedback validate "relabel-$set.jsonl" -t "trajectories-$set.jsonl"; done
for set in dev-pairs2 dev-pairs3; do nlf feedback validate "relabel-$set.jsonl" -t trajectories-dev.jsonl; done
for set in evalA evalB; do
  for p in probes probes3; do nlf feedback validate "relabel-$p-$set.jsonl" -t "trajectories-$set.jsonl"; done
  nlf feedback validate "probes3-$set.jsonl" -t "trajectories-$set.jsonl"
done
nlf feedback validate dev-pairs.jsonl -t trajectories-train.jsonl
nlf feedback validate dev-pairs2.jsonl -t trajectories-dev.jsonl
nlf feedback validate dev-pairs3.jsonl -t trajectories-dev.jsonl
