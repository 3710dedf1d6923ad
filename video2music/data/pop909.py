"""POP909: read the songs and turn them into the pop chord corpus (MuVi-Sync layout).

POP909 (Wang, Chen, Jiang, Zhang, Xu, Dai, Bin, Xia, *POP909: A Pop-song Dataset for Music
Arrangement Generation*, ISMIR 2020; MIT licence, ``dataset/POP909_LICENSE``) holds piano
arrangements of Chinese pop songs with time-aligned chord, key and beat annotations. Each song
folder ``NNN/`` has ``NNN.mid`` (tracks MELODY, BRIDGE, PIANO), ``chord_midi.txt``
(``start<TAB>end<TAB>Harte label``, seconds), ``key_audio.txt`` (``start<TAB>end<TAB>key``) and
``beat_midi.txt`` (``time half-bar-flag downbeat-flag`` per beat).

Reading (``read_song``) gives one ``Pop909Song``: key segments, chords (as vocabulary ids in
the song's own key, with their labels as written), beats, downbeats, the MELODY track's notes
(onset, offset, pitch, velocity; for melody models) and, per beat, the note onsets of all
tracks and their mean velocity (what the video-like inputs are derived from). A missing or
corrupt file raises ``Pop909Error`` naming the file and line; ``read_songs`` logs that one line
and skips the song.

The compact file (``dataset/pop909_derived.tsv.gz``, written by ``--export``) holds exactly
what ``Pop909Song`` holds, so the corpus (and the melody) can be rebuilt without the raw
folder: ``--source`` takes either. Times are kept to the millisecond in both.

Chord labels -> the 13 vocabulary qualities. The vocabulary has no inversions and no
extensions, so each Harte label maps to the quality whose tones all sound in the chord and
which keeps most of them (so no tone is added that the song does not play):

* slash chords (``G:7/B``, ``C:maj/5``, ``A:min7/b7``): the root-position chord of the same
  root and quality; the bass note is an inversion, not a different harmony.
* ``maj min dim aug sus2 sus4 7 maj7 min7 dim7 hdim7 maj6 min6``: the quality of that name.
* ``sus4(b7)`` (1 4 5 b7, a "7sus4") -> ``sus4``: its 1 4 5 is the sus4 template; ``7`` would add
  the major third the chord withholds, and the suspension is what the ear hears.
* ``minmaj7`` (1 b3 5 7) -> ``min``: the minor triad sounds; no quality has a minor third with a
  major seventh, and ``maj7``/``min7`` would add a tone that is not there.
* ``9`` -> ``7``, ``maj9`` -> ``maj7``, ``min9`` -> ``min7``, ``11``/``13`` -> ``7``, ``min11`` ->
  ``min7``: the ninth/eleventh/thirteenth is colour on the seventh chord below it.
* added tones in parentheses (``maj(9)``, ``min(11)``, ``7(b9)``, ``sus2(b7)`` ...): dropped, the
  quality before them kept (``maj``, ``min``, ``7``, ``sus2``), for the same reason.
* ``N`` (and ``X``, unknown) -> ``N``. Any other label is a corrupt line.

The songs in ``../shared/datasets/pop909`` use maj, min, sus2, min7, sus4, maj7, sus4(b7), 7,
maj6, dim, hdim7, aug, min6, dim7 and minmaj7, with slash basses /3 /5 /b3 /b7 /7.

Keys. Songs that change key are split at each ``key_audio.txt`` segment; each segment is one
piece (each half-bar step belongs to the segment holding its middle; a segment under 8 bars is
left out), its chords transposed so its key is C major or A minor (the MuVi-Sync normalisation).

Time base: the half bar. Half-bar lines are every two beats counted from each downbeat (a bar
of 4 beats gives 2 steps, of 6 gives 3, of 3 gives one step of 3 beats); beats before the first
downbeat (a pickup) are left out and the last bar ends one beat after its last beat. Each step
takes the chord covering most of it (``corpus.majority_chords``: chords within 20 ms tie and
the earlier wins; ``N`` only where no chord sounds).
At 120 bpm a half bar lasts one second, so each step is one MuVi-Sync "second" and train.py /
evaluate.py read the corpus unchanged.

Video-like inputs per step, derived as ``data.music21_corpus`` does (its functions reused):

* note density: onsets of all tracks in the step (at 120 bpm, onsets per second);
* loudness 0-1: the mean onset velocity / 127 scaled by how busy the step is
  (``0.4 + 0.6 * min(onsets / DENSITY_ANCHORS[-1], 1)``), 0 where nothing starts;
* scene offset: steps since the current phrase began. Sections start where a 4-bar chord
  sequence (8 steps, not one chord throughout) repeats one heard earlier, at both occurrences,
  and where chords begin after a stretch of ``N``; between section starts a phrase lasts 4 bars
  (a 4-bar line within 2 bars of the next section start gives way to it). Boundaries closer
  than 2 bars to the previous one are dropped;
* motion: ``corpus.motion_from_onsets`` (onsets mapped onto video motion, a cut-sized value on
  each phrase's first step);
* emotion: ``corpus.emotion_from_chords`` (chord qualities, mode and onset rate).

Split by song (all key segments of a song together), 80/10/10 with a fixed seed.

Command line: ``python -m video2music.data.pop909 --out dataset/pop909 [--source DIR|FILE]
[--export FILE]``.
"""

