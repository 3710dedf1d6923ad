"""Arrange a chord per half bar into an editable multi-track MIDI file, section by section.

Inputs are timelines on the musical grid (``video2music.theory.grid``: one step per half bar at
the tempo): chord ids in the normalised C major / A minor space, note density (MuVi-Sync units:
notes sounding per second, roughly 0-40) and loudness (MuVi-Sync units: linear RMS amplitude,
0-1; pop music sits near 0.1-0.3), the song form (``video2music.theory.form``; without one the
piece is one verse) and optionally a melody written on sixteenths in the normalised key
(``video2music.compose.melody``). The result (``compose.arrangement.Arrangement``) has named
tracks, each on its own channel with a General MIDI program the caller chooses:

- **Chords** (channel 1): a three-voice pad (root, third and seventh or fifth) between C3 and
  G4, voice-led so that no voice moves more than an octave; a tone two chords share is tied
  over the change, as long as no note lasts over two bars.
- **Arpeggio** (channel 2): chord tones above the pad where there is room, in a pattern chosen
  by the density level that runs on across chord changes.
- **Bass** (channel 3): the root in the octave nearest the previous note (E1..B2), or the
  chord's third or fifth where that lets the line move by step (``compose.voicing``), moving
  more (fifths, octaves) as the level rises.
- **Drums** (channel 10, a GM kit): a groove per kind of section, fills into sections and a
  crash on each section's downbeat (``compose.drums``).
- **Melody** (channel 4, when a melody is given): the melody transposed into the key, its
  velocities shaped as a singer phrases (beats 1 and 3 stressed, high notes louder), on top.

The lead stays on top: every accompaniment pitch lies below the lowest melody note of its bar
(``voicing.ceiling``). Each kind of section has its texture (``TEXTURES``): the intro sparse
(pad and bass, no groove), the verse medium (arpeggio and bass, a light groove), the pre-chorus
building, the chorus full (pad, arpeggio two levels busier, the bass in octaves, the full groove),
the bridge in half time, a break dropping to the pad alone and the outro thinning out (music
arranged without a form plays every part, ``PLAIN``). The
video's note density sets a level 0-4 (``DENSITY_THRESHOLDS``) that each section moves by its
``level_offset`` within its bounds; loudness, the section's energy and the phrase swell set the
velocities (every four-bar phrase rises by ``SWELL`` to its third bar and settles into its fourth;
a section's own offset, ``Texture.velocity``, sets where it starts).

A section lifted by the form (a late chorus a whole step up) is played transposed, and the
conductor track carries the key change, with the chord markers spelled in the new key. The
conductor track also carries tempo, meters, the key signature and a marker with each chord's
name at its onset and each section's name at its first bar.

Timing: one chord span covers the steps in which the chord does not change (within a section);
it starts on its first step's onset (a half-bar line, or the beat of a scene cut). The music ends
on the grid's last bar line; the last bar (in pieces of two bars or more) is the ending: the
parts play their calmest patterns over the final chord and die away. The final chord rings on to
the picture's end, struck again on the last bar line where it would otherwise sound over two bars.

Density levels (notes per second) of the video; the dynamics rule's anchors (1, 4, 7, 10 and 13
notes/s for still to very busy footage) each land on their own level:

====== ========= ============================== =========================
level  density   arpeggio                       bass
====== ========= ============================== =========================
0      < 3       half notes, rising             root, once a bar
1      3-6       quarter notes, rising          root and fifth, halves
2      6-9       eighths, broken (1-5-3-5)      root and fifth, halves
3      9-13      eighths, up and down           root-fifth-octave, 4ths
4      >= 13     sixteenths, up and down        root eighths, octave pops
====== ========= ============================== =========================
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

from video2music.compose import drums as drum_rules
from video2music.compose import voicing
from video2music.compose.accompaniment import (
    MAX_PAD_BEATS,
    arpeggio_part,
    bass_part,
    beats_of,
    pad_part,
    softened,
    swung,
)
from video2music.compose.arrangement import TICKS_PER_BEAT, Arrangement, ChordSpan, Note, Part
from video2music.compose.instruments import Instruments
from video2music.compose.styles import Style, style_named
from video2music.compose.texture import PLAIN, TEXTURES, Beats, density_levels
from video2music.theory import vocab
from video2music.theory.form import Form
from video2music.theory.grid import BEATS_PER_BAR, STEPS_PER_BAR, Grid, check_tempo
from video2music.utils.errors import UserError

if TYPE_CHECKING:  # the melody writer needs torch, which arranging alone does not
    from video2music.compose.melody import MelodyNote

logger = logging.getLogger(__name__)

PHRASE_BARS = 4
SWELL = 12  # velocity units from a phrase's start to its height
ENERGY_VELOCITY = 14  # velocity units either side of the middle, for the video's intensity
MELODY_CHANNEL = 3
MELODY_ACCENTS = (8, 2, -6)  # velocity offsets: beats 1 and 3, beats 2 and 4, between beats
MELODY_CONTOUR = 8  # at most this much louder (softer) for notes above (below) the line's median
MELODY_LIFT = 6  # the lead a little louder than the parts around it


def _swell(grid: Grid, form: Form) -> np.ndarray:
    """Velocity offsets per beat: each four-bar phrase of a section rises to its third bar and
    settles into its fourth, and the last bar dies away, so the parts breathe with the phrases."""
    sections = form.section_of_bar()
    phase = np.array(
        [
            ((bar - sections[bar].first_bar) % PHRASE_BARS + pos / beats) / PHRASE_BARS
            for bar, pos, beats in _positions(grid)
        ]
    )
    # An arch, not a trough at the phrase's start: from the deepest point on every phrase's first
    # beat (SWELL 16, -cos), each chorus came in softer than the verse bars before it (30 of 30
    # entries on the sample timeline; listening review).
    swell = SWELL * (np.sin(np.pi * phase) - 2 / np.pi)
    if len(grid.bars) >= 2:
        last_bar = grid.end_beat - grid.bars[-1]
        swell[last_bar:] -= SWELL * np.arange(1, grid.bars[-1] + 1) / grid.bars[-1]
    return swell


def _positions(grid: Grid) -> list[tuple[int, int, int]]:
    return [tuple(row) for row in grid.beat_positions.tolist()]


def _pattern_beats(grid: Grid) -> np.ndarray:
    """Per beat, the beat of a 4/4 bar whose pattern it plays: its own, and for the fifth beat of a
    5/4 bar the third's (a 3/4 bar plays the first three of 4/4)."""
    return np.array([pos if pos < BEATS_PER_BAR else 2 for _, pos, _ in _positions(grid)])


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
    form: Form | None = None,
    intensity: Sequence[float] | np.ndarray | None = None,
    end_seconds: float | None = None,
    style: Style | None = None,
) -> Arrangement:
    """Arrange one chord id per half-bar step (normalised C major / A minor space) in ``key``.

    ``density`` and ``loudness`` are per step (or one constant for all steps); ``grid`` gives the
    steps' onsets and scene cuts (default: regular half bars at ``tempo``, no cuts); ``form`` the
    sections (default: none, every part plays at the density's level, ``PLAIN``); ``melody``, if
    given, becomes the Melody track; ``intensity`` (0-1 per step, ``compose.energy``) moves every
    velocity by up to ``ENERGY_VELOCITY`` either side, so the level rises and falls with the video;
    ``end_seconds`` is where the picture ends: the final chord holds to it (or the music stops
    there, if the picture is shorter than the grid); ``style`` how the parts play
    (``compose.styles``, default pop). See the module docstring for timing and
    textures. Raises UserError for out-of-range input before
    any work.
    """
    key = vocab.parse_key(key) if isinstance(key, str) else key
    ids, density, loudness, grid = _validate(chords, density, loudness, tempo, grid)
    planned = form is not None
    form = form or Form.single(len(grid.bars))
    if form.bars != len(grid.bars):
        raise UserError(f"a form of {form.bars} bars for music of {len(grid.bars)} bars")
    instruments = instruments or Instruments()
    style = style or style_named(None)
    end_beat = grid.end_beat
    bar_of_beat = np.array([bar for bar, _, _ in _positions(grid)])
    bar_sections = form.section_of_bar()
    sections = [bar_sections[b] for b in bar_of_beat]
    # One section has nothing to contrast with: every part plays, as in a piece without a form.
    contrasted = planned and len(form.sections) > 1
    textures = [TEXTURES[s.name] if contrasted else PLAIN for s in sections]
    beat_steps = grid.beat_steps
    levels = density_levels(density)[beat_steps]
    for beat, texture in enumerate(textures):
        levels[beat] = int(np.clip(levels[beat] + texture.level_offset, *texture.levels))
    if len(grid.bars) >= 2:
        levels[end_beat - grid.bars[-1] :] = 0  # the last bar rings out over the final chord
    energy = np.zeros(end_beat)
    if intensity is not None:
        energy = ENERGY_VELOCITY * (2.0 * _per_step("intensity", intensity, len(ids))[beat_steps] - 1.0)
    beats = Beats(
        textures,
        [s.lift for s in sections],
        levels,
        loudness[beat_steps],
        _swell(grid, form) + energy,
        _pattern_beats(grid),
    )

    lead = _melody_part(melody, key, beats, grid) if melody is not None else None
    ceilings = _ceilings(lead, form, bar_of_beat)
    spans = _chord_spans(ids, key, grid, form)
    pads = _pad_voicings(spans, beats, ceilings)
    pad_notes, pad_controls = pad_part(spans, pads, beats, style)
    parts = [
        Part("Chords", 0, instruments.chords, pan=50, notes=pad_notes, controls=pad_controls),
        Part(
            "Arpeggio",
            1,
            instruments.arpeggio,
            pan=80,
            notes=arpeggio_part(spans, pads, beats, ceilings, style),
        ),
        Part("Bass", 2, instruments.bass, notes=bass_part(spans, beats, style)),
    ]
    if drums:
        starts = [grid.bar_starts[s.first_bar] for s in form.sections[1:]]
        final = end_beat - grid.bars[-1] if len(grid.bars) >= 2 else None
        feels = [t.drums for t in textures]
        builds = frozenset(
            beat
            for s in form.sections
            if contrasted and TEXTURES[s.name].drums == "build"
            for beat in range(
                grid.bar_starts[s.end_bar - 1], grid.bar_starts[s.end_bar - 1] + grid.bars[s.end_bar - 1]
            )
        )
        cut_beats = frozenset(grid.onsets[s] for s in grid.cut_steps)
        notes = drum_rules.drum_part(
            feels, levels, beats.pattern, starts, final, beats.velocity, builds, style.drums, cut_beats
        )
        if instruments.drums == drum_rules.ORCHESTRAL_KIT:
            notes = drum_rules.for_orchestra(notes, key.tonic)
        parts.append(Part("Drums", drum_rules.DRUM_CHANNEL, instruments.drums, notes=notes))
    if lead is not None:
        parts.append(Part("Melody", MELODY_CHANNEL, instruments.melody, notes=lead))
    for part in parts:
        part.notes = softened(swung(part.notes, style.swing), style.touch)
    marks = [(grid.bar_starts[s.first_bar] * TICKS_PER_BEAT, s.label) for s in form.sections if planned]
    changes = _key_changes(form, key, grid)
    end = end_beat * TICKS_PER_BEAT
    if end_seconds is not None:
        end = max(1, round(end_seconds / grid.seconds_per_beat * TICKS_PER_BEAT))
        spans = _to_end(spans, end_beat * TICKS_PER_BEAT, end)
        last_bar = (end_beat - grid.bars[-1]) * TICKS_PER_BEAT
        for part in parts:
            part.notes = _to_end(part.notes, end_beat * TICKS_PER_BEAT, end, held=part.name != "Drums")
            if part.name not in ("Drums", "Melody"):
                part.notes = _struck_again(part.notes, (last_bar, end_beat * TICKS_PER_BEAT))
    arrangement = Arrangement(
        parts, spans, key, float(tempo), end, meters=grid.meter_changes(), sections=marks,
        key_changes=changes, bar_end=min(end, end_beat * TICKS_PER_BEAT),
    )  # fmt: skip
    logger.debug(
        "arranged %d steps into %d chord spans and %d sections in %s at %g bpm (%s)",
        len(ids), len(spans), len(form.sections), key.name, tempo,
        ", ".join(f"{p.name} {len(p.notes)} notes" for p in parts),
    )  # fmt: skip
    return arrangement


