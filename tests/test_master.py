"""The light master: DC offset removed, loudness on target, peaks held by the limiter, checked
against pyloudnorm and scipy's polyphase resampler on signals with known answers."""

from __future__ import annotations

import numpy as np
import pytest

from video2music.audio import master

RATE = master.SAMPLE_RATE


def _measured(samples: np.ndarray, blocks: int = 4099) -> tuple[master.Analysis, np.ndarray]:
    """Pass one over ``samples`` fed in ``blocks``: the analysis, and what it would have written."""
    analysis = master.Analysis(RATE)
    out = [analysis.add(samples[i : i + blocks]) for i in range(0, len(samples), blocks)]
    return analysis, np.concatenate(out)


def _true_peak_db(samples: np.ndarray) -> float:
    from scipy.signal import resample_poly

    return float(20 * np.log10(np.abs(resample_poly(samples, 4, 1, axis=0)).max()))


def _lufs(samples: np.ndarray) -> float:
    import pyloudnorm

    return float(pyloudnorm.Meter(RATE).integrated_loudness(samples))


def _chords(seconds: float, seed: int = 0) -> np.ndarray:
    """Stereo: a decaying three-note chord every half second, at a level that changes."""
    rng = np.random.default_rng(seed)
    t = np.arange(RATE // 2) / RATE
    out = np.zeros((round(seconds * RATE), 2))
    for start in range(0, len(out) - len(t), len(t)):
        notes = sum(np.sin(2 * np.pi * f * t) for f in rng.uniform(100, 1500, 3)) * np.exp(-5 * t)
        out[start : start + len(t)] += notes[:, None] * rng.uniform(0.03, 0.1) * rng.uniform(0.7, 1.0, 2)
    return out


def test_the_dc_offset_goes_and_the_music_stays():
    music = _chords(6.0)
    offset = music + np.array([0.01, -0.004])  # as some soundfont samples carry
    blocked = _measured(offset)[1]
    settled = blocked[RATE:]  # after the high-pass's first few time constants
    assert np.abs(settled.mean(axis=0)).max() < 1e-4
    assert np.abs(offset[RATE:].mean(axis=0)).max() > 3e-3
    # The music is left as it was: what the high-pass changes lies 30 dB under it, and a 40 Hz
    # tone keeps its level within 0.1 dB.
    residual = settled - music[RATE:]
    assert np.sqrt(np.mean(residual**2)) < 10 ** (-30 / 20) * np.sqrt(np.mean(music[RATE:] ** 2))
    low = np.sin(2 * np.pi * 40 * np.arange(3 * RATE) / RATE)[:, None] * [0.5, 0.5]
    kept = _measured(low)[1][RATE:]
    assert 20 * np.log10(np.abs(kept).max() / 0.5) == pytest.approx(0.0, abs=0.1)
    # Its state carries across blocks: the block sizes it is fed in do not matter.
    np.testing.assert_allclose(_measured(offset, blocks=777)[1], blocked, atol=1e-12)


def test_a_render_with_headroom_is_brought_to_the_target_without_the_limiter():
    music = _chords(8.0)  # its true peak lies 15 dB over its loudness
    analysis, blocked = _measured(music)
    plan = master.plan(analysis, -18.0)
    assert plan.limiter is None
    out = plan(blocked, 0)
    assert _lufs(out) == pytest.approx(-18.0, abs=0.1)
    assert _true_peak_db(out) <= master.TRUE_PEAK_CEILING


def test_peaks_over_the_ceiling_are_held_by_the_limiter_and_the_rest_is_untouched():
    music = _chords(10.0)  # at -16 LUFS its own peaks reach about -1 dBTP
    hits = np.arange(RATE // 3, len(music), RATE)  # a hit every second, 3 dB over them
    t = np.arange(400) / RATE
    click = np.sin(2 * np.pi * 1200 * t) * np.exp(-t / 0.002) * np.minimum(1, t / 0.0005)  # 0.5 ms attack
    hit_shape = 1.4 * np.abs(music).max() / np.abs(click).max() * click[:, None]
    for hit in hits:
        music[hit : hit + len(click)] += hit_shape
    analysis, blocked = _measured(music)
    plan = master.plan(analysis, -16.0)
    assert plan.limiter is not None
    out = plan(blocked, 0)
    assert _lufs(out) == pytest.approx(-16.0, abs=0.1)  # on the target ...
    assert _true_peak_db(out) <= master.TRUE_PEAK_CEILING + 0.02  # ... under the ceiling
    # Light: the gain dips by 2-4 dB at the hits and is back within 150 ms; elsewhere it takes
    # less than 1 dB off (the music's own peaks brush the ceiling), and most of the time nothing.
    edges = np.arange(len(plan.limiter)) * master.HOP - 0.5
    gains = np.interp(np.arange(len(music)), edges, plan.limiter)
    near = np.zeros(len(music), bool)
    for hit in hits:
        near[hit - RATE // 100 : hit + RATE * 15 // 100] = True
    assert np.all(gains[hits] < 0.8) and np.all(gains[hits] > 0.6)
    assert gains[~near].min() > 0.89 and (gains[~near] < 0.99).mean() < 0.05
    assert np.abs(np.diff(gains)).max() < 0.01  # ramps, not steps: no clicks


def test_a_render_that_would_need_heavy_limiting_is_left_quieter_instead():
    music = _chords(8.0)
    music[RATE : RATE + 100] += 0.9  # one very sharp spike, far above the music
    analysis, blocked = _measured(music)
    plan = master.plan(analysis, -16.0)
    out = plan(blocked, 0)
    assert _true_peak_db(out) <= master.TRUE_PEAK_CEILING + 0.02
    assert _lufs(out) < -16.0 - 3  # quieter than the target ...
    # ... because the limiter takes no more than LIMIT_DB (with its margin) off any peak.
    assert 20 * np.log10(plan.limiter.min()) >= -(master.LIMIT_DB + master.MARGIN_DB + 0.1)


def test_in_place_on_a_written_wav_as_in_memory(tmp_path):
    import wave

    music = _chords(5.0)
    music[RATE : RATE + 300] *= 6  # something for the limiter
    path = tmp_path / "raw.wav"
    analysis = master.record((music[i : i + 5000] for i in range(0, len(music), 5000)), path)
    plan = master.plan(analysis, -14.0, fade=RATE // 10)
    applied = master.finish(path, plan)
    with wave.open(str(path)) as written:
        assert (written.getnframes(), written.getnchannels(), written.getframerate()) == (len(music), 2, RATE)
        on_disk = np.frombuffer(written.readframes(len(music)), "<i2").reshape(-1, 2).astype(np.float64)
    in_memory = master.to_int16(applied(_measured(music, blocks=5000)[1], 0)).astype(np.float64)
    assert np.abs(on_disk - in_memory).max() <= 2  # the raw file's rounding, raised by the gain
    assert _true_peak_db(on_disk / 32768) <= master.TRUE_PEAK_CEILING + 0.02
    assert np.abs(on_disk[-10:]).max() < 50  # faded to silence


def test_a_peak_the_limiter_cannot_see_between_samples_is_trimmed():
    # A tone at a quarter of the sample rate, sampled 45 degrees off its crests: every sample
    # lies 3 dB under its true peak, more than the limiter's margin.
    music = _chords(6.0)
    t = np.arange(RATE // 50)  # 20 ms of it
    music[RATE : RATE + len(t)] += 0.3 * np.sin(np.pi / 2 * t + np.pi / 4)[:, None]
    analysis, blocked = _measured(music)
    plan = master.plan(analysis, -16.0)
    out, applied = master.apply(plan, blocked)
    assert applied.gain < plan.gain
    assert _true_peak_db(out) <= master.TRUE_PEAK_CEILING + 0.02


def _written(path) -> np.ndarray:
    import wave

    with wave.open(str(path)) as written:
        return np.frombuffer(written.readframes(written.getnframes()), "<i2").reshape(-1, 2)


@pytest.mark.parametrize("trimmed", [False, True])
def test_finish_in_parts_at_once_writes_what_one_pass_writes(tmp_path, trimmed):
    music = _chords(6.0)
    music[RATE : RATE + 300] *= 6  # something for the limiter
    if trimmed:  # a tone whose samples lie 3 dB under its true peak, as in the test above
        t = np.arange(RATE // 50)
        music[2 * RATE : 2 * RATE + len(t)] += 0.3 * np.sin(np.pi / 2 * t + np.pi / 4)[:, None]
    applied, written = [], []
    for parts in (1, 3):
        path = tmp_path / f"in{parts}.wav"
        analysis = master.record((music[i : i + 5000] for i in range(0, len(music), 5000)), path)
        plan = master.plan(analysis, -16.0, fade=RATE // 10)
        applied.append(master.finish(path, plan, parts=parts))
        written.append(_written(path))
    assert len(master.stretches(len(music), 3, master._BLOCK)) == 3
    assert np.array_equal(written[0], written[1]) and len(written[0]) == len(music)
    assert applied[0].gain == applied[1].gain
    assert (applied[1] is not plan) == trimmed  # the true peak seen across the stretches' joins


def test_a_signal_recorded_in_parts_is_measured_and_written_as_one(tmp_path):
    """record_parts: consecutive parts, each led in by the end of the one before (as a render on
    several cores makes them), measure and write what one pass over the whole does."""
    samples = _chords(14.0) * 3  # loud enough for the limiter
    samples[:, 0] += 0.004  # a DC offset for the high-pass to take out
    whole = master.record(iter(np.array_split(samples, 50)), tmp_path / "whole.wav")
    grid = master.part_grid(RATE)
    seams = [2 * grid, 3 * grid]
    lead = RATE  # a second of what comes before, made again
    parts = [
        master.Part(first, first - start, iter(np.array_split(samples[start:stop], 7)))
        for start, first, stop in zip(
            [0, *(s - lead for s in seams)], [0, *seams], [*seams, len(samples)], strict=True
        )
    ]
    joined = master.record_parts(parts, tmp_path / "parts.wav")
    assert joined.frames == whole.frames == len(samples)
    assert joined.meter.integrated() == pytest.approx(whole.meter.integrated(), abs=1e-6)
    assert joined.meter.true_peak() == pytest.approx(whole.meter.true_peak(), rel=1e-9)
    assert np.array_equal(joined.hop_peaks(), whole.hop_peaks())
    plan, one = master.plan(joined, -14.0), master.plan(whole, -14.0)
    assert plan.limiter is not None and np.array_equal(plan.limiter, one.limiter)
    assert plan.gain == pytest.approx(one.gain, rel=1e-6)
    with open(tmp_path / "whole.wav", "rb") as one, open(tmp_path / "parts.wav", "rb") as other:
        written, again = np.frombuffer(one.read()[44:], "<i2"), np.frombuffer(other.read()[44:], "<i2")
    assert len(written) == len(again) == 2 * len(samples)
    assert np.abs(written.astype(int) - again).max() <= 1  # the high-pass led in to its state


def test_parts_that_do_not_meet_are_refused(tmp_path):
    grid = master.part_grid(RATE)
    samples = _chords(4.0)
    parts = [master.Part(0, 0, iter([samples[:grid]])), master.Part(grid + 64, 0, iter([samples[grid:]]))]
    with pytest.raises(RuntimeError, match="does not reach"):
        master.record_parts(parts, tmp_path / "parts.wav")
