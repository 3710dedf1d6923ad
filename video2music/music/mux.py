"""Put a WAV into a copy of a video as its AAC soundtrack, without re-encoding the picture.

The video stream's packets are copied as they are (remuxed), so the picture is bit-identical to
the input. The audio starts with the first frame (also when the video stream starts late) and is
cut, or padded with silence, to the video stream's duration. The input's own audio, subtitle and
data streams are left out: the WAV replaces them.
"""

from __future__ import annotations

import logging
import os
import wave
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

from video2music.errors import UserError
from video2music.features.decode import VideoInfo, open_video, probe
from video2music.fileio import atomic_output

logger = logging.getLogger(__name__)

AUDIO_CODEC = "aac"
AUDIO_BITRATE = 192_000


def read_wav(path: str | os.PathLike) -> tuple[np.ndarray, int]:
    """(n, channels) int16 samples and the sample rate of a 16-bit PCM WAV."""
    try:
        with wave.open(str(path), "rb") as source:
            if source.getsampwidth() != 2 or source.getnchannels() not in (1, 2):
                raise UserError(
                    f"{path} is not a 16-bit mono or stereo WAV; render it with video2music.music"
                )
            frames = source.readframes(source.getnframes())
            channels, rate = source.getnchannels(), source.getframerate()
    except (OSError, EOFError, wave.Error) as error:
        raise UserError(f"{path} is not a readable WAV file ({error}); pass a 16-bit PCM .wav") from None
    return np.frombuffer(frames, dtype="<i2").reshape(-1, channels), rate


def video_timing(video_path: str | os.PathLike) -> tuple[float, float]:
    """(start, duration) in seconds of the first video stream of ``video_path``."""
    return _timing(probe(video_path))


def _timing(info: VideoInfo) -> tuple[float, float]:
    if not info.duration or info.duration <= 0:
        raise UserError("the video's duration is unknown or zero; re-save it with a standard tool")
    return info.stream_start, info.duration


def mux_into(video_path: str | os.PathLike, wav_path: str | os.PathLike, out_path: str | os.PathLike) -> None:
    """Write ``out_path`` (any existing file is replaced; see ``mux`` for the safe entry point)."""
    samples, rate = read_wav(wav_path)
    source, video_in, info = open_video(video_path)
    with source:
        start, duration = _timing(info)
        wanted = round(duration * rate)
        if len(samples) < wanted:
            samples = np.concatenate([samples, np.zeros((wanted - len(samples), samples.shape[1]), np.int16)])
        samples = samples[:wanted]
        if len(source.streams) > 1:
            logger.info("leaving out %d non-picture stream(s) of %s", len(source.streams) - 1, video_path)
        try:
            with av.open(str(out_path), "w") as output:
                video_out = output.add_stream_from_template(video_in)
                layout = "stereo" if samples.shape[1] == 2 else "mono"
                audio_out = output.add_stream(AUDIO_CODEC, rate=rate, layout=layout)
                audio_out.bit_rate = AUDIO_BITRATE
                audio = _encode_audio(audio_out, samples, rate, round(start * rate))
                for packet in _interleave(_copied(source.demux(video_in), video_out), audio):
                    output.mux(packet)
        except av.error.FFmpegError as error:
            raise UserError(
                f"cannot write {out_path} ({error}); choose an .mp4, .mov or .mkv output"
            ) from None


def _encode_audio(stream, samples: np.ndarray, rate: int, first_pts: int) -> list[av.Packet]:
    """AAC packets for ``samples``, the first sample at ``first_pts`` (in 1/rate seconds)."""
    packets: list[av.Packet] = []
    layout = stream.layout.name
    block = 1024 * 16
    for offset in range(0, len(samples), block):
        chunk = np.ascontiguousarray(samples[offset : offset + block]).reshape(1, -1)
        frame = av.AudioFrame.from_ndarray(chunk, format="s16", layout=layout)
        frame.sample_rate = rate
        frame.time_base = Fraction(1, rate)
        frame.pts = first_pts + offset
        packets += stream.encode(frame)
    packets += stream.encode(None)
    return packets


def _copied(packets, stream):
    """The demuxed packets, re-addressed to the output ``stream`` (their data untouched)."""
    for packet in packets:
        if packet.dts is None:  # the demuxer's end-of-stream flush packet carries nothing
            continue
        packet.stream = stream
        yield packet


def _interleave(video_packets, audio_packets: list[av.Packet]):
    """Video and audio packets merged in time order, as players read a file."""
    audio = iter(audio_packets)
    pending = next(audio, None)
    for packet in video_packets:
        at = packet.dts * packet.time_base
        while pending is not None and pending.dts * pending.time_base <= at:
            yield pending
            pending = next(audio, None)
        yield packet
    while pending is not None:
        yield pending
        pending = next(audio, None)


def mux(
    video_path: str | os.PathLike,
    wav_path: str | os.PathLike,
    out_path: str | os.PathLike,
    overwrite: bool = False,
) -> Path:
    """Write a copy of ``video_path`` with ``wav_path`` as its AAC audio (atomically; refuses to
    replace an existing file unless ``overwrite``). The picture packets are copied unchanged."""
    with atomic_output(out_path, overwrite) as tmp:
        mux_into(video_path, wav_path, tmp)
    logger.info("muxed %s into %s", wav_path, out_path)
    return Path(out_path)
