"""Making a stream of blocks in a thread while the caller consumes the ones already made.

Rendering and mixing are a producer and a consumer: FluidSynth's blocks (or the video's sound
mixed with the music) are made, then measured and written by ``audio.master``. Both halves spend
their time in C code that lets go of Python's lock (FluidSynth through ctypes, numpy's filters
and FFTs, FFmpeg's codecs), so with :func:`ahead` they run side by side on two cores instead of
taking turns, and the result is the same: the blocks arrive in order, unchanged.

The thread holds at most ``depth`` blocks ahead of the consumer, so memory stays flat. An error
in the producer is raised in the consumer at the block where it happened. When the consumer stops
early (an error of its own, Ctrl-C, a signal turned into KeyboardInterrupt) and closes the stream
(callers hold it in ``contextlib.closing``), the producer is told to stop, finishes the block it
is making, closes its iterator in its own thread (so the iterator's ``finally`` clauses run,
e.g. freeing a synthesizer) and is joined before the consumer's exception goes on.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterable, Iterator
from typing import TypeVar

T = TypeVar("T")

_POLL = 0.1  # seconds between the producer's looks at the stop flag while the queue is full
_END = object()


def ahead(blocks: Iterable[T], depth: int = 8) -> Iterator[T]:
    """The items of ``blocks`` in order, made in a thread up to ``depth`` items ahead."""
    made: queue.Queue = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def produce() -> None:
        source = iter(blocks)
        try:
            for block in source:
                if not _put(made, ("block", block), stop):
                    return
            _put(made, ("end", _END), stop)
        except BaseException as error:  # handed to the consumer, raised there
            _put(made, ("error", error), stop)
        finally:
            close = getattr(source, "close", None)
            if close is not None:
                close()

    producer = threading.Thread(target=produce, name="ahead", daemon=True)
    producer.start()
    try:
        while True:
            kind, value = made.get()
            if kind == "end":
                return
            if kind == "error":
                raise value
            yield value
    finally:
        stop.set()
        producer.join()


def _put(made: queue.Queue, item: tuple, stop: threading.Event) -> bool:
    """Queue ``item`` unless the consumer has stopped; whether it was queued."""
    while not stop.is_set():
        try:
            made.put(item, timeout=_POLL)
            return True
        except queue.Full:
            continue
    return False
