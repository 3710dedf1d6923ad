"""The POP909 reader and corpus: real files written in POP909's layout, and the committed compact file."""

from __future__ import annotations

import gzip
import logging
import shutil
from pathlib import Path

import numpy as np
import pretty_midi
import pytest

from video2music.data import pop909
from video2music.data.muvisync import read_split
from video2music.theory import vocab

BEAT = 0.5  # 120 bpm


def write_song(root: Path, song_id: str, bars: list[list[str]], keys: list[tuple[int, str]]) -> Path:
    """A song folder as POP909 lays it out: 4/4 at 120 bpm, one chord label per half bar
    (``bars`` holds two per bar), keys as (first bar, label); the MIDI has MELODY and PIANO tracks."""
    folder = root / song_id
    folder.mkdir(parents=True)
    n_beats = 4 * len(bars)
    beats = [(0.25 + BEAT * b, b % 2 == 0, b % 4 == 0) for b in range(n_beats)]
    (folder / "beat_midi.txt").write_text(
        "".join(f"{t} {float(half)} {float(down)}\n" for t, half, down in beats)
    )
    labels = [label for bar in bars for label in bar]
    (folder / "chord_midi.txt").write_text(
        "".join(
            f"{0.25 + 2 * BEAT * i:.6f}\t{0.25 + 2 * BEAT * (i + 1):.6f}\t{label}\n"
            for i, label in enumerate(labels)
        )
    )
    end = 0.25 + BEAT * n_beats
    bounds = [0.25 + 4 * BEAT * bar for bar, _ in keys] + [end]
    (folder / "key_audio.txt").write_text(
        "".join(f"{bounds[i]}\t{bounds[i + 1]}\t{label}\n" for i, (_, label) in enumerate(keys))
    )
    midi = pretty_midi.PrettyMIDI(initial_tempo=120)
    melody, piano = pretty_midi.Instrument(0, name="MELODY"), pretty_midi.Instrument(0, name="PIANO")
    for b in range(n_beats):
        start = 0.25 + BEAT * b
        melody.notes.append(
            pretty_midi.Note(velocity=80 + b % 10, pitch=60 + b % 12, start=start, end=start + 0.4)
        )
        for pitch in (48, 52, 55):  # three piano onsets on every beat
            piano.notes.append(pretty_midi.Note(velocity=64, pitch=pitch, start=start, end=start + 0.45))
    midi.instruments += [melody, piano]
    midi.write(str(folder / f"{song_id}.mid"))
    return folder


# D major: I IV V I | vi IV V I, twice a 4-bar loop, 8 bars = 16 half bars.
D_LOOP = [["D:maj", "D:maj"], ["G:maj", "A:7/C#"], ["B:min", "G:maj"], ["A:sus4(b7)", "D:maj"]] * 2
# A minor, then C minor: i VI VII i (the same loop in two keys).
A_MINOR = [["A:min", "A:min"], ["F:maj", "G:maj"], ["A:min", "E:maj"], ["A:min", "A:min"]] * 2
C_MINOR = [["C:min", "C:min"], ["Ab:maj", "Bb:maj"], ["C:min", "G:maj"], ["C:min", "C:minmaj7"]] * 2


@pytest.fixture()
def raw(tmp_path: Path) -> Path:
    root = tmp_path / "pop909"
    write_song(root, "001", D_LOOP, [(0, "D:maj")])
    write_song(root, "002", A_MINOR + C_MINOR, [(0, "A:min"), (8, "C:min")])
    write_song(root, "003", D_LOOP, [(0, "D:maj")])
    return root


def labels(ids) -> list[str]:
    return [vocab.chord_label(int(c)) for c in ids]


@pytest.mark.parametrize(
    ("label", "expected"),
    [
        ("C:maj", "C"),
        ("G:7/B", "G:7"),
        ("F#:sus4(b7)", "F#:sus4"),
        ("C:minmaj7", "C:min"),
        ("D:maj(9)", "D"),
        ("A:min(11)", "A:min"),
        ("Bb:maj7/7", "A#:maj7"),
        ("Eb:min/b3", "D#:min"),
        ("E:9", "E:7"),
        ("C:hdim7", "C:hdim7"),
        ("N", "N"),
    ],
)
def test_harte_labels_map_onto_the_vocabulary(label, expected):
    assert vocab.chord_label(pop909.parse_harte(label)) == expected


@pytest.mark.parametrize("label", ["C:blues", "H:maj", "C:maj/", ""])
def test_unknown_harte_labels_are_refused(label):
    with pytest.raises(ValueError):
        pop909.parse_harte(label)


def test_half_bar_grid_counts_two_beats_from_each_downbeat():
    # pickup beat, a 4/4 bar, a 3/4 bar (one step of 3 beats), a 6-beat bar (3 steps), a 4/4 bar
    beats = np.arange(18, dtype=float)
    downbeats = np.array([1.0, 5.0, 8.0, 14.0])
    grid = pop909.half_bar_grid(beats, downbeats)
    assert grid.tolist() == [1, 3, 5, 8, 10, 12, 14, 16, 18]


