#!/usr/bin/env bash
# Rebuild the shipped checkpoints from scratch: the music21 corpus, the debug and default
# transformers, their held-out metrics, and the copies in saved_models/; the melody model from
# POP909's melodies (the compact file in dataset/, on one CPU thread). CPU is enough (about 25
# minutes on 2 cores for the transformers, 10-35 for the melody); pass DEVICE=cuda to train the
# transformers on a GPU. The model cards (MODEL_CARD.md) quote these files' numbers; update them
# after a rebuild.
# Usage: saved_models/build.sh [default|debug|melody|all]   (run from anywhere; default: all)
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-.venv/bin/python}
DEVICE=${DEVICE:-cpu}
WHICH=${1:-all}
DATA=dataset/corpus
INPUTS=scene_offset,motion,emotion  # no CLIP: the corpus has no pictures
POP909=dataset/pop909_derived.tsv.gz

if [[ $WHICH != melody ]]; then
    "$PY" -m video2music.commands.corpus --out "$DATA" --no-progress
fi

train_and_ship() {  # name, then train.py size options
    local name=$1
    shift
    "$PY" train.py --data "$DATA" --out "runs/corpus-$name" --inputs "$INPUTS" --device "$DEVICE" \
        --seed 0 --overwrite --no-progress "$@"
    "$PY" evaluate.py --checkpoint "runs/corpus-$name/best.pt" --data "$DATA" --split test \
        --device "$DEVICE" --json "runs/corpus-$name/test.json" --overwrite --no-progress
    mkdir -p "saved_models/$name"
    cp "runs/corpus-$name/best.pt" "saved_models/$name/amt.pt"
    cp "runs/corpus-$name/test.json" "saved_models/$name/test_metrics.json"
    cp "runs/corpus-$name/log.csv" "saved_models/$name/train_log.csv"
    "$PY" saved_models/emotion_probe.py "saved_models/$name/amt.pt" --json "saved_models/$name/emotion_probe.json"
}

if [[ $WHICH == debug || $WHICH == all ]]; then
    train_and_ship debug --size debug --epochs 6 --lr 2e-3 --warmup 40 --batch-size 8
fi
if [[ $WHICH == default || $WHICH == all ]]; then
    train_and_ship default --layers 2 --d-model 128 --heads 4 --ff 256 --epochs 24 --lr 6e-4 \
        --warmup 120 --batch-size 8
fi
if [[ $WHICH == melody || $WHICH == all ]]; then
    # One thread: the melody GRU is small, and the machine is shared.
    OMP_NUM_THREADS=1 "$PY" train.py --task melody --data "$POP909" --out runs/melody --seed 0 \
        --epochs 20 --batch-size 32 --window 256 --warmup 100 --overwrite --no-progress
    OMP_NUM_THREADS=1 "$PY" evaluate.py --checkpoint runs/melody/best.pt --data "$POP909" --split test \
        --json runs/melody/test.json --overwrite --no-progress
    mkdir -p saved_models/melody
    cp runs/melody/best.pt saved_models/melody/melody.pt
    cp runs/melody/test.json saved_models/melody/test_metrics.json
    cp runs/melody/log.csv saved_models/melody/train_log.csv
fi
