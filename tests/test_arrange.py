"""The arrangement: read the MIDI it writes back with mido and pretty_midi and check it musically."""

from __future__ import annotations

import itertools
import re

import mido
import pretty_midi
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from video2music.compose.arrange import SWELL, Instruments, arrange
from video2music.compose.arrangement import TICKS_PER_BEAT, is_section_label, write_midi
from video2music.compose.drums import CRASH, DRUM_CHANNEL, HIGH_TOM, LOW_TOM
from video2music.compose.instruments import PRESETS
from video2music.compose.melody import MelodyNote
from video2music.compose.styles import STYLES
from video2music.compose.texture import TEXTURES, velocity
from video2music.compose.voicing import BASS_RANGE, PAD_RANGE
from video2music.theory import vocab
from video2music.theory.form import Form, Section, numbered
from video2music.theory.grid import Grid
from video2music.utils.errors import UserError

PROGRESSION = vocab.parse_progression("C C C Am Am N N F G G")  # normalised space, 10 s


def full(bars: int) -> Form:
    """One chorus over the whole piece: every part plays."""
    return Form.single(bars, "chorus")


def form_of(*entries: tuple[str, int]) -> Form:
    sections, first = [], 0
    for name, bars in entries:
        sections.append(Section(name, first, bars))
        first += bars
    return Form(numbered(sections))


def _markers(midi: mido.MidiFile) -> list[tuple[float, str]]:
    """(seconds, text) of every marker, with the tempo map applied."""
    found, now = [], 0.0
    for message in midi:
        now += message.time
        if message.type == "marker":
            found.append((round(now, 6), message.text))
    return found


def _meta(midi: mido.MidiFile, kind: str) -> list[mido.MetaMessage]:
    return [m for track in midi.tracks for m in track if m.type == kind]


def test_written_file_reads_back_with_both_libraries(tmp_path):
    instruments = Instruments(chords=5, arpeggio=46, bass=32, drums=25)
    grid = Grid.for_video(len(PROGRESSION), 120.0, cuts=[7.0])
    music = arrange(PROGRESSION, 10.0, 0.2, "D major", instruments=instruments, grid=grid, form=full(5))
    path = write_midi(music, tmp_path / "song.mid")

    midi = mido.MidiFile(path)
    assert midi.type == 1 and midi.ticks_per_beat == TICKS_PER_BEAT
    names = [next(m.name for m in t if m.type == "track_name") for t in midi.tracks]
    assert names == ["video2music", "Chords", "Arpeggio", "Bass", "Drums"]
    for track, channel, program in zip(
        midi.tracks[1:], (0, 1, 2, DRUM_CHANNEL), (5, 46, 32, 25), strict=True
    ):
        notes = [m for m in track if m.type == "note_on"]
        assert {m.channel for m in notes} == {channel}
        assert [m.program for m in track if m.type == "program_change"] == [program]
    assert [m.tempo for m in _meta(midi, "set_tempo")] == [mido.bpm2tempo(120)]
    assert [(m.numerator, m.denominator) for m in _meta(midi, "time_signature")] == [(4, 4)]
    assert [m.key for m in _meta(midi, "key_signature")] == ["D"]
    # The section's name, then normalised C Am N F G in D major: D Bm G A, each run one marker.
    assert _markers(midi) == [(0.0, "Chorus 1"), (0.0, "D"), (3.0, "Bm"), (5.0, "N"), (7.0, "G"), (8.0, "A")]
    assert midi.length == pytest.approx(10.0)

    pm = pretty_midi.PrettyMIDI(str(path))
    by_name = {i.name: i for i in pm.instruments}
    assert set(by_name) == {"Chords", "Arpeggio", "Bass", "Drums"}
    assert [(by_name[n].program, by_name[n].is_drum) for n in ("Chords", "Arpeggio", "Bass", "Drums")] == [
        (5, False), (46, False), (32, False), (25, True),
    ]  # fmt: skip
    assert [(k.key_number, k.time) for k in pm.key_signature_changes] == [(2, 0.0)]  # D major
    assert pm.estimate_tempo() > 0 and pm.get_tempo_changes()[1].tolist() == [120.0]
    for part in music.parts:
        assert len(by_name[part.name].notes) == len(part.notes) > 0
    # Three voices sounding on each chord: its root, its third and (a triad's) fifth.
    for start, label in [(0.0, "D"), (3.0, "B:min"), (7.0, "G"), (8.0, "A")]:
        sounding = [n.pitch for n in by_name["Chords"].notes if n.start <= start + 1e-6 < n.end]
        assert len(sounding) == 3
        assert {p % 12 for p in sounding} == set(vocab.chord_pitch_classes(vocab.parse_chord(label)))


