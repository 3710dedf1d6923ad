"""Humanised playback: a copy of a MIDI file played as a person plays it, a little off the grid.

No player strikes on the exact tick or twice at the same strength. Each note's onset moves by a
few milliseconds (normal, TIMING_MS standard deviation, never more than TIMING_LIMIT_MS) and its
velocity by a few percent (VELOCITY_SPREAD, log-normal, so soft and loud notes vary alike). The
note keeps its length, except that it ends before the next strike of its key on its channel, so
a repeated note is never cut by the one before. Everything else in the file (tempo, meter,
markers, programs, controllers) stays where it was.

The deviations come from a random stream keyed by the seed alone, so the same seed gives the
same performance, and so the same WAV. The writer renders this copy and, unless asked
(``--humanize-midi``), saves the MIDI on the grid for a DAW.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass

import mido
import numpy as np

from video2music.model.sampling import generator_seed

TIMING_MS = 6.0
TIMING_LIMIT_MS = 15.0
VELOCITY_SPREAD = 0.07  # standard deviation of the velocity's natural log: about 7%
_STREAM = 0x6875  # keys this random stream apart from the others a seed drives


@dataclass
class _Note:
    channel: int
    pitch: int
    velocity: int
    start: int  # ticks
    end: int


def humanize(midi: mido.MidiFile, seed: int) -> mido.MidiFile:
    """A copy of ``midi`` with its notes' timing and velocity varied as a player would (see the
    module); ``midi`` itself is left as it was."""
    rng = np.random.default_rng([_STREAM, generator_seed(seed)])  # any whole number, as the models take
    ticks_per_ms = _ticks_per_ms(midi)
    played = mido.MidiFile(type=midi.type, ticks_per_beat=midi.ticks_per_beat)
    for track in midi.tracks:
        others, notes, end = _split(track)
        shifts = rng.normal(0.0, TIMING_MS, len(notes)).clip(-TIMING_LIMIT_MS, TIMING_LIMIT_MS)
        scales = np.exp(rng.normal(0.0, VELOCITY_SPREAD, len(notes)))
        for note, shift, scale in zip(notes, shifts, scales, strict=True):
            moved = round(shift * ticks_per_ms(note.start))
            note.start, note.end = max(0, note.start + moved), max(0, note.end + moved)
            note.velocity = int(np.clip(round(note.velocity * scale), 1, 127))
        _keep_strikes_apart(notes)
        played.tracks.append(_joined(others, notes, end))
    return played


def _ticks_per_ms(midi: mido.MidiFile) -> Callable[[int], float]:
    """Ticks per millisecond at a tick, from the file's tempo map."""
    changes = sorted(
        (tick, message.tempo)
        for track in midi.tracks
        for tick, message in _absolute(track)
        if message.type == "set_tempo"
    )
    ticks = np.array([0] + [tick for tick, _ in changes])
    tempos = np.array([mido.bpm2tempo(120)] + [tempo for _, tempo in changes])  # MIDI's default tempo

    def at(tick: int) -> float:
        tempo = tempos[np.searchsorted(ticks, tick, side="right") - 1]
        return midi.ticks_per_beat * 1000.0 / float(tempo)

    return at


def _absolute(track: mido.MidiTrack) -> list[tuple[int, mido.Message]]:
    now, timed = 0, []
    for message in track:
        now += message.time
        timed.append((now, message))
    return timed


def _split(track: mido.MidiTrack) -> tuple[list[tuple[int, mido.Message]], list[_Note], int]:
    """The track's messages that are not notes (with their ticks), its notes in the order they
    are struck (each note-on paired with the first release of its key after it), and its end."""
    others: list[tuple[int, mido.Message]] = []
    notes: list[_Note] = []
    sounding: dict[tuple[int, int], list[_Note]] = {}
    end = 0
    for tick, message in _absolute(track):
        end = tick
        if message.type == "note_on" and message.velocity > 0:
            note = _Note(message.channel, message.note, message.velocity, tick, tick)
            notes.append(note)
            sounding.setdefault((message.channel, message.note), []).append(note)
        elif message.type in ("note_on", "note_off"):
            held = sounding.get((message.channel, message.note))
            if held:
                held.pop(0).end = tick
        elif message.type != "end_of_track":
            others.append((tick, message))
    for held in sounding.values():
        for note in held:  # never released: it sounds to the end of the track
            note.end = end
    return others, notes, end


def _keep_strikes_apart(notes: list[_Note]) -> None:
    """Keep the strikes of each key on each channel in their order, a tick apart at least, and
    end each note after its start and no later than the next strike of its key."""
    by_key: dict[tuple[int, int], list[_Note]] = {}
    for note in notes:
        by_key.setdefault((note.channel, note.pitch), []).append(note)
    for strikes in by_key.values():
        for before, after in itertools.pairwise(strikes):
            after.start = max(after.start, before.start + 1)
        for before, after in itertools.pairwise(strikes):
            before.end = min(before.end, after.start)
        for note in strikes:
            note.end = max(note.end, note.start + 1)


def _joined(others: list[tuple[int, mido.Message]], notes: list[_Note], end: int) -> mido.MidiTrack:
    """A track of the other messages and the notes, in time order (at one tick the settings
    first, then releases, then strikes, so a key released and struck again sounds again), ending
    at ``end`` or its last note."""
    events = [(tick, 0, message.copy()) for tick, message in others]  # the score's own are left alone
    for note in notes:
        strike = mido.Message("note_on", channel=note.channel, note=note.pitch, velocity=note.velocity)
        events.append((note.start, 2, strike))
        release = mido.Message("note_off", channel=note.channel, note=note.pitch, velocity=0)
        events.append((note.end, 1, release))
    events.sort(key=lambda event: (event[0], event[1]))
    track = mido.MidiTrack()
    now = 0
    for tick, _, message in events:
        message.time = tick - now  # each message was made for this track (a copy would check it again)
        track.append(message)
        now = tick
    track.append(mido.MetaMessage("end_of_track", time=max(0, end - now)))
    return track
