"""The rule that sets note density and loudness from motion and emotion (no trained regression)."""

from __future__ import annotations

import numpy as np
import pytest

from video2music.model.dynamics_rule import DENSITY_ANCHORS, gaussian_smooth, rule_dynamics
from video2music.theory import vocab
from video2music.utils.errors import UserError


def one_hot(name: str, T: int) -> np.ndarray:
    emotion = np.zeros((T, len(vocab.EMOTIONS)), dtype=np.float32)
    emotion[:, vocab.EMOTIONS.index(name)] = 1.0
    return emotion


def mixed_emotion(T: int, seed: int = 0) -> np.ndarray:
    rows = np.random.default_rng(seed).random((T, len(vocab.EMOTIONS)))
    return (rows / rows.sum(axis=1, keepdims=True)).astype(np.float32)


def test_shapes_types_and_ranges():
    T = 40
    motion = np.random.default_rng(1).uniform(0, 60, T).astype(np.float32)
    density, loudness = rule_dynamics(motion, mixed_emotion(T))
    assert density.shape == loudness.shape == (T,)
    assert density.dtype == loudness.dtype == np.float32
    assert np.all(density > 0) and np.all(density <= DENSITY_ANCHORS[-1] * 1.25 + 1e-5)
    assert np.all(loudness >= 0) and np.all(loudness <= 1)


def test_more_motion_never_fewer_notes_or_softer():
    T = 30
    rng = np.random.default_rng(2)
    emotion = mixed_emotion(T, 3)
    low = rng.uniform(0, 10, T)
    high = low + rng.uniform(0, 15, T)
    d_low, l_low = rule_dynamics(low, emotion)
    d_high, l_high = rule_dynamics(high, emotion)
    assert np.all(d_high >= d_low - 1e-6) and np.all(l_high >= l_low - 1e-6)
    # and the difference is real, not a flat function
    still, _ = rule_dynamics(np.zeros(T), emotion)
    busy, _ = rule_dynamics(np.full(T, 20.0), emotion)
    assert busy.mean() > 2.5 * still.mean()


def test_arousal_raises_loudness_and_density():
    T = 20
    motion = np.full(T, 4.0)
    d_sad, l_sad = rule_dynamics(motion, one_hot("sad", T))
    d_exc, l_exc = rule_dynamics(motion, one_hot("exciting", T))
    d_neu, l_neu = rule_dynamics(motion, one_hot("neutral", T))
    assert np.all(l_exc > l_neu) and np.all(l_neu > l_sad)
    assert np.all(d_exc > d_neu) and np.all(d_neu > d_sad)
    # steady input gives a steady output: the quantile anchor for moderate motion
    assert np.allclose(d_neu, DENSITY_ANCHORS[2], atol=1e-5)


def test_deterministic_and_smooth():
    T = 60
    motion = np.where(np.arange(T) % 10 < 5, 0.0, 20.0)  # square wave
    emotion = mixed_emotion(T, 4)
    first = rule_dynamics(motion, emotion)
    second = rule_dynamics(motion.copy(), emotion.copy())
    assert all(np.array_equal(a, b) for a, b in zip(first, second, strict=True))
    raw_step = DENSITY_ANCHORS[-1] - DENSITY_ANCHORS[0]
    assert np.abs(np.diff(first[0])).max() < 0.5 * raw_step


def test_cut_spike_is_ignored_with_scene_offsets():
    T = 20
    motion = np.full(T, 2.0)
    motion[10] = 90.0  # a hard cut, as examples/testvideo.mp4 gives
    offsets = np.concatenate([np.arange(10), np.arange(10)])
    emotion = one_hot("neutral", T)
    with_cuts, _ = rule_dynamics(motion, emotion, offsets)
    without, _ = rule_dynamics(motion, emotion)
    steady, _ = rule_dynamics(np.full(T, 2.0), emotion)
    assert np.allclose(with_cuts, steady)
    assert without[10] > steady[10] + 1


def test_smoother_keeps_constants_and_edges():
    values = np.full((7, 3), 0.25)
    assert np.allclose(gaussian_smooth(values, 2.0), 0.25)
    ramp = np.arange(10, dtype=float)
    smoothed = gaussian_smooth(ramp, 1.0)
    assert np.allclose(smoothed[3:7], ramp[3:7]) and smoothed[0] > 0


@pytest.mark.parametrize(
    ("motion", "emotion", "offsets", "message"),
    [
        (np.zeros(0), np.zeros((0, 6)), None, "motion must be"),
        (np.zeros((5, 1)), np.full((5, 6), 1 / 6), None, "motion must be"),
        (np.zeros(5), np.full((4, 6), 1 / 6), None, "emotion must be"),
        (np.zeros(5), np.full((5, 5), 1 / 5), None, "emotion must be"),
        (np.array([0, 1, np.nan, 2, 3.0]), np.full((5, 6), 1 / 6), None, "finite"),
        (np.full(5, -1.0), np.full((5, 6), 1 / 6), None, "0-255"),
        (np.full(5, 300.0), np.full((5, 6), 1 / 6), None, "0-255"),
        (np.zeros(5), np.full((5, 6), 0.5), None, "sum to 1"),
        (np.zeros(5), np.full((5, 6), 1 / 6), np.arange(4), "scene_offset"),
        (np.zeros(5), np.full((5, 6), 1 / 6), np.array([0, 1, -1, 0, 1]), "scene_offset"),
    ],
)
def test_bad_input_is_a_user_error(motion, emotion, offsets, message):
    with pytest.raises(UserError, match=message):
        rule_dynamics(motion, emotion, offsets)
