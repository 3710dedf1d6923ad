"""Metrics of chords against emotion and cuts, and of generated output.

The paper's teacher-forced metrics on a data split (Hits@k, emotion correspondence, note
density and loudness RMSE) are computed per task in ``video2music.training.tasks`` from the helpers here:

* Hits@k: share of target chords among the model's k most likely (k = 1, 3, 5), over every
  predicted second and (``hits@k_change``) over the seconds whose chord differs from the
  previous second's, where merely holding a chord cannot score.
* Baselines on the same seconds (``tasks.ChordBaselines``, fitted on the training split): "repeat"
  ranks the previous chord first, then the training split's chords by frequency; "bigram"
  ranks chords by their add-one-smoothed frequency after the previous chord in training.
* Emotion correspondence: share of predicted (argmax) chords whose quality the affective table
  allows for the second's top emotion, over seconds whose top emotion has probability >= 0.8
  and is not neutral.

On generated output (per-second arrays, e.g. from generate.py's JSON files):

* Scene-cut / chord-change F1: cuts and chord changes matched one to one within +-1 s.
* Emotion agreement: the emotion correspondence above, on the generated chords.
* Chord entropy (bits) of the chord distribution, and repetition rate: the share of seconds
  (after the first) that keep the previous second's chord.
* The song-form metrics of ``analysis.structure`` (MusDr's pitch-class entropy and grooving
  similarity, motif reuse, phrases, the lead on top, ...), read from the ``NAME.mid`` beside each
  ``NAME.json``; over a folder, their medians. ``bench/form.py`` sets the same metrics beside
  POP909's, so systems can be compared with them.
"""

from __future__ import annotations

import json
import logging
import math
import os
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from video2music.analysis.shares import share
from video2music.analysis.structure import STRUCTURE_METRICS, song_from_midi, structure_stats
from video2music.theory import vocab
from video2music.utils.errors import UserError
from video2music.utils.timeline import cut_seconds

logger = logging.getLogger(__name__)

EMOTION_THRESHOLD = 0.8
_NEUTRAL = vocab.EMOTIONS.index("neutral")
_ALLOWED = vocab.affective_target_matrix() > 0  # (6, 159): quality allowed for the emotion


# ----------------------------------------------------------------------------- per-second metrics


def emotion_counts(
    chords: np.ndarray, emotion: np.ndarray, threshold: float = EMOTION_THRESHOLD
) -> tuple[int, int]:
    """(chords that fit, seconds counted): seconds whose top emotion is >= ``threshold`` and not
    neutral count; a chord fits when the affective table allows its quality for that emotion."""
    chords = np.asarray(chords, dtype=np.int64).reshape(-1)
    emotion = np.asarray(emotion, dtype=np.float64).reshape(len(chords), len(vocab.EMOTIONS))
    top = emotion.argmax(axis=1)
    counted = (emotion.max(axis=1) >= threshold) & (top != _NEUTRAL)
    fits = _ALLOWED[top, np.clip(chords, 0, vocab.VOCAB_SIZE - 1)]
    return int((fits & counted).sum()), int(counted.sum())


def emotion_agreement(
    chords: Sequence[int], emotion: np.ndarray, threshold: float = EMOTION_THRESHOLD
) -> float:
    """Share of counted seconds (see ``emotion_counts``) whose chord fits; NaN when none count."""
    fit, counted = emotion_counts(np.asarray(chords), emotion, threshold)
    return share(fit, counted)


def chord_changes(chords: Sequence[int]) -> list[int]:
    """Seconds (after the first) whose chord differs from the previous second's."""
    chords = np.asarray(chords)
    return [int(t) for t in np.flatnonzero(chords[1:] != chords[:-1]) + 1]


@dataclass
class CutChordF1:
    """Scene cuts matched one to one with chord changes; micro-averaging sums the counts."""

    matched: int
    cuts: int
    changes: int

    @property
    def precision(self) -> float:
        return share(self.matched, self.changes)

    @property
    def recall(self) -> float:
        return share(self.matched, self.cuts)

    @property
    def f1(self) -> float:
        total = self.cuts + self.changes
        return share(2 * self.matched, total)

    def __add__(self, other: CutChordF1) -> CutChordF1:
        return CutChordF1(self.matched + other.matched, self.cuts + other.cuts, self.changes + other.changes)


def cut_chord_f1(
    scene_cuts: Iterable[float], chord_change_seconds: Iterable[float], tolerance: float = 1
) -> CutChordF1:
    """Match cuts and chord changes one to one, closest pairs first, within ``tolerance`` seconds."""
    cuts = sorted(float(c) for c in scene_cuts)
    changes = sorted(float(c) for c in chord_change_seconds)
    pairs = sorted(
        (abs(cut - change), i, j)
        for i, cut in enumerate(cuts)
        for j, change in enumerate(changes)
        if abs(cut - change) <= tolerance
    )
    used_cuts, used_changes = set(), set()
    for _, i, j in pairs:
        if i not in used_cuts and j not in used_changes:
            used_cuts.add(i)
            used_changes.add(j)
    return CutChordF1(len(used_cuts), len(cuts), len(changes))


