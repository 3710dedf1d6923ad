"""How one line of music is written in bars, the way an engraver writes a lead sheet.

A line of notes (in sixteenths) becomes note and rest values per bar by these rules:

- **Beat groups.** A 4/4 bar is read as 2 + 2 beats, 5/4 as 2 + 3 (its chord steps), 3/4 as one
  group of three. Nothing but a note on the downbeat of a 4/4 bar (a dotted half, a whole) runs
  over a group line; anything else that does is tied there, so the middle of a 4/4 bar always
  shows. Notes and rests are also split where a chord symbol starts (``splits``), so a symbol
  always stands over the note or rest it belongs to.
- **Notes.** On a beat any value that fits the group (a dotted quarter too). From the half beat
  (the "and") an eighth or a sixteenth, or a quarter or dotted quarter across the next beat
  (eighth-quarter-eighth syncopation); from a sixteenth off the half-beat grid only values that
  end in that beat. A value that crosses a beat must end on a beat or end the note; what is left
  is tied.
- **Rests** never cross a beat unless they start on one, and then fill whole beats: a quarter, or
  a half from the first or third beat of a group. A bar of silence is one whole-bar rest. Inside
  a beat they show the half beat (sixteenth and eighth rests, no dotted rests).
- **Beams** join the eighths and sixteenths of one beat that are not parted by a rest; a lone
  sixteenth beside an eighth takes a hook.
- **Pitch spelling and accidentals.** A chord tone is spelled as the chord spells it, another
  note as its degree in the key (``vocab.root_name``). An accidental is written only where the
  key signature and the bar's earlier notes on that line and octave do not already give the
  pitch; a note tied over a bar line keeps its accidental unwritten and leaves the new bar's
  lines as the key signature has them.
"""

from __future__ import annotations

import bisect
import dataclasses
from collections.abc import Collection, Sequence
from dataclasses import dataclass

from video2music.theory import vocab

BEAT = 4  # sixteenths in a beat (a quarter note)
# Lengths in sixteenths that one note or rest symbol can show: (MusicXML type, dots).
VALUES: dict[int, tuple[str, int]] = {
    16: ("whole", 0),
    12: ("half", 1),
    8: ("half", 0),
    6: ("quarter", 1),
    4: ("quarter", 0),
    3: ("eighth", 1),
    2: ("eighth", 0),
    1: ("16th", 0),
}
SHARP_ORDER = "FCGDAEB"  # the order sharps enter a key signature; flats enter in reverse


@dataclass(frozen=True)
class Bar:
    """A bar of ``beats`` quarter notes starting ``start`` sixteenths into the line."""

    start: int
    beats: int

    @property
    def length(self) -> int:
        return self.beats * BEAT

    @property
    def group_lines(self) -> tuple[int, ...]:
        """Where the bar's beat groups start, in sixteenths from its start, and its end."""
        groups = {4: (2, 2), 5: (2, 3)}.get(self.beats, (self.beats,))
        lines = [0]
        for beats in groups:
            lines.append(lines[-1] + beats * BEAT)
        return tuple(lines)


@dataclass(frozen=True)
class Played:
    """A note as it sounds: MIDI ``pitch`` from ``start`` to ``end`` sixteenths."""

    pitch: int
    start: int
    end: int


@dataclass(frozen=True)
class Written:
    """One symbol on the staff: a note (``pitch``) or a rest (None) of ``length`` sixteenths from
    ``start`` (in the line), tied to the symbol before (``tie_stop``) and after (``tie_start``);
    ``beams`` holds a MusicXML beam value per level; ``whole_bar`` marks a rest filling its bar."""

    start: int
    length: int
    pitch: int | None
    tie_stop: bool = False
    tie_start: bool = False
    beams: tuple[str, ...] = ()
    whole_bar: bool = False

    @property
    def value(self) -> tuple[str, int]:
        """(MusicXML type, dots)."""
        return VALUES[self.length]


