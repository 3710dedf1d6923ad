"""User-facing errors and the way every command line reports them.

A ``UserError`` is something the person running the tool can fix (a bad chord symbol, a
missing file). Command lines print it as one line and exit with status 2, never a traceback.
"""

from __future__ import annotations

import functools
import logging
import sys
from collections.abc import Callable
from typing import TypeVar

EXIT_USAGE = 2

F = TypeVar("F", bound=Callable[..., int | None])


class UserError(ValueError):
    """A problem with the input that the user can fix; the message says what and how."""


def cli_main(func: F) -> F:
    """Wrap a command-line ``main``: a UserError becomes one line on stderr and exit 2."""

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        logging.basicConfig(level=logging.INFO, format="%(message)s")
        try:
            return func(*args, **kwargs) or 0
        except UserError as error:
            print(f"error: {error}", file=sys.stderr)
            return EXIT_USAGE
        except KeyboardInterrupt:
            print("interrupted", file=sys.stderr)
            return 130

    return wrapper  # type: ignore[return-value]
