"""The arranged music as data, and the standard MIDI file it becomes.

An ``Arrangement`` holds named parts (each a MIDI channel, a General MIDI program and notes in
ticks), the chord spans, the key (and any key changes), the tempo, the meters and the song's
section marks. ``to_midi`` writes a type-1 file a DAW opens as it is: a conductor track with the
tempo, every meter and key change, a marker with each chord's name at its onset and a marker
with each section's name ("Verse 1", "Chorus 2") at its first bar, then one track per part.
"""

from __future__ import annotations

import io
import os
import re
from dataclasses import dataclass, field
from pathlib import Path

import mido
import pretty_midi

from video2music.theory import vocab
from video2music.theory.form import NAMES as SECTION_NAMES
from video2music.theory.grid import BEATS_PER_BAR
from video2music.utils.fileio import atomic_output

TICKS_PER_BEAT = 480
# Effect sends per part, (reverb CC91, chorus CC93), set as a mixing engineer would: the bass and
# the kit (its kick) stay dry and close so the low end keeps its punch, the pad and the lead sit
# further back in the room, and the chorus widens the sustained parts only.
SENDS = {"Chords": (72, 40), "Arpeggio": (48, 16), "Bass": (16, 0), "Drums": (28, 0), "Melody": (56, 24)}
DEFAULT_SENDS = (40, 0)  # a part not named above
REVERB_CC, CHORUS_CC = 91, 93
# Track volume (CC7): General MIDI's default 100 for the accompaniment, the lead at the top, about
# 4 dB above it, so it is heard over a full chorus without louder (harder-sounding) velocities.
VOLUME_CC = 7
VOLUMES = {"Melody": 127}
DEFAULT_VOLUME = 100
_SECTION_LABEL = re.compile(rf"^({'|'.join(n.capitalize() for n in SECTION_NAMES)}) \d+$")


def is_section_label(text: str) -> bool:
    """Whether a marker's text names a section ("Verse 1") rather than a chord."""
    return bool(_SECTION_LABEL.match(text))


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
    controls: list[tuple[int, int, int]] = field(default_factory=list)  # (tick, controller, value)


@dataclass(frozen=True)
class ChordSpan:
    """A chord (id in the output key; ``N`` = silence) from ``start`` to ``end`` in ticks."""

    chord: int
    label: str
    start: int
    end: int


@dataclass
class Arrangement:
    """The arranged music: parts, chord spans (the markers), sections and the global settings."""

    parts: list[Part]
    spans: list[ChordSpan]
    key: vocab.Key
    tempo: float
    end: int  # ticks
    ticks_per_beat: int = TICKS_PER_BEAT
    meters: list[tuple[int, int]] = field(default_factory=lambda: [(0, BEATS_PER_BAR)])  # (beat, beats a bar)
    sections: list[tuple[int, str]] = field(default_factory=list)  # (tick, "Verse 1")
    key_changes: list[tuple[int, vocab.Key]] = field(default_factory=list)  # (tick, key) after the first
    bar_end: int | None = None  # the last bar line (ticks), where the final chord may ring on past to end

    @property
    def bars_end(self) -> int:
        """Where the written bars end: the last bar line, or the end."""
        return self.end if self.bar_end is None else self.bar_end

    def part(self, name: str) -> Part:
        return next(p for p in self.parts if p.name == name)

    def to_midi(self) -> mido.MidiFile:
        """A type-1 MIDI file: a conductor track (tempo, meters, keys, markers) and one track a part."""
        midi = mido.MidiFile(type=1, ticks_per_beat=self.ticks_per_beat)
        conductor: list[tuple[int, int, mido.Message | mido.MetaMessage]] = [
            (0, 0, mido.MetaMessage("track_name", name="video2music")),
            (0, 0, mido.MetaMessage("set_tempo", tempo=mido.bpm2tempo(self.tempo))),
            (0, 0, mido.MetaMessage("key_signature", key=self.key.midi_name)),
        ]
        conductor += [
            (tick, 0, mido.MetaMessage("key_signature", key=k.midi_name)) for tick, k in self.key_changes
        ]
        conductor += [
            (
                beat * self.ticks_per_beat,
                0,
                mido.MetaMessage("time_signature", numerator=beats, denominator=4),
            )
            for beat, beats in self.meters
        ]
        conductor += [(tick, 1, mido.MetaMessage("marker", text=label)) for tick, label in self.sections]
        conductor += [(s.start, 1, mido.MetaMessage("marker", text=s.label)) for s in self.spans]
        midi.tracks.append(_track(conductor, self.end))
        for part in self.parts:
            events: list[tuple[int, int, mido.Message | mido.MetaMessage]] = [
                (0, 0, mido.MetaMessage("track_name", name=part.name)),
                (0, 0, mido.Message("program_change", channel=part.channel, program=part.program)),
                (0, 0, mido.Message("control_change", channel=part.channel, control=10, value=part.pan)),
            ]
            reverb, chorus = SENDS.get(part.name, DEFAULT_SENDS)
            volume = VOLUMES.get(part.name, DEFAULT_VOLUME)
            events += [
                (0, 0, mido.Message("control_change", channel=part.channel, control=VOLUME_CC, value=volume)),
                (0, 0, mido.Message("control_change", channel=part.channel, control=REVERB_CC, value=reverb)),
                (0, 0, mido.Message("control_change", channel=part.channel, control=CHORUS_CC, value=chorus)),
            ]
            events += [
                (tick, 1, mido.Message("control_change", channel=part.channel, control=cc, value=value))
                for tick, cc, value in part.controls
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
        message.time = tick - now  # each message was made for this track (a copy would check it again)
        track.append(message)
        now = tick
    track.append(mido.MetaMessage("end_of_track", time=max(0, end - now)))
    return track


def write_midi(arrangement: Arrangement, path: str | os.PathLike, overwrite: bool = False) -> Path:
    """Write ``arrangement`` as a standard MIDI file (atomically; refuses to replace a file unless
    ``overwrite``)."""
    with atomic_output(path, overwrite) as tmp:
        arrangement.to_midi().save(tmp)
    return Path(path)
