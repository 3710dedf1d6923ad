"""Running one call in a forked child process while this one goes on with other work.

Scoring a short clip is dominated by work that holds Python's lock: importing torch while the
video decodes, writing the lead sheet with music21 while the music renders. Threads cannot run
such pairs side by side; a forked child can, on the other core. On the 24-s sample, decoding
beside the imports and the lead sheet beside the render took generate.py from 4.0 s to about 3 s
on 2 cores.

A child is forked only from the main thread on Linux (fork is unsafe or missing elsewhere, and a
server's worker threads should not fork); otherwise the call runs in this process when its result
is asked for. The child ignores Ctrl-C, which reaches the whole terminal's process group: the
parent decides what stops and ends the child on its way out (:meth:`ForkedCall.close`, or the
``with`` block). The call's result, or the message of its UserError, comes back through a pipe.
If the child fails any other way (dies, runs out of memory, meets a full disk), the parent makes
the call itself, so what the user sees is the real error, reported the usual way.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import signal
import sys
import threading
import time
from collections.abc import Callable
from typing import Generic, TypeVar

from video2music.utils.errors import UserError

logger = logging.getLogger(__name__)

T = TypeVar("T")
_STOPPING = {signal.SIGINT, signal.SIGTERM, signal.SIGHUP}


def can_fork() -> bool:
    return sys.platform == "linux" and threading.current_thread() is threading.main_thread()


class ForkedCall(Generic[T]):
    """``fn(*args, **kwargs)``, started in a child process at construction; :meth:`result` waits
    for it and returns what it returned (or raises the UserError it raised). ``seconds`` is then
    how long the call itself ran, wherever it ran (waiting for it may have taken less)."""

    def __init__(self, fn: Callable[..., T], *args, **kwargs) -> None:
        self._call = (fn, args, kwargs)
        self._process: multiprocessing.process.BaseProcess | None = None
        self._pipe = None
        self.seconds: float | None = None
        if can_fork():
            context = multiprocessing.get_context("fork")
            self._pipe, sending = context.Pipe(duplex=False)
            self._process = context.Process(target=_child, args=(sending, *self._call), daemon=True)
            # The child is born with the stopping signals blocked: until it has set its own
            # handlers, a SIGTERM would run this process's handler there, and the exception would
            # carry the child up this process's stack (it would go on as a copy of the caller).
            held = signal.pthread_sigmask(signal.SIG_BLOCK, _STOPPING)
            try:
                self._process.start()
            finally:
                signal.pthread_sigmask(signal.SIG_SETMASK, held)
            sending.close()

    def result(self) -> T:
        if self._process is None:
            return self._here()
        try:
            kind, value, self.seconds = self._pipe.recv()
        except EOFError:
            kind, value = "failed", None
        finally:
            self.close()
        if kind == "result":
            return value
        if kind == "error":
            raise UserError(value)
        logger.debug("%s failed in a child process; calling it here", getattr(self._call[0], "__name__", ""))
        return self._here()

    def _here(self) -> T:
        fn, args, kwargs = self._call
        started = time.perf_counter()
        value = fn(*args, **kwargs)
        self.seconds = time.perf_counter() - started
        return value

    def close(self) -> None:
        """End the child if it is still working (its result is no longer wanted, or this process
        is stopping)."""
        if self._process is None:
            return
        if self._process.is_alive():
            self._process.terminate()
            self._process.join(timeout=5)
            if self._process.is_alive():  # stuck before it could take the SIGTERM
                self._process.kill()
        self._process.join()
        self._pipe.close()
        self._process = None

    def __enter__(self) -> ForkedCall[T]:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def _child(sending, fn: Callable, args: tuple, kwargs: dict) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    for number in _STOPPING - {signal.SIGINT}:
        signal.signal(number, signal.SIG_DFL)
    if "tqdm" in sys.modules:
        # tqdm's lock is shared between processes: a child ended while it held it (a progress bar
        # being made) would leave every later bar of the parent waiting forever. The child's own.
        sys.modules["tqdm"].tqdm.set_lock(threading.RLock())
    signal.pthread_sigmask(signal.SIG_UNBLOCK, _STOPPING)
    started = time.perf_counter()
    try:
        value = fn(*args, **kwargs)
        sending.send(("result", value, time.perf_counter() - started))
    except UserError as error:
        sending.send(("error", str(error), time.perf_counter() - started))
    except BaseException:
        logger.debug("failed in a child process", exc_info=True)
    finally:
        sending.close()
        # Straight out: no atexit handlers, no flushing of stdio buffers copied from the parent.
        os._exit(0)
