"""Pace per second: how fast the picture moves and how often it is cut, fed frame by frame.

``motion`` (``features.motion``) stays MuVi-Sync's one frame pair per second for the models
trained on it. It is a poor measure of pace: a cut or a fade changes every pixel and
outweighs any movement, and one pair a second misses most of what happens between samples.
Pace is measured for the music instead:

- **Movement** (picture widths per second): the mean optical-flow speed over every consecutive
  frame pair, on a grey copy of each frame at most ``FLOW_SIDE`` pixels on its longer side, in
  the display's geometry (sample aspect ratio applied). The unit is the picture's longer side,
  so 0.25 means the picture content crosses a quarter of the frame each second, whatever the
  resolution or frame rate. The flow is OpenCV's DIS (ultrafast preset), about 0.1 ms a pair.
- **Fades and brightness changes are not movement.** Each grey frame is brought to one mean
  and contrast before the flow (``NORMALISED_CONTRAST``), so a fade or a flash leaves the
  image the flow sees unchanged; a blank frame (contrast under ``BLANK_CONTRAST``, the black
  of a fade) shows nothing that could move and counts as still. On examples/testvideo.mp4 this
  takes the seconds fading through black from 0.021-0.029 widths/s to 0-0.015. Encoders add a
  jitter of their own to fades (small blocks nudged back and forth), so the flow is summed over
  ``WINDOW_SECONDS`` before its length is taken: real movement keeps its direction and adds up,
  the jitter cancels (a fade that ffmpeg's mpeg4 encoder squeezed into 80 kbit/s reads
  0.007-0.023 instead of 0.025-0.068; H.264 at its default quality leaves 0.002).
- **Cuts are not movement.** The pair that straddles a scene cut compares two unrelated shots;
  it, and every window that contains it, is left out once the cuts are known.
- **Editing is pace too.** ``pace = movement + CUT_WEIGHT * cuts per second`` over a
  ``CUT_WINDOW_SECONDS`` window centred on each second. A cut counts as a twentieth of a
  picture width, so that editing alone lands on the dynamics rule's anchors
  (``model.dynamics_rule.PACE_ANCHORS``) by its average shot length: a shot every 4 s (about
  the average shot of a 2000s feature film) reads calm (0.0125), one a second moderate (0.05),
  one every 0.4 s busy (0.125); movement adds to it.

Measured with this code on the clips of tests/test_features_pace.py (H.264, 320x180, 25 fps):
a textured scene panned at 20, 80 and 240 px/s reads 0.063, 0.249 and 0.752 widths/s (true:
0.0625, 0.25, 0.75); the same scene still, fading to a fifth of its brightness, flashing, or
cut every second moves under 0.004. examples/testvideo.mp4 (still shots, fades through black,
four cuts) moves under 0.015 widths/s in every second; its pace is 0.005-0.02.
"""

from __future__ import annotations

from array import array
from collections import deque
from collections.abc import Sequence
from fractions import Fraction

import av
import cv2
import numpy as np
from av.video.reformatter import VideoReformatter

from video2music.utils.video_io import display_size, fit_within

FLOW_SIDE = 160  # longer side of the grey frames the flow runs on
NORMALISED_CONTRAST = 48.0  # grey levels: the standard deviation every frame is brought to
CONTRAST_FLOOR = 8.0  # a dim frame's contrast is raised at most 48/8 = 6 times, so noise stays small
BLANK_CONTRAST = 4.0  # under this standard deviation a frame is blank (the black of a fade)
WINDOW_SECONDS = 0.2  # flow summed over this long before its length is taken
CUT_WEIGHT = 0.05  # picture widths a cut counts as
CUT_WINDOW_SECONDS = 10.0
PACE_UNIT = (
    f"picture widths per second: the movement plus {CUT_WEIGHT:g} per cut a second "
    f"(cuts counted over {CUT_WINDOW_SECONDS:g} s)"
)


def cut_rate(cuts: Sequence[float], seconds: int, window: float = CUT_WINDOW_SECONDS) -> np.ndarray:
    """Cuts per ``window`` seconds centred on each second, shape (seconds,)."""
    centres = np.arange(seconds, dtype=np.float64) + 0.5
    cut_times = np.asarray(cuts, dtype=np.float64)
    if not len(cut_times):
        return np.zeros(seconds)
    inside = np.abs(cut_times[None, :] - centres[:, None]) <= window / 2
    # Near the ends the window is cut short; scale up to a full window so rates stay comparable.
    covered = np.minimum(centres + window / 2, seconds) - np.maximum(centres - window / 2, 0.0)
    return inside.sum(axis=1) * window / np.maximum(covered, 1.0)


def pace_from(movement: np.ndarray, cuts: Sequence[float]) -> np.ndarray:
    """(T,) float32 pace in picture widths per second: movement plus the weighted cut rate."""
    movement = np.asarray(movement, dtype=np.float64)
    cuts_per_second = cut_rate(cuts, len(movement)) / CUT_WINDOW_SECONDS
    return (movement + CUT_WEIGHT * cuts_per_second).astype(np.float32)


