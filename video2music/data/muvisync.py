"""Reading, validating, writing and packing data in the MuVi-Sync layout.

One video is a timeline of ``T`` seconds spread over one file per modality (see
docs/ARCHITECTURE.md, "MuVi-Sync on disk"). Reading checks every file completely — line format,
one line per second from 0, chord labels in the vocabulary, finite values in range, lengths that agree across
modalities — and reports *every* problem with its ``file:line`` in one ``DatasetError``, so a
broken dataset is fixed in one pass and nothing is ever trained on garbage.

``pack`` puts a whole dataset into one ``.npz`` (all videos concatenated along time, with a JSON
index inside and a copy beside it); ``load_split`` reads a split from either form.
"""

from __future__ import annotations

import functools
import json
import logging
import os
import re
import zipfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from video2music.theory import vocab
from video2music.utils.errors import UserError
from video2music.utils.fileio import atomic_output, check_writable
from video2music.utils.timeline import SEMANTIC_DIM

logger = logging.getLogger(__name__)

SPLITS: tuple[str, ...] = ("train", "val", "test")
TRAINING_SPLITS: tuple[str, ...] = ("train", "val")  # what train.py reads
CHORD_DIR = "vevo_chord/lab_v2_norm/all"
SEMANTIC_DIR = "vevo_semantic/all/2d/clip_l14p"
SPLIT_DIR = "vevo_meta/split/v1"
EMOTION_HEADER = "time " + " ".join(f"{e}_prob" for e in vocab.EMOTIONS)
NORMALISED_KEYS = ("C major", "A minor")
PACK_FORMAT = "video2music-muvisync-pack"
PACK_VERSION = 1

_EMOTION_SUM_TOLERANCE = 0.02  # rows are softmax outputs printed with a few decimals
_NO_SEMANTIC_HINT = "use a model without the semantic input (train.py --inputs scene_offset,motion,emotion)"
_ID_RE = re.compile(r"^[A-Za-z0-9_.-]+$")
_MAX_SCENE_OFFSET = np.iinfo(np.int32).max  # seconds; larger values are typos, and int64 would wrap


@dataclass
class MuViSyncVideo:
    """One video's per-second annotations; every array has one row per second."""

    video_id: str
    key: str  # "C major" or "A minor": MuVi-Sync chords are normalised to these
    chords: np.ndarray  # (T,) int64 chord ids
    emotion: np.ndarray  # (T, 6) float32, order vocab.EMOTIONS
    motion: np.ndarray  # (T,) float32, 0-255
    scene_offset: np.ndarray  # (T,) int64, seconds since the scene began
    loudness: np.ndarray  # (T,) float32
    note_density: np.ndarray  # (T,) float32, notes per second
    semantic: np.ndarray | None = None  # (T, 768) float32 CLIP embeddings, when present

    @property
    def T(self) -> int:
        return len(self.chords)

    @property
    def mode_bit(self) -> int:
        """0 for major, 1 for minor: what the transformer is conditioned on."""
        return vocab.parse_key(self.key).mode_bit


@dataclass(frozen=True)
class _Modality:
    """A one-file-per-video table of ``<sec> <value>...`` lines."""

    field: str
    folder: str
    columns: int
    header: str | None
    integer: bool
    fmt: str


_MODALITIES: tuple[_Modality, ...] = (
    _Modality("emotion", "vevo_emotion/6c_l14p/all", 6, EMOTION_HEADER, False, "{:.6f}"),
    _Modality("motion", "vevo_motion/all", 1, None, False, "{:.4f}"),
    _Modality("scene_offset", "vevo_scene_offset/all", 1, None, True, "{:d}"),
    _Modality("loudness", "vevo_loudness/all", 1, None, False, "{:.6f}"),
    _Modality("note_density", "vevo_note_density/all", 1, None, False, "{:.4f}"),
)
_ARRAY_FIELDS = ("chords",) + tuple(m.field for m in _MODALITIES)


class DatasetError(UserError):
    """Everything wrong with a dataset, each problem as ``file:line: what``.

    The message shows the first ``SHOWN`` problems and a count of the rest; ``problems`` keeps
    the full list.
    """

    SHOWN = 20

    def __init__(self, summary: str, problems: Sequence[str]):
        self.summary = summary
        self.problems = list(problems)
        lines = [f"{summary} ({len(self.problems)} problem{'s' if len(self.problems) != 1 else ''}):"]
        lines += [f"  {p}" for p in self.problems[: self.SHOWN]]
        if len(self.problems) > self.SHOWN:
            lines.append(
                f"  ... and {len(self.problems) - self.SHOWN} more "
                "(python -m video2music.commands.dataset check lists them all)"
            )
        super().__init__("\n".join(lines))


