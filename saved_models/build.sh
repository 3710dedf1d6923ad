#!/usr/bin/env bash
# Rebuild the shipped checkpoints from scratch: the corpora, the default (pop, POP909), chorale
# (music21 chorales and madrigals) and debug transformers, their held-out metrics (with the
# repeat-previous and chord-bigram baselines), and the copies in saved_models/. CPU is enough:
# default takes about 45 minutes on one thread (OMP_NUM_THREADS=1), chorale about 17 minutes
# and debug 3 minutes on 2 cores; pass DEVICE=cuda to train on a GPU.
# The model cards (MODEL_CARD.md) quote these files' numbers; update them after a rebuild.
# Usage: saved_models/build.sh [default|chorale|debug|all]   (run from anywhere; default: all)
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-.venv/bin/python}
DEVICE=${DEVICE:-cpu}
WHICH=${1:-all}
CHORALES=dataset/corpus
POP=dataset/pop909
INPUTS=scene_offset,motion,emotion  # no CLIP: the corpora have no pictures

wants() { [[ $WHICH == "$1" || $WHICH == all ]]; }

train_and_ship() {  # name, data, then train.py size options
    local name=$1 data=$2
    shift 2
    "$PY" train.py --data "$data" --out "runs/corpus-$name" --inputs "$INPUTS" --device "$DEVICE" \
        --seed 0 --overwrite --no-progress "$@"
    "$PY" evaluate.py --checkpoint "runs/corpus-$name/best.pt" --data "$data" --split test --baselines \
        --device "$DEVICE" --json "runs/corpus-$name/test.json" --overwrite --no-progress
    mkdir -p "saved_models/$name"
    cp "runs/corpus-$name/best.pt" "saved_models/$name/amt.pt"
    cp "runs/corpus-$name/test.json" "saved_models/$name/test_metrics.json"
    cp "runs/corpus-$name/log.csv" "saved_models/$name/train_log.csv"
    "$PY" saved_models/emotion_probe.py "saved_models/$name/amt.pt" --json "saved_models/$name/emotion_probe.json"
}

if wants chorale || wants debug; then
    "$PY" -m video2music.commands.corpus --out "$CHORALES" --no-progress
fi
if wants default; then
    # From the compact POP909 file in the repository (no raw POP909 needed).
    "$PY" -m video2music.data.pop909 --source dataset/pop909_derived.tsv.gz --out "$POP" --overwrite
fi

if wants debug; then
    train_and_ship debug "$CHORALES" --size debug --epochs 6 --lr 2e-3 --warmup 40 --batch-size 8
fi
if wants chorale; then
    train_and_ship chorale "$CHORALES" --layers 2 --d-model 128 --heads 4 --ff 256 --epochs 24 --lr 6e-4 \
        --warmup 120 --batch-size 8
fi
if wants default; then
    train_and_ship default "$POP" --layers 3 --d-model 192 --heads 4 --ff 384 --epochs 12 --lr 6e-4 \
        --warmup 150 --batch-size 8
fi