def _to_end(items: list, music_end: int, end: int, held: bool = True) -> list:
    """Notes or chord spans (anything with ``start`` and ``end`` in ticks) made to stop at ``end``
    instead of ``music_end``: those sounding at the music's end, with ``held``, ring on to it
    (the final chord holds while the picture lasts); those past an earlier ``end`` are cut there."""
    out = []
    for item in items:
        if item.start >= end:
            continue
        stop = end if held and item.end == music_end else min(item.end, end)
        out.append(dataclasses.replace(item, end=stop) if stop != item.end else item)
    return out


def _struck_again(notes: list[Note], bar_lines: Sequence[int]) -> list[Note]:
    """``notes`` with each one held over two bars (the final chord ringing on to the picture's
    end) struck again on the ``bar_lines`` (ticks) it sounds across, while it is still that long:
    the final chord arrives afresh for the last bar, so the accompaniment never drones."""
    longest = MAX_PAD_BEATS * TICKS_PER_BEAT
    out = []
    for note in notes:
        for line in bar_lines:
            if note.end - note.start > longest and note.start < line < note.end:
                out.append(dataclasses.replace(note, end=line))
                note = dataclasses.replace(note, start=line)
        out.append(note)
    return out


def _lifted(key: vocab.Key, lift: int) -> vocab.Key:
    return vocab.Key((key.tonic + lift) % 12, key.mode) if lift else key