def chord_path(root: str | os.PathLike, video_id: str) -> Path:
    return Path(root) / CHORD_DIR / f"{video_id}.lab"


def modality_path(root: str | os.PathLike, field: str, video_id: str) -> Path:
    """Where ``field`` (emotion, motion, scene_offset, loudness, note_density) of a video lives."""
    folder = next(m.folder for m in _MODALITIES if m.field == field)
    return Path(root) / folder / f"{video_id}.lab"


def semantic_path(root: str | os.PathLike, video_id: str) -> Path:
    return Path(root) / SEMANTIC_DIR / f"{video_id}.npy"


def split_path(root: str | os.PathLike, split: str) -> Path:
    return Path(root) / SPLIT_DIR / f"{split}.txt"


# ----------------------------------------------------------------------------- value checks


def _value_problems(field: str, values: np.ndarray) -> list[tuple[int, str]]:
    """(row, message) for every row of ``values`` that no real video could have produced."""
    if not len(values):
        return []  # no seconds: said by the callers, which know which file or video
    rows = values.reshape(len(values), -1)
    found: list[tuple[int, str]] = []
    bad = ~np.isfinite(rows).all(axis=1)
    found += [(int(r), f"{field} is not a finite number") for r in np.flatnonzero(bad)]
    rows = np.where(np.isfinite(rows), rows, 0.0)
    if field == "emotion":
        for r in np.flatnonzero(((rows < 0) | (rows > 1)).any(axis=1) & ~bad):
            found.append((int(r), "emotion probabilities must lie in [0, 1]"))
        sums = rows.sum(axis=1)
        for r in np.flatnonzero((np.abs(sums - 1) > _EMOTION_SUM_TOLERANCE) & ~bad):
            found.append((int(r), f"emotion probabilities sum to {sums[r]:.4f}, not 1"))
    elif field == "motion":
        for r in np.flatnonzero(((rows < 0) | (rows > 255)).any(axis=1) & ~bad):
            found.append((int(r), f"motion {rows[r, 0]:g} is outside 0-255"))
    elif field == "scene_offset":
        wrong = (rows < 0) | (rows != np.round(rows)) | (rows > _MAX_SCENE_OFFSET)
        expected = f"a whole number of seconds in 0..{_MAX_SCENE_OFFSET}"
        for r in np.flatnonzero(wrong.any(axis=1) & ~bad):
            found.append((int(r), f"scene offset {rows[r, 0]:g} is not {expected}"))
    elif field in ("loudness", "note_density"):
        for r in np.flatnonzero((rows < 0).any(axis=1) & ~bad):
            found.append((int(r), f"{field} {rows[r, 0]:g} is negative"))
    return sorted(found)


def validate_video(video: MuViSyncVideo) -> list[str]:
    """Every problem with an in-memory video (lengths, chord ids, values), as readable lines."""
    where = f"video {video.video_id}"
    problems: list[str] = []
    if not _ID_RE.match(video.video_id):
        problems.append(f"{where}: id may only contain letters, digits, '.', '_' and '-'")
    if video.key not in NORMALISED_KEYS:
        problems.append(f"{where}: key {video.key!r} is not one of {', '.join(NORMALISED_KEYS)}")
    if video.T == 0:
        problems.append(f"{where}: no seconds")
    for field in _ARRAY_FIELDS[1:]:
        array = getattr(video, field)
        shape = (video.T, 6) if field == "emotion" else (video.T,)
        if np.shape(array) != shape:
            problems.append(f"{where}: {field} has shape {np.shape(array)}, chords have {video.T} seconds")
            continue
        problems += [f"{where} second {r}: {m}" for r, m in _value_problems(field, np.asarray(array))]
    chords = np.asarray(video.chords)
    for r in np.flatnonzero((chords < 0) | (chords >= vocab.NUM_CHORDS)):
        problems.append(
            f"{where} second {r}: chord id {chords[r]} is not a chord (0..{vocab.NUM_CHORDS - 1})"
        )
    if video.semantic is not None:
        semantic = np.asarray(video.semantic)
        if semantic.shape != (video.T, SEMANTIC_DIM):
            problems.append(
                f"{where}: semantic has shape {semantic.shape}, expected ({video.T}, {SEMANTIC_DIM})"
            )
        elif not np.isfinite(semantic).all():
            rows = np.flatnonzero(~np.isfinite(semantic).all(axis=1))
            problems.append(f"{where}: semantic has non-finite values in {len(rows)} seconds from {rows[0]}")
    return problems


