"""Decoding steps run on one thread; the large ops between them on the caller's thread count.

A step is a few hundred small ops (see :mod:`video2music.model.stepper`). Two threads could take
about 40% off a full-size step on an idle 2-core machine, but they do not give the same result:
on CPUs with AVX-512 (seen with this torch's MKL and oneDNN) a product split between two threads
differs from the one-thread product in its last bits, float16 and float32 alike, and a sampled
chord can follow such a bit. The same seed must give the same music, so every step runs on one
thread, which is also what keeps steps fast while other processes hold the cores (waking a
thread pool for every small op stalls on descheduled workers). ``tests/test_decode.py`` checks
that the chords do not depend on the caller's thread count.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

import torch

T = TypeVar("T")


class StepThreads:
    """Within ``with StepThreads() as threads:``, ``threads(fn, *args)`` runs a step on one thread
    and ``threads.wide(fn, *args)`` runs one large op (encoding a window) on the caller's thread
    count, which the block restores at its end."""

    def __init__(self) -> None:
        self.previous = torch.get_num_threads()

    def __enter__(self) -> StepThreads:
        return self

    def __exit__(self, *exc) -> None:
        _use(self.previous)

    def wide(self, fn: Callable[..., T], *args) -> T:
        _use(self.previous)
        return fn(*args)

    def __call__(self, fn: Callable[..., T], *args) -> T:
        _use(1)
        return fn(*args)


def _use(threads: int) -> None:
    if threads != torch.get_num_threads():
        torch.set_num_threads(threads)
