"""The key of a piece when the user names none: the mode from the mood, the tonic as pop uses it."""

from __future__ import annotations

import numpy as np

from video2music.theory import harmony, vocab

_NEGATIVE = [vocab.EMOTIONS.index(e) for e in ("fearful", "tense", "sad")]
_POSITIVE = [vocab.EMOTIONS.index(e) for e in ("exciting", "relaxing")]


def choose_key(emotion: np.ndarray, seed: int = 0, video_digest: int = 0) -> vocab.Key:
    """The key when none is asked for.

    The mode follows the mood: minor if the video's negative emotions (fearful, tense, sad)
    outweigh its positive ones (exciting, relaxing) on average, else major. The tonic is drawn,
    as often as pop songs use each (``harmony.TONIC_COUNTS``, from POP909), from a generator
    seeded by ``seed`` and the video, so a video keeps its key for a seed while two videos
    rarely share one. Ask for a key with ``key=``.
    """
    mean = emotion.mean(axis=0)
    mode = harmony.MINOR if mean[_NEGATIVE].sum() > mean[_POSITIVE].sum() else harmony.MAJOR
    counts = np.asarray(harmony.TONIC_COUNTS[mode], dtype=float)
    tonic = np.random.default_rng([seed % 2**32, video_digest]).choice(12, p=counts / counts.sum())
    return vocab.Key(int(tonic), "minor" if mode == harmony.MINOR else "major")
