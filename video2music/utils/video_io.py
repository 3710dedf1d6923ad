"""Finding videos, opening them and streaming their frames once, with their presentation times.

Everything that needs pixels (scene detection, motion, the per-second samples) is fed from the
single pass in :mod:`video2music.features.extract`, and the mux (``audio.mux``) copies a video's
picture from here; this module only knows about containers, streams, timestamps and geometry:

- times come from each frame's presentation timestamp, measured from the container's start
  time (as ffmpeg and OpenCV report positions), so variable frame rate and delayed starts work;
- the display geometry applies the sample aspect ratio and the rotation stored in the display
  matrix, so a sample looks the way a player shows the video;
- a packet that fails to demux or decode is skipped and counted, and the pass goes on.
"""

from __future__ import annotations

import logging
import math
import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
from av.video.reformatter import VideoReformatter

from video2music.utils.errors import UserError

logger = logging.getLogger(__name__)

# After this many failures in a row the rest of the file is treated as unreadable (a truncated
# file fails on every read at its end).
MAX_CONSECUTIVE_ERRORS = 32


@dataclass(frozen=True)
class VideoInfo:
    """What the container says about the video stream, before any frame is decoded."""

    path: Path
    container_format: str
    codec: str
    width: int
    height: int
    fps: float
    duration: float | None  # of the video stream
    start_time: float  # of the container: frame times count from here
    stream_start: float  # of the video stream's first frame, on the container's clock
    sample_aspect_ratio: Fraction


@dataclass
class DecodeReport:
    """What went wrong while reading, for the log and the features' provenance."""

    frames: int = 0
    demux_errors: int = 0
    decode_errors: int = 0
    corrupt_frames: int = 0
    truncated: bool = False
    messages: list[str] = field(default_factory=list)
    errors_in_a_row: int = 0

    def note(self, message: str) -> None:
        # Keep the first few messages only: a badly broken file can fail on every packet.
        if len(self.messages) < 10:
            self.messages.append(message)
        logger.warning(message)

    def failed(self, message: str, demux: bool) -> bool:
        """Count a failed read; True when so many failed in a row that the rest is given up."""
        if demux:
            self.demux_errors += 1
        else:
            self.decode_errors += 1
        self.errors_in_a_row += 1
        self.note(message)
        if self.errors_in_a_row < MAX_CONSECUTIVE_ERRORS:
            return False
        self.truncated = True
        self.note(f"stopped reading after {self.errors_in_a_row} errors in a row")
        return True

    def as_dict(self) -> dict:
        return {
            "frames": self.frames,
            "demux_errors": self.demux_errors,
            "decode_errors": self.decode_errors,
            "corrupt_frames": self.corrupt_frames,
            "truncated": self.truncated,
            "messages": list(self.messages),
        }


def _seconds(value: int | None, time_base: Fraction | None) -> float | None:
    if value is None or time_base is None:
        return None
    return float(value * time_base)


def open_video(path: str | os.PathLike) -> tuple[av.container.InputContainer, av.VideoStream, VideoInfo]:
    """Open ``path`` for decoding; raise UserError, before any decoding, if it is not a video."""
    path = Path(path)
    if not path.exists():
        raise UserError(f"{path} does not exist; check the path")
    if path.is_dir():
        raise UserError(f"{path} is a folder, not a video file; give the path of a video")
    if path.stat().st_size == 0:
        raise UserError(f"{path} is empty (0 bytes); give a complete video file")
    try:
        container = av.open(str(path), metadata_errors="ignore")
    except (av.error.FFmpegError, UnicodeDecodeError) as error:
        # FFmpeg's own words, without its error number and the path repeated ("[Errno 1094995529]").
        reason = getattr(error, "strerror", None) or type(error).__name__
        raise UserError(
            f"{path} is not a readable video ({reason.lower()}); give an mp4, mkv, mov, webm or avi"
        ) from None
    if not container.streams.video:
        container.close()
        raise UserError(f"{path} has no video stream; give a file that contains video")
    stream = container.streams.video[0]
    if not stream.codec_context.width or not stream.codec_context.height:
        container.close()
        raise UserError(f"{path} has a video stream without a picture size; the file may be damaged")
    # Frame threads plus slice threads: decoding dominates the pass, and both cores help.
    stream.thread_type = "AUTO"
    rate = stream.average_rate or stream.guessed_rate or stream.base_rate
    sar = stream.sample_aspect_ratio
    start = container.start_time / av.time_base if container.start_time is not None else 0.0
    stream_start = _seconds(stream.start_time, stream.time_base) or 0.0
    duration = _seconds(stream.duration, stream.time_base)
    if duration is None and container.duration is not None:
        # Some containers (e.g. Matroska) state only the whole file's duration, from its start.
        duration = start + container.duration / av.time_base - stream_start
    info = VideoInfo(
        path=path,
        container_format=container.format.name,
        codec=stream.codec_context.name,
        width=stream.codec_context.width,
        height=stream.codec_context.height,
        fps=float(rate) if rate else 0.0,
        duration=duration,
        start_time=start,
        stream_start=stream_start,
        sample_aspect_ratio=Fraction(sar) if sar and sar > 0 else Fraction(1),
    )
    return container, stream, info


