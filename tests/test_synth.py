"""Offline FluidSynth rendering: real WAV files checked for format, length and sound."""

from __future__ import annotations

import itertools
import sys
import wave

import mido
import numpy as np
import pytest

from video2music.audio import synth
from video2music.audio.master import LOUDNESS_TARGET, TRUE_PEAK_CEILING
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


def test_render_writes_a_44k_16_bit_stereo_wav_that_rings_out(song_midi, tmp_path):
    out = synth.render(song_midi, tmp_path / "song.wav")
    samples, wav = _read(out)
    assert (wav.getframerate(), wav.getsampwidth(), wav.getnchannels()) == (44100, 2, 2)
    assert _rms_dbfs(samples[: 8 * 44100]) > -35  # clearly music, not silence
    assert np.abs(samples).max() < 32767  # and not clipped
    assert [p.name for p in tmp_path.iterdir()] == ["song.wav"]
    # The last note-off is at 8 s; the release and the room ring on until they have died away,
    # falling smoothly, and end far under the music.
    tail = samples[8 * 44100 :].astype(np.float64)
    assert 0.5 < len(tail) / 44100 < synth.MAX_TAIL
    windows = [_rms_dbfs(tail[i : i + 4410]) for i in range(0, len(tail) - 4410, 4410)]
    assert windows[0] > -50 and all(b < a + 1.0 for a, b in itertools.pairwise(windows))
    assert np.abs(tail[-4410:]).max() < np.abs(samples).max() * 10 ** (-50 / 20)


def test_the_render_plays_each_tracks_reverb_send():
    def ring(send: int) -> float:
        """How loud a short note's room still is 0.4-1 s after it stops, against the note."""
        track = mido.MidiTrack(
            [
                mido.Message("program_change", program=0),
                mido.Message("control_change", control=91, value=send),
                mido.Message("note_on", note=72, velocity=100),
                mido.Message("note_off", note=72, time=240),
            ]
        )
        samples = synth.synthesize(mido.MidiFile(tracks=[track]), duration=2.0, loudness=None)
        return _rms_dbfs(samples[int(0.65 * 44100) : int(1.25 * 44100)]) - _rms_dbfs(
            samples[: int(0.25 * 44100)]
        )

    assert ring(120) > ring(0) + 6


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


def test_renders_are_brought_to_the_loudness_target_under_the_true_peak_ceiling():
    import pyloudnorm
    from scipy.signal import resample_poly

    for level, target in ((0.02, LOUDNESS_TARGET), (0.3, LOUDNESS_TARGET), (0.3, -23.0)):
        samples = synth.synthesize(arrange(SONG, 10.0, level, "C major").to_midi(), loudness=target)
        audio = samples / 32768.0
        # On the target: the light master's limiter holds the few peaks that would pass the ceiling.
        assert pyloudnorm.Meter(synth.SAMPLE_RATE).integrated_loudness(audio) == pytest.approx(
            target, abs=0.3
        )
        true_peak = 20 * np.log10(np.abs(resample_poly(audio, 4, 1, axis=0)).max())
        assert true_peak <= TRUE_PEAK_CEILING + 0.05


@pytest.mark.parametrize("target", [0.0, -5.0, -41.0, float("nan")])
def test_a_loudness_target_out_of_range_is_refused(target):
    with pytest.raises(UserError, match="loudness target"):
        synth.check_loudness(target)


def test_soundfont_lookup_order(monkeypatch, tmp_path, caplog):
    small = synth._pretty_midi_soundfont()
    monkeypatch.delenv(synth.ENV_SOUNDFONT, raising=False)
    # MuseScore General (its SF2, then its SF3), then FluidR3, then the small bank pretty_midi ships.
    lossless, compressed, fluid = tmp_path / "msg.sf2", tmp_path / "msg.sf3", tmp_path / "fluid.sf2"
    for path in (lossless, compressed, fluid):
        path.write_bytes(small.read_bytes())
    monkeypatch.setattr(synth, "MUSESCORE_SOUNDFONTS", (lossless, compressed))
    monkeypatch.setattr(synth, "DEBIAN_SOUNDFONT", fluid)
    assert synth.find_soundfont() == lossless
    lossless.unlink()
    assert synth.find_soundfont() == compressed
    monkeypatch.setattr(synth, "reads_sf3", lambda path: False)  # a FluidSynth without Ogg Vorbis
    assert synth.find_soundfont() == fluid
    assert "cannot read the compressed soundfont" in caplog.text
    fluid.unlink()
    assert synth.find_soundfont() == small
    # The user's choice beats the defaults: the variable, and an explicit path before it.
    monkeypatch.setenv(synth.ENV_SOUNDFONT, str(small))
    assert synth.find_soundfont() == small
    other = tmp_path / "other.sf2"
    other.write_bytes(small.read_bytes())
    assert synth.find_soundfont(str(other)) == other
    monkeypatch.setenv(synth.ENV_SOUNDFONT, str(tmp_path / "missing.sf2"))
    with pytest.raises(UserError, match=f"missing.sf2 \\(from {synth.ENV_SOUNDFONT}\\) does not exist"):
        synth.find_soundfont()
    monkeypatch.delenv(synth.ENV_SOUNDFONT)
    monkeypatch.setattr(synth, "_pretty_midi_soundfont", lambda: tmp_path / "none.sf2")
    compressed.unlink()
    with pytest.raises(UserError, match="no soundfont found; install one"):
        synth.find_soundfont()


