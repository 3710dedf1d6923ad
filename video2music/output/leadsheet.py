"""A lead sheet: the melody with chord symbols, key, tempo and meter, as MusicXML (music21).

The arrangement's Melody track becomes the staff (rests where it is silent, ties across bar
lines) and each chord span a chord symbol at its onset, spelled for the key; the meter changes
where the arrangement's does (a 3/4 or 5/4 bar that puts a scene cut on a downbeat). Without a melody
the staff holds rests under the chord symbols: a chord chart. MuseScore, Finale, Sibelius and
Dorico open the file.
"""

from __future__ import annotations

import os
from fractions import Fraction

from video2music.compose.arrangement import Arrangement
from video2music.theory import vocab

# The vocabulary's qualities as MusicXML <kind> values.
KINDS = {
    "maj": "major",
    "min": "minor",
    "dim": "diminished",
    "aug": "augmented",
    "sus2": "suspended-second",
    "sus4": "suspended-fourth",
    "7": "dominant",
    "maj7": "major-seventh",
    "min7": "minor-seventh",
    "dim7": "diminished-seventh",
    "hdim7": "half-diminished",
    "maj6": "major-sixth",
    "min6": "minor-sixth",
}


def _music21_name(name: str) -> str:
    """``Bb`` as music21 spells it (``B-``)."""
    return name[0] + name[1:].replace("b", "-")


def lead_sheet(arrangement: Arrangement, title: str = "video2music"):
    """The lead sheet of ``arrangement`` as a music21 Score."""
    from music21 import harmony, key, metadata, meter, note, stream, tempo

    quarter = Fraction(1, arrangement.ticks_per_beat)
    part = stream.Part()
    part.partName = "Melody"
    part.insert(0, tempo.MetronomeMark(number=arrangement.tempo))
    for beat, beats in arrangement.meters:
        part.insert(beat, meter.TimeSignature(f"{beats}/4"))
    part.insert(0, key.Key(_music21_name(arrangement.key.tonic_name), arrangement.key.mode))
    for span in arrangement.spans:
        if span.chord == vocab.N_ID:
            part.insert(span.start * quarter, harmony.NoChord())
            continue
        quality = vocab.chord_quality(span.chord)
        root = vocab.chord_root_name(vocab.chord_root(span.chord), quality, arrangement.key)
        symbol = harmony.ChordSymbol(root=_music21_name(root), kind=KINDS[quality])
        part.insert(span.start * quarter, symbol)
    melody = next((p for p in arrangement.parts if p.name == "Melody"), None)
    now = 0
    for item in sorted(melody.notes if melody else [], key=lambda n: n.start):
        if item.start > now:
            part.insert(now * quarter, note.Rest(quarterLength=(item.start - now) * quarter))
        played = note.Note(item.pitch, quarterLength=(item.end - item.start) * quarter)
        played.volume.velocity = item.velocity
        part.insert(item.start * quarter, played)
        now = item.end
    if arrangement.end > now:
        part.insert(now * quarter, note.Rest(quarterLength=(arrangement.end - now) * quarter))
    score = stream.Score()
    score.metadata = metadata.Metadata(title=title)
    score.insert(0, part)
    return score


def write_lead_sheet(arrangement: Arrangement, path: str | os.PathLike, title: str = "video2music") -> None:
    """Write the lead sheet of ``arrangement`` to ``path`` (``.musicxml``)."""
    score = lead_sheet(arrangement, title)
    score.write("musicxml", fp=str(path), makeNotation=True)
