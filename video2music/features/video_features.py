"""VideoFeatures: the per-second timeline of one video, saved as .npz or in the MuVi-Sync layout."""

from __future__ import annotations

import hashlib
import json
import os
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from video2music.data.muvisync import write_features
from video2music.theory.vocab import EMOTIONS
from video2music.utils.errors import UserError
from video2music.utils.fileio import atomic_output
from video2music.utils.timeline import SEMANTIC_DIM

FORMAT_VERSION = "video2music-features-v1"
# Arrays added to the format later: a file without them still loads, with None in their place.
_PACE_ARRAYS = ("movement", "pace")
_FINGERPRINT_CHUNK = 1 << 20


def video_fingerprint(path: str | os.PathLike) -> str:
    """A cheap identity of a video file: SHA-256 over its size and its first and last MiB.

    Features record the fingerprint of the file they came from, so a features file is not
    mistaken for another video's; a copy or a renamed file keeps it.
    """
    digest = hashlib.sha256()
    size = os.path.getsize(path)
    digest.update(str(size).encode())
    with open(path, "rb") as handle:
        digest.update(handle.read(_FINGERPRINT_CHUNK))
        handle.seek(max(0, size - _FINGERPRINT_CHUNK))
        digest.update(handle.read(_FINGERPRINT_CHUNK))
    return digest.hexdigest()


