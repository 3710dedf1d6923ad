"""The accompaniment's notes: the pad, the arpeggio and the bass, as a style plays them.

Every part reads the per-beat controls (``compose.texture.Beats``: texture, level, velocity) and
the voicings of ``compose.voicing``; the style (``compose.styles``) picks the figure:

* pad: ``held`` chords (a tone two chords share tied over, no note longer than two bars),
  ``swell`` (held, its voices entering from the bottom up a beat apart, with an expression
  swell through each chord), ``stabs`` (short chords on beat 1 and the "and" of 3), ``pulse``
  (short chords on the off-beat eighths, as house music pumps) or ``strum`` (eighth-note strums,
  down and up, each chord rolled);
* arpeggio: ``broken`` (by the density level: half notes, quarters, broken eighths, up-and-down
  eighths, sixteenths), ``sparse`` (the top tones on beats 1 and 3, and the "and" of 3 when busy),
  ``sixteenths`` (four tones rising, again and again), ``ostinato`` (root, fifth, octave, fifth
  in eighths, low) or ``picked`` (a fingerpicked eighth-note pattern, thumb on the beat);
* bass: ``pop`` (roots and fifths, busier with the level, octaves in a chorus), ``swung`` (the root
  on 1 and the fifth on the "and" of 3), ``octaves`` (eighths between the root and its octave) or
  ``long`` (a root for each chord, with the octave in a chorus).

``swung`` delays every off-beat eighth towards the triplet, for a style that swings.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from video2music.compose import voicing
from video2music.compose.arrangement import TICKS_PER_BEAT, ChordSpan, Note
from video2music.compose.styles import Style
from video2music.compose.texture import Beats
from video2music.theory import vocab
from video2music.theory.grid import BEATS_PER_BAR

MAX_PAD_BEATS = 2 * BEATS_PER_BAR  # no pad note lasts longer
EXPRESSION_CC = 11
SWELL_RANGE = (56, 112)  # expression at a swelling chord's start and at its peak
STRUM_SPREAD = 12  # ticks between the strings of a strum
# A strum pattern over a 4/4 bar: (eighth of the bar, down or up).
STRUMS = ((0, "down"), (2, "down"), (3, "up"), (5, "up"), (6, "down"), (7, "up"))
EIGHTH = TICKS_PER_BEAT // 2


def beats_of(span: ChordSpan) -> range:
    return range(span.start // TICKS_PER_BEAT, span.end // TICKS_PER_BEAT)


# ----------------------------------------------------------------------------- pad


def pad_part(
    spans: list[ChordSpan], pads: list[tuple[int, ...] | None], beats: Beats, style: Style
) -> tuple[list[Note], list[tuple[int, int, int]]]:
    """The Chords track's notes and its controller events (tick, controller, value)."""
    if style.pad == "stabs":
        return _stabs(spans, pads, beats), []
    if style.pad == "strum":
        return _strums(spans, pads, beats), []
    if style.pad == "pulse":
        return _pulses(spans, pads, beats), []
    notes = _held(spans, pads, beats)
    if style.pad == "swell":
        return _unfolded(notes), _swells(spans, pads, beats)
    return notes, []


