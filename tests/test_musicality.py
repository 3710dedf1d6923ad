"""Musicality statistics on hand-made progressions and on MIDI files written and read back."""

from __future__ import annotations

import math

import numpy as np
import pytest

from video2music.analysis import musicality as m
from video2music.compose.arrange import arrange
from video2music.compose.arrangement import write_midi
from video2music.theory import vocab
from video2music.theory.grid import Grid
from video2music.utils.errors import UserError

C_MAJOR, A_MINOR = vocab.parse_key("C major"), vocab.parse_key("A minor")


def piece(chords: list[tuple[float, str]], end: float, key=C_MAJOR, beat: float = 0.5, cuts=()) -> m.Piece:
    """Chords as (onset seconds, symbol); each lasts until the next onset, the last until ``end``."""
    onsets = [t for t, _ in chords] + [end]
    spans = [m.Span(onsets[i], onsets[i + 1], vocab.parse_chord(c)) for i, (_, c) in enumerate(chords)]
    return m.Piece(
        "test",
        m.merge_spans(spans),
        [(0.0, math.inf, key)],
        beat,
        np.arange(0, end + 1e-9, 2 * beat),
        list(cuts),
    )


def test_in_key_counts_time_and_the_raised_seventh_in_minor():
    # C 2 s in key, D (F#) 1 s out of C major, G 1 s in key
    assert m.in_key_share(piece([(0, "C"), (2, "D"), (3, "G")], 4)) == pytest.approx(3 / 4)
    assert m.in_key(vocab.parse_chord("E"), A_MINOR) and m.in_key(vocab.parse_chord("G#:dim"), A_MINOR)
    assert not m.in_key(vocab.parse_chord("E"), C_MAJOR)
    assert not m.in_key(vocab.parse_chord("D"), A_MINOR)  # F# is not in A minor


def test_lengths_half_bars_and_distinct_chords():
    p = piece([(0, "C"), (1, "C"), (2, "F"), (3.5, "G"), (4.25, "A:min")], 8)
    assert [s.end - s.start for s in p.spans] == [2, 1.5, 0.75, 3.75]  # the repeated C merges
    assert m.mean_chord_length(p) == pytest.approx(2.0)
    # changes at 2 (a half-bar line at 120 bpm), 3.5 (no: lines every 1 s), 4.25 (no)
    assert m.half_bar_share(p) == pytest.approx(1 / 3)
    long = piece([(t, ["C", "F", "G", "A:min"][t // 2 % 4]) for t in range(0, 60, 2)] + [(60, "D:min")], 61)
    assert m.distinct_per_30s(long) == pytest.approx(4.0)  # two whole windows of 4 chords, 61-s tail left out
    assert math.isnan(m.distinct_per_30s(p))


def test_four_chord_repetition_counts_sequences_heard_again_later():
    loop = ["C", "G", "A:min", "F"]
    p = piece([(i, c) for i, c in enumerate(loop * 3)], 12)
    # 9 four-grams, each of the loop's 4 rotations heard 3 or 2 times
    assert m.four_chord_repetition(p) == 1.0
    p = piece([(i, c) for i, c in enumerate(loop * 2 + ["E", "D:min"])], 10)
    # CGAF GAFC AFCG FCGA CGAF GAFE AFED: only CGAF (twice) comes back
    assert m.four_chord_repetition(p) == pytest.approx(2 / 7)
    assert m.four_chord_repetition(piece([(i, c) for i, c in enumerate(loop + ["E"])], 5)) == 0.0
    assert math.isnan(m.four_chord_repetition(piece([(0, "C"), (1, "G")], 2)))


def test_endings():
    assert (
        m.ends_on_tonic(piece([(0, "G"), (2, "C")], 4))
        and m.final_chord_bars(piece([(0, "G"), (2, "C")], 4)) == 1.0
    )
    assert not m.ends_on_tonic(piece([(0, "G"), (2, "C:7")], 4))  # a dominant seventh leads away
    assert not m.ends_on_tonic(piece([(0, "G"), (2, "G")], 4))
    assert m.ends_on_tonic(piece([(0, "E"), (2, "A:min")], 4, key=A_MINOR))
    assert not m.ends_on_tonic(piece([(0, "E"), (2, "A")], 4, key=A_MINOR))


def test_identity_is_compared_in_the_normalised_key():
    a = piece([(0, "C"), (2, "G")], 4)
    b = piece([(0, "D"), (2, "E")], 4, key=vocab.parse_key("D major"))  # I II = C D in C major
    assert m.identity_share(a, b) == pytest.approx(2 / 4)


def test_cut_alignment_and_its_shifted_baseline():
    p = piece([(0, "C"), (2, "G"), (4.1, "F"), (6, "C")], 10, cuts=[2.2, 4.0, 8.0])
    # within half a beat (0.25 s): 2.2 (change at 2), 4.0 (4.1); 8.0 has none
    assert m.cut_alignment(p) == pytest.approx(2 / 3)
    shifted = m.shifted_cuts(p, np.random.default_rng(0), draws=50)
    assert 0 < len(shifted) <= 150 and all(0 < t < 10 for t in shifted)
    assert all(min(abs(t - c) for c in p.cuts) >= 0 for t in shifted)
    assert m.cut_alignment(p, shifted) < m.cut_alignment(p)


def test_statistics_read_back_from_a_written_midi_file(tmp_path):
    # At 90 bpm a cut at 6 s is beat 9: the grid stretches bar 2 to 5/4 so the F starts on a
    # downbeat, and the file's time signatures say so.
    grid = Grid.for_video(12.0, 90.0, cuts=[6.0])
    ids = [vocab.parse_chord(c) for c in ["C", "C", "C", "C", "F", "F", "C", "C"]]
    arrangement = arrange(ids, 4.0, 0.3, vocab.parse_key("D major"), tempo=90, grid=grid)
    path = write_midi(arrangement, tmp_path / "x.mid")
    p = m.piece_from_midi(path, cuts=[6.0, 11.5])  # the second cut is past the music's end
    assert p.beat == pytest.approx(60 / 90) and p.key_at(1.0).name == "D major"
    assert [vocab.chord_label(s.chord) for s in p.spans] == ["D", "G", "D"]
    assert [round(s.start, 3) for s in p.spans] == [0.0, 6.0, 8.667]  # beats 0, 9 and 13
    assert p.spans[-1].end == pytest.approx(17 * 60 / 90)  # 4 + 5 + 4 + 4 beats
    assert p.half_bars[:6] / p.beat == pytest.approx([0, 2, 4, 6, 9, 11])  # the 5/4 bar read back
    assert m.half_bar_share(p) == pytest.approx(1.0)
    assert m.ends_on_tonic(p) and m.final_chord_bars(p) == pytest.approx(1.0)
    assert m.cut_alignment(p) == pytest.approx(1.0)  # counted: the cut the music reaches
    (tmp_path / "bad.mid").write_bytes(b"not midi")
    with pytest.raises(UserError, match="bad.mid"):
        m.piece_from_midi(tmp_path / "bad.mid")
