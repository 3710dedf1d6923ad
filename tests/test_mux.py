"""Muxing a WAV into the real example videos with PyAV: picture copied, audio as long as the video."""

from __future__ import annotations

import hashlib

import av
import numpy as np
import pytest

from video2music.errors import UserError
from video2music.music.mux import mux
from video2music.music.synth import SAMPLE_RATE, write_wav


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
