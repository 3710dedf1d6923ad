"""Muxing a WAV into the real example videos with PyAV: picture copied, audio as long as the video."""

from __future__ import annotations

import hashlib
import os
import wave

import av
import numpy as np
import pytest

from video2music.audio.mux import (
    ATTACK,
    DUCK_DEPTH,
    RELEASE,
    Ducker,
    Soundtrack,
    _aac_parts,
    _forget_sounds,
    decode_own_sound_soon,
    ducked_spans,
    ducking,
    mux,
    mux_into,
    own_sound,
    video_timing,
)
from video2music.audio.synth import SAMPLE_RATE, write_wav
from video2music.utils.errors import UserError


def _tone(tmp_path, seconds: float, name: str = "tone.wav"):
    """A real 16-bit stereo WAV: a 440 Hz tone at -12 dBFS."""
    t = np.arange(round(seconds * SAMPLE_RATE)) / SAMPLE_RATE
    wave = (0.25 * 32767 * np.sin(2 * np.pi * 440 * t)).astype(np.int16)
    path = tmp_path / name
    write_wav(np.stack([wave, wave], axis=1), path)
    return path


def _video_packets(path) -> tuple[str, list[str], float, float]:
    """Codec name, the digests of the picture packets in order, stream start and duration (s)."""
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        digests = [hashlib.sha1(bytes(p)).hexdigest() for p in container.demux(stream) if p.dts is not None]
        start = float(stream.start_time * stream.time_base)
        return stream.codec_context.name, digests, start, float(stream.duration * stream.time_base)


def _rms(samples: np.ndarray) -> float:
    return float(np.sqrt(np.mean(samples**2)))


def _audio(path) -> tuple[tuple[str, int, int], np.ndarray, float, float]:
    """(codec, rate, channels), the decoded samples (mono mix), the stream's duration and first pts (s)."""
    with av.open(str(path)) as container:
        stream = container.streams.audio[0]
        frames = list(container.decode(stream))
        first = float(frames[0].pts * frames[0].time_base)
        samples = np.concatenate([f.to_ndarray().mean(axis=0) for f in frames])
        info = (stream.codec_context.name, stream.rate, stream.channels)
        return info, samples, float(stream.duration * stream.time_base), first


