"""Does it sound like a song? The field's structure metrics, for our MIDI files and POP909 songs.

A ``Song`` is what the metrics read: melody, accompaniment and drum notes in seconds, the beat
times and bar lines, and the chords. ``song_from_midi`` reads it back from a MIDI file that
video2music wrote (tracks by name; bars from its tempo and time signatures; chords from the
Chords track's markers), ``song_from_pop909`` from a raw POP909 song folder (MELODY is the melody, PIANO
the accompaniment; BRIDGE, POP909's secondary melody, is neither; beats, bars and chords from its
annotations). Times are turned
into sixteenths through the beat times, so a song's own tempo changes do not matter.

Metrics (``structure_stats``; the field's from MusDr, Wu and Yang 2020, as Diff-BGM reports them,
and the song-form ones this project targets):

* ``pch_entropy_1`` / ``pch_entropy_4``: pitch-class histogram entropy (bits) of the melody's note
  onsets in every window of 1 or 4 bars that holds one (sliding by a bar), averaged: the lead
  line is what a listener follows, and the accompaniment's chord tones would swamp it;
* ``grooving``: each bar a 16-slot vector of onset positions (every pitched note at its nearest
  sixteenth; a bar of other than four beats is spread over the 16 slots), the similarity of two
  bars 1 - mean XOR, averaged over every pair of bars;
* ``motif_reuse_2`` / ``motif_reuse_4``: of the windows of 2 or 4 bars (from each bar line) that
  hold melody notes, the share whose notes (pitch and onset, in sixteenths from the window's
  start) recur exactly at another bar line; ``rhythm_reuse_2``: the same on onsets alone. A
  note's length is left out: a line sung again keeps its notes and rhythm, while where a note
  releases depends on what follows it;
* ``phrase_beats`` / ``phrases_per_minute``: the melody cut into phrases at rests of an eighth or
  more (``PHRASE_GAP_BEATS``: a breath; POP909's transcriptions leave sixteenth gaps inside
  lines); the median phrase from first onset to last release, and phrases per minute of the
  melody's span;
* ``note_beats``: the melody's median note length in beats; ``range_p5_p95``: semitones between its
  5th and 95th pitch percentiles; ``leap_share``: consecutive notes more than 7 semitones apart;
* ``chord_tones_strong``: of the melody notes sounding on beats 1 and 3, the share that are chord
  tones;
* ``melody_below``: of the melody notes, the share that start below the highest accompaniment
  note sounding then (the lead buried);
* ``polyphony``: accompaniment notes sounding at once, averaged over the time it sounds (on a
  sixteenth grid); ``longest_note_bars``: its longest note, in bars; ``inversion_share``: of the
  chord changes, the share whose lowest accompaniment note is not the chord's root;
* ``block_ratio``: onsets of the busiest 4-bar block over the quietest (pitched notes, whole
  blocks from the first bar; the quietest counts at least one onset);
* ``loop_recurrence``: of the 4-bar windows at bar lines, the share whose chords (one per beat)
  recur at another bar line;
* ``sections``: section markers in the file (ours only).
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from video2music.analysis.stats import Notes, chord_tone_share, read_midi, strong_beats
from video2music.compose.arrangement import is_section_label
from video2music.theory import vocab
from video2music.utils.errors import UserError

SLOTS_PER_BEAT = 4
GROOVE_SLOTS = 16
PHRASE_GAP_BEATS = 0.5
LEAP_SEMITONES = 7
BLOCK_BARS = 4
ACCOMPANIMENT_TRACKS = ("Chords", "Arpeggio", "Bass")
POP909_ACCOMPANIMENT = ("PIANO",)


@dataclass
class Song:
    """A piece as the structure metrics read it (times in seconds)."""

    name: str
    melody: Notes
    accompaniment: Notes
    beats: np.ndarray  # every beat's time, and one more at the end of the last bar
    downbeats: np.ndarray  # the bar lines, the end of the last bar included
    chords: list[tuple[float, float, int]]  # (start, end, chord id at absolute pitch), N left out
    drums: Notes | None = None
    sections: list[tuple[float, str]] = field(default_factory=list)

    def beat_position(self, times: np.ndarray) -> np.ndarray:
        """Times as (fractional) beats from the first beat, through the beat times."""
        return np.interp(times, self.beats, np.arange(len(self.beats)), left=np.nan, right=np.nan)

    @property
    def bar_beats(self) -> np.ndarray:
        """The beat on which each bar starts, the end of the last bar included."""
        return np.round(self.beat_position(self.downbeats)).astype(int)


def _empty() -> Notes:
    return Notes.of([])


def _join(parts: Sequence[Notes]) -> Notes:
    notes = [n for n in parts if len(n)]
    if not notes:
        return _empty()
    order = np.lexsort((np.concatenate([n.pitch for n in notes]), np.concatenate([n.start for n in notes])))
    return Notes(
        *(
            np.concatenate([getattr(n, k) for n in notes])[order]
            for k in ("start", "end", "pitch", "velocity")
        )
    )


def _window(notes: Notes, start: float, end: float) -> Notes:
    keep = (notes.start >= start - 1e-6) & (notes.start < end - 1e-6)
    return Notes(notes.start[keep], np.minimum(notes.end[keep], end), notes.pitch[keep], notes.velocity[keep])


# ----------------------------------------------------------------------------- reading songs


def song_from_midi(path: str | Path) -> Song:
    """A MIDI file video2music wrote, with its Melody, accompaniment and Drums tracks, its bars
    (tempo and time signatures) and its chord markers. UserError if it has no bars to measure."""
    from video2music.analysis.musicality import piece_from_midi

    midi = read_midi(path)
    end = float(midi.get_end_time())
    tracks = {instrument.name: instrument for instrument in midi.instruments}
    downbeats = [float(t) for t in midi.get_downbeats() if t < end - 1e-6] + [end]
    beats = [float(t) for t in midi.get_beats() if t < end - 1e-6] + [end]
    if len(downbeats) < 2:
        raise UserError(f"{path} holds no whole bar to measure")
    piece = piece_from_midi(path)
    import mido

    sections = []
    for track in mido.MidiFile(str(path)).tracks:
        tick = 0
        for message in track:
            tick += message.time
            if message.type == "marker" and is_section_label(message.text):
                sections.append((float(midi.tick_to_time(tick)), message.text))
    return Song(
        name=Path(path).stem,
        melody=Notes.of(tracks["Melody"].notes) if "Melody" in tracks else _empty(),
        accompaniment=_join([Notes.of(tracks[t].notes) for t in ACCOMPANIMENT_TRACKS if t in tracks]),
        beats=np.array(beats),
        downbeats=np.array(downbeats),
        chords=[(s.start, s.end, s.chord) for s in piece.spans],
        drums=Notes.of(tracks["Drums"].notes) if "Drums" in tracks else None,
        sections=sections,
    )


def song_from_pop909(folder: str | Path) -> Song:
    """A raw POP909 song folder (``NNN/NNN.mid`` and its annotations), from its first bar line to
    the end of its last bar."""
    from video2music.data import pop909

    folder = Path(folder)
    song = pop909.read_song(folder)
    midi = read_midi(folder / f"{folder.name}.mid")
    tracks = {instrument.name.strip().upper(): instrument for instrument in midi.instruments}
    beats = np.asarray(song.beats, dtype=float)
    beats = beats[beats >= song.downbeats[0] - 1e-6]
    beats = np.append(beats, beats[-1] + float(np.median(np.diff(beats))))
    downbeats = np.append(song.downbeats, beats[-1])
    chords = [(c.start, c.end, c.chord) for c in song.chords if c.chord != vocab.N_ID]
    return Song(
        name=folder.name,
        melody=Notes.of(tracks["MELODY"].notes),
        accompaniment=_join([Notes.of(tracks[t].notes) for t in POP909_ACCOMPANIMENT if t in tracks]),
        beats=beats,
        downbeats=downbeats,
        chords=chords,
    )


# ----------------------------------------------------------------------------- the metrics


def _entropy(counts: Counter) -> float:
    total = sum(counts.values())
    p = np.array([c / total for c in counts.values()])
    return float(-(p * np.log2(p)).sum())


def pitch_class_entropy(song: Song, bars: int) -> float:
    """Mean pitch-class entropy (bits) of the melody's onsets in every window of ``bars`` bars."""
    notes = song.melody
    lines = song.downbeats
    values = []
    for first in range(len(lines) - bars):
        window = _window(notes, lines[first], lines[first + bars])
        if len(window):
            values.append(_entropy(Counter(int(p) % 12 for p in window.pitch)))
    return float(np.mean(values)) if values else math.nan


