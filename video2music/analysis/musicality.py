"""Musicality statistics of a chord progression in real time, for our MIDI files and for POP909.

A ``Piece`` is what a listener hears: chord spans in seconds (absolute pitch, ``N`` left out),
the key(s) in force, the beat length and the half-bar lines. ``piece_from_midi`` reads it back
from a written MIDI file (chord-name markers at their onsets, tempo, key signature, end of
file), so the statistics measure what the user gets; ``piece_from_pop909`` builds it from a
POP909 song's annotations (its own tempo and beat grid).

Statistics (per piece; ``bench/musicality.py`` sets them beside POP909's):

* ``in_key_share``: share of chord time whose tones all lie in the key (major scale; minor:
  natural minor plus the raised 7th).
* ``mean_chord_length``: mean span length in seconds (a chord held across a marker counts once).
* ``half_bar_share``: share of chord changes (onsets after the first) within 1/8 beat of a
  half-bar line.
* ``distinct_per_30s``: mean number of distinct chords in the piece's whole 30-second windows.
* ``four_chord_repetition``: share of 4-chord sequences (consecutive chords) heard more than
  once in the piece.
* ``ends_on_tonic`` / ``final_chord_bars``: whether the last chord is the tonic chord (root on
  the tonic, its third, if any, the mode's; no dominant seventh or diminished/augmented chord),
  and how many bars (4 beats) it lasts.
* ``identity_share``: between two pieces, the share of seconds (sampled at each second's
  middle) whose chords, normalised to C major / A minor, are the same.
* ``cut_alignment``: share of cut times with a chord change within half a beat.
"""

from __future__ import annotations

import math
import os
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import mido
import numpy as np

from video2music.analysis.shares import near_share, share
from video2music.compose.arrangement import is_section_label
from video2music.theory import vocab
from video2music.utils.errors import UserError

BEATS_PER_BAR = 4
HALF_BAR_TOLERANCE_BEATS = 0.125
WINDOW_SECONDS = 30.0
NGRAM = 4
_MAJOR_SCALE = (0, 2, 4, 5, 7, 9, 11)
_MINOR_SCALE = (0, 2, 3, 5, 7, 8, 10, 11)  # natural minor plus the raised 7th
_TONIC_QUALITIES = {
    "major": frozenset({"maj", "maj7", "maj6", "sus2", "sus4"}),
    "minor": frozenset({"min", "min7", "min6", "sus2", "sus4"}),
}


@dataclass(frozen=True)
class Span:
    start: float  # seconds
    end: float
    chord: int  # vocabulary id, absolute pitch; never N


@dataclass
class Piece:
    """A chord progression as heard: spans in time order, keys, beat grid."""

    name: str
    spans: list[Span]
    keys: list[tuple[float, float, vocab.Key]]  # (start, end, key); the first covers time 0
    beat: float  # seconds per beat
    half_bars: np.ndarray  # half-bar line times
    cuts: list[float] = field(default_factory=list)

    def key_at(self, time: float) -> vocab.Key:
        inside = [key for start, end, key in self.keys if start <= time < end]
        return inside[0] if inside else self.keys[-1 if time >= self.keys[-1][1] else 0][2]

    @property
    def changes(self) -> list[float]:
        """Onsets of the chords after the first."""
        return [s.start for s in self.spans[1:]]


def merge_spans(spans: Sequence[Span]) -> list[Span]:
    """Adjacent spans of one chord (touching within a millisecond) joined, N-free."""
    merged: list[Span] = []
    for span in spans:
        if span.chord == vocab.N_ID or span.end <= span.start:
            continue
        if merged and merged[-1].chord == span.chord and span.start - merged[-1].end < 1e-3:
            merged[-1] = Span(merged[-1].start, span.end, span.chord)
        else:
            merged.append(span)
    return merged


# ----------------------------------------------------------------------------- reading pieces