def bars_of(meters: Sequence[tuple[int, int]], end_beat: int) -> list[Bar]:
    """The bars of a piece from its meter changes ((beat, beats a bar), the first at beat 0) to
    ``end_beat``, a bar line."""
    changes = dict(meters)
    bars: list[Bar] = []
    beat, beats = 0, meters[0][1]
    while beat < end_beat:
        beats = changes.get(beat, beats)
        bars.append(Bar(beat * BEAT, beats))
        beat += beats
    return bars


def write_line(
    notes: Sequence[Played], bars: Sequence[Bar], splits: Collection[int] = ()
) -> list[list[Written]]:
    """The symbols of each bar for ``notes`` (sorted, not overlapping), with rests between them and
    every note and rest also split at the ``splits`` (sixteenths)."""
    end = bars[-1].start + bars[-1].length
    starts = [bar.start for bar in bars]
    cuts = sorted({*starts, *(s for s in splits if 0 < s < end), end})
    written: list[list[Written]] = [[] for _ in bars]
    now = 0
    for item in [*notes, None]:
        start, stop = (item.start, item.end) if item else (end, end)
        if start > now:
            _write(written, bars, starts, cuts, now, start, None)
        if item:
            _write(written, bars, starts, cuts, start, stop, item.pitch)
        now = stop
    return [_beamed(symbols) for symbols in written]


def _write(
    written: list[list[Written]],
    bars: Sequence[Bar],
    starts: list[int],
    cuts: list[int],
    start: int,
    stop: int,
    pitch: int | None,
) -> None:
    """Append the symbols of one note (or rest) from ``start`` to ``stop``, tied across its pieces."""
    pieces: list[tuple[int, int, int]] = []  # (bar index, start, length)
    position = start
    while position < stop:
        cut = min(cuts[bisect.bisect_right(cuts, position)], stop)
        index = bisect.bisect_right(starts, position) - 1
        bar = bars[index]
        lengths = (_note_lengths if pitch is not None else _rest_lengths)(
            position - bar.start, cut - bar.start, bar
        )
        for length in lengths:
            pieces.append((index, position, length))
            position += length
    for number, (index, begin, length) in enumerate(pieces):
        bar = bars[index]
        if pitch is None:
            whole = length == bar.length
            written[index].append(Written(begin, length, None, whole_bar=whole))
        else:
            tied = dict(tie_stop=number > 0, tie_start=number < len(pieces) - 1)
            written[index].append(Written(begin, length, pitch, **tied))


def _group_end(position: int, bar: Bar) -> int:
    return next(line for line in bar.group_lines if line > position)


def _note_lengths(position: int, stop: int, bar: Bar) -> list[int]:
    """The tied values of a note from ``position`` to ``stop`` (sixteenths in ``bar``)."""
    lengths = []
    while position < stop:
        limit = bar.length if position == 0 and bar.beats == 4 else _group_end(position, bar)
        length = next(n for n in VALUES if _note_fits(position, n, min(stop, limit)))
        lengths.append(length)
        position += length
    return lengths


def _note_fits(position: int, length: int, stop: int) -> bool:
    end = position + length
    if end > stop:
        return False
    into_beat = position % BEAT
    if end <= position - into_beat + BEAT:
        return True  # within its beat
    if into_beat % 2 or (into_beat and length not in (4, 6)):
        return False  # off the half-beat grid; from the "and" only a quarter or a dotted quarter
    return end % BEAT == 0 or end == stop


def _rest_lengths(position: int, stop: int, bar: Bar) -> list[int]:
    """The rests from ``position`` to ``stop`` (sixteenths in ``bar``)."""
    if position == 0 and stop == bar.length:
        return [bar.length]
    lengths = []
    while position < stop:
        into_beat = position % BEAT
        if into_beat:
            options = [2] if into_beat == 2 else [1]
        else:
            group_start = max(line for line in bar.group_lines if line <= position)
            even = (position - group_start) % (2 * BEAT) == 0
            options = [8, 4, 2, 1] if even and position + 8 <= _group_end(position, bar) else [4, 2, 1]
        length = next((n for n in options if position + n <= stop), 1)
        lengths.append(length)
        position += length
    return lengths


