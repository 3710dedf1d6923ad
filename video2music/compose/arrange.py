"""Arrange a chord per half bar into an editable multi-track MIDI file.

Inputs are timelines on the musical grid (``video2music.theory.grid``: one step per half bar at the
tempo): chord ids in the normalised C major / A minor space, note density (MuVi-Sync units:
notes sounding per second, roughly 0-40) and loudness (MuVi-Sync units: linear RMS amplitude,
0-1; pop music sits near 0.1-0.3), and optionally a melody written on sixteenths in the
normalised key (``video2music.compose.melody``). The result has named tracks, each on its own
channel with a General MIDI program the caller chooses:

- **Chords** (channel 1): a four-voice pad between A2 and C5, voice-led so that no voice moves
  more than an octave; a tone two chords share is tied over the change, not struck again.
- **Arpeggio** (channel 2): chord tones from just above the pad's top voice, so it never doubles
  a pitch the pad holds, in a pattern chosen by note density that runs on across chord changes.
- **Bass** (channel 3): the root in the octave nearest the previous one (E1..D3), moving more
  (fifths, octaves) as density rises.
- **Drums** (channel 10, a GM kit): a groove whose density follows note density; a one-beat fill
  and a crash open a section on the bar line nearest a scene cut, at most once in eight bars.
- **Melody** (channel 4, when a melody is given): the melody transposed into the key, its
  velocities shaped as a singer phrases (beats 1 and 3 stressed, high notes louder).

Note density sets the patterns; loudness and the phrase swell set the velocities: every
four-bar phrase rises from soft to its middle and falls back (``SWELL`` velocity units either
side), so the parts breathe with the phrases. A conductor track carries tempo, 4/4, the key
signature and a marker with each chord's name (spelled for the key) at its onset, so a DAW shows
the progression.

Timing: one chord span covers the steps in which the chord does not change; it starts on its
first step's onset (a half-bar line, or the beat of a scene cut, see ``video2music.theory.grid``). The
music ends on the grid's last bar line. Per-beat density and loudness are those of the step the
beat falls in. The last bar (in pieces of two bars or more) is the ending: the parts play their
calmest patterns over the final chord and die away, and when the drums were playing into it a
fill leads into a crash on its downbeat.

Density levels (notes per second), shared by all parts; the dynamics rule's anchors (1, 4, 7,
10 and 13 notes/s for still to very busy footage) each land on their own level:

====== ========= ============================== ========================= ==========================
level  density   arpeggio                       bass                      drums
====== ========= ============================== ========================= ==========================
0      < 3       half notes, rising             root, once a bar          rests
1      3-6       quarter notes, rising          root and fifth, halves    kick, side stick, hat 4ths
2      6-9       eighths, broken (1-5-3-5)      root and fifth, halves    kick 1+3, snare 2+4, hat 8ths
3      9-13      eighths, up and down           root-fifth-octave, 4ths   busier kick, open hat
4      >= 13     sixteenths, up and down        root eighths, octave pops kick on the and, hat 16ths
====== ========= ============================== ========================= ==========================
"""

from __future__ import annotations

import dataclasses
import io
import itertools
import logging
import math
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING

import mido
import numpy as np
import pretty_midi

from video2music.compose.instruments import Instruments
from video2music.theory import vocab
from video2music.theory.grid import BEATS_PER_BAR, STEPS_PER_BAR, Grid, check_tempo
from video2music.utils.errors import UserError
from video2music.utils.fileio import atomic_output

if TYPE_CHECKING:  # the melody writer needs torch, which arranging alone does not
    from video2music.compose.melody import MelodyNote

logger = logging.getLogger(__name__)

TICKS_PER_BEAT = 480
# Notes per second where the next level starts: the rule's density anchors (1, 4, 7, 10, 13 notes/s
# for still to very busy footage) each land on their own level, so every level is reachable.
DENSITY_THRESHOLDS = (3.0, 6.0, 9.0, 13.0)
PHRASE_BARS = 4
SWELL = 16  # velocity units either side of a phrase's mean
CRASH_SPACING_BARS = 8

CHORD_RANGE = (45, 72)  # A2..C5, under the arpeggio and the melody
CHORD_CENTRE = 59.0  # the voicings' mean pitch drifts back towards B3
CHORD_VOICES = 4
BASS_RANGE = (28, 50)  # E1..D3
BASS_CENTRE = 38  # D2: where the first root is placed nearest to