SF3 = synth.MUSESCORE_SOUNDFONTS[1]


@pytest.mark.skipif(not SF3.is_file(), reason="musescore-general-soundfont is not installed (setup.sh --dev)")
def test_this_fluidsynth_plays_the_compressed_bank_and_a_broken_one_is_noticed(tmp_path):
    assert synth.reads_sf3(SF3)
    # The same bank with its compressed samples zeroed: FluidSynth loads it, but has nothing to play.
    data = bytearray(SF3.read_bytes())
    samples = data.index(b"smpl") + 8
    size = int.from_bytes(data[samples - 4 : samples], "little")
    data[samples : samples + size] = bytes(size)
    broken = tmp_path / "broken.sf3"
    broken.write_bytes(bytes(data))
    assert not synth.reads_sf3(broken)


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


def test_the_render_is_the_same_on_one_core_and_on_several(song_midi, tmp_path, monkeypatch):
    monkeypatch.setattr(synth, "MAX_CORES", 1)
    synth.render(song_midi, tmp_path / "one.wav")
    monkeypatch.setattr(synth, "MAX_CORES", 4)
    if synth.render_cores() < 2:
        pytest.skip("this machine lets the process use one core only")
    synth.render(song_midi, tmp_path / "several.wav")
    one, several = _read(tmp_path / "one.wav")[0], _read(tmp_path / "several.wav")[0]
    assert len(one) > 8 * 44100 and np.array_equal(one, several)  # byte for byte


def test_a_long_render_in_spans_on_several_cores_is_the_whole_within_tolerance(tmp_path, monkeypatch):
    """Spans (see synth.PREROLL), at most 40 s here so that a 96-s piece is cut in two: the same
    every time, and the one-synthesizer render but for differences 60 dB under the music and none
    at the join."""
    monkeypatch.setattr(synth, "MIN_SPAN", 40.0)
    song = np.repeat(vocab.parse_progression("C Am F G Em Am Dm G"), 12)  # 96 s at 120 bpm
    midi = arrange(song, 96.0, 0.6, "C major").to_midi()
    spans = synth._Render(midi, None, 96.0).spans(2)
    assert len(spans) == 2 and spans[1].start <= spans[1].first - synth.PREROLL * 44100
    monkeypatch.setattr(synth, "render_cores", lambda: 1)
    synth.render_wav(midi, tmp_path / "one.wav", duration=96.0)
    monkeypatch.setattr(synth, "render_cores", lambda: 2)
    synth.render_wav(midi, tmp_path / "spans.wav", duration=96.0)
    synth.render_wav(midi, tmp_path / "again.wav", duration=96.0)
    one, spanned, again = (_read(tmp_path / f"{name}.wav")[0] for name in ("one", "spans", "again"))
    assert np.array_equal(spanned, again)  # byte for byte, every time
    assert len(one) == len(spanned) == 96 * 44100
    difference = np.abs(one.astype(np.float64) - spanned).max(axis=1)
    seam = spans[1].first
    assert difference[:seam].max() <= 1  # the whole render's, but for a master's gain a hair apart
    assert difference[seam : seam + 64].max() <= 2  # 16-bit steps: no click at the join
    assert _rms_dbfs(one.astype(np.float64) - spanned) < _rms_dbfs(one) - 60


def test_the_events_are_at_the_times_mido_gives_them():
    """events_of merges the tracks without mido's copies; the times must be mido's to the bit."""
    rng = np.random.default_rng(5)
    midi = mido.MidiFile(ticks_per_beat=480)
    conductor = mido.MidiTrack([mido.MetaMessage("set_tempo", tempo=500000, time=0)])
    for _ in range(6):  # tempo changes, some at the tick a note starts on another track
        conductor.append(mido.MetaMessage("set_tempo", tempo=int(rng.integers(300000, 900000)), time=960))
    midi.tracks.append(conductor)
    for channel in range(3):
        track = mido.MidiTrack([mido.Message("program_change", channel=channel, program=channel, time=0)])
        for _ in range(40):
            note = int(rng.integers(40, 80))
            track.append(
                mido.Message(
                    "note_on", channel=channel, note=note, velocity=90, time=int(rng.integers(0, 300))
                )
            )
            track.append(
                mido.Message("note_off", channel=channel, note=note, time=int(rng.choice([0, 120, 240])))
            )
        track.append(mido.MetaMessage("end_of_track", time=int(rng.integers(0, 500))))
        midi.tracks.append(track)
    expected, now = [], 0.0
    for message in midi:
        now += message.time
        if not message.is_meta:
            expected.append((now, message.type, message.channel))
    assert [event[:3] for event in synth.events_of(midi)] == expected
    assert len(expected) == 3 * 81
