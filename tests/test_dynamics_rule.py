"""The rule that sets note density and loudness from pace (or motion) and emotion (no trained regression)."""

from __future__ import annotations

import logging

import numpy as np
import pytest

from video2music.compose.dynamics import RuleDynamics
from video2music.features import VideoFeatures
from video2music.model.dynamics_rule import DENSITY_ANCHORS, PACE_ANCHORS, gaussian_smooth, rule_dynamics
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


def test_pace_sets_density_through_its_anchors_and_motion_is_not_read():
    T = 20
    emotion = one_hot("neutral", T)
    steady = np.full(T, PACE_ANCHORS[2])
    still_motion = rule_dynamics(np.zeros(T), emotion, pace=steady)
    assert np.allclose(still_motion[0], DENSITY_ANCHORS[2], atol=1e-5)
    # A cut's motion spike (what MuVi-Sync's motion gives) changes nothing once pace is known.
    spiky = np.full(T, 2.0)
    spiky[10] = 90.0
    offsets = np.concatenate([np.arange(10), np.arange(10)])
    spiky_motion = rule_dynamics(spiky, emotion, offsets, pace=steady)
    assert all(np.array_equal(a, b) for a, b in zip(spiky_motion, still_motion, strict=True))
    d_still, l_still = rule_dynamics(np.zeros(T), emotion, pace=np.zeros(T))
    d_busy, l_busy = rule_dynamics(np.zeros(T), emotion, pace=np.full(T, PACE_ANCHORS[-1]))
    assert np.allclose(d_still, DENSITY_ANCHORS[0]) and np.allclose(d_busy, DENSITY_ANCHORS[-1])
    assert np.all(l_busy > l_still + 0.4)


@pytest.mark.parametrize(
    "pace", [np.zeros(4), np.full(5, -0.1), np.array([0, 0.1, np.nan, 0, 0]), np.zeros((5, 1))]
)
def test_bad_pace_is_a_user_error(pace):
    with pytest.raises(UserError, match="pace must be"):
        rule_dynamics(np.zeros(5), np.full((5, 6), 1 / 6), pace=pace)


def _features(pace) -> VideoFeatures:
    T = 12
    motion = np.full(T, 3.0, dtype=np.float32)
    motion[6] = 80.0  # a cut
    return VideoFeatures(
        duration=float(T),
        fps=25.0,
        semantic=None,
        emotion=mixed_emotion(T, 5),
        scene_offset=np.concatenate([np.arange(6), np.arange(6)]),
        scene_cuts=[6.0],
        motion=motion,
        backend="basic",
        pace=pace,
    )


def test_rule_part_follows_pace_and_falls_back_to_motion_for_older_features(caplog):
    with_pace = _features(np.linspace(0.0, 0.3, 12))
    density, loudness = RuleDynamics()(with_pace)
    expected = rule_dynamics(with_pace.motion, with_pace.emotion, with_pace.scene_offset, pace=with_pace.pace)
    assert np.array_equal(density, expected[0]) and np.array_equal(loudness, expected[1])
    assert density[-1] > 2 * density[0]
    older = _features(None)
    with caplog.at_level(logging.WARNING, logger="video2music.compose.dynamics"):
        density, loudness = RuleDynamics()(older)
    assert "no pace" in caplog.text
    expected = rule_dynamics(older.motion, older.emotion, older.scene_offset)
    assert np.array_equal(density, expected[0]) and np.array_equal(loudness, expected[1])
