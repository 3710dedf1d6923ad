"""Writing single files safely: never half-written, never over a user's file unless asked.

A result's set of files goes through ``video2music.output.writer``, which stages and commits them together.
"""

from __future__ import annotations

import contextlib
import errno
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

from video2music.utils.errors import UserError


def describe(error: OSError, path: Path | str) -> str:
    """One line for an OSError while writing ``path``: the file, the cause and what to do."""
    cause = error.strerror or str(error)
    if error.errno in (errno.ENOSPC, errno.EDQUOT):
        advice = "free some space or choose another output folder"
    elif error.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        advice = "choose an output folder you can write to"
    elif error.errno == errno.EISDIR:
        advice = "remove the folder or choose another output name"
    else:
        advice = "choose another output folder"
    return f"cannot write {path} ({cause}); {advice}"


@contextlib.contextmanager
def writing(path: Path | str) -> Iterator[None]:
    """Turn an OSError raised while ``path`` is written into a UserError naming that file."""
    try:
        yield
    except OSError as error:
        raise UserError(describe(error, path)) from None


def check_writable(path: str | os.PathLike, overwrite: bool = False, missing_folders: bool = False) -> Path:
    """Fail early, with a clear message, if the file ``path`` cannot or may not be written; with
    ``missing_folders`` its folder may be missing, if it can be made (nothing is made here)."""
    path = Path(path)
    if path.is_dir():
        raise UserError(f"{path} is a folder; give a file name, e.g. {path / 'out.json'}")
    if path.exists() and not overwrite:
        raise UserError(f"{path} already exists; pass --overwrite to replace it or choose another output")
    folder = path.parent if str(path.parent) else Path(".")
    while missing_folders and not folder.exists() and folder != folder.parent:
        folder = folder.parent
    if not folder.is_dir():
        raise UserError(f"output folder {folder} does not exist; create it or choose another output")
    if not os.access(folder, os.W_OK):
        raise UserError(f"output folder {folder} is not writable; choose another output")
    return path


@contextlib.contextmanager
def atomic_output(path: str | os.PathLike, overwrite: bool = False) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; rename it onto ``path`` only if the block succeeds.

    The temporary name keeps the extension, so libraries that pick a format from it still work.
    """
    path = check_writable(path, overwrite)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.stem}.", suffix=f".part{path.suffix}", dir=path.parent)
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp_path, 0o666 & ~umask)  # mkstemp's 0600 would hide the output from others
        os.replace(tmp_path, path)
    finally:
        tmp_path.unlink(missing_ok=True)
