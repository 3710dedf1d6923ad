"""Humanised playback: the notes a little off the grid as a player plays them, seeded, in the
WAV and (only when asked) in the MIDI file; read back from the files the commands write."""

from __future__ import annotations

import itertools

import mido
import numpy as np
import pytest

from video2music.audio.humanize import TIMING_LIMIT_MS, TIMING_MS, humanize
from video2music.commands.music import main as music_main
from video2music.commands.music import spread
from video2music.compose.arrange import arrange
from video2music.theory import vocab
from video2music.theory.grid import Grid

SONG = vocab.parse_progression("C Am F G C Am F G")


def _notes(midi: mido.MidiFile) -> dict[tuple[str, int], list[tuple[int, int, int]]]:
    """Per track and key: (start tick, end tick, velocity) of each strike, in order."""
    found: dict[tuple[str, int], list[tuple[int, int, int]]] = {}
    for track in midi.tracks[1:]:
        now, open_notes = 0, {}
        for message in track:
            now += message.time
            if message.type == "note_on" and message.velocity:
                open_notes.setdefault(message.note, []).append((now, message.velocity))
            elif message.type in ("note_on", "note_off"):
                start, velocity = open_notes[message.note].pop(0)
                found.setdefault((track.name, message.note), []).append((start, now, velocity))
    return {key: sorted(strikes) for key, strikes in found.items()}


def _others(midi: mido.MidiFile) -> list[list[tuple[int, str]]]:
    """Per track: every message that is not a note, with its tick."""
    result = []
    for track in midi.tracks:
        now, kept = 0, []
        for message in track:
            now += message.time
            if message.type not in ("note_on", "note_off", "end_of_track"):
                kept.append((now, str(message.copy(time=0))))
        result.append(kept)
    return result


@pytest.fixture(scope="module")
def score() -> mido.MidiFile:
    grid = Grid.for_video(19, 100.0, cuts=[7.0])
    return arrange(spread(SONG, grid.steps), 10.0, 0.2, "D major", tempo=100.0, grid=grid).to_midi()


def test_notes_move_a_few_milliseconds_and_velocities_a_few_percent(score):
    before = [str(m) for track in score.tracks for m in track]
    played = humanize(score, seed=5)
    assert [str(m) for track in score.tracks for m in track] == before  # the score is left as it was
    ms_per_tick = 60_000 / 100.0 / score.ticks_per_beat
    shifts, ratios = [], []
    moved = _notes(played)
    for key, strikes in _notes(score).items():
        assert len(moved[key]) == len(strikes)  # the same notes, each key's strikes in their order
        for (start, _, velocity), (start2, end2, velocity2) in zip(strikes, moved[key], strict=True):
            shifts.append((start2 - start) * ms_per_tick)
            ratios.append(velocity2 / velocity)
            assert end2 > start2
    shifts, ratios = np.array(shifts), np.array(ratios)
    assert len(shifts) > 150
    assert np.abs(shifts).max() <= TIMING_LIMIT_MS + ms_per_tick
    assert 0.6 * TIMING_MS < shifts.std() < 1.4 * TIMING_MS and abs(shifts.mean()) < 1.5
    assert np.mean(shifts == 0) < 0.3  # most notes moved
    assert 0.03 < np.log(ratios).std() < 0.12 and np.all(np.abs(np.log(ratios)) < 0.35)
    # Tempo, meter, markers, programs and the sends stay where they were.
    assert _others(played) == _others(score)


def test_a_repeated_key_is_never_cut_by_the_strike_before(score):
    for strikes in _notes(humanize(score, seed=11)).values():
        for (start, end, _), (following, _, _) in itertools.pairwise(strikes):
            assert start < following and end <= following


def test_the_seed_picks_the_performance(score):
    assert _notes(humanize(score, 3)) == _notes(humanize(score, 3))
    assert _notes(humanize(score, 3)) != _notes(humanize(score, 4))


def _take(tmp_path, name: str, *extra: str) -> tuple[bytes, bytes]:
    """(MIDI bytes, WAV bytes) the music command writes for one small song."""
    base = tmp_path / name
    args = ["--chords", "C Am F G", "--seconds", "8", "--melody", "--out", str(base), *extra]
    assert music_main(args) == 0
    return base.with_suffix(".mid").read_bytes(), base.with_suffix(".wav").read_bytes()


def test_the_same_seed_gives_the_same_wav_and_the_midi_stays_on_the_grid(tmp_path):
    midi, wav = _take(tmp_path, "a", "--seed", "2")
    again_midi, again_wav = _take(tmp_path, "b", "--seed", "2")
    assert again_wav == wav and again_midi == midi  # byte for byte
    grid_midi, grid_wav = _take(tmp_path, "c", "--seed", "2", "--no-humanize")
    assert grid_midi == midi  # the MIDI is on the grid either way ...
    assert grid_wav != wav  # ... while the WAV plays it humanised by default
    played_midi, played_wav = _take(tmp_path, "d", "--seed", "2", "--humanize-midi")
    assert played_wav == wav  # the same performance ...
    assert played_midi != midi  # ... now written into the MIDI too
    assert _notes(mido.MidiFile(tmp_path / "d.mid")) == _notes(humanize(mido.MidiFile(tmp_path / "a.mid"), 2))
    assert _take(tmp_path, "e", "--seed", "3")[1] != wav  # another seed plays it otherwise
