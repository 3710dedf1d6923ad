"""Offline FluidSynth rendering: real WAV files checked for format, length and sound."""

from __future__ import annotations

import sys
import wave

import numpy as np
import pytest

from video2music.audio import synth
from video2music.compose.arrange import arrange
from video2music.compose.arrangement import write_midi
from video2music.theory import vocab
from video2music.theory.grid import Grid
from video2music.utils.errors import UserError

SONG = np.repeat(vocab.parse_progression("C Am F G"), 2)  # 8 s at 120 bpm


def _read(path) -> tuple[np.ndarray, wave.Wave_read]:
    with wave.open(str(path), "rb") as wav:
        samples = np.frombuffer(wav.readframes(wav.getnframes()), dtype="<i2").reshape(-1, wav.getnchannels())
        return samples, wav


def _rms_dbfs(samples: np.ndarray) -> float:
    rms = np.sqrt(np.mean(samples.astype(np.float64) ** 2))
    return 20 * np.log10(max(rms, 1e-9) / 32768)


@pytest.fixture(scope="module")
def song_midi(tmp_path_factory):
    path = tmp_path_factory.mktemp("synth") / "song.mid"
    grid = Grid.for_video(len(SONG), 120.0, cuts=[4.0])
    return write_midi(arrange(SONG, 10.0, 0.2, "G major", grid=grid), path)


def test_render_writes_a_44k_16_bit_stereo_wav_with_a_reverb_tail(song_midi, tmp_path):
    out = synth.render(song_midi, tmp_path / "song.wav")
    samples, wav = _read(out)
    assert (wav.getframerate(), wav.getsampwidth(), wav.getnchannels()) == (44100, 2, 2)
    # The last note-off is at 8 s; the tail adds DEFAULT_TAIL seconds of release and reverb.
    assert len(samples) == round((8.0 + synth.DEFAULT_TAIL) * 44100)
    assert _rms_dbfs(samples[: 8 * 44100]) > -35  # clearly music, not silence
    assert np.abs(samples).max() < 32767  # and not clipped
    assert _rms_dbfs(samples[8 * 44100 :]) < _rms_dbfs(samples[: 8 * 44100]) - 6  # the tail dies away
    assert [p.name for p in tmp_path.iterdir()] == ["song.wav"]


def test_duration_cuts_or_pads_to_the_video_length(song_midi):
    short = synth.synthesize(song_midi, duration=3.25)
    long = synth.synthesize(song_midi, duration=12.0)
    assert len(short) == round(3.25 * 44100) and len(long) == 12 * 44100
    assert _rms_dbfs(short) > -35
    assert np.abs(short[-10:]).max() < np.abs(short).max() / 10  # faded, no click where it was cut
    assert np.abs(long[-44100:]).max() < 50  # the last second is silence after the tail


def test_silence_renders_as_silence():
    # N everywhere and no drums: the measure that finds music above must find none here.
    samples = synth.synthesize(arrange([vocab.N_ID] * 4, 10.0, 0.2, "C major", drums=False).to_midi())
    assert _rms_dbfs(samples) < -80


def test_loudness_makes_the_render_louder_before_normalisation():
    quiet, loud = (
        synth.synthesize(arrange(SONG, 10.0, level, "C major").to_midi(), loudness=None)
        for level in (0.02, 0.3)
    )
    assert _rms_dbfs(loud) > _rms_dbfs(quiet) + 6


def test_renders_are_normalised_to_the_loudness_target_under_the_true_peak_ceiling():
    import pyloudnorm
    from scipy.signal import resample_poly

    for level, target in ((0.02, synth.LOUDNESS_TARGET), (0.3, synth.LOUDNESS_TARGET), (0.3, -23.0)):
        samples = synth.synthesize(arrange(SONG, 10.0, level, "C major").to_midi(), loudness=target)
        audio = samples / 32768.0
        assert pyloudnorm.Meter(synth.SAMPLE_RATE).integrated_loudness(audio) == pytest.approx(
            target,
            abs=1.0,  # within 1 LU: a soft, peaky render stops at the true-peak ceiling
        )
        true_peak = 20 * np.log10(np.abs(resample_poly(audio, 4, 1, axis=0)).max())
        assert true_peak <= synth.TRUE_PEAK_CEILING + 0.05


@pytest.mark.parametrize("target", [0.0, -5.0, -41.0, float("nan")])
def test_a_loudness_target_out_of_range_is_refused(target):
    with pytest.raises(UserError, match="loudness target"):
        synth.check_loudness(target)


def test_soundfont_lookup_order(monkeypatch, tmp_path):
    small = synth._pretty_midi_soundfont()
    monkeypatch.delenv(synth.ENV_SOUNDFONT, raising=False)
    debian_installed = synth.DEBIAN_SOUNDFONT.is_file()
    assert synth.find_soundfont() == (synth.DEBIAN_SOUNDFONT if debian_installed else small)
    monkeypatch.setattr(synth, "DEBIAN_SOUNDFONT", tmp_path / "absent.sf2")
    assert synth.find_soundfont() == small
    monkeypatch.setenv(synth.ENV_SOUNDFONT, str(small))
    assert synth.find_soundfont() == small
    other = tmp_path / "other.sf2"
    other.write_bytes(small.read_bytes())
    assert synth.find_soundfont(str(other)) == other  # an explicit path beats the variable
    monkeypatch.setenv(synth.ENV_SOUNDFONT, str(tmp_path / "missing.sf2"))
    with pytest.raises(UserError, match=f"missing.sf2 \\(from {synth.ENV_SOUNDFONT}\\) does not exist"):
        synth.find_soundfont()
    monkeypatch.delenv(synth.ENV_SOUNDFONT)
    monkeypatch.setattr(synth, "_pretty_midi_soundfont", lambda: tmp_path / "none.sf2")
    with pytest.raises(UserError, match="no soundfont found; install one"):
        synth.find_soundfont()


def test_a_file_that_is_not_a_soundfont_is_refused_before_rendering(song_midi, tmp_path):
    fake = tmp_path / "fake.sf2"
    fake.write_text("this is not a soundfont\n" * 10)
    with pytest.raises(UserError, match="is not a SoundFont"):
        synth.render(song_midi, tmp_path / "song.wav", soundfont=fake)
    with pytest.raises(UserError, match="does not exist"):
        synth.render(song_midi, tmp_path / "song.wav", soundfont=tmp_path / "absent.sf2")
    assert [p.name for p in tmp_path.iterdir()] == ["fake.sf2"]


def test_a_missing_fluidsynth_library_is_a_clear_error(song_midi, tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "fluidsynth", None)  # makes "import fluidsynth" fail
    with pytest.raises(UserError, match="apt-get install libfluidsynth3"):
        synth.render(song_midi, tmp_path / "song.wav")
    assert not list(tmp_path.iterdir())


def test_render_refuses_to_replace_a_file_and_bad_midi(song_midi, tmp_path):
    target = tmp_path / "song.wav"
    target.write_bytes(b"mine")
    with pytest.raises(UserError, match="already exists"):
        synth.render(song_midi, target)
    assert target.read_bytes() == b"mine"
    not_midi = tmp_path / "notes.mid"
    not_midi.write_text("hello")
    with pytest.raises(UserError, match="not a readable MIDI file"):
        synth.render(not_midi, tmp_path / "other.wav")
    with pytest.raises(UserError, match="positive"):
        synth.synthesize(song_midi, duration=0)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["notes.mid", "song.wav"]