@dataclass
class VideoFeatures:
    """Features for seconds ``0..T-1`` of a video; second ``t`` covers ``[t, t+1)``.

    Attributes:
        duration: length of the video stream in seconds, as the container reports it.
        fps: average frame rate.
        semantic: (T, 768) float32 CLIP image embeddings, or None for the built-in backend.
        emotion: (T, 6) float32 probabilities in ``vocab.EMOTIONS`` order; rows sum to 1.
        scene_offset: (T,) int64 seconds since the current scene began (0 on its first second).
        scene_cuts: times in seconds (> 0) where a new scene starts.
        motion: (T,) float32 mean absolute RGB difference (0-255) across each second boundary.
        backend: which backend made ``emotion``/``semantic`` ("basic" or "clip").
        provenance: where the numbers came from (model, library versions, decode problems).
        movement: (T,) float32 mean optical-flow speed, in picture widths (the longer side) per
            second, frame pairs across cuts left out (``features.pace``); None in files saved
            before it existed.
        pace: (T,) float32 movement plus the weighted cut rate, in the same unit: what the
            music's density and energy follow. None in files saved before it existed.
    """

    duration: float
    fps: float
    semantic: np.ndarray | None
    emotion: np.ndarray
    scene_offset: np.ndarray
    scene_cuts: list[float]
    motion: np.ndarray
    backend: str
    provenance: dict = field(default_factory=dict)
    movement: np.ndarray | None = None
    pace: np.ndarray | None = None

    def __post_init__(self) -> None:
        self.emotion = np.asarray(self.emotion, dtype=np.float32)
        self.scene_offset = np.asarray(self.scene_offset, dtype=np.int64)
        self.motion = np.asarray(self.motion, dtype=np.float32)
        self.scene_cuts = [float(cut) for cut in self.scene_cuts]
        if self.semantic is not None:
            self.semantic = np.asarray(self.semantic, dtype=np.float32)
        for name in _PACE_ARRAYS:
            if getattr(self, name) is not None:
                setattr(self, name, np.asarray(getattr(self, name), dtype=np.float32))
        T = len(self.motion)
        problems = []
        if T == 0:
            problems.append("no seconds")
        if self.emotion.shape != (T, len(EMOTIONS)):
            problems.append(f"emotion has shape {self.emotion.shape}, expected ({T}, {len(EMOTIONS)})")
        if self.scene_offset.shape != (T,):
            problems.append(f"scene_offset has shape {self.scene_offset.shape}, expected ({T},)")
        if self.semantic is not None and self.semantic.shape != (T, SEMANTIC_DIM):
            problems.append(f"semantic has shape {self.semantic.shape}, expected ({T}, {SEMANTIC_DIM})")
        for name in _PACE_ARRAYS:
            values = getattr(self, name)
            if values is not None and values.shape != (T,):
                problems.append(f"{name} has shape {values.shape}, expected ({T},)")
            elif values is not None and not (np.isfinite(values).all() and (values >= 0).all()):
                problems.append(f"{name} must be finite and not negative")
        if problems:
            raise UserError(f"inconsistent video features: {'; '.join(problems)}")

    @property
    def T(self) -> int:
        """Number of seconds."""
        return len(self.motion)

    @property
    def inputs(self) -> frozenset[str]:
        """The model inputs these features can provide."""
        available = {"scene_offset", "motion", "emotion"}
        if self.semantic is not None:
            available.add("semantic")
        return frozenset(available)

    def check_source(self, video: str | os.PathLike, name: str = "these features") -> None:
        """UserError unless these features were extracted from ``video``: by the fingerprint they
        record, or (for files written before fingerprints) by the video's duration and frame rate."""
        from video2music.utils.video_io import probe  # PyAV only when a video is compared

        recorded = self.provenance.get("fingerprint")
        if recorded is not None:
            same = recorded == video_fingerprint(video)
        else:
            info = probe(video)
            same = abs((info.duration or 0.0) - self.duration) < 0.05 and abs(info.fps - self.fps) < 0.01
        if not same:
            source = self.provenance.get("source", "another video")
            raise UserError(
                f"{name} were extracted from {source} ({self.duration:.2f} s), not from {video}; give "
                "that video, or extract the features of this one again"
            )

    def save(self, path: str | os.PathLike, overwrite: bool = False) -> Path:
        """Write one .npz file (atomically); refuses to replace a file unless ``overwrite``."""
        meta = {
            "format": FORMAT_VERSION,
            "duration": self.duration,
            "fps": self.fps,
            "backend": self.backend,
            "scene_cuts": self.scene_cuts,
            "provenance": self.provenance,
        }
        arrays = {
            "emotion": self.emotion,
            "scene_offset": self.scene_offset,
            "motion": self.motion,
            "meta": np.array(json.dumps(meta)),
        }
        if self.semantic is not None:
            arrays["semantic"] = self.semantic
        arrays.update({name: getattr(self, name) for name in _PACE_ARRAYS if getattr(self, name) is not None})
        with atomic_output(path, overwrite) as tmp, open(tmp, "wb") as handle:
            # A file handle, so numpy does not append its own ".npz" to the temporary name.
            np.savez_compressed(handle, **arrays)
        return Path(path)

    @classmethod
    def load(cls, path: str | os.PathLike) -> VideoFeatures:
        """Read a file written by :meth:`save`; UserError if it is missing or not one of ours."""
        path = Path(path)
        if not path.is_file():
            raise UserError(f"{path} does not exist; extract features first (python -m video2music.features)")
        try:
            with np.load(path, allow_pickle=False) as data:
                meta = json.loads(str(data["meta"]))
                arrays = {name: data[name] for name in ("emotion", "scene_offset", "motion")}
                semantic = data["semantic"] if "semantic" in data.files else None
                arrays.update({name: data[name] for name in _PACE_ARRAYS if name in data.files})
        except (OSError, ValueError, KeyError, zipfile.BadZipFile, json.JSONDecodeError) as error:
            raise UserError(f"{path} is not a video features file ({error}); extract it again") from None
        if meta.get("format") != FORMAT_VERSION:
            raise UserError(f"{path} has features format {meta.get('format')!r}, expected {FORMAT_VERSION!r}")
        return cls(
            duration=float(meta["duration"]),
            fps=float(meta["fps"]),
            semantic=semantic,
            scene_cuts=meta["scene_cuts"],
            backend=meta["backend"],
            provenance=meta["provenance"],
            **arrays,
        )

    def to_muvisync(self, root: str | os.PathLike, video_id: str, overwrite: bool = False) -> dict[str, Path]:
        """Write the MuVi-Sync ``.lab``/``.npy`` files for this video under ``root``.

        Emotion: header line then ``<sec> p1 .. p6``; motion and scene offset: ``<sec> <value>``;
        semantic (CLIP backend only): a (T, 768) float32 ``.npy``. Folders are created as needed.
        """
        arrays = {"emotion": self.emotion, "motion": self.motion, "scene_offset": self.scene_offset}
        if self.semantic is not None:
            arrays["semantic"] = self.semantic
        return write_features(root, video_id, arrays, overwrite)