def test_no_chord_seconds_are_silent_for_the_harmonic_parts():
    music = arrange(PROGRESSION, 25.0, 0.2, "C major", form=full(5))
    silent = (5 * 2 * TICKS_PER_BEAT, 7 * 2 * TICKS_PER_BEAT)  # seconds 5-7 at two beats a second
    for name in ("Chords", "Arpeggio", "Bass"):
        notes = music.part(name).notes
        assert notes and not [n for n in notes if n.start < silent[1] and n.end > silent[0]]
    assert any(silent[0] <= n.start < silent[1] for n in music.part("Drums").notes)


@pytest.mark.parametrize(
    ("key", "normalised", "expected"),
    [
        ("C major", "C Am F G", ["C", "Am", "F", "G"]),
        ("Bb major", "C Am F G7", ["Bb", "Gm", "Eb", "F7"]),
        ("E major", "C Am F G", ["E", "C#m", "A", "B"]),
        ("C minor", "Am Dm E7", ["Cm", "Fm", "G7"]),
        ("E minor", "Am Dm E7", ["Em", "Am", "B7"]),
        ("F# minor", "G#dim E7 Am", ["E#dim", "C#7", "F#m"]),
        ("G# minor", "G#dim Bm7b5 Fmaj7", ["F##dim", "A#m7b5", "Emaj7"]),
    ],
)
def test_chords_are_transposed_into_the_key_and_spelled_for_it(key, normalised, expected):
    music = arrange(vocab.parse_progression(normalised), 8.0, 0.2, key)
    assert [s.label for s in music.spans] == expected


@pytest.mark.parametrize("key", [f"{r} {m}" for r in vocab.ROOTS for m in ("major", "minor")])
def test_every_key_writes_a_key_signature_both_libraries_read(key):
    parsed = vocab.parse_key(key)
    midi = arrange([1, 1], 5.0, 0.2, parsed).to_pretty_midi()
    assert [k.key_number for k in midi.key_signature_changes] == [parsed.tonic + 12 * parsed.mode_bit]


chord_ids = st.integers(min_value=1, max_value=vocab.NUM_CHORDS - 1)