KICK, SIDE_STICK, SNARE, CLOSED_HAT, OPEN_HAT, CRASH = 36, 37, 38, 42, 46, 49
HIGH_TOM, LOW_TOM = 50, 45
DRUM_CHANNEL = 9  # "channel 10" as musicians count
MELODY_CHANNEL = 3
MELODY_ACCENTS = (8, 2, -6)  # velocity offsets: beats 1 and 3, beats 2 and 4, between beats
MELODY_CONTOUR = 8  # at most this much louder (softer) for notes above (below) the line's median
# Effect sends per part, (reverb CC91, chorus CC93), set as a mixing engineer would: the bass and
# the kit (its kick) stay dry and close so the low end keeps its punch, the pad and the lead sit
# further back in the room, and the chorus widens the sustained parts only.
SENDS = {"Chords": (72, 40), "Arpeggio": (48, 16), "Bass": (16, 0), "Drums": (28, 0), "Melody": (56, 24)}
DEFAULT_SENDS = (40, 0)  # a part not named above
REVERB_CC, CHORUS_CC = 91, 93


@dataclass(frozen=True)
class Note:
    """A note in ticks (``TICKS_PER_BEAT`` per beat)."""

    pitch: int
    start: int
    end: int
    velocity: int


@dataclass
class Part:
    """One track: a name, a MIDI channel (0-based), a program and its notes."""

    name: str
    channel: int
    program: int
    pan: int = 64
    notes: list[Note] = field(default_factory=list)


@dataclass(frozen=True)
class ChordSpan:
    """A chord (id in the output key; ``N`` = silence) from ``start`` to ``end`` in ticks."""

    chord: int
    label: str
    start: int
    end: int


@dataclass
class Arrangement:
    """The arranged music: parts, chord spans (the markers) and the global settings."""

    parts: list[Part]
    spans: list[ChordSpan]
    key: vocab.Key
    tempo: float
    end: int  # ticks
    ticks_per_beat: int = TICKS_PER_BEAT
    meters: list[tuple[int, int]] = field(default_factory=lambda: [(0, BEATS_PER_BAR)])  # (beat, beats a bar)

    def part(self, name: str) -> Part:
        return next(p for p in self.parts if p.name == name)

    def to_midi(self) -> mido.MidiFile:
        """A type-1 MIDI file: a conductor track (tempo, meter, key, markers) and one track a part."""
        midi = mido.MidiFile(type=1, ticks_per_beat=self.ticks_per_beat)
        conductor: list[tuple[int, int, mido.Message | mido.MetaMessage]] = [
            (0, 0, mido.MetaMessage("track_name", name="video2music")),
            (0, 0, mido.MetaMessage("set_tempo", tempo=mido.bpm2tempo(self.tempo))),
            (0, 0, mido.MetaMessage("key_signature", key=self.key.midi_name)),
        ]
        conductor += [
            (
                beat * self.ticks_per_beat,
                0,
                mido.MetaMessage("time_signature", numerator=beats, denominator=4),
            )
            for beat, beats in self.meters
        ]
        conductor += [(s.start, 1, mido.MetaMessage("marker", text=s.label)) for s in self.spans]
        midi.tracks.append(_track(conductor, self.end))
        for part in self.parts:
            events: list[tuple[int, int, mido.Message | mido.MetaMessage]] = [
                (0, 0, mido.MetaMessage("track_name", name=part.name)),
                (0, 0, mido.Message("program_change", channel=part.channel, program=part.program)),
                (0, 0, mido.Message("control_change", channel=part.channel, control=10, value=part.pan)),
            ]
            reverb, chorus = SENDS.get(part.name, DEFAULT_SENDS)
            events += [
                (0, 0, mido.Message("control_change", channel=part.channel, control=REVERB_CC, value=reverb)),
                (0, 0, mido.Message("control_change", channel=part.channel, control=CHORUS_CC, value=chorus)),
            ]
            for note in part.notes:
                # At equal ticks note-offs sort first, so a repeated pitch is released, then re-struck.
                events.append((note.start, 2, _note(part.channel, note.pitch, note.velocity)))
                events.append((note.end, 1, _note(part.channel, note.pitch, 0)))
            midi.tracks.append(_track(events, self.end))
        return midi

    def to_pretty_midi(self) -> pretty_midi.PrettyMIDI:
        """The same file as pretty_midi reads it (for piano rolls and analysis)."""
        buffer = io.BytesIO()
        self.to_midi().save(file=buffer)
        buffer.seek(0)
        return pretty_midi.PrettyMIDI(buffer)


