"""User-facing errors and the way every command line reports them.

A ``UserError`` is something the person running the tool can fix (a bad chord symbol, a
missing file). Command lines print it as one line and exit with status 2, never a traceback.
SIGTERM and SIGHUP stop a command the way Ctrl-C does (KeyboardInterrupt, exit 130), so the
``finally`` blocks that remove temporary files run for a kill or a closed terminal too.
"""

from __future__ import annotations

import argparse
import atexit
import contextlib
import functools
import importlib
import logging
import math
import os
import signal
import sys
import threading
from collections.abc import Callable, Iterator
from typing import NoReturn, TypeVar

EXIT_USAGE = 2
EXIT_INTERRUPTED = 130
STOP_SIGNALS = (signal.SIGTERM, signal.SIGHUP)

F = TypeVar("F", bound=Callable[..., int | None])


class UserError(ValueError):
    """A problem with the input that the user can fix; the message says what and how."""


class ArgumentParser(argparse.ArgumentParser):
    """argparse as every command uses it: a usage error (an unknown option, ``--tempo abc``, two
    options that exclude each other) is a UserError like every other input error, so ``cli_main``
    prints it as one ``error:`` line with exit status 2, instead of argparse's usage lines
    followed by ``prog: error:``."""

    def error(self, message: str) -> NoReturn:
        raise UserError(f"{message}; see {self.prog} --help")


def check_range(what: str, value: float, bounds: tuple[float, float], *, above: bool = False) -> float:
    """``value`` if it is a finite number within ``bounds`` (above the low bound when ``above``),
    else a UserError that names ``what`` and the range."""
    low, high = bounds
    inside = isinstance(value, int | float) and math.isfinite(value) and value <= high
    if not (inside and (value > low if above else value >= low)):
        shown = f"{value:g}" if isinstance(value, int | float) else repr(value)
        lower = f"above {low:g}" if above else f"{low:g}"
        raise UserError(f"{what} {shown} is out of range; use {lower} to {high:g}")
    return float(value)


def number_in_range(check: Callable[[float], float]) -> Callable[[str], float]:
    """An argparse ``type``: the argument read as a number and passed through ``check``, whose
    UserError (out of range, not finite) becomes argparse's one-line usage error."""

    def parse(text: str) -> float:
        try:
            return check(float(text))
        except UserError as error:
            raise argparse.ArgumentTypeError(str(error)) from None
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None

    return parse


def cli_main(func: F) -> F:
    """Wrap a command-line ``main``: a UserError becomes one line on stderr and exit 2."""

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        # Our progress lines at INFO; other libraries' only from WARNING (torch logs statistics at
        # INFO when it exits, for one).
        logging.basicConfig(level=logging.WARNING, format="%(message)s")
        logging.getLogger("video2music").setLevel(logging.INFO)
        try:
            with _stop_signals_interrupt():
                return func(*args, **kwargs) or 0
        except UserError as error:
            print(f"error: {error}", file=sys.stderr)
            return EXIT_USAGE
        except KeyboardInterrupt:
            print("interrupted", file=sys.stderr)
            return EXIT_INTERRUPTED

    return wrapper  # type: ignore[return-value]


def _interrupt(signum: int, frame) -> None:
    raise KeyboardInterrupt


@contextlib.contextmanager
def _stop_signals_interrupt() -> Iterator[None]:
    """Within the block, SIGTERM and SIGHUP raise KeyboardInterrupt as SIGINT does."""
    if threading.current_thread() is not threading.main_thread():  # only the main thread may
        yield
        return
    previous = {number: signal.signal(number, _interrupt) for number in STOP_SIGNALS}
    try:
        yield
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)


def run_command(module: str) -> int:
    """Import ``module`` and return what its ``main()`` returns: the scripts' entry point.

    Loading a command takes a second (torch, PyAV, FluidSynth); a Ctrl-C meanwhile ends it the
    way one during the run does ("interrupted", exit 130), not with a traceback from an import.
    """
    try:
        return importlib.import_module(module).main()
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED


def finish(code: int) -> NoReturn:
    """End a command's process with ``code``: the exit handlers run (logging's flush, temporary
    folders, multiprocessing's children) and the standard streams are flushed, but the
    interpreter's teardown is skipped. Tearing down PyTorch took 0.3 s of the sample's 2.8-s
    command, and by then every file is closed and in place. A process whose own threads still
    run exits the usual way, which waits for them."""
    others = [t for t in threading.enumerate() if t is not threading.main_thread()]
    if any(t.is_alive() and not t.daemon for t in others):
        raise SystemExit(code)
    atexit._run_exitfuncs()
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):  # a reader that has gone: nothing left to say
            stream.flush()
    os._exit(code)