@pytest.mark.parametrize(("video", "wav_seconds"), [("testvideo.mp4", 5.0), ("fades.mp4", 12.5)])
def test_picture_is_copied_and_audio_matches_the_video_length(examples_dir, tmp_path, video, wav_seconds):
    source = examples_dir / video
    out = mux(source, _tone(tmp_path, wav_seconds), tmp_path / "scored.mp4")
    codec, packets, _, duration = _video_packets(source)
    out_codec, out_packets, _, _ = _video_packets(out)
    assert out_codec == codec and len(out_packets) == len(packets)
    assert out_packets == packets  # packet for packet the same bytes: remuxed, not re-encoded

    info, samples, audio_duration, _ = _audio(out)
    assert info == ("aac", SAMPLE_RATE, 2)
    assert abs(audio_duration - duration) < 0.05
    assert abs(len(samples) / SAMPLE_RATE - duration) < 0.05
    heard = min(wav_seconds, duration)
    assert _rms(samples[SAMPLE_RATE // 2 : int((heard - 0.5) * SAMPLE_RATE)]) > 0.1  # the tone is there
    if wav_seconds < duration:  # padded with silence after the WAV ends
        assert _rms(samples[int((wav_seconds + 0.5) * SAMPLE_RATE) :]) < 1e-3


def test_audio_starts_with_the_first_frame_of_a_late_video_stream(examples_dir, tmp_path):
    source = examples_dir / "delayed_start.mp4"
    out = mux(source, _tone(tmp_path, 3.0), tmp_path / "scored.mp4")
    _, _, start, duration = _video_packets(out)
    assert start > 1.0  # the example's picture begins after a second
    _, samples, audio_duration, first = _audio(out)
    assert abs(first - start) < 0.05
    assert abs(len(samples) / SAMPLE_RATE - duration) < 0.05


def test_bad_inputs_are_user_errors_and_write_nothing(examples_dir, tmp_path):
    wav = _tone(tmp_path, 1.0)
    text = tmp_path / "notes.txt"
    text.write_text("not media")
    video = examples_dir / "fades.mp4"
    with pytest.raises(UserError, match="does not exist"):
        mux(tmp_path / "absent.mp4", wav, tmp_path / "out.mp4")
    with pytest.raises(UserError, match="not a readable video"):
        mux(text, wav, tmp_path / "out.mp4")
    with pytest.raises(UserError, match="not a readable WAV"):
        mux(video, text, tmp_path / "out.mp4")
    with pytest.raises(UserError, match="not a readable video|no video stream"):
        mux(wav, wav, tmp_path / "out.mp4")
    existing = tmp_path / "taken.mp4"
    existing.write_bytes(b"mine")
    with pytest.raises(UserError, match="already exists"):
        mux(video, wav, existing)
    assert existing.read_bytes() == b"mine"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["notes.txt", "taken.mp4", "tone.wav"]


# --- the video's own sound under the music ------------------------------------------------------


def _blocks(signal: np.ndarray, size: int):
    return [signal[i : i + size] for i in range(0, len(signal), size)]


def test_ducking_is_smooth_fast_to_duck_and_slow_to_recover():
    rate = SAMPLE_RATE
    rng = np.random.default_rng(0)
    loud = np.zeros((8 * rate, 2), np.float32)
    loud[rate : 3 * rate] = rng.normal(0, 0.3, (2 * rate, 2))  # about -10 dBFS from 1 s to 3 s
    ducker = Ducker(rate)
    hop_gains = np.concatenate([ducker.hop_gains(block) for block in _blocks(loud, 16384)])  # as decoded
    gains = np.concatenate([ducking(hop_gains, first, 5000) for first in range(0, len(loud), 5000)])
    decibels = 20 * np.log10(gains)

    def at(seconds: float) -> float:
        return float(decibels[int(seconds * rate)])

    assert at(0.9) == 0.0  # silence: the music is untouched
    assert abs(at(1.0 + 4 * ATTACK) + DUCK_DEPTH) < 1.0  # ducked fully within a few attack times
    assert abs(at(2.9) + DUCK_DEPTH) < 0.1
    assert at(3.0 + RELEASE) < -3.0  # released gradually ...
    assert at(3.0 + 7 * RELEASE) > -0.5  # ... and back
    assert np.max(np.abs(np.diff(gains))) < 1e-3  # no steps, so no clicks, also across blocks


def test_mix_lays_the_music_under_the_videos_own_sound(examples_dir, tmp_path):
    # The video's own sound: a tone from 2 s to 4 s. Muxing that, then mixing silent music into
    # the result, must give back the tone where it was; a mix with no original gives the music.
    rate = SAMPLE_RATE
    t = np.arange(10 * rate) / rate
    own = np.where((t >= 2) & (t < 4), 0.25 * 32767 * np.sin(2 * np.pi * 330 * t), 0).astype(np.int16)
    write_wav(np.stack([own, own], axis=1), tmp_path / "own.wav")
    talk = mux(examples_dir / "fades.mp4", tmp_path / "own.wav", tmp_path / "talk.mp4")
    write_wav(np.zeros((10 * rate, 2), np.int16), tmp_path / "silence.wav")
    mixed_wav = tmp_path / "mixed.wav"
    assert mux_into(talk, tmp_path / "silence.wav", tmp_path / "out.mp4", Soundtrack("mix"), mixed_wav)
    _, samples, _, _ = _audio(tmp_path / "out.mp4")
    assert _rms(samples[int(2.2 * rate) : int(3.8 * rate)]) > 0.1
    assert _rms(samples[: int(1.8 * rate)]) < 1e-3 and _rms(samples[int(4.2 * rate) :]) < 1e-3
    with wave.open(str(mixed_wav)) as written:
        assert (written.getnchannels(), written.getframerate()) == (2, rate)
        assert abs(written.getnframes() / rate - 10.0) < 0.05  # as long as the picture
    # A video with no sound of its own: nothing to mix, so the music alone at its own level (the
    # mix's lower default is for going under a sound), and no mixed WAV.
    assert not mux_into(examples_dir / "fades.mp4", _tone(tmp_path, 10), tmp_path / "plain.mp4", Soundtrack())
    _, samples, _, _ = _audio(tmp_path / "plain.mp4")
    assert abs(_rms(samples[rate : 9 * rate]) - 0.25 / np.sqrt(2)) < 0.01
    # A gain the user gives applies all the same.
    mux_into(examples_dir / "fades.mp4", _tone(tmp_path, 10), tmp_path / "quiet.mp4", Soundtrack("mix", -6.0))
    _, samples, _, _ = _audio(tmp_path / "quiet.mp4")
    assert abs(_rms(samples[rate : 9 * rate]) - 0.25 / np.sqrt(2) * 10 ** (-6 / 20)) < 0.01


@pytest.mark.parametrize(("mode", "gain"), [("loud", None), ("mix", float("nan")), ("replace", 30.0)])
def test_bad_soundtrack_settings_are_user_errors(mode, gain):
    with pytest.raises(UserError, match="audio mode|music gain"):
        Soundtrack(mode, gain)


def _chords_wav(tmp_path, seconds: float) -> tuple[np.ndarray, object]:
    """A real WAV of changing chords with sharp attacks (the hard case for joined encoders)."""
    rng = np.random.default_rng(3)
    t = np.arange(SAMPLE_RATE // 3) / SAMPLE_RATE
    music = np.zeros(round(seconds * SAMPLE_RATE))
    for start in range(0, len(music) - len(t), len(t)):
        tones = sum(np.sin(2 * np.pi * f * t) for f in rng.uniform(110, 1800, 3))
        music[start : start + len(t)] += 0.2 * tones * np.exp(-6 * t)
    samples = np.round(np.stack([music, 0.8 * music], axis=1) * 32767).astype(np.int16)
    path = tmp_path / "chords.wav"
    write_wav(samples, path)
    return samples[:, 0] / 32768 * 0.9, path  # the decoded mono mix is (left + right) / 2


def test_a_long_soundtrack_encoded_in_parts_sounds_as_one_encoder(examples_dir, tmp_path, monkeypatch):
    """Parts of at least 3 s here, so that the 24-s test video's sound is encoded by 2 encoders at
    once (on 2 cores a 25-minute soundtrack is): the joined packets decode to the same length and
    as near the music as one encoder's, around the join too."""
    heard, music = _chords_wav(tmp_path, 24.0)
    source = examples_dir / "testvideo.mp4"
    decoded = {}
    for cores in (1, 2):
        monkeypatch.setattr("video2music.audio.mux.usable_cores", lambda most, cores=cores: cores)
        monkeypatch.setattr("video2music.audio.mux.MIN_AAC_PART", 3.0)
        out = mux(source, music, tmp_path / f"on{cores}.mp4")
        info, samples, duration, first = _audio(out)
        assert info == ("aac", SAMPLE_RATE, 2) and first == 0.0
        decoded[cores] = samples
    one, two = decoded[1], decoded[2]
    assert len(one) == len(two)
    _, duration = video_timing(source)
    (_, join), _ = _aac_parts(round(duration * SAMPLE_RATE), SAMPLE_RATE, 2)

    def signal_to_error(samples: np.ndarray, first: int, last: int) -> float:
        error = samples[first:last] - heard[first:last]
        return 10 * np.log10(np.sum(heard[first:last] ** 2) / np.sum(error**2))

    whole = len(heard) - SAMPLE_RATE
    assert signal_to_error(two, 0, whole) > signal_to_error(one, 0, whole) - 1.0
    around = (join - 2048, join + 2048)
    assert signal_to_error(two, *around) > signal_to_error(one, *around) - 1.5
    assert np.abs(two[around[0] : around[1]] - heard[around[0] : around[1]]).max() < 0.05  # no click


def test_a_mix_made_in_parts_at_once_is_the_mix_made_in_one(examples_dir, tmp_path, monkeypatch):
    """Parts of at least 3 s here, so that a 10-s mix is made by 2 at once (a 25-minute one is, on
    2 cores): the same mixed WAV but for the last bit, its loudness and master the same; and the
    video's sound is decoded once for the melody's rests and the mix."""
    rate = SAMPLE_RATE
    t = np.arange(10 * rate) / rate
    speech = (np.sin(2 * np.pi * 3 * t) > 0.3) * np.sin(2 * np.pi * 220 * t) * 0.3  # bursts of a voice
    write_wav((np.stack([speech, speech], axis=1) * 32767).astype(np.int16), tmp_path / "own.wav")
    talk = mux(examples_dir / "fades.mp4", tmp_path / "own.wav", tmp_path / "talk.mp4")
    heard, music = _chords_wav(tmp_path, 10.0)
    assert ducked_spans(talk)  # the voice is loud enough to duck the music
    decoded = own_sound(talk)
    monkeypatch.setattr("video2music.audio.mux.MIN_MIX_PART", 3.0)
    mixes = []
    for cores in (1, 2):
        monkeypatch.setattr("video2music.audio.mux.usable_cores", lambda most, cores=cores: cores)
        mux_into(talk, music, tmp_path / f"out{cores}.mp4", Soundtrack("mix"), tmp_path / f"mix{cores}.wav")
        with wave.open(str(tmp_path / f"mix{cores}.wav")) as written:
            mixes.append(np.frombuffer(written.readframes(written.getnframes()), "<i2").astype(int))
    assert own_sound(talk) is decoded  # not decoded again
    assert len(mixes[0]) == len(mixes[1]) == 2 * round(10.0 * rate)
    assert np.abs(mixes[0] - mixes[1]).max() <= 1


def test_the_videos_sound_is_decoded_once_kept_for_the_mix_then_removed(examples_dir, tmp_path):
    rate = SAMPLE_RATE
    t = np.arange(10 * rate) / rate
    speech = (np.sin(2 * np.pi * 3 * t) > 0.3) * np.sin(2 * np.pi * 220 * t) * 0.3
    write_wav((np.stack([speech, speech], axis=1) * 32767).astype(np.int16), tmp_path / "own.wav")
    talk = mux(examples_dir / "fades.mp4", tmp_path / "own.wav", tmp_path / "talk.mp4")
    sound = own_sound(talk)
    assert own_sound(talk) is sound  # decoded once
    assert sound.frames == round(10.0 * rate) and sound.path.stat().st_size == 4 * sound.frames
    heard = sound.read(0, sound.frames)[:, 0]
    assert np.corrcoef(heard[rate : 9 * rate], speech[rate : 9 * rate])[0, 1] > 0.95  # the voice, in step
    assert ducked_spans(talk) and not ducked_spans(examples_dir / "fades.mp4")  # no sound: no rests
    _forget_sounds()
    assert not sound.path.exists()


def test_no_room_for_the_videos_sound_is_one_clear_error(examples_dir, tmp_path, monkeypatch):
    rate = SAMPLE_RATE
    write_wav(np.zeros((3 * rate, 2), np.int16), tmp_path / "own.wav")
    talk = mux(examples_dir / "fades.mp4", tmp_path / "own.wav", tmp_path / "talk.mp4")
    monkeypatch.setattr("tempfile.tempdir", str(tmp_path / "missing"))  # a temporary folder that is not there
    with pytest.raises(UserError, match="cannot keep the video's own sound .*TMPDIR"):
        own_sound(talk)
    assert not list((tmp_path).glob("video2music-sound-*"))


def test_the_sound_decoded_ahead_in_a_thread_is_what_a_later_call_gets(examples_dir, tmp_path, monkeypatch):
    rate = SAMPLE_RATE
    t = np.arange(6 * rate) / rate
    hum = np.sin(2 * np.pi * 330 * t) * 0.2
    write_wav((np.stack([hum, hum], axis=1) * 32767).astype(np.int16), tmp_path / "own.wav")
    talk = mux(examples_dir / "fades.mp4", tmp_path / "own.wav", tmp_path / "talk.mp4")
    _forget_sounds()
    import video2music.audio.mux as mux_module

    decodings = []
    decode = mux_module._decoded_sound
    monkeypatch.setattr(mux_module, "_decoded_sound", lambda *a: decodings.append(a) or decode(*a))
    decode_own_sound_soon(talk)
    sound = own_sound(talk)  # waits for the thread's decoding rather than decoding again
    assert len(decodings) == 1 and own_sound(talk) is sound
    assert np.corrcoef(sound.read(rate, 4 * rate)[:, 0], hum[rate : 5 * rate])[0, 1] > 0.95
    # A decoding ahead that fails says nothing; the next call meets the error and reports it.
    os.utime(talk, ns=(1, 1))  # another version of the file: not decoded yet
    monkeypatch.setattr("tempfile.tempdir", str(tmp_path / "missing"))
    decode_own_sound_soon(talk)
    with pytest.raises(UserError, match="cannot keep the video's own sound"):
        own_sound(talk)
