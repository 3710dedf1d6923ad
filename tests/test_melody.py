"""The melody: POP909 melodies on the sixteenth grid, training, the shipped model, the rules that
shape generation, and the Melody track as written and read back."""

from __future__ import annotations

import itertools
import json

import numpy as np
import pretty_midi
import pytest
import torch

from video2music.analysis import stats, structure
from video2music.commands import evaluate as evaluate_command
from video2music.commands import train as train_command
from video2music.compose import melody as writer
from video2music.compose.arrange import MELODY_CHANNEL, Instruments, arrange
from video2music.data import pop909
from video2music.data import pop909_melody as data
from video2music.model.checkpoint import SAVED_MODELS, load_checkpoint
from video2music.model.melody_gru import HOLD, NUM_TOKENS, REST, melody_forward, pitch_token
from video2music.theory import vocab
from video2music.theory.form import Form, Section, numbered
from video2music.theory.grid import Grid
from video2music.utils.errors import UserError

SHIPPED = SAVED_MODELS / "melody" / "melody.pt"
LOOP = vocab.parse_progression("C C Am Am F F G G")


@pytest.fixture(scope="module")
def songs() -> list[pop909.Pop909Song]:
    return pop909.read_compact(pop909.COMPACT_FILE)


@pytest.fixture(scope="module")
def shipped():
    torch.set_num_threads(1)
    return load_checkpoint(SHIPPED, kind="melody")


@pytest.mark.slow
def test_a_song_on_the_sixteenth_grid_keeps_its_notes(songs):
    song = next(s for s in songs if len(s.keys) == 1 and s.keys[0].key.transpose != 0)
    sequence = data.song_sequence(song)
    shift = song.keys[0].key.transpose
    notes = writer.melody_notes(sequence.tokens)
    lines = sequence.seconds
    # Each annotated note starts on the sixteenth nearest its onset, moved into the normalised key
    # (a few collide with the next note on one sixteenth, and the later wins).
    nearest = [int(np.abs(lines - n.onset).argmin()) for n in song.melody]
    found = [
        sequence.tokens[i] == pitch_token(n.pitch - shift) for i, n in zip(nearest, song.melody, strict=True)
    ]
    assert np.mean(found) >= 0.97 and len(notes) >= 0.97 * len(song.melody)
    assert sequence.tokens[0] >= 2 and not np.any(
        (sequence.tokens[1:] == HOLD) & (sequence.tokens[:-1] == REST)
    )  # a hold always follows a note
    # The condition carries the chord sounding at each onset, normalised like the melody.
    for note in notes[:20]:
        chord = sequence.chords[note.start]
        tones = np.flatnonzero(sequence.conditions[note.start, :12])
        assert (
            sorted(tones) == sorted(vocab.chord_pitch_classes(chord))
            if chord != vocab.N_ID
            else not len(tones)
        )


@pytest.mark.slow
def test_train_and_evaluate_melody_from_the_command_line(songs, tmp_path, capsys):
    source = tmp_path / "ten_songs.tsv.gz"
    pop909.write_compact(songs[:10], source)
    out = tmp_path / "run"
    argv = ["--task", "melody", "--data", str(source), "--out", str(out), "--size", "debug"]
    argv += ["--window", "128", "--batch-size", "4", "--warmup", "5", "--no-progress"]
    assert train_command.main([*argv, "--epochs", "3"]) == 0
    log = json.loads((out / "log.json").read_text())
    assert len(log) == 3 and log[-1]["train_loss"] < log[0]["train_loss"]
    assert train_command.main([*argv, "--epochs", "4", "--resume"]) == 0  # one epoch more
    assert [row["epoch"] for row in json.loads((out / "log.json").read_text())] == [1, 2, 3, 4]
    checkpoint = load_checkpoint(out / "best.pt", kind="melody")
    assert checkpoint.config.hidden == 16
    report = tmp_path / "test.json"
    assert (
        evaluate_command.main(
            ["--checkpoint", str(out / "best.pt"), "--data", str(source), "--json", str(report)]
        )
        == 0
    )
    metrics = json.loads(report.read_text())["models"][str(out / "best.pt")]
    assert metrics["kind"] == "melody" and 0 < metrics["hits@1"] <= metrics["hits@3"] <= 1
    with pytest.raises(UserError, match="not a melody"):
        load_checkpoint(SAVED_MODELS / "debug" / "amt.pt", kind="melody")


