"""Put a WAV into a copy of a video as its AAC soundtrack, without re-encoding the picture.

The video stream's packets are copied as they are (remuxed), so the picture is bit-identical to
the input. The audio starts with the first frame (also when the video stream starts late) and is
cut, or padded with silence, to the video stream's duration. The input's own audio, subtitle and
data streams are left out: the WAV replaces them.

Everything streams: the WAV is read a block at a time into the encoder, and the encoded audio
packets are interleaved with the copied picture packets and written as they come, so memory
does not grow with the video's length.
"""

from __future__ import annotations

import contextlib
import logging
import os
import wave
from collections.abc import Iterator
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

from video2music.errors import UserError
from video2music.fileio import atomic_output
from video2music.video_io import VideoInfo, open_video, probe

logger = logging.getLogger(__name__)

AUDIO_CODEC = "aac"
AUDIO_BITRATE = 192_000


_AUDIO_BLOCK = 1024 * 16  # samples per frame handed to the encoder


@contextlib.contextmanager
def _open_wav(path: str | os.PathLike) -> Iterator[wave.Wave_read]:
    """A 16-bit mono or stereo PCM WAV opened for reading, or a UserError saying what is wrong."""
    try:
        source = wave.open(str(path), "rb")  # noqa: SIM115 - closed by the with below
    except (OSError, EOFError, wave.Error) as error:
        raise UserError(f"{path} is not a readable WAV file ({error}); pass a 16-bit PCM .wav") from None
    with source:
        if source.getsampwidth() != 2 or source.getnchannels() not in (1, 2):
            raise UserError(f"{path} is not a 16-bit mono or stereo WAV; render it with video2music.music")
        yield source


def _wav_blocks(source: wave.Wave_read, wanted: int) -> Iterator[np.ndarray]:
    """Exactly ``wanted`` (n, channels) int16 samples from ``source`` in _AUDIO_BLOCK blocks,
    padded with silence past its end."""
    channels = source.getnchannels()
    for offset in range(0, wanted, _AUDIO_BLOCK):
        count = min(_AUDIO_BLOCK, wanted - offset)
        block = np.frombuffer(source.readframes(count), dtype="<i2").reshape(-1, channels)
        if len(block) < count:
            block = np.concatenate([block, np.zeros((count - len(block), channels), np.int16)])
        yield block


def video_timing(video_path: str | os.PathLike) -> tuple[float, float]:
    """(start, duration) in seconds of the first video stream of ``video_path``."""
    return _timing(probe(video_path))


def _timing(info: VideoInfo) -> tuple[float, float]:
    if not info.duration or info.duration <= 0:
        raise UserError("the video's duration is unknown or zero; re-save it with a standard tool")
    return info.stream_start, info.duration


def mux_into(video_path: str | os.PathLike, wav_path: str | os.PathLike, out_path: str | os.PathLike) -> None:
    """Write ``out_path`` (any existing file is replaced; see ``mux`` for the safe entry point).

    An OSError (a full disk, no permission) is raised as it is, for the caller to name the file;
    other FFmpeg errors mean the container cannot hold these streams."""
    with _open_wav(wav_path) as wav:
        rate = wav.getframerate()
        source, video_in, info = open_video(video_path)
        with source:
            start, duration = _timing(info)
            blocks = _wav_blocks(wav, round(duration * rate))
            if len(source.streams) > 1:
                logger.info("leaving out %d non-picture stream(s) of %s", len(source.streams) - 1, video_path)
            try:
                with av.open(str(out_path), "w") as output:
                    video_out = output.add_stream_from_template(video_in)
                    layout = "stereo" if wav.getnchannels() == 2 else "mono"
                    audio_out = output.add_stream(AUDIO_CODEC, rate=rate, layout=layout)
                    audio_out.bit_rate = AUDIO_BITRATE
                    audio = _encode_audio(audio_out, blocks, rate, round(start * rate))
                    for packet in _interleave(_copied(source.demux(video_in), video_out), audio):
                        output.mux(packet)
            except OSError:
                raise
            except av.error.FFmpegError as error:
                raise UserError(
                    f"cannot write {out_path} ({error}); choose an .mp4, .mov or .mkv output"
                ) from None


def _encode_audio(stream, blocks: Iterator[np.ndarray], rate: int, first_pts: int) -> Iterator[av.Packet]:
    """AAC packets for the sample ``blocks``, the first sample at ``first_pts`` (in 1/rate seconds)."""
    layout = stream.layout.name
    offset = 0
    for block in blocks:
        frame = av.AudioFrame.from_ndarray(
            np.ascontiguousarray(block).reshape(1, -1), format="s16", layout=layout
        )
        frame.sample_rate = rate
        frame.time_base = Fraction(1, rate)
        frame.pts = first_pts + offset
        offset += len(block)
        yield from stream.encode(frame)
    yield from stream.encode(None)


def _copied(packets, stream):
    """The demuxed packets, re-addressed to the output ``stream`` (their data untouched)."""
    for packet in packets:
        if packet.dts is None:  # the demuxer's end-of-stream flush packet carries nothing
            continue
        packet.stream = stream
        yield packet


def _interleave(video_packets, audio_packets: Iterator[av.Packet]):
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