@settings(max_examples=60, deadline=None)
@given(st.lists(chord_ids, min_size=2, max_size=12), st.sampled_from(["C major", "Eb major", "F# minor"]))
def test_voice_leading_holds_common_tones_and_never_leaps_past_an_octave(chords, key):
    steps = len(chords) + len(chords) % 2
    music = arrange(chords, 8.0, 0.2, key, form=full(steps // 2))
    pad = music.part("Chords").notes
    voicings = [_sounding(pad, span.start) for span in music.spans]
    for voicing, span in zip(voicings, music.spans, strict=True):
        tones = vocab.chord_pitch_classes(span.chord)
        assert len(voicing) == 3 and PAD_RANGE[0] - 7 <= voicing[0] and voicing[-1] <= PAD_RANGE[1]
        assert {tones[0], tones[1]} <= {p % 12 for p in voicing} <= set(tones)  # root and third always
    for before, after in itertools.pairwise(voicings):
        assert max(abs(a - b) for a, b in zip(before, after, strict=True)) <= 12
    for span in music.spans[1:-1]:  # a held tone is tied over the change, unless it has rung two bars
        struck = {n.pitch for n in pad if n.start == span.start}
        previous = {n.pitch for n in pad if n.end == span.start and span.end - n.start <= 8 * TICKS_PER_BEAT}
        assert not struck & previous
    final = music.spans[-1]  # the final chord arrives struck afresh, every voice
    assert len({n.pitch for n in pad if n.start == final.start}) == 3


def _sounding(notes, tick: int) -> list[int]:
    return sorted(n.pitch for n in notes if n.start <= tick < n.end)


def test_parts_stay_in_their_registers_and_the_bass_moves_by_the_nearest_octave():
    chords = list(range(1, vocab.NUM_CHORDS))  # every chord of the vocabulary, a half bar each
    music = arrange(chords, 30.0, 0.2, "B major", form=full(len(chords) // 2))
    bass = music.part("Bass").notes
    assert all(BASS_RANGE[0] <= n.pitch <= BASS_RANGE[1] + 12 for n in bass)
    firsts = [min((n for n in bass if n.start == span.start), key=lambda n: n.pitch) for span in music.spans]
    assert max(abs(a.pitch - b.pitch) for a, b in itertools.pairwise(firsts)) <= 7  # the nearest octave
    inverted = [
        f for f, s in zip(firsts, music.spans, strict=True) if f.pitch % 12 != vocab.chord_root(s.chord)
    ]
    assert len(inverted) <= 0.12 * len(firsts)
    for first, span in zip(firsts, music.spans, strict=True):
        assert first.pitch % 12 in vocab.chord_pitch_classes(span.chord)
    pad, arpeggio = music.part("Chords").notes, music.part("Arpeggio").notes
    for note in firsts:  # each chord arrives with the bass under the pad
        assert all(note.pitch < p for p in _sounding(pad, note.start))
    doubled = sum(note.pitch in _sounding(pad, note.start) for note in arpeggio)
    assert doubled <= 0.3 * len(arpeggio)


def test_inversions_let_the_bass_move_by_step():
    # C G Am: C - G/B - Am walks down by steps instead of leaping to G.
    music = arrange(vocab.parse_progression("C C G G Am Am Am Am"), 5.0, 0.2, "C major", form=full(4))
    firsts = [min(n.pitch for n in music.part("Bass").notes if n.start == s.start) for s in music.spans]
    assert [p % 12 for p in firsts] == [0, 11, 9]  # C, B (G's third), A


def test_density_picks_the_patterns_and_loudness_only_the_velocities():
    chords = vocab.parse_progression("C C Am Am F F G G")
    counts = {}
    for density in (0.0, 5.0, 10.0, 15.0, 30.0):
        music = arrange(chords, density, 0.2, "C major", form=full(4))
        ending = music.end - 4 * TICKS_PER_BEAT  # the last bar rings out at every density
        counts[density] = {p.name: sum(n.start < ending for n in p.notes) for p in music.parts}
    for part in ("Arpeggio", "Bass", "Drums"):
        series = [counts[d][part] for d in sorted(counts)]
        assert series == sorted(series) and series[0] < series[-1], (part, series)


def test_the_last_bar_rings_out_after_a_crash():
    chords = vocab.parse_progression("C C Am Am F F G C")
    music = arrange(chords, 15.0, 0.2, "C major", form=full(4))
    last_bar = music.end - 4 * TICKS_PER_BEAT
    drums = music.part("Drums").notes
    assert [n.pitch for n in drums if n.start == last_bar and n.pitch == CRASH] == [CRASH]
    assert not [n for n in drums if n.start > last_bar]
    arpeggio = [n for n in music.part("Arpeggio").notes if n.start >= last_bar]
    assert [n.end - n.start for n in arpeggio] == [2 * TICKS_PER_BEAT] * 2  # half notes to the end

    quiet, loud = (arrange(chords, 15.0, level, "C major", form=full(4)) for level in (0.02, 0.5))
    for soft_part, loud_part in zip(quiet.parts, loud.parts, strict=True):
        assert [(n.pitch, n.start, n.end) for n in soft_part.notes] == [
            (n.pitch, n.start, n.end) for n in loud_part.notes
        ]
        assert all(s.velocity < ld.velocity for s, ld in zip(soft_part.notes, loud_part.notes, strict=True))


def test_velocity_follows_loudness_on_a_decibel_scale():
    assert velocity(0.01) == 30 and velocity(1.0) == 110 and velocity(0.1) == 70
    assert velocity(0.0) == velocity(0.001) == 30  # silence floors at -40 dBFS
    assert 1 <= velocity(1.0, 100) <= 127


def test_density_and_loudness_may_change_every_step():
    chords = [1] * 10  # the last bar is the ending, left out below
    density = [0, 0, 0, 0, 30, 30, 30, 30, 30, 30]
    loudness = [0.05] * 4 + [0.5] * 6
    music = arrange(chords, density, loudness, "C major", form=form_of(("verse", 2), ("chorus", 3)))
    arpeggio = [n for n in music.part("Arpeggio").notes if n.start < 16 * TICKS_PER_BEAT]
    half = 4 * 2 * TICKS_PER_BEAT
    calm = [n for n in arpeggio if n.start < half]
    busy = [n for n in arpeggio if n.start >= half]
    assert len(busy) == 2 * 4 * 4 and len(calm) < len(busy) / 2  # sixteenths after a calm verse
    assert max(n.velocity for n in calm) < min(n.velocity for n in busy)


def test_at_other_tempos_chords_change_on_half_bar_lines():
    chords = vocab.parse_progression("C C C Am Am Am Am F")  # one chord per half bar
    midi = arrange(chords, 10.0, 0.2, "C major", tempo=100.0).to_midi()
    assert [m.tempo for m in _meta(midi, "set_tempo")] == [mido.bpm2tempo(100)]
    beat = 60 / 100
    assert [text for _, text in _markers(midi)] == ["C", "Am", "F"]  # no form: no section markers
    assert [t / beat for t, _ in _markers(midi)] == pytest.approx([0, 6, 14])
    assert midi.length == pytest.approx(16 * beat)  # four bars, ending on the bar line


def test_a_cut_off_the_half_bar_lines_bends_the_meter_and_the_file_says_so():
    # At 90 bpm a beat is 2/3 s: a cut at 6 s is beat 9, the second beat of bar 3, so bar 2
    # stretches to 5/4 and the cut's chord starts on a downbeat.
    grid = Grid.for_video(12.0, 90.0, cuts=[6.0])
    chords = vocab.parse_progression("C C C C F F C C")
    music = arrange(chords, 10.0, 0.2, "C major", tempo=90.0, grid=grid)
    assert [(s.label, s.start // TICKS_PER_BEAT) for s in music.spans] == [("C", 0), ("F", 9), ("C", 13)]
    midi = music.to_midi()
    signatures = [(m.numerator, m.denominator) for m in _meta(midi, "time_signature")]
    assert signatures == [(4, 4), (5, 4), (4, 4)]
    pm = pretty_midi.PrettyMIDI(_roundtrip(midi))
    assert [round(t.time / (60 / 90)) for t in pm.time_signature_changes] == [0, 4, 9]
    assert pm.get_downbeats().round(3).tolist() == [round(b * 60 / 90, 3) for b in (0, 4, 9, 13)]


def _roundtrip(midi: mido.MidiFile):
    import io

    buffer = io.BytesIO()
    midi.save(file=buffer)
    buffer.seek(0)
    return buffer


def test_sections_open_with_a_crash_after_a_fill_and_are_marked():
    form = form_of(("intro", 2), ("verse", 4), ("chorus", 4), ("break", 2), ("chorus", 4), ("outro", 2))
    steps = 2 * form.bars
    music = arrange([1] * steps, 1.0, 0.2, "C major", form=form)  # calm footage: level 0
    starts = [4 * s.first_bar for s in form.sections[1:]]
    drums = music.part("Drums").notes
    crashes = sorted(n.start // TICKS_PER_BEAT for n in drums if n.pitch == CRASH)
    assert set(starts) <= set(crashes)  # every section after the first opens with one, calm or not
    for section, start in zip(form.sections[1:], starts, strict=True):
        crash = next(n for n in drums if n.pitch == CRASH and n.start == start * TICKS_PER_BEAT)
        before = [n.pitch for n in drums if (start - 2) * TICKS_PER_BEAT <= n.start < start * TICKS_PER_BEAT]
        texture = TEXTURES[section.name]
        if texture.drums != "off" and texture.levels[0] > 0:  # grooves even on still footage
            assert HIGH_TOM in before and LOW_TOM in before  # a fill leads in
        else:
            assert crash.velocity < 60 and HIGH_TOM not in before  # a soft crash marks the change, no fill
    labels = [text for _, text in _markers(music.to_midi()) if is_section_label(text)]
    assert labels == ["Intro 1", "Verse 1", "Chorus 1", "Break 1", "Chorus 2", "Outro 1"]
    assert [p.name for p in arrange([1] * 12, 10.0, 0.2, "C major", drums=False).parts] == [
        "Chords", "Arpeggio", "Bass",
    ]  # fmt: skip


def test_each_kind_of_section_has_its_texture():
    form = form_of(("intro", 4), ("verse", 4), ("chorus", 4), ("break", 4), ("outro", 4))
    music = arrange([1, 1, 6, 6, 4, 4, 5, 5] * 5, 8.0, 0.2, "C major", form=form)

    def played(part: str, section: int) -> int:
        first, last = (4 * 4 * section + b for b in (0, 16))
        return sum(first * TICKS_PER_BEAT <= n.start < last * TICKS_PER_BEAT for n in music.part(part).notes)

    intro, verse, chorus, pause, outro = range(5)
    assert played("Arpeggio", intro) == 0 and played("Chords", verse) == 0  # a sparse intro, no verse pad
    assert played("Arpeggio", chorus) > played("Arpeggio", verse) > 0  # the chorus moves faster

    def groove(section: int) -> int:  # drum hits inside a section, its opening crash and fill aside
        first, last = (16 * section + 1) * TICKS_PER_BEAT, (16 * section + 14) * TICKS_PER_BEAT
        return sum(n.pitch != CRASH and first <= n.start < last for n in music.part("Drums").notes)

    grooves = [groove(s) for s in range(5)]
    assert grooves[chorus] > grooves[verse] > 0 == grooves[intro] == grooves[pause]
    assert played("Arpeggio", pause) == 0 and played("Chords", pause) > 0  # a break drops to the pad
    everything = [sum(played(p.name, s) for p in music.parts) for s in range(5)]
    assert max(everything) >= 1.7 * min(everything)


def test_the_melody_stays_on_top_of_the_accompaniment():
    chords = vocab.parse_progression("C C Am Am F F G G") * 2
    melody = [
        MelodyNote(pitch, 8 * i, 8 * i + 6) for i, pitch in enumerate([64, 65, 67, 69, 71, 72, 60, 62] * 2)
    ]
    music = arrange(chords, 12.0, 0.2, "C major", melody=melody, form=full(8))
    lead = music.part("Melody").notes
    accompaniment = [n for p in music.parts if p.name in ("Chords", "Arpeggio", "Bass") for n in p.notes]
    for note in lead:
        assert all(a.pitch < note.pitch for a in accompaniment if a.start <= note.start < a.end)


def test_a_lifted_section_changes_key_and_is_played_a_step_up():
    sections = [Section("verse", 0, 2), Section("chorus", 2, 2, lift=2)]
    form = Form(numbered(sections))
    melody = [MelodyNote(72, 0, 8), MelodyNote(72, 32, 40)]
    music = arrange([1, 1, 1, 1, 1, 1, 1, 1], 8.0, 0.2, "C major", melody=melody, form=form)
    midi = music.to_midi()
    assert [m.key for m in _meta(midi, "key_signature")] == ["C", "D"]
    assert [s.label for s in music.spans] == ["C", "D"]
    assert [n.pitch for n in music.part("Melody").notes] == [72, 74]


def test_no_pad_note_is_held_longer_than_two_bars():
    music = arrange([1] * 16, 5.0, 0.2, "C major", form=full(8))  # one chord for eight bars
    assert max(n.end - n.start for n in music.part("Chords").notes) <= 8 * TICKS_PER_BEAT


def test_a_final_chord_ringing_on_to_the_pictures_end_is_struck_again_for_the_last_bar():
    chords = vocab.parse_progression("C C Am Am F F G G C C C C")  # the final chord lasts two bars
    music = arrange(chords, 5.0, 0.2, "C major", form=full(6), end_seconds=13.5)  # 3/4 of a bar more
    end, last_bar = music.end, 20 * TICKS_PER_BEAT
    assert end == 27 * TICKS_PER_BEAT
    for name in ("Chords", "Bass"):
        notes = music.part(name).notes
        assert max(n.end - n.start for n in notes) <= 8 * TICKS_PER_BEAT, name
        ringing = {n.pitch for n in notes if n.end == end}
        assert ringing and ringing == {n.pitch for n in notes if n.start == last_bar}, name
        assert ringing <= {n.pitch for n in notes if n.start == 16 * TICKS_PER_BEAT and n.end == last_bar}


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"tempo": 0.0}, "tempo"),
        ({"tempo": 3.0}, "tempo"),
        ({"tempo": -5.0}, "tempo"),
        ({"tempo": 301.0}, "tempo"),
        ({"tempo": float("nan")}, "tempo"),
        ({"chords": [1, vocab.END_ID]}, "chord id"),
        ({"chords": []}, "no chords"),
        ({"density": [1.0]}, "steps"),
        ({"density": -1.0}, "negative"),
        ({"loudness": 1.5}, "0..1"),
        ({"loudness": float("nan")}, "NaN"),
        ({"grid": Grid.regular(4)}, "do not fit"),
        ({"form": Form.single(3)}, "a form of 3 bars"),
    ],
)
def test_bad_input_is_a_user_error(kwargs, message):
    arguments = {"chords": [1, 1], "density": 5.0, "loudness": 0.2, "key": "C major"} | kwargs
    with pytest.raises(UserError, match=message):
        arrange(**arguments)


def test_instruments_parse_and_validate():
    assert Instruments.parse("chords=0, arpeggio=46,bass=33") == Instruments(chords=0, arpeggio=46, bass=33)
    assert Instruments.parse("") == Instruments()
    for text in ("piano=0", "chords=128", "chords", "bass=-1", "chords=x", "drums=piano", "bass="):
        with pytest.raises(UserError):
            Instruments.parse(text)


@pytest.mark.parametrize("program", range(128))
def test_every_general_midi_name_parses_to_its_program(program):
    name = pretty_midi.program_to_instrument_name(program)
    assert Instruments.parse(f"arpeggio={name}").arpeggio == program
    assert Instruments.parse(f"arpeggio={name.upper().replace(' ', '_')}").arpeggio == program
    assert Instruments(arpeggio=program).names()["arpeggio"] == name


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("bass=violn", "unknown instrument 'violn' for bass: did you mean violin, viola"),
        ("drums=jaz", "unknown drum kit 'jaz' for drums: did you mean jazz?"),
        ("chords=zzzz", "e.g. piano, strings"),
    ],
)
def test_unknown_instrument_names_close_matches_in_one_line(text, message):
    with pytest.raises(UserError, match=re.escape(message)) as info:
        Instruments.parse(text)
    assert "\n" not in str(info.value)


def test_every_style_has_instruments_and_parts_can_be_changed_on_top():
    assert set(PRESETS) == set(STYLES) == {"pop", "cinematic", "acoustic", "lo-fi", "electronic"}
    assert Instruments.preset("pop") == Instruments()
    for name in set(PRESETS) - {"pop"}:
        assert Instruments.preset(name) != Instruments()
    assert Instruments.parse("drums=standard", preset="Electronic") == Instruments(89, 80, 38, 0, 81)
    with pytest.raises(UserError, match="did you mean lo-fi"):
        Instruments.preset("lofi")


def test_lo_fi_is_played_softly():
    form = form_of(("verse", 4), ("chorus", 4))
    loudest = {}
    for name in ("pop", "lo-fi"):
        music = arrange([1, 1, 6, 6] * 4, 14.0, 0.6, form=form, style=STYLES[name])
        loudest[name] = max(n.velocity for part in music.parts for n in part.notes)
    assert loudest["lo-fi"] <= 96 < loudest["pop"]


@pytest.mark.parametrize("style", list(STYLES))
def test_the_bass_comes_to_rest_on_the_final_chords_root(style):
    # C G/B Am G F ... ending on C: the walk down invites an inversion, lo-fi swings to the fifth.
    chords = vocab.parse_progression("C C G G Am Am G G F F G G C C")
    music = arrange(chords, 12.0, 0.3, "C major", form=full(7), style=STYLES[style])
    final = music.spans[-1]
    last = [n for n in music.part("Bass").notes if n.start >= final.start]
    assert [n.pitch % 12 for n in last][:1] == [0] and len({n.pitch for n in last}) == 1, style
    assert max(n.end for n in last) == final.end  # held to the end, not a fifth left alone


@pytest.mark.parametrize("key", ["D major", "Bb minor", "F major"])
def test_the_orchestral_kit_plays_timpani_in_the_key_and_concert_cymbals(key):
    form = form_of(("intro", 2), ("verse", 4), ("chorus", 4), ("outro", 2))
    music = arrange(
        [1, 1, 6, 6, 4, 4, 5, 5] * 3, 12.0, 0.3, key, form=form, style=STYLES["cinematic"],
        instruments=Instruments.preset("cinematic"),
    )  # fmt: skip
    pitches = [n.pitch for n in music.part("Drums").notes]
    tonic = vocab.parse_key(key).tonic
    timpani = {p for p in pitches if 41 <= p <= 53}
    assert timpani and {p % 12 for p in timpani} <= {tonic, (tonic + 7) % 12}
    assert 57 in pitches and 59 in pitches  # the crash and the roll on concert cymbals
    pop_kit = arrange([1, 1, 6, 6, 4, 4, 5, 5] * 3, 12.0, 0.3, key, form=form, style=STYLES["cinematic"])
    assert CRASH in {n.pitch for n in pop_kit.part("Drums").notes}  # another kit keeps GM's drums


def test_write_midi_never_replaces_a_file_unless_asked(tmp_path):
    music = arrange([1, 1], 5.0, 0.2, "C major")
    target = tmp_path / "song.mid"
    target.write_text("mine")
    with pytest.raises(UserError, match="already exists"):
        write_midi(music, target)
    assert target.read_text() == "mine"
    write_midi(music, target, overwrite=True)
    assert mido.MidiFile(target).length == pytest.approx(2.0)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["song.mid"]


def test_phrases_rise_to_their_third_bar_and_a_chorus_comes_in_above_the_verse_before_it():
    chords = vocab.parse_progression("C C Am Am F F G G") * 4  # 16 bars, four phrases
    music = arrange(chords, 10.0, 0.2, "C major", form=full(16))  # one loudness throughout: the swell alone
    for part in music.parts:
        velocities = [n.velocity for n in part.notes]
        assert max(velocities) - min(velocities) >= SWELL, part.name
    pad = music.part("Chords").notes
    phrase = 16 * TICKS_PER_BEAT
    start = [n.velocity for n in pad if n.start % phrase == 0]
    middle = [n.velocity for n in pad if n.start % phrase == phrase // 2]
    assert min(middle) > max(start)
    # A phrase starts from its section's level, not from a trough: the chorus's first bar is
    # louder than the verse's last two (with the swell's trough on every downbeat, it was softer).
    music = arrange(chords, 10.0, 0.2, "C major", form=form_of(("verse", 8), ("chorus", 8)))
    bar = 4 * TICKS_PER_BEAT
    for name in ("Arpeggio", "Bass", "Drums"):
        notes = music.part(name).notes
        entry = [n.velocity for n in notes if 8 * bar <= n.start < 9 * bar]
        before = [n.velocity for n in notes if 6 * bar <= n.start < 8 * bar]
        assert sum(entry) / len(entry) > sum(before) / len(before) + 4, name


def test_every_part_has_its_volume_and_its_reverb_and_chorus_sends_in_the_file(tmp_path):
    from video2music.compose.melody import MelodyNote

    melody = [MelodyNote(67 + i % 5, 8 * i, 8 * i + 6) for i in range(10)]
    path = write_midi(arrange(PROGRESSION, 10.0, 0.2, melody=melody), tmp_path / "sends.mid")
    sends = {
        track.name: {
            m.control: m.value for m in track if m.type == "control_change" and m.control in (7, 91, 93)
        }
        for track in mido.MidiFile(path).tracks[1:]
    }
    assert sorted(sends) == ["Arpeggio", "Bass", "Chords", "Drums", "Melody"]
    reverb = {name: cc[91] for name, cc in sends.items()}
    chorus = {name: cc[93] for name, cc in sends.items()}
    # Drier bass and kit, wetter pad and lead; the chorus widens the sustained parts only.
    assert max(reverb["Bass"], reverb["Drums"]) < min(reverb["Chords"], reverb["Melody"], reverb["Arpeggio"])
    assert chorus["Bass"] == chorus["Drums"] == 0 < chorus["Arpeggio"] < chorus["Chords"]
    assert chorus["Melody"] > 0
    volume = {name: cc[7] for name, cc in sends.items()}  # the lead on top of the mix
    assert volume.pop("Melody") == 127 and set(volume.values()) == {100}