def _key_changes(form: Form, key: vocab.Key, grid: Grid) -> list[tuple[int, vocab.Key]]:
    """(tick, key) wherever a section's lift differs from the section before."""
    changes, lift = [], 0
    for section in form.sections:
        if section.lift != lift:
            changes.append((grid.bar_starts[section.first_bar] * TICKS_PER_BEAT, _lifted(key, section.lift)))
            lift = section.lift
    return changes


def _melody_part(melody: Sequence[MelodyNote], key: vocab.Key, beats: Beats, grid: Grid) -> list[Note]:
    """The melody in ``key`` (a lifted section's notes lifted with it): sixteenths to ticks,
    velocity from the dynamics, shaped as a singer phrases: beats 1 and 3 stressed, notes off the
    beat lighter, high notes louder than low ones."""
    sixteenth = TICKS_PER_BEAT // 4
    centre = float(np.median([n.pitch for n in melody])) if melody else 0.0
    notes = []
    for note in melody:
        beat = note.start // 4
        if not 0 <= note.start < note.end <= 4 * grid.end_beat:
            raise UserError(f"melody note {note} lies outside the {grid.end_beat} beats of the music")
        on_beat = note.start % 4 == 0
        accent = MELODY_ACCENTS[0 if on_beat and beats.pattern[beat] % 2 == 0 else 1 if on_beat else 2]
        contour = int(np.clip(round(note.pitch - centre), -MELODY_CONTOUR, MELODY_CONTOUR))
        vel = beats.velocity(beat, MELODY_LIFT + accent + contour)
        pitch = note.pitch + key.transpose + beats.lifts[beat]
        notes.append(Note(pitch, note.start * sixteenth, note.end * sixteenth, vel))
    return notes


