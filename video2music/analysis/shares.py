"""Shares, as the metrics report them: of a whole, and of times that fall near lines."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np


def share(part: float, whole: float) -> float:
    """``part / whole``; NaN when there was nothing to count (a metric with no data, not zero)."""
    return part / whole if whole else math.nan


def near_share(times: Sequence[float], lines: Sequence[float], tolerance: float) -> float:
    """Share of ``times`` within ``tolerance`` of one of ``lines`` (NaN without times)."""
    times = np.asarray(times, dtype=float)
    if not len(times):
        return math.nan
    lines = np.sort(np.asarray(lines, dtype=float))
    if not len(lines):
        return 0.0
    index = np.clip(np.searchsorted(lines, times), 1, len(lines) - 1)
    nearest = np.minimum(np.abs(times - lines[index - 1]), np.abs(times - lines[index]))
    return float((nearest <= tolerance).mean())
