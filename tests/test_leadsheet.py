"""The lead sheet: MusicXML that music21 reads back and MuseScore opens without a word, written
as a lead sheet is written (one voice under its chord symbols, values grouped by beat, only the
accidentals a bar needs, sections as rehearsal marks), or a chord chart of slashes."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import xml.etree.ElementTree as ET
from pathlib import Path

import music21
import numpy as np
import pytest

from video2music import Video2Music
from video2music.compose.arrange import Arrangement, arrange
from video2music.compose.melody import MelodyNote
from video2music.features import VideoFeatures
from video2music.output.leadsheet import KINDS, musicxml, write_lead_sheet
from video2music.output.writer import plan_result, write_result
from video2music.theory import vocab
from video2music.theory.grid import Grid

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = ROOT / "examples" / "testvideo.mp4"
# Every quality, with flats, a cut that moves a chord onto beat 4, and N (no chord).
PROGRESSION = vocab.parse_progression("C Dm E7 Fmaj7 G7 Am7 Bhdim7 Bdim Caug Dsus2 Esus4 F6 Gm6 Adim7 N C")
ACCIDENTAL_ALTER = {"flat-flat": -2, "flat": -1, "natural": 0, "sharp": 1, "double-sharp": 2}


def every_quality() -> tuple[Arrangement, Grid, list[MelodyNote]]:
    """Each chord two half bars, in Bb major, a cut bending the meter, and a short melody."""
    chords = [c for c in PROGRESSION for _ in range(2)]
    grid = Grid.for_video(len(chords) * 1.0, 120.0, cuts=[3.4])
    melody = [MelodyNote(72, 0, 3), MelodyNote(74, 4, 9), MelodyNote(76, 9, 22), MelodyNote(67, 40, 64)]
    return arrange(chords, 8.0, 0.2, "Bb major", grid=grid, melody=melody), grid, melody


def test_chord_symbols_and_melody_round_trip(tmp_path):
    assert set(KINDS) == set(vocab.QUALITIES)
    music, grid, melody = every_quality()
    key = music.key
    path = tmp_path / "song.musicxml"
    write_lead_sheet(music, path, title="song")

    score = music21.converter.parse(path)
    assert score.metadata.bestTitle == "song" and score.metadata.composer is None
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
    assert_engraved(path)

    write_lead_sheet(music, path, title="song", composer="Ada Lovelace")
    assert music21.converter.parse(path).metadata.composer == "Ada Lovelace"


def test_a_chord_chart_of_slashes_without_melody(tmp_path):
    grid = Grid.for_video(10.0, 120.0, cuts=[3.5])  # a 3/4 bar
    music = arrange(vocab.parse_progression("Am Am F F C C G G Am Am"), 8.0, 0.2, "A minor", grid=grid)
    write_lead_sheet(music, tmp_path / "chart.musicxml")
    score = music21.converter.parse(tmp_path / "chart.musicxml")
    slashes = list(score.recurse().getElementsByClass(music21.note.Note))
    # One slash a beat, without stems, on the middle line.
    assert [float(n.getOffsetInHierarchy(score)) for n in slashes] == [float(b) for b in range(grid.end_beat)]
    assert {(n.notehead, n.stemDirection, n.quarterLength, n.pitch.step) for n in slashes} == {
        ("slash", "noStem", 1.0, "B")
    }
    assert not list(score.recurse().getElementsByClass(music21.note.Rest))
    symbols = score.recurse().getElementsByClass(music21.harmony.ChordSymbol)
    assert [(float(s.getOffsetInHierarchy(score)), s.figure) for s in symbols] == [
        (span.start / 480, span.label) for span in music.spans
    ]


def test_sections_start_systems_and_the_key_signature_changes(tmp_path):
    chords = vocab.parse_progression("C C F F G G C C " * 4)
    scale = [60, 62, 64, 65, 67, 69, 71, 72]  # C major, one a beat
    melody = [MelodyNote(scale[i % 8], 4 * i, 4 * i + 3) for i in range(4 * 16)]
    music = arrange(chords, 8.0, 0.2, "C major", melody=melody)
    sections = [(0, "Intro"), (2, "Verse 1"), (10, "Chorus")]
    keys = [(10, vocab.parse_key("D major"))]
    root = ET.fromstring(musicxml(music, title="form", sections=sections, keys=keys))
    measures = root.findall("part/measure")
    assert len(measures) == 16
    marks = {i: m.findtext("direction/direction-type/rehearsal") for i, m in enumerate(measures)}
    assert {i: text for i, text in marks.items() if text} == dict(sections)
    # New systems at each section after the first bar, then every four bars from it.
    breaks = [i for i, m in enumerate(measures) if m.find("print[@new-system='yes']") is not None]
    assert breaks == [2, 6, 10, 14]
    doubles = [i for i, m in enumerate(measures) if m.findtext("barline/bar-style") == "light-light"]
    assert doubles == [1, 9] and measures[-1].findtext("barline/bar-style") == "light-heavy"
    signatures = [(i, m.findtext("attributes/key/fifths")) for i, m in enumerate(measures)]
    assert [(i, f) for i, f in signatures if f is not None] == [(0, "0"), (10, "2")]
    # Under D major the C major scale's C and F need their naturals.
    notes = [n for n in measures[10].iter("note") if n.find("pitch") is not None]
    assert [(n.findtext("pitch/step"), n.findtext("accidental")) for n in notes] == [
        ("C", "natural"), ("D", None), ("E", None), ("F", "natural"),
    ]  # fmt: skip
    assert_engraved(root)
    with pytest.raises(ValueError, match="bar 16"):
        musicxml(music, sections=[(16, "Outro")])

    # Four bars of running sixteenths do not fit a line: they go two to a line, so MuseScore
    # does not leave one bar alone on a line of its own.
    running = [MelodyNote(scale[i % 8], i, i + 1) for i in range(16 * 8)]
    music = arrange(chords[:16], 8.0, 0.2, "C major", melody=running)
    measures = ET.fromstring(musicxml(music, sections=[(0, "A"), (4, "B")])).findall("part/measure")
    assert [i for i, m in enumerate(measures) if m.find("print") is not None] == [2, 4, 6]


@pytest.fixture(scope="module")
def model() -> Video2Music:
    return Video2Music.from_pretrained("default")


@pytest.fixture(scope="module")
def sample_sheet(model, tmp_path_factory) -> Path:
    """The sample's lead sheet as generate.py writes it."""
    result = model.generate(SAMPLE, seed=0)
    outputs = plan_result(tmp_path_factory.mktemp("sample"), "take", wav=False, video=False)
    return write_result(result, outputs)["leadsheet"]


