"""The lead sheet: written with music21, opened again with music21, chords and melody intact."""

from __future__ import annotations

import music21
import pytest

from video2music.compose.arrange import arrange
from video2music.compose.melody import MelodyNote
from video2music.output.leadsheet import KINDS, write_lead_sheet
from video2music.theory import vocab
from video2music.theory.grid import Grid

# Every quality, with flats, a cut that moves a chord onto beat 4, and N (no chord).
PROGRESSION = vocab.parse_progression("C Dm E7 Fmaj7 G7 Am7 Bhdim7 Bdim Caug Dsus2 Esus4 F6 Gm6 Adim7 N C")


def test_chord_symbols_and_melody_round_trip(tmp_path):
    assert set(KINDS) == set(vocab.QUALITIES)
    chords = [c for c in PROGRESSION for _ in range(2)]
    grid = Grid.for_video(len(chords) * 1.0, 120.0, cuts=[3.4])
    key = vocab.parse_key("Bb major")
    melody = [MelodyNote(72, 0, 3), MelodyNote(74, 4, 9), MelodyNote(76, 9, 22), MelodyNote(67, 40, 64)]
    music = arrange(chords, 8.0, 0.2, key, grid=grid, melody=melody)
    path = tmp_path / "song.musicxml"
    write_lead_sheet(music, path, title="song")

    score = music21.converter.parse(path)
    assert score.metadata.bestTitle == "song"
    found = score.recurse().getElementsByClass(music21.key.KeySignature).first()
    assert found.sharps == -2
    assert score.recurse().getElementsByClass(music21.tempo.MetronomeMark).first().number == 120
    # The meter bends where the grid bends it to put the cut on a downbeat.
    signatures = [
        (float(t.getOffsetInHierarchy(score)), t.ratioString)
        for t in score.recurse().getElementsByClass(music21.meter.TimeSignature)
    ]
    assert signatures == [(float(beat), f"{beats}/4") for beat, beats in grid.meter_changes()]
    assert len(signatures) > 1

    symbols = list(score.recurse().getElementsByClass(music21.harmony.ChordSymbol))
    sounding = [s for s in symbols if not isinstance(s, music21.harmony.NoChord)]
    spans = [s for s in music.spans if s.chord != vocab.N_ID]
    assert len(sounding) == len(spans) and len(symbols) == len(music.spans)
    for symbol, span in zip(sounding, spans, strict=True):
        assert float(symbol.getOffsetInHierarchy(score)) == span.start / 480
        assert symbol.root().pitchClass == vocab.chord_root(span.chord)
        assert {p.pitchClass for p in symbol.pitches} == set(vocab.chord_pitch_classes(span.chord))

    notes = [
        (float(n.getOffsetInHierarchy(score)), float(n.quarterLength), n.pitch.midi)
        for n in score.stripTies().recurse().getElementsByClass(music21.note.Note)
    ]
    track = music.part("Melody").notes
    assert notes == [(n.start / 480, (n.end - n.start) / 480, n.pitch) for n in track]
    assert [n.pitch for n in track] == [m.pitch + key.transpose for m in melody]


def test_a_chord_chart_without_melody(tmp_path):
    music = arrange(vocab.parse_progression("Am Am F F C C G G"), 8.0, 0.2, "A minor")
    write_lead_sheet(music, tmp_path / "chart.musicxml")
    score = music21.converter.parse(tmp_path / "chart.musicxml")
    assert not list(score.recurse().getElementsByClass(music21.note.Note))
    figures = [s.figure for s in score.recurse().getElementsByClass(music21.harmony.ChordSymbol)]
    assert figures == ["Am", "F", "C", "G"]
    rests = sum(r.quarterLength for r in score.recurse().getElementsByClass(music21.note.Rest))
    assert rests == pytest.approx(16.0)
