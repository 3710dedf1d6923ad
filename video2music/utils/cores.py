"""How many cores this process may work on, and a length of work shared out among them."""

from __future__ import annotations

import itertools
import os


def usable_cores(most: int) -> int:
    """The cores this process may run on (its CPU affinity, where the system has one), at most
    ``most`` and at least 1."""
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    return max(1, min(most, usable))


def stretches(frames: int, parts: int, grid: int = 1, shortest: int = 0) -> list[tuple[int, int]]:
    """``frames`` cut into up to ``parts`` consecutive (first, stop) stretches of about equal
    length, each join on a multiple of ``grid`` and, when ``shortest`` is given, no more stretches
    than leave each that long. No frames: one empty stretch."""
    count = max(1, min(parts, frames // shortest)) if shortest else max(1, parts)
    joins = {min(frames, round(frames * k / count / grid) * grid) for k in range(1, count)}
    return list(itertools.pairwise(sorted({0, frames} | joins))) or [(0, 0)]