@pytest.mark.slow
def test_shipped_model_beats_token_frequencies_on_held_out_songs(songs, shipped):
    splits = pop909.split_songs(songs)
    by_id = {s.song_id: s for s in songs}
    train = [data.song_sequence(by_id[i]) for i in splits["train"][:40]]
    test = [data.song_sequence(by_id[i]) for i in splits["test"][:12]]
    counts = np.bincount(np.concatenate([s.tokens for s in train]), minlength=NUM_TOKENS) + 1.0
    frequencies = counts / counts.sum()
    tokens = np.concatenate([s.tokens for s in test])
    baseline = -np.log(frequencies[tokens]).mean()
    with torch.inference_mode():
        losses = [
            torch.nn.functional.cross_entropy(
                melody_forward(
                    shipped.model, torch.as_tensor(s.tokens)[None], torch.as_tensor(s.conditions)[None]
                )[0],
                torch.as_tensor(s.tokens),
                reduction="sum",
            )
            for s in test
        ]
    model_loss = float(sum(losses)) / len(tokens)
    assert model_loss < 0.7 * baseline, (model_loss, baseline)


def compose(shipped, chords, form, seed=0, tempo=120.0, density=8.0, transpose=0):
    grid = Grid.regular(len(chords), tempo)
    notes = writer.compose(
        shipped.model, chords, grid, form, np.full(len(chords), density), seed=seed, transpose=transpose
    )
    return grid, notes


def form_of(*entries: tuple[str, int]) -> Form:
    sections, first = [], 0
    for name, bars in entries:
        sections.append(Section(name, first, bars))
        first += bars
    return Form(numbered(sections))


SONG = form_of(("verse", 8), ("chorus", 8), ("verse", 8), ("chorus", 8))  # 32 bars
BAR = 16  # sixteenths


def _bars(notes, first: int, count: int, shift: int = 0) -> list[tuple[int, int]]:
    """(pitch, onset) of the notes starting in ``count`` bars from ``first``, moved back ``shift`` bars."""
    return [(n.pitch, n.start - shift * BAR) for n in notes if first * BAR <= n.start < (first + count) * BAR]


def test_same_seed_same_melody_and_the_form_decides_what_repeats(shipped):
    chords = LOOP * 8  # 32 bars
    grid, notes = compose(shipped, chords, SONG, seed=3)
    assert compose(shipped, chords, SONG, seed=3)[1] == notes
    assert compose(shipped, chords, SONG, seed=4)[1] != notes
    assert all(writer.MELODY_RANGE[0] <= n.pitch <= writer.MELODY_RANGE[1] for n in notes)
    assert all(abs(b.pitch - a.pitch) <= writer.MAX_LEAP for a, b in itertools.pairwise(notes))
    # A section's second phrase repeats the first three bars of its first, then ends its own way.
    assert _bars(notes, 4, 3, shift=4) == _bars(notes, 0, 3) and _bars(notes, 8 + 4, 3, 4) == _bars(
        notes, 8, 3
    )
    assert _bars(notes, 7, 1, shift=4) != _bars(notes, 3, 1)
    # The second verse and the second chorus sing the first ones again; the last bar is new.
    assert _bars(notes, 16, 7, shift=16) == _bars(notes, 0, 7)
    assert _bars(notes, 24, 7, shift=16) == _bars(notes, 8, 7)
    # Every phrase ends with a breath of two beats.
    for phrase_end in range(4, 32, 4):
        assert not [n for n in notes if n.start < phrase_end * BAR and n.end > phrase_end * BAR - 8]
    # The last bar starts on a chord tone of the final chord and holds it to the end.
    last = notes[-1]
    assert last.start == grid.end_beat * 4 - BAR and last.end == grid.end_beat * 4
    assert last.pitch % 12 in vocab.chord_pitch_classes(chords[-1])
    # A chorus sits higher than a verse.
    verse = [n.pitch for n in notes if n.start < 8 * BAR]
    chorus = [n.pitch for n in notes if 8 * BAR <= n.start < 16 * BAR]
    assert np.median(chorus) > np.median(verse)


