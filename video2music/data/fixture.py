"""A small synthetic dataset in the exact MuVi-Sync layout, with structure a model can learn.

Each video is a series of scenes; each scene has one dominant emotion (probability >= 0.8) and
the chords follow a progression chosen by that emotion and the video's mode, one chord every
two seconds counted from the scene's start — so chords change at scene cuts, sad seconds get
minor-family chords, exciting ones major/7/sus4 chords, and every chord quality fits the
affective table. Motion spikes at cuts; note density and loudness follow the emotion and the
motion. Optional semantic features are a fixed direction per emotion plus noise.

Tests train on it (a tiny model must overfit it) and exercise the reader on real files.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from video2music.data.muvisync import MuViSyncVideo, write_split, write_video
from video2music.theory import vocab
from video2music.utils.timeline import SEMANTIC_DIM, cut_seconds

# Chord labels per (mode, emotion); every quality is one the affective table allows for the
# emotion (neutral allows anything), and the two modes differ so the mode bit matters.
PROGRESSIONS: dict[tuple[str, str], tuple[str, ...]] = {
    ("major", "exciting"): ("C", "G:7", "F", "G:sus4"),
    ("major", "fearful"): ("B:hdim7", "G#:dim7", "D:min7", "B:dim"),
    ("major", "tense"): ("E:7", "B:dim", "D:min7", "G:sus4"),
    ("major", "sad"): ("A:min", "D:min7", "E:min", "C:sus2"),
    ("major", "relaxing"): ("C:maj7", "F:maj7", "C:maj6", "G"),
    ("major", "neutral"): ("C", "F", "G", "A:min"),
    ("minor", "exciting"): ("E:7", "C", "G", "D:sus4"),
    ("minor", "fearful"): ("G#:dim7", "B:hdim7", "A:min7", "F#:dim"),
    ("minor", "tense"): ("B:dim", "E:sus4", "A:min7", "E:7"),
    ("minor", "sad"): ("A:min", "D:min", "E:min7", "A:sus2"),
    ("minor", "relaxing"): ("F:maj7", "C", "F:maj6", "G"),
    ("minor", "neutral"): ("A:min", "F", "C", "G"),
}
CHORD_SECONDS = 2  # each chord of a progression lasts two seconds
_DENSITY = {"exciting": 8.0, "fearful": 4.0, "tense": 6.0, "sad": 2.0, "relaxing": 3.0, "neutral": 4.0}
_LOUDNESS = {"exciting": 0.30, "fearful": 0.12, "tense": 0.22, "sad": 0.08, "relaxing": 0.10, "neutral": 0.15}


def fixture_video(
    video_id: str, seconds: int, rng: np.random.Generator, semantic: bool = False
) -> MuViSyncVideo:
    """One synthetic video of ``seconds`` seconds drawn from ``rng``."""
    mode = "minor" if rng.random() < 0.5 else "major"
    emotion_index = np.zeros(seconds, dtype=np.int64)
    offset = np.zeros(seconds, dtype=np.int64)
    start, previous = 0, -1
    while start < seconds:
        length = int(rng.integers(4, 11))
        choice = int(rng.choice([e for e in range(len(vocab.EMOTIONS)) if e != previous]))
        emotion_index[start : start + length] = choice
        offset[start : start + length] = np.arange(min(length, seconds - start))
        start, previous = start + length, choice

    top = rng.uniform(0.82, 0.95, size=seconds)
    rest = rng.dirichlet(np.ones(len(vocab.EMOTIONS) - 1), size=seconds) * (1 - top)[:, None]
    emotion = np.zeros((seconds, len(vocab.EMOTIONS)))
    for t, e in enumerate(emotion_index):
        emotion[t] = np.insert(rest[t], e, top[t])

    names = [vocab.EMOTIONS[e] for e in emotion_index]
    chords = np.array(
        [
            vocab.parse_chord(PROGRESSIONS[mode, name][(o // CHORD_SECONDS) % len(PROGRESSIONS[mode, name])])
            for name, o in zip(names, offset, strict=True)
        ]
    )
    cut = np.isin(np.arange(seconds), cut_seconds(offset))
    motion = np.where(cut, rng.uniform(60, 120, seconds), rng.uniform(2, 15, seconds))
    motion[0] = 0.0
    density = np.array([_DENSITY[n] for n in names]) + motion / 40 + rng.normal(0, 0.2, seconds)
    loudness = np.array([_LOUDNESS[n] for n in names]) + rng.normal(0, 0.01, seconds)
    semantic_array = None
    if semantic:
        # Fixed per-emotion directions (independent of rng) so every video shares them.
        directions = np.random.default_rng(12345).normal(0, 1, (len(vocab.EMOTIONS), SEMANTIC_DIM))
        semantic_array = (directions[emotion_index] + rng.normal(0, 0.3, (seconds, SEMANTIC_DIM))).astype(
            np.float32
        )
    return MuViSyncVideo(
        video_id=video_id,
        key="A minor" if mode == "minor" else "C major",
        chords=chords.astype(np.int64),
        emotion=emotion.astype(np.float32),
        motion=motion.astype(np.float32),
        scene_offset=offset,
        loudness=np.clip(loudness, 0, None).astype(np.float32),
        note_density=np.clip(density, 0, None).astype(np.float32),
        semantic=semantic_array,
    )


def write_fixture(
    root: str | os.PathLike,
    split_sizes: dict[str, int] | None = None,
    seconds: Sequence[int] = (20, 40),
    seed: int = 0,
    semantic: bool = False,
    overwrite: bool = False,
) -> dict[str, list[str]]:
    """Write a synthetic dataset to ``root`` in the MuVi-Sync layout; returns the split ids.

    ``split_sizes`` defaults to 12 train, 4 val and 4 test videos; each video lasts between
    ``seconds[0]`` and ``seconds[1]`` seconds (inclusive).
    """
    split_sizes = split_sizes or {"train": 12, "val": 4, "test": 4}
    rng = np.random.default_rng(seed)
    root = Path(root)
    splits: dict[str, list[str]] = {}
    number = 0
    for split, size in split_sizes.items():
        splits[split] = []
        for _ in range(size):
            number += 1
            video_id = f"{number:03d}"
            length = int(rng.integers(seconds[0], seconds[1] + 1))
            write_video(root, fixture_video(video_id, length, rng, semantic), overwrite=overwrite)
            splits[split].append(video_id)
        write_split(root, split, splits[split], overwrite=overwrite)
    return splits