# ----------------------------------------------------------------------------- reading lab files


def _data_lines(path: Path, header: str | None, problems: list[str]) -> list[tuple[int, list[str]]] | None:
    """Non-blank lines after the header as (line number, fields); None when unreadable."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        problems.append(f"{path}: missing")
        return None
    except (OSError, UnicodeDecodeError) as error:
        problems.append(f"{path}: cannot be read ({error})")
        return None
    lines = [(n, line.split()) for n, line in enumerate(text.splitlines(), start=1) if line.strip()]
    if header is not None:
        if not lines or lines[0][1] != header.split():
            found = " ".join(lines[0][1]) if lines else "an empty file"
            problems.append(
                f"{path}:{lines[0][0] if lines else 1}: expected the header {header!r}, found {found!r}"
            )
            return None
        lines = lines[1:]
    return lines


def _check_time(path: Path, line_no: int, token: str, second: int, problems: list[str]) -> bool:
    try:
        ok = float(token) == second
    except ValueError:
        ok = False
    if not ok:
        # Later lines would all be off by the same slip, so only the first one is reported.
        problems.append(
            f"{path}:{line_no}: time {token!r} where {second} was expected (one line per second from 0; "
            "later times in this file not checked)"
        )
    return ok


def _read_table(path: Path, modality: _Modality, problems: list[str]) -> np.ndarray | None:
    lines = _data_lines(path, modality.header, problems)
    if lines is None:
        return None
    before = len(problems)
    values = np.zeros((len(lines), modality.columns), dtype=np.float64)
    times_ok = True
    for row, (line_no, fields) in enumerate(lines):
        if len(fields) != 1 + modality.columns:
            problems.append(
                f"{path}:{line_no}: expected a time and {modality.columns} value(s), got {len(fields)} fields"
            )
            continue
        times_ok = times_ok and _check_time(path, line_no, fields[0], row, problems)
        try:
            values[row] = [float(f) for f in fields[1:]]
        except ValueError:
            problems.append(f"{path}:{line_no}: {' '.join(fields[1:])!r} is not a number")
    # Checked as stored: a value such as 1e308 is finite here but infinite in float32.
    values = _as_float32(values)
    problems += [f"{path}:{lines[r][0]}: {m}" for r, m in _value_problems(modality.field, values)]
    if len(problems) > before:
        return None
    if not lines:
        problems.append(f"{path}: no seconds")
        return None
    values = values[:, 0] if modality.columns == 1 else values
    return values.astype(np.int64) if modality.integer else values


def _as_float32(values: np.ndarray) -> np.ndarray:
    """``values`` as float32, where anything beyond its range becomes inf (and is then reported)."""
    with np.errstate(over="ignore"):
        return np.asarray(values).astype(np.float32)


# A dataset repeats a few hundred labels millions of times; parse each once.
_chord = functools.cache(vocab.parse_chord)


def _read_chords(path: Path, problems: list[str]) -> tuple[str, np.ndarray] | None:
    lines = _data_lines(path, None, problems)
    if lines is None:
        return None
    if not lines:
        problems.append(f"{path}: empty; expected 'key C major' or 'key A minor' and one chord per second")
        return None
    before = len(problems)
    (key_line, key_fields), lines = lines[0], lines[1:]
    key = None
    if key_fields[0] != "key" or len(key_fields) != 3:
        problems.append(f"{path}:{key_line}: expected 'key C major' or 'key A minor' first")
    else:
        try:
            key = vocab.parse_key(" ".join(key_fields[1:])).name
        except vocab.VocabError:
            key = " ".join(key_fields[1:])
        if key not in NORMALISED_KEYS:
            problems.append(
                f"{path}:{key_line}: key {' '.join(key_fields[1:])!r}: MuVi-Sync chords are normalised "
                "to C major or A minor; transpose them and write 'key C major' or 'key A minor'"
            )
    ids = np.zeros(len(lines), dtype=np.int64)
    times_ok = True
    for row, (line_no, fields) in enumerate(lines):
        if len(fields) != 2:
            problems.append(f"{path}:{line_no}: expected '<second> <chord>', got {len(fields)} field(s)")
            continue
        times_ok = times_ok and _check_time(path, line_no, fields[0], row, problems)
        try:
            ids[row] = _chord(fields[1])
        except vocab.VocabError:
            problems.append(f"{path}:{line_no}: chord {fields[1]!r} is not in the vocabulary")
    if not lines and len(problems) == before:
        problems.append(f"{path}: no seconds after the key line")
    return None if len(problems) > before or key is None else (key, ids)


def _read_semantic(path: Path, seconds: int | None, problems: list[str]) -> np.ndarray | None:
    try:
        array = np.load(path, allow_pickle=False)
    except FileNotFoundError:
        problems.append(f"{path}: missing (this model needs CLIP semantic features)")
        return None
    except (OSError, ValueError) as error:
        problems.append(f"{path}: not a readable .npy array ({error})")
        return None
    if array.dtype.kind not in "fiu" or array.ndim != 2 or array.shape[1] != SEMANTIC_DIM:
        problems.append(
            f"{path}: {array.dtype} array of shape {array.shape}, expected (seconds, {SEMANTIC_DIM})"
        )
        return None
    if seconds is not None and array.shape[0] != seconds:
        problems.append(f"{path}: {array.shape[0]} seconds but the chord file has {seconds}")
        return None
    array = _as_float32(array)
    bad = np.flatnonzero(~np.isfinite(array).all(axis=1))
    if len(bad):
        problems.append(f"{path}: non-finite values in {len(bad)} seconds, the first at second {bad[0]}")
        return None
    return array


def _read_video(root: Path, video_id: str, semantic: bool, problems: list[str]) -> MuViSyncVideo | None:
    before = len(problems)
    chord_file = chord_path(root, video_id)
    chords = _read_chords(chord_file, problems)
    seconds = None if chords is None else len(chords[1])
    arrays = {}
    for modality in _MODALITIES:
        path = modality_path(root, modality.field, video_id)
        values = arrays[modality.field] = _read_table(path, modality, problems)
        if values is not None and seconds is not None and len(values) != seconds:
            problems.append(
                f"{path}: {len(values)} seconds but {chord_file} has {seconds}; "
                "every modality needs one line per second of the same video"
            )
    semantic_array = _read_semantic(semantic_path(root, video_id), seconds, problems) if semantic else None
    if len(problems) > before:
        return None
    key, ids = chords
    return MuViSyncVideo(video_id, key, ids, semantic=semantic_array, **arrays)


def _has_semantic(root: Path, ids: Iterable[str]) -> bool:
    return all(semantic_path(root, i).is_file() for i in ids)


def read_split_ids(root: str | os.PathLike, split: str) -> list[str]:
    """The video ids listed in ``vevo_meta/split/v1/<split>.txt``, checked."""
    root = _check_root(root)
    path = split_path(root, split)
    if not path.is_file():
        available = available_splits(root)
        raise UserError(
            f"no split {split!r} in {root}: {path} is missing"
            + (f"; available splits: {', '.join(available)}" if available else "")
        )
    problems: list[str] = []
    ids: list[str] = []
    for line_no, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        video_id = line.strip()
        if not video_id:
            continue
        if not _ID_RE.match(video_id):
            problems.append(f"{path}:{line_no}: {video_id!r} is not a video id")
        elif video_id in ids:
            problems.append(f"{path}:{line_no}: {video_id!r} is listed twice")
        else:
            ids.append(video_id)
    if problems:
        raise DatasetError(f"split file {path} is invalid; fix these lines", problems)
    if not ids:
        raise UserError(f"split {split!r} is empty ({path} lists no videos); add video ids, one per line")
    return ids


def load_split_ids(data: str | os.PathLike, split: str) -> list[str]:
    """The video ids a split lists, in a MuVi-Sync folder or a ``.npz`` written by ``pack``."""
    data = Path(data)
    if data.is_dir():
        return read_split_ids(data, split)
    splits = _open_pack(data)[1]["splits"]
    if split not in splits:
        raise UserError(f"no split {split!r} in {data}; it has {', '.join(splits)}")
    return list(splits[split])


def shared_videos(data: str | os.PathLike, splits: Sequence[str]) -> list[str]:
    """A problem line for each video that more than one of ``splits`` lists (a test video seen in
    training would inflate every metric); splits that cannot be read are left to their own check."""
    first: dict[str, str] = {}
    problems = []
    for split in splits:
        try:
            ids = load_split_ids(data, split)
        except DamagedPackError:
            raise
        except UserError:
            continue
        for video_id in ids:
            if video_id in first:
                problems.append(
                    f"{data}: video {video_id!r} is in both the {first[video_id]} and the {split} split; "
                    "list each video in one split only"
                )
            else:
                first[video_id] = split
    return problems


def read_video(root: str | os.PathLike, video_id: str, semantic: bool | None = None) -> MuViSyncVideo:
    """Read and validate one video. ``semantic``: True requires the CLIP features, False skips
    them, None reads them when the file exists."""
    root = _check_root(root)
    if semantic is None:
        semantic = semantic_path(root, video_id).is_file()
    problems: list[str] = []
    video = _read_video(root, video_id, semantic, problems)
    if video is None:
        raise DatasetError(f"video {video_id} in {root} is invalid; fix these files", problems)
    return video


def read_split(root: str | os.PathLike, split: str, semantic: bool | None = None) -> list[MuViSyncVideo]:
    """Read and validate every video of a split; one DatasetError lists all problems.

    ``semantic``: True requires CLIP features for every video, False skips them, None reads
    them when every video of the split has them.
    """
    root = _check_root(root)
    ids = read_split_ids(root, split)
    if semantic is None:
        semantic = _has_semantic(root, ids)
    elif semantic and not any(semantic_path(root, i).is_file() for i in ids):
        raise UserError(f"{root} has no semantic (CLIP) features in {SEMANTIC_DIR}; {_NO_SEMANTIC_HINT}")
    problems: list[str] = []
    videos = []
    for video_id in ids:
        video = _read_video(root, video_id, semantic, problems)
        if video is not None:
            videos.append(video)
    if problems:
        raise DatasetError(f"split {split!r} of {root} has invalid files; fix them and rerun", problems)
    logger.info("read %d %s videos (%d seconds) from %s", len(videos), split, sum(v.T for v in videos), root)
    return videos


def _check_root(root: str | os.PathLike) -> Path:
    root = Path(root)
    if not root.is_dir():
        raise UserError(f"dataset folder {root} does not exist; pass the folder that holds vevo_chord/ etc.")
    return root


# ----------------------------------------------------------------------------- writing


def _write_text(path: Path, lines: Iterable[str], overwrite: bool) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_output(path, overwrite) as tmp:
        tmp.write_text("".join(f"{line}\n" for line in lines), encoding="utf-8")


def _write_semantic(path: Path, semantic: np.ndarray, overwrite: bool) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_output(path, overwrite) as tmp:
        np.save(tmp, np.asarray(semantic, dtype=np.float32))


def _table_lines(modality: _Modality, values: np.ndarray) -> Iterable[str]:
    if modality.header is not None:
        yield modality.header
    rows = np.asarray(values).reshape(len(values), -1)
    for second, row in enumerate(rows):
        cells = (modality.fmt.format(int(v) if modality.integer else float(v)) for v in row)
        yield f"{second} " + " ".join(cells)


def write_video(root: str | os.PathLike, video: MuViSyncVideo, overwrite: bool = False) -> None:
    """Write one video's files in the MuVi-Sync layout (semantic only when present).

    The video is validated first; each file is written atomically.
    """
    problems = validate_video(video)
    if problems:
        raise DatasetError(f"video {video.video_id} cannot be written", problems)
    root = Path(root)
    chord_lines = [f"key {video.key}"] + [f"{s} {vocab.chord_label(c)}" for s, c in enumerate(video.chords)]
    _write_text(chord_path(root, video.video_id), chord_lines, overwrite)
    for modality in _MODALITIES:
        path = modality_path(root, modality.field, video.video_id)
        _write_text(path, _table_lines(modality, getattr(video, modality.field)), overwrite)
    if video.semantic is not None:
        _write_semantic(semantic_path(root, video.video_id), video.semantic, overwrite)


def write_features(
    root: str | os.PathLike,
    video_id: str,
    features: dict[str, np.ndarray],
    overwrite: bool = False,
) -> dict[str, Path]:
    """Write a video's input files (emotion, motion, scene offset, and semantic if given) under ``root``.

    What ``features`` extraction gives for a video that has no chords or dynamics annotated yet.
    Every destination is checked before anything is written, so a refusal writes nothing.
    """
    paths = feature_paths(root, video_id, semantic="semantic" in features)
    for path in paths.values():
        path.parent.mkdir(parents=True, exist_ok=True)
        check_writable(path, overwrite)
    for modality in _MODALITIES:
        if modality.field in paths:
            _write_text(paths[modality.field], _table_lines(modality, features[modality.field]), overwrite)
    if "semantic" in paths:
        _write_semantic(paths["semantic"], features["semantic"], overwrite)
    return paths


def feature_paths(root: str | os.PathLike, video_id: str, semantic: bool) -> dict[str, Path]:
    """Where :func:`write_features` puts the files of ``video_id`` (semantic only if it has them)."""
    if not video_id or "/" in video_id or video_id.startswith("."):
        raise UserError(f"video id {video_id!r} cannot be a file name; use letters, digits, - or _")
    paths = {field: modality_path(root, field, video_id) for field in ("emotion", "motion", "scene_offset")}
    if semantic:
        paths["semantic"] = semantic_path(root, video_id)
    return paths


def write_split(root: str | os.PathLike, split: str, ids: Sequence[str], overwrite: bool = False) -> None:
    """Write ``vevo_meta/split/v1/<split>.txt`` listing ``ids``."""
    bad = [i for i in ids if not _ID_RE.match(i)]
    if not _ID_RE.match(split) or bad or not ids or len(set(ids)) != len(ids):
        raise UserError(
            f"cannot write split {split!r}: it needs a plain name and distinct, non-empty video ids"
            + (f" (bad ids: {', '.join(map(repr, bad[:5]))})" if bad else "")
        )
    _write_text(split_path(root, split), ids, overwrite)


# ----------------------------------------------------------------------------- packing


def pack(
    root: str | os.PathLike,
    out_path: str | os.PathLike,
    splits: Sequence[str] | None = None,
    overwrite: bool = False,
) -> Path:
    """Pack the dataset at ``root`` into one ``.npz`` plus a JSON index beside it.

    ``splits`` defaults to every split file present. Semantic features are packed when every
    video has them. Returns the ``.npz`` path.
    """
    root = _check_root(root)
    out_path = Path(out_path)
    if out_path.suffix != ".npz":
        raise UserError(f"pack output {out_path} must end in .npz")
    if splits is None:
        splits = available_splits(root)
        if not splits:
            raise UserError(f"no split files in {root / SPLIT_DIR}; write train.txt/val.txt/test.txt first")
    split_ids = {split: read_split_ids(root, split) for split in splits}
    all_ids = list(dict.fromkeys(i for ids in split_ids.values() for i in ids))
    semantic = _has_semantic(root, all_ids)
    problems: list[str] = []
    videos = [v for i in all_ids if (v := _read_video(root, i, semantic, problems)) is not None]
    if problems:
        raise DatasetError(f"cannot pack {root}: it has invalid files; fix them and rerun", problems)
    starts = np.cumsum([0] + [v.T for v in videos])
    index = {
        "format": PACK_FORMAT,
        "version": PACK_VERSION,
        "vocab_version": vocab.VOCAB_VERSION,
        "source": str(root.resolve()),
        "semantic": semantic,
        "videos": [
            {"id": v.video_id, "key": v.key, "start": int(s), "seconds": v.T}
            for v, s in zip(videos, starts[:-1], strict=True)
        ],
        "splits": split_ids,
    }
    arrays = {field: np.concatenate([getattr(v, field) for v in videos]) for field in _ARRAY_FIELDS}
    if semantic:
        arrays["semantic"] = np.concatenate([v.semantic for v in videos])
    index_text = json.dumps(index, indent=1)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_output(out_path, overwrite) as tmp, open(tmp, "wb") as handle:
        np.savez(handle, index=np.array(index_text), **arrays)
    json_path = out_path.with_suffix(".json")
    with atomic_output(json_path, overwrite) as tmp:
        tmp.write_text(index_text + "\n", encoding="utf-8")
    logger.info("packed %d videos (%d seconds) into %s", len(videos), int(starts[-1]), out_path)
    return out_path


# What numpy and zipfile raise for a cut-off or corrupted archive, when it is opened or read.
_DAMAGED_ZIP = (OSError, ValueError, EOFError, KeyError, zipfile.BadZipFile)


class DamagedPackError(UserError):
    """A packed dataset that cannot be read at all (cut off, corrupted, or not a pack)."""


def _damaged_pack(path: Path, error: Exception) -> DamagedPackError:
    return DamagedPackError(
        f"{path} is damaged or not a packed MuVi-Sync dataset ({type(error).__name__}: {error}); "
        "pack the dataset again (python -m video2music.commands.dataset pack)"
    )


def _open_pack(path: Path) -> tuple[Any, dict[str, Any]]:
    """The archive written by ``pack`` and its index, checked for format and vocabulary."""
    try:
        archive = np.load(path, allow_pickle=False)
        index = json.loads(str(archive["index"]))
    except _DAMAGED_ZIP as error:
        raise _damaged_pack(path, error) from None
    if (
        not isinstance(index, dict)
        or index.get("format") != PACK_FORMAT
        or index.get("version") != PACK_VERSION
    ):
        raise UserError(f"{path} is not a version-{PACK_VERSION} {PACK_FORMAT} file; pack the dataset again")
    if index.get("vocab_version") != vocab.VOCAB_VERSION:
        raise UserError(
            f"{path} uses chord vocabulary {index.get('vocab_version')!r}, not {vocab.VOCAB_VERSION}"
        )
    return archive, index


def available_splits(data: str | os.PathLike) -> list[str]:
    """The splits a MuVi-Sync folder (its split files) or a packed ``.npz`` (its index) holds."""
    data = Path(data)
    if data.is_dir():
        return sorted(p.stem for p in (data / SPLIT_DIR).glob("*.txt"))
    if data.is_file():
        return list(_open_pack(data)[1]["splits"])
    raise UserError(f"dataset {data} does not exist; pass a MuVi-Sync folder or a packed .npz")


def read_packed_split(
    path: str | os.PathLike, split: str, semantic: bool | None = None
) -> list[MuViSyncVideo]:
    """Read one split from a ``.npz`` written by ``pack``, validating every value again."""
    path = Path(path)
    archive, index = _open_pack(path)
    fields = set(archive.files)
    if split not in index["splits"]:
        raise UserError(f"no split {split!r} in {path}; it has {', '.join(index['splits'])}")
    if semantic and "semantic" not in fields:
        raise UserError(f"{path} holds no semantic (CLIP) features; {_NO_SEMANTIC_HINT}")
    ids = index["splits"][split]
    if not ids:
        raise UserError(f"split {split!r} in {path} is empty")
    use_semantic = "semantic" in fields if semantic is None else semantic
    try:
        arrays = {field: archive[field] for field in _ARRAY_FIELDS + (("semantic",) if use_semantic else ())}
    except _DAMAGED_ZIP as error:  # each array is read (and its CRC checked) only here
        raise _damaged_pack(path, error) from None
    entries = {entry["id"]: entry for entry in index["videos"]}
    videos = []
    for video_id in ids:
        entry = entries[video_id]
        window = slice(entry["start"], entry["start"] + entry["seconds"])
        parts = {field: array[window] for field, array in arrays.items()}
        videos.append(MuViSyncVideo(video_id, entry["key"], **parts))
    problems = [f"{path}: {p}" for v in videos for p in validate_video(v)]
    if problems:
        raise DatasetError(
            f"packed dataset {path} has invalid values; pack it again from good files", problems
        )
    logger.info("read %d %s videos (%d seconds) from %s", len(videos), split, sum(v.T for v in videos), path)
    return videos


def load_split(data: str | os.PathLike, split: str, semantic: bool | None = None) -> list[MuViSyncVideo]:
    """Read a split from a MuVi-Sync folder or from a ``.npz`` written by ``pack``."""
    data = Path(data)
    if data.is_dir():
        return read_split(data, split, semantic)
    if data.is_file():
        return read_packed_split(data, split, semantic)
    raise UserError(f"dataset {data} does not exist; pass a MuVi-Sync folder or a packed .npz")


__all__ = [
    "SPLITS",
    "TRAINING_SPLITS",
    "available_splits",
    "DamagedPackError",
    "DatasetError",
    "MuViSyncVideo",
    "load_split",
    "load_split_ids",
    "pack",
    "read_packed_split",
    "read_split",
    "read_split_ids",
    "read_video",
    "shared_videos",
    "validate_video",
    "write_features",
    "write_split",
    "write_video",
]
