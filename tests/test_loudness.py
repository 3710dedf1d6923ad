"""The BS.1770 loudness and true-peak meter, against the standard's own figures, pyloudnorm and
scipy's polyphase resampler."""

from __future__ import annotations

import math

import numpy as np
import pytest

from video2music.audio.loudness import LoudnessMeter, k_weighting

RATE = 44100


def measure(samples: np.ndarray, rate: int = RATE, block: int | None = 4096) -> LoudnessMeter:
    meter = LoudnessMeter(rate)
    for start in range(0, len(samples), block or max(1, len(samples))):
        meter.add(samples[start : start + (block or len(samples))])
    return meter


def tone(
    frequency: float, seconds: float, amplitude: float, rate: int = RATE, phase: float = 0.0
) -> np.ndarray:
    return amplitude * np.sin(2 * np.pi * frequency * np.arange(round(seconds * rate)) / rate + phase)


def music_like(seconds: float, seed: int = 0) -> np.ndarray:
    """Stereo: a few decaying partials per half second over pink-ish noise, loud and soft passages."""
    rng = np.random.default_rng(seed)
    n = round(seconds * RATE)
    out = np.zeros((n, 2))
    t = np.arange(RATE // 2) / RATE
    for start in range(0, n - len(t), len(t)):
        notes = sum(np.sin(2 * np.pi * f * t) for f in rng.uniform(80, 3000, 4)) * np.exp(-4 * t)
        out[start : start + len(t)] += notes[:, None] * rng.uniform(0.02, 0.2) * rng.uniform(0.6, 1.0, 2)
    noise = np.cumsum(rng.normal(0, 1, (n, 2)), axis=0)
    noise -= np.convolve(noise[:, 0], np.ones(64) / 64, mode="same")[:, None]
    return out + 0.002 * noise / noise.std()


def test_the_filters_are_the_standards_at_48_khz():
    (shelf_b, shelf_a), (pass_b, pass_a) = k_weighting(48000)
    np.testing.assert_allclose(shelf_b, [1.53512485958697, -2.69169618940638, 1.19839281085285], atol=1e-9)
    np.testing.assert_allclose(shelf_a, [1.0, -1.69065929318241, 0.73248077421585], atol=1e-9)
    np.testing.assert_allclose(pass_b, [1.0, -2.0, 1.0])
    np.testing.assert_allclose(pass_a, [1.0, -1.99004745483398, 0.99007225036621], atol=1e-9)


@pytest.mark.parametrize("rate", [44100, 48000])
def test_a_full_scale_sine_in_one_channel_reads_minus_3_lufs(rate):
    # BS.1770-4: a 0 dBFS 997 Hz sine in the left (or right, or centre) channel reads -3.01 LKFS.
    left = tone(997, 5, 1.0, rate)
    meter = measure(np.stack([left, np.zeros_like(left)], axis=1), rate)
    assert meter.integrated() == pytest.approx(-3.01, abs=0.02)


def test_the_gates_leave_out_silence_and_quiet_passages():
    loud = np.stack([tone(997, 10, 0.5)] * 2, axis=1)
    alone = measure(loud).integrated()
    silence = np.zeros((10 * RATE, 2))
    # Ungated, the silence would take 4.8 LU off; the few blocks that hold both count (0.1 LU).
    assert measure(np.concatenate([silence, loud, silence])).integrated() == pytest.approx(alone, abs=0.2)
    # 30 dB down: above the absolute gate, but more than 10 LU under the rest.
    quiet = loud / 10**1.5
    assert measure(np.concatenate([loud, quiet])).integrated() == pytest.approx(alone, abs=0.2)
    # 6 dB down: inside the relative gate, so it counts.
    assert measure(np.concatenate([loud, loud / 2])).integrated() < alone - 1.0


def test_silence_and_less_than_one_block_have_no_loudness():
    assert measure(np.zeros((5 * RATE, 2))).integrated() == -math.inf
    assert measure(np.zeros((5 * RATE, 2))).true_peak() == 0.0
    short = measure(np.stack([tone(997, 0.3, 0.5)] * 2, axis=1))
    assert short.integrated() == -math.inf
    assert short.true_peak() == pytest.approx(0.5, abs=1e-3)


def test_the_blocks_it_is_fed_in_do_not_matter():
    # 70 s crosses the meter's 30 s stretches; one frame at a time would be slow, so 1000.
    samples = music_like(70)
    whole = measure(samples, block=None)
    for block in (1000, 4096, 44100 * 31):
        meter = measure(samples, block=block)
        assert meter.integrated() == pytest.approx(whole.integrated(), abs=1e-9)
        assert meter.true_peak() == pytest.approx(whole.true_peak(), rel=1e-9)


@pytest.mark.parametrize("seed", [0, 1])
def test_it_agrees_with_pyloudnorm_and_scipy(seed):
    pyloudnorm = pytest.importorskip("pyloudnorm")
    from scipy.signal import resample_poly

    samples = music_like(40, seed)
    meter = measure(samples)
    # pyloudnorm rounds the filters' corner frequencies (1500 Hz, 38 Hz): a few hundredths of a LU.
    assert meter.integrated() == pytest.approx(pyloudnorm.Meter(RATE).integrated_loudness(samples), abs=0.1)
    reference = np.abs(resample_poly(samples, 4, 1, axis=0)).max()
    assert 20 * math.log10(meter.true_peak() / reference) == pytest.approx(0.0, abs=0.05)


def test_the_true_peak_finds_what_lies_between_samples():
    # A sine at a quarter of the sample rate sampled at +-45 degrees: every sample is at 0.354 of
    # full scale, the wave itself reaches 0.5 halfway between them.
    # Faded in and out: a tone that starts at full level rings above it, as any band-limited one.
    fade = np.sin(np.linspace(0, np.pi / 2, RATE // 10)) ** 2
    envelope = np.concatenate([fade, np.ones(2 * RATE), fade[::-1]])
    quarter = tone(RATE / 4, len(envelope) / RATE, 0.5, phase=np.pi / 4) * envelope
    quarter = np.stack([quarter] * 2, axis=1)
    assert np.abs(quarter).max() == pytest.approx(0.5 / math.sqrt(2), rel=1e-3)
    assert measure(quarter).true_peak() == pytest.approx(0.5, rel=0.003)
    # A lone click rises above its sample by nothing: the peak is the sample.
    click = np.zeros((RATE, 2))
    click[RATE // 2] = 0.8
    assert measure(click).true_peak() == pytest.approx(0.8, rel=1e-6)


def test_a_change_in_channels_is_refused():
    meter = LoudnessMeter(RATE)
    meter.add(np.zeros((100, 2)))
    with pytest.raises(ValueError, match="2 channels"):
        meter.add(np.zeros(100))


@pytest.mark.parametrize(("first", "second", "expected"), [(-20, -30, 10), (-20, -15, 5), (-40, -20, 20)])
def test_the_loudness_range_reads_the_ebu_test_signals(first, second, expected):
    # EBU Tech 3342's first three test signals: 20 s of a 1 kHz stereo tone at one level, then 20 s
    # at another; the range is the difference, within 1 LU.
    def part(dbfs: float) -> np.ndarray:
        return np.stack([tone(1000, 20, 10 ** (dbfs / 20))] * 2, axis=1)

    meter = measure(np.concatenate([part(first), part(second)]))
    assert meter.loudness_range() == pytest.approx(expected, abs=1.0)
    assert measure(np.zeros((RATE, 2))).loudness_range() == 0.0  # silence has none
