"""The key of a piece when the user names none: the mode from the mood, the tonic as pop uses it."""

from __future__ import annotations

import math

import numpy as np

from video2music.theory import harmony, vocab

_NEGATIVE = [vocab.EMOTIONS.index(e) for e in ("fearful", "tense", "sad")]
_POSITIVE = [vocab.EMOTIONS.index(e) for e in ("exciting", "relaxing")]
# Minor is drawn with probability sigmoid((margin - MINOR_MIDPOINT) / MINOR_WIDTH), the margin being
# the video's mean negative emotion less its mean positive emotion. Calibrated on 60 synthetic
# clips of the basic backend (five hues from red to grey, three brightnesses, still or panning,
# with and without cuts: margins -0.92 to 0.91) and the bundled clips (0.24 to 0.91): minor for
# 46% of the synthetic set, 89% of its dark clips, 49% of the mid-bright and under 1% of the
# bright ones; margin 0 as the threshold had made 67% of them minor, and every bundled clip.
MINOR_MIDPOINT = 0.35
MINOR_WIDTH = 0.15


def minor_probability(emotion: np.ndarray) -> float:
    """How likely the piece is in minor for the video's per-second ``emotion`` (T, 6)."""
    mean = np.asarray(emotion, dtype=float).mean(axis=0)
    margin = float(mean[_NEGATIVE].sum() - mean[_POSITIVE].sum())
    return 1.0 / (1.0 + math.exp(-(margin - MINOR_MIDPOINT) / MINOR_WIDTH))


def choose_key(emotion: np.ndarray, seed: int = 0, video_digest: int = 0) -> vocab.Key:
    """The key when none is asked for.

    The mode follows the mood: minor more often the more the video's negative emotions (fearful,
    tense, sad) outweigh its positive ones (exciting, relaxing), ``minor_probability``. The mode and
    the tonic (drawn as often as pop songs use each, ``harmony.TONIC_COUNTS``, from POP909) come from
    a generator seeded by ``seed`` and the video, so a video keeps its key for a seed while two
    videos rarely share one. Ask for a key with ``key=``.
    """
    rng = np.random.default_rng([seed % 2**32, video_digest])
    mode = harmony.MINOR if rng.random() < minor_probability(emotion) else harmony.MAJOR
    counts = np.asarray(harmony.TONIC_COUNTS[mode], dtype=float)
    tonic = rng.choice(12, p=counts / counts.sum())
    return vocab.Key(int(tonic), "minor" if mode == harmony.MINOR else "major")