def chord_entropy(chords: Sequence[int]) -> float:
    """Shannon entropy, in bits, of how often each chord occurs (0 for one chord throughout)."""
    counts = np.array(list(Counter(int(c) for c in chords).values()), dtype=np.float64)
    if counts.size == 0:
        return math.nan
    p = counts / counts.sum()
    return float(-(p * np.log2(p)).sum() + 0.0)


def repetition_rate(chords: Sequence[int]) -> float:
    """Share of seconds after the first that keep the previous second's chord."""
    chords = np.asarray(chords)
    return float((chords[1:] == chords[:-1]).mean()) if len(chords) > 1 else math.nan


# ----------------------------------------------------------------------------- generated output


@dataclass
class GeneratedVideo:
    """What the metrics need from one generated result (per-second arrays)."""

    name: str
    chords: np.ndarray  # (T,) chord ids
    emotion: np.ndarray  # (T, 6)
    scene_cuts: list[int]  # seconds on which a new scene starts
    midi: Path | None = None  # the MIDI file written beside it, for the structure metrics


def read_generated(path: str | os.PathLike, name: str | None = None) -> GeneratedVideo:
    """Read a ``.json`` written by generate.py (``chord_ids_normalised``, ``emotion``, ``scene_offset``);
    ``name`` (default: the file's stem) names it in the results."""
    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        chords = np.asarray(data["chord_ids_normalised"], dtype=np.int64)
        emotion = np.asarray(data["emotion"], dtype=np.float64)
        offset = np.asarray(data["scene_offset"], dtype=np.int64)
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise UserError(f"{path} is not a result file of generate.py ({error})") from None
    if not (len(chords) == len(emotion) == len(offset)) or emotion.shape[1:] != (len(vocab.EMOTIONS),):
        raise UserError(f"{path}: chords, emotion and scene_offset disagree on the number of seconds")
    cuts = cut_seconds(offset)
    midi = path.with_suffix(".mid")
    return GeneratedVideo(name or path.stem, chords, emotion, cuts, midi if midi.is_file() else None)


def generated_metrics(video: GeneratedVideo) -> dict[str, Any]:
    f1 = cut_chord_f1(video.scene_cuts, chord_changes(video.chords))
    fit, counted = emotion_counts(video.chords, video.emotion)
    return {
        "name": video.name,
        "seconds": len(video.chords),
        "cut_chord": asdict(f1),
        "cut_chord_f1": f1.f1,
        "emotion_fit": fit,
        "emotion_counted": counted,
        "emotion_agreement": share(fit, counted),
        "chord_entropy": chord_entropy(video.chords),
        "repetition_rate": repetition_rate(video.chords),
        **(structure_stats(song_from_midi(video.midi)) if video.midi is not None else {}),
    }


def evaluate_generated(folder: str | os.PathLike) -> dict[str, Any]:
    """Metrics of every generate.py ``.json`` in ``folder`` and its subfolders (one per take, say):
    per video, named by its path in ``folder``, and over all of them (F1 and emotion agreement from
    summed counts; entropy and repetition averaged per video). Other ``.json`` files are skipped
    with a warning."""
    folder = Path(folder)
    if not folder.is_dir():
        raise UserError(f"{folder} is not a folder; give the folder generate.py wrote its .json files to")
    videos = []
    for path in sorted(folder.rglob("*.json")):
        try:
            videos.append(read_generated(path, str(path.relative_to(folder).with_suffix(""))))
        except UserError as error:
            logger.warning("%s; skipped", error)
    if not videos:
        raise UserError(
            f"no result of generate.py (NAME.json) in {folder} or its subfolders; score some videos into "
            f"it first, e.g. generate.py --video clip.mp4 --out {folder}"
        )
    per_video = [generated_metrics(video) for video in videos]
    f1 = sum((CutChordF1(**v["cut_chord"]) for v in per_video), CutChordF1(0, 0, 0))
    fit = sum(v["emotion_fit"] for v in per_video)
    counted = sum(v["emotion_counted"] for v in per_video)
    overall = {
        "videos": len(per_video),
        "seconds": sum(v["seconds"] for v in per_video),
        "cut_chord_precision": f1.precision,
        "cut_chord_recall": f1.recall,
        "cut_chord_f1": f1.f1,
        "emotion_agreement": share(fit, counted),
        "emotion_seconds": counted,
        "chord_entropy": float(np.mean([v["chord_entropy"] for v in per_video])),
        "repetition_rate": float(np.nanmean([v["repetition_rate"] for v in per_video])),
    }
    for metric in STRUCTURE_METRICS:  # the song-form metrics: the median over the videos with a MIDI
        values = [v[metric] for v in per_video if metric in v and not math.isnan(v[metric])]
        if values:
            overall[f"median_{metric}"] = float(np.median(values))
    return {"overall": overall, "videos": per_video}


def format_table(rows: dict[str, dict[str, Any]]) -> str:
    """A readable two-column table per section: ``{section: {metric: value}}``; a metric with
    nothing to count (NaN) reads n/a."""
    lines = []
    for section, metrics in rows.items():
        lines.append(section)
        width = max(len(name) for name in metrics)
        for name, value in metrics.items():
            if isinstance(value, float):
                text = "n/a" if math.isnan(value) else f"{value:.4f}"
            else:
                text = str(value)
            lines.append(f"  {name:<{width}}  {text}")
    return "\n".join(lines)
