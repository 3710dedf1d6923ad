"""How intense the video is, second by second and bar by bar: the curve the music's energy follows.

The dynamics part (``compose.dynamics``: the rule or a trained regression) already turns motion
and emotional arousal into note density and loudness per second. The intensity is their mean on
a common 0-1 scale (density through the rule's anchors, 1 to 13 notes a second; loudness from
0.1, still and calm, to 0.85, very busy and exciting), smoothed over ``SMOOTH_SECONDS`` so that
sections, not single shots, set it. Per bar it is the mean over the seconds the bar covers.
"""

from __future__ import annotations

import numpy as np

from video2music.model.dynamics_rule import DENSITY_ANCHORS, gaussian_smooth
from video2music.theory.grid import Grid

SMOOTH_SECONDS = 4.0
LOUDNESS_SPAN = (0.1, 0.85)


def intensity(density: np.ndarray, loudness: np.ndarray) -> np.ndarray:
    """(T,) intensity in 0..1 per second from note density (notes/s) and loudness (RMS 0-1)."""
    levels = np.linspace(0.0, 1.0, len(DENSITY_ANCHORS))
    dense = np.interp(np.asarray(density, dtype=float), DENSITY_ANCHORS, levels)
    loud = np.clip(
        (np.asarray(loudness, dtype=float) - LOUDNESS_SPAN[0]) / np.subtract(*LOUDNESS_SPAN[::-1]), 0, 1
    )
    return np.clip(gaussian_smooth((dense + loud) / 2.0, SMOOTH_SECONDS), 0.0, 1.0)


def per_bar(per_second: np.ndarray, grid: Grid) -> np.ndarray:
    """(bars, ...) the mean of ``per_second`` rows over the seconds each bar of ``grid`` covers
    (a bar shorter than a second reads the second it starts in)."""
    per_second = np.asarray(per_second, dtype=float)
    beat = grid.seconds_per_beat
    edges = np.append(np.asarray(grid.bar_starts, dtype=float), grid.end_beat) * beat
    out = []
    for start, end in zip(edges[:-1], edges[1:], strict=True):
        first = min(int(start), len(per_second) - 1)
        last = min(max(int(np.ceil(end)), first + 1), len(per_second))
        out.append(per_second[first:last].mean(axis=0))
    return np.array(out)