from __future__ import annotations

import gzip
import logging
import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from video2music.data.music21_corpus import (
    PieceTimeline,
    emotion_from_chords,
    majority_chords,
    motion_from_onsets,
    split_ids,
    summarise,
    to_muvisync,
)
from video2music.model.dynamics_rule import DENSITY_ANCHORS
from video2music.theory import vocab
from video2music.utils.errors import ArgumentParser, UserError, cli_main
from video2music.utils.fileio import atomic_output, check_writable

logger = logging.getLogger(__name__)

REPO = Path(__file__).resolve().parents[2]
COMPACT_FILE = REPO / "dataset" / "pop909_derived.tsv.gz"
DEFAULT_SOURCE = COMPACT_FILE  # in the repository, so the corpus builds without the raw POP909
COMPACT_HEADER = "# video2music POP909 derived v2"

PHRASE_STEPS = 8  # 4 bars of two half bars
SECTION_WINDOW = 8  # steps of chords that must repeat for a section start
MIN_PHRASE_STEPS = 4  # 2 bars
MIN_PIECE_STEPS = 16  # a key segment shorter than 8 bars is too short to learn from
BEATS_PER_STEP = 2
# Chords covering a step within this many seconds of each other tie (annotation times are
# rounded, and the compact file keeps milliseconds).
TIE_SECONDS = 0.02

# Harte shorthand (before any parenthesis or slash) -> vocabulary quality; see the docstring.
HARTE_QUALITIES: dict[str, str] = {
    **{q: q for q in vocab.QUALITIES},
    "": "maj",
    "minmaj7": "min",
    "9": "7",
    "11": "7",
    "13": "7",
    "maj9": "maj7",
    "min9": "min7",
    "min11": "min7",
}
# Qualities whose parenthesised additions change what they mean (rather than add colour).
_PARENTHESIS_QUALITIES: dict[str, str] = {"sus4(b7)": "sus4"}
_HARTE_RE = re.compile(
    r"^([A-G][#b]*)(?::([^/(]*)(\([^)]*\))?)?(?:/([#b]*\d+|[A-G][#b]*))?$"
)  # bass: an interval or a note


class Pop909Error(UserError):
    """A missing or corrupt POP909 file; the message names the file (and line)."""


@dataclass(frozen=True)
class TimedChord:
    """A chord as annotated: seconds, the label as written, its vocabulary id in the song's key."""

    start: float
    end: float
    label: str
    chord: int


@dataclass(frozen=True)
class KeySegment:
    start: float
    end: float
    key: vocab.Key


@dataclass(frozen=True)
class MelodyNote:
    onset: float  # seconds
    offset: float
    pitch: int  # MIDI note number
    velocity: int


@dataclass
class Pop909Song:
    """One song as annotated; times in seconds."""

    song_id: str  # "001"
    keys: list[KeySegment]
    chords: list[TimedChord]
    beats: np.ndarray  # (B,) beat times
    downbeats: np.ndarray  # (D,) the beats that start a bar
    melody: list[MelodyNote]
    beat_onsets: np.ndarray  # (B,) note onsets of all tracks from each beat to the next
    beat_velocity: np.ndarray  # (B,) their mean velocity (0 where none)