def piece_from_midi(path: str | os.PathLike, cuts: Sequence[float] = ()) -> Piece:
    """A written MIDI file as heard: marker chords (section markers left out), the (first) tempo,
    the key signatures, the end of the file as the last chord's end. UserError if it holds no
    chord markers."""
    path = Path(path)
    try:
        midi = mido.MidiFile(path)
    except (OSError, ValueError, EOFError) as error:
        raise UserError(f"{path} is not a readable MIDI file ({error})") from None
    tempo = None
    keys: list[tuple[int, str]] = []
    markers: list[tuple[int, str]] = []
    meters: list[tuple[int, int]] = []  # (tick, beats a bar)
    end_tick = 0
    for track in midi.tracks:
        tick = 0
        for message in track:
            tick += message.time
            if message.type == "set_tempo" and tempo is None:
                tempo = message.tempo
            elif message.type == "key_signature":
                keys.append((tick, message.key))
            elif message.type == "time_signature":
                meters.append((tick, message.numerator * 4 // message.denominator))
            elif message.type == "marker" and not is_section_label(message.text):
                markers.append((tick, message.text))
        end_tick = max(end_tick, tick)
    if not markers or tempo is None or not keys:
        raise UserError(f"{path} has no chord markers, tempo or key signature; write it with video2music")
    seconds_per_tick = tempo / 1e6 / midi.ticks_per_beat
    markers.sort()
    spans = []
    for i, (tick, text) in enumerate(markers):
        next_tick = markers[i + 1][0] if i + 1 < len(markers) else end_tick
        spans.append(Span(tick * seconds_per_tick, next_tick * seconds_per_tick, vocab.parse_chord(text)))
    beat = tempo / 1e6
    half_bars = _half_bar_lines(sorted(meters) or [(0, BEATS_PER_BAR)], end_tick, midi.ticks_per_beat) * beat
    keys.sort()
    bounds = [tick * seconds_per_tick for tick, _ in keys[1:]] + [math.inf]
    in_force = [
        (0.0 if i == 0 else keys[i][0] * seconds_per_tick, end, vocab.parse_key(name))
        for i, ((_, name), end) in enumerate(zip(keys, bounds, strict=True))
    ]
    return Piece(path.stem, merge_spans(spans), in_force, beat, half_bars, list(cuts))


def _half_bar_lines(meters: list[tuple[int, int]], end_tick: int, ticks_per_beat: int) -> np.ndarray:
    """Half-bar lines in beats under a meter map: each bar's downbeat and its third beat."""
    lines, bar, index = [], 0.0, 0
    end = end_tick / ticks_per_beat
    while bar <= end + 1e-9:
        while index + 1 < len(meters) and meters[index + 1][0] / ticks_per_beat <= bar + 1e-9:
            index += 1
        beats = meters[index][1]
        lines += [bar, bar + 2] if beats >= 3 else [bar]
        bar += beats
    return np.asarray([line for line in lines if line <= end + 1e-9])


def piece_from_pop909(song, cuts: Sequence[float] = ()) -> Piece:
    """A POP909 song (``data.pop909.Pop909Song``) at its own tempo and beat grid."""
    from video2music.data.pop909 import half_bar_grid

    spans = merge_spans([Span(c.start, c.end, c.chord) for c in song.chords])
    beat = float(np.median(np.diff(song.beats)))
    keys = [(k.start, k.end, k.key) for k in song.keys]
    return Piece(
        f"pop909-{song.song_id}", spans, keys, beat, half_bar_grid(song.beats, song.downbeats), list(cuts)
    )


# ----------------------------------------------------------------------------- statistics


def in_key(chord: int, key: vocab.Key) -> bool:
    """Whether every tone of ``chord`` lies in ``key`` (minor: with the raised 7th)."""
    scale = _MINOR_SCALE if key.mode == "minor" else _MAJOR_SCALE
    return all((pc - key.tonic) % 12 in scale for pc in vocab.chord_pitch_classes(chord))


def in_key_share(piece: Piece) -> float:
    inside = sum(s.end - s.start for s in piece.spans if in_key(s.chord, piece.key_at((s.start + s.end) / 2)))
    return share(inside, sum(s.end - s.start for s in piece.spans))


def mean_chord_length(piece: Piece) -> float:
    return float(np.mean([s.end - s.start for s in piece.spans])) if piece.spans else math.nan


# MIDI stores a tempo in whole microseconds a beat, so written times drift from exact beats by
# up to a few microseconds over a piece: a cut exactly half a beat from a change still counts.
TIME_TOLERANCE = 1e-4


def half_bar_share(piece: Piece) -> float:
    changes = piece.changes
    return near_share(changes, piece.half_bars, HALF_BAR_TOLERANCE_BEATS * piece.beat + TIME_TOLERANCE)


def distinct_per_30s(piece: Piece) -> float:
    """Mean distinct chords over the whole 30-s windows from the first chord on (NaN if shorter)."""
    if not piece.spans:
        return math.nan
    start, end = piece.spans[0].start, piece.spans[-1].end
    counts = []
    for lo in np.arange(start, end - WINDOW_SECONDS + 1e-9, WINDOW_SECONDS):
        hi = lo + WINDOW_SECONDS
        counts.append(len({s.chord for s in piece.spans if s.start < hi and s.end > lo}))
    return float(np.mean(counts)) if counts else math.nan


def four_chord_repetition(piece: Piece) -> float:
    """Share of 4-chord sequences (one starting at each chord) heard more than once in the piece:
    the first hearing of a loop comes back later, the later ones are its returns."""
    chords = [s.chord for s in piece.spans]
    grams = [tuple(chords[i : i + NGRAM]) for i in range(len(chords) - NGRAM + 1)]
    if not grams:
        return math.nan
    counts = Counter(grams)
    return share(sum(counts[gram] > 1 for gram in grams), len(grams))


def ends_on_tonic(piece: Piece) -> bool:
    if not piece.spans:
        return False
    final = piece.spans[-1]
    key = piece.key_at(final.start)
    quality = vocab.chord_quality(final.chord)
    return vocab.chord_root(final.chord) == key.tonic and quality in _TONIC_QUALITIES[key.mode]


def final_chord_bars(piece: Piece) -> float:
    if not piece.spans:
        return 0.0
    final = piece.spans[-1]
    return (final.end - final.start) / (BEATS_PER_BAR * piece.beat)


def normalised_chord_at(piece: Piece, time: float) -> int:
    """The chord sounding at ``time`` moved to C major / A minor (``N`` where none sounds)."""
    for span in piece.spans:
        if span.start <= time < span.end:
            return vocab.transpose_chord(span.chord, -piece.key_at(time).transpose)
    return vocab.N_ID


def identity_share(a: Piece, b: Piece) -> float:
    """Share of the common seconds whose normalised chords are the same."""
    seconds = int(min(a.spans[-1].end if a.spans else 0, b.spans[-1].end if b.spans else 0))
    same = sum(normalised_chord_at(a, t + 0.5) == normalised_chord_at(b, t + 0.5) for t in range(seconds))
    return share(same, seconds)


def cut_alignment(piece: Piece, cuts: Sequence[float] | None = None) -> float:
    """Share of ``cuts`` (default: the piece's) with a chord change within half a beat."""
    end = piece.spans[-1].end if piece.spans else 0.0
    cuts = [cut for cut in (piece.cuts if cuts is None else cuts) if cut < end]  # cuts the music reaches
    return near_share(cuts, piece.changes, 0.5 * piece.beat + TIME_TOLERANCE)


def shifted_cuts(
    piece: Piece, rng: np.random.Generator, draws: int = 10, max_shift: float = 4.0
) -> list[float]:
    """The piece's cuts, each moved ``draws`` times by a random offset of at most ``max_shift``
    seconds (at least half a beat), kept inside the piece: the chance baseline of ``cut_alignment``."""
    end = piece.spans[-1].end if piece.spans else 0.0
    shifted = []
    for cut in piece.cuts:
        for _ in range(draws):
            offset = rng.uniform(0.5 * piece.beat, max_shift) * rng.choice((-1.0, 1.0))
            if 0 < cut + offset < end:
                shifted.append(cut + offset)
    return shifted


STATISTICS = {
    "in-key share": in_key_share,
    "mean chord length (s)": mean_chord_length,
    "changes on half-bar lines": half_bar_share,
    "distinct chords per 30 s": distinct_per_30s,
    "4-chord repetition": four_chord_repetition,
}