def _note(channel: int, pitch: int, velocity: int) -> mido.Message:
    if velocity == 0:
        return mido.Message("note_off", channel=channel, note=pitch, velocity=0)
    return mido.Message("note_on", channel=channel, note=pitch, velocity=velocity)


def _track(events: list[tuple[int, int, mido.Message | mido.MetaMessage]], end: int) -> mido.MidiTrack:
    track = mido.MidiTrack()
    now = 0
    for tick, _, message in sorted(events, key=lambda e: (e[0], e[1])):
        track.append(message.copy(time=tick - now))
        now = tick
    track.append(mido.MetaMessage("end_of_track", time=max(0, end - now)))
    return track


def write_midi(arrangement: Arrangement, path: str | os.PathLike, overwrite: bool = False) -> Path:
    """Write ``arrangement`` as a standard MIDI file (atomically; refuses to replace a file unless
    ``overwrite``)."""
    with atomic_output(path, overwrite) as tmp:
        arrangement.to_midi().save(tmp)
    return Path(path)


def density_levels(density: np.ndarray) -> np.ndarray:
    """Pattern level 0-4 for each note density value (see the module's table)."""
    return np.searchsorted(np.asarray(DENSITY_THRESHOLDS), np.asarray(density, dtype=float), side="right")


def velocity(loudness: float, offset: int = 0) -> int:
    """MIDI velocity for a linear RMS loudness: 30 at -40 dBFS (0.01) up to 110 at 0 dBFS.

    Loudness is an amplitude, so it is mapped on a decibel scale where a listener hears it.
    """
    decibels = 20.0 * math.log10(max(float(loudness), 0.01))
    return int(np.clip(round(30 + 80 * (decibels + 40) / 40 + offset), 1, 127))


def _swell(grid: Grid) -> np.ndarray:
    """Velocity offsets per beat: each four-bar phrase swells from soft to its middle and back,
    and the last bar dies away, so the parts breathe with the phrases."""
    phase = np.array(
        [(bar % PHRASE_BARS + pos / beats) / PHRASE_BARS for bar, pos, beats in _positions(grid)]
    )
    swell = -SWELL * np.cos(2 * np.pi * phase)
    if len(grid.bars) >= 2:
        last_bar = grid.end_beat - grid.bars[-1]
        swell[last_bar:] -= SWELL * np.arange(1, grid.bars[-1] + 1) / grid.bars[-1]
    return swell


def _positions(grid: Grid) -> list[tuple[int, int, int]]:
    return [grid.position(beat) for beat in range(grid.end_beat)]


def _pattern_beats(grid: Grid) -> np.ndarray:
    """Per beat, the beat of a 4/4 bar whose pattern it plays: its own, and for the fifth beat of a
    5/4 bar the third's (a 3/4 bar plays the first three of 4/4)."""
    return np.array([pos if pos < BEATS_PER_BAR else 2 for _, pos, _ in _positions(grid)])


@dataclass(frozen=True)
class _Dynamics:
    """Per-beat loudness and phrase swell, turned into velocities."""

    loudness: np.ndarray
    swell: np.ndarray

    def velocity(self, beat: int, accent: int = 0) -> int:
        return velocity(self.loudness[beat], accent + round(self.swell[beat]))


def _per_step(name: str, values: Sequence[float] | np.ndarray | float, length: int) -> np.ndarray:
    array = np.asarray(values, dtype=float)
    if array.ndim == 0:
        array = np.full(length, float(array))
    if array.shape != (length,):
        raise UserError(f"{name} has {array.size} values but there are {length} steps of chords")
    if not np.all(np.isfinite(array)):
        raise UserError(f"{name} contains NaN or infinite values")
    return array


