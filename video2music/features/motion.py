"""Motion per second, fed frame by frame from the shared pass (as ``scenes.SceneTracker`` is).

MuVi-Sync's definition: the motion of second ``t`` is the mean absolute RGB difference, over
all pixels at full size, between the first frame at or after ``t`` and the frame before it;
second 0 has no frame before it and gets 0.
"""

from __future__ import annotations

import av
import cv2
import numpy as np
from av.video.reformatter import VideoReformatter


def mean_abs_diff(current: np.ndarray, previous: np.ndarray) -> float:
    """Mean absolute difference (0-255) over all pixels and channels of two uint8 images."""
    if previous.shape != current.shape:  # the stream changed resolution at this boundary
        previous = cv2.resize(previous, (current.shape[1], current.shape[0]), interpolation=cv2.INTER_AREA)
    return float(np.mean(cv2.mean(cv2.absdiff(current, previous))[:3]))


class MotionTracker:
    """Feed every frame with ``add``; ``finish`` gives one motion value per second reached."""

    def __init__(self) -> None:
        self._scaler = VideoReformatter()  # one scaler context, reused for every motion frame
        self._previous: av.VideoFrame | None = None
        self._values: list[float] = []

    def add(self, time: float, frame: av.VideoFrame) -> None:
        if time >= len(self._values):
            change = 0.0
            if self._previous is not None:
                change = mean_abs_diff(self._rgb(frame), self._rgb(self._previous))
            # A gap in a variable-frame-rate stream can span several seconds: the frame after it
            # is the first at or after each of them.
            while time >= len(self._values):
                self._values.append(change if self._values else 0.0)
        self._previous = frame

    def _rgb(self, frame: av.VideoFrame) -> np.ndarray:
        return self._scaler.reformat(frame, format="rgb24").to_ndarray()

    def finish(self) -> np.ndarray:
        """(T,) float32 motion, one value per second."""
        return np.asarray(self._values, dtype=np.float32)
