"""Does a shipped model follow the emotion input? Decode synthetic timelines that differ only in
their emotion and compare the share of minor-family chords (vocab.MINOR_FAMILY).

Each timeline is 40 s of moderate motion (4, the dynamics rule's median anchor) with a scene cut
every 8 s; its emotion puts 0.8 on one label and 0.04 on each other. The same seeds decode every
emotion, with the mode bit fixed (major, then minor) so only the emotion differs, and no emotion
guidance (the model alone).

Usage: .venv/bin/python saved_models/emotion_probe.py saved_models/default/amt.pt [--json out.json]
"""

from __future__ import annotations

import argparse
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from video2music.model.checkpoint import load_checkpoint
from video2music.model.decode import DecodeOptions, decode_chords
from video2music.model.inputs import build_video_input
from video2music.theory import vocab
from video2music.utils.fileio import atomic_output

SECONDS = 40
SCENE_SECONDS = 8
SEEDS = range(10)
PROBED = ("exciting", "relaxing", "sad", "fearful", "tense")


@dataclass
class Timeline:
    """The attributes build_video_input reads, for a video that does not exist."""

    emotion: np.ndarray
    motion: np.ndarray
    scene_offset: np.ndarray
    semantic: None = None


def timeline(emotion_name: str) -> Timeline:
    emotion = np.full((SECONDS, len(vocab.EMOTIONS)), 0.04, dtype=np.float32)
    emotion[:, vocab.EMOTIONS.index(emotion_name)] = 0.8
    offsets = np.arange(SECONDS) % SCENE_SECONDS
    motion = np.where(offsets == 0, 45.0, 4.0).astype(np.float32)
    motion[0] = 0.0
    return Timeline(emotion, motion, offsets.astype(np.int64))


def minor_share(chords: list[int]) -> float:
    return float(np.mean([vocab.chord_quality(c) in vocab.MINOR_FAMILY for c in chords]))


def probe(path: Path) -> dict:
    torch.set_num_threads(2)
    model = load_checkpoint(path).model.eval()
    results: dict = {}
    for mode_bit, mode in ((0, "major"), (1, "minor")):
        for name in PROBED:
            features = timeline(name)
            video = build_video_input(features, model.config.inputs)
            shares = [
                minor_share(decode_chords(model, video, mode_bit, DecodeOptions(seed=seed), features.emotion))
                for seed in SEEDS
            ]
            results[f"{mode}/{name}"] = round(float(np.mean(shares)), 3)
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("checkpoint", type=Path)
    parser.add_argument("--json", type=Path, help="also write the shares here")
    args = parser.parse_args()
    results = probe(args.checkpoint)
    for key, share in results.items():
        print(f"{key:16s} minor-family share {share:.3f}")
    if args.json:
        with atomic_output(args.json, overwrite=True) as tmp:
            tmp.write_text(json.dumps(results, indent=1) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