def _playing(spans: list[ChordSpan], pads: list[tuple[int, ...] | None], beats: Beats):
    for span, pad in zip(spans, pads, strict=True):
        if pad is not None and beats.texture(span.start // TICKS_PER_BEAT).pad:
            yield span, pad


def _held(spans: list[ChordSpan], pads: list[tuple[int, ...] | None], beats: Beats) -> list[Note]:
    notes: list[Note] = []
    held: dict[int, int] = {}  # pitch -> index in notes of the note still sounding
    longest = MAX_PAD_BEATS * TICKS_PER_BEAT
    previous_end = -1
    for span, pad in _playing(spans, pads, beats):
        # The final chord is struck afresh: it is the cadence's arrival, and it holds on to the
        # picture's end, which a tone tied into it would stretch past two bars.
        if span.start != previous_end or span is spans[-1]:
            held = {}
        vel = beats.velocity(span.start // TICKS_PER_BEAT, -8)  # a pad sits under the rest
        sounding: dict[int, int] = {}
        for pitch in pad:
            if pitch in held and span.end - notes[held[pitch]].start <= longest:
                index = held[pitch]  # a common tone is tied over, while it stays short of two bars
                notes[index] = dataclasses.replace(notes[index], end=span.end)
            else:
                index = len(notes)
                notes.append(Note(pitch, span.start, span.end, vel))
            sounding[pitch] = index
        held, previous_end = sounding, span.end
    return _restruck(notes, longest)


def _restruck(notes: list[Note], longest: int) -> list[Note]:
    """Notes longer than ``longest`` ticks struck again every ``longest`` ticks (an edited chord
    held for bars: the pad does not drone)."""
    out = []
    for note in notes:
        for start in range(note.start, note.end, longest):
            out.append(dataclasses.replace(note, start=start, end=min(start + longest, note.end)))
    return out


def _unfolded(notes: list[Note]) -> list[Note]:
    """The notes struck together entering one by one from the lowest, a beat apart (strings that
    unfold a chord), each still ending where it did and sounding at least an eighth."""
    struck: dict[int, list[int]] = {}
    for index, note in enumerate(notes):
        struck.setdefault(note.start, []).append(index)
    out = list(notes)
    for indices in struck.values():
        for rank, index in enumerate(sorted(indices, key=lambda i: notes[i].pitch)):
            note = notes[index]
            start = min(note.start + rank * TICKS_PER_BEAT, max(note.start, note.end - EIGHTH))
            out[index] = dataclasses.replace(note, start=start)
    return out


def _pulses(spans: list[ChordSpan], pads: list[tuple[int, ...] | None], beats: Beats) -> list[Note]:
    """Short chords on the "and" of every beat (of 2 and 4 only at the calmest level)."""
    notes = []
    for span, pad in _playing(spans, pads, beats):
        for beat in beats_of(span):
            if int(beats.levels[beat]) == 0 and int(beats.pattern[beat]) % 2 == 0:
                continue
            start = beat * TICKS_PER_BEAT + EIGHTH
            if start < span.end:
                vel = beats.velocity(beat, -6)
                notes += [Note(p, start, min(start + EIGHTH, span.end), vel) for p in pad]
    return notes


def _swells(
    spans: list[ChordSpan], pads: list[tuple[int, ...] | None], beats: Beats
) -> list[tuple[int, int, int]]:
    """Expression rising through each chord to its peak two thirds of the way, then easing."""
    low, high = SWELL_RANGE
    events = []
    for span, _ in _playing(spans, pads, beats):
        length = span.end - span.start
        for tick in range(span.start, span.end, EIGHTH):
            phase = (tick - span.start) / length
            rise = min(phase / (2 / 3), 1.0) - max(phase - 2 / 3, 0.0) * 0.9
            events.append((tick, EXPRESSION_CC, int(round(low + (high - low) * rise))))
    return events


def _stabs(spans: list[ChordSpan], pads: list[tuple[int, ...] | None], beats: Beats) -> list[Note]:
    notes = []
    for span, pad in _playing(spans, pads, beats):
        for beat in beats_of(span):
            place = int(beats.pattern[beat])
            hits = {0: [(0, TICKS_PER_BEAT)], 2: [(EIGHTH, EIGHTH)]}.get(place, [])
            for offset, length in hits:
                start = beat * TICKS_PER_BEAT + offset
                vel = beats.velocity(beat, -4 if offset == 0 else -8)
                notes += [Note(p, start, min(start + length, span.end), vel) for p in pad]
    return notes


def _strums(spans: list[ChordSpan], pads: list[tuple[int, ...] | None], beats: Beats) -> list[Note]:
    notes = []
    for span, pad in _playing(spans, pads, beats):
        strums = []
        for beat in beats_of(span):
            place = int(beats.pattern[beat])
            for eighth, direction in STRUMS:
                calm = int(beats.levels[beat]) == 0 and eighth % 4  # the calmest level: beats 1 and 3
                if eighth // 2 == place and not calm:
                    strums.append((beat * TICKS_PER_BEAT + (eighth % 2) * EIGHTH, direction, beat))
        if not strums or strums[0][0] != span.start:  # a chord arrives with a strum
            strums.insert(0, (span.start, "down", span.start // TICKS_PER_BEAT))
        ends = [t for t, _, _ in strums[1:]] + [span.end]
        for (start, direction, beat), end in zip(strums, ends, strict=True):
            order = pad if direction == "down" else pad[::-1]
            vel = beats.velocity(beat, -2 if direction == "down" else -10)
            for string, pitch in enumerate(order):
                notes.append(Note(pitch, min(start + string * STRUM_SPREAD, end - 1), end, vel))
    return notes


# ----------------------------------------------------------------------------- arpeggio

# Arpeggio per level: steps per beat, how many chord tones, and the order of tones.
_BROKEN = {
    1: (1, 3, "up"),
    2: (2, 4, "broken"),
    3: (2, 5, "updown"),
    4: (4, 6, "updown"),
}


def _order(shape: str, count: int) -> list[int]:
    if shape == "up":
        return list(range(count))
    if shape == "broken" and count >= 3:
        return [0, 2, 1, 2]  # root, fifth, third, fifth: the Alberti figure
    if shape == "picked" and count >= 3:
        return [0, 2, 1, 2, 0, 2, 1, min(3, count - 1)]  # thumb on the beat, fingers between
    if shape == "ostinato" and count >= 3:
        return [0, 1, 2, 1]
    return list(range(count)) + list(range(count - 2, 0, -1))


def _figure(style: Style, level: int, place: int) -> tuple[int, int, str, int] | None:
    """(steps in the beat, chord tones, shape, beats a step lasts if not a fraction) of one beat
    of the arpeggio, or None when it rests on this beat of the bar (``place``)."""
    if style.arpeggio == "sparse":
        if place == 0 or place == 2:
            return (1 if level < 2 or place == 0 else 2), 3, "updown", 1
        return None
    if style.arpeggio == "sixteenths":  # a synth's rising arpeggio, not pop's up-and-down
        return (4 if level >= 1 else 2), 4, "up", 1
    if style.arpeggio == "ostinato":
        return (2 if level >= 1 else 1), 3, "ostinato", 1
    if style.arpeggio == "picked":
        return (2 if level >= 1 else 1), 4, "picked", 1
    if level == 0:
        return (1, 3, "up", 2) if place % 2 == 0 else None  # half notes: even a still shot moves
    steps, count, shape = _BROKEN[level]
    return steps, count, shape, 1


def arpeggio_part(
    spans: list[ChordSpan],
    pads: list[tuple[int, ...] | None],
    beats: Beats,
    ceilings: np.ndarray,
    style: Style,
) -> list[Note]:
    notes: list[Note] = []
    step_index = 0  # the figure runs on across chord changes instead of restarting on each
    for span, pad in zip(spans, pads, strict=True):
        if pad is None:
            continue
        for beat in beats_of(span):
            texture, level = beats.texture(beat), int(beats.levels[beat])
            figure = _figure(style, level, int(beats.pattern[beat])) if texture.arpeggio else None
            if figure is None:
                continue
            steps, count, shape, span_beats = figure
            top = int(ceilings[beat])
            if style.arpeggio == "ostinato":  # low and close, under the pad's top
                top = min(top, (pad[0] if texture.pad else voicing.ARPEGGIO_FLOOR) + 12)
            tones = voicing.arpeggio_tones(span.chord, pad if texture.pad else None, top, count)
            if not tones:
                continue
            order = _order(shape, len(tones))
            length = TICKS_PER_BEAT * span_beats // steps
            for step in range(steps):
                start = beat * TICKS_PER_BEAT + step * length
                accent = 6 if step == 0 else 0
                pitch = tones[order[step_index % len(order)] % len(tones)]
                end = min(start + length, span.end)  # a half note in a 3/4 bar's last beat
                notes.append(Note(pitch, start, end, beats.velocity(beat, accent - 4)))
                step_index += 1
    return notes


# ----------------------------------------------------------------------------- bass


def _bass_figure(style: Style, level: int, place: int, octaves: bool) -> list[tuple[int, str]]:
    """(tick offset in the beat, chord degree) onsets of the bass line on one beat."""
    if style.bass == "long":
        return []  # the chord's note on arrival, held
    if style.bass == "swung":
        return {0: [(0, "bass")], 2: [(EIGHTH, "fifth")]}.get(place, [])
    if style.bass == "octaves":
        if level == 0:
            return [(0, "bass")]
        return [(0, "bass"), (EIGHTH, "octave")]
    if level == 0:
        return [(0, "bass")] if place == 0 else []
    if level <= 2 and not octaves:
        return {0: [(0, "bass")], 2: [(0, "fifth")]}.get(place, [])
    if level <= 3:
        return [(0, ("bass", "fifth", "octave", "fifth")[place])]
    return [(0, "bass"), (EIGHTH, "octave" if place % 2 else "bass")]


def bass_part(spans: list[ChordSpan], beats: Beats, style: Style) -> list[Note]:
    notes: list[Note] = []
    previous, inversions, changes = voicing.BASS_CENTRE, 0, 0
    for span in spans:
        if span.chord == vocab.N_ID:
            continue
        final = span is spans[-1]
        bass = voicing.bass_note(span.chord, previous, inversions, changes)
        if final:  # the piece comes to rest on the chord's root
            bass -= (bass - vocab.chord_root(span.chord)) % 12
            bass += 12 if bass < voicing.BASS_RANGE[0] else 0
        held = final and span.end - span.start <= MAX_PAD_BEATS * TICKS_PER_BEAT  # one note to the end
        changes += 1
        inversions += bass % 12 != vocab.chord_root(span.chord)
        root = bass - (bass - vocab.chord_root(span.chord)) % 12
        fifth = root + vocab.QUALITY_INTERVALS[vocab.chord_quality(span.chord)][2]
        degrees = {
            "bass": bass,
            "fifth": fifth if fifth >= voicing.BASS_RANGE[0] else fifth + 12,
            "octave": root + 12,
        }
        onsets: list[tuple[int, int, int]] = []
        for beat in beats_of(span) if not held else ():
            texture = beats.texture(beat)
            figure = _bass_figure(
                style, int(beats.levels[beat]), int(beats.pattern[beat]), texture.octave_bass
            )
            for offset, degree in figure:
                onsets.append((beat * TICKS_PER_BEAT + offset, degrees[degree], beat))
        if not onsets or onsets[0][0] != span.start:  # a chord always sounds its bass note on arrival
            onsets.insert(0, (span.start, bass, span.start // TICKS_PER_BEAT))
        else:
            onsets[0] = (span.start, bass, onsets[0][2])
        ends = [t for t, _, _ in onsets[1:]] + [span.end]
        for (start, pitch, beat), end in zip(onsets, ends, strict=True):
            accent = 4 if start == span.start else 0
            notes.append(Note(pitch, start, end, beats.velocity(beat, accent)))
            if style.bass == "long" and beats.texture(beat).octave_bass:
                notes.append(Note(pitch + 12, start, end, beats.velocity(beat, accent - 6)))
        previous = bass
    return notes


# ----------------------------------------------------------------------------- swing


def swung(notes: list[Note], amount: float) -> list[Note]:
    """``notes`` with every start and end on an off-beat eighth delayed by ``amount`` of the way
    to the triplet (two thirds of the beat)."""
    if amount <= 0:
        return notes
    delay = round(amount * TICKS_PER_BEAT / 6)

    def moved(tick: int) -> int:
        return tick + delay if tick % TICKS_PER_BEAT == EIGHTH else tick

    return [
        dataclasses.replace(n, start=moved(n.start), end=max(moved(n.end), moved(n.start) + 1)) for n in notes
    ]


def softened(notes: list[Note], touch: float) -> list[Note]:
    """``notes`` with every velocity scaled by ``touch`` (a style played softly: 1 leaves them)."""
    if touch == 1.0:
        return notes
    return [dataclasses.replace(n, velocity=max(1, round(n.velocity * touch))) for n in notes]