def _beamed(symbols: list[Written]) -> list[Written]:
    """``symbols`` with the beams of each beat: its run of eighths and sixteenths, rests parting runs."""
    runs: list[list[int]] = []
    for index, symbol in enumerate(symbols):
        flagged = symbol.pitch is not None and symbol.length < BEAT
        beat = symbol.start // BEAT
        if not flagged:
            continue
        previous = symbols[index - 1] if index else None
        joined = runs and runs[-1][-1] == index - 1 and previous.start // BEAT == beat
        if joined:
            runs[-1].append(index)
        else:
            runs.append([index])
    beamed = list(symbols)
    for run in runs:
        if len(run) < 2:
            continue
        for place, index in enumerate(run):
            first = "begin" if place == 0 else "end" if place == len(run) - 1 else "continue"
            second = _second_beam(symbols, run, place)
            beams = (first,) if second is None else (first, second)
            beamed[index] = dataclasses.replace(symbols[index], beams=beams)
    return beamed


def _second_beam(symbols: list[Written], run: list[int], place: int) -> str | None:
    """The sixteenth beam of the ``place``-th note of a beamed ``run``, or None for an eighth."""
    if symbols[run[place]].length != 1:
        return None
    before = place > 0 and symbols[run[place - 1]].length == 1
    after = place < len(run) - 1 and symbols[run[place + 1]].length == 1
    if before and after:
        return "continue"
    if after:
        return "begin"
    if before:
        return "end"
    return "forward hook" if place == 0 else "backward hook"


@dataclass(frozen=True)
class Spelled:
    """A pitch as written: letter ``step``, ``alter`` in semitones (-2..2) and ``octave``."""

    step: str
    alter: int
    octave: int


def spell(pitch: int, key: vocab.Key, chord: int = vocab.N_ID) -> Spelled:
    """``pitch`` spelled as a tone of ``chord`` if it is one, else as its degree in ``key``."""
    names = dict(zip(vocab.chord_pitch_classes(chord), vocab.chord_note_names(chord, key), strict=True))
    return _spelled(pitch, names.get(pitch % 12) or vocab.root_name(pitch % 12, key))


def _spelled(pitch: int, name: str) -> Spelled:
    step = name[0]
    alter = name.count("#") - name.count("b")
    return Spelled(step, alter, (pitch - alter - vocab.ROOTS.index(step)) // 12 - 1)


def key_fifths(key: vocab.Key) -> int:
    """The key signature: sharps (> 0) or flats (< 0)."""
    tonic = _spelled(key.tonic, key.tonic_name)
    return SHARP_ORDER.index(tonic.step) - 1 + 7 * tonic.alter - (3 if key.mode == "minor" else 0)


def notation_key(key: vocab.Key) -> vocab.Key:
    """``key``, or its enharmonic twin where its signature would need more than seven sharps or
    flats (G# major is written as Ab major)."""
    if abs(key_fifths(key)) <= 7:
        return key
    return vocab.Key(key.tonic, key.mode, flats=not key.prefers_flats)


def signature_alter(step: str, fifths: int) -> int:
    """The alteration the key signature of ``fifths`` gives the letter ``step``."""
    if fifths > 0 and step in SHARP_ORDER[:fifths]:
        return 1
    if fifths < 0 and step in SHARP_ORDER[::-1][:-fifths]:
        return -1
    return 0


def accidentals(notes: Sequence[tuple[Spelled, bool]], fifths: int) -> list[int | None]:
    """For one bar's notes ((spelling, tied over from the note before), in order), the
    alteration each must show, or None where the key signature and the bar's earlier notes
    already give it."""
    shown: dict[tuple[str, int], int] = {}
    marks: list[int | None] = []
    for spelled, tied in notes:
        line = (spelled.step, spelled.octave)
        current = shown.get(line, signature_alter(spelled.step, fifths))
        if tied or spelled.alter == current:
            marks.append(None)
        else:
            marks.append(spelled.alter)
            shown[line] = spelled.alter
    return marks