def long_features(seconds: int = 180) -> VideoFeatures:
    """A long video's features: scenes of 4-12 s cut off the beat (so bars bend to 3/4 and 5/4),
    moods and motion drawn at random."""
    rng = np.random.default_rng(5)
    cuts = [c for c in np.cumsum(rng.uniform(4, 12, seconds // 4)).round(2) if c < seconds - 1]
    offsets = np.zeros(seconds, dtype=np.int64)
    for t in range(1, seconds):
        offsets[t] = 0 if any(t - 1 < c <= t for c in cuts) else offsets[t - 1] + 1
    return VideoFeatures(
        duration=float(seconds),
        fps=25.0,
        semantic=None,
        emotion=rng.dirichlet(np.ones(6), seconds).astype(np.float32),
        scene_offset=offsets,
        scene_cuts=[float(c) for c in cuts],
        motion=rng.uniform(0, 40, seconds).astype(np.float32),
        backend="basic",
    )


def test_the_samples_lead_sheet_reads_as_one(sample_sheet):
    root = ET.parse(sample_sheet).getroot()
    assert root.findtext("work/work-title") == "testvideo"  # the video's name, not the output's
    assert root.find("identification/creator") is None
    assert "music21" not in sample_sheet.read_text().lower()
    summary = json.loads(sample_sheet.with_suffix(".json").read_text())
    tempo = root.findtext("part/measure/direction/direction-type/metronome/per-minute")
    assert tempo == f"{summary['tempo']:g}" and summary["settings"]["tempo_chosen"] == "auto"
    assert root.find("part-list/score-part/score-instrument/instrument-name").text == "Flute"
    assert_engraved(root)
    symbols = [h for h in root.iter("harmony")]
    assert len(symbols) == len(summary["chord_changes"])


def assert_engraved(source: Path | ET.Element) -> None:
    """The page rules, read from the MusicXML itself: one voice, no backups; each chord symbol
    right before the note or rest it stands over; every accidental one the key signature and the
    bar's earlier notes do not already give, and none missing; rests and beams within beats;
    notes over the middle of a bar only from its downbeat (4/4)."""
    root = source if isinstance(source, ET.Element) else ET.parse(source).getroot()
    assert len(root.findall("part")) == 1
    beats = fifths = None
    for measure in root.iter("measure"):
        beats = int(measure.findtext("attributes/time/beats") or beats)
        fifths = int(measure.findtext("attributes/key/fifths") or fifths)
        signature = music21.key.KeySignature(fifths)
        assert measure.find("backup") is None and measure.find("forward") is None
        children = list(measure)
        for index, child in enumerate(children):
            if child.tag == "harmony":
                assert children[index + 1].tag == "note"
        shown: dict[tuple[str, str], int] = {}
        position = 0
        group_lines = {4: (8,), 5: (8,)}.get(beats, ())
        for note in measure.iter("note"):
            assert note.findtext("voice") == "1"
            length = int(note.findtext("duration"))
            start, end = position, position + length
            position = end
            crosses_beat = end > start // 4 * 4 + 4
            if note.find("rest") is not None:
                whole = note.find("rest").get("measure") == "yes"
                assert whole or not crosses_beat or (start % 4 == 0 and length % 4 == 0)
                assert whole or note.find("dot") is None
                continue
            assert note.find("beam") is None or not crosses_beat
            assert not any(start < line < end for line in group_lines) or (start == 0 and beats == 4)
            line = (note.findtext("pitch/step"), note.findtext("pitch/octave"))
            alter = int(note.findtext("pitch/alter") or 0)
            accidental = note.findtext("accidental")
            signed = signature.accidentalByStep(line[0])
            in_force = shown.get(line, int(signed.alter) if signed else 0)
            if note.find("tie[@type='stop']") is not None:
                assert accidental is None
            elif accidental is None:
                assert alter == in_force, (measure.get("number"), line)
            else:
                assert alter != in_force and ACCIDENTAL_ALTER[accidental] == alter, (
                    measure.get("number"),
                    line,
                )
                shown[line] = alter
        assert position == 4 * beats


MSCORE = shutil.which("mscore3")


def musescore(folder: Path, sheets: list[Path]) -> str:
    """Open each lead sheet in MuseScore 3 as a musician would (headless): a PNG per page and
    MuseScore's own score file beside it. Returns the log."""
    if MSCORE is None:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail("musescore3 is not installed (CI must open the lead sheets in it)")
        pytest.skip("musescore3 is not installed (apt-get install musescore3; setup.sh --dev installs it)")
    runtime = folder / "runtime"
    runtime.mkdir(mode=0o700)
    job = [
        {"in": str(s), "out": [str(folder / f"{s.stem}.png"), str(folder / f"{s.stem}.mscx")]} for s in sheets
    ]
    (folder / "job.json").write_text(json.dumps(job))
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "XDG_RUNTIME_DIR": str(runtime)}
    done = subprocess.run(
        [MSCORE, "-j", str(folder / "job.json")], capture_output=True, text=True, timeout=300, env=env
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout + done.stderr


@pytest.mark.slow
def test_musescore_opens_the_lead_sheets_without_a_word(model, sample_sheet, tmp_path):
    result = model.generate(None, features=long_features(), seed=2)
    assert {3, 4, 5} <= set(result.grid.bars)
    long = tmp_path / "long.musicxml"
    sections = [(0, "A"), (8, "B"), (16, "A")]
    write_lead_sheet(
        result.arrangement, long, title="long", sections=sections, keys=[(16, vocab.parse_key("E major"))]
    )
    chart = tmp_path / "chart.musicxml"
    write_lead_sheet(model.generate(SAMPLE, seed=0, melody=False).arrangement, chart, title="chart")
    every = tmp_path / "every.musicxml"  # every quality, N.C., flats, a composer to escape
    write_lead_sheet(every_quality()[0], every, title="Every <chord>", composer="Lennon & McCartney")
    sheets = [sample_sheet, long, chart, every]

    log = musescore(tmp_path, sheets)
    said = [
        (f"convert <{s}>...", f"\tto <{tmp_path / s.stem}.png>", f"\tto <{tmp_path / s.stem}.mscx>")
        for s in sheets
    ]
    assert log.splitlines() == [line for lines in said for line in (*lines, "... success!")], log
    for sheet in sheets:
        pages = sorted(tmp_path.glob(f"{sheet.stem}-*.png"))
        assert pages and all(_inked(page) for page in pages)
    assert len(list(tmp_path.glob("long-*.png"))) >= 2

    # What MuseScore made of the long one: every bar, one voice each, the marks and the breaks.
    score = ET.parse(tmp_path / "long.mscx").getroot()
    measures = score.findall("Score/Staff/Measure")
    assert len(measures) == len(result.grid.bars)
    assert all(len(m.findall("voice")) == 1 for m in measures)
    marks = [(i, m.find("voice/RehearsalMark/text")) for i, m in enumerate(measures)]
    assert [(i, "".join(text.itertext())) for i, text in marks if text is not None] == sections
    # A break ends the system before each fourth bar (the sections start on such bars), and
    # halfway through four bars too crowded for one line: where the file asks for a new system.
    breaks = [i + 1 for i, m in enumerate(measures) if m.find("LayoutBreak") is not None]
    asked = [
        i
        for i, m in enumerate(ET.parse(long).getroot().iter("measure"))
        if m.find("print[@new-system='yes']") is not None
    ]
    assert breaks == asked
    fourths = set(range(4, len(measures), 4))
    assert fourths <= set(breaks) and all(b % 4 == 2 for b in set(breaks) - fourths)
    assert len(score.findall(".//Harmony")) == len(result.arrangement.spans)


def _inked(page: Path) -> bool:
    from PIL import Image

    with Image.open(page) as image:
        return np.asarray(image.convert("L")).min() < 64