def _validate(
    chords: Sequence[int], density, loudness, tempo: float, grid: Grid | None
) -> tuple[list[int], np.ndarray, np.ndarray, Grid]:
    ids = [int(c) for c in chords]
    if not ids:
        raise UserError("no chords to arrange: give at least one half-bar step")
    for cid in ids:
        vocab.chord_label(cid)  # raises VocabError for ids outside the chord range (END, PAD, junk)
    check_tempo(tempo)
    density = _per_step("note density", density, len(ids))
    loudness = _per_step("loudness", loudness, len(ids))
    if grid is None and len(ids) % STEPS_PER_BAR:  # whole bars: the last chord fills the last one
        ids, density, loudness = (
            ids + ids[-1:],
            np.append(density, density[-1]),
            np.append(loudness, loudness[-1]),
        )
    grid = grid or Grid.regular(len(ids), tempo)
    if grid.steps != len(ids) or grid.tempo != tempo:
        raise UserError(
            f"{len(ids)} chords at {tempo:g} bpm do not fit a grid of {grid.steps} steps at {grid.tempo:g}"
        )
    if density.min() < 0:
        raise UserError("note density must not be negative (it counts notes per second)")
    if loudness.min() < 0 or loudness.max() > 1:
        raise UserError("loudness must lie in 0..1 (linear RMS amplitude, as in MuVi-Sync)")
    return ids, density, loudness, grid


def arrange(
    chords: Sequence[int],
    density: Sequence[float] | np.ndarray | float,
    loudness: Sequence[float] | np.ndarray | float,
    key: vocab.Key | str = "C major",
    tempo: float = 120.0,
    instruments: Instruments | None = None,
    drums: bool = True,
    grid: Grid | None = None,
    melody: Sequence[MelodyNote] | None = None,
) -> Arrangement:
    """Arrange one chord id per half-bar step (normalised C major / A minor space) in ``key``.

    ``density`` and ``loudness`` are per step (or one constant for all steps); ``grid`` gives the
    steps' onsets and scene cuts (default: regular half bars at ``tempo``, no cuts); ``melody``,
    if given, becomes the Melody track. See the module docstring for timing and patterns. Raises
    UserError for out-of-range input before doing any work.
    """
    key = vocab.parse_key(key) if isinstance(key, str) else key
    ids, density, loudness, grid = _validate(chords, density, loudness, tempo, grid)
    instruments = instruments or Instruments()
    end_beat = grid.end_beat

    # Per-beat controls: the values of the step each beat falls in.
    beat_steps = np.array([grid.step_of_beat(b) for b in range(end_beat)])
    levels = density_levels(density)[beat_steps]
    dynamics = _Dynamics(loudness[beat_steps], _swell(grid))
    meter = _pattern_beats(grid)
    if len(grid.bars) >= 2:
        levels[end_beat - grid.bars[-1] :] = 0  # the last bar rings out over the final chord
    crash_beats = _crash_beats(grid, levels)

    spans = _chord_spans(ids, key, grid)
    voicings = _voice_spans(spans)
    parts = [
        Part("Chords", 0, instruments.chords, pan=50, notes=_chord_part(spans, voicings, dynamics)),
        Part(
            "Arpeggio", 1, instruments.arpeggio, pan=80,
            notes=_arpeggio_part(spans, voicings, levels, meter, dynamics),
        ),
        Part("Bass", 2, instruments.bass, notes=_bass_part(spans, levels, meter, dynamics)),
    ]  # fmt: skip
    if drums:
        drum_notes = _drum_part(levels, meter, dynamics, crash_beats)
        parts.append(Part("Drums", DRUM_CHANNEL, instruments.drums, notes=drum_notes))
    if melody is not None:
        melody_notes = _melody_part(melody, key, dynamics, meter)
        parts.append(Part("Melody", MELODY_CHANNEL, instruments.melody, notes=melody_notes))
    arrangement = Arrangement(
        parts, spans, key, float(tempo), end_beat * TICKS_PER_BEAT, meters=grid.meter_changes()
    )
    logger.debug(
        "arranged %d steps into %d chord spans in %s at %g bpm (%s)",
        len(ids), len(spans), key.name, tempo, ", ".join(f"{p.name} {len(p.notes)} notes" for p in parts),
    )  # fmt: skip
    return arrangement