def _bar_vectors(song: Song, notes: Notes) -> np.ndarray:
    """(bars, GROOVE_SLOTS) onset vectors: each onset at its nearest sixteenth, a bar of other
    than four beats spread over the slots."""
    lines = song.bar_beats * SLOTS_PER_BEAT
    vectors = np.zeros((len(lines) - 1, GROOVE_SLOTS), dtype=bool)
    onset = _slot(song, notes.start)
    bar = np.searchsorted(lines, onset, side="right") - 1
    inside = (onset >= 0) & (bar >= 0) & (bar < len(vectors))
    bar, onset = bar[inside], onset[inside]
    slot = (onset - lines[bar]) * GROOVE_SLOTS // (lines[bar + 1] - lines[bar])
    vectors[bar, slot] = True
    return vectors


def grooving_similarity(song: Song) -> float:
    """Mean over every pair of bars of 1 - mean XOR of their onset vectors (pitched notes)."""
    vectors = _bar_vectors(song, _join([song.melody, song.accompaniment])).astype(float)
    n = len(vectors)
    if n < 2:
        return math.nan
    ones = vectors.sum(1)
    both = vectors @ vectors.T
    differ = ones[:, None] + ones[None, :] - 2 * both  # XOR counts
    pairs = np.triu_indices(n, 1)
    return float(1.0 - (differ[pairs] / GROOVE_SLOTS).mean())