def test_before_an_outro_the_tune_ends_on_a_held_chord_tone(shipped):
    chords = LOOP * 6  # 24 bars: verse 8, chorus 8, outro 8 (silent)
    form = form_of(("verse", 8), ("chorus", 8), ("outro", 8))
    grid, notes = compose(shipped, chords, form, seed=5)
    assert notes and max(n.end for n in notes) <= 16 * BAR  # the outro does not sing
    last = notes[-1]
    assert last.start == 15 * BAR and last.end == 16 * BAR  # the chorus's last bar, held
    assert last.pitch % 12 in vocab.chord_pitch_classes(chords[2 * 15])


def test_the_tune_ends_on_the_home_note_where_the_chord_holds_it(shipped, monkeypatch):
    # The chorus's last bar is on Am before an outro on C: C is the home note and Am holds it.
    chords = (
        LOOP * 3
        + vocab.parse_progression("C C Am Am F F Am Am")
        + vocab.parse_progression("C C C C C C C C") * 2
    )
    form = form_of(("verse", 8), ("chorus", 8), ("outro", 8))

    def home_endings() -> int:
        return sum(compose(shipped, chords, form, seed=seed)[1][-1].pitch % 12 == 0 for seed in range(8))

    with_bias = home_endings()
    monkeypatch.setattr(writer, "FINAL_HOME_BIAS", 0.0)
    assert with_bias >= 6 and with_bias > home_endings()  # 6 of 8 against 2 of 8


def test_the_melody_follows_pop_statistics(shipped, tmp_path):
    """Over several loops, keys, tempos and seeds the written melody lands in the issue's targets."""
    progressions = ["C C Am Am F F G G", "Am Am F F C C G G", "F F G G Em Em Am Am"]
    values: dict[str, list[float]] = {}
    for seed in range(6):
        key = vocab.parse_key(["D major", "F minor", "Bb major"][seed % 3])
        chords = vocab.parse_progression(progressions[seed % 3]) * 8
        grid, notes = compose(
            shipped, chords, SONG, seed=seed, tempo=(90.0, 120.0)[seed % 2], transpose=key.transpose
        )
        music = arrange(chords, 8.0, 0.2, key, tempo=grid.tempo, grid=grid, melody=notes, form=SONG)
        path = tmp_path / f"{seed}.mid"
        music.to_midi().save(path)
        measured = stats.arrangement_stats(path) | structure.structure_stats(structure.song_from_midi(path))
        for name, value in measured.items():
            values.setdefault(name, []).append(value)
    median = {name: float(np.median(v)) for name, v in values.items()}
    assert 0.5 <= median["sounding"] <= 0.9  # POP909: 0.66 (0.50-0.88); pieces without an intro or a break
    assert 0.55 <= median["stepwise"] <= 0.8
    assert 0.6 <= median["chord_tones_beats_1_3"] <= 0.9
    assert 67 <= median["pitch_median"] <= 79
    assert median["velocity_range_melody"] >= 30
    assert 0.25 <= median["note_beats"] <= 0.6
    assert 5 <= median["phrase_beats"] <= 16
    assert median["range_p5_p95"] >= 10
    assert median["leap_share"] <= 0.10
    assert median["motif_reuse_2"] >= 0.5 and median["motif_reuse_4"] >= 0.4
    assert median["melody_below"] <= 0.10
    # A bar moves among pitch classes rather than circling one or two (POP909's p10-p90: 1.24-1.76).
    assert 1.24 <= median["pch_entropy_1"] <= 1.76, median["pch_entropy_1"]


