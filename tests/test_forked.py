"""ForkedCall: a call run in a child process, its result and errors back in the parent."""

from __future__ import annotations

import os
import signal
import sys
import threading
import time

import pytest

from video2music.utils.errors import UserError
from video2music.utils.forked import ForkedCall

pytestmark = pytest.mark.skipif(sys.platform != "linux", reason="calls are forked on Linux only")


def test_the_call_runs_in_a_child_and_its_result_comes_back():
    parent = os.getpid()
    with ForkedCall(lambda base: (os.getpid(), base + 1), 41) as call:
        pid, answer = call.result()
    assert answer == 42 and pid != parent


def test_the_time_the_call_took_comes_back_with_its_result():
    # The call's own time, not the wait: here the parent comes for the result only when it is done.
    with ForkedCall(time.sleep, 0.3) as call:
        time.sleep(0.6)
        waited = time.perf_counter()
        call.result()
        waited = time.perf_counter() - waited
    assert 0.3 <= call.seconds < 0.6 and waited < 0.2
    here = []
    thread = threading.Thread(target=lambda: here.append(ForkedCall(time.sleep, 0.2)))
    thread.start()
    thread.join()
    here[0].result()  # outside the main thread it runs in this process, and is timed here
    assert 0.2 <= here[0].seconds < 0.5


def test_a_user_error_in_the_child_is_raised_in_the_parent():
    def refuse() -> None:
        raise UserError("clip.mp4 is not a readable video; give an mp4")

    with ForkedCall(refuse) as call, pytest.raises(UserError, match="not a readable video"):
        call.result()


def test_a_child_that_dies_is_replaced_by_the_call_in_this_process():
    parent = os.getpid()

    def die_in_the_child() -> int:
        if os.getpid() != parent:
            os._exit(3)  # as a crash in a library would
        return os.getpid()

    with ForkedCall(die_in_the_child) as call:
        assert call.result() == parent


def test_closing_ends_a_child_still_at_work_and_ctrl_c_is_left_to_the_parent():
    def work() -> str:
        os.kill(os.getpid(), signal.SIGINT)  # a terminal's Ctrl-C reaches the child too
        time.sleep(60)
        return "done"

    call = ForkedCall(work)
    process = call._process
    time.sleep(0.2)
    assert process.is_alive()  # the Ctrl-C did not stop it
    started = time.monotonic()
    call.close()
    assert not process.is_alive() and time.monotonic() - started < 5


def test_outside_the_main_thread_the_call_runs_here():
    results = []
    thread = threading.Thread(target=lambda: results.append(ForkedCall(os.getpid).result()))
    thread.start()
    thread.join()
    assert results == [os.getpid()]


def test_a_child_stopped_at_once_never_goes_on_as_a_copy_of_the_caller():
    # A command's SIGTERM handler raises KeyboardInterrupt (video2music.utils.errors). A child that took
    # the SIGTERM before setting its own handlers would raise it up the caller's stack and run on.
    parent = os.getpid()

    def interrupt(signum, frame):
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, interrupt)
    codes = []
    try:
        for _ in range(30):
            try:
                call = ForkedCall(time.sleep, 10)
                process = call._process
                call.close()
                codes.append(process.exitcode)
            except KeyboardInterrupt:
                pass
            if os.getpid() != parent:
                os._exit(99)
    finally:
        signal.signal(signal.SIGTERM, previous)
    assert codes == [-signal.SIGTERM] * 30


def test_a_child_ended_inside_a_progress_bar_leaves_the_parents_bars_working():
    from tqdm import tqdm

    tqdm(disable=True).close()  # the parent's process-shared lock exists before the fork

    def hold_the_lock() -> None:
        with tqdm.get_lock():
            time.sleep(60)

    call = ForkedCall(hold_the_lock)
    time.sleep(0.3)
    call.close()
    made = []
    thread = threading.Thread(target=lambda: made.append(tqdm(disable=True)), daemon=True)
    thread.start()
    thread.join(timeout=10)
    assert made, "a progress bar waited for a lock the ended child held"