def test_each_step_takes_the_chord_covering_most_of_it():
    chords = [
        pop909.TimedChord(0.0, 1.5, "C:maj", pop909.parse_harte("C:maj")),
        pop909.TimedChord(1.5, 2.5, "G:maj", pop909.parse_harte("G:maj")),  # 0.5 of step 0, 0.5 of step 1
        pop909.TimedChord(2.5, 3.0, "A:min", pop909.parse_harte("A:min")),
    ]
    grid = np.array([0.0, 2.0, 3.0, 4.0])
    # step 0: C 1.5 s; step 1: G 0.5 = Am 0.5, G is earlier; step 2: nothing sounds
    assert labels(pop909.chords_on_grid(chords, grid)) == ["C", "G", "N"]


def test_phrases_start_where_a_chord_sequence_comes_back():
    verse = [1, 1, 20, 20, 40, 40, 30, 30]
    chorus = [50, 60, 70, 80, 50, 60, 70, 80]
    chords = np.array([0] * 6 + verse + chorus + [90, 90] + verse + chorus)
    # Chords begin after the N intro at 6, 4 bars later comes the chorus (14); the verse comes
    # back at 24 (a section start, not the 4-bar line at 22), its chorus at 32.
    assert pop909.phrase_starts(chords) == [6, 14, 24, 32]


def test_reading_a_song_folder(raw):
    song = pop909.read_song(raw / "001")
    assert song.song_id == "001" and len(song.beats) == 32 and len(song.downbeats) == 8
    assert [k.key.name for k in song.keys] == ["D major"]
    assert song.chords[3].label == "A:7/C#" and vocab.chord_label(song.chords[3].chord) == "A:7"
    assert len(song.melody) == 32
    first = song.melody[0]
    assert (first.onset, first.offset, first.pitch, first.velocity) == pytest.approx((0.25, 0.65, 60, 80))
    assert song.beat_onsets.tolist() == [4] * 32  # one melody and three piano onsets a beat


def test_timelines_are_normalised_per_key_segment(raw):
    (single,) = pop909.song_timelines(pop909.read_song(raw / "001"))
    assert single.piece_id == "pop909-001" and single.original_key == "D major" and single.key == "C major"
    assert single.T == 16
    assert labels(single.chords[:8]) == ["C", "C", "F", "G:7", "A:min", "F", "G:sus4", "C"]
    assert single.note_density.tolist() == [8.0] * 16
    assert single.scene_offset[8] == 0  # the loop comes back after 4 bars

    first, second = pop909.song_timelines(pop909.read_song(raw / "002"))
    assert (first.original_key, second.original_key) == ("A minor", "C minor")
    assert first.key == second.key == "A minor"
    assert labels(first.chords[:6]) == labels(second.chords[:6]) == ["A:min", "A:min", "F", "G", "A:min", "E"]
    assert labels(second.chords[7:8]) == ["A:min"]  # C:minmaj7 -> C:min -> A:min


def test_corpus_is_written_in_the_muvisync_layout_and_split_by_song(raw, tmp_path):
    songs = pop909.read_songs(raw)
    out = tmp_path / "corpus"
    splits = pop909.build_corpus(out, songs, seed=0)
    read = {split: {v.video_id: v for v in read_split(out, split)} for split in ("train", "val", "test")}
    for split, timelines in splits.items():
        assert set(read[split]) == {t.piece_id for t in timelines}
    where = {vid: split for split, videos in read.items() for vid in videos}
    assert where["pop909-002-1"] == where["pop909-002-2"]  # both keys of one song stay together
    video = read[where["pop909-001"]]["pop909-001"]
    assert labels(video.chords[:4]) == ["C", "C", "F", "G:7"]
    with pytest.raises(pop909.UserError, match="--overwrite"):
        pop909.build_corpus(out, songs, seed=0)


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        (
            lambda f: (f / "chord_midi.txt").write_text("0.0\t1.0\tC:maj\n1.0\t2.0\tC:blues\n"),
            "chord_midi.txt:2:",
        ),
        (lambda f: (f / "key_audio.txt").write_text("0.0\tabc\tD:maj\n"), "key_audio.txt:1:"),
        (lambda f: (f / "beat_midi.txt").write_text("0.5 1.0 1.0\n0.25 0.0 0.0\n"), "beat_midi.txt:2:"),
        (lambda f: (f / "001.mid").unlink(), "001.mid: missing"),
        (lambda f: (f / "001.mid").write_bytes(b"MThd\x00\x00garbage"), "001.mid: not a readable MIDI"),
    ],
)
def test_a_damaged_song_is_logged_in_one_line_and_skipped(raw, tmp_path, caplog, damage, message):
    damaged = tmp_path / "damaged"
    shutil.copytree(raw, damaged)
    damage(damaged / "001")
    with caplog.at_level(logging.WARNING, logger="video2music.data.pop909"):
        songs = pop909.read_songs(damaged)
    assert [s.song_id for s in songs] == ["002", "003"]
    (record,) = caplog.records
    assert message in record.getMessage() and "\n" not in record.getMessage()