def _slot(song: Song, times: np.ndarray) -> np.ndarray:
    """Times as the nearest sixteenth from the first beat; -1 outside the bars."""
    position = song.beat_position(times)
    return np.where(np.isfinite(position), np.round(np.nan_to_num(position) * SLOTS_PER_BEAT), -1).astype(int)


def _bar_contents(song: Song, rhythm_only: bool) -> list[tuple]:
    """Per bar, its melody onsets as (sixteenth from the bar line[, pitch])."""
    onset = _slot(song, song.melody.start)
    lines = song.bar_beats * SLOTS_PER_BEAT
    bar = np.searchsorted(lines, onset, side="right") - 1
    contents: list[list[tuple]] = [[] for _ in range(len(lines) - 1)]
    for b, on, pitch in zip(bar, onset, song.melody.pitch, strict=True):
        if on >= 0 and 0 <= b < len(contents):
            contents[b].append((int(on - lines[b]),) if rhythm_only else (int(on - lines[b]), int(pitch)))
    return [tuple(c) for c in contents]


def motif_reuse(song: Song, bars: int, rhythm_only: bool = False) -> float:
    """Share of the ``bars``-bar windows with melody notes that recur exactly at another bar line."""
    contents = _bar_contents(song, rhythm_only)
    windows = [tuple(contents[i : i + bars]) for i in range(len(contents) - bars + 1)]
    windows = [w for w in windows if any(w)]
    if not windows:
        return math.nan
    counts = Counter(windows)
    return float(np.mean([counts[w] > 1 for w in windows]))


def phrases(song: Song) -> list[tuple[float, float]]:
    """The melody's phrases as (first onset, last release) in beats: cut at rests of an eighth or more."""
    if not len(song.melody):
        return []
    starts, ends = song.beat_position(song.melody.start), song.beat_position(song.melody.end)
    found, first, reach = [], starts[0], ends[0]
    for start, end in zip(starts[1:], ends[1:], strict=True):
        if start - reach >= PHRASE_GAP_BEATS - 1e-6:
            found.append((first, reach))
            first = start
        reach = max(reach, end)
    found.append((first, reach))
    return found


def melody_below_share(song: Song) -> float:
    """Share of melody notes that start below the highest accompaniment note sounding then."""
    if not len(song.melody) or not len(song.accompaniment):
        return math.nan
    below = 0
    for time, pitch in zip(song.melody.start, song.melody.pitch, strict=True):
        sounding = song.accompaniment.sounding_at(time)
        below += int(len(sounding) > 0 and pitch < sounding.max())
    return below / len(song.melody)


def polyphony(song: Song) -> float:
    """Accompaniment notes sounding at once, on a sixteenth grid, over the time any sounds."""
    notes = song.accompaniment
    if not len(notes):
        return math.nan
    on, off = _slot(song, notes.start), np.maximum(_slot(song, notes.end), _slot(song, notes.start) + 1)
    size = int(max(off.max(), 1)) + 1
    count = np.zeros(size + 1)
    np.add.at(count, np.clip(on, 0, size), 1)
    np.add.at(count, np.clip(off, 0, size), -1)
    sounding = np.cumsum(count)[:size]
    return float(sounding[sounding > 0].mean()) if (sounding > 0).any() else math.nan


def longest_note_bars(song: Song) -> float:
    notes = song.accompaniment
    if not len(notes):
        return math.nan
    bar_seconds = float(np.median(np.diff(song.downbeats)))
    return float((notes.end - notes.start).max() / bar_seconds)