class PaceTracker:
    """Feed every frame with ``add``; ``finish`` gives the movement of each second.

    Per frame it keeps two numbers (the frame's time and its pair's speed), so a long video
    costs a few megabytes; which pairs straddle a cut is only known once the scene detector
    has seen the whole video.
    """

    def __init__(self, sample_aspect_ratio: Fraction, fps: float) -> None:
        self._sar = sample_aspect_ratio
        self._reformatter = VideoReformatter()
        self._flow = cv2.DISOpticalFlow_create(cv2.DISOPTICAL_FLOW_PRESET_ULTRAFAST)
        self._size: tuple[int, int] | None = None
        self._total = np.zeros((0, 0, 2), np.float64)
        self._window_pairs = max(1, round(WINDOW_SECONDS * (fps if fps > 0 else 25.0)))
        self._window: deque[tuple[float, np.ndarray]] = deque(maxlen=self._window_pairs)
        self._previous: tuple[float, np.ndarray | None] | None = None
        self._ends = array("d")  # time of the later frame of each pair
        self._speeds = array("f")  # its windowed speed, picture widths per second

    @property
    def flow_size(self) -> tuple[int, int] | None:
        """(width, height) of the grey frames the flow runs on, once a frame was added."""
        return self._size

    def add(self, time: float, frame: av.VideoFrame) -> None:
        if self._size is None:
            shown = display_size(frame.width, frame.height, self._sar, 0)  # flow lengths ignore rotation
            self._size = fit_within(FLOW_SIDE)(*shown)
            # The window's flows summed; float64, so adding and taking away for hours leaves no drift.
            self._total = np.zeros((self._size[1], self._size[0], 2), np.float64)
        image = self._normalised(frame)
        if self._previous is not None:
            previous_time, previous_image = self._previous
            if time <= previous_time or (self._ends and time <= self._ends[-1]):
                # A damaged file's times stepped back: no speed to measure until they pass the
                # last pair's, and no window reaches across the step.
                self._window.clear()
                self._total[:] = 0.0
                self._previous = (time, image)
                return
            if image is None or previous_image is None:
                flow = np.zeros((self._size[1], self._size[0], 2), np.float32)
            else:
                flow = self._flow.calc(previous_image, image, None)
            if len(self._window) == self._window.maxlen:
                self._total -= self._window[0][1]
            self._window.append((previous_time, flow))
            self._total += flow
            length = float(cv2.magnitude(self._total[..., 0], self._total[..., 1]).mean()) / max(self._size)
            self._ends.append(time)
            self._speeds.append(length / (time - self._window[0][0]))
        self._previous = (time, image)

    def _normalised(self, frame: av.VideoFrame) -> np.ndarray | None:
        """The small grey frame at one mean and contrast, or None if it is blank."""
        width, height = self._size
        # Bilinear sampling without a wider filter is a third of an area average's cost and reads
        # the same speeds: the flow's finest level is a quarter of this size.
        grey = self._reformatter.reformat(frame, width, height, "gray", interpolation="FAST_BILINEAR")
        grey = grey.to_ndarray()
        mean, std = (float(v[0, 0]) for v in cv2.meanStdDev(grey))
        if std < BLANK_CONTRAST:
            return None
        gain = NORMALISED_CONTRAST / max(std, CONTRAST_FLOOR)
        return cv2.addWeighted(grey, gain, grey, 0.0, 128.0 - gain * mean)  # saturates to 0-255

    def finish(self, seconds: int, cuts: Sequence[float]) -> np.ndarray:
        """(seconds,) float32 movement in picture widths per second, the cuts' pairs left out.

        Second ``t`` averages the pairs whose later frame falls in ``[t, t+1)``; a second left
        with none (a single frame, or only pairs beside a cut) takes the value interpolated
        between its neighbours, and a video with none at all is still (0).
        """
        ends = np.frombuffer(self._ends, dtype=np.float64)
        speeds = np.frombuffer(self._speeds, dtype=np.float32).astype(np.float64)
        keep = np.ones(len(ends), dtype=bool)
        for cut in cuts:
            # The pair across the cut is the one whose later frame is the cut's frame; the times
            # the scene detector reports are rounded to its frame grid, so take the nearest.
            after = int(np.searchsorted(ends, cut))
            nearest = [i for i in (after - 1, after) if 0 <= i < len(ends)]
            if nearest:
                straddling = min(nearest, key=lambda i: abs(ends[i] - cut))
                keep[straddling : straddling + self._window_pairs] = False
        second = np.clip(np.floor(ends[keep]).astype(np.int64), 0, seconds - 1)
        totals = np.bincount(second, weights=speeds[keep], minlength=seconds)[:seconds]
        counts = np.bincount(second, minlength=seconds)[:seconds]
        measured = np.flatnonzero(counts)
        if not len(measured):
            return np.zeros(seconds, dtype=np.float32)
        means = totals[measured] / counts[measured]
        return np.interp(np.arange(seconds), measured, means).astype(np.float32)
