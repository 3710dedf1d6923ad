"""How many threads a decoding step runs on: one or two, whichever the clock says is faster now.

A step is a few hundred small ops (see :mod:`video2music.model.stepper`). On an idle machine two
threads share its matrix products and take about 40% off a full-size float16 step (2.8 to 1.7 ms
measured on 2 cores). When other processes hold the cores, waking a thread pool for every op
stalls on descheduled workers and a step is 5-40x slower than on one thread. Which case holds
shows only in timings, and it can change while a long video decodes, so :class:`StepThreads`
times both counts on a few steps in a row each, keeps the faster one, and times them again
later; each time one thread wins, it waits twice as long before the next trial, so a busy
machine pays for few slow trial steps.

The count never changes a step's result: a product's output rows are split between the threads
and each row is summed by one of them, so the logits are the same bit for bit
(``tests/test_decode.py`` checks). The large ops between steps (encoding a window) always run on
the caller's count: on CPUs with AVX-512 their products differ in the last bits between counts.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

import torch

T = TypeVar("T")

TRIALS = 3  # steps per thread count in a trial (the first is not timed)
FIRST_WAIT = 48  # steps between the end of a trial and the next one, doubled while one thread wins


class StepThreads:
    """Within ``with StepThreads() as threads:``, ``threads(fn, *args)`` runs a step on the thread
    count chosen so far and ``threads.wide(fn, *args)`` runs one large op (encoding a window) on the
    caller's thread count, which the block restores at its end.

    Steps use at most 2 threads, and only 1 when the caller allows 1 or ``tune`` is false (a GPU
    does the work); with one choice nothing is timed.
    """

    def __init__(self, tune: bool = True) -> None:
        self.previous = torch.get_num_threads()
        self.counts = [1, 2] if self.previous >= 2 and tune else [1]
        self.chosen = 1
        self.wait = FIRST_WAIT
        self.trial_start = 0  # the step at which the next trial begins
        self.step = 0
        self.best: dict[int, float] = {}

    def __enter__(self) -> StepThreads:
        return self

    def __exit__(self, *exc) -> None:
        torch.set_num_threads(self.previous)

    def wide(self, fn: Callable[..., T], *args) -> T:
        _use(self.previous)
        return fn(*args)

    def __call__(self, fn: Callable[..., T], *args) -> T:
        trial_step = self.step - self.trial_start
        trial_steps = TRIALS * len(self.counts)
        timing = len(self.counts) > 1 and 0 <= trial_step < trial_steps
        # A trial runs each count for TRIALS steps in a row and times all but the first: the step
        # after a change of count wakes or parks the pool's threads and says nothing of the count.
        threads = self.counts[trial_step // TRIALS] if timing else self.chosen
        _use(threads)
        start = time.perf_counter()
        result = fn(*args)
        self.step += 1
        if timing and trial_step % TRIALS:
            seconds = time.perf_counter() - start
            self.best[threads] = min(seconds, self.best.get(threads, seconds))
        if timing and trial_step == trial_steps - 1:
            self._choose()
        return result

    def _choose(self) -> None:
        # The fastest single step of each count: a step slowed by another process says nothing
        # about the count.
        chosen = min(self.best, key=self.best.__getitem__)
        self.wait = self.wait * 2 if chosen == 1 else FIRST_WAIT
        self.chosen = chosen
        self.best.clear()
        self.trial_start = self.step + self.wait


def _use(threads: int) -> None:
    if threads != torch.get_num_threads():
        torch.set_num_threads(threads)