# ----------------------------------------------------------------------------- labels


def parse_harte(label: str) -> int:
    """A POP909 chord label (``F#:sus4(b7)``, ``G:7/B``, ``N``) as a vocabulary id; see the module
    docstring for how each quality maps. ValueError for a label it does not know."""
    text = label.strip()
    if text in ("N", "X"):
        return vocab.N_ID
    match = _HARTE_RE.match(text)
    if match is None:
        raise ValueError(f"{label!r} is not a Harte chord label")
    root_text, shorthand, added, _ = match.groups()
    shorthand = shorthand or ""
    quality = _PARENTHESIS_QUALITIES.get(shorthand + (added or ""), HARTE_QUALITIES.get(shorthand))
    if quality is None:
        raise ValueError(f"unknown chord quality {shorthand!r} in {label!r}")
    return vocab.chord_id(vocab.chord_root(vocab.parse_chord(root_text)), quality)


def parse_key_label(label: str) -> vocab.Key:
    """``Gb:maj`` / ``A:min`` as a Key; ValueError otherwise."""
    match = re.fullmatch(r"([A-G][#b]?):(maj|min)", label.strip())
    if match is None:
        raise ValueError(f"{label!r} is not a key label like 'Gb:maj' or 'A:min'")
    return vocab.parse_key(f"{match.group(1)} {'major' if match.group(2) == 'maj' else 'minor'}")


# ----------------------------------------------------------------------------- reading raw songs


def _rows(path: Path, columns: int) -> list[tuple[int, list[str]]]:
    """Non-empty lines of a whitespace-separated table, with their line numbers."""
    if not path.is_file():
        raise Pop909Error(f"{path}: missing")
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise Pop909Error(f"{path}: unreadable ({error})") from None
    rows = []
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        cells = line.split("\t") if "\t" in line else line.split()
        if len(cells) != columns:
            raise Pop909Error(
                f"{path}:{number}: expected {columns} columns, got {len(cells)}: {line.strip()!r}"
            )
        rows.append((number, [c.strip() for c in cells]))
    if not rows:
        raise Pop909Error(f"{path}: empty")
    return rows


def _span(path: Path, number: int, start: str, end: str) -> tuple[float, float]:
    try:
        a, b = float(start), float(end)
    except ValueError:
        raise Pop909Error(f"{path}:{number}: start and end must be numbers, got {start!r} {end!r}") from None
    if not (math.isfinite(a) and math.isfinite(b) and 0 <= a <= b):
        raise Pop909Error(f"{path}:{number}: times must satisfy 0 <= start <= end, got {start} {end}")
    return round(a, 3), round(b, 3)


def read_chords(path: Path) -> list[TimedChord]:
    chords = []
    for number, (start, end, label) in _rows(path, 3):
        a, b = _span(path, number, start, end)
        try:
            chords.append(TimedChord(a, b, label, parse_harte(label)))
        except ValueError as error:
            raise Pop909Error(f"{path}:{number}: {error}") from None
    return chords


def read_keys(path: Path) -> list[KeySegment]:
    keys = []
    for number, (start, end, label) in _rows(path, 3):
        a, b = _span(path, number, start, end)
        try:
            keys.append(KeySegment(a, b, parse_key_label(label)))
        except ValueError as error:
            raise Pop909Error(f"{path}:{number}: {error}") from None
    return keys


