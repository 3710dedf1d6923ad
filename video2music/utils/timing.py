"""Wall time per stage, for the JSON summary and the benchmarks."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator


class Stopwatch:
    """Seconds spent in named stages: ``with watch("render"): ...`` adds to ``watch.seconds["render"]``.

    A stage that raises is not recorded: a partial time would read as a complete one.
    """

    def __init__(self, seconds: dict[str, float] | None = None) -> None:
        self.seconds = {} if seconds is None else seconds

    @contextlib.contextmanager
    def __call__(self, stage: str) -> Iterator[None]:
        started = time.perf_counter()
        yield
        self.seconds[stage] = self.seconds.get(stage, 0.0) + time.perf_counter() - started