VIDEO_EXTENSIONS = (".mp4", ".mkv", ".mov", ".webm", ".avi", ".m4v")


def videos_in(folder: Path) -> list[Path]:
    """The video files directly in ``folder`` (by extension), sorted by name."""
    return sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in VIDEO_EXTENSIONS)


def find_videos(inputs: Iterable[str | os.PathLike], *, strict: bool) -> list[Path]:
    """The videos named, and those directly in named folders, in order and each once.

    ``strict``: a missing path or a folder without videos is a UserError. Otherwise the folder
    is only warned about and a missing path kept, so a batch reports it among the other videos.
    """
    videos: list[Path] = []
    for name in inputs:
        path = Path(name)
        if path.is_dir():
            found = videos_in(path)
            if not found:
                message = f"folder {path} holds no videos ({', '.join(VIDEO_EXTENSIONS)})"
                if strict:
                    raise UserError(message)
                logger.warning("%s", message)
            videos.extend(found)
        elif strict and not path.exists():
            raise UserError(f"{path} does not exist; give a video file or a folder of videos")
        else:
            videos.append(path)
    return list(dict.fromkeys(videos))  # a video named and also in a named folder is taken once


def probe(path: str | os.PathLike) -> VideoInfo:
    """What the container says about the video of ``path``, without decoding a frame."""
    container, _, info = open_video(path)
    container.close()
    return info


def iter_frames(
    container: av.container.InputContainer, stream: av.VideoStream, info: VideoInfo, report: DecodeReport
) -> Iterator[tuple[float, av.VideoFrame]]:
    """Yield ``(seconds from the start, frame)`` in presentation order, skipping broken packets.

    A frame without a timestamp gets the previous one plus one frame interval.
    """
    step = 1.0 / info.fps if info.fps > 0 else 1.0 / 25.0
    last_time = -step
    demuxer = container.demux(stream)
    while True:
        try:
            packet = next(demuxer)
        except StopIteration:
            break
        except av.error.FFmpegError as error:
            if report.failed(f"{info.path}: skipped unreadable data ({error})", demux=True):
                break
            demuxer = container.demux(stream)  # demuxing goes on from the current file position
            continue
        try:
            frames = packet.decode()
        except av.error.FFmpegError as error:
            if report.failed(f"{info.path}: skipped a frame that does not decode ({error})", demux=False):
                break
            continue
        report.errors_in_a_row = 0
        for frame in frames:
            if frame.is_corrupt:
                report.corrupt_frames += 1
            time = frame.time - info.start_time if frame.time is not None else last_time + step
            last_time = time
            report.frames += 1
            yield time, frame


def display_size(width: int, height: int, sar: Fraction, rotation: int) -> tuple[int, int]:
    """The picture size a player shows: pixels stretched by the aspect ratio, then rotated."""
    display_width = max(1, round(width * sar))
    if quarter_turns(rotation) % 2:
        return height, display_width
    return display_width, height


def quarter_turns(rotation: float) -> int:
    """Counter-clockwise quarter turns for a display-matrix rotation in degrees."""
    return round(rotation / 90.0) % 4


class FrameSampler:
    """Turns decoded frames into RGB arrays of the size a backend asks for, as a player shows them.

    The size is fixed from the first frame (SAR and rotation applied); later frames of another
    coded size are scaled to it, so every sample has one shape.
    """

    def __init__(self, info: VideoInfo, fit) -> None:
        """``fit(display_width, display_height) -> (width, height)`` chooses the sample size."""
        self._info = info
        self._fit = fit
        self._reformatter = VideoReformatter()
        self._size: tuple[int, int] | None = None
        self._turns = 0

    def __call__(self, frame: av.VideoFrame) -> np.ndarray:
        if self._size is None:
            self._turns = quarter_turns(frame.rotation)
            shown = display_size(frame.width, frame.height, self._info.sample_aspect_ratio, frame.rotation)
            width, height = self._fit(*shown)
            # The scaler works before rotation, so a quarter turn swaps the size it produces.
            self._size = (height, width) if self._turns % 2 else (width, height)
        width, height = self._size
        image = self._reformatter.reformat(frame, width, height, "rgb24", interpolation="AREA").to_ndarray()
        if self._turns:
            image = np.ascontiguousarray(np.rot90(image, self._turns))
        return image


def fit_shortest_edge(edge: int):
    """A size rule for FrameSampler: scale so the shorter side is ``edge`` pixels, keeping aspect."""

    def fit(width: int, height: int) -> tuple[int, int]:
        scale = edge / min(width, height)
        return max(edge, round(width * scale)), max(edge, round(height * scale))

    return fit


def fit_within(box: int):
    """A size rule for FrameSampler: scale down so the longer side is at most ``box`` pixels."""

    def fit(width: int, height: int) -> tuple[int, int]:
        scale = min(1.0, box / max(width, height))
        return max(1, math.floor(width * scale)), max(1, math.floor(height * scale))

    return fit
