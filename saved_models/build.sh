#!/usr/bin/env bash
# Rebuild the shipped checkpoints from scratch: the music21 corpus, the debug and default
# transformers, their held-out metrics, and the copies in saved_models/. CPU is enough
# (about 25 minutes on 2 cores); pass DEVICE=cuda to train on a GPU.
# The model cards (MODEL_CARD.md) quote these files' numbers; update them after a rebuild.
# Usage: saved_models/build.sh [default|debug|all]   (run from anywhere; default: all)
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-.venv/bin/python}
DEVICE=${DEVICE:-cpu}
WHICH=${1:-all}
DATA=dataset/corpus
INPUTS=scene_offset,motion,emotion  # no CLIP: the corpus has no pictures

"$PY" -m video2music.commands.corpus --out "$DATA" --no-progress

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
