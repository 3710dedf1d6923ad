"""A lead sheet: the melody with its chord symbols, as the MusicXML a musician opens in MuseScore.

One staff, one voice: the arrangement's Melody track written by ``output.engraving`` (values
grouped by beat, beams per beat, ties only where a note crosses a beat that matters or a chord
change, accidentals only where the bar needs them), a chord symbol over the note or rest where
each chord starts (spelled for the key), the meter changing where the arrangement bends it (a
3/4 or 5/4 bar that puts a scene cut on a downbeat), the tempo mark, and the key signature,
changing where ``keys`` changes it. Without a melody it is a chord chart: the symbols over
rhythm slashes, one a beat.

The page follows a pop lead sheet (a Real Book page): the title from the video's name, a
composer only when one is given, no instrument name, four bars a system (two when they hold
too many notes to fit one), and each section (``sections``: rehearsal marks such as "A" or
"Verse 1") starting a new system after a double bar line. MuseScore 3 opens the file without a
warning; music21 reads it back.
"""

from __future__ import annotations

import bisect
import itertools
import os
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from pathlib import Path

from video2music import __version__
from video2music.compose.arrangement import Arrangement, Part
from video2music.compose.instruments import instrument_name
from video2music.output import engraving
from video2music.output.engraving import BEAT, Bar, Played, Spelled, Written
from video2music.theory import vocab

# The vocabulary's qualities as MusicXML <kind> values (the symbol's text is vocab's suffix).
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
ACCIDENTALS = {-2: "flat-flat", -1: "flat", 0: "natural", 1: "sharp", 2: "double-sharp"}
BARS_PER_SYSTEM = 4  # a Real Book line; a section starts a new one
# The most symbols (notes, rests, accidentals) four bars can hold on one line of MuseScore's
# default A4 page: 40 fit, 44 did not (measured); denser bars go two to a line, so that MuseScore
# does not break the four itself and leave a lone bar stretched over a line.
SYSTEM_WIDTH = 40
SLASH_STEP, SLASH_OCTAVE = "B", 4  # rhythm slashes sit on the treble staff's middle line
HEADER = (
    '<?xml version="1.0" encoding="UTF-8"?>\n'
    '<!DOCTYPE score-partwise PUBLIC "-//Recordare//DTD MusicXML 3.1 Partwise//EN" '
    '"http://www.musicxml.org/dtds/partwise.dtd">\n'
)


def write_lead_sheet(
    arrangement: Arrangement,
    path: str | os.PathLike,
    *,
    title: str = "video2music",
    composer: str | None = None,
    sections: Sequence[tuple[int, str]] | None = None,
    keys: Sequence[tuple[int, vocab.Key]] | None = None,
) -> None:
    """Write the lead sheet of ``arrangement`` to ``path`` (``.musicxml``); see ``musicxml``."""
    Path(path).write_bytes(
        musicxml(arrangement, title=title, composer=composer, sections=sections, keys=keys)
    )


