"""The half-bar grid chords are decided on, and the key rules decoding applies."""

from __future__ import annotations

import numpy as np
import pytest

from video2music.features.video_features import VideoFeatures
from video2music.theory import harmony, vocab
from video2music.theory.grid import Grid, check_tempo
from video2music.utils.errors import UserError


def test_at_120_bpm_a_step_is_a_second_and_the_grid_fills_whole_bars():
    grid = Grid.for_video(25.3, 120.0)
    assert grid.steps == 24  # 12 whole bars fit in 25.3 s
    assert grid.onset_seconds().tolist() == list(range(24))
    assert grid.duration == 24.0
    values = np.arange(26) * 10
    assert grid.sample(values).tolist() == values[:24].tolist()


def test_at_90_bpm_steps_read_the_second_they_start_in():
    grid = Grid.for_video(12.0, 90.0)
    assert grid.steps == 8  # a bar is 2.67 s: four fit
    assert grid.sample(np.arange(12)).tolist() == [0, 1, 2, 4, 5, 6, 8, 9]


def test_short_videos_get_one_bar():
    assert Grid.for_video(0.5, 120.0).steps == 2


@pytest.mark.parametrize(
    ("cut", "bars", "step", "beat"),
    [
        (6.0, (4, 5, 4, 4), 4, 9),  # beat 9 is a second beat: the bar before stretches to 5/4
        (4.7, (4, 3, 4, 4), 4, 7),  # beat 7 is a fourth beat: its bar is cut short to 3/4
        (6.7, (4, 4, 4, 4), 5, 10),  # beat 10 is a third beat: already a half-bar line
        (5.4, (4, 4, 4, 4), 4, 8),  # beat 8 is a downbeat
    ],
)
def test_a_cut_lands_on_a_half_bar_line_with_the_meter_bent_if_need_be(cut, bars, step, beat):
    grid = Grid.for_video(12.0, 90.0, cuts=[cut])  # at 90 bpm a beat is 2/3 s: 18 beats
    assert grid.bars == bars
    assert grid.cut_steps == {step}
    assert grid.onsets[step] == beat
    assert abs(beat * 60 / 90 - cut) <= 60 / 90 / 2
    assert grid.position(beat)[1] in (0, 2)
    assert grid.meter_changes() == [(0, 4)] + ([(4, bars[1]), (4 + bars[1], 4)] if bars[1] != 4 else [])


def test_the_piece_ends_on_a_whole_bar_of_four():
    grid = Grid.for_video(5.0, 120.0, cuts=[3.5])  # a 3/4 bar would end it: a 4/4 bar instead
    assert grid.bars == (4, 4) and grid.cut_steps == frozenset()
    grid = Grid.for_video(24.02, 90.0, cuts=[1.0, 6.0, 13.15, 23.06])
    assert grid.bars[-1] == 4 and grid.end_beat <= 24.02 * 1.5


def test_cuts_at_the_very_start_or_past_the_last_step_are_left_alone():
    grid = Grid.for_video(8.0, 120.0, cuts=[0.1, 7.9, 9.0])
    assert grid.cut_steps == frozenset()
    assert grid.scene_offsets().tolist() == list(range(8))


def test_scene_offsets_count_steps_from_each_cut():
    grid = Grid.for_video(8.0, 120.0, cuts=[3.0, 5.0])
    assert grid.scene_offsets().tolist() == [0, 1, 2, 0, 1, 0, 1, 2]


def test_spans_join_runs_and_per_second_reads_them_back():
    grid = Grid.for_video(11.0, 90.0, cuts=[4.7])  # a 3/4 bar puts step 4 on the cut's beat 7
    chords = [1, 1, 1, 1, 14, 14, 14, 1]
    assert grid.spans(chords) == [(0, 7, 1), (7, 13, 14), (13, 15, 1)]
    assert grid.per_second(chords, 11) == [1, 1, 1, 1, 1, 14, 14, 14, 14, 1, 1]
    with pytest.raises(UserError, match="steps"):
        grid.spans(chords[:-1])