def inversion_share(song: Song) -> float:
    """Of the chord changes, the share whose lowest accompaniment note is not the chord's root."""
    counted = inverted = 0
    for start, _, chord in song.chords:
        sounding = song.accompaniment.sounding_at(start + 0.02)
        if len(sounding):
            counted += 1
            inverted += int(sounding.min() % 12 != vocab.chord_root(chord))
    return inverted / counted if counted else math.nan


def block_ratio(song: Song) -> float:
    """Onsets of the busiest whole 4-bar block over the quietest (pitched notes)."""
    notes = _join([song.melody, song.accompaniment])
    lines = song.downbeats
    counts = [
        len(_window(notes, lines[b], lines[b + BLOCK_BARS]))
        for b in range(0, len(lines) - BLOCK_BARS, BLOCK_BARS)
    ]
    if len(counts) < 2:
        return math.nan
    return max(counts) / max(min(counts), 1)


def loop_recurrence(song: Song) -> float:
    """Share of the 4-bar windows at bar lines whose chords, one per beat, recur at another."""
    beats = song.beats[:-1]
    starts = np.array([c[0] for c in song.chords])
    per_beat = []
    for time in beats + 0.02:
        index = int(np.searchsorted(starts, time, side="right")) - 1
        inside = index >= 0 and song.chords[index][1] > time
        per_beat.append(song.chords[index][2] if inside else vocab.N_ID)
    lines = song.bar_beats
    windows = [tuple(per_beat[lines[b] : lines[b + BLOCK_BARS]]) for b in range(len(lines) - BLOCK_BARS)]
    windows = [w for w in windows if any(c != vocab.N_ID for c in w)]
    if not windows:
        return math.nan
    counts = Counter(windows)
    return float(np.mean([counts[w] > 1 for w in windows]))


STRUCTURE_METRICS = (
    "pch_entropy_1", "pch_entropy_4", "grooving", "motif_reuse_2", "motif_reuse_4", "rhythm_reuse_2",
    "phrase_beats", "phrases_per_minute", "note_beats", "range_p5_p95", "leap_share", "chord_tones_strong",
    "melody_below", "polyphony", "longest_note_bars", "inversion_share", "block_ratio", "loop_recurrence",
    "sections",
)  # fmt: skip


def structure_stats(song: Song) -> dict[str, float]:
    """Every metric of the module docstring for one song (NaN where a song has nothing to measure)."""
    found = phrases(song)
    melody = song.melody
    span_minutes = (melody.end.max() - melody.start[0]) / 60 if len(melody) else math.nan
    beat_lengths = song.beat_position(melody.end) - song.beat_position(melody.start)
    strong = strong_beats(song.beats[:-1], song.downbeats[:-1])
    starts = np.array([c[0] for c in song.chords])

    def chord_at(time: float) -> set[int]:
        index = int(np.searchsorted(starts, time + 1e-6, side="right")) - 1
        if index < 0 or song.chords[index][1] <= time:
            return set()
        return set(vocab.chord_pitch_classes(song.chords[index][2]))

    pitches = melody.pitch
    return {
        "pch_entropy_1": pitch_class_entropy(song, 1),
        "pch_entropy_4": pitch_class_entropy(song, 4),
        "grooving": grooving_similarity(song),
        "motif_reuse_2": motif_reuse(song, 2),
        "motif_reuse_4": motif_reuse(song, 4),
        "rhythm_reuse_2": motif_reuse(song, 2, rhythm_only=True),
        "phrase_beats": float(np.median([b - a for a, b in found])) if found else math.nan,
        "phrases_per_minute": len(found) / span_minutes if found and span_minutes > 0 else math.nan,
        "note_beats": float(np.nanmedian(beat_lengths)) if len(melody) else math.nan,
        "range_p5_p95": float(np.subtract(*np.percentile(pitches, [95, 5]))) if len(melody) else math.nan,
        "leap_share": float((np.abs(np.diff(pitches)) > LEAP_SEMITONES).mean())
        if len(melody) > 1
        else math.nan,
        "chord_tones_strong": chord_tone_share(melody, strong, chord_at),
        "melody_below": melody_below_share(song),
        "polyphony": polyphony(song),
        "longest_note_bars": longest_note_bars(song),
        "inversion_share": inversion_share(song),
        "block_ratio": block_ratio(song),
        "loop_recurrence": loop_recurrence(song),
        "sections": float(len(song.sections)),
    }
