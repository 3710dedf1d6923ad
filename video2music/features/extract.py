"""extract(): one decoding pass feeds scene detection, motion, pace and the 1-fps samples.

Per decoded frame the pass does only what is needed: a 256-pixel-wide copy for the scene
detector and a 160-pixel grey copy for the pace's optical flow. Once per second it also
converts the sample for the backend (small, at the size the backend asks for) and the two
full-size frames either side of the second boundary for motion. Nothing else is kept but a few
numbers a second and two per frame (the pace's, until the cuts are known), so memory grows by
about 12 bytes per frame with the length of the video.
"""

from __future__ import annotations

import logging
import math
import os
from typing import Protocol

import av
import cv2
import numpy as np
import scenedetect
from tqdm import tqdm

from video2music.features.basic import BasicBackend
from video2music.features.clip import DEFAULT_CLIP_MODEL, ClipBackend
from video2music.features.motion import MotionTracker
from video2music.features.pace import PaceTracker, pace_from
from video2music.features.scenes import SceneTracker, scene_offsets
from video2music.features.video_features import VideoFeatures, video_fingerprint
from video2music.utils.errors import UserError
from video2music.utils.video_io import DecodeReport, FrameSampler, iter_frames, open_video, quarter_turns

logger = logging.getLogger(__name__)

BACKENDS = ("basic", "clip")


class Backend(Protocol):
    """What the pass needs from a backend (BasicBackend, ClipBackend)."""

    name: str

    @property
    def provenance(self) -> dict: ...

    @property
    def sample_fit(self): ...

    def start(self) -> None: ...

    def add(self, image: np.ndarray) -> None: ...

    def finish(self, motion: np.ndarray, scene_cuts: list[float]) -> tuple[np.ndarray | None, np.ndarray]: ...


def make_backend(name: str, *, clip_model: str = DEFAULT_CLIP_MODEL, device: str = "cpu") -> Backend:
    """Build a backend by name; the CLIP one loads its model here (once, reusable for many videos)."""
    if name == "basic":
        return BasicBackend()
    if name == "clip":
        return ClipBackend(clip_model, device=device)
    raise UserError(f"unknown features backend {name!r}; choose one of {', '.join(BACKENDS)}")


def extract(
    path: str | os.PathLike,
    backend: str | Backend = "basic",
    *,
    clip_model: str = DEFAULT_CLIP_MODEL,
    device: str = "cpu",
    progress_bars: bool = False,
) -> VideoFeatures:
    """Per-second features of the video at ``path`` (see VideoFeatures), in one decoding pass.

    ``backend`` is "basic" (no weights; semantic is None), "clip" (loads ``clip_model`` from
    the Hugging Face cache or a local folder), or a backend object from :func:`make_backend`,
    to load a model once for many videos. Raises UserError for anything that is not a
    readable video, before decoding.

    Second ``t`` is sampled at the first frame whose time is >= ``t``, so T is the number of
    seconds in which a frame starts: ``ceil(duration)``, except that a final fragment shorter
    than one frame interval (a 24.02 s clip of 29.97 fps frames) adds no second.
    """
    if isinstance(backend, str) and backend not in BACKENDS:
        raise UserError(f"unknown features backend {backend!r}; choose one of {', '.join(BACKENDS)}")
    container, stream, info = open_video(path)
    try:
        engine = (
            make_backend(backend, clip_model=clip_model, device=device)
            if isinstance(backend, str)
            else backend
        )
        return _single_pass(container, stream, info, engine, progress_bars)
    finally:
        container.close()


def _single_pass(container, stream, info, engine: Backend, progress_bars: bool) -> VideoFeatures:
    report = DecodeReport()
    scenes = SceneTracker(info.fps)
    motion = MotionTracker()
    pace = PaceTracker(info.sample_aspect_ratio, info.fps)
    sampler = FrameSampler(info, engine.sample_fit)
    engine.start()
    sample_times: list[float] = []
    rotation = 0
    next_second = 0
    last_time = 0.0
    expected = round(info.duration * info.fps) if info.duration and info.fps else None
    with tqdm(
        total=expected, unit="frame", desc=info.path.name, disable=not progress_bars, leave=False
    ) as bar:
        for time, frame in iter_frames(container, stream, info, report):
            if report.frames == 1:
                rotation = frame.rotation
            scenes.add(time, frame)
            motion.add(time, frame)
            pace.add(time, frame)
            if time >= next_second:
                image = sampler(frame)
                # A gap in a variable-frame-rate stream can span several seconds: the frame after
                # it is the sample of each of them.
                while time >= next_second:
                    engine.add(image)
                    sample_times.append(time)
                    next_second += 1
            last_time = max(last_time, time)
            bar.update()
    if not sample_times:
        raise UserError(f"{info.path}: no frame of the video could be decoded; the file may be damaged")
    if info.duration and len(sample_times) < math.ceil(info.duration) - 1:
        # Demuxers can meet damage as a silent end of file; compare with the declared length.
        report.truncated = True
        report.note(
            f"{info.path}: frames end at {last_time:.2f} s of the {info.duration:.2f} s the container "
            "declares; the rest could not be read, so the features are shorter than the video"
        )
    if report.demux_errors or report.decode_errors or report.corrupt_frames:
        logger.warning(
            "%s: %d unreadable packets, %d frames that failed to decode, %d frames flagged corrupt; "
            "features come from the frames that decoded",
            info.path,
            report.demux_errors,
            report.decode_errors,
            report.corrupt_frames,
        )
    cuts = scenes.finish()
    motion_array = motion.finish()
    movement = pace.finish(len(sample_times), cuts)
    semantic, emotion = engine.finish(motion_array, cuts)
    duration = info.duration if info.duration else last_time + (1.0 / info.fps if info.fps else 0.0)
    provenance = {
        "source": str(info.path),
        "fingerprint": video_fingerprint(info.path),
        "container": info.container_format,
        "codec": info.codec,
        "coded_size": [info.width, info.height],
        "sample_aspect_ratio": str(info.sample_aspect_ratio),
        "rotation": quarter_turns(rotation) * 90,
        "first_sample_time": sample_times[0],
        "scene_detector": "scenedetect AdaptiveDetector (defaults), frames ~256 px wide",
        "pace": "OpenCV DIS optical flow (ultrafast) on grey frames {}x{}, cut pairs left out".format(
            *pace.flow_size
        ),
        "decode": report.as_dict(),
        "libraries": {
            "av": av.__version__,
            "ffmpeg": ".".join(map(str, av.library_versions["libavcodec"])),
            "scenedetect": scenedetect.__version__,
            "opencv": cv2.__version__,
            "numpy": np.__version__,
        },
        **engine.provenance,
    }
    logger.debug("%s: %d seconds, %d cuts, %d frames", info.path, len(sample_times), len(cuts), report.frames)
    return VideoFeatures(
        duration=float(duration),
        fps=info.fps,
        semantic=semantic,
        emotion=emotion,
        scene_offset=scene_offsets(cuts, sample_times),
        scene_cuts=cuts,
        motion=motion_array,
        backend=engine.name,
        provenance=provenance,
        movement=movement,
        pace=pace_from(movement, cuts),
    )
