"""Scene cuts with PySceneDetect's AdaptiveDetector, fed frame by frame from the shared pass.

``scenedetect.detect()`` shrinks every frame to about 256 pixels wide before detection; we do
the same, but with nearest-pixel sampling inside one reused scaler (converting only the pixels
kept). Smoothing scalers (area, bilinear) change the detector's frame scores enough to add cuts
that full-size frames do not have; nearest sampling finds the same cuts as full frames on the
test clips (tests/test_features_scenes.py checks this against ``scenedetect.detect``).
"""

from __future__ import annotations

from collections.abc import Sequence

import av
import numpy as np
from av.video.reformatter import VideoReformatter
from scenedetect import FrameTimecode
from scenedetect.detectors import AdaptiveDetector
from scenedetect.scene_manager import DEFAULT_MIN_WIDTH


class SceneTracker:
    """Feeds frames to an AdaptiveDetector (default settings, as MuVi-Sync used) and keeps the cuts."""

    def __init__(self, fps: float) -> None:
        self._fps = fps if fps > 0 else 25.0
        self._detector = AdaptiveDetector()
        self._reformatter = VideoReformatter()
        self._size: tuple[int, int] | None = None
        self._cuts: list[float] = []
        self._last_time = 0.0

    def _timecode(self, seconds: float) -> FrameTimecode:
        return FrameTimecode(max(0.0, float(seconds)), self._fps)

    def add(self, time: float, frame: av.VideoFrame) -> None:
        if self._size is None:
            # Same target width rule as scenedetect's auto downscale (longer side ~256 px).
            factor = max(1.0, max(frame.width, frame.height) / DEFAULT_MIN_WIDTH)
            self._size = (max(1, round(frame.width / factor)), max(1, round(frame.height / factor)))
        width, height = self._size
        bgr = self._reformatter.reformat(frame, width, height, "bgr24", interpolation="POINT").to_ndarray()
        # Times can step backwards in damaged files; the detector needs them in order.
        self._last_time = max(self._last_time, time)
        self._cuts.extend(
            cut.seconds for cut in self._detector.process_frame(self._timecode(self._last_time), bgr)
        )

    def finish(self) -> list[float]:
        """The cut times in seconds (> 0, ascending): each is the first frame of a new scene."""
        self._cuts.extend(cut.seconds for cut in self._detector.post_process(self._timecode(self._last_time)))
        return sorted({round(cut, 6) for cut in self._cuts if cut > 0})


def scene_offsets(cuts: Sequence[float], sample_times: Sequence[float]) -> np.ndarray:
    """Seconds since the current scene began, per second (0 on a scene's first second).

    Second ``t`` belongs to the scene its sampled frame (the first frame at or after ``t``) shows,
    so a cut at 6.006 s puts second 6 in the new scene when the frame at 6.006 s is its sample.
    """
    cuts_sorted = np.asarray(sorted(cuts), dtype=np.float64)
    times = np.asarray(sample_times, dtype=np.float64)
    # A tiny tolerance: cut times and frame times are the same timestamps, rounded differently.
    scene_index = np.searchsorted(cuts_sorted, times + 1e-6, side="right")
    offsets = np.zeros(len(times), dtype=np.int64)
    for t in range(1, len(times)):
        offsets[t] = 0 if scene_index[t] != scene_index[t - 1] else offsets[t - 1] + 1
    return offsets