def musicxml(
    arrangement: Arrangement,
    *,
    title: str = "video2music",
    composer: str | None = None,
    sections: Sequence[tuple[int, str]] | None = None,
    keys: Sequence[tuple[int, vocab.Key]] | None = None,
) -> bytes:
    """The lead sheet of ``arrangement`` as a MusicXML document.

    ``sections`` are (bar from 0, label) rehearsal marks, each starting a new system; ``keys``
    are (bar, key) where the key signature changes (the arrangement's key holds until the first;
    the notes are spelled in the key of their bar). Both default to the arrangement's own section
    marks and key changes. Raises ValueError for a bar outside the piece.
    """
    # The written bars end on the last bar line; a final chord ringing on to the picture's end is
    # the last bar's chord held.
    bars = engraving.bars_of(arrangement.meters, -(-arrangement.bars_end // arrangement.ticks_per_beat))
    bar_at = [bar.start for bar in bars]
    sixteenths = arrangement.ticks_per_beat // BEAT

    def bar_of(tick: int) -> int:
        return bisect.bisect_right(bar_at, tick // sixteenths) - 1

    if sections is None:
        sections = [(bar_of(tick), label) for tick, label in arrangement.sections]
    if keys is None:
        keys = [(bar_of(tick), key) for tick, key in arrangement.key_changes]
    for bar, _ in [*sections, *keys]:
        if not 0 <= bar < len(bars):
            raise ValueError(f"bar {bar} lies outside the lead sheet's {len(bars)} bars (counted from 0)")
    sixteenth = arrangement.ticks_per_beat // BEAT
    symbols = [(span.start // sixteenth, span.chord) for span in arrangement.spans]
    key_of_bar = _keys_by_bar(arrangement.key, keys, len(bars))
    melody = next((p for p in arrangement.parts if p.name == "Melody" and p.notes), None)
    if melody is not None:
        lines = engraving.write_line(
            _played(melody, sixteenth, arrangement.bars_end), bars, [start for start, _ in symbols]
        )
        staves = _melody_staves(lines, key_of_bar, symbols)
    else:  # a slash a beat: a symbol with a place on the staff but no pitch of its own
        staves = [
            [(Written(bar.start + beat * BEAT, BEAT, None), _slash(key), None) for beat in range(bar.beats)]
            for bar, key in zip(bars, key_of_bar, strict=True)
        ]

    root = ET.Element("score-partwise", version="3.1")
    instrument = melody or next((p for p in arrangement.parts if p.name == "Chords"), None)
    _header(root, title, composer, "Melody" if melody else "Chords", instrument)
    part = ET.SubElement(root, "part", id="P1")
    labels = dict(sections)
    widths = [len(staff) + sum(mark is not None for _, _, mark in staff) for staff in staves]
    breaks = _system_starts(widths, labels)
    chords_at = dict(symbols)
    for index, (bar, staff) in enumerate(zip(bars, staves, strict=True)):
        measure = ET.SubElement(part, "measure", number=str(index + 1))
        if index in breaks:
            ET.SubElement(measure, "print", {"new-system": "yes"})
        key = key_of_bar[index]
        _attributes(measure, index, bar, bars, key, key_of_bar)
        if index == 0:
            _tempo(measure, arrangement.tempo)
        if index in labels:
            direction = ET.SubElement(measure, "direction", placement="above")
            mark = ET.SubElement(ET.SubElement(direction, "direction-type"), "rehearsal")
            mark.set("enclosure", "rectangle")
            mark.text = labels[index]
        for item, pitch, accidental in staff:
            if item.start in chords_at:
                _harmony(measure, chords_at[item.start], key)
            _note(measure, item, pitch, accidental, slash=melody is None)
        _barline(measure, index, len(bars), labels, key_of_bar)
    ET.indent(root, space=" ")
    return (HEADER + ET.tostring(root, encoding="unicode") + "\n").encode()


def _played(melody: Part, sixteenth: int, end: int) -> list[Played]:
    """The melody (one line, written on sixteenths) in sixteenths, up to ``end`` (ticks)."""
    notes = sorted((n for n in melody.notes if n.start < end), key=lambda n: n.start)
    return [Played(n.pitch, n.start // sixteenth, min(n.end, end) // sixteenth) for n in notes]


Staff = list[tuple[Written, Spelled | None, int | None]]


def _melody_staves(
    lines: list[list[Written]], key_of_bar: list[vocab.Key], symbols: list[tuple[int, int]]
) -> list[Staff]:
    """Each symbol of each bar with its spelling (None for a rest) and the alteration its
    accidental shows (None: no accidental). A note is spelled in its bar's key as a tone of the
    chord sounding where it starts; its tied pieces keep that spelling, across bar lines too."""
    staves = []
    spelled: Spelled | None = None
    for written, key in zip(lines, key_of_bar, strict=True):
        pitches: list[Spelled | None] = []
        for item in written:
            if item.pitch is not None and not (item.tie_stop and spelled):
                spelled = engraving.spell(item.pitch, key, _sounding(symbols, item.start))
            pitches.append(None if item.pitch is None else spelled)
        notes = [(p, item.tie_stop) for item, p in zip(written, pitches, strict=True) if p is not None]
        marks = iter(engraving.accidentals(notes, engraving.key_fifths(key)))
        staves.append(
            [(item, p, None if p is None else next(marks)) for item, p in zip(written, pitches, strict=True)]
        )
    return staves


def _slash(key: vocab.Key) -> Spelled:
    """A rhythm slash's place: the middle line, as the key signature alters it (no accidental)."""
    return Spelled(SLASH_STEP, engraving.signature_alter(SLASH_STEP, engraving.key_fifths(key)), SLASH_OCTAVE)


def _keys_by_bar(first: vocab.Key, keys: Sequence[tuple[int, vocab.Key]], count: int) -> list[vocab.Key]:
    changes = dict(keys)
    current = changes.get(0, first)
    by_bar = []
    for bar in range(count):
        current = changes.get(bar, current)
        by_bar.append(engraving.notation_key(current))
    return by_bar


def _system_starts(widths: list[int], sections: dict[int, str]) -> set[int]:
    """The bars that begin a system after the first: each section's first bar, then every
    ``BARS_PER_SYSTEM`` bars counted from it; four bars holding more than ``SYSTEM_WIDTH``
    symbols (``widths``: notes, rests and accidentals a bar) are split into two lines of two."""
    edges = sorted({0, *sections, len(widths)})
    starts = set()
    for first, end in itertools.pairwise(edges):
        for start in range(first, end, BARS_PER_SYSTEM):
            starts.add(start)
            stop = min(start + BARS_PER_SYSTEM, end)
            if stop - start > 2 and sum(widths[start:stop]) > SYSTEM_WIDTH:
                starts.add(start + 2)
    return starts - {0}


def _sounding(symbols: list[tuple[int, int]], position: int) -> int:
    """The chord sounding at ``position`` (sixteenths)."""
    index = bisect.bisect_right(symbols, (position, vocab.PAD_ID)) - 1
    return symbols[index][1] if index >= 0 else vocab.N_ID


def _header(root: ET.Element, title: str, composer: str | None, name: str, instrument: Part | None) -> None:
    """The title, the composer if any, and the one part: its name (not printed, as on a lead
    sheet) and the instrument notation programs play it with."""
    ET.SubElement(ET.SubElement(root, "work"), "work-title").text = title
    identification = ET.SubElement(root, "identification")
    if composer:
        ET.SubElement(identification, "creator", type="composer").text = composer
    encoding = ET.SubElement(identification, "encoding")
    ET.SubElement(encoding, "software").text = f"video2music {__version__}"
    score_part = ET.SubElement(ET.SubElement(root, "part-list"), "score-part", id="P1")
    ET.SubElement(score_part, "part-name", {"print-object": "no"}).text = name
    program = instrument.program if instrument else 0
    score_instrument = ET.SubElement(score_part, "score-instrument", id="P1-I1")
    ET.SubElement(score_instrument, "instrument-name").text = instrument_name("melody", program)
    midi = ET.SubElement(score_part, "midi-instrument", id="P1-I1")
    ET.SubElement(midi, "midi-channel").text = str((instrument.channel if instrument else 0) + 1)
    ET.SubElement(midi, "midi-program").text = str(program + 1)


def _attributes(
    measure: ET.Element, index: int, bar: Bar, bars: list[Bar], key: vocab.Key, key_of_bar: list[vocab.Key]
) -> None:
    """Divisions and clef on the first bar; the key and the time signature where they change."""
    new_key = index == 0 or key != key_of_bar[index - 1]
    new_time = index == 0 or bar.beats != bars[index - 1].beats
    if not (new_key or new_time):
        return
    attributes = ET.SubElement(measure, "attributes")
    if index == 0:
        ET.SubElement(attributes, "divisions").text = str(BEAT)
    if new_key:
        signature = ET.SubElement(attributes, "key")
        ET.SubElement(signature, "fifths").text = str(engraving.key_fifths(key))
        ET.SubElement(signature, "mode").text = key.mode
    if new_time:
        time = ET.SubElement(attributes, "time")
        ET.SubElement(time, "beats").text = str(bar.beats)
        ET.SubElement(time, "beat-type").text = "4"
    if index == 0:
        clef = ET.SubElement(attributes, "clef")
        ET.SubElement(clef, "sign").text = "G"
        ET.SubElement(clef, "line").text = "2"


def _tempo(measure: ET.Element, tempo: float) -> None:
    direction = ET.SubElement(measure, "direction", placement="above")
    metronome = ET.SubElement(ET.SubElement(direction, "direction-type"), "metronome", parentheses="no")
    ET.SubElement(metronome, "beat-unit").text = "quarter"
    ET.SubElement(metronome, "per-minute").text = f"{tempo:g}"
    ET.SubElement(direction, "sound", tempo=f"{tempo:g}")


def _harmony(measure: ET.Element, chord: int, key: vocab.Key) -> None:
    if chord == vocab.N_ID:
        # "No chord" as MusicXML says it (kind none, its root not shown), but hidden and shown as
        # words instead: MuseScore 3 prints the unshown root ("CN.C.").
        direction = ET.SubElement(measure, "direction", placement="above")
        words = ET.SubElement(ET.SubElement(direction, "direction-type"), "words", {"font-size": "12"})
        words.text = "N.C."
        harmony = ET.SubElement(measure, "harmony", {"print-frame": "no", "print-object": "no"})
        ET.SubElement(ET.SubElement(harmony, "root"), "root-step", text="").text = "C"
        ET.SubElement(harmony, "kind", text="N.C.").text = "none"
        return
    harmony = ET.SubElement(measure, "harmony", {"print-frame": "no"})
    root = ET.SubElement(harmony, "root")
    quality = vocab.chord_quality(chord)
    name = vocab.chord_root_name(vocab.chord_root(chord), quality, key)
    ET.SubElement(root, "root-step").text = name[0]
    alter = name.count("#") - name.count("b")
    if alter:
        ET.SubElement(root, "root-alter").text = str(alter)
    ET.SubElement(harmony, "kind", text=vocab.SYMBOL_SUFFIXES[quality]).text = KINDS[quality]


def _note(measure: ET.Element, item: Written, pitch: Spelled | None, mark: int | None, slash: bool) -> None:
    note = ET.SubElement(measure, "note")
    if pitch is None:
        ET.SubElement(note, "rest", {"measure": "yes"} if item.whole_bar else {})
    else:
        written = ET.SubElement(note, "pitch")
        ET.SubElement(written, "step").text = pitch.step
        if pitch.alter:
            ET.SubElement(written, "alter").text = str(pitch.alter)
        ET.SubElement(written, "octave").text = str(pitch.octave)
    ET.SubElement(note, "duration").text = str(item.length)
    ties = [kind for kind, tied in (("stop", item.tie_stop), ("start", item.tie_start)) if tied]
    for kind in ties:
        ET.SubElement(note, "tie", type=kind)
    ET.SubElement(note, "voice").text = "1"
    if not item.whole_bar:
        kind, dots = item.value
        ET.SubElement(note, "type").text = kind
        for _ in range(dots):
            ET.SubElement(note, "dot")
    if mark is not None:
        ET.SubElement(note, "accidental").text = ACCIDENTALS[mark]
    if slash:
        ET.SubElement(note, "stem").text = "none"
        ET.SubElement(note, "notehead").text = "slash"
    for level, beam in enumerate(item.beams, start=1):
        ET.SubElement(note, "beam", number=str(level)).text = beam
    if ties:
        notations = ET.SubElement(note, "notations")
        for kind in ties:
            ET.SubElement(notations, "tied", type=kind)


def _barline(
    measure: ET.Element, index: int, count: int, sections: dict[int, str], key_of_bar: list[vocab.Key]
) -> None:
    """A final bar line at the end, a double one before a section or a change of key."""
    if index == count - 1:
        style = "light-heavy"
    elif index + 1 in sections or key_of_bar[index + 1] != key_of_bar[index]:
        style = "light-light"
    else:
        return
    barline = ET.SubElement(measure, "barline", location="right")
    ET.SubElement(barline, "bar-style").text = style
