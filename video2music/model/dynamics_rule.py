"""Note density and loudness per second from a video's pace (or motion) and emotion, by rule.

Without paired music and video there is nothing to train the regression on, so by default the
dynamics follow a documented rule (a trained regression checkpoint replaces it when given).

The rule, in the spirit of CMT (Di et al. 2021, which maps video motion speed to note density
through quantiles of its training data):
1. The video's activity is its pace (``features.pace``: movement plus the cut rate, in picture
   widths per second), which cuts and fades do not spike. Features saved before pace existed
   have only motion (MuVi-Sync's mean absolute RGB difference, 0-255, across each second
   boundary); the rule then reads motion, and at a scene cut (where ``scene_offset`` restarts at
   0) takes the motion of the second before it, since a cut's motion measures the cut.
2. The activity is mapped piecewise-linearly through matched quantile anchors: ``PACE_ANCHORS``
   (or ``MOTION_ANCHORS``) are the levels of still, calm, moderate, busy and very busy footage
   (assumed quantiles 5/25/50/75/95 of video away from cuts), and ``DENSITY_ANCHORS`` the note
   onsets per second at the same quantiles of the built-in corpus (measured: 1, 4, 7, 10, 13).
   The pace anchors (0, 0.01, 0.04, 0.12, 0.4 widths/s) are the motion anchors carried over
   by measurement: a frame of examples/testvideo.mp4, enlarged 1.25 times and panned through a
   1280x720 window (H.264) at 10, 30 and 100 px/s, gives motion 1.1, 3.2 and 7.3 and pace 0.007,
   0.023 and 0.079; stretched 2.5 times wide (smoother) and panned at 300 and 600 px/s, motion
   7.9 and 16.8 and pace 0.24 and 0.46. Motion grows slower than speed (the difference of two
   frames saturates), so 9 and 20 sit between those readings. data/music21_corpus.py uses the
   motion anchors, inverted, to give its music a video-like motion, so the rule and the shipped
   models agree.
3. Arousal from the emotion probabilities (Russell's circumplex: exciting, tense and fearful are
   high arousal, sad and relaxing low, neutral in between), ``a`` in -1..1, scales density by
   ``1 + 0.25 a`` and adds to loudness.
4. Loudness (0-1) = 0.1 + 0.45 * the activity's quantile level (0-1) + 0.3 * (a + 1) / 2, so it
   spans about 0.1 (still, calm: -20 dBFS, the level of quiet pop in MuVi-Sync) to 0.85 (very
   busy, exciting), wide enough that a calm video and a busy one differ by more than 6 dB.
5. Both are smoothed with a Gaussian (sigma ``SMOOTH_SECONDS``) so they breathe rather than jump.

Everything is a pointwise non-decreasing function of the activity followed by a positive linear
filter, so more pace (or motion) never gives fewer notes or a softer second, and the output is a
deterministic function of the inputs.
"""

from __future__ import annotations

import numpy as np

from video2music.theory import vocab
from video2music.utils.errors import UserError
from video2music.utils.timeline import cut_seconds

MOTION_ANCHORS = (0.0, 1.0, 4.0, 9.0, 20.0)
PACE_ANCHORS = (0.0, 0.01, 0.04, 0.12, 0.4)
DENSITY_ANCHORS = (1.0, 4.0, 7.0, 10.0, 13.0)
_ACTIVITY_LEVELS = (0.0, 0.25, 0.5, 0.75, 1.0)
AROUSAL = {"exciting": 1.0, "fearful": 0.8, "tense": 0.7, "sad": -0.8, "relaxing": -0.7, "neutral": 0.0}
DENSITY_AROUSAL_GAIN = 0.25
SMOOTH_SECONDS = 1.5


