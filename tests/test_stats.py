"""The arrangement statistics of bench/arrangement.py, on cases worked out by hand."""

from __future__ import annotations

import math
import wave
from types import SimpleNamespace

import numpy as np
import pytest

from video2music.analysis import shares, stats
from video2music.compose.arrange import arrange
from video2music.compose.melody import MelodyNote
from video2music.theory import vocab
from video2music.theory.grid import Grid


def notes(*rows: tuple[float, float, int]) -> stats.Notes:
    return stats.Notes.of([SimpleNamespace(start=a, end=b, pitch=p, velocity=64) for a, b, p in rows])


def test_sounding_share_merges_overlaps_and_clips_to_the_span():
    line = notes((0.0, 1.0, 60), (0.5, 1.5, 62), (3.0, 5.0, 64))
    assert stats.sounding_share(line, 0.0, 4.0) == pytest.approx(2.5 / 4)
    assert stats.notes_per_second(line, 0.0, 4.0) == pytest.approx(0.75)
    with pytest.raises(ValueError):
        stats.sounding_share(line, 1.0, 1.0)


def test_stepwise_counts_repeats_and_steps_not_leaps():
    line = notes((0, 1, 60), (1, 2, 60), (2, 3, 62), (3, 4, 65), (4, 5, 64))  # 0, 2, 3, 1
    assert stats.stepwise_share(line) == pytest.approx(3 / 4)
    assert math.isnan(stats.stepwise_share(notes((0, 1, 60))))


def test_chord_tones_on_strong_beats():
    line = notes((0.0, 1.0, 64), (1.0, 2.0, 65), (2.0, 3.0, 67))
    chord = {0, 4, 7}  # C major throughout
    # 0.0: E fits; 1.0: F does not; 2.0: G fits; 5.0: no note sounds, left out.
    assert stats.chord_tone_share(line, [0.0, 1.0, 2.0, 5.0], lambda t: chord) == pytest.approx(2 / 3)
    assert math.isnan(stats.chord_tone_share(line, [5.0], lambda t: chord))


def test_doubling_velocity_and_beats():
    pad = notes((0.0, 2.0, 60), (0.0, 2.0, 64))
    upper = notes((0.0, 0.5, 64), (0.5, 1.0, 67), (2.0, 2.5, 60))  # only the first doubles
    assert stats.doubling_share(upper, pad) == pytest.approx(1 / 3)
    loud = stats.Notes(np.zeros(3), np.ones(3), np.array([60, 62, 64]), np.array([40, 90, 75]))
    assert stats.velocity_range(loud) == 50
    hits = np.array([0.0, 2.01, 3.0])
    lines = np.array([0.0, 2.0, 4.0])
    assert shares.near_share(hits, lines, stats.ON_BEAT_SECONDS) == pytest.approx(2 / 3)


def write_wav(path, samples: np.ndarray, rate: int = 44100) -> None:
    with wave.open(str(path), "wb") as out:
        out.setnchannels(2)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes((np.clip(samples, -1, 1) * 32767).astype("<i2").tobytes())


def test_levels_of_a_sine(tmp_path):
    rate = 44100
    t = np.arange(rate * 3) / rate
    tone = np.sin(2 * np.pi * 997 * t)
    for amplitude, name in ((0.5, "loud"), (0.25, "soft")):
        write_wav(tmp_path / f"{name}.wav", np.stack([amplitude * tone] * 2, axis=1), rate)
    loud, soft = stats.audio_stats(tmp_path / "loud.wav"), stats.audio_stats(tmp_path / "soft.wav")
    assert loud["rms_dbfs"] == pytest.approx(20 * math.log10(0.5 / math.sqrt(2)), abs=0.05)
    assert loud["true_peak_dbtp"] == pytest.approx(20 * math.log10(0.5), abs=0.1)
    assert loud["lufs"] - soft["lufs"] == pytest.approx(6.02, abs=0.05)
    # BS.1770: a stereo 997 Hz sine at -3.01 dBFS RMS per channel reads about -3 LUFS.
    assert loud["lufs"] == pytest.approx(loud["rms_dbfs"] + 3.01, abs=0.3)
    # A sine's crest factor is 3.01 dB, its spectrum's centroid its frequency, it has no DC
    # offset and its loudness does not move.
    assert loud["crest_db"] == pytest.approx(3.01, abs=0.05)
    assert loud["centroid_hz"] == pytest.approx(997, abs=5)
    assert loud["dc_offset"] < 1e-4 and loud["loudness_range"] == pytest.approx(0.0, abs=0.1)
    write_wav(tmp_path / "offset.wav", np.stack([0.25 * tone + 0.01] * 2, axis=1), rate)
    assert stats.audio_stats(tmp_path / "offset.wav")["dc_offset"] == pytest.approx(0.01, abs=1e-4)
    # Between samples: a sine at a quarter of the sample rate, sampled at +-45 degrees, peaks
    # 3 dB above its samples.
    quarter = np.sin(2 * np.pi * (rate / 4) * t + np.pi / 4) * 0.5
    write_wav(tmp_path / "between.wav", np.stack([quarter] * 2, axis=1), rate)
    assert (
        stats.audio_stats(tmp_path / "between.wav")["true_peak_dbtp"]
        > 20 * math.log10(0.5 / math.sqrt(2)) + 2.5
    )


def test_arrangement_stats_from_a_written_file(tmp_path):
    chords = vocab.parse_progression("C C G G")  # two bars at 120 bpm
    grid = Grid.regular(len(chords), 120.0)
    # A held C5 over the C bar, silence, then B4 on beat 1 of the G bar and C5 (no G tone) on beat 3.
    melody = [MelodyNote(72, 0, 16), MelodyNote(71, 16, 24), MelodyNote(72, 24, 30)]
    music = arrange(chords, 8.0, 0.2, "C major", grid=grid, melody=melody)
    path = tmp_path / "two_bars.mid"
    music.to_midi().save(path)
    measured = stats.arrangement_stats(path)
    assert measured["sounding"] == pytest.approx(30 / 32)
    assert measured["notes_per_second"] == pytest.approx(3 / 4)
    assert measured["stepwise"] == pytest.approx(1.0)
    assert measured["chord_tones_beats_1_3"] == pytest.approx(3 / 4)  # C, C, B fit; C over G does not
    assert measured["pitch_median"] == 72 and measured["pitch_low"] == 71
    assert measured["velocity_range_melody"] >= 0
    assert 0 <= measured["arpeggio_doubling"] <= 1


def test_pop909_melody_statistics_of_a_small_song():
    song = SimpleNamespace(
        song_id="x",
        melody=[
            SimpleNamespace(onset=0.0, offset=0.5, pitch=60, velocity=80),
            SimpleNamespace(onset=1.0, offset=1.5, pitch=62, velocity=80),
        ],
        beats=np.arange(0, 4, 0.5),
        downbeats=np.array([0.0, 2.0]),
        chords=[SimpleNamespace(start=0.0, end=4.0, chord=vocab.parse_chord("C"))],
    )
    measured = stats.pop909_melody_stats(song)
    assert measured["sounding"] == pytest.approx(1.0 / 1.5)
    # Strong beats at 0, 1, 2 and 3 s: C over C fits, D over C does not, nothing sounds after.
    assert measured["chord_tones_beats_1_3"] == pytest.approx(1 / 2)
    assert measured["stepwise"] == 1.0