def read_beats(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """(beat times, downbeat times)."""
    times, down = [], []
    for number, cells in _rows(path, 3):
        try:
            time, _, downbeat = (float(c) for c in cells)
        except ValueError:
            raise Pop909Error(f"{path}:{number}: expected three numbers, got {' '.join(cells)!r}") from None
        if not math.isfinite(time) or (times and time <= times[-1]) or downbeat not in (0.0, 1.0):
            raise Pop909Error(f"{path}:{number}: beat times must increase and flags be 0 or 1")
        times.append(round(time, 3))
        down.append(downbeat == 1.0)
    beats = np.array(times)
    if not any(down):
        raise Pop909Error(f"{path}: no downbeat marked")
    return beats, beats[np.array(down)]


def _beat_activity(
    beats: np.ndarray, onsets: np.ndarray, velocities: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Onsets from each beat to the next (the last beat lasts a median beat; earlier notes count
    in the first beat) and their mean velocity, rounded as velocities are."""
    index = np.clip(np.searchsorted(beats, onsets, side="right") - 1, 0, len(beats) - 1)
    last_end = beats[-1] + (np.median(np.diff(beats)) if len(beats) > 1 else 0.5)
    keep = onsets < last_end
    counts = np.bincount(index[keep], minlength=len(beats))
    total = np.bincount(index[keep], weights=velocities[keep], minlength=len(beats))
    return counts.astype(np.int64), np.round(np.where(counts > 0, total / np.maximum(counts, 1), 0.0))


def read_midi(path: Path, beats: np.ndarray) -> tuple[list[MelodyNote], np.ndarray, np.ndarray]:
    """The MELODY track's notes, and per-beat onsets / mean velocity of all tracks."""
    import pretty_midi

    if not path.is_file():
        raise Pop909Error(f"{path}: missing")
    try:
        midi = pretty_midi.PrettyMIDI(str(path))
    except Exception as error:  # pretty_midi/mido raise many types for a damaged file
        raise Pop909Error(f"{path}: not a readable MIDI file ({type(error).__name__}: {error})") from None
    tracks = {instrument.name.strip().upper(): instrument for instrument in midi.instruments}
    if "MELODY" not in tracks:
        raise Pop909Error(f"{path}: no MELODY track (tracks: {', '.join(sorted(tracks)) or 'none'})")
    melody = [
        MelodyNote(round(n.start, 3), round(n.end, 3), int(n.pitch), int(n.velocity))
        for n in sorted(tracks["MELODY"].notes, key=lambda n: (n.start, n.pitch))
    ]
    notes = [n for instrument in midi.instruments for n in instrument.notes]
    onsets = np.array([n.start for n in notes], dtype=np.float64)
    velocities = np.array([n.velocity for n in notes], dtype=np.float64)
    counts, mean_velocity = _beat_activity(beats, onsets, velocities)
    return melody, counts, mean_velocity


def read_song(folder: str | Path) -> Pop909Song:
    """One raw song folder ``NNN/``; Pop909Error naming the file (and line) if anything is wrong."""
    folder = Path(folder)
    song_id = folder.name
    beats, downbeats = read_beats(folder / "beat_midi.txt")
    melody, onsets, velocity = read_midi(folder / f"{song_id}.mid", beats)
    return Pop909Song(
        song_id=song_id,
        keys=read_keys(folder / "key_audio.txt"),
        chords=read_chords(folder / "chord_midi.txt"),
        beats=beats,
        downbeats=downbeats,
        melody=melody,
        beat_onsets=onsets,
        beat_velocity=velocity,
    )


# ----------------------------------------------------------------------------- the compact file
#
# One gzipped text file, one line per song and field: ``<song>\t<field>\t<values>``, values
# space separated, column by column. Times are whole milliseconds, written as differences from
# the previous value (beats and notes are regular, so the differences repeat and compress well).


def _ms_deltas(times: Iterable[float]) -> str:
    ms = np.round(np.asarray(list(times), dtype=np.float64) * 1000).astype(np.int64)
    return " ".join(str(int(d)) for d in np.diff(ms, prepend=0))


def _from_ms_deltas(text: str) -> np.ndarray:
    return np.cumsum([int(d) for d in text.split()], dtype=np.int64) / 1000.0


def _ms_lengths(starts: Iterable[float], ends: Iterable[float]) -> str:
    ms = [round(e * 1000) - round(s * 1000) for s, e in zip(starts, ends, strict=True)]
    return " ".join(str(int(m)) for m in ms)


def _compact_lines(song: Pop909Song) -> Iterable[str]:
    keys = "|".join(f"{k.start:.3f} {k.end:.3f} {k.key.tonic} {k.key.mode}" for k in song.keys)
    chord_starts = [c.start for c in song.chords]
    notes = song.melody
    fields = {
        "keys": keys,
        "chord_starts": _ms_deltas(chord_starts),
        "chord_lengths": _ms_lengths(chord_starts, [c.end for c in song.chords]),
        "chord_labels": " ".join(c.label for c in song.chords),
        "beats": _ms_deltas(song.beats),
        "downbeat_flags": "".join("1" if d else "0" for d in np.isin(song.beats, song.downbeats)),
        "beat_onsets": " ".join(str(int(n)) for n in song.beat_onsets),
        "beat_velocity": " ".join(str(round(float(v))) for v in song.beat_velocity),
        "melody_onsets": _ms_deltas(n.onset for n in notes),
        "melody_lengths": _ms_lengths([n.onset for n in notes], [n.offset for n in notes]),
        "melody_pitches": " ".join(str(n.pitch) for n in notes),
        "melody_velocities": " ".join(str(n.velocity) for n in notes),
    }
    for name, values in fields.items():
        yield f"{song.song_id}\t{name}\t{values}"


def write_compact(songs: Sequence[Pop909Song], path: str | Path, overwrite: bool = False) -> Path:
    """Everything ``Pop909Song`` holds, for every song, in one gzipped text file (times rounded
    to the millisecond)."""
    with (
        atomic_output(path, overwrite) as tmp,
        gzip.open(tmp, "wt", encoding="utf-8", compresslevel=9) as out,
    ):
        out.write(COMPACT_HEADER + " (from POP909, MIT licence: see POP909_LICENSE)\n")
        for song in songs:
            out.writelines(f"{line}\n" for line in _compact_lines(song))
    return Path(path)


class _FieldError(ValueError):
    """A compact-file field that does not parse; ``field`` says which, for the line number."""

    def __init__(self, field: str, error: Exception | str) -> None:
        self.field = field
        super().__init__(f"field {field}: {error}")


def _song_from_fields(song_id: str, fields: dict[str, str]) -> Pop909Song:
    def parse(name: str, convert):
        try:
            return convert(fields[name])
        except (KeyError, ValueError, TypeError) as error:
            raise _FieldError(name, error if name in fields else "missing") from None

    def ints(text: str) -> np.ndarray:
        return np.array([int(v) for v in text.split()], dtype=np.int64)

    def key_segments(text: str) -> list[KeySegment]:
        rows = [r.split() for r in text.split("|") if r.strip()]
        return [KeySegment(float(a), float(b), vocab.Key(int(t), m)) for a, b, t, m in rows]

    beats = parse("beats", _from_ms_deltas)
    flags = parse("downbeat_flags", lambda text: np.array([c == "1" for c in text]))
    onsets = parse("beat_onsets", ints)
    velocity = parse("beat_velocity", ints).astype(np.float64)
    if not (len(beats) == len(flags) == len(onsets) == len(velocity)) or not flags.any():
        raise _FieldError("beats", "beats, downbeat flags, onsets and velocities disagree in length")
    chord_starts = parse("chord_starts", _from_ms_deltas)
    chord_ends = chord_starts + parse("chord_lengths", ints) / 1000.0
    labels = parse("chord_labels", str.split)
    chord_ids = parse("chord_labels", lambda text: [parse_harte(label) for label in text.split()])
    note_onsets = parse("melody_onsets", _from_ms_deltas)
    note_offsets = note_onsets + parse("melody_lengths", ints) / 1000.0
    pitches, velocities = parse("melody_pitches", ints), parse("melody_velocities", ints)
    if not (len(chord_starts) == len(labels) and len(note_onsets) == len(pitches) == len(velocities)):
        raise _FieldError("chord_labels", "chord or melody columns disagree in length")
    return Pop909Song(
        song_id=song_id,
        keys=parse("keys", key_segments),
        chords=[
            TimedChord(float(a), float(b), label, cid)
            for a, b, label, cid in zip(chord_starts, chord_ends, labels, chord_ids, strict=True)
        ],
        beats=beats,
        downbeats=beats[flags],
        melody=[
            MelodyNote(float(a), float(b), int(p), int(v))
            for a, b, p, v in zip(note_onsets, note_offsets, pitches, velocities, strict=True)
        ],
        beat_onsets=onsets,
        beat_velocity=velocity,
    )


def read_compact(path: str | Path) -> list[Pop909Song]:
    """The songs of a compact file; a corrupt song is logged (file:line) and skipped."""
    path = Path(path)
    try:
        with gzip.open(path, "rt", encoding="utf-8") as handle:
            lines = handle.read().splitlines()
    except (OSError, EOFError, UnicodeDecodeError) as error:
        raise Pop909Error(f"{path}: not a readable compact POP909 file ({error})") from None
    if not lines or not lines[0].startswith(COMPACT_HEADER):
        raise Pop909Error(f"{path}:1: not a compact POP909 file (expected {COMPACT_HEADER!r})")
    grouped: dict[str, dict[str, str]] = {}
    line_of: dict[tuple[str, str], int] = {}
    bad: dict[str, str] = {}
    for number, line in enumerate(lines[1:], 2):
        cells = line.split("\t")
        if len(cells) != 3:
            song = cells[0] if len(cells) > 1 else "?"
            bad.setdefault(song, f"{path}:{number}: expected song, field and values separated by tabs")
            continue
        grouped.setdefault(cells[0], {})[cells[1]] = cells[2]
        line_of[(cells[0], cells[1])] = number
    songs = []
    for song_id, fields in grouped.items():
        if song_id in bad:
            logger.warning("skipped song %s: %s", song_id, bad[song_id])
            continue
        try:
            songs.append(_song_from_fields(song_id, fields))
        except _FieldError as error:
            number = line_of.get(
                (song_id, error.field), min(n for (s, _), n in line_of.items() if s == song_id)
            )
            logger.warning("skipped song %s: %s:%d: %s", song_id, path, number, error)
    return songs


def read_songs(source: str | Path = DEFAULT_SOURCE) -> list[Pop909Song]:
    """Every readable song of ``source``: a raw POP909 folder or a compact ``.tsv.gz``. A song with
    a missing or corrupt file is logged in one line naming the file (and line) and skipped."""
    source = Path(source)
    if source.is_file():
        return read_compact(source)
    if not source.is_dir():
        raise UserError(
            f"POP909 source {source} does not exist; pass --source with the raw POP909 folder "
            f"(song folders 001/ ...) or the compact file {COMPACT_FILE.relative_to(REPO)}"
        )
    folders = sorted(p for p in source.iterdir() if p.is_dir() and re.fullmatch(r"\d+", p.name))
    if not folders:
        raise UserError(f"{source} holds no POP909 song folders (001/, 002/, ...); check --source")
    songs = []
    for folder in folders:
        try:
            songs.append(read_song(folder))
        except Pop909Error as error:
            logger.warning("skipped song %s: %s", folder.name, error)
    return songs


# ----------------------------------------------------------------------------- the half-bar grid


def half_bar_grid(beats: np.ndarray, downbeats: np.ndarray) -> np.ndarray:
    """(S + 1,) times of the half-bar lines from the first downbeat to one beat after the last
    beat: two beats per step counted from each downbeat, an odd beat joining the step before."""
    beats = np.asarray(beats, dtype=np.float64)
    is_down = np.isin(beats, downbeats)
    first = int(np.argmax(is_down))
    lines: list[float] = []
    since_downbeat = 0
    for i in range(first, len(beats)):
        since_downbeat = 0 if is_down[i] else since_downbeat + 1
        bar_end = next((j for j in range(i + 1, len(beats)) if is_down[j]), len(beats))
        beats_left_in_bar = bar_end - i
        if since_downbeat % BEATS_PER_STEP == 0 and (
            since_downbeat == 0 or beats_left_in_bar >= BEATS_PER_STEP
        ):
            lines.append(float(beats[i]))
    beat = float(np.median(np.diff(beats))) if len(beats) > 1 else 0.5
    lines.append(float(beats[-1]) + beat)
    return np.array(lines)


def chords_on_grid(chords: Sequence[TimedChord], grid: np.ndarray) -> np.ndarray:
    """(S,) the chord covering most of each step between grid lines (the earlier on a tie, within
    ``TIE_SECONDS``); ``N`` only where no chord sounds in the step."""
    return majority_chords(((c.start, c.end, c.chord) for c in chords), grid, TIE_SECONDS)


def phrase_starts(chords: np.ndarray) -> list[int]:
    """Steps (never 0) that begin a phrase: section starts where an 8-step chord sequence repeats
    (both occurrences) or chords begin after ``N``, then every 4 bars within a section."""
    chords = np.asarray(chords)
    T = len(chords)
    sections = {0}
    first: dict[tuple[int, ...], int] = {}
    for t in range(T - SECTION_WINDOW + 1):
        window = tuple(int(c) for c in chords[t : t + SECTION_WINDOW])
        if len(set(window)) > 1 and window in first and t - first[window] >= SECTION_WINDOW:
            s = first[window]
            # Only where the repeat begins: the step before each occurrence differs.
            if s == 0 or chords[s - 1] != chords[t - 1]:
                sections.update((s, t))
        first.setdefault(window, t)
    sections.update(
        int(t) for t in np.flatnonzero((chords[1:] != vocab.N_ID) & (chords[:-1] == vocab.N_ID)) + 1
    )
    ordered = sorted(sections) + [T]
    candidates = []
    for start, end in zip(ordered, ordered[1:], strict=False):
        # A 4-bar phrase line too close to the next section start gives way to it.
        candidates += [start, *range(start + PHRASE_STEPS, end - MIN_PHRASE_STEPS + 1, PHRASE_STEPS)]
    starts, last = [], 0
    for t in sorted(set(candidates)):
        if t - last >= MIN_PHRASE_STEPS and t <= T - MIN_PHRASE_STEPS:
            starts.append(t)
            last = t
    return starts


def phrase_start_times(song: Pop909Song) -> list[float]:
    """Seconds at which ``phrase_starts`` begins a phrase, on the song's whole half-bar grid."""
    grid = half_bar_grid(song.beats, song.downbeats)
    return [float(grid[t]) for t in phrase_starts(chords_on_grid(song.chords, grid))]


# ----------------------------------------------------------------------------- the corpus


def song_timelines(song: Pop909Song) -> list[PieceTimeline]:
    """One timeline per key segment (half-bar steps, chords normalised to C major / A minor)."""
    grid = half_bar_grid(song.beats, song.downbeats)
    chords = chords_on_grid(song.chords, grid)
    # Per-step onsets and velocity from the per-beat ones (a beat belongs to the step it starts in).
    step_of_beat = np.searchsorted(grid, song.beats, side="right") - 1
    inside = (step_of_beat >= 0) & (step_of_beat < len(chords))
    onsets = np.bincount(step_of_beat[inside], weights=song.beat_onsets[inside], minlength=len(chords))
    velocity_sum = np.bincount(
        step_of_beat[inside], weights=(song.beat_onsets * song.beat_velocity)[inside], minlength=len(chords)
    )
    velocity = np.where(onsets > 0, velocity_sum / np.maximum(onsets, 1), 0.0)
    middles = (grid[:-1] + grid[1:]) / 2
    segment_of_step = np.array([song.keys.index(segment_at(song.keys, m)) for m in middles])
    timelines = []
    for index, segment in enumerate(song.keys):
        steps = np.flatnonzero(segment_of_step == index)
        if len(steps) < MIN_PIECE_STEPS:
            continue
        piece_id = f"pop909-{song.song_id}" if len(song.keys) == 1 else f"pop909-{song.song_id}-{index + 1}"
        timelines.append(_timeline(piece_id, segment.key, chords[steps], onsets[steps], velocity[steps]))
    return timelines


def segment_at(keys: Sequence[KeySegment], time: float) -> KeySegment:
    """The key segment holding ``time``, or the nearest one."""
    return min(
        keys, key=lambda k: 0.0 if k.start <= time < k.end else min(abs(time - k.start), abs(time - k.end))
    )


def _timeline(
    piece_id: str, key: vocab.Key, chords: np.ndarray, onsets: np.ndarray, velocity: np.ndarray
) -> PieceTimeline:
    reference = vocab.Key(9 if key.mode == "minor" else 0, key.mode)
    shift = key.tonic - reference.tonic
    normalised = np.array([vocab.transpose_chord(int(c), -shift) for c in chords], dtype=np.int64)
    T = len(chords)
    starts = phrase_starts(normalised)
    scene_offset = np.zeros(T, dtype=np.int64)
    for t in range(1, T):
        scene_offset[t] = 0 if t in starts else scene_offset[t - 1] + 1
    busy = np.minimum(onsets / DENSITY_ANCHORS[-1], 1.0)
    loudness = np.where(onsets > 0, velocity / 127.0 * (0.4 + 0.6 * busy), 0.0)
    return PieceTimeline(
        piece_id=piece_id,
        key=reference.name,
        original_key=key.name,
        chords=normalised,
        emotion=emotion_from_chords(normalised, key.mode, onsets),
        motion=motion_from_onsets(onsets, np.array(starts, dtype=np.int64)),
        scene_offset=scene_offset,
        loudness=np.clip(loudness, 0.0, 1.0).astype(np.float32),
        note_density=onsets.astype(np.float32),
    )


def split_songs(songs: Sequence[Pop909Song], seed: int = 0) -> dict[str, list[str]]:
    """Song ids per split (train/val/test 80/10/10, shuffled with ``seed``)."""
    return split_ids([s.song_id for s in songs], seed)


def build_corpus(
    out: str | Path,
    songs: Sequence[Pop909Song],
    seed: int = 0,
    overwrite: bool = False,
    progress_bars: bool = False,
) -> dict[str, list[PieceTimeline]]:
    """Write every song's timelines into ``out`` in the MuVi-Sync layout, split by song; returns the
    timelines per split. ``progress_bars`` shows one over the songs (a minute or two for all)."""
    from tqdm import tqdm

    from video2music.data.muvisync import split_path, write_split, write_video

    out = Path(out)
    if not overwrite and split_path(out, "train").exists():
        raise UserError(
            f"{out} already holds a corpus; pass --overwrite to rebuild it or choose another --out"
        )
    by_song = {song.song_id: song_timelines(song) for song in songs}
    result: dict[str, list[PieceTimeline]] = {}
    for split, ids in split_songs(songs, seed).items():
        result[split] = [t for song_id in ids for t in by_song[song_id]]
        if not result[split]:
            raise UserError(f"the {split} split has no piece long enough; give more songs")
    with tqdm(total=len(songs), desc="songs written", unit="song", disable=not progress_bars) as bar:
        for ids in split_songs(songs, seed).values():
            for song_id in ids:
                for timeline in by_song[song_id]:
                    write_video(out, to_muvisync(timeline), overwrite=True)
                bar.update()
    for split, timelines in result.items():
        write_split(out, split, [t.piece_id for t in timelines], overwrite=True)
    return result


@cli_main
def main(argv: Sequence[str] | None = None) -> int:
    parser = ArgumentParser(
        prog="python -m video2music.data.pop909",
        description="Build the POP909 pop chord corpus (half-bar steps) in the MuVi-Sync layout.",
    )
    parser.add_argument("--out", type=Path, help="output folder of the corpus (e.g. dataset/pop909)")
    parser.add_argument(
        "--source",
        type=Path,
        default=DEFAULT_SOURCE,
        help="the raw POP909 folder or a compact .tsv.gz (default: the compact file in the repository, "
        f"{DEFAULT_SOURCE.relative_to(REPO)})",
    )
    parser.add_argument(
        "--export", type=Path, help="also write the compact file (e.g. dataset/pop909_derived.tsv.gz)"
    )
    parser.add_argument("--seed", type=int, default=0, help="seed of the train/val/test split by song")
    parser.add_argument("--overwrite", action="store_true", help="replace an existing corpus or compact file")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    args = parser.parse_args(argv)
    if args.out is None and args.export is None:
        raise UserError("give --out (the corpus folder) and/or --export (the compact file)")
    if args.export is not None:
        check_writable(args.export, args.overwrite)
    if args.out is not None and args.out.exists() and not args.out.is_dir():
        raise UserError(f"{args.out} exists and is not a folder; choose another --out")
    logger.info("reading %s", args.source)
    songs = read_songs(args.source)
    if not songs:
        raise UserError(f"no song of {args.source} could be read; see the messages above")
    logger.info("read %d songs from %s", len(songs), args.source)
    if args.export is not None:
        write_compact(songs, args.export, overwrite=args.overwrite)
        logger.info("wrote %s", args.export)
    if args.out is not None:
        splits = build_corpus(
            args.out, songs, seed=args.seed, overwrite=args.overwrite, progress_bars=not args.no_progress
        )
        everything = [t for timelines in splits.values() for t in timelines]
        counts = ", ".join(f"{split} {len(t)}" for split, t in splits.items())
        logger.info("wrote %s (%s pieces)\n%s", args.out, counts, summarise(everything))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