def gaussian_smooth(values: np.ndarray, sigma: float) -> np.ndarray:
    """Smooth along axis 0 with a Gaussian of ``sigma`` seconds, renormalised at the edges."""
    values = np.asarray(values, dtype=np.float64)
    radius = int(np.ceil(3 * sigma))
    kernel = np.exp(-0.5 * (np.arange(-radius, radius + 1) / sigma) ** 2)
    T = len(values)
    out = np.zeros_like(values)
    norm = np.zeros(T)
    for shift, k in zip(range(-radius, radius + 1), kernel, strict=True):
        lo, hi = max(0, -shift), min(T, T - shift)
        if hi > lo:
            out[lo:hi] += k * values[lo + shift : hi + shift]
            norm[lo:hi] += k
    return out / norm.reshape((-1,) + (1,) * (values.ndim - 1))


def arousal(emotion: np.ndarray) -> np.ndarray:
    """(T,) arousal in -1..1: the emotion probabilities weighted by ``AROUSAL``."""
    weights = np.array([AROUSAL[name] for name in vocab.EMOTIONS])
    return np.asarray(emotion, dtype=np.float64) @ weights


def _check(motion, emotion, scene_offset, pace) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    motion = np.asarray(motion, dtype=np.float64)
    emotion = np.asarray(emotion, dtype=np.float64)
    if motion.ndim != 1 or len(motion) == 0:
        raise UserError(f"motion must be one value per second (T,), got shape {motion.shape}")
    T = len(motion)
    if emotion.shape != (T, len(vocab.EMOTIONS)):
        raise UserError(
            f"emotion must be (T, {len(vocab.EMOTIONS)}) = ({T}, {len(vocab.EMOTIONS)}) to match motion, "
            f"got {emotion.shape}"
        )
    if not (np.isfinite(motion).all() and np.isfinite(emotion).all()):
        raise UserError("motion and emotion must be finite numbers; re-extract the video features")
    if motion.min() < 0 or motion.max() > 255:
        raise UserError("motion must lie in 0-255 (mean absolute RGB difference); re-extract the features")
    if emotion.min() < 0 or np.abs(emotion.sum(axis=1) - 1).max() > 0.02:
        raise UserError("emotion rows must be probabilities that sum to 1; re-extract the features")
    if pace is not None:
        pace = np.asarray(pace, dtype=np.float64)
        if pace.shape != (T,) or not np.isfinite(pace).all() or pace.min() < 0:
            raise UserError(
                f"pace must be (T,) = ({T},) finite values >= 0 (picture widths per second), "
                f"got shape {pace.shape}; re-extract the features"
            )
        return pace, emotion, None
    if scene_offset is None:
        return motion, emotion, None
    offsets = np.asarray(scene_offset)
    if offsets.shape != (T,) or not np.isfinite(offsets).all() or offsets.min() < 0:
        raise UserError(f"scene_offset must be (T,) = ({T},) whole seconds >= 0, got shape {offsets.shape}")
    return motion, emotion, offsets


def rule_dynamics(
    motion: np.ndarray,
    emotion: np.ndarray,
    scene_offset: np.ndarray | None = None,
    pace: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Per-second (note density in notes/s, loudness 0-1) as float32 arrays of length T.

    ``motion`` (T,) 0-255, ``emotion`` (T, 6) and ``pace`` (T,) widths/s as VideoFeatures hold
    them. With ``pace`` the rule follows it and motion is only checked; without it (features
    saved before pace existed) the rule follows motion, and ``scene_offset`` (T,) lets it ignore
    the motion spike that a cut produces.
    """
    activity, emotion, offsets = _check(motion, emotion, scene_offset, pace)
    anchors = MOTION_ANCHORS if pace is None else PACE_ANCHORS
    activity = activity.copy()
    if offsets is not None:
        for t in cut_seconds(offsets):
            activity[t] = activity[t - 1]
    a = arousal(emotion)
    density = np.interp(activity, anchors, DENSITY_ANCHORS) * (1.0 + DENSITY_AROUSAL_GAIN * a)
    level = np.interp(activity, anchors, _ACTIVITY_LEVELS)
    loudness = 0.1 + 0.45 * level + 0.3 * (a + 1.0) / 2.0
    density = gaussian_smooth(density, SMOOTH_SECONDS)
    loudness = np.clip(gaussian_smooth(loudness, SMOOTH_SECONDS), 0.0, 1.0)
    return density.astype(np.float32), loudness.astype(np.float32)