def test_resampled_features_are_what_the_model_reads_per_step():
    features = VideoFeatures(
        duration=6.0,
        fps=25.0,
        semantic=None,
        emotion=np.eye(6, dtype=np.float32),
        scene_offset=np.array([0, 1, 2, 0, 1, 2]),
        scene_cuts=[3.0],
        motion=np.arange(6, dtype=np.float32),
        backend="basic",
    )
    grid = Grid.for_video(features.duration, 60.0, features.scene_cuts)  # a step is two seconds
    on_grid = grid.resample(features)
    assert on_grid.T == 2 and grid.cut_steps == frozenset()  # the cut falls in the last beat
    assert on_grid.motion.tolist() == [0.0, 2.0]
    assert on_grid.emotion.argmax(1).tolist() == [0, 2]


@pytest.mark.parametrize("tempo", [0.0, 3.6, 19.9, 301.0, float("nan"), float("inf")])
def test_tempos_outside_the_range_are_refused(tempo):
    with pytest.raises(UserError, match="tempo"):
        check_tempo(tempo)


def test_in_key_counts_the_raised_seventh_in_minor_only():
    e_major = vocab.parse_chord("E")
    assert harmony.in_key(e_major, harmony.MINOR) and not harmony.in_key(e_major, harmony.MAJOR)
    assert all(harmony.in_key(c, 0) for c in vocab.parse_progression("C Dm Em F G7 Am Bm7b5"))
    assert not any(harmony.in_key(c, 0) for c in vocab.parse_progression("F# Eb Ab C#m"))


def test_key_bias_allows_diatonic_chords_penalises_borrowed_and_forbids_the_rest():
    bias = harmony.key_bias(harmony.MAJOR)
    assert bias[vocab.parse_chord("F")] == 0.0
    assert bias[vocab.parse_chord("Bb")] == -harmony.BORROWED_PENALTY
    assert bias[vocab.parse_chord("F#")] == -np.inf
    assert bias[vocab.parse_chord("C:aug")] == -np.inf
    assert bias[vocab.END_ID] == -np.inf
    assert harmony.cadence_chords(harmony.MAJOR) <= harmony.allowed_chords(harmony.MAJOR)
    assert harmony.cadence_chords(harmony.MINOR) <= harmony.allowed_chords(harmony.MINOR)


def test_a_cut_inside_the_last_bar_ends_the_music_a_bar_earlier():
    assert Grid.for_video(24.02, 120.0, cuts=[23.06]).steps == 22  # the fade-out at 23 s
    assert Grid.for_video(24.02, 120.0, cuts=[22.0]).steps == 24  # on the last bar line: kept
    assert Grid.for_video(4.5, 120.0, cuts=[3.0]).steps == 4  # two bars are never shortened


@pytest.mark.parametrize(
    ("cuts", "bars", "onsets"),
    [
        ([4.67, 5.33], (4, 3, 4, 4, 4, 4), (0, 2, 4, 6, 7, 8, 11, 13)),  # beats 7 and 8: 3/4, then pushed
        ([3.33, 4.0], (5, 4, 4, 4, 4), (0, 2, 5, 6, 9, 11)),  # beats 5 and 6: 5/4, then pushed
    ],
)
def test_two_cuts_a_beat_apart_both_get_a_chord_one_of_them_pushed(cuts, bars, onsets):
    grid = Grid.for_video(16.0, 90.0, cuts=cuts)
    assert grid.bars == bars
    assert grid.onsets[: len(onsets)] == onsets
    assert len(grid.cut_steps) == 2 and len(grid.pushed) == 1
    for cut in cuts:
        assert min(abs(b * 60 / 90 - cut) for b in grid.onsets) <= 60 / 90 / 2


def test_a_montage_keeps_the_meter_and_its_first_cuts_still_bend_it():
    # A cut every 1.2 s at 150 bpm falls every third beat: bending at each made every bar 3/4.
    cuts = [1.2 * k for k in range(1, 25)]
    grid = Grid.for_video(30.0, 150.0, cuts=cuts)
    assert sum(b != 4 for b in grid.bars) <= 3 and grid.bars[0] == 3  # its first cuts start bars
    assert len(grid.cut_steps) >= 8  # the cuts on half-bar lines still change the chord
    spread = Grid.for_video(30.0, 150.0, cuts=[1.2, 7.2, 13.2])  # far apart: each bends the meter
    assert sum(b != 4 for b in spread.bars) == 3