def test_compact_file_round_trip_and_damage(raw, tmp_path, caplog):
    songs = pop909.read_songs(raw)
    path = pop909.write_compact(songs, tmp_path / "songs.tsv.gz")
    again = pop909.read_songs(path)
    for a, b in zip(songs, again, strict=True):
        assert (a.song_id, a.keys) == (b.song_id, b.keys)
        assert [(c.label, c.chord) for c in a.chords] == [(c.label, c.chord) for c in b.chords]
        assert np.allclose([c.end for c in a.chords], [c.end for c in b.chords], atol=1e-3)
        assert np.allclose(a.beats, b.beats, atol=1e-3) and np.allclose(a.downbeats, b.downbeats, atol=1e-3)
        assert [(n.pitch, n.velocity) for n in a.melody] == [(n.pitch, n.velocity) for n in b.melody]
        assert np.allclose([n.offset for n in a.melody], [n.offset for n in b.melody], atol=1e-3)
        assert np.array_equal(a.beat_onsets, b.beat_onsets)
        assert [t.chords.tolist() for t in pop909.song_timelines(a)] == [
            t.chords.tolist() for t in pop909.song_timelines(b)
        ]
    with gzip.open(path, "rt") as handle:
        lines = handle.read().splitlines()
    bad = [
        line.replace("G:maj", "G:blues") if line.startswith("001\tchord_labels") else line for line in lines
    ]
    damaged = tmp_path / "damaged.tsv.gz"
    with gzip.open(damaged, "wt") as handle:
        handle.write("\n".join(bad) + "\n")
    with caplog.at_level(logging.WARNING, logger="video2music.data.pop909"):
        assert [s.song_id for s in pop909.read_songs(damaged)] == ["002", "003"]
    (record,) = caplog.records
    assert "damaged.tsv.gz:5: field chord_labels: unknown chord quality 'blues'" in record.getMessage()


def test_the_committed_compact_file_holds_pop909():
    """Song 001 is in Gb major: B C# Bbm Ebm is IV V iii vi, i.e. F G Em Am in C major."""
    songs = {s.song_id: s for s in pop909.read_compact(pop909.COMPACT_FILE)}
    assert len(songs) > 850
    (timeline,) = pop909.song_timelines(songs["001"])
    assert timeline.original_key == "Gb major"
    assert labels(timeline.chords[2:8]) == ["F", "G", "E:min", "A:min", "F", "G"]
    assert len(songs["001"].melody) == 264


def test_cli_says_what_is_missing(tmp_path, capsys):
    assert pop909.main(["--out", str(tmp_path / "out"), "--source", str(tmp_path / "nowhere")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: POP909 source") and err.count("\n") == 1


def test_the_shipped_default_is_the_pop_model_and_beats_its_baselines():
    import json

    from video2music.model.checkpoint import load_checkpoint

    folder = pop909.REPO / "saved_models" / "default"
    assert (folder / "amt.pt").stat().st_size < 30 << 20
    checkpoint = load_checkpoint(folder / "amt.pt")
    assert checkpoint.kind == "amt" and tuple(checkpoint.config.inputs) == (
        "scene_offset",
        "motion",
        "emotion",
    )
    card = (folder / "MODEL_CARD.md").read_text(encoding="utf-8")
    assert "POP909" in card and "MIT" in card and "Hits@1" in card
    (metrics,) = json.loads((folder / "test_metrics.json").read_text())["models"].values()
    for k in (1, 3, 5):
        change = metrics[f"hits@{k}_change"]
        assert change > metrics[f"repeat_hits@{k}_change"] and change > metrics[f"bigram_hits@{k}_change"]


def test_the_command_reads_the_compact_file_in_the_repository_by_default(tmp_path, capsys):
    # The README's command names no --source: it must work from any checkout, without the raw set.
    root = Path(pop909.__file__).resolve().parents[2]
    assert pop909.DEFAULT_SOURCE.is_relative_to(root) and pop909.DEFAULT_SOURCE.is_file()
    assert pop909.main(["--export", str(tmp_path / "again.tsv.gz")]) == 0
    assert len(pop909.read_compact(tmp_path / "again.tsv.gz")) > 850


def test_building_the_corpus_shows_its_progress(raw, tmp_path, capsys):
    compact = pop909.write_compact(pop909.read_songs(raw), tmp_path / "three.tsv.gz")
    assert pop909.main(["--source", str(compact), "--out", str(tmp_path / "corpus")]) == 0
    assert "songs written" in capsys.readouterr().err
    args = ["--source", str(compact), "--out", str(tmp_path / "quiet"), "--no-progress"]
    assert pop909.main(args) == 0
    assert "songs written" not in capsys.readouterr().err
