"""utils.ahead: a stream made in a thread arrives whole and in order, errors and early stops
reach the right side, and nothing is left running."""

from __future__ import annotations

import threading

import numpy as np
import pytest

from video2music.utils.ahead import ahead
from video2music.utils.errors import UserError


def _threads() -> int:
    return sum(thread.name == "ahead" for thread in threading.enumerate())


def test_every_block_arrives_in_order_and_unchanged():
    blocks = [np.full((100, 2), i, np.float32) for i in range(50)]
    received = list(ahead(iter(blocks), depth=3))
    assert len(received) == 50
    assert all(a is b for a, b in zip(received, blocks, strict=True))
    assert _threads() == 0


def test_the_producer_makes_the_next_block_while_the_consumer_holds_one():
    next_made = threading.Event()

    def blocks():
        yield 0
        next_made.set()
        yield 1

    for block in ahead(blocks()):
        if block == 0:  # made on demand, block 1 would wait for this loop to ask for it
            assert next_made.wait(timeout=10)


def test_a_producer_error_is_raised_in_the_consumer_after_the_blocks_before_it():
    def failing():
        yield 1
        yield 2
        raise UserError("the soundfont cannot be read")

    received = []
    with pytest.raises(UserError, match="soundfont"):
        for block in ahead(failing()):
            received.append(block)
    assert received == [1, 2]
    assert _threads() == 0


def test_a_consumer_that_stops_early_stops_the_producer_and_closes_its_iterator():
    closed = threading.Event()
    made = []

    def endless():
        try:
            for i in range(10**9):
                made.append(i)
                yield i
        finally:
            closed.set()  # a synthesizer would be freed here, in the producer's thread

    stream = ahead(endless(), depth=2)
    with pytest.raises(KeyboardInterrupt):
        for block in stream:
            if block == 5:
                raise KeyboardInterrupt  # Ctrl-C while the consumer writes
    stream.close()
    assert closed.is_set() and _threads() == 0
    assert len(made) <= 5 + 1 + 2 + 1  # at most depth blocks ahead, and the one being made
