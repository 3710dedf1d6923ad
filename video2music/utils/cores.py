"""How many cores this process may work on."""

from __future__ import annotations

import os


def usable_cores(most: int) -> int:
    """The cores this process may run on (its CPU affinity, where the system has one), at most
    ``most`` and at least 1."""
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    return max(1, min(most, usable))
