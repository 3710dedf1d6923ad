"""Features of recently seen videos, keyed by the file's content, so regenerating is fast.

Extracting features decodes the whole video and is the slow part of a generation; decoding
chords and rendering take a fraction of it. A user who tries another seed, key or instrument
uploads nothing new (or the same file again, under a new temporary name), so the cache keys on
a hash of the bytes, not on the path.
"""

from __future__ import annotations

import hashlib
import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from video2music.features import VideoFeatures

logger = logging.getLogger(__name__)

_CHUNK = 1 << 20


def file_digest(path: str | Path) -> str:
    """SHA-256 of the file's bytes, as hex."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


@dataclass(frozen=True)
class CachedFeatures:
    """Features from the cache or fresh, and what extracting them cost when they were made."""

    features: VideoFeatures
    hit: bool
    extract_seconds: float  # the original extraction time, also on a hit (the time a hit saves)


@dataclass
class _Entry:
    features: VideoFeatures
    extract_seconds: float


class FeatureCache:
    """A bounded least-recently-used map (content hash, backend) -> VideoFeatures.

    Safe to share between the server's worker threads. Two requests for the same video at once
    extract it once: the second waits for the first instead of decoding the video again.
    """

    def __init__(self, max_entries: int = 16) -> None:
        if max_entries < 1:
            raise ValueError("the feature cache needs room for at least one video")
        self.max_entries = max_entries
        self._entries: OrderedDict[tuple[str, str], _Entry] = OrderedDict()
        self._lock = threading.Lock()
        self._key_locks: dict[tuple[str, str], threading.Lock] = {}

    def __len__(self) -> int:
        with self._lock:
            return len(self._entries)

    def get_or_extract(
        self, video: str | Path, backend: str, extract: Callable[[Path], VideoFeatures]
    ) -> CachedFeatures:
        """The features of ``video`` for ``backend``, calling ``extract(video)`` only on a miss.

        ``backend`` must be the resolved backend name ("basic" or "clip"), so that "auto" and the
        backend it stands for share an entry.
        """
        key = (file_digest(video), backend)
        with self._lock:
            key_lock = self._key_locks.setdefault(key, threading.Lock())
        with key_lock:
            with self._lock:
                entry = self._entries.get(key)
                if entry is not None:
                    self._entries.move_to_end(key)
                    return CachedFeatures(entry.features, True, entry.extract_seconds)
            started = time.perf_counter()
            try:
                features = extract(Path(video))
            except BaseException:
                with self._lock:
                    self._key_locks.pop(key, None)  # a file that failed must not pin a lock forever
                raise
            seconds = time.perf_counter() - started
            with self._lock:
                self._entries[key] = _Entry(features, seconds)
                while len(self._entries) > self.max_entries:
                    evicted, _ = self._entries.popitem(last=False)
                    self._key_locks.pop(evicted, None)
                    logger.debug("feature cache full: dropped %s", evicted[0][:12])
            return CachedFeatures(features, False, seconds)