def _melody_part(
    melody: Sequence[MelodyNote], key: vocab.Key, dynamics: _Dynamics, meter: np.ndarray
) -> list[Note]:
    """The melody in ``key``: sixteenths to ticks, velocity from the dynamics, shaped as a singer
    phrases: beats 1 and 3 stressed, notes off the beat lighter, high notes louder than low ones."""
    sixteenth = TICKS_PER_BEAT // 4
    centre = float(np.median([n.pitch for n in melody])) if melody else 0.0
    notes = []
    for note in melody:
        beat = note.start // 4
        if not 0 <= note.start < note.end <= 4 * len(meter):
            raise UserError(f"melody note {note} lies outside the {len(meter)} beats of the music")
        on_beat = note.start % 4 == 0
        accent = MELODY_ACCENTS[0 if on_beat and meter[beat] % 2 == 0 else 1 if on_beat else 2]
        contour = int(np.clip(round(note.pitch - centre), -MELODY_CONTOUR, MELODY_CONTOUR))
        vel = dynamics.velocity(beat, accent + contour)
        notes.append(Note(note.pitch + key.transpose, note.start * sixteenth, note.end * sixteenth, vel))
    return notes


def _chord_spans(ids: list[int], key: vocab.Key, grid: Grid) -> list[ChordSpan]:
    """Runs of one chord on the grid, transposed into ``key``."""
    spans = []
    for start, end, cid in grid.spans(ids):
        chord = vocab.transpose_chord(cid, key.transpose)
        label = vocab.chord_symbol(chord, key)
        spans.append(ChordSpan(chord, label, start * TICKS_PER_BEAT, end * TICKS_PER_BEAT))
    return spans


@cache
def _voicings(chord: int) -> tuple[tuple[int, ...], ...]:
    """Every four-voice voicing of ``chord`` in CHORD_RANGE, ascending, that sounds each chord tone,
    doubles only the root or fifth of a triad and leaves no gap wider than an octave."""
    tones = vocab.chord_pitch_classes(chord)
    doublable = {tones[0], tones[2]}
    candidates = [p for p in range(CHORD_RANGE[0], CHORD_RANGE[1] + 1) if p % 12 in tones]
    found = []
    for combo in itertools.combinations(candidates, CHORD_VOICES):
        classes = [p % 12 for p in combo]
        if set(classes) != set(tones):
            continue
        if len(tones) < CHORD_VOICES and not {c for c in classes if classes.count(c) > 1} <= doublable:
            continue
        if max(b - a for a, b in itertools.pairwise(combo)) > 12 or combo[-1] - combo[0] > 24:
            continue
        found.append(combo)
    return tuple(found)


def _voice_lead(previous: tuple[int, ...] | None, chord: int) -> tuple[int, ...]:
    """The voicing of ``chord`` that follows ``previous`` best.

    In order of priority: no voice moves more than an octave; every tone the chords share is held
    at its pitch; the voices move as little as possible in total, without drifting from the
    centre of the register; the root is doubled rather than the fifth.
    """
    root = vocab.chord_root(chord)

    def cost(voicing: tuple[int, ...]) -> tuple[float, ...]:
        classes = [p % 12 for p in voicing]
        doubled_fifth = len(set(classes)) < CHORD_VOICES and classes.count(root) < 2
        drift = abs(float(np.mean(voicing)) - CHORD_CENTRE)
        if previous is None:
            return (0, 0, drift + 0.2 * (voicing[-1] - voicing[0]) + doubled_fifth)
        moves = [abs(a - b) for a, b in zip(previous, voicing, strict=True)]
        common = {p % 12 for p in previous} & set(classes)
        dropped = sum(1 for pc in common if not any(p in voicing for p in previous if p % 12 == pc))
        return (max(moves) > 12, dropped, sum(moves) + 0.5 * drift + doubled_fifth)

    return min(_voicings(chord), key=cost)


def _voice_spans(spans: list[ChordSpan]) -> list[tuple[int, ...] | None]:
    """The pad's voicing of each span (None for ``N``), each led from the one before."""
    voicings: list[tuple[int, ...] | None] = []
    previous = None
    for span in spans:
        if span.chord == vocab.N_ID:
            voicings.append(None)
            continue
        previous = _voice_lead(previous, span.chord)
        voicings.append(previous)
    return voicings


