"""Request isolation: every generation writes into its own fresh, randomly named folder.

The folders live under the app's output root, which is also the only place the web server
serves files from. The names are unguessable (128 random bits), so one visitor cannot reach
another's results by guessing a URL, and no two requests ever share a folder.
"""

from __future__ import annotations

import logging
import re
import secrets
import shutil
import threading
from pathlib import Path

logger = logging.getLogger(__name__)

_UNSAFE = re.compile(r"[^A-Za-z0-9_-]+")


def safe_stem(filename: str | Path, default: str = "video", max_length: int = 40) -> str:
    """A file stem made only of letters, digits, ``_`` and ``-``, from an uploaded file's name.

    Upload names come from the visitor's browser; only this cleaned form is used to name outputs,
    so a name such as ``../../x`` cannot place a file outside its run folder.
    """
    stem = _UNSAFE.sub("_", Path(str(filename)).stem).strip("_-")[:max_length]
    return stem or default


class RunFolders:
    """Hands out one new folder per request under ``root/runs``, keeping only the newest ``keep``."""

    def __init__(self, root: str | Path, keep: int = 32) -> None:
        if keep < 1:
            raise ValueError("keep at least one run folder")
        self.root = Path(root).resolve()
        self.runs = self.root / "runs"
        self.runs.mkdir(parents=True, exist_ok=True)
        self.keep = keep
        self._lock = threading.Lock()

    def new(self) -> Path:
        """Create and return a fresh folder no other request has or will have."""
        with self._lock:
            folder = self.runs / secrets.token_urlsafe(16)
            folder.mkdir()  # never exist_ok: a collision would mean sharing outputs
            self._prune()
        return folder

    def discard(self, folder: Path) -> None:
        """Remove a folder ``new`` gave out, with whatever a failed request left in it."""
        if Path(folder).parent != self.runs:
            raise ValueError(f"{folder} is not one of the run folders")
        shutil.rmtree(folder, ignore_errors=True)

    def owns(self, path: str | Path) -> bool:
        """Whether ``path`` (after resolving ``..`` and links) lies inside one of the run folders."""
        resolved = Path(path).resolve()
        return resolved.parent != self.runs and self.runs in resolved.parents

    def _prune(self) -> None:
        folders = sorted(
            (p for p in self.runs.iterdir() if p.is_dir()), key=lambda p: p.stat().st_mtime, reverse=True
        )
        for old in folders[self.keep :]:
            logger.debug("removing old run folder %s", old.name)
            shutil.rmtree(old, ignore_errors=True)