def _ceilings(lead: list[Note] | None, form: Form, bar_of_beat: np.ndarray) -> np.ndarray:
    """Per beat, the highest pitch the accompaniment may use: under the bar's lowest melody note
    (a bar where the melody rests takes its section's lowest; a section without one is free)."""
    lowest: dict[int, int] = {}
    for note in lead or ():
        for beat in range(note.start // TICKS_PER_BEAT, (note.end - 1) // TICKS_PER_BEAT + 1):
            bar = int(bar_of_beat[min(beat, len(bar_of_beat) - 1)])
            lowest[bar] = min(lowest.get(bar, note.pitch), note.pitch)
    for section in form.sections:
        sung = [lowest[b] for b in range(section.first_bar, section.end_bar) if b in lowest]
        for bar in range(section.first_bar, section.end_bar):
            if sung and bar not in lowest:
                lowest[bar] = min(sung)
    return np.array([voicing.ceiling(lowest.get(int(bar))) for bar in bar_of_beat])


def _chord_spans(ids: list[int], key: vocab.Key, grid: Grid, form: Form) -> list[ChordSpan]:
    """Runs of one chord on the grid, split at section starts, in ``key`` (lifted where a section
    is) and spelled for it."""
    starts = {grid.bar_starts[s.first_bar]: s for s in form.sections}
    bar_sections = form.section_of_bar()
    spans = []
    for start, end, cid in grid.spans(ids):
        cuts = [start] + [b for b in sorted(starts) if start < b < end] + [end]
        for a, b in zip(cuts[:-1], cuts[1:], strict=True):
            section = bar_sections[grid.position(a)[0]]
            here = _lifted(key, section.lift)
            chord = vocab.transpose_chord(cid, here.transpose)
            spans.append(
                ChordSpan(chord, vocab.chord_symbol(chord, here), a * TICKS_PER_BEAT, b * TICKS_PER_BEAT)
            )
    return spans


def _pad_voicings(spans: list[ChordSpan], beats: Beats, ceilings: np.ndarray) -> list[tuple[int, ...] | None]:
    """The pad's voicing of each span (None for ``N``), each led from the one before, under the
    melody's ceiling over the span."""
    voicings: list[tuple[int, ...] | None] = []
    previous = None
    for span in spans:
        if span.chord == vocab.N_ID:
            voicings.append(None)
            continue
        top = min(voicing.PAD_RANGE[1], int(ceilings[list(beats_of(span))].min()))
        previous = voicing.lead_voices(previous, span.chord, top)
        voicings.append(previous)
    return voicings