def _chord_part(
    spans: list[ChordSpan], voicings: list[tuple[int, ...] | None], dynamics: _Dynamics
) -> list[Note]:
    notes: list[Note] = []
    held: dict[int, int] = {}  # pitch -> index in notes of the note still sounding
    for span, voicing in zip(spans, voicings, strict=True):
        if voicing is None:
            held = {}
            continue
        vel = dynamics.velocity(span.start // TICKS_PER_BEAT, -8)  # a pad sits under the rest
        sounding: dict[int, int] = {}
        for pitch in voicing:
            if pitch in held:  # a common tone is tied over, not struck again
                index = held[pitch]
                notes[index] = dataclasses.replace(notes[index], end=span.end)
            else:
                index = len(notes)
                notes.append(Note(pitch, span.start, span.end, vel))
            sounding[pitch] = index
        held = sounding
    return notes


def _beats(span: ChordSpan) -> range:
    return range(span.start // TICKS_PER_BEAT, span.end // TICKS_PER_BEAT)


# Arpeggio per level: steps per beat, how many chord tones above the pad, and the order of tones.
_ARPEGGIO = {
    1: (1, 3, "up"),
    2: (2, 4, "broken"),
    3: (2, 5, "updown"),
    4: (4, 6, "updown"),
}


def _arpeggio_tones(chord: int, above: int, count: int) -> list[int]:
    """``count`` tones of ``chord`` from the first one above ``above`` (the pad's top voice), so the
    arpeggio never doubles a pitch the pad holds."""
    classes = set(vocab.chord_pitch_classes(chord))
    return [p for p in range(above + 1, above + 40) if p % 12 in classes][:count]


def _arpeggio_order(shape: str, count: int) -> list[int]:
    if shape == "up":
        return list(range(count))
    if shape == "broken":
        return [0, 2, 1, 2]  # root, fifth, third, fifth: the Alberti figure
    return list(range(count)) + list(range(count - 2, 0, -1))


def _arpeggio_part(
    spans: list[ChordSpan],
    voicings: list[tuple[int, ...] | None],
    levels: np.ndarray,
    meter: np.ndarray,
    dynamics: _Dynamics,
) -> list[Note]:
    notes: list[Note] = []
    step_index = 0  # the figure runs on across chord changes instead of restarting on each
    for span, voicing in zip(spans, voicings, strict=True):
        if voicing is None:
            continue
        for beat in _beats(span):
            level = int(levels[beat])
            if level == 0 and meter[beat] % 2:
                continue  # the calmest level plays half notes, so even a still shot keeps a line moving
            steps, count, shape = _ARPEGGIO[max(level, 1)]
            tones = _arpeggio_tones(span.chord, voicing[-1], count)
            order = _arpeggio_order(shape, len(tones))
            length = TICKS_PER_BEAT * (2 if level == 0 else 1) // steps
            for step in range(steps):
                start = beat * TICKS_PER_BEAT + step * length
                accent = 6 if step == 0 else 0
                pitch = tones[order[step_index % len(order)]]
                end = min(start + length, span.end)  # a half note in a 3/4 bar's last beat
                notes.append(Note(pitch, start, end, dynamics.velocity(beat, accent - 4)))
                step_index += 1
    return notes


def _bass_figure(level: int, beat_in_bar: int) -> list[tuple[int, str]]:
    """(tick offset in the beat, chord degree) onsets of the bass line on one beat."""
    if level == 0:
        return [(0, "root")] if beat_in_bar == 0 else []
    if level <= 2:
        return {0: [(0, "root")], 2: [(0, "fifth")]}.get(beat_in_bar, [])
    if level == 3:
        return [(0, ("root", "fifth", "octave", "fifth")[beat_in_bar])]
    return [(0, "root"), (TICKS_PER_BEAT // 2, "octave" if beat_in_bar % 2 else "root")]


def _bass_root(chord: int, previous: int) -> int:
    """The chord's root in the octave nearest the previous root, kept within BASS_RANGE."""
    root = vocab.chord_root(chord)
    candidates = [p for p in range(BASS_RANGE[0], BASS_RANGE[1] + 1) if p % 12 == root]
    return min(candidates, key=lambda p: (abs(p - previous), p))


def _bass_part(
    spans: list[ChordSpan], levels: np.ndarray, meter: np.ndarray, dynamics: _Dynamics
) -> list[Note]:
    notes: list[Note] = []
    previous = BASS_CENTRE
    for span in spans:
        if span.chord == vocab.N_ID:
            continue
        root = previous = _bass_root(span.chord, previous)
        degrees = {"root": root, "fifth": root + vocab.QUALITY_INTERVALS[vocab.chord_quality(span.chord)][2]}
        degrees["octave"] = root + 12
        onsets: list[tuple[int, int, int]] = []
        for beat in _beats(span):
            for offset, degree in _bass_figure(int(levels[beat]), int(meter[beat])):
                onsets.append((beat * TICKS_PER_BEAT + offset, degrees[degree], beat))
        if not onsets or onsets[0][0] != span.start:  # a chord always sounds its root on arrival
            onsets.insert(0, (span.start, root, span.start // TICKS_PER_BEAT))
        else:
            onsets[0] = (span.start, root, onsets[0][2])
        ends = [t for t, _, _ in onsets[1:]] + [span.end]
        for (start, pitch, beat), end in zip(onsets, ends, strict=True):
            accent = 4 if start == span.start else 0
            notes.append(Note(pitch, start, end, dynamics.velocity(beat, accent)))
    return notes


# Drum grooves per level, on a sixteenth-note grid across one bar: {drum: sixteenths it plays on}.
_GROOVES: dict[int, dict[int, tuple[int, ...]]] = {
    1: {KICK: (0,), SIDE_STICK: (8,), CLOSED_HAT: (0, 4, 8, 12)},
    2: {KICK: (0, 8), SNARE: (4, 12), CLOSED_HAT: (0, 2, 4, 6, 8, 10, 12, 14)},
    3: {KICK: (0, 8, 10), SNARE: (4, 12), CLOSED_HAT: (0, 2, 4, 6, 8, 10, 12), OPEN_HAT: (14,)},
    4: {KICK: (0, 6, 8), SNARE: (4, 12), CLOSED_HAT: tuple(range(0, 14)), OPEN_HAT: (14,)},
}
_DRUM_ACCENTS = {KICK: 4, SNARE: 2, SIDE_STICK: -6, CLOSED_HAT: -18, OPEN_HAT: -12, CRASH: 6}
_FILL = ((0, SNARE, -10), (1, SNARE, -6), (2, HIGH_TOM, -2), (3, LOW_TOM, 2))  # sixteenth, drum, accent


def _crash_beats(grid: Grid, levels: np.ndarray) -> list[int]:
    """Downbeats that open a section: the bar line nearest each scene cut, and the last bar.

    A crash needs the drums to be playing there (a still passage stays still) and at least
    ``CRASH_SPACING_BARS`` bars since the previous one, so it marks sections, not every cut.
    """
    end_beat = grid.end_beat
    starts = np.asarray(grid.bar_starts)
    candidates = [int(starts[np.abs(starts - grid.onsets[s]).argmin()]) for s in grid.cut_steps]
    if len(grid.bars) >= 2:
        candidates.append(end_beat - grid.bars[-1])
    crashes: list[int] = []
    for beat in sorted(set(candidates)):
        if not 0 < beat < end_beat or levels[beat - 1] == 0:
            continue
        if crashes and beat - crashes[-1] < CRASH_SPACING_BARS * BEATS_PER_BAR:
            continue
        crashes.append(beat)
    return crashes


def _drum_part(
    levels: np.ndarray, meter: np.ndarray, dynamics: _Dynamics, crash_beats: list[int]
) -> list[Note]:
    sixteenth = TICKS_PER_BEAT // 4
    hits: dict[tuple[int, int], int] = {}  # (tick, drum) -> velocity; one hit per drum and tick
    fill_beats = {b - 1 for b in crash_beats if b - 1 not in crash_beats}
    for beat, level in enumerate(levels):
        if beat in fill_beats and level > 0:
            for step, drum, accent in _FILL:
                hits[(beat * TICKS_PER_BEAT + step * sixteenth, drum)] = dynamics.velocity(beat, accent)
            continue
        for drum, grid in _GROOVES.get(int(level), {}).items():
            first = int(meter[beat]) * 4
            for step in (s for s in grid if first <= s < first + 4):
                tick = beat * TICKS_PER_BEAT + (step - first) * sixteenth
                hits[(tick, drum)] = dynamics.velocity(beat, _DRUM_ACCENTS[drum] + (4 if step == 0 else 0))
    for beat in crash_beats:
        tick = beat * TICKS_PER_BEAT
        hits[(tick, CRASH)] = dynamics.velocity(beat, _DRUM_ACCENTS[CRASH])
        hits[(tick, KICK)] = dynamics.velocity(beat, _DRUM_ACCENTS[KICK] + 4)
    # Drum notes are triggers; a sixteenth's length keeps them readable in a DAW's piano roll.
    return [Note(drum, tick, tick + sixteenth, vel) for (tick, drum), vel in sorted(hits.items())]