def _restrikes_and_strong_tones(shipped) -> tuple[float, float]:
    """Over six songs: the share of notes off beats 1 and 3 whose pitch class their bar has already
    struck, and the share of notes on beats 1 and 3 that are chord tones."""
    again = off = tones = strong = 0
    for seed in range(6):
        chords = vocab.parse_progression(["C C Am Am F F G G", "Am Am F F C C G G"][seed % 2]) * 8
        _, notes = compose(shipped, chords, SONG, seed=seed, tempo=(90.0, 120.0)[seed % 2])
        struck: dict[int, set[int]] = {}
        for note in notes:
            bar, position = divmod(note.start, BAR)
            classes = struck.setdefault(bar, set())
            if position in writer.STRONG_POSITIONS:
                strong += 1
                tones += note.pitch % 12 in vocab.chord_pitch_classes(chords[note.start // 8])
            else:
                off += 1
                again += note.pitch % 12 in classes
            classes.add(note.pitch % 12)
    return again / off, tones / strong


def test_a_bar_moves_among_pitch_classes_and_leaves_beats_1_and_3_to_the_chord(shipped, monkeypatch):
    with_rule = _restrikes_and_strong_tones(shipped)
    monkeypatch.setattr(writer, "CLASS_AGAIN_COST", 0.0)
    without = _restrikes_and_strong_tones(shipped)
    assert with_rule[0] <= without[0] - 0.03, (with_rule, without)  # 0.37 against 0.42
    assert with_rule[1] >= without[1] - 0.05, (with_rule, without)


def test_melody_track_is_written_in_the_key(shipped, tmp_path):
    chords = LOOP * 2
    grid, notes = compose(shipped, chords, Form.single(8), seed=1)
    key = vocab.parse_key("Eb major")
    music = arrange(
        chords, 8.0, 0.2, key, grid=grid, melody=notes, instruments=Instruments.parse("melody=81")
    )
    path = tmp_path / "m.mid"
    music.to_midi().save(path)
    midi = pretty_midi.PrettyMIDI(str(path))
    track = next(i for i in midi.instruments if i.name == "Melody")
    assert track.program == 81
    assert [n.pitch for n in track.notes] == [n.pitch + key.transpose for n in notes]
    assert [round(n.start * 8) for n in track.notes] == [
        n.start for n in notes
    ]  # 120 bpm: 8 sixteenths a second
    assert music.part("Melody").channel == MELODY_CHANNEL
    # Phrased as sung: notes on beats 1 and 3 louder than those between beats.
    strong = [n.velocity for n in track.notes if round(n.start * 8) % 8 == 0]
    between = [n.velocity for n in track.notes if round(n.start * 8) % 4 != 0]
    assert strong and between and np.mean(strong) > np.mean(between) + 5
    with pytest.raises(UserError, match="outside"):
        arrange(chords, 8.0, 0.2, key, grid=grid, melody=[writer.MelodyNote(72, 0, grid.end_beat * 4 + 1)])
    with pytest.raises(UserError, match="melody program 128"):
        Instruments.parse("melody=128")
    assert Instruments.parse("melody=Flute, chords = violin").melody == 73
    assert Instruments.parse("melody=lead 1 (square)") == Instruments(melody=80)
    with pytest.raises(UserError, match="unknown drum kit 'flute'"):
        Instruments.parse("drums=flute")


def _bar_lines(notes, grid: Grid) -> list[tuple[tuple[int, int], ...]]:
    """Per bar of ``grid``, its notes as (sixteenth from the bar line, pitch)."""
    lines = [4 * start for start in grid.bar_starts]
    bars: list[list[tuple[int, int]]] = [[] for _ in lines]
    for note in notes:
        bar = int(np.searchsorted(lines, note.start, side="right")) - 1
        bars[bar].append((note.start - lines[bar], note.pitch))
    return [tuple(b) for b in bars]


def test_a_returning_verse_sings_its_line_again_where_a_cut_bent_a_bar(shipped):
    """Cuts bend the second verse's second bar to 3/4 and its third to 5/4, where the first verse's
    are 4/4, and the first verse's third bar is 3/4 where its second phrase's is 4/4: the verse
    comes back note for note all the same (a line written to fit its shortest copy)."""
    bars = [4] * 32
    bars[2] = 3
    bars[17], bars[18] = 3, 5
    grid = Grid(120.0, tuple(bars))
    chords = [
        c for c in vocab.parse_progression("C Am F G") * 8 for _ in range(2)
    ]  # the same under every copy
    held = 0
    for seed in range(3):
        notes = writer.compose(shipped.model, chords, grid, SONG, np.full(grid.steps, 8.0), seed=seed)
        sung = _bar_lines(notes, grid)
        assert sung[16:23] == sung[0:7]  # the second verse, its new last bar aside
        assert sung[4:7] == sung[0:3]  # the first verse's second phrase
        assert sung[1] and max(start for start, _ in sung[1]) < 3 * 4  # what its 3/4 copy can hold
        # The 3/4 bar's last note, sung again in a 4/4 bar, lasts over the extra beat.
        end = 4 * (grid.bar_starts[2] + 3)
        if any(n.end == end for n in notes):
            held += 1
            assert any(
                n.end == 4 * (grid.bar_starts[6] + 4) and n.start >= 4 * grid.bar_starts[6] for n in notes
            )
    assert held  # the seeds hold a note to the 3/4 bar's end


def test_bars_bent_by_scene_cuts(shipped, tmp_path):
    """Cuts on a fourth and on a second beat make a 3/4 and a 5/4 bar: the melody follows the bars."""
    grid = Grid.for_video(40.0, 120.0, cuts=[7.5, 16.0])
    assert sorted(set(grid.bars)) == [3, 4, 5]
    chords = (LOOP * 6)[: grid.steps]
    form = Form.single(len(grid.bars))
    notes = writer.compose(shipped.model, chords, grid, form, np.full(grid.steps, 8.0), seed=2)
    assert notes[-1].end == grid.end_beat * 4 and notes[-1].start == (grid.end_beat - grid.bars[-1]) * 4
    music = arrange(chords, 8.0, 0.2, "G major", grid=grid, melody=notes)
    path = tmp_path / "bent.mid"
    music.to_midi().save(path)
    midi = stats.read_midi(path)
    strong = stats.strong_beats(midi.get_beats(), midi.get_downbeats())
    assert len(strong) == 2 * len(grid.bars)  # every bar, 3/4 included, has a first and a third beat
    assert stats.arrangement_stats(path)["chord_tones_beats_1_3"] >= 0.6


def test_rests_during_spans_cut_or_leave_out_the_notes_there():
    from video2music.compose.melody import MelodyNote, rest_during

    notes = [MelodyNote(60, 0, 4), MelodyNote(62, 4, 12), MelodyNote(64, 12, 16), MelodyNote(65, 20, 24)]
    # A sixteenth of 0.125 s: the span 1.0-2.0 s is sixteenths 8-16.
    kept = rest_during(notes, [(1.0, 2.0)], 0.125)
    assert kept == [MelodyNote(60, 0, 4), MelodyNote(62, 4, 8), MelodyNote(65, 20, 24)]
    assert rest_during(notes, [], 0.125) == notes
    assert rest_during(notes, [(0.0, 10.0)], 0.125) == []
